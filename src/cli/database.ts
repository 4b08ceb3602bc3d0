import path from "node:path";
import type { Logger } from "pino";
import { createPool, startEmbeddedPostgres, type Pool } from "../db/index.ts";
import type { Config } from "./config.ts";

export interface Database {
  pool: Pool;
  /** Closes the pool, then stops the embedded server if this process owns it. */
  close(): Promise<void>;
  /** Where the data lives, for the banner (never the password). */
  describe: string;
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL in `<dataDir>/pg`. */
export async function openDatabase(config: Config, log: Logger, poolSize = 20): Promise<Database> {
  if (config.databaseUrl) {
    const pool = createPool(config.databaseUrl, poolSize);
    const url = new URL(config.databaseUrl);
    return { pool, close: () => pool.end(), describe: `PostgreSQL at ${url.host}${url.pathname}` };
  }
  const pgDir = path.join(config.dataDir, "pg");
  const embedded = await startEmbeddedPostgres(
    pgDir,
    (line) => log.debug({ postgres: line }),
    config.postgresSettings,
  );
  const pool = createPool(embedded.url, poolSize);
  return {
    pool,
    close: async () => {
      await pool.end();
      await embedded.stop();
    },
    describe: `embedded PostgreSQL in ${pgDir}${embedded.owned ? "" : " (shared with the running server)"}`,
  };
}
