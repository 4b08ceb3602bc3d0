import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Pool } from "pg";
import { withTx } from "../db/index.ts";
import { webhookSecretOf } from "../messaging/index.ts";
import { createWorkspace, type WorkspaceKeys } from "../workspaces/index.ts";

export interface Credentials {
  workspaceId: string;
  writeKey: string;
  adminToken: string;
  apiUrl: string;
  /** The workspace's Standard Webhooks secret (whsec_...), to verify its webhooks; absent in files from before it. */
  webhookSecret?: string;
}

export function credentialsPath(dataDir: string): string {
  return path.join(dataDir, "credentials.json");
}

/**
 * First start: when the database has no workspace yet, create "default" and write its keys and
 * webhook secret to `<dataDir>/credentials.json` (0600). Two processes starting at once create one
 * workspace. Returns the keys when this call created them. A later start adds the webhook secret to
 * a credentials file written before there was one.
 */
export async function bootstrapWorkspace(
  pool: Pool,
  dataDir: string,
  apiUrl: string,
): Promise<WorkspaceKeys | null> {
  const created = await withTx(pool, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('waymark.bootstrap'))");
    const { rows } = await client.query("SELECT 1 FROM workspaces LIMIT 1");
    if (rows.length > 0) return null;
    const keys = await createWorkspace(client, "default");
    return { keys, webhookSecret: await webhookSecretOf(client, keys.workspaceId) };
  });
  if (created) {
    await writeCredentials(dataDir, created.keys, apiUrl, created.webhookSecret);
    return created.keys;
  }
  await addWebhookSecret(pool, dataDir);
  return null;
}

export async function writeCredentials(
  dataDir: string,
  keys: WorkspaceKeys,
  apiUrl: string,
  webhookSecret?: string,
): Promise<string> {
  await mkdir(dataDir, { recursive: true });
  const file = credentialsPath(dataDir);
  const body: Credentials = {
    workspaceId: keys.workspaceId,
    writeKey: keys.writeKey,
    adminToken: keys.adminToken,
    apiUrl,
    ...(webhookSecret ? { webhookSecret } : {}),
  };
  await writeFile(file, JSON.stringify(body, null, 2) + "\n", { mode: 0o600 });
  return file;
}

/** Adds the workspace's webhook secret to a credentials.json that lacks it, keeping its other fields. */
async function addWebhookSecret(pool: Pool, dataDir: string): Promise<void> {
  const file = credentialsPath(dataDir);
  if (!existsSync(file)) return;
  const credentials = JSON.parse(await readFile(file, "utf8")) as Partial<Credentials>;
  if (credentials.webhookSecret || !credentials.workspaceId) return;
  // A file naming a workspace this database does not have (or no valid id) is left as it is.
  const webhookSecret = await webhookSecretOf(pool, credentials.workspaceId).catch(() => undefined);
  if (!webhookSecret) return;
  const body = { ...credentials, webhookSecret };
  await writeFile(file, JSON.stringify(body, null, 2) + "\n", { mode: 0o600 });
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
