import { setTimeout as sleep } from "node:timers/promises";
import type { Pool } from "pg";
import { RESOLVE_UNIT } from "./core/partition.ts";

/**
 * Read-your-writes for a request that needs the pipeline's result (a send naming a person whose
 * identify was accepted a moment ago): waits until the pipeline has applied every event the
 * workspace's log held when it was called: resolved, and no longer queued for any partition.
 * `waited` is false when nothing was behind (the caller's answer stands as it is); `caughtUp` false
 * when `timeoutMs` passed first, with `behind` the events still waiting then.
 */
export async function waitForPipeline(
  pool: Pool,
  workspaceId: string,
  options: { timeoutMs: number; pollMs?: number },
): Promise<{ waited: boolean; caughtUp: boolean; behind: number }> {
  const deadline = Date.now() + options.timeoutMs;
  let head: number | null = null;
  for (let round = 0; ; round++) {
    const values: unknown[] = [workspaceId, RESOLVE_UNIT, head];
    const { rows } = await pool.query<{ head: string; resolved: string; queued: string }>({
      name: "pipeline.behind",
      // The head is read once (the first round) and kept: later events do not prolong the wait.
      text: `WITH head AS (SELECT coalesce($3::bigint, (SELECT last_seq FROM event_sequences WHERE workspace_id = $1), 0) AS seq)
       SELECT (SELECT seq FROM head) AS head,
         coalesce((SELECT seq FROM pipeline_offsets WHERE workspace_id = $1 AND unit = $2), 0) AS resolved,
         (SELECT count(*) FROM pipeline_queue WHERE workspace_id = $1 AND seq <= (SELECT seq FROM head)) AS queued`,
      values,
    });
    const r = rows[0]!;
    head = Number(r.head);
    const behind = Math.max(0, head - Number(r.resolved)) + Number(r.queued);
    if (behind === 0) return { waited: round > 0, caughtUp: true, behind: 0 };
    if (Date.now() >= deadline) return { waited: true, caughtUp: false, behind };
    await sleep(options.pollMs ?? 20);
  }
}
