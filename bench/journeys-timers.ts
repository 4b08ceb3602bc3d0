import { sampleActivity, type ActivityProfile } from "./activity.ts";
import { cloneInstances, readerPeople, TIMER_BASELINE_JOURNEY, TIMER_JOURNEY } from "./journeys-data.ts";
import type { JourneySession } from "./journeys-waiting.ts";
import { quantile } from "./load.ts";
import { watchUsage, type Usage } from "./proc-stats.ts";

/**
 * Timers due in the same second (issue 5, benchmark 3): `timers` instances of a one-hour wait followed
 * by an exit step, due evenly within one second a few seconds ahead, on the server's database (beside
 * benchmark 2's waiting instances). The server (`--role all`, as shipped) fires them with its timer
 * loop. Measured from the `waited` audit rows (their `at` is the clock of the timer round that
 * advanced the instance; `waited until <due>` names the due time) and, for the commits, by counting
 * completed instances every 50 ms. The baseline is what PostgreSQL alone does with as many rows:
 * the same claim (due, oldest first, 500 at a time, SKIP LOCKED) and `SET due_at = NULL`, nothing
 * else, from the benchmark, on rows of a paused copy of the journey that the timer loop leaves alone.
 */

export interface TimersResult {
  timers: number;
  /** Seconds between the end of the insert and the first due time (the insert must come first). */
  leadSeconds: number;
  /**
   * Instances advanced per second by the rounds before the last, between the first and the last
   * round's clock (the `at` of the `waited` rows).
   */
  wakesPerSecond: number;
  firstToLastMs: number;
  /** Round clock minus due time, per instance, ms. */
  lateness: { p50: number; p99: number; max: number };
  /** Timer rounds that advanced these instances, and instances per round. */
  rounds: number;
  perRound: number;
  largestRound: number;
  /** Seen by polling: ms from the first due time until the first completed instance, and until all. */
  firstCommitMs: number | null;
  allCommittedMs: number | null;
  /** Instances whose `waited` row was found (must be `timers`). */
  advanced: number;
  usage: Usage;
  activity: ActivityProfile;
  baseline: { rows: number; seconds: number; perSecond: number; batches: number; usage: Usage };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const BATCH = 500;

export async function timersScenario(s: JourneySession, o: { timers: number }): Promise<TimersResult> {
  const ws = s.workspaceId;
  // Baseline first: the same number of due rows of the paused journey, claimed and cleared in batches.
  s.log(`timers: baseline, ${o.timers.toLocaleString("en-US")} rows cleared with plain UPDATEs of ${BATCH}`);
  await cloneInstances(s.db, {
    template: s.templates[TIMER_BASELINE_JOURNEY]!,
    journey: TIMER_BASELINE_JOURNEY,
    count: o.timers,
    people: readerPeople("$5"),
    times: `SELECT now() - interval '1 minute' - interval '1 hour' + make_interval(secs => g::float8 / $6) AS entered_at,
                   now() - interval '1 minute' + make_interval(secs => g::float8 / $6) AS due_at`,
    params: [ws, o.timers],
  });
  await s.db.query("VACUUM (ANALYZE) journey_instances");
  await s.db.query("CHECKPOINT");
  const baseWatch = watchUsage({ postmasterPid: s.server.postmasterPid }, 1000);
  const baseStarted = performance.now();
  let cleared = 0;
  let batches = 0;
  for (;;) {
    const { rowCount } = await s.db.query(
      `UPDATE journey_instances SET due_at = NULL, updated_at = $1
       WHERE id IN (SELECT id FROM journey_instances
                    WHERE status = 'active' AND due_at <= $1 AND journey_key = $2
                    ORDER BY due_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)`,
      [new Date(), TIMER_BASELINE_JOURNEY],
    );
    if (!rowCount) break;
    cleared += rowCount;
    batches++;
  }
  const baseSeconds = (performance.now() - baseStarted) / 1000;
  const baseUsage = baseWatch.stop();

  // The timers: due evenly within one second, starting a few seconds after the insert.
  const lead = 5;
  const { rows: t } = await s.db.query<{ first: Date }>(
    `SELECT date_trunc('second', now()) + make_interval(secs => $1) AS first`,
    [lead + 1],
  );
  const first = t[0]!.first;
  s.log(
    `timers: ${o.timers.toLocaleString("en-US")} instances due from ${first.toISOString()} within one second`,
  );
  await cloneInstances(s.db, {
    template: s.templates[TIMER_JOURNEY]!,
    journey: TIMER_JOURNEY,
    count: o.timers,
    people: readerPeople("$5"),
    times: `SELECT $6::timestamptz - interval '1 hour' + make_interval(secs => (g - 1)::float8 / $7) AS entered_at,
                   $6::timestamptz + make_interval(secs => (g - 1)::float8 / $7) AS due_at`,
    params: [ws, first, o.timers],
  });
  const leadSeconds = (first.getTime() - Date.now()) / 1000;
  if (leadSeconds < 1)
    s.log(`timers: the insert ended only ${leadSeconds.toFixed(1)} s before the first due time`);

  await sleep(Math.max(0, first.getTime() - Date.now() - 1000));
  const watch = watchUsage({ serverPid: s.server.pid, postmasterPid: s.server.postmasterPid }, 1000);
  const activity = sampleActivity(s.db);
  let firstCommit: number | null = null;
  let allCommitted: number | null = null;
  const until = first.getTime() + 120_000;
  while (Date.now() < until) {
    const { rows } = await s.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM journey_instances
       WHERE workspace_id = $1 AND journey_key = $2 AND status = 'completed'`,
      [ws, TIMER_JOURNEY],
    );
    const at = Date.now();
    if (firstCommit === null && rows[0]!.n > 0) firstCommit = at;
    if (rows[0]!.n >= o.timers) {
      allCommitted = at;
      break;
    }
    await sleep(50);
  }
  const usage = watch.stop();
  const profile = await activity.stop();

  const { rows: waited } = await s.db.query<{ at: Date; due: Date }>(
    `SELECT at, substring(reason from 'waited until (.*)$')::timestamptz AS due FROM journey_audit
     WHERE workspace_id = $1 AND journey_key = $2 AND kind = 'waited'`,
    [ws, TIMER_JOURNEY],
  );
  const lateness = Float64Array.from(waited.map((r) => r.at.getTime() - r.due.getTime())).sort();
  // Rounds run one after another (the loop goes again at once after a round that found work), so
  // the rounds before the last advanced their instances between the first and the last round's clock.
  const byClock = new Map<number, number>();
  for (const r of waited) byClock.set(r.at.getTime(), (byClock.get(r.at.getTime()) ?? 0) + 1);
  const rounds = [...byClock].sort((a, b) => a[0] - b[0]);
  const firstAt = rounds[0]?.[0] ?? NaN;
  const lastAt = rounds.at(-1)?.[0] ?? NaN;
  const lastRound = rounds.at(-1)?.[1] ?? 0;
  return {
    timers: o.timers,
    leadSeconds,
    wakesPerSecond: lastAt > firstAt ? (waited.length - lastRound) / ((lastAt - firstAt) / 1000) : NaN,
    firstToLastMs: lastAt - firstAt,
    lateness: {
      p50: quantile(lateness, 0.5),
      p99: quantile(lateness, 0.99),
      max: lateness.length ? lateness[lateness.length - 1]! : NaN,
    },
    rounds: rounds.length,
    perRound: rounds.length ? waited.length / rounds.length : 0,
    largestRound: Math.max(0, ...rounds.map((r) => r[1])),
    firstCommitMs: firstCommit === null ? null : firstCommit - first.getTime(),
    allCommittedMs: allCommitted === null ? null : allCommitted - first.getTime(),
    advanced: waited.length,
    usage,
    activity: profile,
    baseline: {
      rows: cleared,
      seconds: baseSeconds,
      perSecond: cleared / baseSeconds,
      batches,
      usage: baseUsage,
    },
  };
}
