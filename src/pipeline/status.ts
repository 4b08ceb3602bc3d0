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
     head AS (SELECT coalesce((SELECT last_seq FROM event_sequences WHERE workspace_id = $1), 0) AS seq),
     resolved AS (SELECT coalesce((SELECT seq FROM pipeline_offsets WHERE workspace_id = $1 AND unit = $3), 0) AS seq),
     queued AS (
       SELECT 'apply:' || partition AS unit, count(*) AS lag, min(seq) AS first
       FROM pipeline_queue WHERE workspace_id = $1 GROUP BY partition)
     SELECT u.unit,
       coalesce(o.seq, 0) AS applied,
       CASE WHEN u.unit = $3 THEN greatest((SELECT seq FROM head) - (SELECT seq FROM resolved), 0)
            ELSE coalesce(q.lag, 0)
       END::bigint AS lag,
       -- The first event still in the log past the point reached (one erased meanwhile is skipped).
       (SELECT e.received_at FROM events e
        WHERE e.workspace_id = $1
          AND e.seq > CASE WHEN u.unit = $3 THEN (SELECT seq FROM resolved) ELSE q.first - 1 END
          AND e.seq <= (SELECT seq FROM head)
        ORDER BY e.seq LIMIT 1) AS oldest,
       l.owner
     FROM units u
     LEFT JOIN queued q ON q.unit = u.unit
     LEFT JOIN pipeline_offsets o ON o.workspace_id = $1 AND o.unit = u.unit
     -- Leases live on the database's clock (every worker renews with its now()), not the caller's.
     LEFT JOIN pipeline_leases l ON l.unit = u.unit AND l.expires_at > now()
     ORDER BY array_position($2::text[], u.unit)`,
    [workspaceId, ALL_UNITS, RESOLVE_UNIT],
  );
  return rows.map((r) => ({
    unit: r.unit,
    appliedSeq: r.applied,
    lagEvents: r.lag,
    lagSeconds: r.lag > 0 && r.oldest ? Math.max(0, (now.getTime() - r.oldest.getTime()) / 1000) : 0,
    owner: r.owner,
  }));
}

/** One unit's lag over every workspace. */
export interface UnitLag {
  unit: string;
  /** Events waiting for this unit, summed over workspaces. */
  events: number;
  /** Age of the oldest event waiting for this unit in any workspace, in seconds (0 when none wait). */
  seconds: number;
}

/**
 * Every unit's lag across all workspaces, in one query (for /metrics on each scrape): one pass over
 * the queue, an index probe per (workspace, partition) with events waiting, one per workspace behind.
 */
export async function pipelineLag(pool: Pool, now: Date): Promise<UnitLag[]> {
  const { rows } = await pool.query<{ unit: string; lag: number; oldest: Date | null }>(
    `WITH behind AS (
       SELECT s.workspace_id, s.last_seq AS head, coalesce(o.seq, 0) AS resolved
       FROM event_sequences s
       LEFT JOIN pipeline_offsets o ON o.workspace_id = s.workspace_id AND o.unit = $1
       WHERE s.last_seq > coalesce(o.seq, 0)),
     queued AS (
       SELECT workspace_id, partition, count(*) AS lag, min(seq) AS first
       FROM pipeline_queue GROUP BY workspace_id, partition),
     lags AS (
       SELECT $1 AS unit, b.head - b.resolved AS lag,
         (SELECT e.received_at FROM events e
          WHERE e.workspace_id = b.workspace_id AND e.seq > b.resolved AND e.seq <= b.head
          ORDER BY e.seq LIMIT 1) AS oldest
       FROM behind b
       UNION ALL
       SELECT 'apply:' || q.partition, q.lag,
         (SELECT e.received_at FROM events e
          WHERE e.workspace_id = q.workspace_id AND e.seq >= q.first ORDER BY e.seq LIMIT 1)
       FROM queued q)
     SELECT unit, sum(lag)::bigint AS lag, min(oldest) AS oldest FROM lags GROUP BY unit`,
    [RESOLVE_UNIT],
  );
  const byUnit = new Map(rows.map((r) => [r.unit, r]));
  return ALL_UNITS.map((unit) => {
    const r = byUnit.get(unit);
    return {
      unit,
      events: r?.lag ?? 0,
      seconds: r?.oldest ? Math.max(0, (now.getTime() - r.oldest.getTime()) / 1000) : 0,
    };
  });
}
