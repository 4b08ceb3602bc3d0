import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Pool } from "pg";
import { withTx } from "../db/index.ts";
import { createWorkspace, type WorkspaceKeys } from "../workspaces/index.ts";

export interface Credentials {
  workspaceId: string;
  writeKey: string;
  adminToken: string;
  apiUrl: string;
}

export function credentialsPath(dataDir: string): string {
  return path.join(dataDir, "credentials.json");
}

/**
 * First start: when the database has no workspace yet, create "default" and write its keys to
 * `<dataDir>/credentials.json` (0600). Two processes starting at once create one workspace.
 * Returns the keys when this call created them.
 */
export async function bootstrapWorkspace(
  pool: Pool,
  dataDir: string,
  apiUrl: string,
): Promise<WorkspaceKeys | null> {
  const keys = await withTx(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('waymark.bootstrap'))");
    const { rows } = await client.query("SELECT 1 FROM workspaces LIMIT 1");
    return rows.length === 0 ? createWorkspace(client, "default") : null;
  });
  if (keys) await writeCredentials(dataDir, keys, apiUrl);
  return keys;
}

export async function writeCredentials(
  dataDir: string,
  keys: WorkspaceKeys,
  apiUrl: string,
): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const file = credentialsPath(dataDir);
  const body: Credentials = {
    workspaceId: keys.workspaceId,
    writeKey: keys.writeKey,
    adminToken: keys.adminToken,
    apiUrl,
  };
  await writeFile(file, JSON.stringify(body, null, 2) + "\n", { mode: 0o600 });
  return file;
}

/**
 * Keeps credentials.json's apiUrl true when the server starts on another port or public URL.
 * Returns false when there is no credentials file.
 */
export async function refreshApiUrl(dataDir: string, apiUrl: string): Promise<boolean> {
  const file = credentialsPath(dataDir);
  if (!existsSync(file)) return false;
  const credentials = JSON.parse(await readFile(file, "utf8")) as Credentials;
  if (credentials.apiUrl !== apiUrl) {
    await writeFile(file, JSON.stringify({ ...credentials, apiUrl }, null, 2) + "\n", { mode: 0o600 });
  }
  return true;
}
