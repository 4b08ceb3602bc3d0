import { execFileSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { createPool, migrate, startEmbeddedPostgres, type EmbeddedDatabase } from "../../src/db/index.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** A connection string to the server's maintenance database, for CREATE DATABASE. */
    adminDatabaseUrl: string;
    /** The migrated template each test file clones. */
    templateDatabase: string;
    /** This run's build of the web app ("" when it failed: the server then serves web/dist). */
    webRoot: string;
  }
}

/**
 * Once per run: the web app built, a real PostgreSQL (DATABASE_URL, or an embedded one in a temp dir) and a template
 * database migrated once; each test file clones it (test/support/database.ts).
 */
export default async function setup(project: TestProject) {
  // The browser tests use the web app the server serves: build it from the current sources (~1 s),
  // into a folder of this run's own. Runs sharing web/dist replaced each other's hashed assets under
  // a page still loading them (a blank app). A failed build is reported here and fails `npm install`;
  // it does not stop the other test files, which then serve the last build in web/dist.
  const webRoot = await mkdtemp(path.join(os.tmpdir(), "waymark-web-"));
  try {
    execFileSync(
      process.execPath,
      [
        "node_modules/vite/bin/vite.js",
        "build",
        "--config",
        "web/vite.config.ts",
        "--outDir",
        webRoot,
        "--emptyOutDir",
        "--logLevel",
        "error",
      ],
      // vitest sets NODE_ENV=test, which Vite would pass on: React's development build, whose StrictMode
      // runs every effect twice (each page's first request doubled) and which is not what users get.
      { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, NODE_ENV: "production" } },
    );
    project.provide("webRoot", webRoot);
  } catch (err) {
    console.error(
      `The web app did not build; the browser tests run the last build:\n${(err as { stderr?: Buffer }).stderr ?? err}`,
    );
    project.provide("webRoot", "");
  }
  let embedded: EmbeddedDatabase | undefined;
  let dir: string | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    dir = await mkdtemp(path.join(os.tmpdir(), "waymark-test-"));
    embedded = await startEmbeddedPostgres(path.join(dir, "pg"));
    adminUrl = embedded.url;
  }
  const template = `waymark_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  const pool = createPool(withDatabase(adminUrl, template), 2);
  await migrate(pool);
  await pool.end();

  project.provide("adminDatabaseUrl", adminUrl);
  project.provide("templateDatabase", template);

  return async () => {
    const { rows } = await admin.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE $1",
      [`waymark_test_${process.pid}_%`],
    );
    for (const { datname } of [...rows, { datname: template }]) {
      await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    }
    await admin.end();
    await embedded?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
    await rm(webRoot, { recursive: true, force: true });
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
