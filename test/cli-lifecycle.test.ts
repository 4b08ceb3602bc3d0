import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadMigrations } from "../src/db/index.ts";
import { connectEmbedded } from "./support/cli-server.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import {
  admin,
  allEvents,
  cleanUpProcesses,
  createDataDir,
  isAlive,
  launchCommand,
  livePostmaster,
  readCredentials,
  runCli,
  startCli,
  track,
  waitFor,
  type Credentials,
  withServer,
  type ServerProcess,
} from "./support/process.ts";

afterAll(cleanUpProcesses);

describe("first start on an empty data dir, then a restart on the same one", () => {
  let dataDir: string;
  let server: ServerProcess;
  let credentials: Credentials;

  beforeAll(async () => {
    dataDir = await createDataDir();
    server = await startCli(["--port", "0", "--data-dir", dataDir]);
    credentials = await readCredentials(dataDir);
  });

  it("writes credentials.json (mode 0600) with the workspace id, write key, admin token, URL and webhook secret", async () => {
    const file = path.join(dataDir, "credentials.json");
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(credentials).toEqual({
      workspaceId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      writeKey: expect.stringMatching(/^\S{16,}$/),
      adminToken: expect.stringMatching(/^wm_admin_\S+$/),
      apiUrl: server.url,
      webhookSecret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
    });
    const workspace = await (await admin(server.url, credentials.adminToken, "/api/v1/workspace")).json();
    const { webhookSecret } = credentials as Credentials & { webhookSecret?: string };
    expect(workspace).toMatchObject({ id: credentials.workspaceId, webhookSecret });
  });

  it("prints a banner naming the URL, the embedded database and the credentials file", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.stdout()).toMatch(/^Waymark server listening on http:\/\/127\.0\.0\.1:\d+\n/);
    expect(server.stdout()).toContain(`embedded PostgreSQL in ${path.join(dataDir, "pg")}`);
    expect(server.stdout()).toContain(
      `credentials: ${path.join(dataDir, "credentials.json")} (new workspace created)`,
    );
    expect(server.stdout()).not.toContain(credentials.adminToken);
    expect(server.stderr()).not.toContain(credentials.adminToken);
  });

  it("answers /health and /ready", async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  it("connects to its PostgreSQL through the Unix socket in <data-dir>/run; TCP on 127.0.0.1 stays for tools", async () => {
    const sockets = (await readdir(path.join(dataDir, "run"))).filter((f) => /^\.s\.PGSQL\.\d+$/.test(f));
    expect(sockets).toHaveLength(1);
    expect(await clientAddresses(dataDir)).toEqual({ waymark: ["socket"], tool: "127.0.0.1" });
  });

  it("stores an event sent with the write key and shows it to the admin token", async () => {
    const res = await track(server.url, credentials.writeKey, "/v1/track", {
      userId: "first-start",
      event: "Signed Up",
      messageId: "first-start-1",
    });
    expect(res.status).toBe(200);
    const page = await admin(
      server.url,
      credentials.adminToken,
      "/api/v1/events?limit=10&userId=first-start",
    );
    expect(page.status).toBe(200);
    expect(((await page.json()) as { items: unknown[] }).items).toEqual([
      expect.objectContaining({ messageId: "first-start-1", event: "Signed Up" }),
    ]);
  });

  it("creates a workspace from the CLI while the server runs, with keys the running server accepts", async () => {
    const postmaster = livePostmaster(dataDir);
    const created = await runCli(["workspaces", "create", "acme", "--data-dir", dataDir]);
    expect(created).toMatchObject({ code: 0, signal: null });
    const acme = JSON.parse(created.stdout) as { name: string; writeKey: string; adminToken: string };
    expect(acme.name).toBe("acme");

    // It shared the server's PostgreSQL instead of stopping or restarting it.
    expect(livePostmaster(dataDir)).toBe(postmaster);
    const sent = await track(server.url, acme.writeKey, "/v1/track", {
      userId: "acme-user",
      event: "Acme Event",
      messageId: "acme-1",
    });
    expect(sent.status).toBe(200);
    const mine = await (await admin(server.url, acme.adminToken, "/api/v1/events?limit=10")).json();
    expect(mine).toEqual({ items: [expect.objectContaining({ messageId: "acme-1" })], nextCursor: null });
    const workspace = await (await admin(server.url, acme.adminToken, "/api/v1/workspace")).json();
    expect(workspace).toMatchObject({ name: "acme", writeKey: acme.writeKey });
  });

  it("runs `waymark migrate` against the running server's database", async () => {
    const migrated = await runCli(["migrate", "--data-dir", dataDir]);
    expect(migrated).toMatchObject({ code: 0, stdout: "database is up to date\n" });
    expect((await fetch(`${server.url}/ready`)).status).toBe(200);
  });

  it("exits 0 within 10 s of SIGTERM and stops its PostgreSQL", async () => {
    const postmaster = livePostmaster(dataDir);
    expect(postmaster).not.toBeNull();
    const exit = await server.terminate();
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(10_000);
    expect(await waitFor(() => !isAlive(postmaster!), 2_000)).toBe(true);
    expect(existsSync(path.join(dataDir, "pg", "postmaster.pid"))).toBe(false);
  });

  it("reuses the database on restart: the event is still there, the keys unchanged, no new workspace", async () => {
    await withServer(["--port", "0", "--data-dir", dataDir], async (restarted) => {
      expect(restarted.stdout()).not.toContain("new workspace created");
      // The keys stay; apiUrl follows the server to its new port.
      expect(await readCredentials(dataDir)).toEqual({ ...credentials, apiUrl: restarted.url });
      const events = await allEvents(restarted.url, credentials.adminToken);
      expect(events.map((e) => e.messageId)).toEqual(["first-start-1"]);

      const list = await runCli(["workspaces", "list", "--data-dir", dataDir]);
      expect(list.code).toBe(0);
      expect(
        list.stdout
          .trim()
          .split("\n")
          .map((line) => line.split(/\s+/)[1]),
      ).toEqual(["default", "acme"]);
    });
    expect(livePostmaster(dataDir)).toBeNull();
  });

  it("stops the same way on Ctrl-C (SIGINT)", async () => {
    const server = await startCli(["--port", "0", "--data-dir", dataDir]);
    const postmaster = livePostmaster(dataDir)!;
    const exit = await server.terminate("SIGINT");
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(10_000);
    expect(await waitFor(() => !isAlive(postmaster), 2_000)).toBe(true);
  });

  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    it(`finishes a one-shot command interrupted by ${signal}, stopping the PostgreSQL it started, and exits ${128 + os.constants.signals[signal]}`, async () => {
      // No server runs: `workspaces create` starts the embedded PostgreSQL itself.
      const command = launchCommand(["workspaces", "create", `interrupted-${signal}`, "--data-dir", dataDir]);
      expect(await waitFor(() => livePostmaster(dataDir) !== null, 20_000, 5)).toBe(true);
      const postmaster = livePostmaster(dataDir)!;
      command.kill(signal);
      const result = await command.result;
      expect(result).toMatchObject({ code: 128 + os.constants.signals[signal], signal: null });
      expect(await waitFor(() => !isAlive(postmaster), 2_000)).toBe(true);
    });
  }

  it("starts even when its stale postmaster.pid names a pid now used by another data dir's PostgreSQL, and leaves that one running", async () => {
    // As after a reboot: the pid in the lock file left by a crash belongs to someone else now.
    const otherDir = await createDataDir();
    await withServer(["--port", "0", "--data-dir", otherDir], async (other) => {
      const otherPostmaster = livePostmaster(otherDir)!;
      const lockFile = await readFile(path.join(otherDir, "pg", "postmaster.pid"), "utf8");
      await writeFile(path.join(dataDir, "pg", "postmaster.pid"), lockFile);

      await withServer(["--port", "0", "--data-dir", dataDir], async (restarted) => {
        expect((await fetch(`${restarted.url}/ready`)).status).toBe(200);
        expect(livePostmaster(dataDir)).not.toBe(otherPostmaster);
      });
      expect(isAlive(otherPostmaster)).toBe(true);
      expect((await fetch(`${other.url}/ready`)).status).toBe(200);
    });
  });
});

describe("the embedded PostgreSQL's settings", () => {
  it("gives it a quarter of the machine's memory for shared buffers, from 128 MB up to 2 GB", async () => {
    const dataDir = await createDataDir();
    await withServer(["--port", "0", "--data-dir", dataDir], async () => {
      const quarterMb = Math.floor(os.totalmem() / 4 / 1024 / 1024);
      expect(await settingsMb(dataDir, ["shared_buffers"])).toEqual({
        shared_buffers: Math.min(2048, Math.max(128, quarterMb)),
      });
    });
  });

  it("takes WAYMARK_PG_SETTINGS after its own, so the user's win", async () => {
    const dataDir = await createDataDir();
    const env = { WAYMARK_PG_SETTINGS: "shared_buffers=160MB, work_mem=12MB" };
    await withServer(
      ["--port", "0", "--data-dir", dataDir],
      async (server) => {
        expect((await fetch(`${server.url}/ready`)).status).toBe(200);
        expect(await settingsMb(dataDir, ["shared_buffers", "work_mem"])).toEqual({
          shared_buffers: 160,
          work_mem: 12,
        });
      },
      { env },
    );
  });

  it("refuses a setting that is not name=value, naming the variable, and starts nothing", async () => {
    const dataDir = await createDataDir();
    const run = await runCli(["start", "--data-dir", dataDir], {
      env: { WAYMARK_PG_SETTINGS: "shared_buffers" },
    });
    expect(run.code).not.toBe(0);
    expect(run.stderr).toMatch(/WAYMARK_PG_SETTINGS must list name=value settings .*\(got shared_buffers\)/);
    expect(existsSync(dataDir)).toBe(false);
  });
});

/** The running embedded server's memory settings, in MB. */
async function settingsMb(dataDir: string, names: string[]): Promise<Record<string, number>> {
  const db = await connectEmbedded(dataDir);
  try {
    const { rows } = await db.query<{ name: string; mb: number }>(
      `SELECT name, (setting::bigint * CASE unit WHEN '8kB' THEN 8 ELSE 1 END / 1024)::int AS mb
       FROM pg_settings WHERE name = ANY($1) ORDER BY name`,
      [names],
    );
    return Object.fromEntries(rows.map((r) => [r.name, r.mb]));
  } finally {
    await db.end();
  }
}

describe("a data dir whose socket path would be too long", () => {
  it("connects to its PostgreSQL over TCP on 127.0.0.1 instead, and works", async () => {
    const dataDir = path.join(await createDataDir(), "a-data-dir-with-a-long-name-".repeat(3));
    expect(Buffer.byteLength(path.join(dataDir, "run"))).toBeGreaterThan(90);
    await withServer(["--port", "0", "--data-dir", dataDir], async (server) => {
      expect((await fetch(`${server.url}/ready`)).status).toBe(200);
      expect(existsSync(path.join(dataDir, "run"))).toBe(false);
      expect(await clientAddresses(dataDir)).toEqual({ waymark: ["127.0.0.1"], tool: "127.0.0.1" });
    });
  });
});

/** Where Waymark's connections to the embedded PostgreSQL come from ("socket": a Unix socket), and ours. */
async function clientAddresses(dataDir: string): Promise<{ waymark: string[]; tool: string }> {
  const db = await connectEmbedded(dataDir);
  try {
    const { rows } = await db.query<{ app: string; addr: string | null; mine: boolean }>(
      `SELECT application_name AS app, host(client_addr) AS addr, pid = pg_backend_pid() AS mine
       FROM pg_stat_activity WHERE backend_type = 'client backend'`,
    );
    return {
      waymark: [...new Set(rows.filter((r) => r.app === "waymark").map((r) => r.addr ?? "socket"))],
      tool: rows.find((r) => r.mine)!.addr ?? "socket",
    };
  } finally {
    await db.end();
  }
}

describe("with DATABASE_URL", () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db.drop());

  it("starts no embedded PostgreSQL and stores events in that database", async () => {
    const dataDir = await createDataDir();
    const env = { DATABASE_URL: db.url };
    await withServer(
      ["--port", "0", "--data-dir", dataDir],
      async (server) => {
        expect(server.stdout()).toContain(`database:    PostgreSQL at ${new URL(db.url).host}/${db.name}`);
        expect(existsSync(path.join(dataDir, "pg"))).toBe(false);
        const credentials = await readCredentials(dataDir);
        const res = await track(server.url, credentials.writeKey, "/v1/track", {
          userId: "external",
          event: "External",
          messageId: "external-1",
        });
        expect(res.status).toBe(200);
        const { rows } = await db.pool.query(
          "SELECT workspace_id, event FROM events WHERE message_id = 'external-1'",
        );
        expect(rows).toEqual([{ workspace_id: credentials.workspaceId, event: "External" }]);
      },
      { env },
    );
    expect(existsSync(path.join(dataDir, "pg"))).toBe(false);
  });
});

describe("several processes at once on an empty database", () => {
  let db: TestDatabase;
  beforeEach(async () => {
    // The test database is a migrated clone; empty it to get the first-start race.
    db = await createTestDatabase();
    await db.pool.query("DROP SCHEMA public CASCADE; CREATE SCHEMA public");
  });
  afterEach(() => db.drop());

  it("two `waymark migrate` both succeed and apply each migration once", async () => {
    const dataDir = await createDataDir();
    const env = { DATABASE_URL: db.url };
    const runs = await Promise.all([
      runCli(["migrate", "--data-dir", dataDir], { env }),
      runCli(["migrate", "--data-dir", dataDir], { env }),
    ]);
    for (const run of runs) expect(run).toMatchObject({ code: 0, stderr: "" });
    const names = (await loadMigrations()).map((m) => m.name);
    // One applied everything; the other waited for the lock and found nothing to do.
    expect(runs.map((r) => r.stdout).sort()).toEqual([
      `applied: ${names.join(", ")}\n`,
      "database is up to date\n",
    ]);
    const { rows } = await db.pool.query("SELECT name FROM schema_migrations ORDER BY version");
    expect(rows.map((r: { name: string }) => r.name)).toEqual(names);
  });

  it("two workers starting together both come up, and only one creates the first workspace", async () => {
    const env = { DATABASE_URL: db.url };
    const dirs = [await createDataDir(), await createDataDir()];
    const workers = await Promise.all(
      dirs.map((dir) => startCli(["--port", "0", "--role", "worker", "--data-dir", dir], { env })),
    );
    const exits = [];
    try {
      for (const w of workers) expect(w.stdout()).toMatch(/^Waymark worker listening on /);
      expect(workers.filter((w) => w.stdout().includes("new workspace created"))).toHaveLength(1);
      expect(dirs.filter((dir) => existsSync(path.join(dir, "credentials.json")))).toHaveLength(1);
      const { rows } = await db.pool.query("SELECT name FROM workspaces");
      expect(rows).toEqual([{ name: "default" }]);
    } finally {
      for (const w of workers) exits.push(await w.terminate());
    }
    for (const exit of exits) expect(exit).toMatchObject({ code: 0 });
  });

  it("a worker beside a server on its data dir leaves apiUrl to the server and says links need WAYMARK_PUBLIC_URL", async () => {
    const env = { DATABASE_URL: db.url };
    const dataDir = await createDataDir();
    await withServer(
      ["--port", "0", "--data-dir", dataDir],
      async (server) => {
        expect((await readCredentials(dataDir)).apiUrl).toBe(server.url);
        await withServer(
          ["--port", "0", "--role", "worker", "--data-dir", dataDir],
          async (worker) => {
            expect(worker.url).not.toBe(server.url);
            // The CLI still reaches the server, which serves the admin API; the worker does not.
            expect((await readCredentials(dataDir)).apiUrl).toBe(server.url);
            expect(await waitFor(() => /WAYMARK_PUBLIC_URL is not set/.test(worker.stderr()), 5_000)).toBe(
              true,
            );
            expect(worker.stderr()).toContain(
              `built on its own address, ${worker.url}, which does not serve them`,
            );
          },
          { env },
        );
        // The server, started without --role, gives no such warning.
        expect(server.stderr()).not.toContain("WAYMARK_PUBLIC_URL");
      },
      { env },
    );
  });
});

describe.concurrent("bad flags", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["an unknown role", ["--role", "nope"], /^waymark: role must be one of all, api, worker \(got nope\)$/m],
    [
      "a port that is not a number",
      ["--port", "abc"],
      /^waymark: port must be an integer from 0 to 65535 \(got abc\)$/m,
    ],
    ["a port out of range", ["--port", "70000"], /port must be an integer from 0 to 65535 \(got 70000\)/],
    ["an unknown option", ["--bogus"], /unknown option '--bogus'/],
  ];
  for (const [what, flags, message] of cases) {
    it(`refuses ${what} with a clear message, a non-zero exit and nothing started`, async () => {
      const dataDir = await createDataDir();
      const run = await runCli(["start", "--data-dir", dataDir, ...flags]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(message);
      expect(run.stdout).toBe("");
      expect(existsSync(dataDir)).toBe(false);
    });
  }

  // Only root runs the embedded PostgreSQL as another user.
  it.runIf(process.getuid?.() === 0)(
    "refuses a data dir the postgres user cannot enter, saying how to fix it",
    async () => {
      const parent = await createDataDir(); // not created yet: make it private
      await mkdir(parent, { mode: 0o700 });
      const run = await runCli(["start", "--port", "0", "--data-dir", path.join(parent, "inner")]);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toMatch(
        /^waymark: the embedded PostgreSQL runs as the "postgres" user, which cannot enter /m,
      );
      expect(run.stderr).toContain("--data-dir");
    },
  );
});
