import type { Pool } from "pg";
import { ALL_UNITS } from "./core/partition.ts";

/**
 * Leases on pipeline units, in PostgreSQL. A worker heartbeats, renews what it holds, and takes free
 * or expired units up to its fair share; a worker killed with -9 stops renewing and its units expire.
 */
export class Leases {
  constructor(
    private readonly pool: Pool,
    readonly owner: string,
    private readonly ttlMs: number,
  ) {}

  /** Heartbeat, renew, and rebalance; returns the units this worker holds now. */
  async refresh(share: (workers: number) => number): Promise<string[]> {
    const ttl = `${this.ttlMs} milliseconds`;
    await this.pool.query(
      `INSERT INTO pipeline_workers (owner, expires_at) VALUES ($1, now() + $2::interval)
       ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at`,
      [this.owner, ttl],
    );
    const { rows: w } = await this.pool.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pipeline_workers WHERE expires_at > now()",
    );
    const limit = share(w[0]!.n);
    const held = (
      await this.pool.query<{ unit: string }>(
        `UPDATE pipeline_leases SET expires_at = now() + $2::interval
         WHERE owner = $1 AND expires_at > now() RETURNING unit`,
        [this.owner, ttl],
      )
    ).rows.map((r) => r.unit);
    if (held.length > limit) {
      const extra = held.sort().slice(limit);
      await this.pool.query("DELETE FROM pipeline_leases WHERE owner = $1 AND unit = ANY($2)", [
        this.owner,
        extra,
      ]);
      return held.slice(0, limit);
    }
    if (held.length < limit) {
      const taken = await this.pool.query<{ unit: string }>(
        `WITH free AS (
           SELECT u FROM unnest($3::text[]) AS u
           WHERE NOT EXISTS (SELECT 1 FROM pipeline_leases l WHERE l.unit = u AND l.expires_at > now())
           ORDER BY random() LIMIT $4)
         INSERT INTO pipeline_leases (unit, owner, expires_at)
         SELECT u, $1, now() + $2::interval FROM free
         ON CONFLICT (unit) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
           WHERE pipeline_leases.expires_at <= now()
         RETURNING unit`,
        [this.owner, ttl, ALL_UNITS, limit - held.length],
      );
      held.push(...taken.rows.map((r) => r.unit));
    }
    return held;
  }

  /** Gives everything up at once (clean shutdown), so others need not wait for expiry. */
  async release(): Promise<void> {
    await this.pool.query("DELETE FROM pipeline_leases WHERE owner = $1", [this.owner]);
    await this.pool.query("DELETE FROM pipeline_workers WHERE owner = $1", [this.owner]);
  }
}
