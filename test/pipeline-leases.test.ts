import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPool, type Pool } from "../src/db/index.ts";
import { ALL_UNITS, PipelineWorker } from "../src/pipeline/index.ts";
import { profileStage } from "../src/profiles/index.ts";
import { drained, sendTracks } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

/** Two in-process workers on one database, each with its own pool, as two processes would be. */
let server: TestServer;
const pools: Pool[] = [];
const workers: PipelineWorker[] = [];
let a: PipelineWorker;
let b: PipelineWorker;

beforeAll(async () => {
  server = await startTestServer();
  [a, b] = [newWorker(), newWorker()];
});
afterAll(async () => {
  for (const w of workers) await w.stop();
  for (const p of pools) await p.end();
  await server.close();
});

function newWorker(): PipelineWorker {
  const pool = createPool(server.db.url, 12);
  pools.push(pool);
  const worker = new PipelineWorker(pool, { stages: [profileStage], pollMs: 20 });
  workers.push(worker);
  return worker;
}

/** Lease owners by unit, as the database has them (live leases only). */
async function leases(): Promise<Map<string, string>> {
  const { rows } = await server.db.pool.query<{ unit: string; owner: string }>(
    "SELECT unit, owner FROM pipeline_leases WHERE expires_at > now()",
  );
  return new Map(rows.map((r) => [r.unit, r.owner]));
}

/** Polls `check` every 50 ms until it holds or `ms` pass; returns how long it took, or null. */
async function within(ms: number, check: () => boolean | Promise<boolean>): Promise<number | null> {
  const started = performance.now();
  while (performance.now() - started < ms) {
    if (await check()) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  return null;
}

async function waiting(): Promise<number> {
  const { rows } = await server.db.pool.query<{ n: number }>(
    `SELECT (SELECT last_seq FROM event_sequences) - coalesce((SELECT seq FROM pipeline_offsets WHERE unit = 'resolve'), 0)
       + (SELECT count(*) FROM pipeline_queue)::int AS n`,
  );
  return rows[0]!.n;
}

describe("workers sharing the pipeline's units", () => {
  it("a lone worker takes every unit", async () => {
    a.start();
    expect(await within(3_000, () => a.units.length === ALL_UNITS.length)).not.toBeNull();
    expect(new Set((await leases()).values())).toEqual(new Set([a.owner]));
  });

  it("a second worker gets its fair share without waiting for any lease to expire, and no unit has two holders", async () => {
    b.start();
    // One refresh of each (every 1.5 s) to see the other, give up or take: well under the 6 s lifetime.
    const took = await within(5_000, () => a.units.length >= 4 && b.units.length >= 4);
    expect(took).not.toBeNull();
    expect(took!).toBeLessThan(4_000);
    expect([...a.units, ...b.units].sort()).toEqual([...ALL_UNITS].sort());
    const owners = await leases();
    expect(a.units.every((u) => owners.get(u) === a.owner)).toBe(true);
    expect(b.units.every((u) => owners.get(u) === b.owner)).toBe(true);

    await sendTracks(server, 200, "shared", 13);
    await drained(server);
  });

  it("a worker whose units were taken from it stops working them", async () => {
    await b.stop();
    expect(await within(3_000, () => a.units.length === ALL_UNITS.length)).not.toBeNull();
    // Another owner holds every unit now (as after a's leases lapsed during a long pause).
    await server.db.pool.query(
      "UPDATE pipeline_leases SET owner = 'elsewhere', expires_at = now() + interval '1 minute'",
    );
    expect(await within(3_000, () => a.units.length === 0)).not.toBeNull();
    await sendTracks(server, 50, "stalled", 13);
    await new Promise((r) => setTimeout(r, 1_000));
    expect(await waiting()).toBe(50);

    // The other owner goes away (its leases released): a takes everything back and catches up.
    await server.db.pool.query("DELETE FROM pipeline_leases WHERE owner = 'elsewhere'");
    expect(await within(3_000, () => a.units.length === ALL_UNITS.length)).not.toBeNull();
    await drained(server);
    expect(await waiting()).toBe(0);
  });

  it("stop() finishes, gives every lease back, and a stopped worker can start again", async () => {
    await a.stop();
    expect(a.units).toEqual([]);
    expect(await leases()).toEqual(new Map());
    const { rows } = await server.db.pool.query("SELECT 1 FROM pipeline_workers WHERE owner = $1", [a.owner]);
    expect(rows).toEqual([]);

    await sendTracks(server, 20, "again", 13);
    a.start();
    await drained(server);
    expect(await waiting()).toBe(0);
  });
});
