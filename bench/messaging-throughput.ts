import path from "node:path";
import pg from "pg";
import { createTransport } from "nodemailer";
import { Pool } from "undici";
import { SMTP_MAX_CONNECTIONS } from "../src/messaging/index.ts";
import { sampleActivity, type ActivityProfile } from "./activity.ts";
import {
  HOOK_TEMPLATE,
  MAIL_TEMPLATE,
  cpuSecondsOf,
  epochNow,
  renderedMail,
  runSends,
  sleep,
  type SendLoadResult,
} from "./messaging-data.ts";
import type { Receivers, TallyView } from "./messaging-receivers.ts";
import { readPgStatements, resetPgStatements, type StatementTime } from "./pg-statements.ts";
import { readPipeline } from "./pipeline.ts";
import { watchUsage, type Usage } from "./proc-stats.ts";
import { startWaymarkWorker, stopChild, type WaymarkServer } from "./processes.ts";

/**
 * Benchmarks 1 and 2: how many webhooks, and how many emails, the messaging dispatcher sends per
 * second, each beside what the same receiver takes from a plain client with the same concurrency.
 *
 * The messages are queued first through the send API (POST /api/v1/send, a template to a person by
 * userId, closed-loop on 16 connections) of a `--role api` server, which has no dispatcher. A
 * `waymark start --role worker` process (event pipeline, journey runtime and the messaging worker, as
 * in `--role all` less the HTTP API) then starts on the same database while the benchmark holds a row
 * lock on every queued message (`SELECT ... FOR UPDATE`; the dispatcher claims with SKIP LOCKED, so
 * it skips them); 2 s after its banner the lock is released and the whole queue is due at once. The
 * rate runs from the first to the last arrival at the receiver; "recorded" is when the last message
 * row says `sent`. The worker's event pipeline applies the `Webhook Delivered` / `Email Delivered`
 * event each send appends, as shipped; the benchmark then waits for it to finish those before
 * stopping the worker.
 */

/** The dispatcher's messages in flight (MessagingWorker's default) and the SMTP channel's pool size. */
export const DISPATCH_CONCURRENCY = 32;
export const SMTP_POOL = SMTP_MAX_CONNECTIONS;
const QUEUE_CLIENTS = 16;

export interface ThroughputSession {
  server: WaymarkServer;
  db: pg.Client;
  receivers: Receivers;
  tmp: string;
  nodeArgs: string[];
  log: (line: string) => void;
  drainSeconds: number;
  /** BENCH_PG_STATEMENTS=1: pg_stat_statements is loaded; each dispatch reports its statements. */
  pgStatements: boolean;
}

export interface CpuShares {
  seconds: number;
  /** Percent of one core. */
  receiver: number;
  load: number;
  other: number;
  machine: number;
}

export interface BaselineRun {
  messages: number;
  received: number;
  repeats: number;
  failures: Record<string, number>;
  firstToLastSeconds: number;
  perSecond: number;
  cpu: CpuShares;
}

export interface DispatchRun {
  messages: number;
  received: number;
  repeats: number;
  /** messages rows by status at the end. */
  statuses: Record<string, number>;
  /** Release of the lock → first arrival, ms; first → last arrival, s; release → last row `sent`, s. */
  releaseToFirstMs: number;
  firstToLastSeconds: number;
  releaseToRecordedSeconds: number | null;
  perSecond: number;
  usage: Usage;
  cpu: CpuShares;
  activity: ActivityProfile;
  /** How long the worker's pipeline took after the last send to apply the delivery events (null: not within the limit). */
  pipelineDrainSeconds: number | null;
  /**
   * PostgreSQL's counters from the release until the worker exited (its backends report at exit):
   * transactions committed (a statement outside a transaction is one), WAL flushes (fsyncs of the
   * WAL, pg_stat_io) and WAL bytes; undefined when this PostgreSQL does not have them.
   */
  database?: { commits: number; walFsyncs: number; walBytes: number };
  /** With BENCH_PG_STATEMENTS=1: the statements that took PostgreSQL the most time, release to stop. */
  statements?: StatementTime[];
}

export interface ThroughputResult {
  channel: "webhook" | "email";
  count: number;
  queue: SendLoadResult;
  baseline: BaselineRun;
  waymark: DispatchRun;
}

export async function webhooksScenario(s: ThroughputSession, count: number): Promise<ThroughputResult> {
  const url = `${s.receivers.httpUrl}/hooks/order`;
  s.log(
    `msg-webhooks: baseline, ${count.toLocaleString("en-US")} POSTs from undici, ${DISPATCH_CONCURRENCY} at a time`,
  );
  const baseline = await webhookBaseline(s, count, url);
  s.log(`msg-webhooks: queueing ${count.toLocaleString("en-US")} webhooks through POST /api/v1/send`);
  await s.receivers.reset();
  const queue = await runSends(s.server, {
    count,
    clients: QUEUE_CLIENTS,
    body: (i) => ({
      template: HOOK_TEMPLATE,
      to: { userId: `reader_${i}` },
      data: { url, seq: `w-${i}`, order: `A-${i}`, total: 129.5, items: 3 },
    }),
  });
  const waymark = await dispatch(s, HOOK_TEMPLATE, "http", count);
  return { channel: "webhook", count, queue, baseline, waymark };
}

export async function emailsScenario(s: ThroughputSession, count: number): Promise<ThroughputResult> {
  s.log(
    `msg-emails: baseline, ${count.toLocaleString("en-US")} mails from nodemailer, a pool of ${SMTP_POOL}`,
  );
  const baseline = await emailBaseline(s, count);
  s.log(`msg-emails: queueing ${count.toLocaleString("en-US")} emails through POST /api/v1/send`);
  await s.receivers.reset();
  const queue = await runSends(s.server, {
    count,
    clients: QUEUE_CLIENTS,
    body: (i) => ({
      template: MAIL_TEMPLATE,
      to: { userId: `reader_${i}` },
      data: { seq: `m-${i}`, order: `A-m-${i}`, total: "129.50" },
    }),
  });
  const waymark = await dispatch(s, MAIL_TEMPLATE, "smtp", count);
  return { channel: "email", count, queue, baseline, waymark };
}

/** Watches the machine, this process and the receivers from now until `stop`. */
function watchCpu(s: ThroughputSession, serverPid?: number) {
  const usage = watchUsage(
    { ...(serverPid ? { serverPid } : {}), postmasterPid: s.server.postmasterPid },
    2000,
  );
  const receiver0 = cpuSecondsOf(s.receivers.pid);
  return {
    stop(): { usage: Usage; cpu: CpuShares } {
      const u = usage.stop();
      const receiver = (100 * (cpuSecondsOf(s.receivers.pid) - receiver0)) / u.seconds;
      return {
        usage: u,
        cpu: {
          seconds: u.seconds,
          receiver,
          load: u.loadCpu,
          other: Math.max(0, u.otherCpu - receiver),
          machine: u.machineCpu,
        },
      };
    },
  };
}

const rate = (t: TallyView) =>
  t.keyed > 1 && t.last > t.first ? (t.keyed - 1) / ((t.last - t.first) / 1000) : NaN;

async function webhookBaseline(s: ThroughputSession, count: number, url: string): Promise<BaselineRun> {
  await s.receivers.reset();
  const target = new URL(url);
  const pool = new Pool(target.origin, { connections: DISPATCH_CONCURRENCY, pipelining: 1 });
  // Headers like the dispatcher's (Standard Webhooks), of the same size; not signed: HTTP alone.
  const headers = (i: number) => ({
    "content-type": "application/json",
    "webhook-id": `send:00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    "webhook-timestamp": String(Math.floor(Date.now() / 1000)),
    "webhook-signature": `v1,${"x".repeat(43)}=`,
  });
  const failures: Record<string, number> = {};
  let next = 0;
  const watch = watchCpu(s);
  const client = async () => {
    while (next < count) {
      const i = next++;
      try {
        const res = await pool.request({
          method: "POST",
          path: target.pathname,
          headers: headers(i),
          body: JSON.stringify({
            seq: `b-${i}`,
            email: `reader-${i}@example.com`,
            order: `A-${i}`,
            total: 129.5,
            items: 3,
          }),
        });
        await res.body.text();
        if (res.statusCode !== 200)
          failures[`HTTP ${res.statusCode}`] = (failures[`HTTP ${res.statusCode}`] ?? 0) + 1;
      } catch (err) {
        const why = (err as { code?: string }).code ?? (err as Error).message;
        failures[why] = (failures[why] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: DISPATCH_CONCURRENCY }, client));
  const { cpu } = watch.stop();
  await pool.close();
  const t = (await s.receivers.stats()).http;
  return {
    messages: count,
    received: t.keyed,
    repeats: t.repeats,
    failures,
    firstToLastSeconds: (t.last - t.first) / 1000,
    perSecond: rate(t),
    cpu,
  };
}

async function emailBaseline(s: ThroughputSession, count: number): Promise<BaselineRun> {
  await s.receivers.reset();
  const transport = createTransport({
    pool: true,
    host: "127.0.0.1",
    port: s.receivers.smtpPort,
    secure: false,
    maxConnections: SMTP_POOL,
  });
  const failures: Record<string, number> = {};
  let next = 0;
  const watch = watchCpu(s);
  // As many sends in flight as the dispatcher has; the pool queues them onto its connections.
  const client = async () => {
    while (next < count) {
      const i = next++;
      const mail = renderedMail(`b-${i}`, i);
      try {
        await transport.sendMail({
          from: "Acme Outdoor <orders@shop.example.com>",
          to: `reader-${i}@example.com`,
          subject: mail.subject,
          html: mail.html,
          text: mail.text,
          messageId: `<send:00000000-0000-4000-8000-${String(i).padStart(12, "0")}@waymark>`,
        });
      } catch (err) {
        const why = (err as { code?: string }).code ?? (err as Error).message;
        failures[why] = (failures[why] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: DISPATCH_CONCURRENCY }, client));
  const { cpu } = watch.stop();
  transport.close();
  const t = (await s.receivers.stats()).smtp;
  return {
    messages: count,
    received: t.keyed,
    repeats: t.repeats,
    failures,
    firstToLastSeconds: (t.last - t.first) / 1000,
    perSecond: rate(t),
    cpu,
  };
}

/** The queued messages of `template`, held, then sent by a worker process released onto them. */
async function dispatch(
  s: ThroughputSession,
  template: string,
  receiver: "http" | "smtp",
  count: number,
): Promise<DispatchRun> {
  await s.db.query("VACUUM (ANALYZE) messages");
  await s.db.query("CHECKPOINT");
  const hold = new pg.Client({
    connectionString: s.server.databaseUrl,
    application_name: "waymark-bench-hold",
  });
  hold.on("error", () => undefined);
  await hold.connect();
  let worker: Awaited<ReturnType<typeof startWaymarkWorker>> | undefined;
  try {
    await hold.query("BEGIN");
    const { rows } = await hold.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM (SELECT id FROM messages WHERE status = 'queued' AND template_key = $1 FOR UPDATE) q`,
      [template],
    );
    if (rows[0]!.n !== count) throw new Error(`${rows[0]!.n} of ${count} messages are queued`);
    worker = await startWaymarkWorker(
      path.join(s.tmp, `messaging-worker-${template}`),
      s.server.databaseUrl,
      {
        nodeArgs: s.nodeArgs,
        env: { WAYMARK_OUTBOUND_ALLOW: "127.0.0.1" },
      },
    );
    // Its start-up (modules, pool, first polls) is over before the measurement starts.
    await sleep(2000);
    s.log(
      `${template}: releasing ${count.toLocaleString("en-US")} queued messages to the worker (pid ${worker.pid})`,
    );
    if (s.pgStatements) await resetPgStatements(s.db);
    const counters0 = await readCounters(s.db);
    const watch = watchCpu(s, worker.pid);
    const activity = sampleActivity(s.db);
    const released = epochNow();
    await hold.query("ROLLBACK");

    const limitMs = Math.max(60_000, (count / 50) * 1000);
    let recordedAt: number | null = null;
    let tally = (await s.receivers.stats())[receiver];
    for (;;) {
      await sleep(100);
      tally = (await s.receivers.stats())[receiver];
      if (tally.keyed >= count && recordedAt === null) {
        const { rows: sent } = await s.db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM messages WHERE template_key = $1 AND status = 'sent'",
          [template],
        );
        if (sent[0]!.n >= count) recordedAt = epochNow();
      }
      if (recordedAt !== null || epochNow() - released > limitMs) break;
    }
    const { usage, cpu } = watch.stop();
    const profile = await activity.stop();
    s.log(
      `${template}: ${tally.keyed.toLocaleString("en-US")} received in ${((tally.last - tally.first) / 1000).toFixed(1)} s; ` +
        "waiting for the worker's pipeline to apply the delivery events",
    );
    const drainStarted = performance.now();
    let pipelineDrainSeconds: number | null = null;
    while ((performance.now() - drainStarted) / 1000 < s.drainSeconds) {
      if ((await readPipeline(s.server.url, s.server.adminToken)).waiting === 0) {
        pipelineDrainSeconds = (performance.now() - drainStarted) / 1000;
        break;
      }
      await sleep(250);
    }
    await stopChild(worker.pid);
    worker = undefined;
    const counters1 = await readCounters(s.db);
    const statements = s.pgStatements ? await readPgStatements(s.db, 16) : undefined;
    const { rows: statuses } = await s.db.query<{ status: string; n: number }>(
      "SELECT status, count(*)::int AS n FROM messages WHERE template_key = $1 GROUP BY status",
      [template],
    );
    return {
      messages: count,
      received: tally.keyed,
      repeats: tally.repeats,
      statuses: Object.fromEntries(statuses.map((r) => [r.status, r.n])),
      releaseToFirstMs: tally.first - released,
      firstToLastSeconds: (tally.last - tally.first) / 1000,
      releaseToRecordedSeconds: recordedAt === null ? null : (recordedAt - released) / 1000,
      perSecond: rate(tally),
      usage,
      cpu,
      activity: profile,
      pipelineDrainSeconds,
      ...(statements ? { statements } : {}),
      ...(counters0 && counters1
        ? {
            database: {
              commits: counters1.commits - counters0.commits,
              walFsyncs: counters1.walFsyncs - counters0.walFsyncs,
              walBytes: counters1.walBytes - counters0.walBytes,
            },
          }
        : {}),
    };
  } finally {
    await hold.end().catch(() => undefined);
    if (worker) await stopChild(worker.pid);
  }
}

async function readCounters(
  db: pg.Client,
): Promise<{ commits: number; walFsyncs: number; walBytes: number } | undefined> {
  try {
    const { rows } = await db.query<{ commits: string; fsyncs: string; bytes: string }>(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
              (SELECT coalesce(sum(fsyncs), 0) FROM pg_stat_io WHERE object = 'wal') AS fsyncs,
              (SELECT wal_bytes FROM pg_stat_wal) AS bytes`,
    );
    const r = rows[0]!;
    return { commits: Number(r.commits), walFsyncs: Number(r.fsyncs), walBytes: Number(r.bytes) };
  } catch {
    return undefined;
  }
}
