import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import os from "node:os";
import { fileURLToPath } from "node:url";
import type { Usage } from "./proc-stats.ts";

/** Turns scenario results into the markdown section of bench/README.md (and the console). */

export type ScenarioKey = "idle" | "baseline" | "batch" | "track" | "noop";

export interface WriterStats {
  transactions: number;
  eventsPerTransaction: number;
  requestsPerTransaction: number;
  msPerTransaction: number;
  /** Transactions in flight on average: their summed duration over the wall time (1 = always one). */
  inFlight: number;
}

export interface PipelineStats {
  /** Events the pipeline resolved per second during the measured run. */
  resolvedPerSecond: number;
  /** Events not yet fully processed when the run ended. */
  waitingAtEnd: number;
  /** Seconds it took to process them after the run; null when it had not within the limit. */
  drainSeconds: number | null;
}

export interface ScenarioResult {
  key: ScenarioKey;
  name: string;
  clients: number;
  eventsPerRequest: number;
  seconds: number;
  /** HTTP requests, or INSERT statements for the baseline. */
  requests: number;
  /** Events acknowledged (HTTP) or rows inserted (baseline). */
  events: number;
  p50: number;
  p99: number;
  failures: Record<string, number>;
  usage: Usage;
  /** Rows stored during the run (growth of count(*)): must be the events acknowledged less duplicates. */
  check?: { stored: number; acknowledged: number; duplicates: number };
  writer?: WriterStats;
  pipeline?: PipelineStats;
  /** Set when the scenario could not run; the other fields are then zero. */
  error?: string;
}

export interface Machine {
  date: string;
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  postgres: string;
  /** PostgreSQL settings that bound commit speed (fsync, synchronous_commit, ...). */
  settings: string;
  seconds: number;
  warmupSeconds: number;
  /** The code under test: commit, and whether src/ had uncommitted changes. */
  revision: string;
  /** `waymark start --role`: "all" runs the event pipeline beside ingestion, "api" does not. */
  role: string;
  /** The Waymark server's RSS once started, before any load, MB. */
  serverIdleRssMb: number;
}

export const TARGETS = {
  batchShareOfBaseline: 0.6,
  trackEventsPerSecond: 8000,
  trackP99Ms: 50,
  serverRssMb: 300,
};

export function describeMachine(): Pick<
  Machine,
  "date" | "cpu" | "cores" | "memoryGiB" | "node" | "revision"
> {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  return {
    date: new Date().toISOString().slice(0, 16).replace("T", " ") + " UTC",
    cpu: /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? "unknown",
    cores: os.cpus().length,
    memoryGiB: os.totalmem() / 2 ** 30,
    node: process.version,
    revision: describeRevision(),
  };
}

/** `commit abc1234` (plus a note when src/ has uncommitted changes), from git when it is there. */
function describeRevision(): string {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const git = (...args: string[]) => execFileSync("git", ["-C", root, ...args], { encoding: "utf8" }).trim();
  try {
    const line = git("log", "-1", "--format=%h %s");
    const commit = line.length > 80 ? `${line.slice(0, 79)}…` : line;
    const dirty = git("status", "--porcelain", "--", "src") !== "";
    return `commit ${commit}${dirty ? " (with uncommitted changes in src/)" : ""}`;
  } catch {
    return "revision unknown (not a git checkout)";
  }
}

const eventsPerSecond = (r: ScenarioResult) => (r.seconds > 0 ? r.events / r.seconds : 0);
const int = (n: number) => Math.round(n).toLocaleString("en-US");
const ms = (n: number) => (Number.isNaN(n) ? "—" : n < 10 ? n.toFixed(2) : n.toFixed(1));
const pct = (n: number) => `${Math.round(n)}%`;
/** CPU microseconds per event, from a percent-of-one-core figure over the run. */
const micros = (r: ScenarioResult, cpuPct: number) =>
  r.events > 0 ? Math.round(((cpuPct / 100) * r.usage.seconds * 1e6) / r.events).toString() : "—";
const mb = (n: number) => (n > 0 ? `${Math.round(n)} MB` : "—");

export function renderReport(m: Machine, results: ScenarioResult[]): string {
  const byKey = new Map(results.map((r) => [r.key, r]));
  const baseline = byKey.get("baseline");
  const base = baseline && !baseline.error ? eventsPerSecond(baseline) : 0;
  const ratio = (r: ScenarioResult) => (base > 0 ? `${Math.round((100 * eventsPerSecond(r)) / base)}%` : "—");
  const out: string[] = [];

  out.push(
    `Run of ${m.date}: ${m.seconds} s measured per scenario after ${m.warmupSeconds} s of warm-up, ` +
      `everything on one machine (load generator, server, PostgreSQL).`,
    "",
    `- Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB.toFixed(1)} GiB memory`,
    `- Waymark ${m.revision}`,
    `- Node ${m.node}; PostgreSQL ${m.postgres} (embedded, ${m.settings})`,
    `- Server: \`waymark start --role ${m.role}\`` +
      (m.role === "api"
        ? " (ingestion only: no event pipeline)"
        : " (ingestion, and the event pipeline resolving identities and updating profiles in the same process and database)"),
    "",
    "| scenario | clients | events/s | requests/s | p50 ms | p99 ms | vs PG baseline |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const r of results.filter((x) => x.key !== "idle")) {
    if (r.error) {
      out.push(
        `| ${r.name} | ${r.clients} | failed: ${r.error.replaceAll("|", "/").slice(0, 200)} | | | | |`,
      );
      continue;
    }
    out.push(
      `| ${r.name} | ${r.clients} | ${int(eventsPerSecond(r))} | ${int(r.requests / r.seconds)} | ` +
        `${ms(r.p50)} | ${ms(r.p99)} | ${ratio(r)} |`,
    );
  }
  out.push(
    "",
    `CPU in percent of one core over the measured interval (the machine has ${m.cores * 100}%); ` +
      '"other" is everything else running on the machine. RSS is the server\'s VmRSS, PSS the sum over ' +
      "the PostgreSQL processes (shared memory counted once); both are the highest seen (RSS sampled every 250 ms, PSS more seldom: see above). " +
      "µs/event is CPU time spent per event stored (per request for the no-op server).",
    "",
    "| scenario | CPU server | CPU postgres | CPU load generator | CPU other | server µs/event | postgres µs/event | server RSS max | postgres PSS max |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  );
  for (const r of results.filter((x) => !x.error)) {
    const u = r.usage;
    const server = r.key !== "baseline";
    out.push(
      `| ${r.name} | ${server ? pct(u.serverCpu) : "—"} | ${pct(u.postgresCpu)} | ` +
        `${pct(u.loadCpu)} | ${pct(u.otherCpu)} | ${server ? micros(r, u.serverCpu) : "—"} | ` +
        `${micros(r, u.postgresCpu)} | ${mb(u.serverRssMaxMb)} | ${mb(u.postgresPssMaxMb)} |`,
    );
  }

  const withWriter = results.filter((r) => r.writer && !r.error);
  if (withWriter.length) {
    out.push(
      "",
      "Group commit (from the server's /metrics): transactions of the event writer during the run.",
      "",
      "| scenario | transactions | events / transaction | requests / transaction | ms / transaction | in flight (avg) |",
      "| --- | ---: | ---: | ---: | ---: | ---: |",
    );
    for (const r of withWriter) {
      const w = r.writer!;
      out.push(
        `| ${r.name} | ${int(w.transactions)} | ${w.eventsPerTransaction.toFixed(1)} | ` +
          `${w.requestsPerTransaction.toFixed(1)} | ${ms(w.msPerTransaction)} | ${w.inFlight.toFixed(2)} |`,
      );
    }
  }

  const withPipeline = results.filter((r) => r.pipeline && !r.error);
  if (withPipeline.length) {
    out.push(
      "",
      "Event pipeline (identity resolution, profiles; from /api/v1/pipeline): what it kept up with during the " +
        "run, and how long it took to finish afterwards (the next scenario starts after that).",
      "",
      "| scenario | ingested events/s | resolved events/s | waiting at the end | drained after |",
      "| --- | ---: | ---: | ---: | ---: |",
    );
    for (const r of withPipeline) {
      const p = r.pipeline!;
      out.push(
        `| ${r.name} | ${int(eventsPerSecond(r))} | ${int(p.resolvedPerSecond)} | ${int(p.waitingAtEnd)} | ` +
          `${p.drainSeconds === null ? "not within the limit" : `${p.drainSeconds.toFixed(1)} s`} |`,
      );
    }
  }

  out.push(
    "",
    "**Stored = acknowledged** (growth of `count(*)` against the events the clients were told were stored):",
    "",
  );
  for (const r of results.filter((x) => x.check)) {
    const c = r.check!;
    const fails = Object.entries(r.failures).map(([k, v]) => `${v} × ${k}`);
    const verdict =
      c.stored === c.acknowledged - c.duplicates
        ? "ok"
        : `**MISMATCH (${int(c.stored - c.acknowledged + c.duplicates)}): a bug**`;
    out.push(
      `- ${r.name}: ${int(c.acknowledged)} acknowledged, ${int(c.stored)} stored, ${int(c.duplicates)} duplicates` +
        `${fails.length ? `, failures: ${fails.join(", ")}` : ", no failed requests"} — ${verdict}`,
    );
  }

  out.push("", "**Targets**", "");
  out.push(...renderTargets(results, base, m));
  out.push("", "**What bounds each scenario** (derived from the CPU columns above)", "");
  for (const r of results.filter((x) => !x.error && x.key !== "idle")) {
    out.push(`- ${r.name}: ${explainBound(r, m.cores)}`);
  }
  return out.join("\n");
}

function renderTargets(results: ScenarioResult[], base: number, m: Machine): string[] {
  const get = (k: ScenarioKey) => results.find((r) => r.key === k && !r.error);
  const mark = (ok: boolean) => (ok ? "met" : "**missed**");
  const lines: string[] = [];
  const batch = get("batch");
  if (batch && base > 0) {
    const share = eventsPerSecond(batch) / base;
    lines.push(
      `- /v1/batch ≥ ${100 * TARGETS.batchShareOfBaseline}% of the PostgreSQL baseline: ` +
        `${Math.round(100 * share)}% — ${mark(share >= TARGETS.batchShareOfBaseline)}`,
    );
  }
  const track = get("track");
  if (track) {
    const eps = eventsPerSecond(track);
    lines.push(
      `- /v1/track ≥ ${int(TARGETS.trackEventsPerSecond)} events/s: ${int(eps)} — ${mark(eps >= TARGETS.trackEventsPerSecond)}`,
      `- /v1/track p99 < ${TARGETS.trackP99Ms} ms: ${ms(track.p99)} ms — ${mark(track.p99 < TARGETS.trackP99Ms)}`,
    );
    const noop = get("noop");
    if (noop) {
      lines.push(
        `- (for reference) /v1/track reaches ${Math.round((100 * eps) / eventsPerSecond(noop))}% of the no-op Fastify server's requests/s`,
      );
    }
  }
  const rss = Math.max(
    0,
    ...results.filter((r) => r.key === "batch" || r.key === "track").map((r) => r.usage.serverRssMaxMb),
  );
  if (rss > 0) {
    lines.push(
      `- server RSS < ${TARGETS.serverRssMb} MB: ${Math.round(rss)} MB at most (${Math.round(m.serverIdleRssMb)} MB idle after start) — ${mark(rss < TARGETS.serverRssMb)}`,
    );
  }
  return lines;
}

/** Names the resource that limits a scenario, with the numbers that show it. */
export function explainBound(r: ScenarioResult, cores: number): string {
  const u = r.usage;
  const FULL = 85; // percent of one core: "saturated", allowing for sampling and scheduling noise
  const found: string[] = [];
  if (u.machineCpu >= 0.85 * cores * 100) {
    found.push(`the machine's ${cores} cores are saturated (${pct(u.machineCpu)} of ${cores * 100}%)`);
  }
  if (r.key !== "baseline" && u.serverCpu >= FULL) {
    found.push(
      `the ${r.key === "noop" ? "Fastify" : "Waymark"} server's Node process is at ${pct(u.serverCpu)} of a core (its JavaScript runs on one thread)`,
    );
  }
  if (r.writer && r.writer.inFlight >= 0.85) {
    found.push(
      `the event writer always has a transaction in flight (${r.writer.inFlight.toFixed(2)} on average, ` +
        `${r.writer.eventsPerTransaction.toFixed(0)} events and ${ms(r.writer.msPerTransaction)} ms each), ` +
        "so events/s = events per transaction × transactions in flight / time per transaction",
    );
  }
  if (u.otherCpu >= 25) {
    found.push(`other work on the machine took ${pct(u.otherCpu)} of a core: the run was disturbed`);
  }
  if (u.loadCpu >= FULL) found.push(`the load generator is at ${pct(u.loadCpu)} of a core`);
  if (u.postgresCpu >= FULL * (r.key === "baseline" ? cores : 1)) {
    found.push(`PostgreSQL uses ${pct(u.postgresCpu)} of a core`);
  }
  const evidence =
    `server ${r.key === "baseline" ? "idle" : pct(u.serverCpu)}, postgres ${pct(u.postgresCpu)}, ` +
    `load generator ${pct(u.loadCpu)}, other ${pct(u.otherCpu)}; machine ${pct(u.machineCpu)} of ${cores * 100}%`;
  const pipeline = r.pipeline
    ? ` The event pipeline ran alongside, resolving ${int(r.pipeline.resolvedPerSecond)} events/s; its work is in the server and postgres columns.`
    : "";
  if (found.length === 0) {
    return (
      `no process is saturated, so round trips bound it: ${r.clients} clients each waiting ` +
      `${ms(r.p50)} ms (p50) per request. (${evidence})${pipeline}`
    );
  }
  return `${found.join("; ")}. (${evidence})${pipeline}`;
}

/**
 * Replaces the block between `<!-- NAME:start -->` and `<!-- NAME:end -->` in the README (appends it
 * when missing): each suite owns one block, so a partial run leaves the others as they were.
 */
export async function writeSection(file: string, name: string, section: string): Promise<void> {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const text = await readFile(file, "utf8").catch(() => "# Benchmarks\n");
  const block = `${start}\n${section}\n${end}`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  const next =
    from >= 0 && to > from
      ? text.slice(0, from) + block + text.slice(to + end.length)
      : `${text.trimEnd()}\n\n${block}\n`;
  await writeFile(file, next);
}
