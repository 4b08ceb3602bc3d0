import { useState, type ReactNode } from "react";
import { storedToken } from "../../api.ts";
import { useSession } from "../../session.tsx";
import { Card, CopyButton, Time } from "../../ui/components.tsx";

/** Shows the first and last characters of a secret: enough to tell two apart, not to use one. */
function mask(value: string): string {
  const prefix = /^[a-z]{1,8}_(?:[a-z]{1,8}_)?/.exec(value)?.[0] ?? value.slice(0, 4);
  return `${prefix}${"•".repeat(12)}${value.slice(-4)}`;
}

function KeyRow(props: { name: string; value: string; secret?: boolean; children: ReactNode }) {
  const [shown, setShown] = useState(!props.secret);
  return (
    <div className="key-row" role="group" aria-label={props.name}>
      <div className="key-about">
        <div className="key-name">{props.name}</div>
        <div className="muted small">{props.children}</div>
      </div>
      <code className="key-value" data-testid={`key-${props.name}`}>
        {shown ? props.value : mask(props.value)}
      </code>
      <div className="key-actions">
        {props.secret ? (
          <button type="button" className="btn btn-small" onClick={() => setShown((s) => !s)}>
            {shown ? "Hide" : "Show"}
          </button>
        ) : null}
        <CopyButton value={props.value} />
      </div>
    </div>
  );
}

/** The workspace's id and keys, each with a copy button; secrets masked until shown. */
export function KeysSection() {
  const { workspace } = useSession();
  const token = storedToken();
  if (!workspace) return null;
  const origin = window.location.origin;
  const snippet = `curl -u '${workspace.writeKey}:' ${origin}/v1/track \\
  -H 'content-type: application/json' \\
  -d '{"userId": "user-1", "event": "Signed Up", "properties": {"plan": "pro"}}'`;
  return (
    <div className="grid">
      <Card title="Workspace keys">
        <div className="key-list">
          <KeyRow name="Workspace id" value={workspace.id}>
            Workspace <strong>{workspace.name}</strong>, created <Time value={workspace.createdAt} />.
          </KeyRow>
          <KeyRow name="Write key" value={workspace.writeKey}>
            Sends events: the Segment SDKs&apos; write key, or the user name of HTTP Basic auth on{" "}
            <code>/v1/track</code>, <code>/v1/identify</code> and <code>/v1/batch</code>. Safe in a browser.
          </KeyRow>
          <KeyRow name="Webhook secret" value={workspace.webhookSecret} secret>
            Verifies the signatures of the webhooks Waymark sends (Standard Webhooks,{" "}
            <code>webhook-signature</code> header). Keep it on your servers.
          </KeyRow>
          {token ? (
            <KeyRow name="Admin token" value={token} secret>
              This browser&apos;s sign-in: full access to the admin API (<code>Authorization: Bearer …</code>
              ). Kept in this browser only; the server keeps it in <code>credentials.json</code>.
            </KeyRow>
          ) : null}
        </div>
      </Card>
      <Card title="Send a first event" actions={<CopyButton value={snippet} label="Copy snippet" />}>
        <p className="muted settings-lead">
          Any Segment library works with the write key; so does plain HTTP. The event shows up under Events
          within a second or two.
        </p>
        <pre className="json">{snippet}</pre>
      </Card>
    </div>
  );
}
