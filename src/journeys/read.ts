import type { Pool } from "pg";
import { withTx } from "../db/index.ts";
import { NotFoundError, ValidationError } from "../errors/index.ts";
import { advance } from "./engine/advance.ts";
import type { AuditKind, InstanceStatus } from "./engine/types.ts";
import type { VersionCache } from "./definitions.ts";
import { instanceOf, saveResults, type InstanceRow } from "./instances.ts";

/** An instance as the API shows it. */
export interface InstanceView {
  id: string;
  journey: string;
  version: number;
  profileId: string;
  key: string | null;
  status: InstanceStatus;
  currentStep: string | null;
  dueAt: string | null;
  enteredAt: string;
  endedAt: string | null;
  endReason: string | null;
  goalReachedAt: string | null;
  context: Record<string, unknown>;
}

export interface TimelineEntry {
  at: string;
  kind: AuditKind;
  step: string | null;
  reason: string;
  data: Record<string, unknown> | null;
}

function view(r: InstanceRow): InstanceView {
  const i = instanceOf(r);
  const context = { ...i.context };
  delete context.$collections;
  return {
    id: i.id,
    journey: i.journey,
    version: i.version,
    profileId: i.profileId,
    key: i.key,
    status: i.status,
    currentStep: i.step,
    dueAt: i.dueAt,
    enteredAt: i.enteredAt,
    endedAt: i.endedAt,
    endReason: i.endReason,
    goalReachedAt: i.goalReachedAt,
    context,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Which instances to list: those of a journey, of a person, or both. */
export interface InstanceFilter {
  /** A journey's key. */
  journey?: string | undefined;
  status?: string | undefined;
  /** Instances at this step: waiting there now, or ended there. */
  step?: string | undefined;
  /** The person known by this userId. */
  userId?: string | undefined;
  /** The person whose profile this is: a merged-away id stands for the person it was merged into. */
  profileId?: string | undefined;
  limit: number;
  /** The id of the last instance of the previous page. */
  cursor?: string | undefined;
}

/**
 * Instances, newest entry first, filtered by journey, status and person. A person is the surviving
 * profile and every profile merged into it: the journey stage moves a merged profile's instances to
 * the survivor only when it applies the merge, so for a moment they still carry the merged-away id.
 */
export async function listInstances(
  pool: Pool,
  workspaceId: string,
  filter: InstanceFilter,
): Promise<{ items: InstanceView[]; nextCursor: string | null }> {
  if (filter.cursor !== undefined && !UUID.test(filter.cursor))
    throw new ValidationError("cursor is not valid");
  if (filter.profileId !== undefined && !UUID.test(filter.profileId)) {
    throw new ValidationError("profileId must be a profile id (UUID)");
  }
  const { rows } = await pool.query<InstanceRow>(
    `WITH person AS (
       SELECT p.id FROM profiles q JOIN profiles p
         ON p.workspace_id = q.workspace_id
        AND (p.id = coalesce(q.merged_into, q.id) OR p.merged_into = coalesce(q.merged_into, q.id))
       WHERE q.workspace_id = $1 AND q.id = $4),
     user_person AS (
       SELECT p.id FROM identities u JOIN profiles p
         ON p.workspace_id = u.workspace_id AND (p.id = u.profile_id OR p.merged_into = u.profile_id)
       WHERE u.workspace_id = $1 AND u.type = 'user_id' AND u.value = $5)
     SELECT i.* FROM journey_instances i
     WHERE i.workspace_id = $1
       AND ($2::text IS NULL OR i.journey_key = $2)
       AND ($3::text IS NULL OR i.status = $3)
       AND ($4::uuid IS NULL OR i.profile_id IN (SELECT id FROM person))
       AND ($5::text IS NULL OR i.profile_id IN (SELECT id FROM user_person))
       AND ($6::uuid IS NULL OR (i.entered_at, i.id) < (SELECT entered_at, id FROM journey_instances
                                                        WHERE workspace_id = $1 AND id = $6))
       AND ($8::text IS NULL OR i.step = $8)
     ORDER BY i.entered_at DESC, i.id DESC LIMIT $7`,
    [
      workspaceId,
      filter.journey ?? null,
      filter.status ?? null,
      filter.profileId ?? null,
      filter.userId ?? null,
      filter.cursor ?? null,
      filter.limit + 1,
      filter.step ?? null,
    ],
  );
  const items = rows.slice(0, filter.limit).map(view);
  return { items, nextCursor: rows.length > filter.limit ? items.at(-1)!.id : null };
}

/** One instance with its whole timeline. */
export async function getInstance(
  pool: Pool,
  workspaceId: string,
  id: string,
): Promise<InstanceView & { timeline: TimelineEntry[] }> {
  if (!UUID.test(id)) throw new NotFoundError(`no instance ${id}`);
  const { rows } = await pool.query<InstanceRow>(
    "SELECT * FROM journey_instances WHERE workspace_id = $1 AND id = $2",
    [workspaceId, id],
  );
  if (!rows[0]) throw new NotFoundError(`no instance ${id}`);
  const audit = await pool.query<{
    at: Date;
    kind: AuditKind;
    step: string | null;
    reason: string;
    data: null;
  }>("SELECT at, kind, step, reason, data FROM journey_audit WHERE instance_id = $1 ORDER BY id", [id]);
  return {
    ...view(rows[0]),
    timeline: audit.rows.map((a) => ({
      at: a.at.toISOString(),
      kind: a.kind,
      step: a.step,
      reason: a.reason,
      data: a.data,
    })),
  };
}

/**
 * Ends running instances with a reason (one by id, or all of a journey when it is archived with
 * exitInstances). Returns how many ended.
 */
export async function exitInstances(
  pool: Pool,
  versions: VersionCache,
  workspaceId: string,
  which: { id: string } | { journey: string },
  reason: string,
  now: Date,
): Promise<number> {
  return withTx(pool, async (tx) => {
    const { rows } = await tx.query<InstanceRow>(
      "id" in which
        ? "SELECT * FROM journey_instances WHERE workspace_id = $1 AND id = $2 FOR UPDATE"
        : "SELECT * FROM journey_instances WHERE workspace_id = $1 AND journey_key = $2 AND status = 'active' FOR UPDATE",
      [workspaceId, "id" in which ? which.id : which.journey],
    );
    if ("id" in which && !rows[0]) throw new NotFoundError(`no instance ${which.id}`);
    const results = [];
    for (const r of rows) {
      if (r.status !== "active") continue;
      const version = await versions.get(tx, workspaceId, r.journey_key, r.version);
      results.push(advance(version, instanceOf(r), { kind: "exit", reason }, now));
    }
    await saveResults(tx, workspaceId, results, now);
    return results.length;
  });
}

/** Per step: entered, waiting now, completed (moved on), ended there by reason; totals and goals. */
export async function journeyStats(pool: Pool, workspaceId: string, journey: string) {
  const [audit, current, totals, order] = await Promise.all([
    pool.query<{ step: string | null; kind: string; n: string }>(
      `SELECT step, kind, count(*) AS n FROM journey_audit
       WHERE workspace_id = $1 AND journey_key = $2 AND kind IN ('step_started', 'goal_reached')
       GROUP BY step, kind`,
      [workspaceId, journey],
    ),
    pool.query<{ step: string | null; status: string; reason: string | null; n: string }>(
      `SELECT step, status, CASE WHEN status = 'active' THEN NULL ELSE state->>'endReason' END AS reason,
              count(*) AS n
       FROM journey_instances WHERE workspace_id = $1 AND journey_key = $2
       GROUP BY 1, 2, 3`,
      [workspaceId, journey],
    ),
    pool.query<{ n: string; goals: string }>(
      `SELECT count(*) AS n, count(*) FILTER (WHERE state->>'goalReachedAt' IS NOT NULL) AS goals
       FROM journey_instances WHERE workspace_id = $1 AND journey_key = $2`,
      [workspaceId, journey],
    ),
    // The published version's steps, in their order: listed with zeros before anyone reaches them.
    pool.query<{ id: string }>(
      `SELECT s->>'id' AS id
       FROM journeys j
       JOIN journey_versions v
         ON v.workspace_id = j.workspace_id AND v.journey_key = j.key AND v.version = j.published_version
       CROSS JOIN LATERAL jsonb_array_elements(v.definition->'steps') WITH ORDINALITY AS x(s, ord)
       WHERE j.workspace_id = $1 AND j.key = $2
       ORDER BY x.ord`,
      [workspaceId, journey],
    ),
  ]);
  const steps = new Map<
    string,
    { step: string; entered: number; waiting: number; completed: number; ended: Record<string, number> }
  >();
  const of = (step: string) => {
    let s = steps.get(step);
    if (!s) steps.set(step, (s = { step, entered: 0, waiting: 0, completed: 0, ended: {} }));
    return s;
  };
  for (const r of order.rows) of(r.id);
  for (const r of audit.rows) if (r.kind === "step_started" && r.step) of(r.step).entered += Number(r.n);
  const byStatus: Record<string, number> = {};
  const exitReasons: Record<string, number> = {};
  let heldOut = 0;
  for (const r of current.rows) {
    const n = Number(r.n);
    byStatus[r.status] = (byStatus[r.status] ?? 0) + n;
    if (r.status === "held_out") heldOut += n;
    else if (r.status === "active" && r.step) of(r.step).waiting += n;
    else if (r.step)
      of(r.step).ended[r.reason ?? r.status] = (of(r.step).ended[r.reason ?? r.status] ?? 0) + n;
    if (r.status === "exited" || r.status === "completed") {
      exitReasons[r.reason ?? r.status] = (exitReasons[r.reason ?? r.status] ?? 0) + n;
    }
  }
  for (const s of steps.values()) {
    s.completed = s.entered - s.waiting - Object.values(s.ended).reduce((a, b) => a + b, 0);
  }
  return {
    journey,
    totals: {
      entered: Number(totals.rows[0]?.n ?? 0),
      active: byStatus.active ?? 0,
      completed: byStatus.completed ?? 0,
      exited: byStatus.exited ?? 0,
      heldOut,
      goalReached: Number(totals.rows[0]?.goals ?? 0),
    },
    exitReasons,
    steps: [...steps.values()],
  };
}
