import { randomUUID } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  allEvents,
  cleanUpProcesses,
  createDataDir,
  isAlive,
  killEverythingUsing,
  launchCli,
  livePostmaster,
  processesUsing,
  readCredentials,
  sleep,
  startCli,
  track,
  waitFor,
  withServer,
  type ServerProcess,
} from "./support/process.ts";

afterAll(cleanUpProcesses);

const SINGLE_SENDERS = 12;
const BATCH_SENDERS = 4;
const BATCH_SIZE = 10;
/** Each sender stops after this many requests even if nothing stops it sooner. */
const MAX_REQUESTS = 3_000;
/** ... or after this long. */
const MAX_LOAD_MS = 15_000;

interface Load {
  /** messageIds of every message the server answered 200 for. */
  acknowledged: Set<string>;
  /** messageIds of every message sent, answered or not. */
  sent: Set<string>;
  /** Status codes other than 200, and network errors, by kind. */
  failures: Map<string, number>;
  /** Stops the senders; resolves when all have stopped. */
  stop(): Promise<void>;
}

/**
 * 16 concurrent senders against `url`: 12 sending one /v1/track event per request, 4 sending
 * /v1/batch requests of 10. Every message has a unique messageId. A sender stops on stop(), after
 * MAX_REQUESTS, after MAX_LOAD_MS, or once the server stops answering (connection refused).
 */
function startLoad(url: string, writeKey: string): Load {
  const acknowledged = new Set<string>();
  const sent = new Set<string>();
  const failures = new Map<string, number>();
  const fail = (kind: string) => failures.set(kind, (failures.get(kind) ?? 0) + 1);
  let stopped = false;
  const deadline = performance.now() + MAX_LOAD_MS;

  const sender = async (id: number, batch: boolean) => {
    for (let n = 0; n < MAX_REQUESTS && !stopped && performance.now() < deadline; n++) {
      const ids = Array.from({ length: batch ? BATCH_SIZE : 1 }, () => `s${id}-${n}-${randomUUID()}`);
      const messages = ids.map((messageId) => ({
        type: "track",
        userId: `sender-${id}`,
        event: "Load",
        properties: { n },
        messageId,
      }));
      for (const messageId of ids) sent.add(messageId);
      try {
        const res = batch
          ? await track(url, writeKey, "/v1/batch", { batch: messages })
          : await track(url, writeKey, "/v1/track", messages[0]);
        const body = (await res.json()) as { accepted?: number };
        if (res.status === 200 && body.accepted === ids.length) {
          for (const messageId of ids) acknowledged.add(messageId);
        } else {
          fail(`status ${res.status}`);
        }
      } catch (err) {
        const code = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
        fail(code);
        // The server is gone: nothing more to send.
        if (code === "ECONNREFUSED") return;
      }
    }
  };
  const senders = [
    ...Array.from({ length: SINGLE_SENDERS }, (_, i) => sender(i, false)),
    ...Array.from({ length: BATCH_SENDERS }, (_, i) => sender(SINGLE_SENDERS + i, true)),
  ];
  const all = Promise.all(senders).then(() => undefined);
  return {
    acknowledged,
    sent,
    failures,
    stop: () => {
      stopped = true;
      return all;
    },
  };
}

/** Waits for at least `ms` of load and at least `count` acknowledged messages (bounded). */
async function loadFor(load: Load, ms: number, count: number): Promise<void> {
  await sleep(ms);
  await waitFor(() => load.acknowledged.size >= count, 10_000);
  expect(load.acknowledged.size).toBeGreaterThanOrEqual(count);
}

/** Every acknowledged message is stored exactly once; nothing is stored that was not sent. */
async function expectStoredExactlyOnce(server: ServerProcess, adminToken: string, load: Load) {
  const events = await allEvents(server.url, adminToken);
  const seen = new Map<string, number>();
  for (const e of events) seen.set(String(e.messageId), (seen.get(String(e.messageId)) ?? 0) + 1);
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([id]) => id);
  const missing = [...load.acknowledged].filter((id) => !seen.has(id));
  const unknown = [...seen.keys()].filter((id) => !load.sent.has(id));
  expect({ duplicates, missing, unknown }).toEqual({ duplicates: [], missing: [], unknown: [] });
  expect(events.length).toBeGreaterThanOrEqual(load.acknowledged.size);
}

describe("the server is killed with kill -9 under load, then started again", () => {
  it("keeps every acknowledged event exactly once, after shutting down the orphaned PostgreSQL", async () => {
    const dataDir = await createDataDir();
    const first = await startCli(["--port", "0", "--data-dir", dataDir]);
    const { writeKey, adminToken } = await readCredentials(dataDir);

    const load = startLoad(first.url, writeKey);
    let orphan: number | null;
    try {
      await loadFor(load, 1_500, 500);
      orphan = livePostmaster(dataDir);
      first.kill("SIGKILL");
      expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    } finally {
      await load.stop();
    }
    // The scenario: Waymark is gone, its PostgreSQL is not.
    expect(orphan).not.toBeNull();
    expect(isAlive(orphan!)).toBe(true);

    await withServer(["--port", "0", "--data-dir", dataDir], async (second) => {
      expect(isAlive(orphan!)).toBe(false);
      expect(livePostmaster(dataDir)).not.toBe(orphan);
      expect(livePostmaster(dataDir)).not.toBeNull();
      await expectStoredExactlyOnce(second, adminToken, load);
    });
    expect(livePostmaster(dataDir)).toBeNull();
  });
});

describe("the server and its PostgreSQL are killed together with kill -9 under load", () => {
  it("recovers on the next start and keeps every acknowledged event exactly once", async () => {
    const dataDir = await createDataDir();
    const first = await startCli(["--port", "0", "--data-dir", dataDir]);
    const { writeKey, adminToken } = await readCredentials(dataDir);

    const load = startLoad(first.url, writeKey);
    let killed: number[] = [];
    try {
      await loadFor(load, 1_500, 500);
      // The CLI, the postmaster and every backend at once: PostgreSQL must recover from its WAL.
      killed = killEverythingUsing(dataDir);
      await first.exited;
    } finally {
      await load.stop();
    }
    expect(killed.length).toBeGreaterThan(2);
    // Gone for good, zombies included: init may take a second to reap the orphans, and PostgreSQL
    // refuses a lock file whose pid still exists.
    expect(await waitFor(() => killed.every((pid) => !existsSync(`/proc/${pid}`)), 10_000)).toBe(true);
    expect(existsSync(path.join(dataDir, "pg", "postmaster.pid"))).toBe(true); // stale

    await withServer(["--port", "0", "--data-dir", dataDir], (second) =>
      expectStoredExactlyOnce(second, adminToken, load),
    );
  });
});

describe("the server gets SIGTERM under load", () => {
  it("answers or refuses every request, stores every acknowledged event, and exits 0 within 10 s", async () => {
    const dataDir = await createDataDir();
    const server = await startCli(["--port", "0", "--data-dir", dataDir]);
    const { writeKey, adminToken } = await readCredentials(dataDir);

    const load = startLoad(server.url, writeKey);
    let exit: Awaited<ReturnType<ServerProcess["terminate"]>>;
    try {
      await loadFor(load, 1_000, 500);
      exit = await server.terminate();
    } finally {
      await load.stop();
    }
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(10_000);
    expect(livePostmaster(dataDir)).toBeNull();
    // Requests racing the shutdown are refused, never half-done.
    for (const kind of load.failures.keys()) {
      expect(["status 503", "ECONNREFUSED", "ECONNRESET", "EPIPE", "UND_ERR_SOCKET"]).toContain(kind);
    }

    await withServer(["--port", "0", "--data-dir", dataDir], (again) =>
      expectStoredExactlyOnce(again, adminToken, load),
    );
  });
});

/** initdb runs on the data dir and has written PG_VERSION (it does so before most of its work). */
function initdbUnderway(dataDir: string): boolean {
  const folders = existsSync(dataDir) ? readdirSync(dataDir).filter((name) => name.startsWith("pg")) : [];
  return (
    folders.some((name) => existsSync(path.join(dataDir, name, "PG_VERSION"))) &&
    processesUsing(dataDir).some((p) => /\binitdb\b/.test(p.command))
  );
}

describe("the first start is interrupted", () => {
  it("by SIGTERM during initdb: exits 0 within 10 s and leaves no PostgreSQL running", async () => {
    const dataDir = await createDataDir();
    const launched = launchCli(["--port", "0", "--data-dir", dataDir]);
    expect(await waitFor(() => initdbUnderway(dataDir), 20_000, 10)).toBe(true);
    const exit = await launched.terminate();
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(10_000);
    expect(livePostmaster(dataDir)).toBeNull();
    expect(processesUsing(dataDir)).toEqual([]);
  });

  it("by SIGTERM while PostgreSQL starts: exits 0 within 10 s and stops it", async () => {
    const dataDir = await createDataDir();
    const launched = launchCli(["--port", "0", "--data-dir", dataDir]);
    expect(await waitFor(() => livePostmaster(dataDir) !== null, 20_000, 10)).toBe(true);
    const postmaster = livePostmaster(dataDir)!;
    expect(launched.stdout()).toBe(""); // still starting: no banner yet
    const exit = await launched.terminate();
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(10_000);
    expect(await waitFor(() => !isAlive(postmaster), 2_000)).toBe(true);
  });

  for (const delayMs of [0, 300]) {
    it(`by kill -9 ${delayMs} ms into initdb: the next start initialises afresh and comes up`, async () => {
      const dataDir = await createDataDir();
      launchCli(["--port", "0", "--data-dir", dataDir]);
      expect(await waitFor(() => initdbUnderway(dataDir), 20_000, 10)).toBe(true);
      await sleep(delayMs);
      // The CLI, initdb and its bootstrap backend all at once, as an OOM kill or power cut would.
      expect(killEverythingUsing(dataDir).length).toBeGreaterThanOrEqual(2);
      await waitFor(() => processesUsing(dataDir).length === 0, 5_000);

      await withServer(["--port", "0", "--data-dir", dataDir], async (next) => {
        expect((await fetch(`${next.url}/ready`)).status).toBe(200);
        const { writeKey, adminToken } = await readCredentials(dataDir);
        expect((await track(next.url, writeKey, "/v1/track", { userId: "u", event: "E" })).status).toBe(200);
        expect(await allEvents(next.url, adminToken)).toHaveLength(1);
        expect(readdirSync(dataDir).filter((name) => name.startsWith("pg.initdb"))).toEqual([]);
      });
    });
  }
});
