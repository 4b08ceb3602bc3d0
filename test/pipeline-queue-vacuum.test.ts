import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PipelineWorker } from "../src/pipeline/index.ts";
import { profileStage } from "../src/profiles/index.ts";
import { drained, sendTracks } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
let worker: PipelineWorker;
beforeAll(async () => {
  server = await startTestServer();
  // pgstattuple counts the table's dead rows by reading it. pg_stat_user_tables.n_dead_tup only
  // estimates them: the deletes are added when each backend flushes its stats, so deletes flushed
  // after a vacuum are counted again, once the vacuum has already removed their rows.
  await server.db.pool.query("CREATE EXTENSION IF NOT EXISTS pgstattuple");
  worker = new PipelineWorker(server.db.pool, {
    stages: [profileStage],
    queueVacuumEvents: 100,
    queueVacuumMinMs: 0,
  });
  worker.start();
});
afterAll(async () => {
  await worker.stop();
  await server.close();
});

/** Manual vacuums of the queue so far, and the dead rows in it. */
async function queueStats(): Promise<{ vacuums: number; dead: number }> {
  const { rows } = await server.db.pool.query<{ vacuums: number; dead: number }>(
    `SELECT s.vacuum_count::int AS vacuums, (SELECT dead_tuple_count FROM pgstattuple('pipeline_queue'))::int AS dead
     FROM pg_stat_user_tables s WHERE s.relname = 'pipeline_queue'`,
  );
  return rows[0]!;
}

async function waitFor<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 20_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > until) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("the worker keeps the pipeline queue vacuumed", () => {
  it("does not vacuum before the configured number of events went through the queue", async () => {
    await sendTracks(server, 60, "first", 9);
    await drained(server);
    // Each queued event was deleted by its partition: 60 dead rows.
    expect((await queueStats()).dead).toBeGreaterThanOrEqual(60);
    expect((await queueStats()).vacuums).toBe(0);
  });

  it("vacuums the queue once they have, removing the dead rows it had", async () => {
    await sendTracks(server, 60, "second", 9);
    await drained(server);
    const after = await waitFor(queueStats, (s) => s.vacuums >= 1);
    expect(after.vacuums).toBe(1);
    // The vacuum starts when stage one has queued the second 60: the first 60 go, the second 60 are
    // deleted by their partitions afterwards and wait for the next one.
    expect(after.dead).toBeLessThanOrEqual(60);
  });
});
