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
      const { rows: o } = await tx.query<{ seq: number }>(
        "SELECT seq FROM pipeline_offsets WHERE workspace_id = $1 AND unit = $2 FOR UPDATE",
        [workspaceId, RESOLVE_UNIT],
      );
      const offset = o[0]!.seq;
      const { rows } = await tx.query<{ seq: number; received_at: Date; message: Record<string, unknown> }>(
        `SELECT seq, received_at, message FROM events WHERE workspace_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
        [workspaceId, offset, batchSize],
      );
      if (rows.length === 0) return 0;
      const events: LogEvent[] = rows.map((r) => ({
        seq: r.seq,
        receivedAt: r.received_at,
        message: r.message,
      }));
      const resolved = await resolveEvents(tx, workspaceId, events);

      // An event that merges a profile living in another partition waits there until that partition
      // has applied everything before it: the person's earlier events, wherever they were queued.
      const queue = resolved.map((r) => {
        const partition = partitionOf(r.profileId);
        const other = r.merged.map(partitionOf).find((p) => p !== partition);
        return {
          ...r,
          partition,
          afterPartition: other ?? null,
          afterSeq: other === undefined ? null : r.seq,
        };
      });
      await tx.query(
        `INSERT INTO pipeline_queue (workspace_id, partition, seq, profile_id, merged, after_partition, after_seq)
         SELECT $1, partition, seq, profile_id, ARRAY(SELECT jsonb_array_elements_text(merged))::uuid[], ap, aseq
         FROM unnest($2::int[], $3::bigint[], $4::uuid[], $5::jsonb[], $6::int[], $7::bigint[])
           AS x(partition, seq, profile_id, merged, ap, aseq)`,
        [
          workspaceId,
          queue.map((q) => q.partition),
          queue.map((q) => q.seq),
          queue.map((q) => q.profileId),
          queue.map((q) => JSON.stringify(q.merged)),
          queue.map((q) => q.afterPartition),
          queue.map((q) => q.afterSeq),
        ],
      );
      await tx.query(
        "UPDATE pipeline_offsets SET seq = $3, updated_at = now() WHERE workspace_id = $1 AND unit = $2",
        [workspaceId, RESOLVE_UNIT, rows.at(-1)!.seq],
      );
      return rows.length;
    });
  }
  return done;
}
