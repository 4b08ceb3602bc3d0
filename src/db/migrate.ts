import { readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Pool } from "pg";

const migrationsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "migrations");

/** Any fixed number: all Waymark processes take the same advisory lock while migrating. */
const MIGRATION_LOCK = 727_001;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The migrations shipped with this build, in order (`migrations/0001_name.sql`). */
export async function loadMigrations(): Promise<Migration[]> {
  const files = (await readdir(migrationsDir)).filter((f) => /^\d{4}_.+\.sql$/.test(f)).sort();
  return Promise.all(
    files.map(async (file) => ({
      version: Number(file.slice(0, 4)),
      name: file.replace(/\.sql$/, ""),
      sql: await readFile(path.join(migrationsDir, file), "utf8"),
    })),
  );
}

/**
 * Applies the pending migrations, each in its own transaction, under a session advisory lock so two
 * processes starting at once apply each migration exactly once. Returns the names applied.
 */
export async function migrate(pool: Pool): Promise<string[]> {
  const migrations = await loadMigrations();
  const client = await pool.connect();
  const applied: string[] = [];
  try {
    await client.query("SELECT pg_advisory_lock($1)", [MIGRATION_LOCK]);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const done = new Set(
      (await client.query<{ version: number }>("SELECT version FROM schema_migrations")).rows.map(
        (r) => r.version,
      ),
    );
    for (const m of migrations) {
      if (done.has(m.version)) continue;
      await client.query("BEGIN");
      try {
        await client.query(m.sql);
        await client.query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", [
          m.version,
          m.name,
        ]);
        await client.query("COMMIT");
      } catch (err) {
        await client.query("ROLLBACK");
        throw new Error(`migration ${m.name} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(m.name);
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1)", [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  return applied;
}

let latestShipped: Promise<number> | undefined;

/** True when every shipped migration is applied (what `/ready` needs). */
export async function isMigrated(pool: Pool): Promise<boolean> {
  latestShipped ??= loadMigrations().then((m) => m.at(-1)?.version ?? 0);
  const latest = await latestShipped;
  const { rows } = await pool.query<{ max: number | null }>(
    "SELECT max(version) AS max FROM schema_migrations",
  );
  return (rows[0]?.max ?? 0) >= latest;
}
