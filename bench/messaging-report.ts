import type { ActivityProfile } from "./activity.ts";
import type { LatencyStats } from "./journeys-webhooks.ts";
import type { LatencyResult } from "./messaging-latency.ts";
import type { MessagingConfig } from "./messaging-suite.ts";
import { DISPATCH_CONCURRENCY, SMTP_POOL, type ThroughputResult } from "./messaging-throughput.ts";
import type { StatementTime } from "./pg-statements.ts";
import type { Machine } from "./report.ts";

/** The messaging benchmarks' section of bench/README.md (and the console). */

export const MESSAGING_TARGETS = {
  webhooksPerSecond: 1000,
  emailsPerSecond: 300,
  emailP99Ms: 1000,
};

type Outcome<T> = { ok: T } | { error: string };

export interface MessagingResults {
  machine: Omit<Machine, "seconds" | "warmupSeconds" | "role" | "serverIdleRssMb">;
  config: MessagingConfig;
  webhooks?: Outcome<ThroughputResult>;
  emails?: Outcome<ThroughputResult>;
  latency?: Outcome<LatencyResult>;
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "—");
const ms = (n: number | null) =>
  n === null || !Number.isFinite(n) ? "—" : Math.abs(n) < 10 ? n.toFixed(2) : n.toFixed(1);
const sec = (n: number | null) => (n === null || !Number.isFinite(n) ? "—" : `${n.toFixed(1)} s`);
const pct = (n: number) => (Number.isFinite(n) ? `${Math.round(n)}%` : "—");
const mark = (ok: boolean) => (ok ? "met" : "**missed**");
const micros = (cpuPct: number, seconds: number, work: number) =>
  work > 0 ? ((cpuPct / 100) * seconds * 1e6) / work : NaN;
const failures = (f: Record<string, number>) =>
  Object.keys(f).length === 0
    ? "no failed requests"
    : Object.entries(f)
        .map(([k, v]) => `${int(v)} × ${k}`)
        .join(", ");

export function renderMessagingReport(r: MessagingResults): string {
  const m = r.machine;
  const out: string[] = [
    `Run of ${m.date}, everything on one machine (benchmark, receivers, Waymark processes, PostgreSQL), on a fresh data dir. ` +
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
  if (r.webhooks) out.push(...throughputSection(r.webhooks, "webhook", m.cores, targets, bounds));
  if (r.emails) out.push(...throughputSection(r.emails, "email", m.cores, targets, bounds));
  if (r.latency) out.push(...latencySection(r.latency, m.cores, targets, bounds));
  out.push("**Targets**", "", ...targets.map((t) => `- ${t}`), "", "**What bounds each**", "");
  out.push(...bounds.map((b) => `- ${b}`));
  return out.join("\n");
}

function throughputSection(
  outcome: Outcome<ThroughputResult>,
  kind: "webhook" | "email",
  cores: number,
  targets: string[],
  bounds: string[],
): string[] {
  const title = kind === "webhook" ? "Webhooks per second" : "Emails per second";
  const target = kind === "webhook" ? MESSAGING_TARGETS.webhooksPerSecond : MESSAGING_TARGETS.emailsPerSecond;
  if ("error" in outcome) {
    targets.push(`${kind}s ≥ ${int(target)}/s: not measured (${outcome.error})`);
    return [`**${title}**: failed: ${outcome.error}`, ""];
  }
  const t = outcome.ok;
  const w = t.waymark;
  const b = t.baseline;
  const receiver =
    kind === "webhook"
      ? "a webhook receiver on 127.0.0.1 (node:http, answers 200 `{}` at once)"
      : "an SMTP server on 127.0.0.1 (smtp-server without TLS, AUTH or mailparser: it reads the Subject and drops the rest)";
  const what =
    kind === "webhook"
      ? `webhooks (template \`channel: webhook\`, a 5-field JSON body from the profile and the send's data, signed per Standard Webhooks)`
      : `emails (an order confirmation: a Liquid subject and about 1.6 KB of HTML, the text part generated from it, over the channel's pool of ${SMTP_POOL} SMTP connections)`;
  const base =
    kind === "webhook"
      ? `undici, ${DISPATCH_CONCURRENCY} connections, each sending its next POST (same body and header sizes, not signed) when the last is answered`
      : `nodemailer straight to the server with the same pool (${SMTP_POOL} connections), ${DISPATCH_CONCURRENCY} sends in flight, the same mail already rendered`;
  const lines = [
    `**${title}**: ${int(t.count)} ${what} to ${receiver}, in a process of its own. ` +
      `They were queued through \`POST /api/v1/send\` (16 clients, closed-loop) of a \`--role api\` server, held by a row lock while ` +
      `a \`waymark start --role worker\` process started on the same database, then released at once: its dispatcher ` +
      `(${DISPATCH_CONCURRENCY} messages in flight) sent them. **Per second** counts from the first to the last arrival at the receiver. ` +
      `The baseline is the same receiver fed by ${base}: what the protocol and the receiver allow on this machine.`,
    "",
    "| run | messages | per second | first → last | received | received twice | CPU worker | CPU postgres | CPU receiver | CPU benchmark | CPU other |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| baseline: ${kind === "webhook" ? "undici → receiver" : "nodemailer → SMTP server"} | ${int(b.messages)} | ${int(b.perSecond)} | ${sec(b.firstToLastSeconds)} | ${int(b.received)} | ${int(b.repeats)} | — | — | ${pct(b.cpu.receiver)} | ${pct(b.cpu.load)} | ${pct(b.cpu.other)} |`,
    `| Waymark: dispatcher → ${kind === "webhook" ? "receiver" : "SMTP server"} | ${int(w.messages)} | ${int(w.perSecond)} | ${sec(w.firstToLastSeconds)} | ${int(w.received)} | ${int(w.repeats)} | ${pct(w.usage.serverCpu)} | ${pct(w.usage.postgresCpu)} | ${pct(w.cpu.receiver)} | ${pct(w.cpu.load)} | ${pct(w.cpu.other)} |`,
    "",
    `- queued: ${int(t.queue.accepted)} of ${int(t.queue.requests)} sends accepted (202) in ${sec(t.queue.seconds)}, ` +
      `${int(t.queue.accepted / t.queue.seconds)} sends/s, p50 ${ms(t.queue.p50)} ms, p99 ${ms(t.queue.p99)} ms; ${failures(t.queue.failures)}`,
    `- released → first arrival ${ms(w.releaseToFirstMs)} ms; released → every message row \`sent\` ${sec(w.releaseToRecordedSeconds)}; ` +
      `message rows at the end: ${Object.entries(w.statuses)
        .map(([k, v]) => `${int(v)} ${k}`)
        .join(", ")}`,
    `- the worker's pipeline applied the ${int(w.messages)} delivery events ${w.pipelineDrainSeconds === null ? "**not** within the drain limit" : `${sec(w.pipelineDrainSeconds)} after the last send was recorded`}`,
    ...(w.database
      ? [
          `- PostgreSQL from the release until the worker stopped (the sends and the pipeline's work on their events): ` +
            `${(w.database.commits / w.messages).toFixed(1)} transactions committed per message (a statement outside a transaction counts as one), ` +
            `${(w.database.walFsyncs / w.messages).toFixed(2)} WAL flushes per message, ${int(w.database.walBytes / w.messages)} bytes of WAL per message`,
        ]
      : []),
    `- baseline: ${failures(b.failures)}`,
    "",
    ...activityTable(`the worker's connections while it sent`, w.activity),
    ...(w.statements ? statementsTable(w.statements, w.messages) : []),
  ];
  targets.push(
    `${kind}s ≥ ${int(target)}/s: ${int(w.perSecond)}/s (the ${kind === "webhook" ? "HTTP client" : "SMTP client"} alone: ${int(b.perSecond)}/s) — ${mark(w.perSecond >= target)}`,
  );
  bounds.push(dispatchBound(t, cores));
  return lines;
}

function dispatchBound(t: ThroughputResult, cores: number): string {
  const w = t.waymark;
  const u = w.usage;
  const seconds = u.seconds;
  const workerUs = micros(u.serverCpu, seconds, w.received);
  const pgUs = micros(u.postgresCpu, seconds, w.received);
  const parts: string[] = [];
  const machine = u.machineCpu;
  if (machine >= 0.85 * cores * 100)
    parts.push(`the machine's ${cores} cores are saturated (${pct(machine)} of ${cores * 100}%)`);
  if (w.cpu.other >= 40)
    parts.push(`other work on the machine took ${pct(w.cpu.other)} of a core: the run was disturbed`);
  if (u.serverCpu >= 85) parts.push(`the worker's one thread is busy (${pct(u.serverCpu)})`);
  if (u.postgresCpu >= 85) parts.push(`PostgreSQL uses ${pct(u.postgresCpu)} of a core`);
  const ceiling = (us: number) => (us > 0 ? int(1e6 / us) : "—");
  parts.push(
    `CPU per message: ${int(workerUs)} µs in the worker, ${int(pgUs)} µs in PostgreSQL (the worker's thread alone allows at most ` +
      `${ceiling(workerUs)}/s, and both on ${cores} cores about ${ceiling((workerUs + pgUs) / cores)}/s); the baseline runs at ` +
      `${int(t.baseline.perSecond)}/s with the receiver at ${pct(t.baseline.cpu.receiver)}`,
  );
  const lock = w.activity.shares.find((s) => /^waiting Lock:.*append_events/.test(s.label));
  if (lock && lock.connections >= 0.5) {
    parts.push(
      `on average ${lock.connections.toFixed(2)} of the worker's connections wait for the workspace's event sequence lock in ` +
        "`append_events`: each message's outcome is recorded in a transaction of its own that appends its delivery event, and " +
        "holds that lock until it has committed (a WAL flush), so these transactions commit one after another",
    );
  }
  const busy = w.activity.busy;
  parts.push(
    `the worker's connections were busy ${busy.toFixed(2)} on average (of ${DISPATCH_CONCURRENCY} sends in flight); busiest: ${topShares(w.activity)}`,
  );
  const name = t.channel === "webhook" ? "Webhooks" : "Emails";
  return `${name}: ${parts.join("; ")}. (worker ${pct(u.serverCpu)}, postgres ${pct(u.postgresCpu)}, receiver ${pct(w.cpu.receiver)}, benchmark ${pct(w.cpu.load)}, other ${pct(w.cpu.other)})`;
}

function statementsTable(statements: StatementTime[], messages: number): string[] {
  return [
    "PostgreSQL's time per statement from the release until the worker stopped (pg_stat_statements, `BENCH_PG_STATEMENTS=1`; " +
      "the sends and the worker's pipeline applying their events):",
    "",
    "| statement | calls per message | mean ms | mean planning ms | total ms per message |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...statements.map(
      (st) =>
        `| \`${st.label.replaceAll("|", "\\|")}\` | ${(st.calls / messages).toFixed(2)} | ${st.meanMs.toFixed(3)} | ${st.meanPlanMs.toFixed(3)} | ${(st.totalMs / messages).toFixed(3)} |`,
    ),
    "",
  ];
}

function topShares(a: ActivityProfile, n = 3): string {
  return a.shares
    .slice(0, n)
    .map((s) => `${s.label} ${s.connections.toFixed(2)}`)
    .join("; ");
}

function latencySection(
  outcome: Outcome<LatencyResult>,
  cores: number,
  targets: string[],
  bounds: string[],
): string[] {
  if ("error" in outcome) {
    targets.push(
      `event to email p99 < ${int(MESSAGING_TARGETS.emailP99Ms)} ms: not measured (${outcome.error})`,
    );
    return [`**Event to email**: failed: ${outcome.error}`, ""];
  }
  const l = outcome.ok;
  const u = l.usage;
  const row = (name: string, s: LatencyStats) =>
    `| ${name} | ${int(s.sent)} | ${int(s.seen)} | ${ms(s.p50)} | ${ms(s.p99)} | ${ms(s.max)} |`;
  const other = Math.max(0, u.otherCpu - l.receiverCpu);
  const lines = [
    `**Event to email while the journey engine is busy**: a journey sends a receipt by email when \`Order Placed\` arrives ` +
      `(trigger → message step, transactional). \`Order Placed\` events (about 800 bytes) come through \`/v1/track\` at ` +
      `${int(l.rate)} per second, open-loop, each from a different person with an email address, each with a \`benchSeq\` that the ` +
      `receipt's subject repeats; the SMTP server (as above) times each mail on the same clock. Meanwhile ${int(l.background)} ` +
      `\`Product Viewed\` events per second (\`/v1/batch\` requests of 10, each from a new visitor, so each makes a profile) enter a ` +
      `second journey: a 2 s wait, then a webhook to the receiver, so the timer loop fires and the outbox dispatcher sends about as ` +
      `many webhooks per second. ${l.seconds} s measured after ${l.warmupSeconds} s of warm-up, the server as shipped ` +
      "(`waymark start --role all`: ingestion, pipeline with its journey stage, timer loop, outbox dispatcher and messaging worker " +
      "in one process). **Email** is from sending the event until the SMTP server got the receipt; the baseline, **applied**, is " +
      "from sending the same event until the person's profile counted it (`event_count`, polled every 20 ms): the pipeline's lag.",
    "",
    "| from sending `Order Placed` until | events | seen | p50 ms | p99 ms | max ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    row("baseline: the profile counts it (pipeline)", l.applied),
    row("the SMTP server has the receipt", l.email),
    "",
    "Where the email's time goes (the server's clock: the outbox row's `created_at` is the journey stage's clock in the pipeline " +
      "transaction that matched the event, the message's `created_at` the messaging worker's when it took the effect into the " +
      "message log, its `sent_at` the dispatcher's when it claimed it):",
    "",
    "| part | events | seen | p50 ms | p99 ms | max ms |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    row("sent → the journey stage wrote the effect (ingestion, resolve, partition batch)", l.parts.toStage),
    row("→ the messaging worker took it into the message log", l.parts.toAccepted),
    row("→ the dispatcher claimed it", l.parts.toClaimed),
    row("→ the SMTP server had it (render, consent, SMTP)", l.parts.toReceiver),
    "",
    "| load | events/s sent | answered 200 | not sent (64 waiting) | request p50 ms | request p99 ms | CPU server | CPU postgres | CPU receiver | CPU benchmark | CPU other |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| \`Order Placed\`, /v1/track | ${int(l.probes.sentPerSecond)} | ${int(l.probes.paced.ok)} | ${int(l.probes.paced.skipped)} | ${ms(quantileOf(l.probes.paced.latencies, 0.5))} | ${ms(quantileOf(l.probes.paced.latencies, 0.99))} | ${pct(u.serverCpu)} | ${pct(u.postgresCpu)} | ${pct(l.receiverCpu)} | ${pct(u.loadCpu)} | ${pct(other)} |`,
    `| \`Product Viewed\`, /v1/batch of 10 | ${int(l.backgroundLoad.eventsPerSecond)} | ${int(l.backgroundLoad.paced.ok)} | ${int(l.backgroundLoad.paced.skipped)} | ${ms(quantileOf(l.backgroundLoad.paced.latencies, 0.5))} | ${ms(quantileOf(l.backgroundLoad.paced.latencies, 0.99))} | (same run) | | | | |`,
    "",
    `- the busy journey: ${int(l.backgroundLoad.entered)} instances entered, ${int(l.backgroundLoad.webhooksPerSecond)} of its webhooks ` +
      `received per second during the measured part; receipts received twice: ${int(l.repeats)}`,
    `- requests: \`Order Placed\` ${failures(l.probes.paced.failures)}; \`Product Viewed\` ${failures(l.backgroundLoad.paced.failures)}`,
    "",
    ...activityTable("the server's connections during the measured part", l.activity),
  ];
  targets.push(
    `event to email p99 < ${int(MESSAGING_TARGETS.emailP99Ms)} ms at ${int(l.rate)} events/s beside ${int(l.background)} busy events/s: ` +
      `${ms(l.email.p99)} ms (the pipeline alone, event to profile: p99 ${ms(l.applied.p99)} ms) — ${mark(l.email.seen === l.email.sent && l.email.p99 < MESSAGING_TARGETS.emailP99Ms)}`,
  );
  const parts: string[] = [];
  if (u.machineCpu >= 0.85 * cores * 100)
    parts.push(`the machine's ${cores} cores are saturated (${pct(u.machineCpu)} of ${cores * 100}%)`);
  if (other >= 40)
    parts.push(`other work on the machine took ${pct(other)} of a core: the run was disturbed`);
  const p = l.parts;
  parts.push(
    `of the email's p50 ${ms(l.email.p50)} ms, ${ms(p.toStage.p50)} ms pass until the journey stage ran (the profile counted the event after ${ms(l.applied.p50)} ms), ` +
      `${ms(p.toAccepted.p50)} ms until the messaging worker took the effect, ${ms(p.toClaimed.p50)} ms until the dispatcher claimed it and ` +
      `${ms(p.toReceiver.p50)} ms to render, check and send it (p99: ${ms(p.toStage.p99)}, ${ms(p.toAccepted.p99)}, ${ms(p.toClaimed.p99)}, ${ms(p.toReceiver.p99)} ms)`,
  );
  if (p.toClaimed.p50 > 0.5 * l.email.p50) {
    parts.push(
      "most of it is the wait for the dispatcher: receipts queue in the message log because it sends fewer per second than " +
        "arrive (see emails per second above, with the engine's work beside it here)",
    );
  }
  parts.push(`busiest connection states: ${topShares(l.activity)}`);
  bounds.push(
    `Event to email: ${parts.join("; ")}. (server ${pct(u.serverCpu)}, postgres ${pct(u.postgresCpu)}, receiver ${pct(l.receiverCpu)}, benchmark ${pct(u.loadCpu)}, other ${pct(other)})`,
  );
  return lines;
}

function quantileOf(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function activityTable(whose: string, a: ActivityProfile): string[] {
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
