import type { Pool } from "pg";
import type pg from "pg";
import { request } from "undici";
import { findProfiles, getProfile } from "../src/profiles/index.ts";
import { statementLabel } from "./activity.ts";
import { quantile } from "./load.ts";
import { runReads, type ReadResult } from "./paced-load.ts";
import { startNoopServer, stopChild } from "./processes.ts";
import type { Session } from "./pipeline-bench.ts";
import { createProfiles } from "./pipeline-data.ts";
import { BASELINE_READ, type QueryPlan, type ReadScenario, type ReadsResult } from "./pipeline-report.ts";
import { readPgStatements, resetPgStatements } from "./pg-statements.ts";
import { watchUsage } from "./proc-stats.ts";

/**
 * Profile reads at scale (issue 4, section 5): tops the workspace up to `profiles` live profiles with
 * SQL (each with a user_id, an email and an anonymous_id), then reads random ones by id
 * (GET /api/v1/profiles/:id) and by email (GET /api/v1/profiles?email=) with closed-loop clients.
 * The statements behind each read are captured with EXPLAIN (ANALYZE, BUFFERS) by calling the same
 * functions the routes call (src/profiles) on a recording connection, so the plans are those of the
 * code under test, not a copy of its SQL.
 */

export interface ReadsOptions {
  profiles: number;
  /** Each read runs once per entry: e.g. [1, 16] (service time alone, then under concurrency). */
  clients: number[];
  /**
   * Then once per open-loop rate (reads/s, up to OPEN_LOOP_IN_FLIGHT waiting): latency at a stated
   * load below saturation, where closed-loop clients on 2 cores measure the queue they make.
   */
  rates: number[];
  seconds: number;
  warmupSeconds: number;
}

const SAMPLE = 20_000;
const OPEN_LOOP_IN_FLIGHT = 64;

export async function profileReadsScenario(s: Session, o: ReadsOptions): Promise<ReadsResult> {
  const live = await countLive(s);
  const toCreate = Math.max(0, o.profiles - live);
  let createdSeconds = 0;
  if (toCreate > 0) {
    s.log(
      `creating ${toCreate.toLocaleString("en-US")} profiles with SQL (${live.toLocaleString("en-US")} exist)`,
    );
    createdSeconds = await createProfiles(s.db, s.workspaceId, toCreate, (done) =>
      s.log(`  ${done.toLocaleString("en-US")} created`),
    );
  }
  s.log("vacuum (analyze) and checkpoint");
  await s.db.query("VACUUM (ANALYZE) profiles, identities");
  await s.db.query("CHECKPOINT");
  const profiles = await countLive(s);

  const { rows: ids } = await s.db.query<{ id: string }>(
    `SELECT id FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL ORDER BY random() LIMIT ${SAMPLE}`,
    [s.workspaceId],
  );
  const { rows: emails } = await s.db.query<{ value: string; profile_id: string }>(
    `SELECT value, profile_id FROM identities WHERE workspace_id = $1 AND type = 'email'
     ORDER BY random() LIMIT ${SAMPLE}`,
    [s.workspaceId],
  );
  if (ids.length === 0 || emails.length === 0) throw new Error("no profiles to read");
  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
  const headers = { authorization: `Bearer ${s.server.adminToken}` };

  const measure = async (
    name: string,
    route: string,
    clients: number,
    next: () => { path: string; check: (body: unknown) => boolean },
    perSecond?: number,
  ): Promise<ReadScenario> => {
    s.log(
      `${name}: ${o.warmupSeconds} s warm-up, ${o.seconds} s measured, ` +
        (perSecond ? `${perSecond}/s open loop` : `${clients} clients`),
    );
    const load = { origin: s.server.url, headers, clients, perSecond, next };
    await runReads({ ...load, seconds: o.warmupSeconds });
    if (s.pgStatements) await resetPgStatements(s.db);
    const before = await routeHistogram(s.server.url, route);
    // Memory every 2 s only: a sample's kernel time competes with the reads for the 2 cores.
    const watch = watchUsage({ serverPid: s.server.pid, postmasterPid: s.server.postmasterPid }, 2000);
    const r = await runReads({ ...load, seconds: o.seconds });
    const usage = watch.stop();
    const after = await routeHistogram(s.server.url, route);
    const served = after.count - before.count;
    const bucketsMs = after.buckets.map((b, i) => ({ le: b.le, n: b.n - before.buckets[i]!.n }));
    const at10 = bucketsMs.find((b) => b.le === 10)?.n ?? NaN;
    const statements = s.pgStatements ? await readPgStatements(s.db) : undefined;
    return {
      statements,
      name,
      clients,
      perSecond,
      ...asSeen(r),
      server: {
        over10Ms: served > 0 ? 1 - at10 / served : NaN,
        p99AtMostMs: bucketsMs.find((b) => b.n >= 0.99 * served)?.le ?? Infinity,
      },
      usage,
    };
  };

  const byId = () => {
    const { id } = pick(ids);
    return { path: `/api/v1/profiles/${id}`, check: (b: unknown) => (b as { id?: string }).id === id };
  };
  const byEmail = () => {
    const { value, profile_id } = pick(emails);
    return {
      path: `/api/v1/profiles?email=${encodeURIComponent(value)}`,
      check: (b: unknown) => {
        const items = (b as { items?: Array<{ id: string }> }).items ?? [];
        return items.length === 1 && items[0]!.id === profile_id;
      },
    };
  };
  const reads: ReadScenario[] = [];
  for (const clients of o.clients) {
    reads.push(await measure("GET /api/v1/profiles/:id", "/api/v1/profiles/:id", clients, byId));
  }
  for (const clients of o.clients) {
    reads.push(await measure("GET /api/v1/profiles?email=", "/api/v1/profiles", clients, byEmail));
  }
  for (const rate of o.rates) {
    reads.push(await noopBaseline(s, o, rate));
    reads.push(
      await measure("GET /api/v1/profiles/:id", "/api/v1/profiles/:id", OPEN_LOOP_IN_FLIGHT, byId, rate),
    );
    reads.push(
      await measure("GET /api/v1/profiles?email=", "/api/v1/profiles", OPEN_LOOP_IN_FLIGHT, byEmail, rate),
    );
  }

  const plans: QueryPlan[] = [];
  for (let i = 0; i < 3; i++) {
    // Three rounds on fresh random keys; the last one's plans are kept (caches warm, like the run).
    const round: QueryPlan[] = [];
    await getProfile(recording(s.db, "by id", round), s.workspaceId, pick(ids).id);
    await findProfiles(
      recording(s.db, "by email", round) as unknown as Pool,
      s.workspaceId,
      { email: pick(emails).value },
      { limit: 50 },
    );
    if (i === 2) plans.push(...round);
  }
  const setting = async (name: string) =>
    (await s.db.query<Record<string, string>>(`SHOW ${name}`)).rows[0]![name]!;
  return {
    profiles,
    created: toCreate,
    createdSeconds,
    reads,
    plans,
    sharedBuffers: await setting("shared_buffers"),
    hugePages: await setting("huge_pages_status"),
  };
}

/**
 * The server's own view of a route (Fastify's time from request to response): its cumulative
 * histogram from /metrics, bucket bounds in ms.
 */
/** A read run as its client saw it. */
function asSeen(r: ReadResult) {
  return {
    seconds: r.seconds,
    requests: r.requests,
    ok: r.ok,
    wrong: r.wrong,
    failures: r.failures,
    skipped: r.skipped,
    p50: quantile(r.latencies, 0.5),
    p99: quantile(r.latencies, 0.99),
    over10Ms: r.latencies.length ? r.latencies.filter((x) => x > 10).length / r.latencies.length : NaN,
  };
}

/**
 * The open-loop baseline: a bare Fastify server answering `{}` to the same GETs at the same rate from
 * the same load generator: what the machine, the loopback and the generator add before any Waymark work.
 */
async function noopBaseline(s: Session, o: ReadsOptions, rate: number): Promise<ReadScenario> {
  const noop = await startNoopServer();
  try {
    s.log(`baseline: Fastify no-op GET, ${rate}/s open loop`);
    const load = {
      origin: noop.url,
      headers: {},
      clients: OPEN_LOOP_IN_FLIGHT,
      perSecond: rate,
      next: () => ({ path: "/api/v1/profiles/none", check: () => true }),
    };
    await runReads({ ...load, seconds: o.warmupSeconds });
    const watch = watchUsage({ serverPid: noop.pid, postmasterPid: s.server.postmasterPid }, 2000);
    const r = await runReads({ ...load, seconds: o.seconds });
    const usage = watch.stop();
    return {
      name: BASELINE_READ,
      clients: OPEN_LOOP_IN_FLIGHT,
      perSecond: rate,
      ...asSeen(r),
      server: { over10Ms: NaN, p99AtMostMs: Infinity },
      usage,
    };
  } finally {
    await stopChild(noop.pid);
  }
}

async function routeHistogram(
  url: string,
  route: string,
): Promise<{ count: number; buckets: Array<{ le: number; n: number }> }> {
  const res = await request(`${url}/metrics`);
  const text = await res.body.text();
  const buckets: Array<{ le: number; n: number }> = [];
  let count = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith("waymark_http_request_duration_seconds") || !line.includes(`route="${route}"`))
      continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const le = /le="([^"]+)"/.exec(line)?.[1];
    if (line.startsWith("waymark_http_request_duration_seconds_bucket") && le && le !== "+Inf") {
      buckets.push({ le: Number(le) * 1000, n: value });
    } else if (line.startsWith("waymark_http_request_duration_seconds_count")) {
      count = value;
    }
  }
  return { count, buckets };
}

async function countLive(s: Session): Promise<number> {
  const { rows } = await s.db.query<{ n: number }>(
    "SELECT count(*)::float8 AS n FROM profiles WHERE workspace_id = $1 AND merged_into IS NULL",
    [s.workspaceId],
  );
  return rows[0]!.n;
}

/**
 * A connection that runs each statement, then runs it again under EXPLAIN (ANALYZE, BUFFERS) and
 * records the plan. Statements are serialised on the one connection, so the plans see no contention.
 */
function recording(db: pg.Client, read: QueryPlan["read"], into: QueryPlan[]): { query: pg.Client["query"] } {
  // Reads pass either (text, params) or a named statement's config ({ name, text, values }).
  const query = async (textOrConfig: string | pg.QueryConfig, maybeParams?: unknown[]) => {
    const text = typeof textOrConfig === "string" ? textOrConfig : textOrConfig.text;
    const params = typeof textOrConfig === "string" ? maybeParams : textOrConfig.values;
    const result = await db.query(textOrConfig as string, params);
    const { rows } = await db.query<{ "QUERY PLAN": string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, params);
    const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
    into.push({
      read,
      statement: statementLabel(text),
      planningMs: Number(/Planning Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN),
      executionMs: Number(/Execution Time: ([\d.]+) ms/.exec(plan)?.[1] ?? NaN),
      plan,
    });
    return result;
  };
  return { query: query as unknown as pg.Client["query"] };
}
