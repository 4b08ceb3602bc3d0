import type { Pool, PoolClient } from "pg";
import { withDefaults, type IdentityRules } from "./core/rules.ts";

type Queryable = Pick<PoolClient, "query">;

/** A workspace's effective identity rules: what it stored, over the defaults. */
export async function loadRules(db: Queryable, workspaceId: string): Promise<IdentityRules> {
  const { rows } = await db.query<{ rules: Partial<IdentityRules> }>(
    "SELECT rules FROM identity_rules WHERE workspace_id = $1",
    [workspaceId],
  );
  return withDefaults(rows[0]?.rules);
}

/**
 * Replaces a workspace's identity rules (fields left out take their defaults) and returns the
 * effective rules. They apply from stage one's next batch on: events already resolved stay as they
 * were resolved; nothing is re-resolved.
 */
export async function saveRules(
  pool: Pool,
  workspaceId: string,
  rules: IdentityRules,
): Promise<IdentityRules> {
  await pool.query(
    `INSERT INTO identity_rules (workspace_id, rules, updated_at) VALUES ($1, $2, now())
     ON CONFLICT (workspace_id) DO UPDATE SET rules = excluded.rules, updated_at = excluded.updated_at`,
    [workspaceId, JSON.stringify(rules)],
  );
  return withDefaults(rules);
}
