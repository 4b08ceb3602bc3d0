import type { ActivityProfile } from "./activity.ts";
import type { AdvanceCase } from "./journeys-advance.ts";
import type { JourneyConfig } from "./journeys-suite.ts";
import type { TimersResult } from "./journeys-timers.ts";
import type { WaitingResult, WorkerRun } from "./journeys-waiting.ts";
import type { LatencyStats, WebhookRun, WebhooksResult } from "./journeys-webhooks.ts";
import type { Usage } from "./proc-stats.ts";
import type { Machine } from "./report.ts";

/** The journey benchmarks' section of bench/README.md (and the console). */

export const JOURNEY_TARGETS = {
  workerRssMb: 300,
  wakesPerSecond: 5000,
  latenessP99Ms: 1000,
  webhookP99Ms: 500,
};

type Outcome<T> = { ok: T } | { error: string };

export interface JourneyResults {
  machine: Omit<Machine, "seconds" | "warmupSeconds" | "role" | "serverIdleRssMb">;
  config: JourneyConfig;
  advance?: Outcome<AdvanceCase[]>;
  waiting?: Outcome<WaitingResult>;
  timers?: Outcome<TimersResult>;
  webhooks?: Outcome<WebhooksResult>;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—");
const ms = (n: number | null) =>
  n === null || !Number.isFinite(n) ? "—" : Math.abs(n) < 10 ? n.toFixed(2) : n.toFixed(1);
const pct = (n: number) => `${Math.round(n)}%`;
const mb = (n: number) => `${Math.round(n)} MB`;
const bytes = (n: number) =>
  n >= 2 ** 30
    ? `${(n / 2 ** 30).toFixed(2)} GiB`
    : n >= 2 ** 20
      ? `${(n / 2 ** 20).toFixed(0)} MiB`
      : `${int(n)} B`;
const mark = (ok: boolean) => (ok ? "met" : "**missed**");
const micros = (cpuPct: number, seconds: number, work: number) =>
  work > 0 ? ((cpuPct / 100) * seconds * 1e6) / work : NaN;

export function renderJourneysReport(r: JourneyResults): string {
  const m = r.machine;
  const out: string[] = [
    `Run of ${m.date}, everything on one machine (benchmark, Waymark processes, PostgreSQL), on a fresh data dir. ` +
      'The machine is shared with other work (other people\'s builds and tests run on it): the "CPU other" ' +
      "columns say how much, and a run with much of it is disturbed.",
    "",
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB memory`,
    `- Waymark ${m.revision}`,
    `- Node ${m.node}; PostgreSQL ${m.postgres || "—"} (embedded, ${m.settings || "—"})`,
    "",
  ];
  const targets: string[] = [];
  const bounds: string[] = [];
  if (r.advance) out.push(...advanceSection(r.advance, bounds));
  if (r.waiting) out.push(...waitingSection(r.waiting, targets, bounds, m.cores));
  if (r.timers) out.push(...timersSection(r.timers, targets, bounds, m.cores));
  if (r.webhooks) out.push(...webhooksSection(r.webhooks, targets, bounds, m.cores));
  out.push("**Targets** (issue 5)", "", ...targets, "", "**What bounds each**", "", ...bounds);
  return out.join("\n");
}

function advanceSection(o: Outcome<AdvanceCase[]>, bounds: string[]): string[] {
  if ("error" in o) {
    bounds.push(`- advance: failed (${o.error})`);
    return [`**The engine alone**: failed: ${o.error}`, ""];
  }
  const out = [
    "**The engine alone** (`advance`, in the benchmark process, no database): calls per second of two moves, each " +
      "beside the same loop doing only a copy of the instance: `structuredClone` (which `advance` starts with) and a " +
      "JSON round trip (what storing the state costs at least). One thread; the ratio is the engine's time per call " +
      "over the copy's.",
    "",
    "| move | instance as JSON | advance calls/s | µs per call | structuredClone/s | JSON round trip/s | advance ÷ structuredClone | effects, audit rows per call |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const c of o.ok) {
    out.push(
      `| ${c.name} | ${int(c.instanceBytes)} B | ${int(c.advance)} | ${ms(1e6 / c.advance)} | ${int(c.structuredClone)} | ` +
        `${int(c.jsonRoundTrip)} | ${(c.structuredClone / c.advance).toFixed(1)}× the time | ${c.effects}, ${c.audit} |`,
    );
  }
  out.push("", ...o.ok.map((c) => `- ${c.name}: ${c.what}.`), "");
  for (const c of o.ok) {
    bounds.push(
      `- advance, ${c.name}: one core of this process: ${ms(1e6 / c.advance)} µs per call, of which the copy of the ` +
        `instance it starts with is ${ms(1e6 / c.structuredClone)} µs (${pct((100 * c.advance) / c.structuredClone)}).`,
    );
  }
  return out;
}

function workerRow(name: string, w: WorkerRun): string {
  const u = w.usage;
  return (
    `| ${name} | ${int(w.instances)} | ${mb(w.rssStartMb)} | ${mb(w.rssEndMb)} | ${mb(u.serverRssMaxMb)} | ` +
    `${pct(u.serverCpu)} | ${pct(u.postgresCpu)} | ${pct(u.otherCpu)} | ${mb(u.postgresPssMaxMb)} |`
  );
}

function waitingSection(o: Outcome<WaitingResult>, targets: string[], bounds: string[], cores: number) {
  if ("error" in o) {
    targets.push(`- waiting instances: failed (${o.error})`);
    return [`**Waiting instances**: failed: ${o.error}`, ""];
  }
  const w = o.ok;
  const per = (n: number) => int(n / w.rows);
  const out = [
    `**${int(w.instances)} waiting instances** of a journey whose first step is a 30-day wait (then a webhook, then ` +
      "the end). One instance was created by the runtime (a trigger event through `/v1/track` and the pipeline); its " +
      `row was cloned with SQL (\`generate_series\`, 100,000 rows per statement: ${int(w.instances)} in ` +
      `${w.insertSeconds.toFixed(1)} s), each with its own id, profile id, messageId and userId in the trigger, entry ` +
      "time within the last day and due time 30 days after it, then `VACUUM (ANALYZE)` and `CHECKPOINT` " +
      `(${w.settleSeconds.toFixed(1)} s). Size of \`journey_instances\` (pg_total_relation_size: heap, TOAST, ` +
      `indexes) over its ${int(w.rows)} rows; the baseline is one instance as JSON text (\`row_to_json\`), what the ` +
      "data is before PostgreSQL stores it.",
    "",
    "| instances | total | heap | TOAST | indexes | bytes/instance | heap/instance | TOAST/instance | indexes/instance | baseline: JSON text/instance | state jsonb as stored |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${int(w.rows)} | ${bytes(w.disk.total)} | ${bytes(w.disk.heap)} | ${bytes(w.disk.toast)} | ${bytes(w.disk.indexes)} | ` +
      `${per(w.disk.total)} | ${per(w.disk.heap)} | ${per(w.disk.toast)} | ${per(w.disk.indexes)} | ${int(w.jsonBytes)} | ` +
      `${int(w.stateStoredBytes)} |`,
    "",
    `Indexes: ${w.disk.byIndex.map((i) => `\`${i.name}\` ${bytes(i.bytes)}`).join(", ")}.`,
    "",
    `**A worker beside them**: \`waymark start --role worker\` (event pipeline, timer loop, outbox dispatcher, ` +
      `scheduler) on the same database for ${int(w.loaded.seconds)} s, its VmRSS sampled every second; the baseline ` +
      "is the same worker for as long before the instances were added. The server (`--role all`) keeps running " +
      "its own loops meanwhile (its PostgreSQL work is in the postgres column).",
    "",
    "| worker | instances in the table | RSS at start | RSS at the end | RSS max | CPU worker | CPU postgres | CPU other | postgres PSS max |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    workerRow("baseline: before the instances", w.idle),
    workerRow(`beside ${int(w.instances)} waiting`, w.loaded),
    "",
  ];
  const rss = w.loaded.usage.serverRssMaxMb;
  targets.push(
    `- worker RSS < ${JOURNEY_TARGETS.workerRssMb} MB with ${int(w.instances)} instances waiting: ${mb(rss)} at most ` +
      `(${mb(w.idle.usage.serverRssMaxMb)} without them) — ${mark(rss < JOURNEY_TARGETS.workerRssMb)}`,
  );
  const u = w.loaded.usage;
  bounds.push(
    `- Waiting: memory does not grow with waiting instances (${mb(w.idle.usage.serverRssMaxMb)} → ${mb(rss)}): the ` +
      "timer loop asks PostgreSQL only for due rows (the partial index on due_at), so nothing of a waiting instance " +
      `is in the worker. Its loops cost ${pct(u.serverCpu)} of a core in the worker and ${pct(u.postgresCpu)} in ` +
      `PostgreSQL (both servers' polling)${u.machineCpu >= 0.85 * cores * 100 ? "; the machine was saturated by other work" : ""}. ` +
      `Disk: ${per(w.disk.total)} bytes per instance, ${(w.disk.total / w.rows / w.jsonBytes).toFixed(1)}× its JSON text; ` +
      `${pct((100 * w.disk.indexes) / w.disk.total)} of it indexes.`,
  );
  return out;
}

function timersSection(o: Outcome<TimersResult>, targets: string[], bounds: string[], cores: number) {
  if ("error" in o) {
    targets.push(`- timers: failed (${o.error})`);
    return [`**Timers due in the same second**: failed: ${o.error}`, ""];
  }
  const t = o.ok;
  const b = t.baseline;
  const commitRate =
    t.firstCommitMs !== null && t.allCommittedMs !== null && t.allCommittedMs > t.firstCommitMs
      ? t.timers / ((t.allCommittedMs - t.firstCommitMs) / 1000)
      : NaN;
  const out = [
    `**${int(t.timers)} timers due in the same second**: instances of a one-hour wait followed by an exit step, due ` +
      "evenly within one second (cloned with SQL from one the runtime created, inserted " +
      `${t.leadSeconds.toFixed(1)} s before the first due time, beside benchmark 2's waiting instances), fired by the ` +
      "server's timer loops (`--role all`: two rounds at a time, each a batch of 500 in one transaction, polling every 200 ms when idle). " +
      "**Wakes/s** counts the instances advanced by the rounds before the last over the time between the first and " +
      "the last round's clock (the `at` of the `waited` audit rows: a round's clock is read before it claims); " +
      "**lateness** is that clock minus the instance's due time (`waited until <due>`). **Committed** is seen by " +
      "counting completed instances every 50 ms, from the first due time. The baseline is PostgreSQL alone: the " +
      "same number of due rows (of a paused copy of the journey, which the timer loop skips) claimed as the loop " +
      "claims them (due, oldest first, 500, `FOR UPDATE SKIP LOCKED`) and set `due_at = NULL`, one statement " +
      "per batch, from the benchmark: no engine, no state, no audit rows.",
    "",
    "| run | instances | per second | lateness p50 ms | lateness p99 ms | lateness max ms | rounds (avg, largest) | first committed after | all committed after | commits/s | CPU server | CPU postgres | CPU other |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| baseline: UPDATE … SET due_at = NULL, 500 per statement | ${int(b.rows)} | ${int(b.perSecond)} | — | — | — | ` +
      `${b.batches} | — | ${int(b.seconds * 1000)} ms | — | — | ${pct(b.usage.postgresCpu)} | ${pct(b.usage.otherCpu)} |`,
    `| timer loop | ${int(t.advanced)} | ${int(t.wakesPerSecond)} | ${ms(t.lateness.p50)} | ${ms(t.lateness.p99)} | ` +
      `${ms(t.lateness.max)} | ${t.rounds} (${int(t.perRound)}, ${int(t.largestRound)}) | ${ms(t.firstCommitMs)} ms | ` +
      `${ms(t.allCommittedMs)} ms | ${int(commitRate)} | ${pct(t.usage.serverCpu)} | ${pct(t.usage.postgresCpu)} | ` +
      `${pct(t.usage.otherCpu)} |`,
    "",
    `- advanced: ${int(t.advanced)} of ${int(t.timers)} instances have their \`waited\` row — ` +
      `${t.advanced === t.timers ? "ok" : "**missing: a bug, or not within 2 minutes**"}`,
    "",
    ...activityLines(t.activity, "the server's connections while the timers fired"),
  ];
  targets.push(
    `- timers ≥ ${int(JOURNEY_TARGETS.wakesPerSecond)} wakes/s: ${int(t.wakesPerSecond)} (PostgreSQL alone: ` +
      `${int(b.perSecond)} rows/s) — ${mark(t.wakesPerSecond >= JOURNEY_TARGETS.wakesPerSecond)}`,
    `- timer lateness p99 < ${int(JOURNEY_TARGETS.latenessP99Ms)} ms: ${ms(t.lateness.p99)} ms (all committed ` +
      `${ms(t.allCommittedMs)} ms after the first due time, the last being due 1,000 ms after it) — ` +
      mark(t.lateness.p99 < JOURNEY_TARGETS.latenessP99Ms),
  );
  const u = t.usage;
  const work = u.seconds > 0 ? t.advanced : 0;
  bounds.push(
    `- Timers: ${found(u, cores, "server")}. Over the sampled ${u.seconds.toFixed(1)} s (from 1 s before the first ` +
      `due time until all were committed), CPU per instance: ${int(micros(u.serverCpu, u.seconds, work))} µs in the ` +
      `server, ${int(micros(u.postgresCpu, u.seconds, work))} µs in PostgreSQL, against ` +
      `${int(micros(b.usage.postgresCpu, b.usage.seconds, b.rows))} µs in PostgreSQL for the baseline's UPDATE. ` +
      "A round (up to 500 instances) is one transaction (claim, profiles, advance, upsert, audit rows): two loops " +
      "run rounds at once, each on its own connection (SKIP LOCKED: never the same instance), so the wake rate is about " +
      "twice the instances per round over a round's time; two rounds that read the same clock count as one in the rounds column.",
  );
  return out;
}

function webhookRow(name: string, people: string, w: WebhookRun): string {
  const lat = (l: LatencyStats | undefined) =>
    l ? `${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.max)}` : "— | — | —";
  const u = w.usage;
  return (
    `| ${name} | ${people} | ${int(w.sentPerSecond)} | ${ms(w.requestP50)} | ${ms(w.requestP99)} | ${lat(w.applied)} | ` +
    `${lat(w.webhook)} | ${pct(u.serverCpu)} | ${pct(u.postgresCpu)} | ${pct(u.loadCpu)} | ${pct(u.otherCpu)} |`
  );
}

function webhooksSection(o: Outcome<WebhooksResult>, targets: string[], bounds: string[], cores: number) {
  if ("error" in o) {
    targets.push(`- event to webhook: failed (${o.error})`);
    return [`**Event to webhook**: failed: ${o.error}`, ""];
  }
  const w = o.ok;
  const j = w.journey;
  const hook = j.webhook!;
  const out = [
    `**Event to webhook at ${int(w.rate)} events/s with ${int(w.live)} live instances**: instances of a journey ` +
      "waiting in a `hold_until` whose `Checkout Started` branch leads to a webhook step (to a receiver on 127.0.0.1 " +
      "in the benchmark process) and then the end (cloned with SQL from one the runtime created, " +
      `${w.insertSeconds.toFixed(1)} s, beside benchmarks 2 and 3's instances), on people with profiles. ` +
      `\`Checkout Started\` events (about 800 bytes) arrive through \`/v1/track\`, ${int(w.rate)} per second open-loop ` +
      `(sent on schedule whatever the answers), ${int(w.seconds)} s measured after ${w.warmupSeconds} s of warm-up, ` +
      "each from a different person, each with a `benchSeq` the webhook body repeats; the server runs as shipped " +
      "(`--role all`: ingestion, pipeline with its journey stage, timer loop and outbox dispatcher in one process). " +
      "**Webhook** is from sending the event until the receiver got its webhook; **applied** from sending it until " +
      "the person's profile counted it (`event_count`, polled every 20 ms), the pipeline's part. The baseline sends " +
      "the same events at the same rate to people without an instance: the pipeline's lag alone (its journey stage " +
      "finds nothing to advance).",
    "",
    "| run | people | events/s sent | request p50 ms | request p99 ms | applied p50 ms | applied p99 ms | applied max ms | webhook p50 ms | webhook p99 ms | webhook max ms | CPU server | CPU postgres | CPU load generator | CPU other |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    webhookRow("baseline: no instance", "without an instance", w.baseline),
    webhookRow("journey: hold → webhook", "each with an instance", j),
    "",
    ...[
      ["baseline", w.baseline],
      ["journey", j],
    ].map(([name, r]) => {
      const x = r as WebhookRun;
      const f = Object.entries(x.failures)
        .map(([k, v]) => `${v} × ${k}`)
        .join(", ");
      return (
        `- ${name as string}: ${int(x.applied.sent)} events sent, ${int(x.ok)} answered 200` +
        `${x.skipped ? `, **${int(x.skipped)} not sent** (64 waiting)` : ""}${f ? `, failures: ${f}` : ""}; ` +
        `${int(x.applied.seen)} counted on their profile` +
        (x.webhook ? `, ${int(x.webhook.seen)} webhooks received` : "") +
        `${x.applied.seen < x.applied.sent || (x.webhook && x.webhook.seen < x.webhook.sent) ? " (**the others not within 30 s**)" : ""}`
      );
    }),
    `- webhooks received twice: ${int(w.repeats)}; effects of the journey not done at the end: ` +
      `${Object.keys(w.outboxNotDone).length ? JSON.stringify(w.outboxNotDone) : "none"}`,
    "",
    ...(j.parts
      ? [
          "Where a webhook's time goes (journey run; the server's clock: the outbox row's `created_at` is the journey " +
            "stage's clock in the pipeline transaction that matched the event, the `webhook_sent` audit row's `at` the " +
            "dispatcher's clock when it claimed the effect):",
          "",
          "| part | events | p50 ms | p99 ms | max ms |",
          "| --- | ---: | ---: | ---: | ---: |",
          ...(
            [
              ["sent → the journey stage ran (ingestion, resolve, partition batch)", j.parts.toStage],
              ["→ the dispatcher claimed the effect (commit, notification, a free slot)", j.parts.toClaim],
              ["→ the receiver got it (the HTTP call)", j.parts.toReceiver],
            ] as const
          ).map(([name, l]) => `| ${name} | ${int(l.seen)} | ${ms(l.p50)} | ${ms(l.p99)} | ${ms(l.max)} |`),
          "",
          `The dispatcher claimed these effects in ${int(j.parts.claims)} claims (distinct claim clocks), ` +
            `${j.parts.perClaim.toFixed(1)} effects per claim on average; each claim is its own committed UPDATE.`,
          "",
        ]
      : []),
    ...activityLines(j.activity, "the server's connections during the journey run"),
  ];
  targets.push(
    `- event to webhook p99 < ${int(JOURNEY_TARGETS.webhookP99Ms)} ms at ${int(w.rate)} events/s: ${ms(hook.p99)} ms ` +
      `(the pipeline alone, event to profile: p99 ${ms(w.baseline.applied.p99)} ms) — ` +
      mark(hook.p99 < JOURNEY_TARGETS.webhookP99Ms && hook.seen === hook.sent),
  );
  const u = j.usage;
  const bu = w.baseline.usage;
  const events = j.applied.sent;
  bounds.push(
    `- Event to webhook: ${found(u, cores, "server")}. The profile counts the event after ${ms(j.applied.p50)} ms ` +
      `(p50; ${ms(w.baseline.applied.p50)} ms for the baseline's events, which no instance waits for)` +
      (j.parts
        ? `; of the webhook's p50 ${ms(hook.p50)} ms, ${ms(j.parts.toStage.p50)} ms pass until the journey stage runs, ` +
          `${ms(j.parts.toClaim.p50)} ms until the dispatcher claims the effect and ${ms(j.parts.toReceiver.p50)} ms in ` +
          `the HTTP call (p99: ${ms(j.parts.toStage.p99)}, ${ms(j.parts.toClaim.p99)}, ${ms(j.parts.toReceiver.p99)} ms)`
        : "") +
      ". CPU per event: " +
      `${int(micros(u.serverCpu, u.seconds, events))} µs in the server and ${int(micros(u.postgresCpu, u.seconds, events))} ` +
      `µs in PostgreSQL, against ${int(micros(bu.serverCpu, bu.seconds, w.baseline.applied.sent))} µs and ` +
      `${int(micros(bu.postgresCpu, bu.seconds, w.baseline.applied.sent))} µs for the baseline.`,
  );
  return out;
}

/** What the CPU columns say bounds a run: saturated cores, a Node process at a full core, other work. */
function found(u: Usage, cores: number, who: string): string {
  const f: string[] = [];
  if (u.machineCpu >= 0.85 * cores * 100)
    f.push(`the machine's ${cores} cores are saturated (${pct(u.machineCpu)} of ${cores * 100}%)`);
  if (u.serverCpu >= 85) f.push(`the ${who}'s Node process is at ${pct(u.serverCpu)} of a core (one thread)`);
  if (u.postgresCpu >= 85) f.push(`PostgreSQL is at ${pct(u.postgresCpu)} of a core`);
  if (u.otherCpu >= 25)
    f.push(`other work on the machine took ${pct(u.otherCpu)} of a core: the run was disturbed`);
  if (f.length === 0)
    f.push(
      `no CPU is saturated (${who} ${pct(u.serverCpu)}, postgres ${pct(u.postgresCpu)}, machine ` +
        `${pct(u.machineCpu)} of ${cores * 100}%): the time goes to waiting (polls, commits, round trips)`,
    );
  return `${f.join("; ")} (${who} ${pct(u.serverCpu)}, postgres ${pct(u.postgresCpu)}, load generator ${pct(u.loadCpu)}, other ${pct(u.otherCpu)})`;
}

function activityLines(a: ActivityProfile, whose: string): string[] {
  if (a.samples === 0) return [];
  return [
    `Where ${whose} spent the time (pg_stat_activity every 100 ms, ${int(a.samples)} samples: average number of ` +
      `connections in each state; ${a.busy.toFixed(2)} busy on average; \`idle in tx\` is the Node process working, ` +
      "or a round trip, between two statements of a transaction):",
    "",
    "| state: statement | connections |",
    "| --- | ---: |",
    ...a.shares
      .slice(0, 8)
      .map((s) => `| \`${s.label.replaceAll("|", "\\|")}\` | ${s.connections.toFixed(2)} |`),
    "",
  ];
}
