import path from "node:path";
import pg from "pg";
import { lagScenario, throughputScenario, type Session } from "./pipeline-bench.ts";
import { waitForDrain } from "./pipeline.ts";
import { population } from "./pipeline-data.ts";
import { preparePgStatements } from "./pg-statements.ts";
import { renderPipelineReport, type SuiteResults } from "./pipeline-report.ts";
import { profileReadsScenario } from "./profiles-bench.ts";
import { startWaymark, stopChild } from "./processes.ts";
import { describeMachine, writeSection } from "./report.ts";

/**
 * The event pipeline and profile benchmarks of `npm run bench` (issue 4, section 5), run after the
 * ingestion scenarios on a data dir of their own: `pipeline` (throughput from the log to applied
 * profiles), `lag` (lag while ingesting at a steady rate), `profiles` (reads at a million profiles).
 * They share one database in that order: the lag run's senders are the throughput run's people, and
 * the reads count the profiles already there. Each scenario starts the server in the role it needs
 * (`api` to load the log with no pipeline running, `all` otherwise) on the same data dir.
 */

export const PIPELINE_SCENARIOS = ["pipeline", "lag", "profiles"];

export interface SuiteConfig {
  events: number;
  /** BENCH_PIPELINE_MERGES=0: nobody logs in on a second device (no merges), for comparison. */
  merges: boolean;
  limitSeconds: number;
  lagSeconds: number;
  lagWarmupSeconds: number;
  lagEventsPerSecond: number;
  profiles: number;
  readClients: number[];
  /** Open-loop read rates (reads/s), BENCH_READ_RATES. */
  readRates: number[];
  readSeconds: number;
  readWarmupSeconds: number;
  drainSeconds: number;
  /** BENCH_PG_STATEMENTS=1: load pg_stat_statements and report PostgreSQL's time per statement. */
  pgStatements: boolean;
}

export function readSuiteConfig(
  env: NodeJS.ProcessEnv,
  common: { seconds: number; warmupSeconds: number; drainSeconds: number },
): SuiteConfig {
  const n = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number (got ${raw})`);
    return v;
  };
  return {
    events: n("BENCH_PIPELINE_EVENTS", 1_000_000),
    merges: env.BENCH_PIPELINE_MERGES !== "0",
    limitSeconds: n("BENCH_PIPELINE_LIMIT_SECONDS", 600),
    lagSeconds: n("BENCH_LAG_SECONDS", 30),
    lagWarmupSeconds: n("BENCH_LAG_WARMUP_SECONDS", 10),
    lagEventsPerSecond: n("BENCH_LAG_EVENTS_PER_SECOND", 2000),
    profiles: n("BENCH_PROFILES", 1_000_000),
    readClients: (env.BENCH_READ_CLIENTS || "1,16").split(",").map((v) => {
      const c = Number(v);
      if (!Number.isInteger(c) || c <= 0)
        throw new Error(`BENCH_READ_CLIENTS must list client counts (got ${v})`);
      return c;
    }),
    readRates: (env.BENCH_READ_RATES ?? "1000")
      .split(",")
      .filter((v) => v !== "")
      .map((v) => {
        const r = Number(v);
        if (!Number.isFinite(r) || r <= 0) throw new Error(`BENCH_READ_RATES must list reads/s (got ${v})`);
        return r;
      }),
    readSeconds: common.seconds,
    readWarmupSeconds: common.warmupSeconds,
    drainSeconds: common.drainSeconds,
    pgStatements: env.BENCH_PG_STATEMENTS === "1",
  };
}

/** An upper bound for the whole suite, for the benchmark's time limit (generous: a busy machine). */
export function suiteTimeLimitMs(c: SuiteConfig, scenarios: Set<string>): number {
  let s = 0;
  if (scenarios.has("pipeline")) s += 120 + c.events / 2000 + c.limitSeconds;
  if (scenarios.has("lag")) s += 120 + c.lagWarmupSeconds + c.lagSeconds + 30 + 2 * c.drainSeconds;
  if (scenarios.has("profiles")) {
    s +=
      120 +
      c.profiles / 2000 +
      2 * (c.readClients.length + c.readRates.length) * (c.readSeconds + c.readWarmupSeconds) +
      60;
  }
  return s * 1000;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Runs the selected scenarios; returns the report (markdown), or null when none was selected. */
export async function runPipelineSuite(o: {
  tmp: string;
  scenarios: Set<string>;
  config: SuiteConfig;
  nodeArgs: string[];
  log: (line: string) => void;
  /** Where to write the section, when every scenario of the suite ran (null: do not write). */
  readme: string | null;
}): Promise<string | null> {
  const selected = PIPELINE_SCENARIOS.filter((k) => o.scenarios.has(k));
  if (selected.length === 0) return null;
  const c = o.config;
  let dataDir = path.join(o.tmp, "pipeline-data");
  let session: Session | undefined;

  const stop = async () => {
    if (!session) return;
    const { db, server } = session;
    session = undefined;
    await db.end().catch(() => undefined);
    await stopChild(server.pid);
    // The server stops its PostgreSQL before it exits; wait for the postmaster all the same.
    for (let i = 0; i < 100 && isAlive(server.postmasterPid); i++) await sleep(100);
  };
  const use = async (role: "api" | "all"): Promise<Session> => {
    if (session?.role === role) return session;
    await stop();
    o.log(`starting waymark --role ${role} (data in ${dataDir})`);
    let server = await startWaymark(dataDir, { role, nodeArgs: o.nodeArgs });
    let db = await connect(server.databaseUrl);
    if (c.pgStatements && !(await preparePgStatements(db))) {
      o.log("restarting to load pg_stat_statements");
      await db.end();
      await stopChild(server.pid);
      for (let i = 0; i < 100 && isAlive(server.postmasterPid); i++) await sleep(100);
      server = await startWaymark(dataDir, { role, nodeArgs: o.nodeArgs });
      db = await connect(server.databaseUrl);
      if (!(await preparePgStatements(db))) throw new Error("pg_stat_statements did not load");
    }
    const { rows } = await db.query<{ id: string }>("SELECT id FROM workspaces ORDER BY created_at LIMIT 1");
    session = {
      server,
      role,
      db,
      workspaceId: rows[0]!.id,
      tmp: o.tmp,
      nodeArgs: o.nodeArgs,
      log: o.log,
      pgStatements: c.pgStatements,
    };
    return session;
  };
  const attempt = async <T>(name: string, run: () => Promise<T>): Promise<{ ok: T } | { error: string }> => {
    try {
      return { ok: await run() };
    } catch (err) {
      o.log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
      return { error: (err as Error).message };
    }
  };

  const results: SuiteResults = { machine: { ...describeMachine(), postgres: "", settings: "" } };
  try {
    if (o.scenarios.has("pipeline")) {
      results.throughput = await attempt("pipeline throughput", async () => {
        const s = await use("api");
        await describePostgres(s.db, results);
        return throughputScenario(s, { events: c.events, merges: c.merges, limitSeconds: c.limitSeconds });
      });
    }
    if (o.scenarios.has("lag")) {
      results.lag = await attempt("lag", async () => {
        const throughput = results.throughput;
        const finished = !throughput || ("ok" in throughput && throughput.ok.appliedSeconds !== null);
        if (!finished) dataDir = path.join(o.tmp, "pipeline-data-fresh");
        let s = await use("all");
        await describePostgres(s.db, results);
        // A throughput run stopped at its time limit leaves a backlog that would be applied during
        // this run: measure on a fresh database instead.
        let freshDatabase = !finished;
        if (finished && (await waitForDrain(s.server.url, s.server.adminToken, c.drainSeconds)) === null) {
          o.log("the pipeline still has a backlog: the lag scenario runs on a fresh database");
          await stop();
          dataDir = path.join(o.tmp, "pipeline-data-fresh");
          s = await use("all");
          freshDatabase = true;
        }
        const rate = c.lagEventsPerSecond;
        const lag = await lagScenario(
          s,
          {
            seconds: c.lagSeconds,
            warmupSeconds: c.lagWarmupSeconds,
            requestsPerSecond: rate / 10,
            eventsPerRequest: 10,
            probeEvery: 10,
            people: population(c.events).people,
            merges: c.merges,
          },
          c.drainSeconds,
        );
        return { ...lag, freshDatabase, warmupSeconds: c.lagWarmupSeconds };
      });
    }
    if (o.scenarios.has("profiles")) {
      results.reads = await attempt("profile reads", async () => {
        const role = session?.role === "api" ? "api" : "all";
        // On a server started for the reads, as the journey and messaging suites start theirs: the
        // one that just ingested the lag run's events carries an old generation full of their garbage,
        // whose first full collection (both cores, 100 ms and more) otherwise lands among the reads.
        await stop();
        const s = await use(role);
        await describePostgres(s.db, results);
        const reads = await profileReadsScenario(s, {
          profiles: c.profiles,
          clients: c.readClients,
          rates: c.readRates,
          seconds: c.readSeconds,
          warmupSeconds: c.readWarmupSeconds,
        });
        return { ...reads, warmupSeconds: c.readWarmupSeconds };
      });
    }
  } finally {
    await stop();
  }

  const report = renderPipelineReport(results);
  if (o.readme && selected.length === PIPELINE_SCENARIOS.length) {
    await writeSection(o.readme, "pipeline-results", report);
    o.log(`pipeline results written to ${path.relative(process.cwd(), o.readme)}`);
  }
  return report;
}

async function connect(url: string): Promise<pg.Client> {
  const db = new pg.Client({ connectionString: url, application_name: "waymark-bench" });
  db.on("error", () => undefined); // lost when the server stops; queries then fail and say so
  await db.connect();
  return db;
}

async function describePostgres(db: pg.Client, results: SuiteResults): Promise<void> {
  if (results.machine.postgres) return;
  const { rows } = await db.query<{ version: string; settings: string }>(
    `SELECT current_setting('server_version') AS version,
            format('fsync=%s, synchronous_commit=%s, shared_buffers=%s, max_connections=%s',
                   current_setting('fsync'), current_setting('synchronous_commit'),
                   current_setting('shared_buffers'), current_setting('max_connections')) AS settings`,
  );
  results.machine.postgres = rows[0]!.version;
  results.machine.settings = rows[0]!.settings;
}

function isAlive(pid: number): boolean {
  if (pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
