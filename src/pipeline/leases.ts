import type { Pool } from "pg";
import { ALL_UNITS } from "./core/partition.ts";

/**
 * Leases on pipeline units, in PostgreSQL. A worker heartbeats, renews what it holds, and takes free
 * or expired units up to its fair share; a worker killed with -9 stops renewing and its units expire.
 * The worker drives the steps (see PipelineWorker.refresh), so that it can stop working a unit before
 * it gives the unit up.
 */
export class Leases {
  private readonly ttl: string;

  constructor(
    private readonly pool: Pool,
    readonly owner: string,
    ttlMs: number,
  ) {
    this.ttl = `${ttlMs} milliseconds`;
  }

  /** Records this worker as alive for one lease lifetime; returns how many workers are alive. */
  async heartbeat(): Promise<number> {
    const { rows } = await this.pool.query<{ n: number }>(
      `WITH me AS (
         INSERT INTO pipeline_workers (owner, expires_at) VALUES ($1, now() + $2::interval)
         ON CONFLICT (owner) DO UPDATE SET expires_at = excluded.expires_at),
       gone AS (
         -- Dead workers' rows (every restart is a new owner), kept a while for inspection.
         DELETE FROM pipeline_workers WHERE expires_at < now() - interval '1 hour' AND owner <> $1)
       -- The statement's snapshot does not see its own insert: count this worker separately.
       SELECT 1 + count(*)::int AS n FROM pipeline_workers WHERE expires_at > now() AND owner <> $1`,
      [this.owner, this.ttl],
    );
    return rows[0]!.n;
  }

  /** Extends the leases this worker still holds (unexpired); returns their units. */
  async renew(): Promise<string[]> {
    const { rows } = await this.pool.query<{ unit: string }>(
      `UPDATE pipeline_leases SET expires_at = now() + $2::interval
       WHERE owner = $1 AND expires_at > now() RETURNING unit`,
      [this.owner, this.ttl],
    );
    return rows.map((r) => r.unit).sort();
  }

  /** Takes up to `count` units that nobody holds (free, or expired); returns them. */
  async take(count: number): Promise<string[]> {
    if (count <= 0) return [];
    const { rows } = await this.pool.query<{ unit: string }>(
      `WITH free AS (
         SELECT u FROM unnest($3::text[]) AS u
         WHERE NOT EXISTS (SELECT 1 FROM pipeline_leases l WHERE l.unit = u AND l.expires_at > now())
         ORDER BY random() LIMIT $4)
       -- Inserted in unit order: two workers taking overlapping units at once must wait for each
       -- other in the same order, or they deadlock on each other's uncommitted rows.
       INSERT INTO pipeline_leases (unit, owner, expires_at)
       SELECT u, $1, now() + $2::interval FROM free ORDER BY u
       ON CONFLICT (unit) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
         WHERE pipeline_leases.expires_at <= now()
       RETURNING unit`,
      [this.owner, this.ttl, ALL_UNITS, count],
    );
    return rows.map((r) => r.unit);
  }

  /** Gives these units up now, so another worker can take them without waiting for expiry. */
  async drop(units: string[]): Promise<void> {
    if (units.length === 0) return;
    await this.pool.query("DELETE FROM pipeline_leases WHERE owner = $1 AND unit = ANY($2::text[])", [
      this.owner,
      units,
    ]);
  }

  /** Gives everything up at once (clean shutdown), so others need not wait for expiry. */
  async release(): Promise<void> {
    await this.pool.query("DELETE FROM pipeline_leases WHERE owner = $1", [this.owner]);
    await this.pool.query("DELETE FROM pipeline_workers WHERE owner = $1", [this.owner]);
  }
}
