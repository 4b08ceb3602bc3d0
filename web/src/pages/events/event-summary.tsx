import { Badge } from "../../ui/components.tsx";

/** An event as GET /api/v1/events (and a profile's timeline) answers: the stored Segment message. */
export interface StoredEvent {
  messageId: string;
  type: "identify" | "track" | "page" | "screen" | "group" | "alias" | "merge";
  userId?: string | null;
  anonymousId?: string | null;
  event?: string;
  name?: string;
  groupId?: string;
  previousId?: string;
  properties?: Record<string, unknown>;
  traits?: Record<string, unknown>;
  context?: Record<string, unknown>;
  timestamp: string;
  receivedAt?: string;
  seq: number;
  [field: string]: unknown;
}

export const EVENT_TYPES = ["track", "identify", "page", "screen", "group", "alias", "merge"] as const;

const TYPE_TONES: Record<string, "ok" | "warn" | "bad" | "info" | "neutral"> = {
  track: "info",
  identify: "ok",
  page: "neutral",
  screen: "neutral",
  group: "neutral",
  alias: "warn",
  merge: "warn",
};

export function TypeBadge(props: { type: string }) {
  return <Badge tone={TYPE_TONES[props.type] ?? "neutral"}>{props.type}</Badge>;
}

/** The one line that says what an event is: its name, or what it changed. */
export function eventTitle(e: StoredEvent): string {
  switch (e.type) {
    case "track":
      return e.event ?? "(unnamed)";
    case "page":
    case "screen":
      return e.name ? `${e.type === "page" ? "Page" : "Screen"}: ${e.name}` : `${e.type} view`;
    case "identify":
      return "Identify";
    case "group":
      return `Group ${e.groupId ?? ""}`.trim();
    case "alias":
      return `Alias ${e.previousId ?? "?"} → ${e.userId ?? "?"}`;
    case "merge":
      return "Profiles merged";
    default: {
      const never: never = e.type;
      return String(never);
    }
  }
}

/** A short preview of the event's payload (properties or traits), for a table cell. */
export function eventPreview(e: StoredEvent): string {
  const payload = e.type === "identify" || e.type === "group" ? e.traits : e.properties;
  if (!payload) return "";
  const parts = Object.entries(payload)
    .slice(0, 4)
    .map(([k, v]) => `${k}: ${typeof v === "object" && v !== null ? JSON.stringify(v) : String(v)}`);
  const text = parts.join(", ");
  return text.length > 90 ? `${text.slice(0, 89)}…` : text;
}

/** Who sent it: the userId, else the anonymousId. */
export function EventWho(props: { event: StoredEvent }) {
  const { userId, anonymousId } = props.event;
  if (userId) return <span className="mono">{userId}</span>;
  if (anonymousId)
    return (
      <span className="mono muted" title="anonymousId">
        {anonymousId}
      </span>
    );
  return <span className="muted">–</span>;
}
