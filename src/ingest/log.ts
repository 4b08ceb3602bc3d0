import type { Pool } from "pg";
import { ValidationError } from "../errors/index.ts";
import type { StoredEvent } from "./core/schema.ts";

export interface EventFilter {
  type?: string | undefined;
  event?: string | undefined;
  userId?: string | undefined;
  anonymousId?: string | undefined;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Cursors are opaque to clients: the last position seen, base64url-encoded. */
export function encodeCursor(position: number): string {
  return Buffer.from(String(position)).toString("base64url");
}

export function decodeCursor(cursor: string | undefined): number | null {
  if (cursor === undefined || cursor === "") return null;
  const decoded = Buffer.from(cursor, "base64url").toString();
  const n = Number(decoded);
  if (!/^\d{1,15}$/.test(decoded) || encodeCursor(n) !== cursor) {
    throw new ValidationError("cursor is not one this API returned");
  }
  return n;
}

/** The workspace's events, newest first, each in Segment's shape plus its `seq`. */
export async function listEvents(
  pool: Pool,
  workspaceId: string,
  filter: EventFilter,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<StoredEvent>> {
  const before = decodeCursor(page.cursor);
  const params: unknown[] = [workspaceId];
  const where = ["workspace_id = $1"];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace("?", `$${params.length}`));
  };
  if (before !== null) add("seq < ?", before);
  if (filter.type) add("type = ?", filter.type);
  if (filter.event) add("event = ?", filter.event);
  if (filter.userId) add("user_id = ?", filter.userId);
  if (filter.anonymousId) add("anonymous_id = ?", filter.anonymousId);
  params.push(page.limit + 1);
  const { rows } = await pool.query<{ seq: number; message: StoredEvent }>(
    `SELECT seq, message FROM events WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT $${params.length}`,
    params,
  );
  const items = rows.slice(0, page.limit).map((r) => ({ ...r.message, seq: r.seq }));
  const more = rows.length > page.limit;
  return { items, nextCursor: more ? encodeCursor(rows[page.limit - 1]!.seq) : null };
}

export interface RejectedEvent {
  id: number;
  receivedAt: string;
  route: string;
  reasonCode: string;
  reason: string;
  messageId: string | null;
  /** The message or body as received (invalid UTF-8 replaced). */
  raw: string;
}

/** The workspace's dead letters, newest first. */
export async function listRejected(
  pool: Pool,
  workspaceId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<RejectedEvent>> {
  const before = decodeCursor(page.cursor);
  const { rows } = await pool.query<{
    id: number;
    received_at: Date;
    route: string;
    reason_code: string;
    reason: string;
    message_id: string | null;
    raw: Buffer;
  }>(
    `SELECT id, received_at, route, reason_code, reason, message_id, raw FROM rejected_events
     WHERE workspace_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
    [workspaceId, before, page.limit + 1],
  );
  const items = rows.slice(0, page.limit).map((r) => ({
    id: r.id,
    receivedAt: r.received_at.toISOString(),
    route: r.route,
    reasonCode: r.reason_code,
    reason: r.reason,
    messageId: r.message_id,
    raw: r.raw.toString("utf8"),
  }));
  return { items, nextCursor: rows.length > page.limit ? encodeCursor(rows[page.limit - 1]!.id) : null };
}
