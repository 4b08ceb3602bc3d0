import type pg from "pg";
import { sampleActivity, type ActivityProfile } from "./activity.ts";
import { trackBody } from "./journeys-data.ts";
import type { LatencyStats } from "./journeys-webhooks.ts";
import { quantile } from "./load.ts";
import {
  BUSY_JOURNEY,
  RECEIPT_JOURNEY,
  cpuSecondsOf,
  epochNow,
  receiptSubject,
  sleep,
} from "./messaging-data.ts";
import type { Receivers } from "./messaging-receivers.ts";
import { runPaced, type PacedResult } from "./paced-load.ts";
import { waitForDrain } from "./pipeline.ts";
import { watchUsage, type Usage } from "./proc-stats.ts";
import type { WaymarkServer } from "./processes.ts";

/**
 * Benchmark 3: from an event to its email, while the journey engine is busy. A journey sends a
 * receipt by email when `Order Placed` arrives (trigger → message step, transactional); `Order Placed`
 * events come through `/v1/track` at `rate` per second, open-loop, each from a different person with
 * an email address, each with a `benchSeq` the receipt's subject repeats (the SMTP receiver, in a
 * process of its own, keys each mail by its subject and times it on the same clock). Meanwhile
 * `background` events per second of `Product Viewed` (in `/v1/batch` requests of 10, each from a new
 * visitor, so each makes a profile) enter a second journey: a 2 s wait, then a webhook, so the timer
 * loop fires and the outbox dispatcher sends as many webhooks per second as events arrive.
 *
 * The baseline is the pipeline's own lag on the same events: from sending `Order Placed` until the
 * person's profile counts it (`event_count`, polled every 20 ms). The email's time is split from the
 * server's clock: until the journey stage wrote the message effect (the outbox row's created_at),
 * until the messaging worker took it into the message log (the message's created_at), until the
 * dispatcher claimed it (its sent_at, the claim's clock), until the receiver got it.
 */

export interface LatencySession {
  server: WaymarkServer;
  db: pg.Client;
  workspaceId: string;
  receivers: Receivers;
  log: (line: string) => void;
}

export interface LatencyResult {
  rate: number;
  background: number;
  seconds: number;
  warmupSeconds: number;
  probes: { paced: PacedResult; sentPerSecond: number };
  backgroundLoad: { paced: PacedResult; eventsPerSecond: number; webhooksPerSecond: number; entered: number };
  applied: LatencyStats;
  email: LatencyStats;
  parts: {
    toStage: LatencyStats;
    toAccepted: LatencyStats;
    toClaimed: LatencyStats;
    toReceiver: LatencyStats;
  };
  repeats: number;
  usage: Usage;
  receiverCpu: number;
  activity: ActivityProfile;
}

const POLL_MS = 20;
/** How long after the run the last receipts may take (a backlog drains at the dispatcher's rate). */
const SEEN_WAIT_MS = 90_000;
/** A profile made by createProfiles starts with this event_count. */
const INITIAL_EVENT_COUNT = 12;
const BATCH = 10;

export async function latencyScenario(
  s: LatencySession,
  o: {
    rate: number;
    background: number;
    seconds: number;
    warmupSeconds: number;
    drainSeconds: number;
    /** The first reader (`reader_<n>`) of the probes: people with an email and no message yet. */
    firstReader: number;
  },
): Promise<LatencyResult> {
  const perRun = Math.ceil(o.rate * (o.seconds + o.warmupSeconds));
  const readers = Array.from({ length: perRun }, (_, i) => o.firstReader + i);
  const profileOf = await profileIds(s, readers);
  await s.db.query("VACUUM (ANALYZE)");
  await s.db.query("CHECKPOINT");
  await waitForDrain(s.server.url, s.server.adminToken, o.drainSeconds);
  await s.receivers.reset();

  const auth = { authorization: `Basic ${Buffer.from(`${s.server.writeKey}:`).toString("base64")}` };
  const warmupUntil = performance.now() + o.warmupSeconds * 1000;
  const sent = new Map<string, { profile: string; at: number }>();
  let watch: ReturnType<typeof watchUsage> | undefined;
  let receiver0 = 0;
  let activity: ReturnType<typeof sampleActivity> | undefined;
  let measuredFrom = 0;
  const startMeasuring = () => {
    if (watch) return;
    watch = watchUsage({ serverPid: s.server.pid, postmasterPid: s.server.postmasterPid }, 2000);
    receiver0 = cpuSecondsOf(s.receivers.pid);
    activity = sampleActivity(s.db);
    measuredFrom = epochNow();
  };
  let n = 0;
  const probeBody = () => {
    const person = readers[n++]!;
    const measuring = performance.now() >= warmupUntil;
    if (measuring) startMeasuring();
    const seq = `${measuring ? "l" : "w"}-${person}`;
    if (measuring) sent.set(seq, { profile: profileOf.get(person)!, at: epochNow() });
    return {
      body: trackBody(`reader_${person}`, "Order Placed", `bench-order-${seq}`, {
        benchSeq: seq,
        order: `A-${person}`,
        total: "129.50",
        items: 3,
      }),
      events: 1,
    };
  };
  let busy = 0;
  const backgroundBody = () => {
    const batch = Array.from({ length: BATCH }, () => {
      const i = busy++;
      return JSON.parse(
        trackBody(`visitor_${i}`, "Product Viewed", `bench-viewed-${i}`, {
          busySeq: `v-${i}`,
          sku: `SKU-${i % 500}`,
        }),
      ) as unknown;
    });
    return { body: JSON.stringify({ batch }), events: BATCH };
  };

  // The probes' applied times, polled from their profiles.
  const applied = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const t0 = performance.now();
      const pending = [...sent].filter(([seq]) => !applied.has(seq));
      if (pending.length > 0) {
        try {
          const { rows } = await s.db.query<{ id: string }>(
            "SELECT id FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[]) AND event_count > $3",
            [s.workspaceId, pending.map(([, e]) => e.profile), INITIAL_EVENT_COUNT],
          );
          const at = epochNow();
          const done = new Set(rows.map((r) => r.id));
          for (const [seq, e] of pending) if (done.has(e.profile)) applied.set(seq, at);
        } catch (err) {
          s.log(`profile poll failed: ${(err as Error).message}`);
        }
      }
      await sleep(Math.max(0, POLL_MS - (performance.now() - t0)));
    }
  })();

  const total = o.warmupSeconds + o.seconds;
  s.log(
    `msg-latency: ${o.rate} Order Placed/s beside ${o.background} Product Viewed/s, ${o.warmupSeconds} s warm-up, ${o.seconds} s measured`,
  );
  const [probes, background] = await Promise.all([
    runPaced({
      origin: s.server.url,
      path: "/v1/track",
      headers: auth,
      requestsPerSecond: o.rate,
      seconds: total,
      maxInFlight: 64,
      nextBody: probeBody,
    }),
    o.background > 0
      ? runPaced({
          origin: s.server.url,
          path: "/v1/batch",
          headers: auth,
          requestsPerSecond: o.background / BATCH,
          seconds: total,
          maxInFlight: 64,
          nextBody: backgroundBody,
        })
      : Promise.resolve(null),
  ]);
  if (!watch || !activity) throw new Error("the measured part never started");
  const usage = watch.stop();
  const receiverCpu = (100 * (cpuSecondsOf(s.receivers.pid) - receiver0)) / usage.seconds;
  const profile = await activity.stop();
  const measuredUntil = epochNow();
  const busyWebhooks = await s.receivers.arrivals("http", "v-");
  const webhooksInWindow = [...busyWebhooks.values()].filter(
    (at) => at >= measuredFrom && at <= measuredUntil,
  ).length;

  const until = performance.now() + SEEN_WAIT_MS;
  let emails = await s.receivers.arrivals("smtp", receiptSubject("l-"));
  while (performance.now() < until && (applied.size < sent.size || emails.size < sent.size)) {
    await sleep(200);
    emails = await s.receivers.arrivals("smtp", receiptSubject("l-"));
  }
  polling = false;
  await poller;

  const { rows } = await s.db.query<{
    seq: string;
    staged: number;
    accepted: number;
    claimed: number | null;
  }>(
    `SELECT m.data->'event'->'properties'->>'benchSeq' AS seq,
            extract(epoch FROM o.created_at)::float8 * 1000 AS staged,
            extract(epoch FROM m.created_at)::float8 * 1000 AS accepted,
            extract(epoch FROM m.sent_at)::float8 * 1000 AS claimed
     FROM messages m JOIN outbox o ON o.workspace_id = m.workspace_id AND o.key = m.idempotency_key
     WHERE m.workspace_id = $1 AND m.journey_key = $2`,
    [s.workspaceId, RECEIPT_JOURNEY],
  );
  const bySeq = new Map(rows.map((r) => [r.seq, r]));
  const { rows: entered } = await s.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM journey_instances WHERE workspace_id = $1 AND journey_key = $2",
    [s.workspaceId, BUSY_JOURNEY],
  );
  const stats = (to: (seq: string) => number | undefined, from: (seq: string) => number | undefined) => {
    const lat: number[] = [];
    for (const seq of sent.keys()) {
      const a = from(seq);
      const b = to(seq);
      if (a !== undefined && b !== undefined && b !== null) lat.push(b - a);
    }
    const sorted = Float64Array.from(lat).sort();
    return {
      sent: sent.size,
      seen: sorted.length,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted.length ? sorted[sorted.length - 1]! : NaN,
    };
  };
  const sentAt = (seq: string) => sent.get(seq)?.at;
  const emailSubjectOf = (seq: string) => emails.get(receiptSubject(seq));
  const smtpStats = await s.receivers.stats();
  return {
    rate: o.rate,
    background: o.background,
    seconds: o.seconds,
    warmupSeconds: o.warmupSeconds,
    probes: { paced: probes, sentPerSecond: probes.sent / probes.seconds },
    backgroundLoad: {
      paced: background ?? emptyPaced(),
      eventsPerSecond: background ? background.events / background.seconds : 0,
      webhooksPerSecond: webhooksInWindow / ((measuredUntil - measuredFrom) / 1000),
      entered: entered[0]!.n,
    },
    applied: stats((seq) => applied.get(seq), sentAt),
    email: stats(emailSubjectOf, sentAt),
    parts: {
      toStage: stats((seq) => bySeq.get(seq)?.staged, sentAt),
      toAccepted: stats(
        (seq) => bySeq.get(seq)?.accepted,
        (seq) => bySeq.get(seq)?.staged,
      ),
      toClaimed: stats(
        (seq) => bySeq.get(seq)?.claimed ?? undefined,
        (seq) => bySeq.get(seq)?.accepted,
      ),
      toReceiver: stats(emailSubjectOf, (seq) => bySeq.get(seq)?.claimed ?? undefined),
    },
    repeats: smtpStats.smtp.repeats,
    usage,
    receiverCpu,
    activity: profile,
  };
}

function emptyPaced(): PacedResult {
  return { seconds: 0, sent: 0, ok: 0, events: 0, skipped: 0, latencies: new Float64Array(), failures: {} };
}

async function profileIds(s: LatencySession, readers: number[]): Promise<Map<number, string>> {
  const { rows } = await s.db.query<{ value: string; profile_id: string }>(
    `SELECT value, profile_id FROM identities WHERE workspace_id = $1 AND type = 'user_id' AND value = ANY($2::text[])`,
    [s.workspaceId, readers.map((r) => `reader_${r}`)],
  );
  const map = new Map(rows.map((r) => [Number(r.value.slice("reader_".length)), r.profile_id]));
  const missing = readers.filter((r) => !map.has(r));
  if (missing.length > 0)
    throw new Error(`${missing.length} readers have no profile (e.g. reader_${missing[0]})`);
  return map;
}
