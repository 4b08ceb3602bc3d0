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
export async function appendEvents(
  client: { query: PoolClient["query"] },
  input: AppendInput,
): Promise<boolean[]> {
  const { workspaceId, events } = input;
  if (events.length === 0) return [];
  // One round trip: the SQL function append_events (migration 0004) claims the messageIds, takes the
  // sequence lock as late as it can and inserts the new events.
  const { rows } = await client.query<{ fresh: boolean[] }>("SELECT append_events($1, $2::jsonb) AS fresh", [
    workspaceId,
    JSON.stringify(events.map((e) => e.message)),
  ]);
  return rows[0]!.fresh;
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
