import type { PoolClient } from "pg";
import type { EventRow, Rejection } from "./core/validate.ts";

/** Events of one workspace, in arrival order, to append in one transaction. */
export interface AppendInput {
  workspaceId: string;
  events: EventRow[];
}

/**
 * Appends events to the log inside the caller's transaction and returns, per input event, whether it
 * was new (`true`) or a duplicate of a stored messageId (`false`). Sequences are allocated only for
 * new events, under the workspace's sequence row lock, so each workspace's log is gap-free and its
 * commit order is its sequence order.
 */
export async function appendEvents(client: PoolClient, input: AppendInput): Promise<boolean[]> {
  const { workspaceId, events } = input;
  if (events.length === 0) return [];
  // Claim the messageIds first; ON CONFLICT DO NOTHING also drops repeats inside this same batch.
  // Sorted, so two writers claiming overlapping ids lock them in the same order (no deadlock).
  const ids = [...new Set(events.map((e) => e.messageId))].sort();
  const claimed = await client.query<{ message_id: string }>(
    `INSERT INTO event_message_ids (workspace_id, message_id)
     SELECT $1, id FROM unnest($2::text[]) AS id
     ON CONFLICT DO NOTHING
     RETURNING message_id`,
    [workspaceId, ids],
  );
  const fresh = new Set(claimed.rows.map((r) => r.message_id));
  const isNew = events.map((e) => fresh.delete(e.messageId));
  const rows = events.filter((_, i) => isNew[i]);
  if (rows.length === 0) return isNew;

  const seq = await client.query<{ last_seq: number }>(
    "UPDATE event_sequences SET last_seq = last_seq + $2 WHERE workspace_id = $1 RETURNING last_seq",
    [workspaceId, rows.length],
  );
  const first = seq.rows[0]!.last_seq - rows.length + 1;
  await client.query(
    `INSERT INTO events (workspace_id, seq, message_id, type, user_id, anonymous_id, event, "timestamp", received_at, message)
     SELECT $1, $2::bigint + ord - 1, e->>'messageId', e->>'type', e->>'userId', e->>'anonymousId',
            e->>'event', (e->>'timestamp')::timestamptz, (e->>'receivedAt')::timestamptz, e
     FROM jsonb_array_elements($3::jsonb) WITH ORDINALITY AS x(e, ord)`,
    [workspaceId, first, JSON.stringify(rows.map((r) => r.message))],
  );
  return isNew;
}

export interface RejectionInput {
  workspaceId: string;
  route: string;
  receivedAt: Date;
  rejections: Rejection[];
}

/** Stores refused messages as dead letters, inside the caller's transaction. */
export async function storeRejections(client: PoolClient, input: RejectionInput): Promise<void> {
  if (input.rejections.length === 0) return;
  await client.query(
    `INSERT INTO rejected_events (workspace_id, received_at, route, reason_code, reason, message_id, raw)
     SELECT $1, $2, $3, r.code, r.reason, r.message_id, r.raw
     FROM unnest($4::text[], $5::text[], $6::text[], $7::bytea[]) AS r(code, reason, message_id, raw)`,
    [
      input.workspaceId,
      input.receivedAt,
      input.route,
      input.rejections.map((r) => r.code),
      input.rejections.map((r) => r.reason),
      input.rejections.map((r) => r.messageId),
      input.rejections.map((r) => Buffer.from(r.raw, "utf8")),
    ],
  );
}

/** Creates the monthly partitions of the log from the month of `now` on. */
export async function ensurePartitions(
  client: { query: PoolClient["query"] },
  now: Date,
  months = 3,
): Promise<void> {
  await client.query("SELECT ensure_event_partitions($1::date, $2)", [
    now.toISOString().slice(0, 10),
    months,
  ]);
}
