import { afterAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import {
  admin,
  cleanUpProcesses,
  createDataDir,
  readCredentials,
  sleep,
  startCli,
  track,
  type Credentials,
  type ServerProcess,
} from "./support/process.ts";

/**
 * Real `waymark start` processes sharing one PostgreSQL (DATABASE_URL): an api process takes the
 * events, worker processes run the pipeline, and are killed with -9 as a crash would.
 */

const databases: TestDatabase[] = [];
afterAll(async () => {
  await cleanUpProcesses();
  for (const db of databases) await db.drop();
});

interface Cluster {
  db: TestDatabase;
  api: ServerProcess;
  credentials: Credentials;
  startWorker(): Promise<ServerProcess>;
}

/** A fresh database and an api process on it (which creates the workspace); workers on demand. */
async function startCluster(): Promise<Cluster> {
  const db = await createTestDatabase();
  databases.push(db);
  const env = { DATABASE_URL: db.url, WAYMARK_LOG_LEVEL: "warn" };
  const dataDir = await createDataDir();
  const api = await startCli(["--role", "api", "--port", "0", "--data-dir", dataDir], { env });
  return {
    db,
    api,
    credentials: await readCredentials(dataDir),
    startWorker: async () =>
      startCli(["--role", "worker", "--port", "0", "--data-dir", await createDataDir()], { env }),
  };
}

/** The pid in a lease owner (`host:pid:random`). */
const pidOf = (owner: string) => Number(owner.split(":").at(-2));

interface Unit {
  unit: string;
  appliedSeq: number;
  lagEvents: number;
  lagSeconds: number;
  owner: string | null;
}

async function units(cluster: Cluster): Promise<Unit[]> {
  const res = await admin(cluster.api.url, cluster.credentials.adminToken, "/api/v1/pipeline");
  expect(res.status).toBe(200);
  return ((await res.json()) as { units: Unit[] }).units;
}

/** How many units each worker process holds now (by pid), from GET /api/v1/pipeline. */
async function holders(cluster: Cluster): Promise<Map<number | null, number>> {
  const held = new Map<number | null, number>();
  for (const u of await units(cluster)) {
    const pid = u.owner === null ? null : pidOf(u.owner);
    held.set(pid, (held.get(pid) ?? 0) + 1);
  }
  return held;
}

/** Polls `check` every 100 ms until it holds or `ms` pass; returns how long it took, or null. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (await check()) return performance.now() - started;
    await sleep(100);
  }
  return null;
}

/**
 * The events of `people` people in arrival order: every third one uses the app as a known user and
 * the web anonymously, then logs in on the web (a merge of two profiles); the others are users.
 */
function eventsOf(people: number, tag: string) {
  const perPerson = new Map<string, number>();
  const rounds: Array<Array<Record<string, unknown>>> = [];
  for (let i = 0; i < people; i++) {
    const userId = `${tag}-user-${i}`;
    const anonymousId = `${tag}-web-${i}`;
    const events: Array<Record<string, unknown>> = [];
    for (let n = 0; n < 15; n++) {
      if (i % 3 === 0 && n >= 5 && n < 10) {
        events.push({ type: "track", anonymousId, event: "Product Viewed", properties: { n } });
      } else {
        events.push({ type: "track", userId, event: "App Used", properties: { n } });
      }
      if (i % 3 === 0 && n === 10) events.push({ type: "identify", userId, anonymousId, traits: { i } });
    }
    perPerson.set(userId, events.length);
    events.forEach((e, n) => (rounds[n] ??= []).push(e));
  }
  return { perPerson, all: rounds.flat() };
}

/** Sends the events in /v1/batch requests of 100, in order, pausing between requests (bounded). */
async function send(cluster: Cluster, events: Array<Record<string, unknown>>, pauseMs = 0): Promise<void> {
  for (let i = 0; i < events.length; i += 100) {
    const res = await track(cluster.api.url, cluster.credentials.writeKey, "/v1/batch", {
      batch: events.slice(i, i + 100),
    });
    expect(res.status).toBe(200);
    if (pauseMs) await sleep(pauseMs);
  }
}

/** Events applied so far: the event counts of the live (not merged-away) profiles. */
async function appliedCount(db: TestDatabase): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(
    "SELECT coalesce(sum(event_count), 0)::int AS n FROM profiles WHERE merged_into IS NULL",
  );
  return rows[0]!.n;
}

/**
 * Every event of the log applied exactly once: each person's profile counts exactly their events
 * (both of a merged person's earlier profiles included), the live profiles together count the
 * log, nothing is left queued, the resolve offset is at the head, and the API reports no lag.
 */
async function expectAppliedExactlyOnce(cluster: Cluster, perPerson: Map<string, number>): Promise<void> {
  const { db } = cluster;
  const { rows } = await db.pool.query<{ value: string; event_count: number }>(
    `SELECT i.value, p.event_count FROM identities i JOIN profiles p ON p.workspace_id = i.workspace_id
       AND p.id = i.profile_id
     WHERE i.type = 'user_id' AND i.value = ANY($1::text[])`,
    [[...perPerson.keys()]],
  );
  const counted = new Map(rows.map((r) => [r.value, r.event_count]));
  const wrong = [...perPerson].filter(([user, n]) => counted.get(user) !== n);
  expect(wrong.map(([user, n]) => ({ user, expected: n, counted: counted.get(user) }))).toEqual([]);

  const { rows: log } = await db.pool.query<{ n: number; head: number; resolved: number; queued: number }>(
    `SELECT (SELECT count(*)::int FROM events) AS n,
       (SELECT last_seq FROM event_sequences) AS head,
       (SELECT seq FROM pipeline_offsets WHERE unit = 'resolve') AS resolved,
       (SELECT count(*)::int FROM pipeline_queue) AS queued`,
  );
  expect(log[0]).toEqual({ n: log[0]!.head, head: log[0]!.head, resolved: log[0]!.head, queued: 0 });
  expect(await appliedCount(db)).toBe(log[0]!.n);
  const status = await units(cluster);
  expect(status.filter((u) => u.lagEvents !== 0 || u.lagSeconds !== 0)).toEqual([]);
  expect(status.find((u) => u.unit === "resolve")!.appliedSeq).toBe(log[0]!.head);
}

async function drained(cluster: Cluster, total: number, ms: number): Promise<void> {
  const took = await within(
    ms,
    async () =>
      (await appliedCount(cluster.db)) >= total && (await units(cluster)).every((u) => u.lagEvents === 0),
  );
  expect(took, `pipeline not drained within ${ms} ms`).not.toBeNull();
}

describe("a worker is killed with kill -9 mid-stream", () => {
  it("another worker takes over and every event is applied exactly once", async () => {
    const cluster = await startCluster();
    const { perPerson, all } = eventsOf(200, "crash");
    const first = await cluster.startWorker();

    // Events keep arriving; the worker is killed once it has applied some and while more come in.
    const sending = send(cluster, all, 25);
    let appliedAtKill: number;
    try {
      expect(await within(20_000, async () => (await appliedCount(cluster.db)) >= 400)).not.toBeNull();
      first.kill("SIGKILL");
      expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
      appliedAtKill = await appliedCount(cluster.db);
    } finally {
      await sending;
    }
    expect(appliedAtKill).toBeLessThan(all.length);
    // The dead worker's leases are still there, unrenewed.
    expect([...(await holders(cluster)).keys()]).toContain(first.pid);

    const second = await cluster.startWorker();
    await drained(cluster, all.length, 30_000);
    await expectAppliedExactlyOnce(cluster, perPerson);
    expect(await holders(cluster)).toEqual(new Map([[second.pid, 9]]));
  }, 90_000);
});

describe("two worker processes", () => {
  it("share the units, and one takes over everything within 10 s when the other is killed", async () => {
    const cluster = await startCluster();
    const a = await cluster.startWorker();
    const b = await cluster.startWorker();

    // Fair share: 9 units between two workers, 4 and 5, both holding some.
    const shared = await within(10_000, async () => {
      const held = await holders(cluster);
      return held.get(a.pid)! >= 4 && held.get(b.pid)! >= 4 && !held.has(null);
    });
    expect(shared, JSON.stringify([...(await holders(cluster))])).not.toBeNull();

    const { perPerson, all } = eventsOf(120, "shared");
    const sending = send(cluster, all, 20);
    let takeover: number | null;
    try {
      expect(await within(20_000, async () => (await appliedCount(cluster.db)) >= 300)).not.toBeNull();
      a.kill("SIGKILL");
      await a.exited;
      takeover = await within(10_000, async () => (await holders(cluster)).get(b.pid) === 9);
    } finally {
      await sending;
    }
    expect(takeover, "b holds every unit within 10 s of a's death").not.toBeNull();
    await drained(cluster, all.length, 30_000);
    await expectAppliedExactlyOnce(cluster, perPerson);

    // A third joins and takes its share; b, stopped cleanly, hands its units over at once (no expiry).
    const c = await cluster.startWorker();
    expect(await within(10_000, async () => ((await holders(cluster)).get(c.pid) ?? 0) >= 4)).not.toBeNull();
    const exit = await b.terminate();
    expect(exit).toMatchObject({ code: 0, signal: null });
    const handover = await within(5_000, async () => (await holders(cluster)).get(c.pid) === 9);
    expect(handover, "c holds every unit well before b's leases would have expired").not.toBeNull();
    expect(handover!).toBeLessThan(4_000);

    const more = eventsOf(30, "after");
    await send(cluster, more.all);
    await drained(cluster, all.length + more.all.length, 30_000);
    await expectAppliedExactlyOnce(cluster, new Map([...perPerson, ...more.perPerson]));
  }, 120_000);
});
