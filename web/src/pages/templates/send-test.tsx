import { useState, type FormEvent } from "react";
import { Link } from "react-router";
import { api } from "../../api.ts";
import { Card, CopyButton, ErrorBox, StatusBadge, Time } from "../../ui/components.tsx";
import { useAction, useLoad } from "../../ui/hooks.ts";
import type { TemplateChannel } from "./draft.ts";
import type { PickedProfile } from "./profile-picker.tsx";
import type { MessageView as Message } from "../../../../src/messaging/index.ts";

/** Follows a queued message until it is sent, skipped, failed or bounced. */
function MessageOutcome(props: { id: string; profile: PickedProfile }) {
  const [done, setDone] = useState(false);
  const state = useLoad(
    async () => {
      const m = await api<Message>(`/api/v1/messages/${props.id}`);
      if (m.status !== "queued") setDone(true);
      return m;
    },
    [props.id],
    done ? undefined : 1000,
  );
  const m = state.data;
  return (
    <div className="send-outcome" aria-live="polite" data-testid="send-outcome">
      <div className="row">
        <span>
          Queued message <code>{props.id}</code>
        </span>
        <CopyButton value={props.id} label="Copy id" />
      </div>
      {state.error && !m ? <ErrorBox error={state.error} onRetry={state.reload} /> : null}
      {m ? (
        <dl className="outcome-list">
          <dt>Status</dt>
          <dd>
            <StatusBadge status={m.status} />
            {m.status === "queued" ? <span className="muted small"> checking every second…</span> : null}
          </dd>
          {m.reason ? (
            <>
              <dt>Why</dt>
              <dd>{m.reason}</dd>
            </>
          ) : null}
          <dt>To</dt>
          <dd>{m.to ?? <span className="muted">the person&apos;s address</span>}</dd>
          {m.subject ? (
            <>
              <dt>Subject</dt>
              <dd>{m.subject}</dd>
            </>
          ) : null}
          <dt>Version</dt>
          <dd>{m.templateVersion ? `v${m.templateVersion}` : "–"}</dd>
          {m.sentAt ? (
            <>
              <dt>Sent</dt>
              <dd>
                <Time value={m.sentAt} />
              </dd>
            </>
          ) : null}
        </dl>
      ) : null}
      <p className="small">
        <Link to={`/profiles/${props.profile.id}`}>{props.profile.name}&apos;s profile</Link>{" "}
        <span className="muted">lists this message with the others sent to them.</span>
      </p>
    </div>
  );
}

/** Sends the saved template to a person now (POST /api/v1/send), then follows the message. */
export function SendTest(props: {
  templateKey: string;
  channel: TemplateChannel;
  savedVersion: number | undefined;
  dirty: boolean;
  profile: PickedProfile | null;
  data: Record<string, unknown> | undefined;
}) {
  const [address, setAddress] = useState("");
  const send = useAction(async () => {
    const to: Record<string, string> = { profileId: props.profile!.id };
    if (props.channel === "email" && address.trim()) to.email = address.trim();
    // A webhook message goes to the `url` of the send's data.
    const data = props.channel === "webhook" ? { ...props.data, url: address.trim() } : (props.data ?? {});
    const queued = await api<{ id: string }>("/api/v1/send", {
      method: "POST",
      body: { template: props.templateKey, to, data, transactional: true },
    });
    return { id: queued.id, profile: props.profile! };
  });
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    void send.run();
  };
  const blocked =
    props.savedVersion === undefined
      ? "Save the template first: a test sends a saved version."
      : !props.profile
        ? "Pick a person above: the test renders with their traits."
        : undefined;
  return (
    <Card title="Send a test">
      <form className="send-test" onSubmit={onSubmit} aria-label="Send a test">
        <p className="muted small send-about">
          Sends the saved version{props.savedVersion ? ` (v${props.savedVersion})` : ""} now, as a
          transactional message, to{" "}
          {props.profile ? <strong>{props.profile.name}</strong> : "the person picked"}.
          {props.dirty && props.savedVersion !== undefined ? " Your unsaved changes are not in it." : ""}
        </p>
        {props.channel === "email" ? (
          <label className="field">
            <span>Send to a different address (optional)</span>
            <input
              type="email"
              placeholder="you@example.com: rendered for the person, delivered to you"
              value={address}
              onChange={(e) => setAddress(e.target.value)}
            />
          </label>
        ) : props.channel === "webhook" ? (
          <label className="field">
            <span>Endpoint URL</span>
            <input
              type="url"
              required
              placeholder="https://example.com/hooks/waymark"
              value={address}
              onChange={(e) => setAddress(e.target.value)}
            />
            <small className="muted">
              Sent as <code>data.url</code>; the server&apos;s outbound allow-list applies.
            </small>
          </label>
        ) : (
          <p className="muted small send-about">
            Delivered to their <code>{props.channel === "sms" ? "phone" : "pushToken"}</code> trait.
          </p>
        )}
        {send.error ? <ErrorBox error={send.error} /> : null}
        <div className="form-actions">
          <button type="submit" className="btn" disabled={send.busy || blocked !== undefined}>
            {send.busy ? "Sending…" : "Send test"}
          </button>
          {blocked ? <span className="muted small">{blocked}</span> : null}
        </div>
        {send.result ? <MessageOutcome key={send.result.id} {...send.result} /> : null}
      </form>
    </Card>
  );
}
