import { rmSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { configureMessaging, latencyJourneys, publishJourneys } from "./messaging-data.ts";
import { latencyScenario, type LatencySession } from "./messaging-latency.ts";
import { startReceivers, type Receivers } from "./messaging-receivers.ts";
import { preparePgStatements } from "./pg-statements.ts";
import { renderMessagingReport, type MessagingResults } from "./messaging-report.ts";
import { emailsScenario, webhooksScenario, type ThroughputSession } from "./messaging-throughput.ts";
import { createProfiles } from "./pipeline-data.ts";
import { killAllNow, startWaymark, stopAll, stopChild, type WaymarkServer } from "./processes.ts";
import { describeMachine, writeSection } from "./report.ts";

/**
 * The messaging benchmarks of `npm run bench` (issue 6), after the other suites, on a data dir of
 * their own, each beside a baseline measured in the same run:
 * - `msg-webhooks`: webhooks per second from the dispatcher to a local receiver, against a plain
 *   undici loop with the same concurrency;
 * - `msg-emails`: emails per second to a local SMTP server, against nodemailer sending straight to it
 *   with the same pool;
 * - `msg-latency`: event to email (p50/p99) through a journey while another journey's timers and
 *   webhooks keep the engine busy, against the pipeline's own lag on the same events.
 * The first two run on a `--role api` server (which queues) and a `--role worker` process (which
 * sends); the last on `--role all` restarted on the same data dir. `BENCH_MESSAGING=0` skips the
 * suite. Run alone: `node bin/tsx.js bench/messaging-suite.ts` (BENCH_WRITE_README=0 leaves the
 * README alone).
 */

export const MESSAGING_SCENARIOS = ["msg-webhooks", "msg-emails", "msg-latency"];

export interface MessagingConfig {
  /** Webhooks queued and sent in benchmark 1, emails in benchmark 2. */
  webhooks: number;
  emails: number;
  /** `Order Placed` events per second, and `Product Viewed` per second beside them (benchmark 3). */
  rate: number;
  background: number;
  seconds: number;
  warmupSeconds: number;
  drainSeconds: number;
  /** BENCH_PG_STATEMENTS=1: load pg_stat_statements and report the dispatcher's statements. */
  pgStatements: boolean;
}

export function readMessagingConfig(
  env: NodeJS.ProcessEnv,
  common: { drainSeconds: number },
): MessagingConfig {
  const n = (name: string, fallback: number, zeroAllowed = false) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const v = Number(raw);
    if (!Number.isFinite(v) || v < 0 || (v === 0 && !zeroAllowed))
      throw new Error(`${name} must be a positive number (got ${raw})`);
    return v;
  };
  return {
    webhooks: Math.round(n("BENCH_MESSAGING_WEBHOOKS", 10_000)),
    emails: Math.round(n("BENCH_MESSAGING_EMAILS", 5_000)),
    rate: n("BENCH_MESSAGING_RATE", 100),
    background: n("BENCH_MESSAGING_BACKGROUND", 200, true),
    seconds: n("BENCH_MESSAGING_SECONDS", 30),
    warmupSeconds: 5,
    drainSeconds: common.drainSeconds,
    pgStatements: env.BENCH_PG_STATEMENTS === "1",
  };
}

/** An upper bound for the suite, for the benchmark's time limit (generous: a busy machine). */
export function messagingTimeLimitMs(c: MessagingConfig, scenarios: Set<string>): number {
  if (!MESSAGING_SCENARIOS.some((k) => scenarios.has(k))) return 0;
  let s = 120 + (c.webhooks + c.emails) / 5000;
  // Queueing (≥ 100/s), the baseline, and sending (the 60 s floor or 50/s), then the drain.
  if (scenarios.has("msg-webhooks"))
    s += 60 + c.webhooks / 100 + Math.max(60, c.webhooks / 50) + c.drainSeconds;
  if (scenarios.has("msg-emails")) s += 60 + c.emails / 100 + Math.max(60, c.emails / 50) + c.drainSeconds;
  if (scenarios.has("msg-latency")) s += 120 + c.warmupSeconds + c.seconds + 90 + 2 * c.drainSeconds;
  return s * 1000;
}

/** Runs the selected scenarios; returns the report (markdown), or null when none was selected. */
export async function runMessagingSuite(o: {
  tmp: string;
  scenarios: Set<string>;
  config: MessagingConfig;
  nodeArgs: string[];
  log: (line: string) => void;
  /** Where to write the section, when every scenario of the suite ran (null: do not write). */
  readme: string | null;
}): Promise<string | null> {
  const selected = MESSAGING_SCENARIOS.filter((k) => o.scenarios.has(k));
  if (selected.length === 0) return null;
  const c = o.config;
  const results: MessagingResults = {
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

  const dataDir = path.join(o.tmp, "messaging-data");
  let receivers: Receivers | undefined;
  let server: WaymarkServer | undefined;
  let db: pg.Client | undefined;
  const stopServer = async () => {
    await db?.end().catch(() => undefined);
    db = undefined;
    if (server) {
      await stopChild(server.pid);
      for (let i = 0; i < 100 && isAlive(server.postmasterPid); i++) await sleep(100);
      server = undefined;
    }
  };
  const connect = async (s: WaymarkServer) => {
    const client = new pg.Client({ connectionString: s.databaseUrl, application_name: "waymark-bench" });
    client.on("error", () => undefined); // lost when the server stops; queries then fail and say so
    await client.connect();
    return client;
  };
  try {
    receivers = await startReceivers();
    const r = receivers;
    o.log(`starting waymark --role api (data in ${dataDir})`);
    server = await startWaymark(dataDir, { role: "api", nodeArgs: o.nodeArgs });
    db = await connect(server);
    if (c.pgStatements && !(await preparePgStatements(db))) {
      o.log("restarting to load pg_stat_statements");
      await stopServer();
      server = await startWaymark(dataDir, { role: "api", nodeArgs: o.nodeArgs });
      db = await connect(server);
      if (!(await preparePgStatements(db))) throw new Error("pg_stat_statements did not load");
    }
    await describePostgres(db, results);
    const { rows } = await db.query<{ id: string }>("SELECT id FROM workspaces ORDER BY created_at LIMIT 1");
    const workspaceId = rows[0]!.id;
    await configureMessaging(server, r.smtpPort);
    // reader_0 ... : each benchmark's people are its own (a message appends an event to its person).
    const probesFrom = Math.max(c.webhooks, c.emails);
    const people = probesFrom + Math.ceil(c.rate * (c.seconds + c.warmupSeconds)) + 64;
    o.log(`creating ${people.toLocaleString("en-US")} profiles with SQL`);
    await createProfiles(db, workspaceId, people, () => undefined);
    await db.query("VACUUM (ANALYZE) profiles, identities");

    const session: ThroughputSession = {
      server,
      db,
      receivers: r,
      tmp: o.tmp,
      nodeArgs: o.nodeArgs,
      log: o.log,
      drainSeconds: c.drainSeconds,
      pgStatements: c.pgStatements,
    };
    if (o.scenarios.has("msg-webhooks")) {
      results.webhooks = await attempt("msg-webhooks", () => webhooksScenario(session, c.webhooks));
    }
    if (o.scenarios.has("msg-emails")) {
      results.emails = await attempt("msg-emails", () => emailsScenario(session, c.emails));
    }
    if (o.scenarios.has("msg-latency")) {
      await stopServer();
      o.log("msg-latency: restarting waymark as shipped (--role all) on the same data dir");
      const all = await startWaymark(dataDir, {
        role: "all",
        nodeArgs: o.nodeArgs,
        env: { WAYMARK_OUTBOUND_ALLOW: "127.0.0.1" },
      });
      server = all;
      db = await connect(all);
      await publishJourneys(all, latencyJourneys(r.httpUrl));
      const s: LatencySession = { server: all, db, workspaceId, receivers: r, log: o.log };
      results.latency = await attempt("msg-latency", () =>
        latencyScenario(s, {
          rate: c.rate,
          background: c.background,
          seconds: c.seconds,
          warmupSeconds: c.warmupSeconds,
          drainSeconds: c.drainSeconds,
          firstReader: probesFrom,
        }),
      );
    }
  } catch (err) {
    o.log(`messaging benchmarks failed: ${(err as Error).stack ?? String(err)}`);
    const error = { error: (err as Error).message };
    if (o.scenarios.has("msg-webhooks")) results.webhooks ??= error;
    if (o.scenarios.has("msg-emails")) results.emails ??= error;
    if (o.scenarios.has("msg-latency")) results.latency ??= error;
  } finally {
    await stopServer();
    await receivers?.close();
  }

  const report = renderMessagingReport(results);
  if (o.readme && selected.length === MESSAGING_SCENARIOS.length) {
    await writeSection(o.readme, "messaging-results", report);
    o.log(`messaging results written to ${path.relative(process.cwd(), o.readme)}`);
  }
  return report;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function describePostgres(db: pg.Client, results: MessagingResults): Promise<void> {
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

/**
 * `node bin/tsx.js bench/messaging-suite.ts`: the suite alone (same env as `npm run bench`:
 * BENCH_SCENARIOS, BENCH_MESSAGING_*, BENCH_DRAIN_SECONDS, BENCH_WRITE_README, BENCH_SERVER_NODE_ARGS).
 * Stops its children on every way out, as run.ts does.
 */
async function standalone(): Promise<void> {
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const drain = Number(process.env.BENCH_DRAIN_SECONDS || 30);
  const config = readMessagingConfig(process.env, { drainSeconds: drain });
  const scenarios = new Set((process.env.BENCH_SCENARIOS || MESSAGING_SCENARIOS.join(",")).split(","));
  const tmp = await mkdtemp(path.join(os.tmpdir(), "waymark-bench-"));
  // The embedded PostgreSQL runs as the postgres user when we are root: it must traverse this.
  await chmod(tmp, 0o755);
  let cleaned = false;
  const cleanUp = async () => {
    if (cleaned) return;
    cleaned = true;
    await stopAll();
    await rm(tmp, { recursive: true, force: true, maxRetries: 5 });
  };
  const limit = setTimeout(
    () => {
      log("still running past the time limit: stopping");
      void cleanUp().finally(() => process.exit(1));
    },
    messagingTimeLimitMs(config, scenarios) + 60_000,
  );
  limit.unref();
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the servers`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  process.once("exit", () => {
    killAllNow();
    if (!cleaned) rmSync(tmp, { recursive: true, force: true });
  });
  try {
    const report = await runMessagingSuite({
      tmp,
      scenarios,
      config,
      nodeArgs: (process.env.BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean),
      log,
      readme:
        process.env.BENCH_WRITE_README !== "0" ? fileURLToPath(new URL("README.md", import.meta.url)) : null,
    });
    if (report) process.stdout.write(`\n${report}\n\n`);
  } finally {
    clearTimeout(limit);
    await cleanUp();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await standalone();
}
