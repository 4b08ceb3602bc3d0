import pg from "pg";
import { inject } from "vitest";
import { createPool, type Pool } from "../../src/db/index.ts";
import { withDatabase } from "./global-setup.ts";

export interface TestDatabase {
  name: string;
  url: string;
  pool: Pool;
  drop(): Promise<void>;
}

let counter = 0;

/** A fresh database cloned from the migrated template: one per test file (or per test that needs it). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject("adminDatabaseUrl");
  const template = inject("templateDatabase");
  const runPid = template.split("_").at(-1);
  const name = `waymark_test_${runPid}_${process.pid}_${counter++}_${Date.now() % 100000}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Cloning fails while another clone of the same template is in progress: take turns.
    await admin.query("SELECT pg_advisory_lock(727002)");
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const pool = createPool(url, 10);
  return {
    name,
    url,
    pool,
    drop: async () => {
      await pool.end();
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
