import type { Pool } from "pg";
import { withTx } from "../db/index.ts";
import { resolveEvents, type LogEvent } from "../identity/index.ts";
import { partitionOf, RESOLVE_UNIT } from "./core/partition.ts";

/**
 * Stage one for every workspace with unresolved events: reads the next batch in seq order, resolves
 * identities, queues each event for its profile's partition, and moves the offset, in one
 * transaction. The offset row is locked first, so two holders of a stale lease cannot both apply
 * a batch. Returns the number of events resolved.
 */
export async function runResolve(pool: Pool, batchSize: number): Promise<number> {
  const { rows: behind } = await pool.query<{ workspace_id: string }>(
    `SELECT s.workspace_id FROM event_sequences s
     LEFT JOIN pipeline_offsets o ON o.workspace_id = s.workspace_id AND o.unit = $1
     WHERE s.last_seq > coalesce(o.seq, 0)`,
    [RESOLVE_UNIT],
  );
  let done = 0;
  for (const { workspace_id: workspaceId } of behind) {
    done += await withTx(pool, async (tx) => {
      await tx.query(
        "INSERT INTO pipeline_offsets (workspace_id, unit, seq) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
        [workspaceId, RESOLVE_UNIT],
      );
      const { rows: o } = await tx.query<{ seq: number }>({
        name: "pipeline-resolve-lock",
        text: "SELECT seq FROM pipeline_offsets WHERE workspace_id = $1 AND unit = $2 FOR UPDATE",
        values: [workspaceId, RESOLVE_UNIT],
      });
      const offset = o[0]!.seq;
      // The head first, then the events: every event up to the head is committed (the writer moves the
      // head in the transaction that stores them), so a read that comes back short has seen them all.
      const { rows: h } = await tx.query<{ last_seq: number }>({
        name: "pipeline-resolve-head",
        text: "SELECT last_seq FROM event_sequences WHERE workspace_id = $1",
        values: [workspaceId],
      });
      const head = h[0]?.last_seq ?? 0;
      const { rows } = await tx.query<{ seq: number; received_at: Date; message: Record<string, unknown> }>({
        name: "pipeline-resolve-events",
        text: `SELECT seq, received_at, message FROM events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        values: [workspaceId, offset, batchSize],
      });
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
      // `merged`; run-apply holds it until their partitions have applied everything before it.
      await tx.query({
        name: "pipeline-resolve-queue",
        text: `INSERT INTO pipeline_queue (workspace_id, partition, seq, profile_id, merged)
         SELECT $1, partition, seq, profile_id, ARRAY(SELECT jsonb_array_elements_text(merged))::uuid[]
         FROM unnest($2::int[], $3::bigint[], $4::uuid[], $5::jsonb[]) AS x(partition, seq, profile_id, merged)`,
        values: [
          workspaceId,
          resolved.map((r) => partitionOf(r.profileId)),
          resolved.map((r) => r.seq),
          resolved.map((r) => r.profileId),
          resolved.map((r) => JSON.stringify(r.merged)),
        ],
      });
      await tx.query({
        name: "pipeline-resolve-offset",
        text: "UPDATE pipeline_offsets SET seq = $3, updated_at = now() WHERE workspace_id = $1 AND unit = $2",
        values: [workspaceId, RESOLVE_UNIT, next],
      });
      // Wakes the holders of those partitions, in any process, when this commits.
      const partitions = [...new Set(resolved.map((r) => partitionOf(r.profileId)))].sort((a, b) => a - b);
      if (partitions.length > 0)
        await tx.query("SELECT pg_notify('waymark_queue', $1)", [partitions.join(",")]);
      return rows.length;
    });
  }
  return done;
}
