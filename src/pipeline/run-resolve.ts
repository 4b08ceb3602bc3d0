import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { resolveEvents, type LogEvent } from "../identity/index.ts";
import { partitionOf, RESOLVE_UNIT } from "./core/partition.ts";

/**
 * Stage one for every workspace with unresolved events: reads the next batch in seq order, resolves
 * identities, queues each event for its profile's partition, and moves the offset, in one
 * transaction. The offset row is locked first, so two holders of a stale lease cannot both apply
 * a batch. Returns the number of events resolved; `onQueued` hears, after each commit, the partitions
 * that got events.
 */
export async function runResolve(
  pool: Pool,
  batchSize: number,
  onQueued?: (partitions: number[]) => void,
): Promise<number> {
  const { rows: behind } = await pool.query<{ workspace_id: string }>(
    `SELECT s.workspace_id FROM event_sequences s
     LEFT JOIN pipeline_offsets o ON o.workspace_id = s.workspace_id AND o.unit = $1
     WHERE s.last_seq > coalesce(o.seq, 0)`,
    [RESOLVE_UNIT],
  );
  let done = 0;
  for (const { workspace_id: workspaceId } of behind) {
    let queuedFor: number[] = [];
    done += await withTx(pool, async (tx) => {
      const offset = await lockOffset(tx, workspaceId);
      // One statement, so the head and the events are read in one snapshot: every event up to the head
      // is in it (the writer moves the head in the transaction that stores them), so a read that comes
      // back short has seen them all.
      const { rows: read } = await tx.query<{
        head: number;
        seq: number | null;
        received_at: Date;
        message: Record<string, unknown>;
      }>({
        name: "pipeline-resolve-events",
        text: `SELECT h.last_seq AS head, e.seq, e.received_at, e.message
               FROM event_sequences h
               LEFT JOIN LATERAL (SELECT seq, received_at, message FROM events
                                  WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3) e ON true
               WHERE h.workspace_id = $1
               ORDER BY e.seq`,
        values: [workspaceId, offset, batchSize],
      });
      const head = read[0]?.head ?? 0;
      const rows = read.filter((r) => r.seq !== null) as Array<(typeof read)[number] & { seq: number }>;
      // Events erased from the log (GDPR) leave gaps; at the tail, the offset still moves to the head,
      // or the unit would report lag forever.
      const next = rows.length < batchSize ? Math.max(head, rows.at(-1)?.seq ?? 0) : rows.at(-1)!.seq;
      if (next <= offset) return 0;
      const events: LogEvent[] = rows.map((r) => ({
        seq: r.seq,
        receivedAt: r.received_at,
        message: r.message,
      }));
      const resolved = await resolveEvents(tx, workspaceId, events);

      // Each event goes to its profile's partition. An event that merges profiles carries them in
      // `merged`; run-apply holds it until their partitions have applied everything before it. The
      // offset moves in the same statement, and the holders of those partitions, in any process, are
      // woken when this commits.
      const partitions = [...new Set(resolved.map((r) => partitionOf(r.profileId)))].sort((a, b) => a - b);
      await tx.query({
        name: "pipeline-resolve-queue",
        text: `WITH queued AS (
                 INSERT INTO pipeline_queue (workspace_id, partition, seq, profile_id, merged)
                 SELECT $1, partition, seq, profile_id, ARRAY(SELECT jsonb_array_elements_text(merged))::uuid[]
                 FROM unnest($2::int[], $3::bigint[], $4::uuid[], $5::jsonb[]) AS x(partition, seq, profile_id, merged)
               ), moved AS (
                 UPDATE pipeline_offsets SET seq = $6, updated_at = now() WHERE workspace_id = $1 AND unit = $7
               )
               SELECT pg_notify('waymark_queue', $8) WHERE $8 <> ''`,
        values: [
          workspaceId,
          resolved.map((r) => partitionOf(r.profileId)),
          resolved.map((r) => r.seq),
          resolved.map((r) => r.profileId),
          resolved.map((r) => JSON.stringify(r.merged)),
          next,
          RESOLVE_UNIT,
          partitions.join(","),
        ],
      });
      queuedFor = partitions;
      return rows.length;
    });
    if (queuedFor.length > 0) onQueued?.(queuedFor);
  }
  return done;
}

/**
 * Locks the workspace's resolve offset (created at its first batch) and returns it. The lock is what
 * makes two holders of a stale lease, or an erasure, wait for the batch in flight.
 */
async function lockOffset(tx: PoolClient, workspaceId: string): Promise<number> {
  const lock = () =>
    tx.query<{ seq: number }>({
      name: "pipeline-resolve-lock",
      text: "SELECT seq FROM pipeline_offsets WHERE workspace_id = $1 AND unit = $2 FOR UPDATE",
      values: [workspaceId, RESOLVE_UNIT],
    });
  let { rows } = await lock();
  if (rows.length === 0) {
    await tx.query(
      "INSERT INTO pipeline_offsets (workspace_id, unit, seq) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
      [workspaceId, RESOLVE_UNIT],
    );
    ({ rows } = await lock());
  }
  return rows[0]!.seq;
}
