import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runResolve } from "../src/pipeline/index.ts";
import { drained, sendTracks } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

/** The server's clock: events are stamped with it, and lag in seconds is measured against it. */
let now = new Date();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ now: () => now, pipeline: true });
  // Held back until the story lets it run.
  await server.pipeline!.stop();
});
afterAll(() => server.close());

interface Unit {
  unit: string;
  appliedSeq: number;
  lagEvents: number;
  lagSeconds: number;
  owner: string | null;
}

async function status(): Promise<Unit[]> {
  const res = await server.admin("/api/v1/pipeline");
  expect(res.status).toBe(200);
  return ((await res.json()) as { units: Unit[] }).units;
}

/** Every sample of a metric from /metrics, by its `unit` or `stage` label. */
async function samples(name: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const found = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = new RegExp(`^${name}\\{(?:unit|stage)="([^"]+)"\\} (\\S+)$`).exec(line);
    if (m) found.set(m[1]!, Number(m[2]));
  }
  return found;
}

const sum = (units: Unit[]) => units.reduce((n, u) => n + u.lagEvents, 0);
const applyUnits = (units: Unit[]) => units.filter((u) => u.unit.startsWith("apply:"));

describe("the pipeline falls behind the log, then catches up", () => {
  it("reports nothing waiting before any event arrives", async () => {
    const units = await status();
    expect(units.map((u) => u.unit)).toEqual([
      "resolve",
      ...Array.from({ length: 8 }, (_, p) => `apply:${p}`),
    ]);
    expect(units.every((u) => u.appliedSeq === 0 && u.lagEvents === 0 && u.lagSeconds === 0)).toBe(true);
    expect(units.every((u) => u.owner === null)).toBe(true);
    const lag = await samples("waymark_pipeline_lag_events");
    expect(lag).toEqual(new Map(units.map((u) => [u.unit, 0])));
  });

  it("counts unresolved events against the resolve unit, with the age of the oldest", async () => {
    await sendTracks(server, 30, "first", 7);
    now = new Date(now.getTime() + 90_000);
    const [resolve, ...partitions] = await status();
    expect(resolve).toMatchObject({ unit: "resolve", appliedSeq: 0, lagEvents: 30, lagSeconds: 90 });
    expect(sum(partitions)).toBe(0);

    expect((await samples("waymark_pipeline_lag_events")).get("resolve")).toBe(30);
    expect((await samples("waymark_pipeline_lag_seconds")).get("resolve")).toBe(90);
  });

  it("moves them to the apply partitions once resolved, each with its own count and age", async () => {
    expect(await runResolve(server.db.pool, 1000)).toBe(30);
    now = new Date(now.getTime() + 10_000);
    const [resolve, ...partitions] = await status();
    expect(resolve).toMatchObject({ appliedSeq: 30, lagEvents: 0, lagSeconds: 0 });
    expect(sum(partitions)).toBe(30);
    for (const p of partitions) {
      expect(p.lagSeconds).toBe(p.lagEvents > 0 ? 100 : 0);
      expect(p.appliedSeq).toBe(0);
    }

    const events = await samples("waymark_pipeline_lag_events");
    const seconds = await samples("waymark_pipeline_lag_seconds");
    for (const p of partitions) {
      expect(events.get(p.unit)).toBe(p.lagEvents);
      expect(seconds.get(p.unit)).toBe(p.lagSeconds);
    }
    expect(events.get("resolve")).toBe(0);
  });

  it("reports every unit caught up, held by the worker, once it has run; and counts what it applied", async () => {
    server.pipeline!.start();
    await drained(server);
    const units = await status();
    expect(units.every((u) => u.lagEvents === 0 && u.lagSeconds === 0)).toBe(true);
    expect(units[0]!.appliedSeq).toBe(30);
    // The partition that took the last event has applied up to it.
    expect(Math.max(...applyUnits(units).map((u) => u.appliedSeq))).toBe(30);
    expect(units.map((u) => u.owner)).toEqual(units.map(() => server.pipeline!.owner));

    expect(await samples("waymark_pipeline_applied_events_total")).toEqual(
      new Map([
        ["profiles", 30],
        ["subscriptions", 30],
        ["journeys", 30],
      ]),
    );
    expect([...(await samples("waymark_pipeline_lag_events")).values()].every((n) => n === 0)).toBe(true);
  });
});

describe("the newest events are erased from the log before they are resolved", () => {
  it("still brings the resolve unit to the head of the log", async () => {
    await server.pipeline!.stop();
    await sendTracks(server, 20, "erased", 7);
    // As an erasure does: the resolver's offset row locked, the person's events deleted.
    const client = await server.db.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT 1 FROM pipeline_offsets WHERE unit = 'resolve' FOR UPDATE");
      await client.query("DELETE FROM events WHERE seq > 40");
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    expect((await status())[0]).toMatchObject({ appliedSeq: 30, lagEvents: 20 });

    server.pipeline!.start();
    await drained(server);
    expect((await status())[0]).toMatchObject({ appliedSeq: 50, lagEvents: 0, lagSeconds: 0 });
    expect(await samples("waymark_pipeline_applied_events_total")).toEqual(
      new Map([
        ["profiles", 40],
        ["subscriptions", 40],
        ["journeys", 40],
      ]),
    );
  });
});
