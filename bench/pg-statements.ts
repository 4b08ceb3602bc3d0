import type pg from "pg";
import { statementLabel } from "./activity.ts";

/**
 * Opt-in (BENCH_PG_STATEMENTS=1): PostgreSQL's time per statement over a run, from
 * pg_stat_statements. Loading it needs `shared_preload_libraries` and a restart, and it costs a little,
 * so the default run leaves the database as shipped.
 */

export interface StatementTime {
  label: string;
  calls: number;
  /** Total execution time, ms. */
  totalMs: number;
  meanMs: number;
  /** Mean planning time, ms (each call of an unnamed statement is planned again). */
  meanPlanMs: number;
  rows: number;
}

/** True when the library is loaded; otherwise configures it (effective after a restart) and says false. */
export async function preparePgStatements(db: pg.Client): Promise<boolean> {
  const { rows } = await db.query<{ libs: string }>(
    "SELECT current_setting('shared_preload_libraries') AS libs",
  );
  if (rows[0]!.libs.includes("pg_stat_statements")) {
    await db.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements");
    return true;
  }
  await db.query("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'");
  await db.query("ALTER SYSTEM SET pg_stat_statements.track_planning = on");
  return false;
}

export async function resetPgStatements(db: pg.Client): Promise<void> {
  await db.query("SELECT pg_stat_statements_reset()");
}

/** The statements of Waymark's connections that took the most time since the reset. */
export async function readPgStatements(db: pg.Client, top = 12): Promise<StatementTime[]> {
  const { rows } = await db.query<{
    query: string;
    calls: number;
    total: number;
    plan: number;
    rows: number;
  }>(
    `SELECT query, calls::float8 AS calls, total_exec_time AS total, total_plan_time AS plan, rows::float8 AS rows
     FROM pg_stat_statements
     WHERE query NOT ILIKE '%pg_stat_%' AND query NOT ILIKE 'EXPLAIN%'
     ORDER BY total_exec_time DESC LIMIT $1`,
    [top],
  );
  return rows.map((r) => ({
    label: statementLabel(r.query),
    calls: r.calls,
    totalMs: r.total,
    meanMs: r.calls ? r.total / r.calls : 0,
    meanPlanMs: r.calls ? r.plan / r.calls : 0,
    rows: r.rows,
  }));
}
