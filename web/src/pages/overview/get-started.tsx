import { useState } from "react";
import { Link } from "react-router";
import { Card, CopyButton } from "../../ui/components.tsx";

/** The three ways to send a first event, each ready to paste with this workspace's write key and this server. */
function snippets(
  writeKey: string,
  origin: string,
): Array<{ key: string; label: string; hint: string; code: string }> {
  return [
    {
      key: "curl",
      label: "curl",
      hint: "From a terminal: the write key is the HTTP Basic user name, with an empty password.",
      code: `curl -X POST '${origin}/v1/track' \\
  -u '${writeKey}:' \\
  -H 'Content-Type: application/json' \\
  -d '{"userId": "user-1", "event": "Signed Up", "properties": {"plan": "pro"}}'`,
    },
    {
      key: "browser",
      label: "analytics.js",
      hint: "Segment's analytics.js (npm install @segment/analytics-next) loads its settings from Waymark and sends every call here.",
      code: `import { AnalyticsBrowser } from "@segment/analytics-next";

export const analytics = AnalyticsBrowser.load({
  writeKey: "${writeKey}",
  cdnURL: "${origin}",
});

analytics.identify("user-1", { email: "ada@example.com", name: "Ada" });
analytics.track("Signed Up", { plan: "pro" });`,
    },
    {
      key: "node",
      label: "Node.js",
      hint: "Segment's Node SDK (npm install @segment/analytics-node), pointed at Waymark with host.",
      code: `import { Analytics } from "@segment/analytics-node";

const analytics = new Analytics({ writeKey: "${writeKey}", host: "${origin}" });
analytics.identify({ userId: "user-1", traits: { email: "ada@example.com" } });
analytics.track({ userId: "user-1", event: "Signed Up", properties: { plan: "pro" } });
await analytics.closeAndFlush();`,
    },
  ];
}

/** The overview of a workspace that has no events yet: how to send the first one. */
export function GetStarted(props: { writeKey: string }) {
  const list = snippets(props.writeKey, window.location.origin);
  const [tab, setTab] = useState(list[0]!.key);
  const current = list.find((s) => s.key === tab) ?? list[0]!;
  return (
    <Card className="get-started">
      <div className="get-started-head">
        <div>
          <h2>Send your first event</h2>
          <p className="muted">
            This workspace has no events yet. Any Segment-compatible SDK works unchanged: point it at this
            server with the write key below. The numbers and charts appear here as soon as the first event
            arrives.
          </p>
        </div>
        <div className="waiting" role="status">
          <span className="live-dot" aria-hidden="true" /> Waiting for the first event…
        </div>
      </div>
      <div className="write-key">
        <span className="muted">Write key</span>
        <code data-testid="write-key">{props.writeKey}</code>
        <CopyButton value={props.writeKey} label="Copy write key" />
      </div>
      <div className="tabs" role="tablist" aria-label="Ways to send an event">
        {list.map((s) => (
          <button
            key={s.key}
            type="button"
            role="tab"
            id={`snippet-tab-${s.key}`}
            aria-controls="snippet-panel"
            aria-selected={s.key === tab}
            onClick={() => setTab(s.key)}
          >
            {s.label}
          </button>
        ))}
      </div>
      <div
        role="tabpanel"
        id="snippet-panel"
        aria-labelledby={`snippet-tab-${current.key}`}
        className="snippet"
      >
        <p className="muted">{current.hint}</p>
        <div className="snippet-code">
          <pre className="json" aria-label={`${current.label} snippet`}>
            {current.code}
          </pre>
          <div className="snippet-copy">
            <CopyButton value={current.code} label="Copy snippet" />
          </div>
        </div>
      </div>
      <p className="muted small">
        Then watch it arrive in the <Link to="/events">events debugger</Link>; refused messages are listed
        there with their reason.
      </p>
    </Card>
  );
}
