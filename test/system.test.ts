import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createPool } from "../src/db/index.ts";
import { EventWriter, readMessage } from "../src/ingest/index.ts";
import { buildApp, createMetrics } from "../src/server/index.ts";
import { WorkspaceResolver, createWorkspace } from "../src/workspaces/index.ts";
import { withDatabase } from "./support/global-setup.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe("health, readiness, metrics and API docs", () => {
  it("answers /health and /ready on a migrated database", async () => {
    expect(await (await fetch(`${server.url}/health`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${server.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: "ready" });
  });

  it("answers /ready with 503 when the database is not migrated, and when it is unreachable", async () => {
    const admin = new pg.Client({ connectionString: inject("adminDatabaseUrl") });
    await admin.connect();
    const name = `waymark_unmigrated_${process.pid}`;
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    const deps = (pool: pg.Pool) => ({
      pool,
      writer: new EventWriter(pool),
      workspaces: new WorkspaceResolver(pool),
      metrics: createMetrics(),
      role: "all" as const,
    });
    try {
      const empty = createPool(withDatabase(inject("adminDatabaseUrl"), name), 1);
      await empty.query(
        "CREATE TABLE schema_migrations (version int PRIMARY KEY, name text, applied_at timestamptz)",
      );
      const app = await buildApp(deps(empty));
      const res = await app.inject("/ready");
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ status: "unavailable", reason: "database migrations are pending" });
      await app.close();
      await empty.end();

      const nowhere = createPool("postgres://nobody:x@127.0.0.1:1/none", 1);
      const down = await buildApp(deps(nowhere));
      const res2 = await down.inject("/ready");
      expect(res2.statusCode).toBe(503);
      expect(res2.json().reason).toMatch(/^database unreachable/);
      await down.close();
      await nowhere.end();
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });

  it("exposes Prometheus metrics: requests, accepted and rejected events by reason, write batch sizes, latencies", async () => {
    await server.track("/v1/batch", {
      batch: [
        { type: "track", userId: "m", event: "Metric" },
        { type: "track", event: "No id" },
      ],
    });
    const res = await fetch(`${server.url}/metrics`);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/waymark_http_requests_total\{method="POST",route="\/v1\/batch",status="200"\} \d+/);
    expect(text).toMatch(/waymark_events_accepted_total\{type="track"\} [1-9]/);
    expect(text).toMatch(/waymark_events_rejected_total\{reason="missing_identity"\} [1-9]/);
    expect(text).toMatch(/waymark_write_batch_events_count [1-9]/);
    expect(text).toMatch(/waymark_http_request_duration_seconds_bucket\{le="0.005",route="\/v1\/batch"\}/);
  });

  it("describes every route in /api/openapi.json and serves the docs at /api/docs", async () => {
    const spec = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      openapi: string;
      paths: Record<string, unknown>;
    };
    expect(spec.openapi).toMatch(/^3\./);
    for (const path of [
      "/v1/identify",
      "/v1/track",
      "/v1/page",
      "/v1/screen",
      "/v1/group",
      "/v1/alias",
      "/v1/batch",
      "/v1/projects/{writeKey}/settings",
      "/api/v1/events",
      "/api/v1/events/rejected",
      "/health",
      "/ready",
      "/metrics",
    ]) {
      expect(spec.paths, path).toHaveProperty([path]);
    }
    const docs = await fetch(`${server.url}/api/docs`);
    expect(docs.status).toBe(200);
    expect(await docs.text()).toMatch(/swagger/i);
  });
});

describe("the event log", () => {
  it("gives each workspace its own gap-free sequence, in commit order, under concurrent writers", async () => {
    const other = await createWorkspace(server.db.pool, "other");
    const send = (writeKey: string, i: number) =>
      fetch(`${server.url}/v1/track`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          writeKey,
          userId: `seq-${i}`,
          event: "Seq",
          messageId: `seq-${writeKey}-${i}`,
        }),
      });
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => send(i % 2 ? other.writeKey : server.keys.writeKey, i)),
    );
    expect(results.every((r) => r.status === 200)).toBe(true);
    for (const workspaceId of [server.keys.workspaceId, other.workspaceId]) {
      const { rows } = await server.db.pool.query<{ seq: number }>(
        "SELECT seq FROM events WHERE workspace_id = $1 ORDER BY seq",
        [workspaceId],
      );
      expect(rows.map((r) => r.seq)).toEqual(rows.map((_, i) => i + 1));
    }
  });

  it("commits concurrent single-event requests together (group commit)", async () => {
    const metrics = createMetrics();
    const writer = new EventWriter(server.db.pool, {
      onFlush: ({ requests }) => metrics.writeBatchRequests.observe(requests),
    });
    // Rows exactly as the tracking route makes them.
    const rows = (i: number) => {
      const read = readMessage(
        "track",
        { userId: "gc", event: "Group Commit", messageId: `gc-${i}` },
        {
          receivedAt: new Date(),
          newMessageId: () => "unused",
        },
      );
      if (!read.ok) throw new Error(read.rejection.reason);
      return [read.event];
    };
    const writes = Array.from({ length: 50 }, (_, i) =>
      writer.write({
        workspaceId: server.keys.workspaceId,
        route: "track",
        receivedAt: new Date(),
        events: rows(i),
        rejections: [],
      }),
    );
    expect((await Promise.all(writes)).every((r) => r.stored === 1)).toBe(true);
    const histogram = (await metrics.writeBatchRequests.get()).values;
    const flushes = histogram.find((v) => v.metricName?.endsWith("_count"))!.value;
    // 50 requests written at once take far fewer than 50 transactions.
    expect(flushes).toBeLessThan(50);
    expect(flushes).toBeGreaterThanOrEqual(1);
  });

  it("keeps monthly partitions ahead, and creates a missing month's partition when an event needs it", async () => {
    const { rows } = await server.db.pool.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass",
    );
    const thisMonth = new Date().toISOString().slice(0, 7).replace("-", "_");
    expect(rows.map((r) => r.name)).toContain(`events_${thisMonth}`);
    expect(rows.length).toBeGreaterThanOrEqual(3);

    // A server whose clock says 2031: no partition exists for that month until the first event.
    const future = await startTestServer({ now: () => new Date("2031-07-04T10:00:00Z") });
    try {
      const res = await future.track("/v1/track", { userId: "future", event: "From The Future" });
      expect(res.status).toBe(200);
      const made = await future.db.pool.query("SELECT to_regclass('events_2031_07') AS t");
      expect(made.rows[0].t).toBe("events_2031_07");
    } finally {
      await future.close();
    }
  });
});
