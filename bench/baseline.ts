import { randomUUID } from "node:crypto";
import pg from "pg";
import type { EventFactory } from "./events.ts";

/**
 * The PostgreSQL baseline: the same event rows inserted straight into PostgreSQL, no HTTP and no
 * Waymark code, as multi-row INSERTs from concurrent connections, each statement its own commit.
 * The rows go to `bench_events`, a copy of `events` (same columns, keys, indexes, monthly range
 * partitions), so the log the HTTP scenarios are checked against stays untouched.
 */

export const BASELINE_TABLE = "bench_events";
const COLUMNS = 10;

export interface BaselineOptions {
  /** One per concurrent writer, from `openConnections`. */
  clients: pg.Client[];
  factory: EventFactory;
  rowsPerStatement: number;
  seconds: number;
}

export interface BaselineResult {
  seconds: number;
  statements: number;
  /** Rows the committed statements reported inserted. */
  inserted: number;
  /** Statement latencies in ms, sorted ascending. */
  latencies: Float64Array;
  failures: Record<string, number>;
}

/** Creates `bench_events` like `events`, with a partition for this month and the next. */
export async function createBaselineTable(client: pg.ClientBase): Promise<void> {
  await client.query(
    `CREATE TABLE ${BASELINE_TABLE} (LIKE events INCLUDING ALL) PARTITION BY RANGE (received_at)`,
  );
  for (const offset of [0, 1]) {
    const { rows } = await client.query<{ name: string; from: string; to: string }>(
      `SELECT to_char(m, 'YYYY_MM') AS name, m::text AS from, (m + interval '1 month')::text AS to
       FROM date_trunc('month', now() + make_interval(months => $1)) AS m`,
      [offset],
    );
    const p = rows[0]!;
    await client.query(
      `CREATE TABLE ${BASELINE_TABLE}_${p.name} PARTITION OF ${BASELINE_TABLE}
       FOR VALUES FROM ('${p.from}') TO ('${p.to}')`,
    );
  }
}

/**
 * Connections for the baseline, opened once for warm-up and measured run alike: their backends stay
 * alive through the measurement, so their CPU is counted while it is spent.
 */
export function openConnections(databaseUrl: string, count: number): Promise<pg.Client[]> {
  return Promise.all(
    Array.from({ length: count }, async () => {
      const c = new pg.Client({ connectionString: databaseUrl, application_name: "waymark-bench" });
      // A connection lost mid-run (the server stopped on Ctrl-C) fails its query; it must not crash us.
      c.on("error", () => undefined);
      await c.connect();
      return c;
    }),
  );
}

export async function runBaseline(o: BaselineOptions): Promise<BaselineResult> {
  const workspaceId = randomUUID();
  const placeholders = Array.from({ length: o.rowsPerStatement }, (_, r) => {
    const b = r * COLUMNS;
    return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6}, $${b + 7}, $${b + 8}, $${b + 9}, $${b + 10})`;
  }).join(", ");
  // A named statement: parsed and planned once per connection, as a tuned client would do.
  const insert = {
    name: "bench_insert",
    text: `INSERT INTO ${BASELINE_TABLE} (workspace_id, seq, message_id, type, user_id, anonymous_id, event, "timestamp", received_at, message) VALUES ${placeholders}`,
  };
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let seq = 0;
  let statements = 0;
  let inserted = 0;
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  await Promise.all(
    o.clients.map(async (client) => {
      while (performance.now() < deadline) {
        const now = new Date().toISOString();
        const values: unknown[] = [];
        for (let i = 0; i < o.rowsPerStatement; i++) {
          const row = o.factory.row(now);
          values.push(
            workspaceId,
            ++seq,
            row.messageId,
            "track",
            row.userId,
            row.anonymousId,
            row.event,
            row.timestamp,
            now,
            row.message,
          );
        }
        const t0 = performance.now();
        try {
          const res = await client.query({ ...insert, values });
          latencies.push(performance.now() - t0);
          statements++;
          inserted += res.rowCount ?? 0;
        } catch (err) {
          const code = (err as { code?: string }).code ?? (err as Error).message;
          failures[code] = (failures[code] ?? 0) + 1;
        }
      }
    }),
  );
  return {
    seconds: (performance.now() - started) / 1000,
    statements,
    inserted,
    latencies: Float64Array.from(latencies).sort(),
    failures,
  };
}
