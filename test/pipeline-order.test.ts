import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Pool } from "../src/db/index.ts";
import { PipelineWorker, partitionOf, runResolve, type PipelineStage } from "../src/pipeline/index.ts";
import { profileStage } from "../src/profiles/index.ts";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

/**
 * A test-only stage, run by the real pipeline after the profile stage: it records every event it is
 * given (the profile it resolved to, the profiles it merged) in a table, inside the apply transaction.
 * The identity column numbers the rows in the order the transactions ran, so the table is the order
 * in which the pipeline applied the events. Batches holding an event of a `slow` profile take longer,
 * so those profiles' partitions fall behind the others.
 */
function recordingStage(slow: Set<string>): PipelineStage {
  return {
    name: "recorder",
    async apply(tx, events) {
      if (events.length === 0) return;
      await tx.query(
        `INSERT INTO test_applied (workspace_id, seq, profile_id, merged)
         SELECT w, s, p, ARRAY(SELECT jsonb_array_elements_text(m))::uuid[]
         FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::jsonb[]) AS x(w, s, p, m)`,
        [
          events.map((e) => e.workspaceId),
          events.map((e) => e.seq),
          events.map((e) => e.profileId),
          events.map((e) => JSON.stringify(e.merged)),
        ],
      );
      if (events.some((e) => slow.has(e.profileId))) await new Promise((r) => setTimeout(r, 25));
    },
  };
}

const slow = new Set<string>();
const recorder = recordingStage(slow);
let server: TestServer;
/** A second worker on its own pool, sharing the units with the server's. */
let second: PipelineWorker;
let secondPool: Pool;
const errors: unknown[] = [];

beforeAll(async () => {
  server = await startTestServer({ pipeline: true, stages: [recorder], batchSize: 7 });
  await server.db.pool.query(
    `CREATE TABLE test_applied (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
       workspace_id uuid NOT NULL, seq bigint NOT NULL, profile_id uuid NOT NULL, merged uuid[] NOT NULL)`,
  );
  secondPool = createPool(server.db.url, 10);
  second = new PipelineWorker(secondPool, {
    stages: [profileStage, recorder],
    pollMs: 10,
    batchSize: 5,
    onError: (err) => errors.push(err),
  });
  second.start();
});

afterAll(async () => {
  await second?.stop();
  await secondPool?.end();
  await server?.close();
});

async function send(batch: Array<Record<string, unknown>>): Promise<void> {
  // In requests of 100, in order: the log keeps the order of arrival.
  for (let i = 0; i < batch.length; i += 100) {
    const res = await server.track("/v1/batch", { batch: batch.slice(i, i + 100) });
    expect(res.status).toBe(200);
  }
}

/** The profile an identifier resolved to (once the resolve unit has seen it). */
async function profileOf(type: string, value: string): Promise<string> {
  const { rows } = await server.db.pool.query<{ profile_id: string }>(
    "SELECT profile_id FROM identities WHERE workspace_id = $1 AND type = $2 AND value = $3",
    [server.keys.workspaceId, type, value],
  );
  expect(rows).toHaveLength(1);
  return rows[0]!.profile_id;
}

/**
 * `count` people, each known first by two identifiers whose profiles were created in different
 * partitions: an anonymous id (web) and a user id (app). Profile ids are random, so a pair that
 * landed in one partition is dropped and another tried (bounded). Each pair's first events are
 * resolved here (stage one only) so the profiles exist; nothing is applied yet.
 */
async function peopleInTwoPartitions(count: number) {
  const people: Array<{ web: string; user: string; webProfile: string; userProfile: string }> = [];
  for (let attempt = 0; attempt < count * 20 && people.length < count; attempt++) {
    const tag = randomUUID().slice(0, 8);
    const web = `web-${tag}`;
    const user = `user-${tag}`;
    await send([
      { type: "page", anonymousId: web, name: "Home" },
      { type: "track", userId: user, event: "App Opened" },
    ]);
    await resolveAll();
    const webProfile = await profileOf("anonymous_id", web);
    const userProfile = await profileOf("user_id", user);
    if (partitionOf(webProfile) !== partitionOf(userProfile)) {
      people.push({ web, user, webProfile, userProfile });
    }
  }
  expect(people).toHaveLength(count);
  return people;
}

/** Runs stage one until the log is resolved (bounded), whoever holds the resolve unit. */
async function resolveAll(): Promise<void> {
  for (let i = 0; i < 100 && (await runResolve(server.db.pool, 1000)) > 0; i++);
}

async function stopWorkers() {
  await Promise.all([server.pipeline!.stop(), second.stop()]);
}
function startWorkers() {
  server.pipeline!.start();
  second.start();
}

/**
 * Every event in the log was applied exactly once, in an order that keeps each customer's history:
 * each profile's events in strictly increasing seq order; a merge after every event of the profiles
 * it merged (wherever they were queued), and nothing for a merged-away profile after its merge; each
 * surviving profile counted exactly the events of everyone merged into it. (Two profiles not yet
 * known to be one person are two customers until the merge: their events may interleave freely.)
 */
async function expectAppliedInOrder(): Promise<{ merges: number }> {
  const pool = server.db.pool;
  const w = server.keys.workspaceId;
  const { rows: applied } = await pool.query<{
    id: number;
    seq: number;
    profile_id: string;
    merged: string[];
  }>("SELECT id, seq, profile_id, merged FROM test_applied WHERE workspace_id = $1 ORDER BY id", [w]);
  const { rows: log } = await pool.query<{ seq: number }>(
    "SELECT seq FROM events WHERE workspace_id = $1 ORDER BY seq",
    [w],
  );
  expect(applied.map((a) => a.seq).sort((a, b) => a - b)).toEqual(log.map((e) => e.seq));

  const byProfile = new Map<string, number[]>();
  for (const a of applied) byProfile.set(a.profile_id, [...(byProfile.get(a.profile_id) ?? []), a.seq]);
  const outOfOrder = [...byProfile].filter(([, seqs]) => seqs.some((s, i) => i > 0 && s <= seqs[i - 1]!));
  expect(outOfOrder).toEqual([]);

  let merges = 0;
  for (const [i, m] of applied.entries()) {
    for (const from of m.merged) {
      merges++;
      const late = applied.filter((a, j) => a.profile_id === from && j > i).map((a) => a.seq);
      expect({ merge: m.seq, from, late }).toEqual({ merge: m.seq, from, late: [] });
    }
  }

  const { rows: profiles } = await pool.query<{ id: string; survivor: string; event_count: number }>(
    "SELECT id, coalesce(merged_into, id) AS survivor, event_count FROM profiles WHERE workspace_id = $1",
    [w],
  );
  const survivorOf = new Map(profiles.map((p) => [p.id, p.survivor]));
  const perPerson = new Map<string, number>();
  for (const a of applied) {
    const person = survivorOf.get(a.profile_id)!;
    perPerson.set(person, (perPerson.get(person) ?? 0) + 1);
  }
  const counts = profiles.filter((p) => p.id === p.survivor).map((p) => [p.id, p.event_count]);
  expect(counts).toEqual(counts.map(([id]) => [id, perPerson.get(id as string) ?? 0]));
  return { merges };
}

describe("a customer's events land on two profiles in two partitions, then they log in", () => {
  it("applies all their earlier events, from both partitions, before the merge, and everything in order", async () => {
    await stopWorkers();
    const people = await peopleInTwoPartitions(6);
    // The anonymous profiles will be merged away; their partitions fall behind.
    for (const p of people) slow.add(p.webProfile);

    // A backlog: many events on both profiles of every person, interleaved, then the login, then more.
    const batch: Array<Record<string, unknown>> = [];
    for (let round = 0; round < 30; round++) {
      for (const p of people) {
        batch.push({ type: "track", anonymousId: p.web, event: "Product Viewed", properties: { round } });
        if (round % 3 === 0)
          batch.push({ type: "track", userId: p.user, event: "App Used", properties: { round } });
      }
    }
    for (const p of people)
      batch.push({ type: "identify", userId: p.user, anonymousId: p.web, traits: { plan: "pro" } });
    for (let round = 0; round < 10; round++) {
      for (const p of people) {
        batch.push({ type: "track", userId: p.user, event: "Order Completed", properties: { round } });
        batch.push({ type: "track", anonymousId: p.web, event: "Product Viewed", properties: { round } });
      }
    }
    await send(batch);
    // Everything queued at once: the partition of the login runs ahead of the merged profile's.
    await resolveAll();

    startWorkers();
    await drained(server, 30_000);
    expect(errors).toEqual([]);
    const { merges } = await expectAppliedInOrder();
    expect(merges).toBe(people.length);
    for (const p of people) {
      expect(await profileOf("anonymous_id", p.web)).toBe(p.userProfile);
      const res = await server.admin(`/api/v1/profiles/${p.webProfile}`);
      const profile = (await res.json()) as { id: string; eventCount: number };
      // page + App Opened + 30 web + 10 app + identify + 20 after.
      expect(profile).toMatchObject({ id: p.userProfile, eventCount: 2 + 30 + 10 + 1 + 20 });
    }
  });
});

describe("one identify merges three profiles living in three partitions", () => {
  // Whichever of the two merged profiles' partitions is far behind, the merge waits for it.
  for (const behind of ["the anonymous profile", "the email profile"] as const) {
    it(`waits for every one of those partitions (${behind} far behind)`, async () => {
      await stopWorkers();
      // A user id, an anonymous id and an email, each first seen on its own profile, in three partitions.
      let trio: { user: string; web: string; app: string; email: string; profiles: string[] } | undefined;
      for (let attempt = 0; attempt < 60 && !trio; attempt++) {
        const tag = randomUUID().slice(0, 8);
        const [user, web, app, email] = [`u-${tag}`, `w-${tag}`, `a-${tag}`, `${tag}@example.com`];
        await send([
          { type: "track", userId: user, event: "Signed Up" },
          { type: "page", anonymousId: web, name: "Pricing" },
          { type: "identify", anonymousId: app, traits: { email } },
        ]);
        await resolveAll();
        const profiles = [
          await profileOf("user_id", user),
          await profileOf("anonymous_id", web),
          await profileOf("email", email),
        ];
        if (new Set(profiles.map(partitionOf)).size === 3) trio = { user, web, app, email, profiles };
      }
      expect(trio).toBeDefined();
      const { user, web, app, email, profiles } = trio!;
      slow.clear();
      slow.add(behind === "the anonymous profile" ? profiles[1]! : profiles[2]!);

      // The profile behind has many events to apply, slowly; the other, a few.
      const [many, few] = behind === "the anonymous profile" ? [web, app] : [app, web];
      const batch: Array<Record<string, unknown>> = [];
      for (let n = 0; n < 60; n++) {
        batch.push({ type: "track", anonymousId: many, event: "Product Viewed", properties: { n } });
        if (n < 4) batch.push({ type: "track", anonymousId: few, event: "Screen Viewed", properties: { n } });
      }
      batch.push({ type: "identify", userId: user, anonymousId: web, traits: { email } });
      for (let n = 0; n < 10; n++) {
        batch.push({ type: "track", userId: user, event: "Order Completed", properties: { n } });
      }
      await send(batch);
      // Everything queued at once: the partition of the login reaches it long before the one behind.
      await resolveAll();

      startWorkers();
      await drained(server, 30_000);
      expect(errors).toEqual([]);
      const { rows } = await server.db.pool.query<{ merged: string[] }>(
        "SELECT merged FROM test_applied WHERE profile_id = $1 AND cardinality(merged) > 0",
        [profiles[0]],
      );
      expect(rows.map((r) => [...r.merged].sort())).toEqual([[profiles[1], profiles[2]].sort()]);
      await expectAppliedInOrder();
      const res = await server.admin(`/api/v1/profiles/${profiles[2]}`);
      // Signed Up + page + identify + 60 + 4 + the login + 10.
      expect(await res.json()).toMatchObject({ id: profiles[0], eventCount: 3 + 64 + 1 + 10 });
    });
  }
});

describe("events keep arriving while two workers apply them", () => {
  it("applies each person's events in order, across logins that merge partitions", async () => {
    slow.clear();
    await stopWorkers();
    startWorkers();
    const people = Array.from({ length: 40 }, (_, i) => ({ web: `live-web-${i}`, user: `live-user-${i}` }));
    const senders = people.map(async (p, i) => {
      for (let n = 0; n < 12; n++) {
        const batch: Array<Record<string, unknown>> = [
          { type: "track", anonymousId: p.web, event: "Product Viewed", properties: { n } },
          { type: "track", userId: p.user, event: "App Used", properties: { n } },
        ];
        if (n === 6 + (i % 4)) batch.push({ type: "identify", userId: p.user, anonymousId: p.web });
        await send(batch);
      }
    });
    await Promise.all(senders);
    await drained(server, 30_000);
    expect(errors).toEqual([]);
    const { merges } = await expectAppliedInOrder();
    expect(merges).toBeGreaterThanOrEqual(people.length);
    // Both workers held units.
    expect(server.pipeline!.units.length).toBeGreaterThan(0);
    expect(second.units.length).toBeGreaterThan(0);
  });
});
