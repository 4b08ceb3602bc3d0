import { sampleActivity, type ActivityProfile } from "./activity.ts";
import { cloneInstances, HOLD_JOURNEY, readerPeople, trackBody } from "./journeys-data.ts";
import type { Receiver } from "./journeys-receiver.ts";
import type { JourneySession } from "./journeys-waiting.ts";
import { quantile } from "./load.ts";
import { runPaced } from "./paced-load.ts";
import { waitForDrain } from "./pipeline.ts";
import { watchUsage, type Usage } from "./proc-stats.ts";

/**
 * Event to webhook at a steady rate (issue 5, benchmark 4): `live` instances wait in a hold_until
 * whose `Checkout Started` branch leads to a webhook step; `Checkout Started` events arrive through
 * `/v1/track` at `rate` per second, open-loop, each from a different person with an instance, and
 * each carries a `benchSeq` that the webhook body repeats, so the receiver (in this process, same
 * clock) times each one from its send. The baseline sends the same events at the same rate to as
 * many people without an instance, and times each until its profile counts it (`event_count`, polled
 * every 20 ms): the pipeline's lag (ingestion, identity, profile stage, and the journey stage finding
 * nothing). The journey run is timed the same way too, which splits its latency into the pipeline's
 * part and the rest (the outbox dispatcher's pick-up and the HTTP call).
 */

export interface LatencyStats {
  /** Events sent in the measured run, and those seen (applied, or their webhook received). */
  sent: number;
  seen: number;
  p50: number;
  p99: number;
  max: number;
}

export interface WebhookRun {
  /** Events per second sent (measured run), answered 200, and skipped (64 requests waiting). */
  sentPerSecond: number;
  ok: number;
  skipped: number;
  failures: Record<string, number>;
  requestP50: number;
  requestP99: number;
  /** From send until the profile counted the event. */
  applied: LatencyStats;
  /** From send until the receiver got the webhook (journey run only). */
  webhook?: LatencyStats;
  /**
   * The webhook's latency in three parts (journey run only), from the server's own clock: send until
   * the journey stage ran (the outbox row's created_at), until the dispatcher claimed the effect (the
   * `webhook_sent` audit row's at, the claim's clock), until the receiver got it.
   */
  parts?: {
    toStage: LatencyStats;
    toClaim: LatencyStats;
    toReceiver: LatencyStats;
    /** Claims (distinct claim clocks) that took these effects, and effects per claim. */
    claims: number;
    perClaim: number;
  };
  usage: Usage;
  activity: ActivityProfile;
}

export interface WebhooksResult {
  live: number;
  rate: number;
  seconds: number;
  warmupSeconds: number;
  insertSeconds: number;
  baseline: WebhookRun;
  journey: WebhookRun;
  /** Webhooks received more than once, and outbox effects not done at the end. */
  repeats: number;
  outboxNotDone: Record<string, number>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const POLL_MS = 20;
const SEEN_WAIT_MS = 30_000;
/** A profile made by createProfiles starts with this event_count. */
const INITIAL_EVENT_COUNT = 12;

export async function webhooksScenario(
  s: JourneySession,
  receiver: Receiver,
  o: {
    live: number;
    rate: number;
    seconds: number;
    warmupSeconds: number;
    drainSeconds: number;
    /** The first reader (`reader_<n>`) of the people without an instance. */
    baselineFrom: number;
  },
): Promise<WebhooksResult> {
  s.log(`webhooks: cloning ${o.live.toLocaleString("en-US")} instances of ${HOLD_JOURNEY} with SQL`);
  const insertSeconds = await cloneInstances(s.db, {
    template: s.templates[HOLD_JOURNEY]!,
    journey: HOLD_JOURNEY,
    count: o.live,
    people: readerPeople("$5"),
    times: `SELECT now() - make_interval(secs => g % 86400) AS entered_at,
                   now() - make_interval(secs => g % 86400) + interval '7 days' AS due_at`,
    params: [s.workspaceId],
  });
  const { rows: live } = await s.db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM journey_instances WHERE workspace_id = $1 AND journey_key = $2 AND status = 'active'",
    [s.workspaceId, HOLD_JOURNEY],
  );
  if (live[0]!.n < o.live) throw new Error(`only ${live[0]!.n} of ${o.live} hold instances were created`);
  await s.db.query("VACUUM (ANALYZE) journey_instances, profiles, identities");
  await s.db.query("CHECKPOINT");

  const perRun = Math.ceil(o.rate * (o.seconds + o.warmupSeconds)) + 64;
  if (perRun > o.live) throw new Error(`${perRun} people needed per run, only ${o.live} instances`);
  // Each person gets one event: people with an instance drawn at random, the others in order.
  const holders = shuffle(Array.from({ length: o.live }, (_, i) => i)).slice(0, perRun);
  const others = Array.from({ length: perRun }, (_, i) => o.baselineFrom + i);
  const profileOf = await profileIds(s, [...holders, ...others]);

  s.log(`webhooks: baseline, ${o.rate} events/s to people without an instance`);
  const baseline = await run(s, receiver, o, others, profileOf, "b", false);
  s.log(`webhooks: ${o.rate} events/s to people waiting in ${HOLD_JOURNEY}`);
  const journey = await run(s, receiver, o, holders, profileOf, "j", true);
  const { rows: outbox } = await s.db.query<{ status: string; n: number }>(
    `SELECT status, count(*)::int AS n FROM outbox WHERE workspace_id = $1 AND journey_key = $2 AND status <> 'done'
     GROUP BY status`,
    [s.workspaceId, HOLD_JOURNEY],
  );
  return {
    live: o.live,
    rate: o.rate,
    seconds: o.seconds,
    warmupSeconds: o.warmupSeconds,
    insertSeconds,
    baseline,
    journey,
    repeats: receiver.repeats,
    outboxNotDone: Object.fromEntries(outbox.map((r) => [r.status, r.n])),
  };
}

/** Warm-up (not measured), a wait for the backlog to clear, then the measured run. */
async function run(
  s: JourneySession,
  receiver: Receiver,
  o: { rate: number; seconds: number; warmupSeconds: number; drainSeconds: number },
  people: number[],
  profileOf: Map<number, string>,
  tag: string,
  webhooks: boolean,
): Promise<WebhookRun> {
  const auth = { authorization: `Basic ${Buffer.from(`${s.server.writeKey}:`).toString("base64")}` };
  let next = 0;
  const sent = new Map<number, { seq: string; profile: string; at: number }>();
  let measuring = false;
  const body = (n: number) => {
    const person = people[next++]!;
    const seq = `${tag}${measuring ? "" : "w"}-${n}`;
    if (measuring) sent.set(n, { seq, profile: profileOf.get(person)!, at: performance.now() });
    return {
      body: trackBody(`reader_${person}`, "Checkout Started", `bench-${seq}-${person}`, {
        benchSeq: seq,
        cart_id: `cart_${person}`,
        total: 129.5,
        items: 3,
      }),
      events: 1,
    };
  };
  const paced = (seconds: number) =>
    runPaced({
      origin: s.server.url,
      path: "/v1/track",
      headers: auth,
      requestsPerSecond: o.rate,
      seconds,
      maxInFlight: 64,
      nextBody: body,
    });
  await paced(o.warmupSeconds);
  await settle(s, o.drainSeconds, webhooks);

  measuring = true;
  // Memory every 2 s: a sample stalls this process (which sends and receives) for several ms.
  const watch = watchUsage({ serverPid: s.server.pid, postmasterPid: s.server.postmasterPid }, 2000);
  const activity = sampleActivity(s.db);
  const applied = new Map<number, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const t0 = performance.now();
      const pending = [...sent].filter(([n]) => !applied.has(n));
      if (pending.length > 0) {
        try {
          const { rows } = await s.db.query<{ id: string }>(
            `SELECT id FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[]) AND event_count > $3`,
            [s.workspaceId, pending.map(([, e]) => e.profile), INITIAL_EVENT_COUNT],
          );
          const at = performance.now();
          const done = new Set(rows.map((r) => r.id));
          for (const [n, e] of pending) if (done.has(e.profile)) applied.set(n, at);
        } catch (err) {
          s.log(`profile poll failed: ${(err as Error).message}`);
        }
      }
      await sleep(Math.max(0, POLL_MS - (performance.now() - t0)));
    }
  })();
  let r;
  try {
    r = await paced(o.seconds);
  } finally {
    measuring = false;
  }
  const usage = watch.stop();
  const profile = await activity.stop();
  const until = performance.now() + SEEN_WAIT_MS;
  const allSeen = () =>
    applied.size >= sent.size && (!webhooks || [...sent.values()].every((e) => receiver.arrived.has(e.seq)));
  while (!allSeen() && performance.now() < until) await sleep(50);
  polling = false;
  await poller;

  const stats = (
    at: (n: number, seq: string) => number | undefined,
    from?: (seq: string) => number | undefined,
  ) => {
    const lat: number[] = [];
    for (const [n, e] of sent) {
      const t = at(n, e.seq);
      const t0 = from ? from(e.seq) : e.at;
      if (t !== undefined && t0 !== undefined) lat.push(t - t0);
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
  return {
    sentPerSecond: r.sent / r.seconds,
    ok: r.ok,
    skipped: r.skipped,
    failures: r.failures,
    requestP50: quantile(r.latencies, 0.5),
    requestP99: quantile(r.latencies, 0.99),
    applied: stats((n) => applied.get(n)),
    ...(webhooks ? { webhook: stats((_n, seq) => receiver.arrived.get(seq)) } : {}),
    ...(webhooks ? { parts: await parts(s, tag, sent, receiver, stats) } : {}),
    usage,
    activity: profile,
  };
}

/**
 * Splits each webhook's latency at the outbox row's created_at and its `webhook_sent` audit row's at
 * (server clock, epoch ms; this process's sends and arrivals are turned into epoch ms the same way).
 */
async function parts(
  s: JourneySession,
  tag: string,
  sent: Map<number, { seq: string; at: number }>,
  receiver: Receiver,
  stats: (
    at: (n: number, seq: string) => number | undefined,
    from?: (seq: string) => number | undefined,
  ) => LatencyStats,
): Promise<NonNullable<WebhookRun["parts"]>> {
  const { rows } = await s.db.query<{ seq: string; created: number; claimed: number }>(
    `SELECT (o.payload->'request'->>'body')::jsonb->>'seq' AS seq,
            extract(epoch FROM o.created_at)::float8 * 1000 AS created,
            extract(epoch FROM a.at)::float8 * 1000 AS claimed
     FROM outbox o JOIN journey_audit a ON a.instance_id = o.instance_id AND a.kind = 'webhook_sent'
     WHERE o.workspace_id = $1 AND o.journey_key = $2 AND o.kind = 'webhook'
       AND (o.payload->'request'->>'body')::jsonb->>'seq' LIKE $3`,
    [s.workspaceId, HOLD_JOURNEY, `${tag}-%`],
  );
  const origin = performance.timeOrigin;
  const bySeq = new Map(rows.map((r) => [r.seq, r]));
  const sentAt = new Map([...sent.values()].map((e) => [e.seq, origin + e.at]));
  const claims = new Set(rows.map((r) => r.claimed)).size;
  return {
    claims,
    perClaim: claims ? rows.length / claims : 0,
    toStage: stats(
      (_n, seq) => bySeq.get(seq)?.created,
      (seq) => sentAt.get(seq),
    ),
    toClaim: stats(
      (_n, seq) => bySeq.get(seq)?.claimed,
      (seq) => bySeq.get(seq)?.created,
    ),
    toReceiver: stats(
      (_n, seq) => {
        const at = receiver.arrived.get(seq);
        return at === undefined ? undefined : origin + at;
      },
      (seq) => bySeq.get(seq)?.claimed,
    ),
  };
}

/** Waits for the pipeline to drain and, for the journey run, the outbox to have nothing pending. */
async function settle(s: JourneySession, limitSeconds: number, webhooks: boolean): Promise<void> {
  const until = performance.now() + limitSeconds * 1000;
  await waitForDrain(s.server.url, s.server.adminToken, limitSeconds);
  while (webhooks && performance.now() < until) {
    const { rows } = await s.db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM outbox WHERE workspace_id = $1 AND status = 'pending'",
      [s.workspaceId],
    );
    if (rows[0]!.n === 0) break;
    await sleep(100);
  }
  await sleep(500);
}

async function profileIds(s: JourneySession, readers: number[]): Promise<Map<number, string>> {
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

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}
