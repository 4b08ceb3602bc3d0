import pg from "pg";

// bigint (int8) columns come back as strings by default; every bigint we store (sequences, counts)
// fits in a double, so read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

export function createPool(connectionString: string, max = 10): pg.Pool {
  // Idle connections are kept a minute (pg-pool closes them after 10 s by default): one opened for a
  // burst is there for the next, instead of a new backend (fork, catalog caches, prepared statements,
  // first touch of each shared-buffer page) on the request that needs it (profile-read benchmark).
  const pool = new pg.Pool({ connectionString, max, application_name: "waymark", idleTimeoutMillis: 60_000 });
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on("error", () => undefined);
  return pool;
}

/** Runs `fn` in a transaction on one client; commits when it resolves, rolls back when it throws. */
export async function withTx<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query("BEGIN");
    const result = await fn(client);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    // A failed ROLLBACK means the connection is gone: drop it instead of returning it to the pool.
    await client.query("ROLLBACK").catch(() => (broken = true));
    throw err;
  } finally {
    client.release(broken);
  }
}
