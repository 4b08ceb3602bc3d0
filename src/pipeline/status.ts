import type { Pool } from "pg";
import { ALL_UNITS, RESOLVE_UNIT } from "./core/partition.ts";

export interface UnitStatus {
  unit: string;
  /** Last seq this unit applied (resolved, for the resolve unit). */
  appliedSeq: number;
  /** Events waiting for this unit. */
  lagEvents: number;
  /** Age of the oldest event waiting for this unit, in seconds (0 when none wait). */
  lagSeconds: number;
  owner: string | null;
}

/** Per unit of one workspace's pipeline: how far it is and how far behind. */
export async function pipelineStatus(pool: Pool, workspaceId: string, now: Date): Promise<UnitStatus[]> {
  const { rows } = await pool.query<{
    unit: string;
    applied: number;
    lag: number;
    oldest: Date | null;
    owner: string | null;
  }>(
    `WITH units AS (SELECT unnest($2::text[]) AS unit),
     head AS (SELECT last_seq FROM event_sequences WHERE workspace_id = $1),
     resolved AS (SELECT coalesce((SELECT seq FROM pipeline_offsets WHERE workspace_id = $1 AND unit = $3), 0) AS seq)
     SELECT u.unit,
       coalesce(o.seq, 0) AS applied,
       CASE WHEN u.unit = $3 THEN (SELECT last_seq FROM head) - (SELECT seq FROM resolved)
            ELSE (SELECT count(*) FROM pipeline_queue q WHERE q.workspace_id = $1 AND 'apply:' || q.partition = u.unit)
       END::bigint AS lag,
       CASE WHEN u.unit = $3 THEN
              (SELECT min(e.received_at) FROM events e WHERE e.workspace_id = $1 AND e.seq = (SELECT seq FROM resolved) + 1)
            ELSE
              (SELECT min(e.received_at) FROM events e WHERE e.workspace_id = $1 AND e.seq =
                (SELECT min(q.seq) FROM pipeline_queue q WHERE q.workspace_id = $1 AND 'apply:' || q.partition = u.unit))
       END AS oldest,
       l.owner
     FROM units u
     LEFT JOIN pipeline_offsets o ON o.workspace_id = $1 AND o.unit = u.unit
     LEFT JOIN pipeline_leases l ON l.unit = u.unit AND l.expires_at > $4
     ORDER BY array_position($2::text[], u.unit)`,
    [workspaceId, ALL_UNITS, RESOLVE_UNIT, now],
  );
  return rows.map((r) => ({
    unit: r.unit,
    appliedSeq: r.applied,
    lagEvents: r.lag,
    lagSeconds: r.oldest ? Math.max(0, (now.getTime() - r.oldest.getTime()) / 1000) : 0,
    owner: r.owner,
  }));
}
