import type { PoolClient } from "pg";
import type { AdvanceResult, AuditEntry, Instance, ProfileData } from "./engine/types.ts";

/** A `journey_instances` row (SELECT *). */
export interface InstanceRow {
  id: string;
  workspace_id: string;
  journey_key: string;
  version: number;
  profile_id: string;
  key: string | null;
  status: Instance["status"];
  step: string | null;
  due_at: Date | null;
  goal_until: Date | null;
  entered_at: Date;
  ended_at: Date | null;
  state: Pick<Instance, "waiting" | "context" | "endReason" | "goalReachedAt" | "effectCount">;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function instanceOf(r: InstanceRow): Instance {
  return {
    id: r.id,
    journey: r.journey_key,
    version: r.version,
    profileId: r.profile_id,
    key: r.key,
    status: r.status,
    step: r.step,
    dueAt: iso(r.due_at),
    goalUntil: iso(r.goal_until),
    enteredAt: r.entered_at.toISOString(),
    endedAt: iso(r.ended_at),
    waiting: r.state.waiting,
    context: r.state.context,
    endReason: r.state.endReason,
    goalReachedAt: r.state.goalReachedAt,
    effectCount: r.state.effectCount,
  };
}

/**
 * The instances an event of these people can reach: running ones, and ended ones whose goal window
 * is still open. Locked, so the timer loop (SKIP LOCKED) and the outbox wait for this transaction.
 */
export async function lockInstancesOfProfiles(
  tx: PoolClient,
  workspaceId: string,
  profileIds: string[],
  now: Date,
): Promise<InstanceRow[]> {
  const { rows } = await tx.query<InstanceRow>(
    `SELECT * FROM journey_instances
     WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND (status = 'active' OR goal_until > $3)
     ORDER BY entered_at, id FOR UPDATE`,
    [workspaceId, profileIds, now],
  );
  return rows;
}

/** What the engine reads of people: traits and time zone. */
export async function loadProfiles(
  tx: PoolClient,
  workspaceId: string,
  profileIds: string[],
): Promise<Map<string, ProfileData>> {
  const { rows } = await tx.query<{ id: string; traits: Record<string, unknown>; timezone: string | null }>(
    "SELECT id, traits, timezone FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[])",
    [workspaceId, profileIds],
  );
  return new Map(rows.map((r) => [r.id, { id: r.id, traits: r.traits ?? {}, timeZone: r.timezone }]));
}

/**
 * Writes what advancing produced, in the caller's transaction: the instances (inserted or updated),
 * their audit rows and their effects in the outbox (an effect already there is not written twice).
 */
export async function saveResults(tx: PoolClient, workspaceId: string, results: AdvanceResult[], now: Date) {
  if (results.length === 0) return;
  const latest = new Map<string, Instance>();
  for (const r of results) latest.set(r.instance.id, r.instance);
  await tx.query(
    `INSERT INTO journey_instances AS i (id, workspace_id, journey_key, version, profile_id, key, status, step,
       due_at, goal_until, entered_at, ended_at, state, updated_at)
     SELECT x.id, $1, x.journey, x.version, x.profile_id, x.key, x.status, x.step, x.due_at, x.goal_until,
       x.entered_at, x.ended_at, x.state, $2
     FROM jsonb_to_recordset($3::jsonb) AS x(id uuid, journey text, version int, profile_id uuid, key text,
       status text, step text, due_at timestamptz, goal_until timestamptz, entered_at timestamptz,
       ended_at timestamptz, state jsonb)
     ON CONFLICT (id) DO UPDATE SET profile_id = excluded.profile_id, status = excluded.status,
       step = excluded.step, due_at = excluded.due_at, goal_until = excluded.goal_until,
       ended_at = excluded.ended_at, state = excluded.state, updated_at = excluded.updated_at`,
    [
      workspaceId,
      now,
      JSON.stringify(
        [...latest.values()].map((i) => ({
          id: i.id,
          journey: i.journey,
          version: i.version,
          profile_id: i.profileId,
          key: i.key,
          status: i.status,
          step: i.step,
          due_at: i.dueAt,
          goal_until: i.goalUntil,
          entered_at: i.enteredAt,
          ended_at: i.endedAt,
          state: {
            waiting: i.waiting,
            context: i.context,
            endReason: i.endReason,
            goalReachedAt: i.goalReachedAt,
            effectCount: i.effectCount,
          },
        })),
      ),
    ],
  );
  const audit = results.flatMap((r) =>
    r.audit.map((a) => ({ ...a, instance: r.instance.id, journey: r.instance.journey })),
  );
  await insertAudit(tx, workspaceId, audit);
  const effects = results.flatMap((r) =>
    r.effects.map((e) => ({
      key: e.key,
      kind: e.kind,
      instance: r.instance.id,
      journey: r.instance.journey,
      step: e.step,
      payload: { ...e, profileId: r.instance.profileId },
    })),
  );
  if (effects.length > 0) {
    await tx.query(
      `INSERT INTO outbox (workspace_id, key, kind, instance_id, journey_key, step, payload, next_attempt_at, created_at)
       SELECT $1, x.key, x.kind, x.instance, x.journey, x.step, x.payload, $2, $2
       FROM jsonb_to_recordset($3::jsonb) AS x(key text, kind text, instance uuid, journey text, step text, payload jsonb)
       ON CONFLICT (workspace_id, key) DO NOTHING`,
      [workspaceId, now, JSON.stringify(effects)],
    );
    await tx.query("SELECT pg_notify('waymark_outbox', '')");
  }
}

/** Appends audit rows (the engine's, or the outbox's delivery outcomes). */
export async function insertAudit(
  tx: PoolClient,
  workspaceId: string,
  rows: Array<AuditEntry & { instance: string; journey: string }>,
): Promise<void> {
  if (rows.length === 0) return;
  await tx.query(
    `INSERT INTO journey_audit (workspace_id, journey_key, instance_id, at, kind, step, reason, data)
     SELECT $1, x.journey, x.instance, x.at, x.kind, x.step, x.reason, x.data
     FROM jsonb_to_recordset($2::jsonb) AS x(journey text, instance uuid, at timestamptz, kind text, step text,
       reason text, data jsonb)`,
    [workspaceId, JSON.stringify(rows)],
  );
}
