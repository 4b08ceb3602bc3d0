import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";

/**
 * CPU and memory of the processes under test, read from /proc (Linux only). CPU is in percent of one
 * core over the sampled interval, so a single-threaded process tops out near 100%.
 */

const CLOCK_TICKS = readClockTicks();

function readClockTicks(): number {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
}

interface ProcStat {
  ppid: number;
  /** utime + stime, in clock ticks. */
  ticks: number;
  /** cutime + cstime: CPU of children that have exited and been waited for. */
  childTicks: number;
  /** Minor page faults (a page mapped without reading it), of the process and of its waited-for children. */
  minorFaults: number;
  childMinorFaults: number;
}

function readStat(pid: number): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces; fields from 3 on follow it.
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return {
    ppid: Number(f[1]),
    ticks: Number(f[11]) + Number(f[12]),
    childTicks: Number(f[13]) + Number(f[14]),
    minorFaults: Number(f[7]),
    childMinorFaults: Number(f[8]),
  };
}

function readStatusKb(pid: number, file: "status" | "smaps_rollup", field: string): number {
  try {
    return kbOf(readFileSync(`/proc/${pid}/${file}`, "utf8"), field);
  } catch {
    return 0;
  }
}

function kbOf(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

async function readStatusKbAsync(
  pid: number,
  file: "status" | "smaps_rollup",
  field: string,
): Promise<number> {
  try {
    return kbOf(await readFile(`/proc/${pid}/${file}`, "utf8"), field);
  } catch {
    return 0;
  }
}

/** A process's resident set size now, MB (0 when it is gone). */
export function readRssMb(pid: number): number {
  return readStatusKb(pid, "status", "VmRSS") / 1024;
}

/** The postmaster and its live children (backends, checkpointer, WAL writer, ...). */
export function postgresPids(postmasterPid: number): number[] {
  let children: number[];
  try {
    children = readFileSync(`/proc/${postmasterPid}/task/${postmasterPid}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    children = readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => readStat(pid)?.ppid === postmasterPid);
  }
  return [postmasterPid, ...children];
}

/** CPU ticks used so far by a process, or by the PostgreSQL server as a whole (exited backends too). */
function cpuTicks(pid: number, tree: boolean): number {
  if (!tree) return readStat(pid)?.ticks ?? 0;
  return serverTotal(
    pid,
    (s) => s.ticks,
    (s) => s.childTicks,
  );
}

/** Minor page faults of the PostgreSQL server as a whole so far (exited backends too). */
function postgresMinorFaults(postmasterPid: number): number {
  return serverTotal(
    postmasterPid,
    (s) => s.minorFaults,
    (s) => s.childMinorFaults,
  );
}

/**
 * A counter summed over the PostgreSQL server: the postmaster's own and its exited children's (as the
 * kernel adds them up for it), plus each live child's.
 */
function serverTotal(
  postmasterPid: number,
  own: (s: ProcStat) => number,
  exitedChildren: (s: ProcStat) => number,
): number {
  const root = readStat(postmasterPid);
  if (!root) return 0;
  let total = own(root) + exitedChildren(root);
  for (const child of postgresPids(postmasterPid).slice(1)) {
    const stat = readStat(child);
    if (stat) total += own(stat);
  }
  return total;
}

/**
 * The kernel's DAMON threads (`kdamond.N`): where the kernel runs a DAMON-based reclaim (this VM
 * does: it pages out cold page cache), their sampling takes a core in bursts of tens of ms.
 */
function kdamondPids(): number[] {
  const pids: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").startsWith("kdamond")) pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function ticksOf(pids: number[]): number {
  return pids.reduce((n, pid) => n + (readStat(pid)?.ticks ?? 0), 0);
}

/** Busy and total jiffies of the whole machine, from the first line of /proc/stat. */
function machineTicks(): { busy: number; total: number } {
  const f = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0); // user..steal; guest is already in user
  const idle = f[3]! + (f[4] ?? 0); // idle + iowait
  return { busy: total - idle, total };
}

export interface Usage {
  seconds: number;
  /** Percent of one core. */
  serverCpu: number;
  postgresCpu: number;
  /** The benchmark process itself: the load generator (or the baseline's client). */
  loadCpu: number;
  /** Everything else on the machine (other users' work), percent of one core. */
  otherCpu: number;
  /** Of `otherCpu`, the kernel's DAMON threads (0 where there are none). */
  kdamondCpu: number;
  /** Minor page faults of all PostgreSQL processes per second. */
  postgresFaultsPerSecond: number;
  /** Whole machine busy, percent of one core (so up to cores × 100). */
  machineCpu: number;
  /** Highest VmRSS of the server process seen, MB. */
  serverRssMaxMb: number;
  /** Highest sum of PSS over the PostgreSQL processes (shared buffers counted once), MB. */
  postgresPssMaxMb: number;
}

export interface Watched {
  /** The server process (Waymark or the no-op Fastify), if any. */
  serverPid?: number;
  postmasterPid: number;
}

/** Starts sampling; `stop()` returns CPU over the whole interval and the memory peaks. */
export function watchUsage(w: Watched, sampleMs = 250): { stop(): Usage } {
  const t0 = performance.now();
  const server0 = w.serverPid ? cpuTicks(w.serverPid, false) : 0;
  const pg0 = cpuTicks(w.postmasterPid, true);
  const faults0 = postgresMinorFaults(w.postmasterPid);
  const kdamonds = kdamondPids();
  const kdamond0 = ticksOf(kdamonds);
  const self0 = process.cpuUsage();
  const m0 = machineTicks();
  let rssMax = 0;
  let pssMax = 0;
  let stopped = false;
  let pssRunning = false;
  let pssNextAt = 0;
  // PostgreSQL's PSS is read off the event loop (the kernel walks each backend's page tables: with
  // large shared buffers a synchronous read of every backend's smaps_rollup stalled this process, and
  // the load it generates and the receivers it runs, for up to ~200 ms every sample). It is also read
  // seldom: one walk of 27 processes mapping 2 GB of shared buffers took 0.7 s (0.36 s of CPU), so a
  // walk every 250 ms ran back to back and took a third of a core from what was being measured (the
  // pipeline throughput run, the ingestion runs). The next walk waits 19 times as long as the last
  // one took: at most 5% of the time.
  const samplePss = async () => {
    if (pssRunning || performance.now() < pssNextAt) return;
    pssRunning = true;
    const started = performance.now();
    try {
      let pss = 0;
      for (const pid of postgresPids(w.postmasterPid)) {
        if (stopped) return;
        pss += await readStatusKbAsync(pid, "smaps_rollup", "Pss");
      }
      pssMax = Math.max(pssMax, pss);
    } finally {
      pssRunning = false;
      pssNextAt = performance.now() + 19 * (performance.now() - started);
    }
  };
  const sample = () => {
    if (w.serverPid) rssMax = Math.max(rssMax, readStatusKb(w.serverPid, "status", "VmRSS"));
    void samplePss();
  };
  sample();
  const timer = setInterval(sample, sampleMs);
  return {
    stop() {
      clearInterval(timer);
      stopped = true;
      if (w.serverPid) rssMax = Math.max(rssMax, readStatusKb(w.serverPid, "status", "VmRSS"));
      const seconds = (performance.now() - t0) / 1000;
      const pct = (ticks: number) => (100 * ticks) / CLOCK_TICKS / seconds;
      const self = process.cpuUsage(self0);
      const m1 = machineTicks();
      const serverCpu = w.serverPid ? pct(cpuTicks(w.serverPid, false) - server0) : 0;
      const postgresCpu = pct(cpuTicks(w.postmasterPid, true) - pg0);
      const loadCpu = (100 * (self.user + self.system)) / 1e6 / seconds;
      // /proc/stat counts jiffies per core: scale its busy share to "percent of one core".
      const cores = Math.max(1, readdirCpuCount());
      const machineCpu = (100 * cores * (m1.busy - m0.busy)) / Math.max(1, m1.total - m0.total);
      return {
        seconds,
        serverCpu,
        postgresCpu,
        loadCpu,
        machineCpu,
        otherCpu: Math.max(0, machineCpu - serverCpu - postgresCpu - loadCpu),
        kdamondCpu: pct(ticksOf(kdamonds) - kdamond0),
        postgresFaultsPerSecond: (postgresMinorFaults(w.postmasterPid) - faults0) / seconds,
        serverRssMaxMb: rssMax / 1024,
        postgresPssMaxMb: pssMax / 1024,
      };
    },
  };
}

function readdirCpuCount(): number {
  return readFileSync("/proc/stat", "utf8")
    .split("\n")
    .filter((l) => /^cpu\d+ /.test(l)).length;
}
