import type { Pool } from "pg";
import { withTx } from "../db/index.ts";
import { advance } from "./engine/advance.ts";
import type { AdvanceResult } from "./engine/types.ts";
import type { VersionCache } from "./definitions.ts";
import { instanceOf, loadProfiles, saveResults, type InstanceRow } from "./instances.ts";

/**
 * Claims the instances whose timer is due (`SKIP LOCKED`: several workers share the work, and an
 * instance the pipeline holds is skipped until it is free), advances each with a timer input and
 * commits their state, audit rows and effects in one transaction. Instances of paused journeys wait.
 * Returns how many were advanced.
 */
export async function fireDueTimers(
  pool: Pool,
  versions: VersionCache,
  now: Date,
  limit: number,
): Promise<number> {
  return withTx(pool, async (tx) => {
    const { rows } = await tx.query<InstanceRow>(
      `SELECT i.* FROM journey_instances i
       WHERE i.status = 'active' AND i.due_at <= $1
         AND NOT EXISTS (SELECT 1 FROM journeys j
                         WHERE j.workspace_id = i.workspace_id AND j.key = i.journey_key AND j.status = 'paused')
       ORDER BY i.due_at LIMIT $2 FOR UPDATE OF i SKIP LOCKED`,
      [now, limit],
    );
    if (rows.length === 0) return 0;
    const byWorkspace = new Map<string, InstanceRow[]>();
    for (const r of rows) byWorkspace.set(r.workspace_id, [...(byWorkspace.get(r.workspace_id) ?? []), r]);
    for (const [workspaceId, list] of byWorkspace) {
      const profiles = await loadProfiles(tx, workspaceId, [...new Set(list.map((r) => r.profile_id))]);
      const results: AdvanceResult[] = [];
      for (const r of list) {
        const version = await versions.get(tx, workspaceId, r.journey_key, r.version);
        const profile = profiles.get(r.profile_id) ?? { id: r.profile_id, traits: {} };
        results.push(advance(version, instanceOf(r), { kind: "timer", profile, lookups: {} }, now));
      }
      await saveResults(tx, workspaceId, results, now);
    }
    return rows.length;
  });
}

/** When the next timer is due (for the loop's sleep), or null when none waits. */
export async function nextDue(pool: Pool): Promise<Date | null> {
  const { rows } = await pool.query<{ due: Date | null }>(
    "SELECT min(due_at) AS due FROM journey_instances WHERE status = 'active' AND due_at IS NOT NULL",
  );
  return rows[0]?.due ?? null;
}
