import path from "node:path";
import pg from "pg";
import { request } from "undici";
import { PARTITIONS } from "../src/pipeline/index.ts";
import { sampleActivity } from "./activity.ts";
import { quantile } from "./load.ts";
import { runPaced } from "./paced-load.ts";
import { readPipeline, waitForDrain } from "./pipeline.ts";
import { readPgStatements, resetPgStatements } from "./pg-statements.ts";
import { loadLog, population, PopulationEvents, type Population } from "./pipeline-data.ts";
import {
  LAG_WINDOW_SECONDS,
  type LagResult,
  type PipelineCheck,
  type ThroughputResult,
} from "./pipeline-report.ts";
import { watchUsage } from "./proc-stats.ts";
import { startWaymarkWorker, stopChild, type WaymarkServer } from "./processes.ts";

/**
 * The event pipeline's two benchmarks (issue 4, section 5): throughput from the log to applied
 * profiles, with a worker process starting on a log already loaded; and lag while events arrive at a
 * steady rate through the HTTP API with the pipeline running in the server.
 */

/** What the scenarios share: the server under test, a connection to its database, its workspace. */
export interface Session {
  server: WaymarkServer;
  role: string;
  db: pg.Client;
  workspaceId: string;
  /** A folder of the run's own (removed at the end), for the worker's data dir. */
  tmp: string;
  nodeArgs: string[];
  log: (line: string) => void;
  /** pg_stat_statements is loaded: report PostgreSQL's time per statement. */
  pgStatements: boolean;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Loads `events` events into the log with SQL while no pipeline runs (the server is `--role api`),
 * then starts a `--role worker` process on the same database and times it until every event is
 * applied to its profile (stage one at the head of the log, the partitions' queue empty), within
 * `limitSeconds`. Checks afterwards that every event was counted once and the merges happened.
 */
export async function throughputScenario(
  s: Session,
  o: { events: number; merges: boolean; limitSeconds: number },
): Promise<ThroughputResult> {
  if (s.role !== "api")
    throw new Error("the throughput scenario needs a server without pipeline (--role api)");
  const pop = population(o.events, o.merges);
  const { rows: empty } = await s.db.query<{ n: number }>("SELECT count(*)::int AS n FROM events");
  if (empty[0]!.n !== 0) throw new Error("the throughput scenario needs an empty log (it runs first)");

  s.log(
    `loading ${pop.events.toLocaleString("en-US")} events of ${pop.people.toLocaleString("en-US")} people`,
  );
  const loaders = [0, 1].map(
    () => new pg.Client({ connectionString: s.server.databaseUrl, application_name: "waymark-bench-load" }),
  ) as [pg.Client, pg.Client];
  let lastLog = performance.now();
  let load;
  try {
    await Promise.all(loaders.map((c) => c.connect()));
    load = await loadLog(loaders, s.workspaceId, new PopulationEvents(pop), (done) => {
      if (performance.now() - lastLog < 10_000) return;
      lastLog = performance.now();
      s.log(`  ${done.toLocaleString("en-US")} events in the log`);
    });
  } finally {
    await Promise.all(loaders.map((c) => c.end().catch(() => undefined)));
  }
  s.log(`loaded in ${load.seconds.toFixed(1)} s; vacuum (analyze) and checkpoint`);
  const settleStarted = performance.now();
  await s.db.query("VACUUM (ANALYZE) events, event_message_ids");
  await s.db.query("CHECKPOINT");
  const settleSeconds = (performance.now() - settleStarted) / 1000;
  if (s.pgStatements) await resetPgStatements(s.db);

  const worker = await startWaymarkWorker(path.join(s.tmp, "worker"), s.server.databaseUrl, {
    nodeArgs: s.nodeArgs,
  });
  let result: ThroughputResult;
  try {
    // The worker starts its pipeline just before it prints its banner: timing starts at the banner.
    const started = performance.now();
    const watch = watchUsage({ serverPid: worker.pid, postmasterPid: s.server.postmasterPid });
    const activity = sampleActivity(s.db);
    let resolvedSeconds: number | null = null;
    let appliedSeconds: number | null = null;
    let lastProgress = started;
    const queues = { samples: 0, waiting: 0, resolving: 0, empty: 0 };
    let polls = 0;
    while ((performance.now() - started) / 1000 < o.limitSeconds) {
      const p = await progress(s);
      // Are the partitions fed while stage one has work, and are they held up by merges? Sampled
      // every second: each sample walks the queue's index, dead entries included, and at 200 ms
      // PostgreSQL spent up to 15% of a core on it.
      if (polls++ % 5 === 0) {
        const q = await partitionQueues(s);
        queues.samples++;
        queues.waiting += q.waiting;
        if (p.resolved < p.head) {
          queues.resolving++;
          queues.empty += q.empty;
        }
      }
      const elapsed = (performance.now() - started) / 1000;
      if (resolvedSeconds === null && p.resolved >= p.head) resolvedSeconds = elapsed;
      if (p.resolved >= p.head && !p.queued) {
        appliedSeconds = elapsed;
        break;
      }
      if (performance.now() - lastProgress > 15_000) {
        lastProgress = performance.now();
        s.log(
          `  ${elapsed.toFixed(0)} s: ${p.resolved.toLocaleString("en-US")} events resolved` +
            `${p.resolved >= p.head ? ", partitions still applying" : ""}`,
        );
      }
      await sleep(200);
    }
    const usage = watch.stop();
    const profile = await activity.stop();
    const statements = s.pgStatements ? await readPgStatements(s.db) : undefined;
    const applied = await appliedByWorker(worker.url);
    const seconds = appliedSeconds ?? (performance.now() - started) / 1000;
    // Confirmed by the admin API: every unit at the head, nothing waiting.
    const api = await readPipeline(s.server.url, s.server.adminToken);
    result = {
      pop,
      load: { ...load, settleSeconds },
      resolvedSeconds,
      appliedSeconds,
      seconds,
      limitSeconds: o.limitSeconds,
      appliedEvents: applied,
      apiWaiting: api.waiting,
      partitions: {
        count: PARTITIONS,
        waitingMerges: queues.samples ? queues.waiting / queues.samples : 0,
        emptyWhileResolving: queues.resolving ? queues.empty / queues.resolving : 0,
      },
      usage,
      activity: profile,
      statements,
      // Only a finished run has profiles to check.
      check: appliedSeconds === null ? { items: [] } : await checkProfiles(s, pop),
    };
  } finally {
    await stopChild(worker.pid);
  }
  return result;
}

async function progress(s: Session): Promise<{ head: number; resolved: number; queued: boolean }> {
  const { rows } = await s.db.query<{ head: number; resolved: number; queued: boolean }>(
    `SELECT coalesce((SELECT last_seq FROM event_sequences WHERE workspace_id = $1), 0)::float8 AS head,
            coalesce((SELECT seq FROM pipeline_offsets WHERE workspace_id = $1 AND unit = 'resolve'), 0)::float8 AS resolved,
            EXISTS (SELECT 1 FROM pipeline_queue WHERE workspace_id = $1) AS queued`,
    [s.workspaceId],
  );
  return rows[0]!;
}

/**
 * The apply partitions' queues: how many have nothing queued, and how many merges among each one's
 * next 100 events still wait for earlier events of a profile they merge (queued in another
 * partition): at most 100 rows per partition.
 */
async function partitionQueues(s: Session): Promise<{ empty: number; waiting: number }> {
  const { rows } = await s.db.query<{ empty: number; waiting: number }>(
    `SELECT count(*) FILTER (WHERE n.queued = 0)::int AS empty, coalesce(sum(n.waiting), 0)::int AS waiting
     FROM generate_series(0, $2::int - 1) AS p
     CROSS JOIN LATERAL (
       SELECT count(*) AS queued,
              count(*) FILTER (WHERE cardinality(h.merged) > 0 AND EXISTS (
                SELECT 1 FROM pipeline_queue o
                WHERE o.workspace_id = $1 AND o.profile_id = ANY (h.merged) AND o.seq < h.seq)) AS waiting
       FROM (SELECT seq, merged FROM pipeline_queue
             WHERE workspace_id = $1 AND partition = p ORDER BY seq LIMIT 100) AS h
     ) AS n`,
    [s.workspaceId, PARTITIONS],
  );
  return rows[0]!;
}

/** Events the worker's profile stage applied, from its /metrics. */
async function appliedByWorker(url: string): Promise<number> {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  const m = /^waymark_pipeline_applied_events_total\{stage="profiles"\} (\S+)$/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

/** What the profiles must look like once every event is applied (see pipeline-data.ts). */
async function checkProfiles(s: Session, pop: Population): Promise<PipelineCheck> {
  const { rows } = await s.db.query<{
    live: number;
    merged_away: number;
    merges: number;
    event_count: number;
    user_ids: number;
    emails: number;
    anonymous_ids: number;
  }>(
    `SELECT
       (SELECT count(*) FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL)::float8 AS live,
       (SELECT count(*) FROM profiles WHERE workspace_id = $1 AND merged_into IS NOT NULL)::float8 AS merged_away,
       (SELECT count(*) FROM profile_merges WHERE workspace_id = $1)::float8 AS merges,
       (SELECT coalesce(sum(event_count), 0) FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL)::float8 AS event_count,
       (SELECT count(*) FROM identities WHERE workspace_id = $1 AND type = 'user_id')::float8 AS user_ids,
       (SELECT count(*) FROM identities WHERE workspace_id = $1 AND type = 'email')::float8 AS emails,
       (SELECT count(*) FROM identities WHERE workspace_id = $1 AND type = 'anonymous_id')::float8 AS anonymous_ids`,
    [s.workspaceId],
  );
  const r = rows[0]!;
  const expect = (name: string, actual: number, expected: number) => ({ name, actual, expected });
  return {
    items: [
      expect("events counted on live profiles (sum of event_count)", r.event_count, pop.events),
      expect("live profiles", r.live, pop.people),
      expect("merged-away profiles", r.merged_away, pop.merging),
      expect("merges recorded", r.merges, pop.merging),
      expect("user_id identities", r.user_ids, pop.people),
      expect("email identities", r.emails, pop.people),
      expect("anonymous_id identities", r.anonymous_ids, pop.people + pop.merging),
    ],
  };
}

export interface LagOptions {
  seconds: number;
  warmupSeconds: number;
  requestsPerSecond: number;
  eventsPerRequest: number;
  /** Every `probeEvery`-th request carries a probe. */
  probeEvery: number;
  /** The people sending (those of the throughput scenario when it ran: known profiles). */
  people: number;
  /** Every tenth request also carries a second-device login that merges (1% of the events). */
  merges: boolean;
}

const PROBE_POLL_MS = 20;
const PIPELINE_SAMPLE_MS = 200;
const PROBE_WAIT_SECONDS = 30;

/**
 * Steady ingestion through /v1/batch with the pipeline running in the server (`--role all`),
 * open-loop. Lag is measured two ways: probes (an identify setting trait benchProbe = n on a known
 * person, in every `probeEvery`-th request), timed from the request's 200 answer until the profile
 * shows that value (polled with SQL every 20 ms); and the age of the oldest event waiting for any
 * unit, as GET /api/v1/pipeline reports it, sampled every 200 ms.
 */
export async function lagScenario(s: Session, o: LagOptions, drainSeconds: number): Promise<LagResult> {
  if (s.role === "api") throw new Error("the lag scenario needs a server running the pipeline");
  const events = new PopulationEvents(population(o.people * 10));
  const auth = { authorization: `Basic ${Buffer.from(`${s.server.writeKey}:`).toString("base64")}` };
  const someone = () => Math.floor(Math.random() * o.people);
  const probes = new Map<number, { person: number; value: number; ackAt?: number; seenAt?: number }>();
  let probing = false;
  let probeCount = 0;
  let merges = 0;
  const body = (n: number) => {
    const now = new Date().toISOString();
    const items: string[] = [];
    if (probing && n % o.probeEvery === 0) {
      const probe = { person: someone(), value: ++probeCount };
      probes.set(n, probe);
      items.push(events.probe(probe.person, probe.value, now));
    }
    if (o.merges && n % 10 === 5) {
      items.push(...events.secondDeviceLogin(someone(), now));
      if (probing) merges++;
    }
    // One event in ten comes from a new anonymous visitor (a new profile); the rest from known people.
    items.push(events.anonymousVisitor(now));
    while (items.length < o.eventsPerRequest) items.push(events.track(someone(), now));
    return { body: `{"batch":[${items.join(",")}],"sentAt":"${now}"}`, events: items.length };
  };
  const paced = (seconds: number) =>
    runPaced({
      origin: s.server.url,
      path: "/v1/batch",
      headers: auth,
      requestsPerSecond: o.requestsPerSecond,
      seconds,
      maxInFlight: 64,
      nextBody: body,
      onAcknowledged: (n, at) => {
        const p = probes.get(n);
        if (p) p.ackAt = at;
      },
    });

  // As before every ingestion scenario: the throughput run's dead profile versions and dirty pages are
  // vacuumed and written out now, not by autovacuum and the checkpointer during the measured run.
  s.log("lag: vacuum (analyze) and checkpoint");
  await s.db.query("VACUUM (ANALYZE)");
  await s.db.query("CHECKPOINT");
  s.log(`lag: ${o.warmupSeconds} s warm-up`);
  await paced(o.warmupSeconds);
  await waitForDrain(s.server.url, s.server.adminToken, drainSeconds);

  s.log(`lag: ${o.seconds} s measured`);
  probing = true;
  if (s.pgStatements) await resetPgStatements(s.db);
  // Memory is sampled every 2 s, not 250 ms: a sample reads every PostgreSQL process's smaps_rollup
  // (off the event loop, but its kernel time competes with the server's for the 2 cores).
  const watch = watchUsage({ serverPid: s.server.pid, postmasterPid: s.server.postmasterPid }, 2000);
  const activity = sampleActivity(s.db);
  const apiSamples: Array<{ seconds: number; events: number }> = [];
  let measuring = true;
  const apiSampler = (async () => {
    while (measuring) {
      const t0 = performance.now();
      try {
        const res = await request(`${s.server.url}/api/v1/pipeline`, {
          headers: { authorization: `Bearer ${s.server.adminToken}` },
        });
        const { units } = (await res.body.json()) as {
          units: Array<{ lagEvents: number; lagSeconds: number }>;
        };
        apiSamples.push({
          seconds: Math.max(0, ...units.map((u) => u.lagSeconds)),
          events: units.reduce((n, u) => n + u.lagEvents, 0),
        });
      } catch (err) {
        s.log(`GET /api/v1/pipeline failed: ${(err as Error).message}`);
      }
      await sleep(Math.max(0, PIPELINE_SAMPLE_MS - (performance.now() - t0)));
    }
  })();
  let watching = true;
  const prober = (async () => {
    while (watching) {
      const pending = [...probes.values()].filter((p) => p.ackAt !== undefined && p.seenAt === undefined);
      if (pending.length > 0) {
        await markSeen(pending);
      }
      await sleep(PROBE_POLL_MS);
    }
  })();
  async function markSeen(pending: Array<{ person: number; value: number; seenAt?: number }>) {
    try {
      const users = [...new Set(pending.map((p) => `user_${p.person}`))];
      const { rows } = await s.db.query<{ value: string; probe: string | null }>(
        `SELECT i.value, p.traits->>'benchProbe' AS probe FROM identities i
           JOIN profiles p ON p.workspace_id = i.workspace_id AND p.id = i.profile_id
           WHERE i.workspace_id = $1 AND i.type = 'user_id' AND i.value = ANY($2::text[])`,
        [s.workspaceId, users],
      );
      const at = performance.now();
      const shown = new Map(rows.map((r) => [r.value, Number(r.probe ?? 0)]));
      for (const p of pending) if ((shown.get(`user_${p.person}`) ?? 0) >= p.value) p.seenAt = at;
    } catch (err) {
      s.log(`probe poll failed: ${(err as Error).message}`);
    }
  }

  let r;
  const startedAt = performance.now();
  try {
    r = await paced(o.seconds);
  } finally {
    measuring = false;
    probing = false;
  }
  const usage = watch.stop();
  const profile = await activity.stop();
  const statements = s.pgStatements ? await readPgStatements(s.db) : undefined;
  await apiSampler;
  const waitUntil = performance.now() + PROBE_WAIT_SECONDS * 1000;
  while ([...probes.values()].some((p) => p.ackAt !== undefined && p.seenAt === undefined)) {
    if (performance.now() > waitUntil) break;
    await sleep(50);
  }
  watching = false;
  await prober;
  const drained = await waitForDrain(s.server.url, s.server.adminToken, drainSeconds);

  const acknowledged = [...probes.values()].filter((p) => p.ackAt !== undefined);
  const lags = Float64Array.from(
    acknowledged.filter((p) => p.seenAt !== undefined).map((p) => Math.max(0, p.seenAt! - p.ackAt!)),
  ).sort();
  const api = Float64Array.from(apiSamples.map((x) => x.seconds * 1000)).sort();
  const windows: number[] = [];
  for (let w = 0; w * LAG_WINDOW_SECONDS < o.seconds; w++) {
    const from = startedAt + w * LAG_WINDOW_SECONDS * 1000;
    const inWindow = acknowledged.filter(
      (p) => p.seenAt !== undefined && p.ackAt! >= from && p.ackAt! < from + LAG_WINDOW_SECONDS * 1000,
    );
    windows.push(quantile(Float64Array.from(inWindow.map((p) => p.seenAt! - p.ackAt!)).sort(), 0.99));
  }
  return {
    requestsPerSecond: o.requestsPerSecond,
    eventsPerRequest: o.eventsPerRequest,
    merges,
    seconds: r.seconds,
    sent: r.sent,
    ok: r.ok,
    skipped: r.skipped,
    events: r.events,
    failures: r.failures,
    p50: quantile(r.latencies, 0.5),
    p99: quantile(r.latencies, 0.99),
    probes: {
      acknowledged: acknowledged.length,
      seen: lags.length,
      p50: quantile(lags, 0.5),
      p99: quantile(lags, 0.99),
      max: lags.length ? lags[lags.length - 1]! : NaN,
    },
    windows,
    api: {
      samples: api.length,
      p50: quantile(api, 0.5),
      p99: quantile(api, 0.99),
      max: api.length ? api[api.length - 1]! : NaN,
      maxWaiting: Math.max(0, ...apiSamples.map((x) => x.events)),
    },
    usage,
    activity: profile,
    statements,
    drainSeconds: drained,
  };
}
