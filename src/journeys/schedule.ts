import type { Pool } from "pg";
import { withTx } from "../db/index.ts";
import { appendEvents } from "../ingest/index.ts";
import { evaluateCondition } from "./core/conditions.ts";
import { nextCronRun } from "./core/cron.ts";
import type { JourneyDefinition } from "./core/definition.ts";
import type { VersionCache } from "./definitions.ts";
import { triggerMessage } from "./trigger.ts";

/** Profiles read per transaction while a scheduled trigger runs. */
const PAGE = 1000;
/** A claimed run is reserved this long; a worker that dies mid-run leaves it to another after this. */
const RUN_LEASE_MS = 5 * 60_000;

/** When a scheduled journey runs next after `after` (undefined for other triggers). */
export function nextScheduledRun(def: JourneyDefinition, after: Date): Date | undefined {
  const s = def.trigger.schedule;
  return s ? nextCronRun(s.cron, s.timeZone ?? def.timeZone, after) : undefined;
}

/**
 * Runs one due scheduled trigger, if any: every profile of the workspace that meets the trigger's
 * condition gets a `Journey Triggered` event in the log (entry then happens in the pipeline, in order
 * with the person's other events, under the entry rules). The messageId names the journey, the tick
 * and the profile, so a run repeated after a crash appends nothing twice. Profiles without a userId
 * or anonymousId cannot be addressed and are skipped. Returns the number of people triggered, or
 * undefined when no run was due.
 */
export async function runDueSchedule(
  pool: Pool,
  versions: VersionCache,
  now: Date,
): Promise<number | undefined> {
  const claimed = await withTx(pool, async (tx) => {
    const { rows } = await tx.query<{
      workspace_id: string;
      key: string;
      published_version: number;
      next_run_at: Date;
    }>(
      `SELECT workspace_id, key, published_version, next_run_at FROM journeys
       WHERE status = 'active' AND next_run_at <= $1 ORDER BY next_run_at LIMIT 1 FOR UPDATE SKIP LOCKED`,
      [now],
    );
    const row = rows[0];
    if (!row) return undefined;
    await tx.query("UPDATE journeys SET next_run_at = $3 WHERE workspace_id = $1 AND key = $2", [
      row.workspace_id,
      row.key,
      new Date(now.getTime() + RUN_LEASE_MS),
    ]);
    return row;
  });
  if (!claimed) return undefined;
  const { workspace_id: workspaceId, key } = claimed;
  const version = await versions.get(pool, workspaceId, key, claimed.published_version);
  const def = version.definition;
  const tick = claimed.next_run_at.toISOString();
  let after = "00000000-0000-0000-0000-000000000000";
  let triggered = 0;
  for (;;) {
    const { rows } = await pool.query<{
      id: string;
      traits: Record<string, unknown>;
      timezone: string | null;
    }>("SELECT id, traits, timezone FROM profiles WHERE workspace_id = $1 AND id > $2 ORDER BY id LIMIT $3", [
      workspaceId,
      after,
      PAGE,
    ]);
    if (rows.length === 0) break;
    after = rows.at(-1)!.id;
    const chosen = rows.filter((p) =>
      def.trigger.where
        ? evaluateCondition(def.trigger.where, {
            profile: { id: p.id, traits: p.traits, timeZone: p.timezone },
            event: {},
            context: {},
            instance: {},
          }).result
        : true,
    );
    if (chosen.length === 0) continue;
    const { rows: ids } = await pool.query<{ profile_id: string; type: string; value: string }>(
      `SELECT DISTINCT ON (profile_id) profile_id, type, value FROM identities
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND type IN ('user_id', 'anonymous_id')
       ORDER BY profile_id, type DESC, value`,
      [workspaceId, chosen.map((p) => p.id)],
    );
    const at = now.toISOString();
    const events = ids.map((id) => {
      const message = {
        ...triggerMessage(key, `schedule:${key}:${tick}:${id.profile_id}`, { scheduledAt: tick }),
        [id.type === "user_id" ? "userId" : "anonymousId"]: id.value,
        context: { library: { name: "waymark", version: "internal" } },
        timestamp: at,
        receivedAt: at,
      };
      return {
        messageId: message.messageId,
        type: "track" as const,
        userId: id.type === "user_id" ? id.value : null,
        anonymousId: id.type === "anonymous_id" ? id.value : null,
        event: "Journey Triggered",
        timestamp: at,
        receivedAt: at,
        message,
      };
    });
    await withTx(pool, (tx) => appendEvents(tx, { workspaceId, events }));
    triggered += events.length;
  }
  const next = nextScheduledRun(def, now);
  await pool.query(
    "UPDATE journeys SET next_run_at = $3 WHERE workspace_id = $1 AND key = $2 AND status = 'active'",
    [workspaceId, key, next ?? null],
  );
  return triggered;
}
