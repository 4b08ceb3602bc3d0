import path from "node:path";
import pg from "pg";
import { advanceBenchmark } from "./journeys-advance.ts";
import { createJourneys } from "./journeys-data.ts";
import { startReceiver, type Receiver } from "./journeys-receiver.ts";
import { renderJourneysReport, type JourneyResults } from "./journeys-report.ts";
import { timersScenario } from "./journeys-timers.ts";
import { waitingScenario, type JourneySession } from "./journeys-waiting.ts";
import { webhooksScenario } from "./journeys-webhooks.ts";
import { createProfiles } from "./pipeline-data.ts";
import { startWaymark, stopChild } from "./processes.ts";
import { describeMachine, writeSection } from "./report.ts";

/**
 * The journey benchmarks of `npm run bench` (issue 5), after the other suites, on a data dir of their
 * own: `advance` (the pure engine in this process), then, on one server (`waymark start --role all`
 * with outbound webhooks to 127.0.0.1 allowed) and in this order on one database, `waiting` (a million
 * waiting instances: disk, and a worker's memory), `timers` (timers due in the same second) and
 * `webhooks` (event to webhook at a steady rate). Each beside a baseline measured in the same run.
 */

export const JOURNEY_SCENARIOS = ["advance", "waiting", "timers", "webhooks"];

export interface JourneyConfig {
  /** Measured seconds of each `advance` loop (after a second of warm-up). */
  advanceSeconds: number;
  /** Waiting instances of benchmark 2. */
  waiting: number;
  /** How long each worker process runs beside them. */
  workerSeconds: number;
  /** Timers due in the same second. */
  timers: number;
  /** Live instances in the hold, and the event rate and duration of benchmark 4. */
  live: number;
  rate: number;
  seconds: number;
  warmupSeconds: number;
  drainSeconds: number;
}

export function readJourneyConfig(env: NodeJS.ProcessEnv, common: { drainSeconds: number }): JourneyConfig {
  const n = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number (got ${raw})`);
    return v;
  };
  return {
    advanceSeconds: n("BENCH_JOURNEYS_ADVANCE_SECONDS", 3),
    waiting: Math.round(n("BENCH_JOURNEYS_WAITING", 1_000_000)),
    workerSeconds: n("BENCH_JOURNEYS_WORKER_SECONDS", 30),
    timers: Math.round(n("BENCH_JOURNEYS_TIMERS", 10_000)),
    live: Math.round(n("BENCH_JOURNEYS_LIVE", 100_000)),
    rate: n("BENCH_JOURNEYS_RATE", 500),
    seconds: n("BENCH_JOURNEYS_SECONDS", 20),
    warmupSeconds: 3,
    drainSeconds: common.drainSeconds,
  };
}

/** An upper bound for the suite, for the benchmark's time limit (generous: a busy machine). */
export function journeysTimeLimitMs(c: JourneyConfig, scenarios: Set<string>): number {
  let s = 0;
  if (scenarios.has("advance")) s += 30 + 6 * (c.advanceSeconds + 1);
  if (["waiting", "timers", "webhooks"].some((k) => scenarios.has(k))) s += 120 + c.live / 2000;
  if (scenarios.has("waiting")) s += 2 * (c.workerSeconds + 30) + c.waiting / 2000 + 120;
  if (scenarios.has("timers")) s += 60 + c.timers / 200 + 120;
  if (scenarios.has("webhooks")) {
    s += 60 + c.live / 2000 + 2 * (c.warmupSeconds + c.seconds + 2 * c.drainSeconds + 30);
  }
  return s * 1000;
}

/** Runs the selected scenarios; returns the report (markdown), or null when none was selected. */
export async function runJourneySuite(o: {
  tmp: string;
  scenarios: Set<string>;
  config: JourneyConfig;
  nodeArgs: string[];
  log: (line: string) => void;
  /** Where to write the section, when every scenario of the suite ran (null: do not write). */
  readme: string | null;
}): Promise<string | null> {
  const selected = JOURNEY_SCENARIOS.filter((k) => o.scenarios.has(k));
  if (selected.length === 0) return null;
  const c = o.config;
  const results: JourneyResults = {
    machine: { ...describeMachine(), postgres: "", settings: "" },
    config: c,
  };
  const attempt = async <T>(name: string, run: () => Promise<T>): Promise<{ ok: T } | { error: string }> => {
    try {
      return { ok: await run() };
    } catch (err) {
      o.log(`${name} failed: ${(err as Error).stack ?? String(err)}`);
      return { error: (err as Error).message };
    }
  };

  if (o.scenarios.has("advance")) {
    o.log(`advance: the engine in this process, ${c.advanceSeconds} s per loop`);
    results.advance = await attempt("advance", async () =>
      advanceBenchmark({ seconds: c.advanceSeconds, warmupSeconds: 1 }),
    );
  }

  const onServer = selected.filter((k) => k !== "advance");
  if (onServer.length > 0) {
    let receiver: Receiver | undefined;
    let session: JourneySession | undefined;
    try {
      receiver = await startReceiver();
      const dataDir = path.join(o.tmp, "journeys-data");
      o.log(`starting waymark --role all (data in ${dataDir})`);
      const server = await startWaymark(dataDir, {
        role: "all",
        nodeArgs: o.nodeArgs,
        env: { WAYMARK_OUTBOUND_ALLOW: "127.0.0.1" },
      });
      const db = new pg.Client({ connectionString: server.databaseUrl, application_name: "waymark-bench" });
      db.on("error", () => undefined); // lost when the server stops; queries then fail and say so
      await db.connect();
      session = { server, db, workspaceId: "", templates: {}, tmp: o.tmp, nodeArgs: o.nodeArgs, log: o.log };
      const s = session;
      await describePostgres(db, results);
      const { rows } = await db.query<{ id: string }>(
        "SELECT id FROM workspaces ORDER BY created_at LIMIT 1",
      );
      s.workspaceId = rows[0]!.id;
      o.log("journeys: saving and publishing through the API, one instance of each through the pipeline");
      s.templates = await createJourneys(server, db, s.workspaceId, receiver.url);
      // People with profiles (reader_0, reader_1, ...): the timers' and the hold's, then the
      // webhook baseline's, who have no instance.
      const perRun = Math.ceil(c.rate * (c.seconds + c.warmupSeconds)) + 64;
      const baselineFrom = Math.max(c.live, c.timers);
      const people = baselineFrom + perRun;
      if (o.scenarios.has("timers") || o.scenarios.has("webhooks")) {
        o.log(`creating ${people.toLocaleString("en-US")} profiles with SQL`);
        await createProfiles(db, s.workspaceId, people, () => undefined);
      }
      const r = receiver;
      if (o.scenarios.has("waiting")) {
        results.waiting = await attempt("waiting", () =>
          waitingScenario(s, { instances: c.waiting, workerSeconds: c.workerSeconds }),
        );
      }
      if (o.scenarios.has("timers")) {
        results.timers = await attempt("timers", () => timersScenario(s, { timers: c.timers }));
      }
      if (o.scenarios.has("webhooks")) {
        results.webhooks = await attempt("webhooks", () =>
          webhooksScenario(s, r, {
            live: c.live,
            rate: c.rate,
            seconds: c.seconds,
            warmupSeconds: c.warmupSeconds,
            drainSeconds: c.drainSeconds,
            baselineFrom,
          }),
        );
      }
    } catch (err) {
      o.log(`journey benchmarks failed: ${(err as Error).stack ?? String(err)}`);
      const error = { error: (err as Error).message };
      for (const k of onServer) {
        const key = k as "waiting" | "timers" | "webhooks";
        results[key] ??= error;
      }
    } finally {
      if (session) {
        await session.db.end().catch(() => undefined);
        await stopChild(session.server.pid);
        for (let i = 0; i < 100 && isAlive(session.server.postmasterPid); i++) await sleep(100);
      }
      await receiver?.close();
    }
  }

  const report = renderJourneysReport(results);
  if (o.readme && selected.length === JOURNEY_SCENARIOS.length) {
    await writeSection(o.readme, "journeys-results", report);
    o.log(`journey results written to ${path.relative(process.cwd(), o.readme)}`);
  }
  return report;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function describePostgres(db: pg.Client, results: JourneyResults): Promise<void> {
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
