import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors/index.ts";
import { journeyDefinitionSchema, type JourneyDefinition } from "./core/definition.ts";
import { validateJourney, type ValidateOptions, type Violation } from "./core/validate.ts";
import type { JourneyVersion } from "./engine/types.ts";
import { nextScheduledRun } from "./schedule.ts";

export const JOURNEY_STATUSES = ["draft", "active", "paused", "archived"] as const;
export type JourneyStatus = (typeof JOURNEY_STATUSES)[number];

/** A journey as listed: its state, not its steps. */
export interface JourneySummary {
  key: string;
  name: string;
  status: JourneyStatus;
  publishedVersion: number | null;
  draftUpdatedAt: string;
  updatedAt: string;
}

interface JourneyRow {
  key: string;
  name: string;
  status: JourneyStatus;
  draft: unknown;
  draft_updated_at: Date;
  published_version: number | null;
  updated_at: Date;
}

const summary = (r: Omit<JourneyRow, "draft">): JourneySummary => ({
  key: r.key,
  name: r.name,
  status: r.status,
  publishedVersion: r.published_version,
  draftUpdatedAt: r.draft_updated_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/**
 * What a definition may refer to in the workspace: its data tables, message templates (with their
 * channel) and topics. Plain SQL over the tables of the data-tables and messaging modules, names only.
 */
async function workspaceNames(db: Pool | PoolClient, workspaceId: string): Promise<ValidateOptions> {
  const { rows } = await db.query<{ tables: string[]; templates: Record<string, string>; topics: string[] }>(
    `SELECT ARRAY(SELECT name FROM data_tables WHERE workspace_id = $1) AS tables,
            (SELECT coalesce(jsonb_object_agg(key, channel), '{}') FROM templates WHERE workspace_id = $1) AS templates,
            ARRAY(SELECT key FROM topics WHERE workspace_id = $1) AS topics`,
    [workspaceId],
  );
  const row = rows[0]!;
  return { tables: row.tables, templates: new Map(Object.entries(row.templates)), topics: row.topics };
}

/** Validates a definition against the workspace (its data tables, templates and topics). */
export async function checkJourney(
  pool: Pool,
  workspaceId: string,
  definition: unknown,
): Promise<Violation[]> {
  return validateJourney(definition, await workspaceNames(pool, workspaceId));
}

/** Saves the draft (violations allowed: a draft is work in progress) and returns its violations. */
export async function saveDraft(
  pool: Pool,
  workspaceId: string,
  key: string,
  definition: unknown,
): Promise<{ journey: JourneySummary; violations: Violation[] }> {
  const body = definition as Record<string, unknown> | null;
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ValidationError("the journey definition must be a JSON object");
  }
  if (body.key !== undefined && body.key !== key) {
    throw new ValidationError(`key "${String(body.key)}" in the body differs from "${key}" in the URL`);
  }
  const draft = { ...body, key };
  const violations = await checkJourney(pool, workspaceId, draft);
  const name = typeof body.name === "string" && body.name ? body.name : key;
  const { rows } = await pool.query<JourneyRow>(
    `INSERT INTO journeys (workspace_id, key, name, draft) VALUES ($1, $2, $3, $4)
     ON CONFLICT (workspace_id, key) DO UPDATE
       SET name = excluded.name, draft = excluded.draft, draft_updated_at = now(), updated_at = now()
     RETURNING *`,
    [workspaceId, key, name.slice(0, 200), JSON.stringify(draft)],
  );
  return { journey: summary(rows[0]!), violations };
}

/**
 * Publishes the draft as the next immutable version and activates the journey. Publishing an active
 * journey whose draft equals its published version changes nothing (`unchanged`), rather than adding
 * an identical version.
 */
export async function publishJourney(
  pool: Pool,
  workspaceId: string,
  key: string,
  now: Date,
): Promise<{ journey: JourneySummary; version: number; unchanged: boolean } | { violations: Violation[] }> {
  return withTx(pool, async (tx) => {
    const row = await lockJourney(tx, workspaceId, key);
    if (row.status === "archived")
      throw new ConflictError(`journey ${key} is archived; it cannot be published`);
    const violations = validateJourney(row.draft, await workspaceNames(tx, workspaceId));
    if (violations.length > 0) return { violations };
    const definition: JourneyDefinition = journeyDefinitionSchema.parse(row.draft);
    if (row.status === "active" && row.published_version !== null) {
      const { rows: same } = await tx.query(
        `SELECT 1 FROM journey_versions
         WHERE workspace_id = $1 AND journey_key = $2 AND version = $3 AND definition = $4::jsonb`,
        [workspaceId, key, row.published_version, JSON.stringify(definition)],
      );
      if (same.length > 0) return { journey: summary(row), version: row.published_version, unchanged: true };
    }
    const version = (row.published_version ?? 0) + 1;
    await tx.query(
      `INSERT INTO journey_versions (workspace_id, journey_key, version, definition) VALUES ($1, $2, $3, $4)`,
      [workspaceId, key, version, JSON.stringify(definition)],
    );
    const { rows } = await tx.query<JourneyRow>(
      `UPDATE journeys SET published_version = $3, status = 'active', next_run_at = $4, updated_at = now()
       WHERE workspace_id = $1 AND key = $2 RETURNING *`,
      [workspaceId, key, version, nextScheduledRun(definition, now) ?? null],
    );
    return { journey: summary(rows[0]!), version, unchanged: false };
  });
}

async function lockJourney(tx: PoolClient, workspaceId: string, key: string): Promise<JourneyRow> {
  const { rows } = await tx.query<JourneyRow>(
    "SELECT * FROM journeys WHERE workspace_id = $1 AND key = $2 FOR UPDATE",
    [workspaceId, key],
  );
  if (!rows[0]) throw new NotFoundError(`no journey ${key}; save it first with PUT /api/v1/journeys/${key}`);
  return rows[0];
}

/** pause | resume | archive: the allowed moves between statuses. */
export async function setJourneyStatus(
  pool: Pool,
  workspaceId: string,
  key: string,
  action: "pause" | "resume" | "archive",
  now: Date,
): Promise<JourneySummary> {
  return withTx(pool, async (tx) => {
    const row = await lockJourney(tx, workspaceId, key);
    const allowed: Record<typeof action, JourneyStatus[]> = {
      pause: ["active"],
      resume: ["paused"],
      archive: ["draft", "active", "paused"],
    };
    if (!allowed[action].includes(row.status)) {
      throw new ConflictError(
        `journey ${key} is ${row.status}; ${action} needs it ${allowed[action].join(" or ")}`,
      );
    }
    const status: JourneyStatus = action === "pause" ? "paused" : action === "resume" ? "active" : "archived";
    // A resumed schedule runs at its next tick; the ticks missed while paused are not made up.
    let nextRun: Date | null = null;
    if (status === "active" && row.published_version !== null) {
      const { rows: v } = await tx.query<{ definition: JourneyDefinition }>(
        "SELECT definition FROM journey_versions WHERE workspace_id = $1 AND journey_key = $2 AND version = $3",
        [workspaceId, key, row.published_version],
      );
      nextRun = v[0] ? (nextScheduledRun(v[0].definition, now) ?? null) : null;
    }
    const { rows } = await tx.query<JourneyRow>(
      `UPDATE journeys SET status = $3, next_run_at = $4, updated_at = now()
       WHERE workspace_id = $1 AND key = $2 RETURNING *`,
      [workspaceId, key, status, nextRun],
    );
    return summary(rows[0]!);
  });
}

/** A journey as the list shows it: its summary and how many people are in it now. */
export interface JourneyListItem extends JourneySummary {
  /** Instances running now (status active), of every version. */
  activeInstances: number;
}

/** Every journey of the workspace, by key, with its running instances counted. */
export async function listJourneys(pool: Pool, workspaceId: string): Promise<JourneyListItem[]> {
  // A count per journey walks journey_instances_journey_idx over that journey's active entries only;
  // one GROUP BY over the workspace's instances would read the ended ones too (status is the index's
  // third column), and they outnumber the running ones as a journey ages.
  const { rows } = await pool.query<Omit<JourneyRow, "draft"> & { active_instances: number }>(
    `SELECT j.key, j.name, j.status, j.draft_updated_at, j.published_version, j.updated_at,
       (SELECT count(*) FROM journey_instances i
        WHERE i.workspace_id = j.workspace_id AND i.journey_key = j.key AND i.status = 'active') AS active_instances
     FROM journeys j WHERE j.workspace_id = $1 ORDER BY j.key`,
    [workspaceId],
  );
  return rows.map((r) => ({ ...summary(r), activeInstances: r.active_instances }));
}

/** A journey with its draft, the draft's violations and every published version. */
export async function getJourney(pool: Pool, workspaceId: string, key: string) {
  const { rows } = await pool.query<JourneyRow>(
    "SELECT * FROM journeys WHERE workspace_id = $1 AND key = $2",
    [workspaceId, key],
  );
  if (!rows[0]) throw new NotFoundError(`no journey ${key}`);
  const versions = await pool.query<{ version: number; definition: JourneyDefinition; published_at: Date }>(
    `SELECT version, definition, published_at FROM journey_versions
     WHERE workspace_id = $1 AND journey_key = $2 ORDER BY version DESC`,
    [workspaceId, key],
  );
  return {
    ...summary(rows[0]),
    draft: rows[0].draft,
    violations: await checkJourney(pool, workspaceId, rows[0].draft),
    versions: versions.rows.map((v) => ({
      version: v.version,
      publishedAt: v.published_at.toISOString(),
      definition: v.definition,
    })),
  };
}

/** Published versions are immutable, so a process keeps them once read. */
export class VersionCache {
  private readonly cache = new Map<string, JourneyVersion>();

  async get(
    db: Pool | PoolClient,
    workspaceId: string,
    journey: string,
    version: number,
  ): Promise<JourneyVersion> {
    const k = `${workspaceId}/${journey}/${version}`;
    const hit = this.cache.get(k);
    if (hit) return hit;
    const { rows } = await db.query<{ definition: JourneyDefinition }>(
      "SELECT definition FROM journey_versions WHERE workspace_id = $1 AND journey_key = $2 AND version = $3",
      [workspaceId, journey, version],
    );
    if (!rows[0]) throw new NotFoundError(`journey ${journey} has no version ${version}`);
    const v: JourneyVersion = { journey, version, definition: rows[0].definition };
    this.cache.set(k, v);
    return v;
  }
}

/**
 * Every published journey of the workspaces (any status: archived ones may still have instances
 * running). A workspace without any has no instances either, which the pipeline stage uses to skip it.
 */
export async function publishedJourneys(
  db: Pool | PoolClient,
  workspaceIds: string[],
): Promise<Array<{ workspaceId: string; key: string; status: JourneyStatus; version: number }>> {
  const { rows } = await db.query<{
    workspace_id: string;
    key: string;
    status: JourneyStatus;
    published_version: number;
  }>(
    `SELECT workspace_id, key, status, published_version FROM journeys
     WHERE workspace_id = ANY($1::uuid[]) AND published_version IS NOT NULL`,
    [workspaceIds],
  );
  return rows.map((r) => ({
    workspaceId: r.workspace_id,
    key: r.key,
    status: r.status,
    version: r.published_version,
  }));
}
