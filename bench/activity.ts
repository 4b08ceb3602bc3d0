import type pg from "pg";

/**
 * A sampling profiler of the server's PostgreSQL connections: every `everyMs`, what each of Waymark's
 * connections (application_name `waymark`) is doing, from pg_stat_activity. A connection `active` in
 * a statement is PostgreSQL working, or `waiting` (a lock, I/O, the WAL: its wait event); `idle in
 * transaction` is the Node process working (or a round trip) between two statements of one
 * transaction, labelled with the statement before. Autovacuum workers are listed too. Shares of
 * samples say where the pipeline's time goes without touching src/.
 */

export interface ActivityShare {
  /** `active: SELECT ... FROM pipeline_queue`, `idle in tx after: INSERT INTO identities`, `lock wait: ...`. */
  label: string;
  /** Average number of connections in this state over the run (1 = one connection all the time). */
  connections: number;
}

export interface ActivityProfile {
  samples: number;
  /** Busiest first. */
  shares: ActivityShare[];
  /** Average connections busy (active or in a transaction) over the run. */
  busy: number;
}

/** A statement's first words, whitespace collapsed, long enough to tell the pipeline's statements apart. */
export function statementLabel(query: string): string {
  const q = query.replace(/\s+/g, " ").trim();
  const from = / FROM ([a-z_]+)/i.exec(q)?.[1];
  const head = q.slice(0, 48);
  return from && !head.includes(` FROM ${from}`) ? `${head}… FROM ${from}` : q.slice(0, 64);
}

export function sampleActivity(db: pg.Client, everyMs = 100): { stop(): Promise<ActivityProfile> } {
  const counts = new Map<string, number>();
  let samples = 0;
  let busy = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const { rows } = await db.query<{
          state: string;
          query: string;
          wait: string | null;
          vacuum: boolean;
        }>(
          `SELECT state, query, wait_event_type || ':' || wait_event AS wait,
                  backend_type = 'autovacuum worker' AS vacuum
           FROM pg_stat_activity
           WHERE (application_name = 'waymark' AND state IN ('active', 'idle in transaction'))
              OR backend_type = 'autovacuum worker'`,
        );
        samples++;
        for (const r of rows) {
          const what = statementLabel(r.query);
          if (!r.vacuum) busy++;
          const label = r.vacuum
            ? `${what}${r.wait ? ` (waiting ${r.wait})` : ""}`
            : r.state === "active"
              ? r.wait
                ? `waiting ${r.wait}: ${what}`
                : `active: ${what}`
              : `idle in tx after: ${what}`;
          counts.set(label, (counts.get(label) ?? 0) + 1);
        }
      } catch {
        // the database is going away at the end of a run; what was sampled stands
      }
      await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (performance.now() - t0))));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const shares = [...counts]
        .map(([label, n]) => ({ label, connections: samples ? n / samples : 0 }))
        .sort((a, b) => b.connections - a.connections);
      return { samples, shares, busy: samples ? busy / samples : 0 };
    },
  };
}
