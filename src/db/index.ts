export { createPool, withTx, type Pool, type PoolClient } from "./pool.ts";
export { migrate, isMigrated, loadMigrations } from "./migrate.ts";
export { serverSettings, startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded.ts";
export { PollingLoops, type LoopsOptions } from "./loops.ts";
