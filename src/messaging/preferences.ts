import { createHash } from "node:crypto";
import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { NotFoundError } from "../errors/index.ts";
import { appendForPerson } from "../journeys/index.ts";
import { CONSENT_CHANNELS, findPerson, listTopics, writeChoices } from "./consent.ts";
import { preferenceField, type PreferenceView } from "./core/pages.ts";
import { choiceOf, type SubscriptionChoice } from "./core/policy.ts";
import { tokenWorkspace, verifyToken, type LinkPayload } from "./links.ts";

/**
 * What the links in messages do: one-click unsubscribe (RFC 8058) and the hosted preference page.
 * Each unsubscribe also appends an `Unsubscribed` track event for the person to the log, so journeys
 * and analytics see it like anything else the person did.
 */

type Db = Pool | PoolClient;

/** A verified link: whose it is and what message it came in. */
export interface LinkContext {
  token: string;
  workspaceId: string;
  /** The live profile (the token's, or the survivor it was merged into). */
  profileId: string;
  channel: string;
  topic: string | null;
  /** The message the link was in. */
  messageId: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The link a token stands for, or undefined when the token is malformed, forged (not signed with its
 * workspace's secret), expired, for a channel without consent, or for a person who no longer exists.
 */
export async function openLink(db: Db, token: string, now: Date): Promise<LinkContext | undefined> {
  const workspaceId = tokenWorkspace(token);
  if (!workspaceId || !UUID.test(workspaceId)) return undefined;
  const { rows } = await db.query<{ webhook_secret: string }>(
    "SELECT webhook_secret FROM workspaces WHERE id = $1",
    [workspaceId],
  );
  if (!rows[0]) return undefined;
  const payload = verifyToken<LinkPayload>(rows[0].webhook_secret, token, now);
  if (!payload || typeof payload.p !== "string" || typeof payload.m !== "string") return undefined;
  if (!(CONSENT_CHANNELS as readonly unknown[]).includes(payload.c)) return undefined;
  if (payload.t !== null && typeof payload.t !== "string") return undefined;
  const person = await findPerson(db, workspaceId, payload.p);
  if (!person) return undefined;
  return {
    token,
    workspaceId,
    profileId: person.id,
    channel: payload.c,
    topic: payload.t,
    messageId: payload.m,
  };
}

/** The topic's name as people see it (the key when the topic was deleted since); null for the whole channel. */
export async function topicNameOf(db: Db, link: LinkContext): Promise<string | null> {
  if (link.topic === null) return null;
  const { rows } = await db.query<{ name: string }>(
    "SELECT name FROM topics WHERE workspace_id = $1 AND key = $2",
    [link.workspaceId, link.topic],
  );
  return rows[0]?.name ?? link.topic;
}

/**
 * One-click unsubscribe: from the link's topic on the link's channel, or, for a message without a
 * topic, from the whole channel (topic `*`). Returns whether anything changed; a repeated click
 * changes nothing and appends no second event.
 */
export async function unsubscribeByLink(
  pool: Pool,
  link: LinkContext,
  now: Date,
): Promise<{ changed: boolean }> {
  return withTx(pool, async (tx) => {
    const choice: SubscriptionChoice = {
      topic: link.topic ?? "*",
      channel: link.channel,
      status: "unsubscribed",
    };
    const written = await writeChoices(tx, link.workspaceId, link.profileId, [choice], "one_click", now);
    const changed = written.some((w) => w.before !== "unsubscribed");
    if (changed) await appendUnsubscribed(tx, link, choice, "one_click", now);
    return { changed };
  });
}

/** What the preference page shows the person. */
export async function preferencesOf(db: Db, link: LinkContext): Promise<PreferenceView> {
  const topics = await listTopics(db, link.workspaceId);
  const { rows: choices } = await db.query<SubscriptionChoice>(
    "SELECT topic, channel, status FROM subscriptions WHERE workspace_id = $1 AND profile_id = $2",
    [link.workspaceId, link.profileId],
  );
  return {
    channel: link.channel,
    channelSubscribed: choiceOf(choices, "*", link.channel) !== "unsubscribed",
    topics: topics.map((t) => ({
      key: t.key,
      name: t.name,
      channels: t.channels.map((channel) => {
        const choice = choiceOf(choices, t.key, channel);
        return {
          channel,
          subscribed: choice === "subscribed" || (choice === undefined && t.default === "opt_out"),
        };
      }),
    })),
  };
}

/**
 * Saves the preference page: each checkbox shown (`shown`) is subscribed when ticked (`on`) and
 * unsubscribed otherwise. Only what differs from what the person receives now is written (source
 * `preference_page`), so a topic's default is not turned into a choice the person never made; each
 * change to unsubscribed appends an `Unsubscribed` event. Fields for topics or channels that do not
 * exist (a topic deleted since the page was shown) are ignored.
 */
export async function savePreferences(
  pool: Pool,
  link: LinkContext,
  form: { shown: string[]; on: string[] },
  now: Date,
): Promise<PreferenceView> {
  return withTx(pool, async (tx) => {
    const view = await preferencesOf(tx, link);
    const current = new Map<string, boolean>([[preferenceField("*", view.channel), view.channelSubscribed]]);
    for (const t of view.topics) {
      for (const c of t.channels) current.set(preferenceField(t.key, c.channel), c.subscribed);
    }
    const ticked = new Set(form.on);
    const changes: SubscriptionChoice[] = [];
    for (const field of new Set(form.shown)) {
      const before = current.get(field);
      if (before === undefined || before === ticked.has(field)) continue;
      const [topic, channel] = field.split("|") as [string, string];
      changes.push({ topic, channel, status: ticked.has(field) ? "subscribed" : "unsubscribed" });
    }
    await writeChoices(tx, link.workspaceId, link.profileId, changes, "preference_page", now);
    for (const change of changes) {
      if (change.status === "unsubscribed")
        await appendUnsubscribed(tx, link, change, "preference_page", now);
    }
    return preferencesOf(tx, link);
  });
}

/**
 * Appends `Unsubscribed` for the person. Its messageId comes from the token, the choice and the time,
 * so the same unsubscribe appended twice (a retried transaction) is stored once.
 */
async function appendUnsubscribed(
  tx: PoolClient,
  link: LinkContext,
  choice: SubscriptionChoice,
  source: string,
  now: Date,
): Promise<void> {
  const digest = createHash("sha256")
    .update(`${link.token}\u0000${choice.topic}\u0000${choice.channel}`)
    .digest("base64url")
    .slice(0, 22);
  try {
    await appendForPerson(
      tx,
      link.workspaceId,
      { profileId: link.profileId },
      {
        type: "track",
        event: "Unsubscribed",
        messageId: `unsubscribe:${digest}:${now.toISOString()}`,
        properties: {
          channel: choice.channel,
          topic: choice.topic === "*" ? null : choice.topic,
          messageId: link.messageId,
          source,
        },
      },
      now,
    );
  } catch (err) {
    // A profile with neither userId nor anonymousId cannot be addressed in the log; the choice stands.
    if (!(err instanceof NotFoundError)) throw err;
  }
}
