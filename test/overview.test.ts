import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWorkspace } from "../src/workspaces/index.ts";
import { eventually, post, publish } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import type { Overview } from "../src/analytics/index.ts";
import { json, jsonBody } from "./support/responses.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { startSmtpServer, type TestSmtpServer } from "./support/smtp.ts";

/** The buckets that are not empty. */
const nonZero = <T extends { at: string }>(items: T[]) =>
  items.filter((i) => Object.entries(i as Record<string, unknown>).some(([k, v]) => k !== "at" && v !== 0));

describe("a day of traffic while the pipeline is stopped", () => {
  const state = { clock: new Date("2026-11-22T09:00:00.000Z") };
  let server: TestServer;
  /** `n` track calls received at `at`. */
  const trackAt = async (at: string, n: number) => {
    state.clock = new Date(at);
    for (let i = 0; i < n; i++) {
      const res = await server.track("/v1/track", { userId: "ada", event: "Page Viewed" });
      expect(res.status).toBe(200);
    }
  };
  const overview = (query = "") => json<Overview>(server.admin(`/api/v1/overview${query}`));

  beforeAll(async () => {
    server = await startTestServer({ now: () => state.clock });
    await trackAt("2026-11-22T09:00:00.000Z", 1);
    await trackAt("2026-11-22T23:58:00.000Z", 2);
    await trackAt("2026-11-23T09:41:10.000Z", 1);
    await trackAt("2026-11-23T10:00:05.000Z", 3);
    await trackAt("2026-11-23T10:02:29.000Z", 1);
    // Another workspace's traffic, in the same minutes: never counted here.
    const other = await createWorkspace(server.db.pool, "other");
    const res = await fetch(`${server.url}/v1/track`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Basic ${Buffer.from(`${other.writeKey}:`).toString("base64")}`,
      },
      body: JSON.stringify({ userId: "zed", event: "Page Viewed" }),
    });
    expect(res.status).toBe(200);
    state.clock = new Date("2026-11-23T10:02:30.000Z");
  });
  afterAll(() => server?.close());

  it("counts the last 24 hours in 288 five-minute buckets, empty ones as zeros", async () => {
    const body = await overview();
    expect(body.generatedAt).toBe("2026-11-23T10:02:30.000Z");
    expect(body.hours).toBe(24);
    expect(body.eventsPerMinute.bucketSeconds).toBe(300);
    expect(body.eventsPerMinute.items).toHaveLength(288);
    expect(body.eventsPerMinute.items[0]).toEqual({ at: "2026-11-22T10:05:00.000Z", count: 0 });
    expect(body.eventsPerMinute.items.at(-1)).toEqual({ at: "2026-11-23T10:00:00.000Z", count: 4 });
    // The event of 09:00 yesterday is older than the window.
    expect(nonZero(body.eventsPerMinute.items)).toEqual([
      { at: "2026-11-22T23:55:00.000Z", count: 2 },
      { at: "2026-11-23T09:40:00.000Z", count: 1 },
      { at: "2026-11-23T10:00:00.000Z", count: 4 },
    ]);
  });

  it("counts today's events from UTC midnight", async () => {
    expect((await overview()).today).toEqual({
      since: "2026-11-23T00:00:00.000Z",
      events: 5,
      messagesSent: 0,
      messagesSkipped: 0,
      messagesFailed: 0,
    });
  });

  it("shows every hour without messages as zeros, and no journeys", async () => {
    const body = await overview();
    expect(body.messagesPerHour.bucketSeconds).toBe(3600);
    expect(body.messagesPerHour.items).toHaveLength(24);
    expect(body.messagesPerHour.items[0]).toEqual({
      at: "2026-11-22T11:00:00.000Z",
      sent: 0,
      skipped: 0,
      failed: 0,
    });
    expect(nonZero(body.messagesPerHour.items)).toEqual([]);
    expect(body.liveInstances).toBe(0);
    expect(body.journeys).toEqual({ draft: 0, active: 0, paused: 0, archived: 0 });
  });

  it("reports the pipeline's delay: the first event has waited since 09:00 yesterday", async () => {
    expect((await overview()).pipelineLagSeconds).toBe(25 * 3600 + 2 * 60 + 30);
  });

  it("uses minutes for the last hour and hours for the last week", async () => {
    const hour = await overview("?hours=1");
    expect(hour.eventsPerMinute.bucketSeconds).toBe(60);
    expect(hour.eventsPerMinute.items).toHaveLength(60);
    expect(hour.eventsPerMinute.items[0]!.at).toBe("2026-11-23T09:03:00.000Z");
    expect(nonZero(hour.eventsPerMinute.items)).toEqual([
      { at: "2026-11-23T09:41:00.000Z", count: 1 },
      { at: "2026-11-23T10:00:00.000Z", count: 3 },
      { at: "2026-11-23T10:02:00.000Z", count: 1 },
    ]);
    expect(hour.messagesPerHour.items).toEqual([
      { at: "2026-11-23T10:00:00.000Z", sent: 0, skipped: 0, failed: 0 },
    ]);
    // Today is still today when the window is shorter.
    expect(hour.today.events).toBe(5);

    const week = await overview("?hours=168");
    expect(week.eventsPerMinute.bucketSeconds).toBe(3600);
    expect(week.eventsPerMinute.items).toHaveLength(168);
    expect(nonZero(week.eventsPerMinute.items)).toEqual([
      { at: "2026-11-22T09:00:00.000Z", count: 1 },
      { at: "2026-11-22T23:00:00.000Z", count: 2 },
      { at: "2026-11-23T09:00:00.000Z", count: 1 },
      { at: "2026-11-23T10:00:00.000Z", count: 4 },
    ]);
  });

  it("refuses a window outside 1 to 168 hours", async () => {
    for (const hours of ["0", "169", "1.5"]) {
      const res = await json<{ message: string }>(server.admin(`/api/v1/overview?hours=${hours}`), 400);
      expect(res.message).toMatch(/^querystring\.hours: /);
    }
  });

  it("answers only with the admin token", async () => {
    expect((await fetch(`${server.url}/api/v1/overview`)).status).toBe(401);
  });
});

describe("a day of messages and journeys", () => {
  const state = { clock: new Date("2026-11-22T23:30:00.000Z") };
  let server: TestServer;
  let smtp: TestSmtpServer;
  const at = (iso: string) => {
    state.clock = new Date(iso);
  };
  /** Sends a template to a person and waits for the outcome, with the clock standing still. */
  const send = async (template: string, userId: string, outcome: string) => {
    const { id } = await json<{ id: string }>(
      post(server, "/api/v1/send", { template, to: { userId } }),
      202,
    );
    const message = await eventually(async () => {
      const m = await json<{ status: string; reason: string | null }>(server.admin(`/api/v1/messages/${id}`));
      return m.status === "queued" ? undefined : m;
    }, `the outcome of message ${id}`);
    expect(message.status, message.reason ?? "").toBe(outcome);
  };
  const overview = () => json<Overview>(server.admin("/api/v1/overview"));

  beforeAll(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({ pipeline: true, now: () => state.clock });
    await json(
      server.admin("/api/v1/channels/email", {
        method: "PUT",
        ...jsonBody({
          provider: "smtp",
          host: smtp.host,
          port: smtp.port,
          secure: false,
          from: "a@b.example",
        }),
      }),
    );
    for (const [key, content] of [
      ["hello", { channel: "email", subject: "Hello", html: "<p>Hi {{ profile.traits.name }}</p>" }],
      ["hello-sms", { channel: "sms", body: "Hi {{ profile.traits.name }}" }],
    ] as const) {
      await json(server.admin(`/api/v1/templates/${key}`, { method: "PUT", ...jsonBody(content) }));
    }
    for (const [userId, traits] of [
      ["ada", { name: "Ada", email: "ada@example.com" }],
      ["bo", { name: "Bo" }],
      ["cy", { name: "Cy", phone: "+15550100" }],
    ] as const) {
      expect((await server.track("/v1/identify", { userId, traits })).status).toBe(200);
    }
    await drained(server);

    const wait = (key: string, event: string) => ({
      key,
      name: key,
      trigger: { event },
      steps: [{ id: "wait", wait: { duration: "7d" } }],
    });
    await publish(server, wait("welcome", "Signed Up"));
    await publish(server, wait("old-promo", "Promo"));
    await json(post(server, "/api/v1/journeys/old-promo/pause"));
    await publish(server, wait("retired", "Retired"));
    await json(post(server, "/api/v1/journeys/retired/archive"));
    await json(
      server.admin("/api/v1/journeys/later", { method: "PUT", ...jsonBody(wait("later", "Later")) }),
    );

    await send("hello", "ada", "sent");
    at("2026-11-23T08:20:00.000Z");
    await send("hello", "ada", "sent");
    at("2026-11-23T09:15:00.000Z");
    await send("hello", "bo", "skipped");
    await send("hello-sms", "cy", "failed");
    for (const userId of ["ada", "bo"]) {
      expect((await server.track("/v1/track", { userId, event: "Signed Up" })).status).toBe(200);
    }
    await drained(server);
    at("2026-11-23T10:02:30.000Z");
  });
  afterAll(async () => {
    await server?.close();
    await smtp?.close();
  });

  it("counts messages in the hour of their outcome: sent, skipped (no address), failed (no channel)", async () => {
    const body = await overview();
    expect(body.messagesPerHour.bucketSeconds).toBe(3600);
    expect(body.messagesPerHour.items).toHaveLength(24);
    expect(nonZero(body.messagesPerHour.items)).toEqual([
      { at: "2026-11-22T23:00:00.000Z", sent: 1, skipped: 0, failed: 0 },
      { at: "2026-11-23T08:00:00.000Z", sent: 1, skipped: 0, failed: 0 },
      { at: "2026-11-23T09:00:00.000Z", sent: 0, skipped: 1, failed: 1 },
    ]);
    expect(body.today).toMatchObject({ messagesSent: 1, messagesSkipped: 1, messagesFailed: 1 });
  });

  it("counts today's events as the log holds them (tracks and message outcomes)", async () => {
    const log = await json<{ items: Array<{ receivedAt: string }> }>(
      server.admin("/api/v1/events?limit=1000"),
    );
    const today = log.items.filter((e) => e.receivedAt >= "2026-11-23T00:00:00.000Z").length;
    expect(today).toBeGreaterThanOrEqual(2);
    const body = await overview();
    expect(body.today.events).toBe(today);
    expect(body.eventsPerMinute.items.reduce((sum, i) => sum + i.count, 0)).toBe(log.items.length);
  });

  it("counts the people in journeys now, the journeys by status, and no delay once drained", async () => {
    const body = await overview();
    expect(body.liveInstances).toBe(2);
    expect(body.journeys).toEqual({ draft: 1, active: 1, paused: 1, archived: 1 });
    expect(body.pipelineLagSeconds).toBe(0);
  });
});
