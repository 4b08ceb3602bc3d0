import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The real CLI entry point, run the way users run it: `node bin/waymark.js ...`. */
const BIN = fileURLToPath(new URL("../../bin/waymark.js", import.meta.url));

const BANNER = /^Waymark (server|worker) listening on (\S+)$/m;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface CliResult extends Exit {
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Extra environment. DATABASE_URL is removed from the inherited environment unless given here. */
  env?: Record<string, string>;
  /** Give up (SIGKILL) after this long; default 30 s. */
  timeoutMs?: number;
}

const children = new Set<ChildProcess>();
const dataDirs = new Set<string>();

function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The test run's own settings must not leak into the server under test.
  for (const key of Object.keys(env)) {
    if (key === "DATABASE_URL" || key.startsWith("WAYMARK_")) delete env[key];
  }
  return { ...env, ...extra };
}

function spawnCli(args: string[], options: CliOptions): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: childEnv(options.env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => children.delete(child));
  return child;
}

function exitOf(child: ChildProcess): Promise<Exit> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }
  return new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
}

/** A one-shot CLI command (`migrate`, `workspaces create`) from the moment it is spawned. */
export interface LaunchedCommand {
  pid: number;
  /** Resolves with the exit and all output once the command has exited. */
  result: Promise<CliResult>;
  kill(signal: NodeJS.Signals): void;
}

/** Spawns a CLI command without waiting for it. */
export function launchCommand(args: string[], options: CliOptions = {}): LaunchedCommand {
  const child = spawnCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (c: Buffer) => (stdout += c.toString("utf8")));
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const result = exitOf(child).then((exit) => {
    clearTimeout(timer);
    return { ...exit, stdout, stderr };
  });
  return { pid: child.pid!, result, kill: (signal) => child.kill(signal) };
}

/** Runs a CLI command to completion (`migrate`, `workspaces create`, a start that must fail). */
export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return launchCommand(args, options).result;
}

/** A `waymark start` child process, from the moment it is spawned. */
export interface LaunchedServer {
  pid: number;
  /** Resolves with the URL the banner names; rejects if the process exits first or takes too long. */
  banner: Promise<string>;
  /** Everything written to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
  kill(signal: NodeJS.Signals): void;
  /** Sends SIGTERM (or `signal`) and waits for the exit, reporting how long it took. */
  terminate(signal?: NodeJS.Signals): Promise<Exit & { ms: number }>;
}

/** A `waymark start` child process whose banner has been printed. */
export interface ServerProcess extends LaunchedServer {
  /** The URL the banner names, e.g. http://127.0.0.1:41234 */
  url: string;
}

/** Spawns `waymark start <args>` without waiting for anything. */
export function launchCli(args: string[], options: CliOptions = {}): LaunchedServer {
  const child = spawnCli(["start", ...args], options);
  const timeoutMs = options.timeoutMs ?? 30_000;
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr += c.toString("utf8")));
  const exited = exitOf(child);
  const banner = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no banner within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.stdout!.on("data", (c: Buffer) => {
      stdout += c.toString("utf8");
      const match = BANNER.exec(stdout);
      // The banner is written in one piece; wait for its last line so stdout() holds all of it.
      if (match && stdout.includes("API docs:") && stdout.endsWith("\n")) {
        clearTimeout(timer);
        resolve(match[2]!);
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`exited before its banner (code ${code}, signal ${signal})\nstderr: ${stderr}`));
    });
  });
  banner.catch(() => undefined); // a caller that only waits for the exit need not handle it
  return {
    pid: child.pid!,
    banner,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    kill: (signal) => child.kill(signal),
    terminate: async (signal = "SIGTERM") => {
      const started = performance.now();
      child.kill(signal);
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const exit = await exited;
      clearTimeout(timer);
      return { ...exit, ms: performance.now() - started };
    },
  };
}

/** Starts `waymark start <args>` and resolves once its banner names the URL it listens on. */
export async function startCli(args: string[], options: CliOptions = {}): Promise<ServerProcess> {
  const launched = launchCli(args, options);
  return { ...launched, url: await launched.banner };
}

/**
 * Starts a server, runs `fn` with it, then stops it with SIGTERM and requires a clean exit 0. A failure
 * inside `fn` is reported as it is (the server is still stopped).
 */
export async function withServer<T>(
  args: string[],
  fn: (server: ServerProcess) => Promise<T>,
  options: CliOptions = {},
): Promise<T> {
  const server = await startCli(args, options);
  let result: T;
  try {
    result = await fn(server);
  } catch (err) {
    await server.terminate();
    throw err;
  }
  const exit = await server.terminate();
  if (exit.code !== 0 || exit.ms >= 10_000) {
    throw new Error(
      `SIGTERM: ${JSON.stringify(exit)}, expected exit 0 within 10 s\nstderr: ${server.stderr().slice(-3000)}`,
    );
  }
  return result;
}

/**
 * A fresh, empty data dir under os.tmpdir(). The temp folder is made traversable (0755) because the
 * embedded PostgreSQL runs as the `postgres` user; the data dir itself does not exist yet.
 */
export async function createDataDir(): Promise<string> {
  const root = await mkdtemp(path.join(os.tmpdir(), "waymark-cli-"));
  await chmod(root, 0o755);
  const dir = path.join(root, "data");
  dataDirs.add(dir);
  return dir;
}

export interface Credentials {
  workspaceId: string;
  writeKey: string;
  adminToken: string;
  apiUrl: string;
}

export async function readCredentials(dataDir: string): Promise<Credentials> {
  return JSON.parse(await readFile(path.join(dataDir, "credentials.json"), "utf8")) as Credentials;
}

/** The pid in `<dataDir>/pg/postmaster.pid` when that process is alive, else null. */
export function livePostmaster(dataDir: string): number | null {
  const file = path.join(dataDir, "pg", "postmaster.pid");
  if (!existsSync(file)) return null;
  const pid = Number(readFileSync(file, "utf8").split("\n")[0]);
  return Number.isInteger(pid) && pid > 0 && isAlive(pid) ? pid : null;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  // A zombie answers signal 0 but is gone for our purposes.
  const stat = existsSync(`/proc/${pid}/stat`) ? readFileSync(`/proc/${pid}/stat`, "utf8") : "";
  return !/^\d+ \(.*\) Z/.test(stat);
}

/**
 * The processes whose command line names `dir` (the CLI, initdb, the postmaster), and their
 * descendants (PostgreSQL's backends and workers, whose titles no longer name it).
 */
export function processesUsing(dir: string): Array<{ pid: number; command: string }> {
  const all: Array<{ pid: number; ppid: number; command: string }> = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const command = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // "pid (comm) state ppid ...": comm may hold spaces, so read after the last ")".
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      all.push({ pid, ppid, command });
    } catch {
      // exited meanwhile
    }
  }
  const found = new Set(all.filter((p) => p.command.includes(dir)).map((p) => p.pid));
  for (let grew = true; grew;) {
    grew = false;
    for (const p of all) {
      if (!found.has(p.pid) && found.has(p.ppid)) {
        found.add(p.pid);
        grew = true;
      }
    }
  }
  return all.filter((p) => found.has(p.pid)).map(({ pid, command }) => ({ pid, command }));
}

/** SIGKILLs every process of processesUsing(dir) at once, as an OOM kill or power cut would. */
export function killEverythingUsing(dir: string): number[] {
  const killed: number[] = [];
  for (const { pid } of processesUsing(dir)) {
    try {
      process.kill(pid, "SIGKILL");
      killed.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  return killed;
}

/** Polls `check` every `everyMs` until it is true or `ms` have passed; returns its last answer. */
export async function waitFor(check: () => boolean, ms: number, everyMs = 50): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!check() && performance.now() < deadline) await sleep(everyMs);
  return check();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * For afterAll: SIGKILL every CLI process still running, shut down (SIGQUIT) any PostgreSQL left on
 * the data dirs handed out, and remove those dirs.
 */
export async function cleanUpProcesses(): Promise<void> {
  const running = [...children];
  for (const child of running) child.kill("SIGKILL");
  await Promise.all(running.map(exitOf));
  for (const dir of dataDirs) {
    const pid = livePostmaster(dir);
    if (pid !== null) {
      process.kill(pid, "SIGQUIT");
      await waitFor(() => !isAlive(pid), 5_000);
    }
    killEverythingUsing(dir); // an initdb or PostgreSQL that outlived a killed test
    await rm(path.dirname(dir), { recursive: true, force: true });
  }
  dataDirs.clear();
}

/** fetch with HTTP Basic (write key as user), as the tracking API expects. */
export function track(url: string, writeKey: string, route: string, body: unknown): Promise<Response> {
  return fetch(url + route, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${writeKey}:`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
}

/** fetch with the admin token. */
export function admin(url: string, token: string, route: string): Promise<Response> {
  return fetch(url + route, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10_000),
  });
}

/** Every event of the admin token's workspace, paging through /api/v1/events (bounded). */
export async function allEvents(url: string, token: string): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  for (let page = 0; page < 1000; page++) {
    const res = await admin(
      url,
      token,
      `/api/v1/events?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`,
    );
    if (res.status !== 200) throw new Error(`GET /api/v1/events: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { items: Array<Record<string, unknown>>; nextCursor: string | null };
    items.push(...body.items);
    cursor = body.nextCursor;
    if (!cursor) return items;
  }
  throw new Error("more than 1000 pages of events");
}
