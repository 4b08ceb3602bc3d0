/**
 * The public pages behind the links in messages: the unsubscribe confirmation, the hosted preference
 * page, and the answer to a link that is not valid. Plain HTML without scripts or external assets;
 * every value is escaped. Forms post back to the page's own URL (no `action`), so the pages work
 * under whatever path a proxy serves them.
 */

/** A person's state on the preference page: per topic and channel, whether they receive it. */
export interface PreferenceView {
  /** The channel of the message whose link was followed. */
  channel: string;
  /** Whether they receive non-transactional messages on that channel at all. */
  channelSubscribed: boolean;
  topics: Array<{ key: string; name: string; channels: Array<{ channel: string; subscribed: boolean }> }>;
}

/** The form field naming one checkbox: `<topic>|<channel>`, topic `*` for the whole channel. */
export function preferenceField(topic: string, channel: string): string {
  return `${topic}|${channel}`;
}

const PLURAL: Record<string, string> = { email: "emails", sms: "text messages", push: "push notifications" };
const SINGULAR: Record<string, string> = { email: "Email", sms: "SMS", push: "Push" };

function plural(channel: string): string {
  return PLURAL[channel] ?? `${channel} messages`;
}

export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(title)}</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 36rem; margin: 3rem auto; padding: 0 1rem; color: #222; }
button { font: inherit; padding: .5rem 1.25rem; border: 0; border-radius: .25rem; background: #1f4fd1; color: #fff; cursor: pointer; }
fieldset { border: 1px solid #ddd; border-radius: .25rem; margin: 0 0 1rem; }
label { display: block; margin: .25rem 0; }
.note { color: #555; }
.saved { background: #e8f5e9; padding: .5rem 1rem; border-radius: .25rem; }
</style>
</head>
<body>
${body}
</body>
</html>
`;
}

/**
 * `GET /u/:token`: asks before unsubscribing. A link scanner that opens the URL changes nothing; the
 * button posts the same body a mail client's one-click unsubscribe sends (RFC 8058).
 */
export function confirmUnsubscribePage(what: {
  channel: string;
  topicName: string | null;
  token: string;
}): string {
  const subject = what.topicName
    ? `${escapeHtml(what.topicName)} ${escapeHtml(plural(what.channel))}`
    : `all ${escapeHtml(plural(what.channel))}`;
  return page(
    "Unsubscribe",
    `<h1>Unsubscribe</h1>
<p>Stop receiving ${subject}?</p>
<form method="post">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button>
</form>
${preferencesLink(what.token)}`,
  );
}

/** The preference page of the same token, relative to `/u/<token>`. */
function preferencesLink(token: string): string {
  return `<p class="note"><a href="../p/${escapeHtml(encodeURIComponent(token))}">Manage all your preferences</a></p>`;
}

/** After a one-click unsubscribe. */
export function unsubscribedPage(what: { channel: string; topicName: string | null; token: string }): string {
  const subject = what.topicName
    ? `${escapeHtml(what.topicName)} ${escapeHtml(plural(what.channel))}`
    : `${escapeHtml(plural(what.channel))} from us, except those about your own transactions`;
  return page(
    "Unsubscribed",
    `<h1>You are unsubscribed</h1>
<p>You will no longer receive ${subject}.</p>
${preferencesLink(what.token)}`,
  );
}

/** `GET /p/:token`: the person's topics with a checkbox per channel, and the whole channel. */
export function preferencePage(view: PreferenceView, options: { saved: boolean }): string {
  const box = (topic: string, channel: string, subscribed: boolean, label: string) => {
    const field = escapeHtml(preferenceField(topic, channel));
    return `<input type="hidden" name="shown" value="${field}">
<label><input type="checkbox" name="on" value="${field}"${subscribed ? " checked" : ""}> ${label}</label>`;
  };
  const topics = view.topics
    .map(
      (t) => `<fieldset>
<legend>${escapeHtml(t.name)}</legend>
${t.channels.map((c) => box(t.key, c.channel, c.subscribed, escapeHtml(SINGULAR[c.channel] ?? c.channel))).join("\n")}
</fieldset>`,
    )
    .join("\n");
  return page(
    "Your preferences",
    `<h1>Your preferences</h1>
${options.saved ? '<p class="saved" role="status">Your preferences are saved.</p>\n' : ""}<form method="post">
${topics || '<p class="note">There are no topics to choose from.</p>'}
<fieldset>
<legend>Everything</legend>
${box("*", view.channel, view.channelSubscribed, `Receive ${escapeHtml(plural(view.channel))} from us`)}
<p class="note">Messages about your own transactions (receipts, password resets) are always sent.</p>
</fieldset>
<button type="submit">Save</button>
</form>`,
  );
}

/** A token that is malformed, forged, expired, or for a person who no longer exists. */
export function linkNotFoundPage(): string {
  return page(
    "Link not valid",
    `<h1>This link is not valid</h1>
<p>It may be incomplete (check that the whole address was copied) or no longer in use.</p>`,
  );
}

/** Any other failure on the public pages. */
export function errorPage(message: string): string {
  return page("Something went wrong", `<h1>Something went wrong</h1>\n<p>${escapeHtml(message)}</p>`);
}
