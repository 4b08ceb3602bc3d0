import type { Pool } from "pg";

/** Events queued between two vacuums of the queue (when at least `QUEUE_VACUUM_MIN_MS` apart). */
export const QUEUE_VACUUM_EVERY_EVENTS = 50_000;
export const QUEUE_VACUUM_MIN_MS = 5_000;

/**
 * Vacuums `pipeline_queue`. Every queued event is inserted once and deleted once, so the table is
 * mostly dead rows between vacuums, and every read of it (a partition taking its next batch, the lag
 * of GET /api/v1/pipeline and /metrics) walks them. Autovacuum visits a database at most once per
 * `autovacuum_naptime` (a minute by default): at 5,000 events/s that left 300,000 dead rows and a
 * 63 MB table, where a vacuum every 50,000 events keeps it a few MB. TRUNCATE false: giving the
 * empty tail back needs a lock that would stop the partitions for a moment. A database user who does
 * not own the table gets a warning from PostgreSQL, not an error, and autovacuum still runs.
 */
export async function vacuumQueue(pool: Pool): Promise<void> {
  await pool.query("VACUUM (TRUNCATE false, SKIP_LOCKED) pipeline_queue");
}
