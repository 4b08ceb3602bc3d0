import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The processes under test, started the way users start them, and a register of everything this
 * benchmark started so that it is all stopped on any exit: success, error, Ctrl-C or the time limit.
 */

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STOP_GRACE_MS = 12_000;

export interface Child {
  pid: number;
  url: string;
  /** The last output on stderr, to explain a failure. */
  stderrTail(): string;
  exited: Promise<void>;
}

export interface WaymarkServer extends Child {
  writeKey: string;
  adminToken: string;
  /** Connection string of its embedded PostgreSQL. */
  databaseUrl: string;
  postmasterPid: number;
}

interface Stoppable {
  child: ChildProcess;
  /** Run after the child exited, e.g. stop an embedded PostgreSQL left behind by a SIGKILL. */
  after?: () => void;
}

const running = new Set<Stoppable>();

/**
 * The node options in bin/waymark.js's `#!/usr/bin/env -S node …` line: `npx waymark` runs the
 * server with them, so the benchmarks do too.
 */
export function serverNodeFlags(): string[] {
  const first = readFileSync(path.join(ROOT, "bin", "waymark.js"), "utf8").split("\n")[0]!;
  const m = /^#!\/usr\/bin\/env -S node(.*)$/.exec(first);
  if (!m) throw new Error(`bin/waymark.js must start with "#!/usr/bin/env -S node" (got ${first})`);
  return m[1]!.split(" ").filter(Boolean);
}

/**
 * `node <shebang's options> bin/waymark.js start --port 0 --data-dir <dataDir>`, ready once its
 * banner is printed. `nodeArgs` go to node before the script (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`); `role` is
 * passed as `--role` (the product's default, `all`, when absent); `env` is added to its environment
 * (e.g. `WAYMARK_OUTBOUND_ALLOW`), whose own `WAYMARK_*` variables are not passed on.
 */
export async function startWaymark(
  dataDir: string,
  options: { nodeArgs?: string[]; role?: string; env?: Record<string, string> } = {},
  timeoutMs = 120_000,
): Promise<WaymarkServer> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key === "DATABASE_URL" || key.startsWith("WAYMARK_")) delete env[key];
  }
  const pgDir = path.join(dataDir, "pg");
  const entry: Stoppable = {
    child: spawn(
      process.execPath,
      [
        ...serverNodeFlags(),
        ...(options.nodeArgs ?? []),
        ...["bin/waymark.js", "start", "--port", "0", "--data-dir", dataDir],
        ...(options.role ? ["--role", options.role] : []),
      ],
      {
        cwd: ROOT,
        env: {
          ...env,
          WAYMARK_LOG_LEVEL: "warn",
          // BENCH_PG_SETTINGS: settings for the embedded PostgreSQL, to compare (e.g. shared_buffers=128MB).
          ...(process.env.BENCH_PG_SETTINGS ? { WAYMARK_PG_SETTINGS: process.env.BENCH_PG_SETTINGS } : {}),
          ...options.env,
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    ),
    // The embedded PostgreSQL runs in its own process group: if the server had to be killed, its
    // database would outlive it.
    after: () => stopPostmaster(pgDir),
  };
  const child = watch(entry);
  const url = await waitForLine(
    entry.child,
    /^Waymark server listening on (http:\/\/\S+)$/m,
    timeoutMs,
    child.stderrTail,
  );
  const credentials = JSON.parse(await readFile(path.join(dataDir, "credentials.json"), "utf8")) as {
    writeKey: string;
    adminToken: string;
  };
  const password = (await readFile(path.join(dataDir, "pg-password"), "utf8")).trim();
  const pidLines = (await readFile(path.join(pgDir, "postmaster.pid"), "utf8")).split("\n");
  return {
    ...child,
    url,
    writeKey: credentials.writeKey,
    adminToken: credentials.adminToken,
    // As Waymark connects: through the Unix socket when the server has one (postmaster.pid's fifth
    // line), so the baselines' connections cost what Waymark's do.
    databaseUrl:
      `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${pidLines[3]}/postgres` +
      (pidLines[4]?.trim() ? `?host=${encodeURIComponent(pidLines[4].trim())}` : ""),
    postmasterPid: Number(pidLines[0]),
  };
}

/**
 * `node <shebang's options> bin/waymark.js start --role worker --port 0 --data-dir <dataDir>` on another server's database
 * (DATABASE_URL): a process running the event pipeline (and the journey runtime) alone. Ready once
 * its banner is printed.
 */
export async function startWaymarkWorker(
  dataDir: string,
  databaseUrl: string,
  options: { nodeArgs?: string[]; env?: Record<string, string> } = {},
  timeoutMs = 60_000,
): Promise<Child> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (key === "DATABASE_URL" || key.startsWith("WAYMARK_")) delete env[key];
  }
  const entry: Stoppable = {
    child: spawn(
      process.execPath,
      [
        ...serverNodeFlags(),
        ...(options.nodeArgs ?? []),
        ...["bin/waymark.js", "start", "--role", "worker", "--port", "0", "--data-dir", dataDir],
      ],
      {
        cwd: ROOT,
        env: { ...env, DATABASE_URL: databaseUrl, WAYMARK_LOG_LEVEL: "warn", ...options.env },
        stdio: ["ignore", "pipe", "pipe"],
      },
    ),
  };
  const child = watch(entry);
  const url = await waitForLine(
    entry.child,
    /^Waymark worker listening on (http:\/\/\S+)$/m,
    timeoutMs,
    child.stderrTail,
  );
  return { ...child, url };
}

/** A bare Fastify server answering `{}` to every POST: the cost of HTTP and JSON alone. */
export async function startNoopServer(timeoutMs = 30_000): Promise<Child> {
  const entry: Stoppable = {
    child: spawn(process.execPath, ["bin/tsx.js", "bench/noop-server.ts"], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
    }),
  };
  const child = watch(entry);
  const url = await waitForLine(entry.child, /^listening on (http:\/\/\S+)$/m, timeoutMs, child.stderrTail);
  return { ...child, url };
}

/** Stops one child (SIGTERM, then SIGKILL after a grace period). */
export async function stopChild(pid: number): Promise<void> {
  const entry = [...running].find((e) => e.child.pid === pid);
  if (entry) await stop(entry);
}

/** Stops every child this process started; safe to call more than once. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map(stop));
}

/** Last resort on a synchronous exit path: SIGKILL everything still running. */
export function killAllNow(): void {
  for (const entry of running) {
    entry.child.kill("SIGKILL");
    entry.after?.();
  }
}

function watch(entry: Stoppable): Child {
  const { child } = entry;
  running.add(entry);
  let tail = "";
  child.stderr!.on("data", (c: Buffer) => (tail = (tail + c.toString("utf8")).slice(-4000)));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      running.delete(entry);
      entry.after?.();
      resolve();
    }),
  );
  return { pid: child.pid!, url: "", stderrTail: () => tail, exited };
}

async function stop(entry: Stoppable): Promise<void> {
  const { child } = entry;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}

function waitForLine(
  child: ChildProcess,
  pattern: RegExp,
  timeoutMs: number,
  stderrTail: () => string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => {
      reject(new Error(`no start banner within ${timeoutMs / 1000} s; stderr: ${stderrTail()}`));
    }, timeoutMs);
    child.stdout!.on("data", (c: Buffer) => {
      out += c.toString("utf8");
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited before it was ready (code ${code}, signal ${signal}): ${stderrTail()}`));
    });
  });
}

/** Fast shutdown (SIGQUIT: immediate) of a PostgreSQL still running on `pgDir`. */
function stopPostmaster(pgDir: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(pgDir, "postmaster.pid"), "utf8").split("\n")[0]);
  } catch {
    return; // a clean shutdown removes the file
  }
  if (!Number.isInteger(pid) || pid <= 0) return;
  try {
    if (readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("postgres")) process.kill(pid, "SIGQUIT");
  } catch {
    // already gone
  }
}
