import path from "node:path";
import type { Logger } from "pino";
import { createPool, startEmbeddedPostgres, type Pool } from "../db/index.ts";
import type { Config } from "./config.ts";

export interface Database {
  /** The HTTP API's connections (reads, the event writer, admin routes). */
  pool: Pool;
  /** The background workers' connections (pipeline, journey runtime, messaging); `pool` when not asked for. */
  workerPool: Pool;
  /** Closes the pools, then stops the embedded server if this process owns it. */
  close(): Promise<void>;
  /** Where the data lives, for the banner (never the password). */
  describe: string;
}

/**
 * DATABASE_URL when set; otherwise the embedded PostgreSQL in `<dataDir>/pg`. `workerPoolSize` > 0 gives
 * the background workers a pool of their own.
 */
export async function openDatabase(
  config: Config,
  log: Logger,
  poolSize = 20,
  workerPoolSize = 0,
): Promise<Database> {
  const pools = (url: string) => {
    const pool = createPool(url, poolSize);
    const workerPool = workerPoolSize > 0 ? createPool(url, workerPoolSize) : pool;
    const end = async () => {
      await pool.end();
      if (workerPool !== pool) await workerPool.end();
    };
    return { pool, workerPool, end };
  };
  if (config.databaseUrl) {
    const { pool, workerPool, end } = pools(config.databaseUrl);
    const url = new URL(config.databaseUrl);
    return { pool, workerPool, close: end, describe: `PostgreSQL at ${url.host}${url.pathname}` };
  }
  const pgDir = path.join(config.dataDir, "pg");
  const embedded = await startEmbeddedPostgres(
    pgDir,
    (line) => log.debug({ postgres: line }),
    config.postgresSettings,
  );
  const { pool, workerPool, end } = pools(embedded.url);
  return {
    pool,
    workerPool,
    close: async () => {
      await end();
      await embedded.stop();
    },
    describe: `embedded PostgreSQL in ${pgDir}${embedded.owned ? "" : " (shared with the running server)"}`,
  };
}
