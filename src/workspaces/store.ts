import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Pool, PoolClient } from "pg";

export interface Workspace {
  id: string;
  name: string;
  writeKey: string;
  createdAt: string;
}

/** A new workspace's keys. The admin token is shown once: only its hash is stored. */
export interface WorkspaceKeys {
  workspaceId: string;
  name: string;
  writeKey: string;
  adminToken: string;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

type Queryable = Pool | PoolClient;

export async function createWorkspace(db: Queryable, name: string): Promise<WorkspaceKeys> {
  const keys: WorkspaceKeys = {
    workspaceId: randomUUID(),
    name,
    writeKey: randomBytes(24).toString("base64url"),
    adminToken: `wm_admin_${randomBytes(32).toString("base64url")}`,
  };
  await db.query(
    `WITH w AS (
       INSERT INTO workspaces (id, name, write_key, admin_token_hash) VALUES ($1, $2, $3, $4) RETURNING id)
     INSERT INTO event_sequences (workspace_id) SELECT id FROM w`,
    [keys.workspaceId, name, keys.writeKey, hashToken(keys.adminToken)],
  );
  return keys;
}

export async function findByWriteKey(db: Queryable, writeKey: string): Promise<Workspace | null> {
  return one(db, "write_key = $1", writeKey);
}

export async function findByAdminToken(db: Queryable, token: string): Promise<Workspace | null> {
  return one(db, "admin_token_hash = $1", hashToken(token));
}

export async function listWorkspaces(db: Queryable): Promise<Workspace[]> {
  const { rows } = await db.query<Row>(
    "SELECT id, name, write_key, created_at FROM workspaces ORDER BY created_at",
  );
  return rows.map(toWorkspace);
}

interface Row {
  id: string;
  name: string;
  write_key: string;
  created_at: Date;
}

async function one(db: Queryable, where: string, value: string): Promise<Workspace | null> {
  const { rows } = await db.query<Row>(
    `SELECT id, name, write_key, created_at FROM workspaces WHERE ${where}`,
    [value],
  );
  return rows[0] ? toWorkspace(rows[0]) : null;
}

function toWorkspace(r: Row): Workspace {
  return { id: r.id, name: r.name, writeKey: r.write_key, createdAt: r.created_at.toISOString() };
}
