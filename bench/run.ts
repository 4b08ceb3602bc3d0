import { rmSync } from "node:fs";
import { chmod, mkdir, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { request } from "undici";
import {
  BASELINE_TABLE,
  createBaselineTable,
  openConnections,
  runBaseline,
  type BaselineResult,
} from "./baseline.ts";
import { EventFactory } from "./events.ts";
import {
  JOURNEY_SCENARIOS,
  journeysTimeLimitMs,
  readJourneyConfig,
  runJourneySuite,
} from "./journeys-suite.ts";
import {
  MESSAGING_SCENARIOS,
  messagingTimeLimitMs,
  readMessagingConfig,
  runMessagingSuite,
} from "./messaging-suite.ts";
import { WEB_SCENARIOS, runWebSuite } from "./web-suite.ts";
import { PIPELINE_SCENARIOS, readSuiteConfig, runPipelineSuite, suiteTimeLimitMs } from "./pipeline-suite.ts";
import { quantile, runLoad, type LoadOptions } from "./load.ts";
import { readPipeline, waitForDrain } from "./pipeline.ts";
import { readRssMb, watchUsage, type Usage, type Watched } from "./proc-stats.ts";
import {
  killAllNow,
  startNoopServer,
  startWaymark,
  stopAll,
  stopChild,
  type WaymarkServer,
} from "./processes.ts";
import {
  describeMachine,
  renderReport,
  writeSection,
  type Machine,
  type ScenarioResult,
  type WriterStats,
} from "./report.ts";

/**
 * `npm run bench`: the write path of the tracking API against PostgreSQL itself, in one run on the
 * embedded PostgreSQL. Scenarios: direct multi-row INSERTs (baseline), /v1/batch, /v1/track and a
 * no-op Fastify server. Prints the results and writes them into bench/README.md. Never fails on
 * timings: a benchmark reports. Env: BENCH_SECONDS (default 10), BENCH_WARMUP_SECONDS (default 2),
 * BENCH_WRITE_README=0 to leave the README alone, BENCH_DATA_DIR to keep the data between runs, BENCH_SCENARIOS=idle,baseline,batch,track,noop to run
 * some only, BENCH_SERVER_NODE_ARGS for node options of the server process (e.g. --cpu-prof),
 * BENCH_SERVER_ROLE=api to run the server without its event pipeline, BENCH_DRAIN_SECONDS (default
 * 30) for how long to wait for the pipeline to drain after a scenario. Then, on a data dir of their
 * own, the event pipeline and profile benchmarks (pipeline, lag, profiles: see pipeline-suite.ts),
 * whose results go to a second section of the README; then the journey benchmarks (advance, waiting,
 * timers, webhooks: see journeys-suite.ts; BENCH_JOURNEYS=0 skips them), in a third; then the
 * messaging benchmarks (msg-webhooks, msg-emails, msg-latency: see messaging-suite.ts;
 * BENCH_MESSAGING=0 skips them), in a fourth; then the web app's budgets (web-bundle, web-map, web-load:
 * see web-suite.ts; BENCH_WEB=0 skips them), in a fifth.
 */

const SECONDS = envNumber("BENCH_SECONDS", 10);
const WARMUP = envNumber("BENCH_WARMUP_SECONDS", 2);
const INGESTION_SCENARIOS = ["idle", "baseline", "batch", "track", "noop"];
const SCENARIOS = new Set(
  (
    process.env.BENCH_SCENARIOS ||
    [
      ...INGESTION_SCENARIOS,
      ...PIPELINE_SCENARIOS,
      ...JOURNEY_SCENARIOS,
      ...MESSAGING_SCENARIOS,
      ...WEB_SCENARIOS,
    ].join(",")
  ).split(","),
);
if (process.env.BENCH_JOURNEYS === "0") for (const k of JOURNEY_SCENARIOS) SCENARIOS.delete(k);
if (process.env.BENCH_MESSAGING === "0") for (const k of MESSAGING_SCENARIOS) SCENARIOS.delete(k);
if (process.env.BENCH_WEB === "0") for (const k of WEB_SCENARIOS) SCENARIOS.delete(k);
const IDLE_SECONDS = 3;
const DRAIN_SECONDS = envNumber("BENCH_DRAIN_SECONDS", 30);
const ROLE = process.env.BENCH_SERVER_ROLE || undefined;
/** The server runs the event pipeline unless it is an API-only node. */
const PIPELINE = ROLE !== "api";
const README = fileURLToPath(new URL("README.md", import.meta.url));
const BATCH_EVENTS = 100;
const BATCH_CLIENTS = 16;
const TRACK_CLIENTS = 64;
const BASELINE_CONNECTIONS = 16;
const SUITE = readSuiteConfig(process.env, {
  seconds: SECONDS,
  warmupSeconds: WARMUP,
  drainSeconds: DRAIN_SECONDS,
});
const JOURNEYS = readJourneyConfig(process.env, { drainSeconds: DRAIN_SECONDS });
const MESSAGING = readMessagingConfig(process.env, { drainSeconds: DRAIN_SECONDS });
// Start-up (initdb, migrations) and shutdown take well under a minute; past this something hangs.
const TIME_LIMIT_MS =
  (INGESTION_SCENARIOS.some((k) => SCENARIOS.has(k))
    ? (4 * (SECONDS + WARMUP) + 2 * DRAIN_SECONDS + 150) * 1000
    : 0) +
  suiteTimeLimitMs(SUITE, SCENARIOS) +
  journeysTimeLimitMs(JOURNEYS, SCENARIOS) +
  messagingTimeLimitMs(MESSAGING, SCENARIOS) +
  (WEB_SCENARIOS.some((k) => SCENARIOS.has(k)) ? 240_000 : 0);

function envNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0)
    throw new Error(`${name} must be a positive number of seconds (got ${raw})`);
  return n;
}

/** What has to be undone on the way out, whichever way that is. */
const started: { tmp?: string; db?: pg.Client; postmasterPid: number } = { postmasterPid: 0 };

async function main(): Promise<void> {
  // BENCH_DATA_DIR: data kept between runs (e.g. the million profiles of the read benchmark).
  const kept = process.env.BENCH_DATA_DIR;
  const tmp = kept ? path.resolve(kept) : await mkdtemp(path.join(os.tmpdir(), "waymark-bench-"));
  if (kept) await mkdir(tmp, { recursive: true });
  else started.tmp = tmp;
  // The embedded PostgreSQL runs as the postgres user when we are root: it must traverse this.
  await chmod(tmp, 0o755);
  try {
    if (INGESTION_SCENARIOS.some((k) => SCENARIOS.has(k))) await ingestion(tmp);
    const report = await runPipelineSuite({
      tmp,
      scenarios: SCENARIOS,
      config: SUITE,
      nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean),
      log,
      readme: process.env.BENCH_WRITE_README !== "0" ? README : null,
    });
    if (report) process.stdout.write(`\n${report}\n\n`);
    const journeys = await runJourneySuite({
      tmp,
      scenarios: SCENARIOS,
      config: JOURNEYS,
      nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean),
      log,
      readme: process.env.BENCH_WRITE_README !== "0" ? README : null,
    });
    if (journeys) process.stdout.write(`\n${journeys}\n\n`);
    const messaging = await runMessagingSuite({
      tmp,
      scenarios: SCENARIOS,
      config: MESSAGING,
      nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean),
      log,
      readme: process.env.BENCH_WRITE_README !== "0" ? README : null,
    });
    if (messaging) process.stdout.write(`\n${messaging}\n\n`);
    const web = await runWebSuite({
      tmp,
      scenarios: SCENARIOS,
      log,
      readme: process.env.BENCH_WRITE_README !== "0" ? README : null,
    });
    if (web) process.stdout.write(`\n${web}\n\n`);
  } finally {
    await cleanUp();
  }
}

/** The ingestion scenarios, on a server of their own, stopped afterwards. */
async function ingestion(tmp: string): Promise<void> {
  log(`starting waymark (data in ${tmp})`);
  const server = await startWaymark(path.join(tmp, "data"), {
    nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean),
    role: ROLE,
  });
  started.postmasterPid = server.postmasterPid;
  log(`server ${server.url} (pid ${server.pid}), PostgreSQL pid ${server.postmasterPid}`);
  const db = new pg.Client({ connectionString: server.databaseUrl, application_name: "waymark-bench" });
  started.db = db;
  db.on("error", () => undefined); // lost when the server stops; queries then fail and say so
  await db.connect();
  const machine = { ...(await describe(db)), role: ROLE ?? "all", serverIdleRssMb: readRssMb(server.pid) };
  const factory = new EventFactory();
  const results: ScenarioResult[] = [];
  const attempt = async (
    fallback: Pick<ScenarioResult, "key" | "name" | "clients">,
    run: () => Promise<ScenarioResult>,
  ) => {
    if (!SCENARIOS.has(fallback.key)) return;
    log(
      fallback.key === "idle"
        ? `${fallback.name}: ${IDLE_SECONDS} s`
        : `${fallback.name}: ${WARMUP} s warm-up, ${SECONDS} s measured`,
    );
    try {
      await settle(db);
      results.push(await run());
    } catch (err) {
      log(`${fallback.name} failed: ${(err as Error).stack ?? String(err)}`);
      results.push({ ...emptyResult(fallback), error: (err as Error).message });
    }
  };

  const idleName = "idle (no load)";
  await attempt({ key: "idle", name: idleName, clients: 0 }, () => idleScenario(server, idleName));
  const baselineName = `PostgreSQL INSERT, ${BATCH_EVENTS} rows/statement`;
  await attempt({ key: "baseline", name: baselineName, clients: BASELINE_CONNECTIONS }, () =>
    baselineScenario(db, server, factory, baselineName),
  );
  const auth = { authorization: `Basic ${Buffer.from(`${server.writeKey}:`).toString("base64")}` };
  const batchName = `/v1/batch, ${BATCH_EVENTS} events/request`;
  await attempt({ key: "batch", name: batchName, clients: BATCH_CLIENTS }, () =>
    httpScenario(db, server, {
      key: "batch",
      name: batchName,
      origin: server.url,
      path: "/v1/batch",
      clients: BATCH_CLIENTS,
      headers: auth,
      eventsPerRequest: BATCH_EVENTS,
      nextBody: () => ({
        body: factory.batch(BATCH_EVENTS, new Date().toISOString()),
        events: BATCH_EVENTS,
      }),
    }),
  );
  const trackName = "/v1/track, 1 event/request";
  await attempt({ key: "track", name: trackName, clients: TRACK_CLIENTS }, () =>
    httpScenario(db, server, {
      key: "track",
      name: trackName,
      origin: server.url,
      path: "/v1/track",
      clients: TRACK_CLIENTS,
      headers: auth,
      eventsPerRequest: 1,
      nextBody: () => ({ body: factory.track(new Date().toISOString()), events: 1 }),
    }),
  );
  const noopName = "no-op Fastify, 1 event/request";
  await attempt({ key: "noop", name: noopName, clients: TRACK_CLIENTS }, async () => {
    const noop = await startNoopServer();
    try {
      return await httpScenario(null, server, {
        key: "noop",
        name: noopName,
        origin: noop.url,
        path: "/v1/track",
        clients: TRACK_CLIENTS,
        headers: auth,
        eventsPerRequest: 1,
        serverPid: noop.pid,
        nextBody: () => ({ body: factory.track(new Date().toISOString()), events: 1 }),
      });
    } finally {
      await stopChild(noop.pid);
    }
  });

  const report = renderReport(machine, results);
  process.stdout.write(`\n${report}\n\n`);
  if (process.env.BENCH_WRITE_README !== "0" && !process.env.BENCH_SCENARIOS) {
    await writeSection(README, "results", report);
    log(`results written to ${path.relative(process.cwd(), README)}`);
  }
  // The pipeline benchmarks run alone on the machine.
  await stopServers();
}

/** Closes our connection, stops the servers (and their PostgreSQL) and removes the data. Idempotent. */
async function cleanUp(): Promise<void> {
  const { tmp } = started;
  started.tmp = undefined;
  await stopServers();
  if (tmp) await rm(tmp, { recursive: true, force: true, maxRetries: 5 });
}

/** Closes our connection and stops the servers (and their PostgreSQL). Idempotent. */
async function stopServers(): Promise<void> {
  const { db, postmasterPid } = started;
  started.db = undefined;
  await db?.end().catch(() => undefined);
  await stopAll();
  await waitForExit(postmasterPid);
}

async function describe(db: pg.Client): Promise<Omit<Machine, "role" | "serverIdleRssMb">> {
  const { rows } = await db.query<{ version: string; settings: string }>(
    `SELECT current_setting('server_version') AS version,
            format('fsync=%s, synchronous_commit=%s, shared_buffers=%s, max_connections=%s',
                   current_setting('fsync'), current_setting('synchronous_commit'),
                   current_setting('shared_buffers'), current_setting('max_connections')) AS settings`,
  );
  return {
    ...describeMachine(),
    postgres: rows[0]!.version,
    settings: rows[0]!.settings,
    seconds: SECONDS,
    warmupSeconds: WARMUP,
  };
}

/** What the server and PostgreSQL use with no load at all (the pipeline's polling, timers). */
async function idleScenario(server: WaymarkServer, name: string): Promise<ScenarioResult> {
  const watch = watchUsage({ serverPid: server.pid, postmasterPid: server.postmasterPid });
  await new Promise((r) => setTimeout(r, IDLE_SECONDS * 1000));
  return { ...emptyResult({ key: "idle", name, clients: 0 }), seconds: IDLE_SECONDS, usage: watch.stop() };
}

async function baselineScenario(
  db: pg.Client,
  server: WaymarkServer,
  factory: EventFactory,
  name: string,
): Promise<ScenarioResult> {
  await createBaselineTable(db);
  const clients = await openConnections(server.databaseUrl, BASELINE_CONNECTIONS);
  let r: BaselineResult;
  let usage: Usage;
  let before: number;
  try {
    const options = { clients, factory, rowsPerStatement: BATCH_EVENTS };
    await runBaseline({ ...options, seconds: WARMUP });
    before = await countRows(db, BASELINE_TABLE);
    const watch = watchUsage({ postmasterPid: server.postmasterPid });
    r = await runBaseline({ ...options, seconds: SECONDS });
    usage = watch.stop();
  } finally {
    await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  }
  const stored = (await countRows(db, BASELINE_TABLE)) - before;
  return {
    key: "baseline",
    name,
    clients: BASELINE_CONNECTIONS,
    eventsPerRequest: BATCH_EVENTS,
    seconds: r.seconds,
    requests: r.statements,
    events: r.inserted,
    p50: quantile(r.latencies, 0.5),
    p99: quantile(r.latencies, 0.99),
    failures: r.failures,
    usage,
    check: { stored, acknowledged: r.inserted, duplicates: 0 },
  };
}

interface HttpScenario extends Omit<LoadOptions, "seconds"> {
  key: ScenarioResult["key"];
  name: string;
  eventsPerRequest: number;
  /** The process answering, when it is not the Waymark server. */
  serverPid?: number;
}

/**
 * Warm-up, then a measured run with CPU/memory sampling; for Waymark, the stored-count check, the
 * pipeline's progress, and a (bounded) wait for the pipeline to drain before the next scenario.
 */
async function httpScenario(
  db: pg.Client | null,
  server: WaymarkServer,
  s: HttpScenario,
): Promise<ScenarioResult> {
  await runLoad({ ...s, seconds: WARMUP });
  const before = db ? await countRows(db, "events") : 0;
  const metricsBefore = db ? await scrapeWriter(server.url) : undefined;
  const pipelineBefore = db && PIPELINE ? await readPipeline(server.url, server.adminToken) : undefined;
  const watched: Watched = { serverPid: s.serverPid ?? server.pid, postmasterPid: server.postmasterPid };
  const watch = watchUsage(watched);
  const r = await runLoad({ ...s, seconds: SECONDS });
  const usage: Usage = watch.stop();
  const result: ScenarioResult = {
    key: s.key,
    name: s.name,
    clients: s.clients,
    eventsPerRequest: s.eventsPerRequest,
    seconds: r.seconds,
    requests: r.requests,
    events: r.acknowledged,
    p50: quantile(r.latencies, 0.5),
    p99: quantile(r.latencies, 0.99),
    failures: r.failures,
    usage,
  };
  if (db && metricsBefore) {
    const metricsAfter = await scrapeWriter(server.url);
    result.writer = writerStats(metricsBefore, metricsAfter, r.seconds);
    // Every request has been answered, so every acknowledged event has been committed.
    const stored = (await countRows(db, "events")) - before;
    result.check = { stored, acknowledged: r.acknowledged, duplicates: r.duplicates };
  }
  if (pipelineBefore) {
    const after = await readPipeline(server.url, server.adminToken);
    log(`${after.waiting} events wait for the pipeline; waiting up to ${DRAIN_SECONDS} s for it to drain`);
    result.pipeline = {
      resolvedPerSecond: (after.resolvedSeq - pipelineBefore.resolvedSeq) / r.seconds,
      waitingAtEnd: after.waiting,
      drainSeconds: await waitForDrain(server.url, server.adminToken, DRAIN_SECONDS),
    };
  }
  return result;
}

/**
 * Vacuums what the previous scenarios wrote and checkpoints, so that autovacuum and the checkpointer
 * do not spend the next scenario's time on the last one's rows.
 */
async function settle(db: pg.Client): Promise<void> {
  const started = performance.now();
  const { rows } = await db.query<{ name: string }>(
    `SELECT relname AS name FROM pg_class WHERE relname IN ('events', '${BASELINE_TABLE}') AND relkind = 'p'`,
  );
  for (const { name } of rows) await db.query(`VACUUM (ANALYZE) ${name}`);
  await db.query("CHECKPOINT");
  log(`vacuum and checkpoint took ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

async function countRows(db: pg.Client, table: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`);
  return Number(rows[0]!.n);
}

type WriterCounters = Record<"events" | "requests" | "transactions" | "seconds", number>;

/** The group-commit histograms' sums and counts from the server's Prometheus metrics. */
async function scrapeWriter(url: string): Promise<WriterCounters> {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? 0);
  return {
    events: value("waymark_write_batch_events_sum"),
    requests: value("waymark_write_batch_requests_sum"),
    transactions: value("waymark_write_batch_events_count"),
    seconds: value("waymark_write_duration_seconds_sum"),
  };
}

function writerStats(a: WriterCounters, b: WriterCounters, seconds: number): WriterStats {
  const transactions = b.transactions - a.transactions;
  const per = (n: number) => (transactions > 0 ? n / transactions : 0);
  return {
    transactions,
    eventsPerTransaction: per(b.events - a.events),
    requestsPerTransaction: per(b.requests - a.requests),
    msPerTransaction: per(1000 * (b.seconds - a.seconds)),
    inFlight: (b.seconds - a.seconds) / seconds,
  };
}

function emptyResult(r: Pick<ScenarioResult, "key" | "name" | "clients">): ScenarioResult {
  const usage: Usage = {
    seconds: 0,
    serverCpu: 0,
    postgresCpu: 0,
    loadCpu: 0,
    otherCpu: 0,
    kdamondCpu: 0,
    postgresFaultsPerSecond: 0,
    machineCpu: 0,
    serverRssMaxMb: 0,
    postgresPssMaxMb: 0,
  };
  return {
    ...r,
    eventsPerRequest: 0,
    seconds: 0,
    requests: 0,
    events: 0,
    p50: NaN,
    p99: NaN,
    failures: {},
    usage,
  };
}

async function waitForExit(pid: number): Promise<void> {
  for (let i = 0; pid > 0 && i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function log(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

// Children are stopped on every way out: a normal end, an error, Ctrl-C, SIGTERM or the time limit.
const limit = setTimeout(() => {
  log(`still running after ${TIME_LIMIT_MS / 1000} s: stopping`);
  void cleanUp().finally(() => process.exit(1));
}, TIME_LIMIT_MS);
limit.unref();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the servers`);
    void cleanUp().finally(() => process.exit(130));
  });
}
process.once("exit", () => {
  // Only synchronous work is possible here (an uncaught error): kill, then remove what is left.
  killAllNow();
  if (started.tmp) rmSync(started.tmp, { recursive: true, force: true });
});

main().then(
  () => clearTimeout(limit),
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exitCode = 1;
    clearTimeout(limit);
  },
);
