import { Analytics as SegmentAnalytics } from "@segment/analytics-node";
import RudderAnalytics from "@rudderstack/rudder-sdk-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function eventsOf(userId: string): Promise<Array<Record<string, unknown>>> {
  const res = await server.admin(`/api/v1/events?limit=100&userId=${encodeURIComponent(userId)}`);
  return ((await res.json()) as { items: Array<Record<string, unknown>> }).items;
}

/** The six calls every SDK makes, for one person, in the shape both SDKs accept. */
function sixCalls(userId: string) {
  return {
    identify: { userId, traits: { email: `${userId}@example.com`, plan: "pro" } },
    track: { userId, event: "Product Added", properties: { product_id: "p-1", price: 12.5 } },
    page: { userId, name: "Pricing", properties: { path: "/pricing" } },
    screen: { userId, name: "Cart", properties: { items: 2 } },
    group: { userId, groupId: "acme", traits: { employees: 40 } },
    alias: { userId, previousId: `anon-${userId}` },
  };
}

function expectAllSix(
  stored: Array<Record<string, unknown>>,
  calls: ReturnType<typeof sixCalls>,
  library: RegExp,
) {
  expect(stored.map((e) => e.type).sort()).toEqual(["alias", "group", "identify", "page", "screen", "track"]);
  const byType = Object.fromEntries(stored.map((e) => [e.type, e]));
  expect(byType.identify).toMatchObject({ traits: calls.identify.traits });
  expect(byType.track).toMatchObject({ event: "Product Added", properties: calls.track.properties });
  expect(byType.page).toMatchObject({ name: "Pricing", properties: calls.page.properties });
  expect(byType.screen).toMatchObject({ name: "Cart", properties: calls.screen.properties });
  expect(byType.group).toMatchObject({ groupId: "acme", traits: calls.group.traits });
  expect(byType.alias).toMatchObject({ previousId: calls.alias.previousId });
  for (const e of stored) {
    expect(e.messageId).toEqual(expect.any(String));
    expect((e.context as { library?: { name?: string } }).library?.name).toMatch(library);
    // The SDK stamps sentAt, so the skew-corrected timestamp is set and not in the future.
    expect(e.sentAt).toEqual(expect.any(String));
    expect(Date.parse(e.timestamp as string)).toBeLessThanOrEqual(Date.parse(e.receivedAt as string));
  }
}

describe("@segment/analytics-node pointed at Waymark with `host`", () => {
  it("delivers every call type, batched, and Waymark stores each once", async () => {
    const errors: unknown[] = [];
    const analytics = new SegmentAnalytics({
      writeKey: server.keys.writeKey,
      host: server.url,
      flushInterval: 50,
    });
    analytics.on("error", (err) => errors.push(err));
    const calls = sixCalls("segment-node-user");
    analytics.identify(calls.identify);
    analytics.track(calls.track);
    analytics.page(calls.page);
    analytics.screen(calls.screen);
    analytics.group(calls.group);
    analytics.alias(calls.alias);
    await analytics.closeAndFlush({ timeout: 10_000 });
    expect(errors).toEqual([]);
    expectAllSix(await eventsOf("segment-node-user"), calls, /analytics-node/);
  });

  it("sees a wrong write key refused (the SDK reports the error, nothing is stored)", async () => {
    const errors: unknown[] = [];
    const analytics = new SegmentAnalytics({
      writeKey: "wrong",
      host: server.url,
      flushInterval: 50,
      maxRetries: 0,
    });
    analytics.on("error", (err) => errors.push(err));
    analytics.track({ userId: "segment-wrong-key", event: "Nope" });
    await analytics.closeAndFlush({ timeout: 10_000 });
    expect(errors.length).toBeGreaterThan(0);
    expect(await eventsOf("segment-wrong-key")).toEqual([]);
  });
});

describe("@rudderstack/rudder-sdk-node pointed at Waymark with `dataPlaneUrl`", () => {
  it("delivers every call type (gzip-compressed batches) and Waymark stores each once", async () => {
    const failures: unknown[] = [];
    const client = new RudderAnalytics(server.keys.writeKey, {
      dataPlaneUrl: server.url,
      flushAt: 100,
      flushInterval: 60_000,
      logLevel: "error",
      errorHandler: (err: unknown) => failures.push(err),
    });
    const calls = sixCalls("rudder-node-user");
    client.identify(calls.identify);
    client.track(calls.track);
    client.page(calls.page);
    client.screen(calls.screen);
    client.group(calls.group);
    client.alias(calls.alias);
    await new Promise<void>((resolve, reject) =>
      client.flush((err?: unknown) => (err ? reject(err) : resolve())),
    );
    expect(failures).toEqual([]);
    expectAllSix(await eventsOf("rudder-node-user"), calls, /analytics-node|rudder/i);
  });
});
