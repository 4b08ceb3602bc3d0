import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function latest(query = ""): Promise<Record<string, unknown>[]> {
  const res = await server.admin(`/api/v1/events?limit=1000${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Record<string, unknown>[] }).items;
}

async function rejected(): Promise<
  Array<{ reason: string; reasonCode: string; raw: string; route: string }>
> {
  const res = await server.admin("/api/v1/events/rejected?limit=1000");
  return ((await res.json()) as { items: never[] }).items;
}

describe("each call type on its long and short path", () => {
  const calls = [
    ["identify", "i", { userId: "u-identify", traits: { email: "a@example.com" } }],
    ["track", "t", { userId: "u-track", event: "Product Added", properties: { sku: "A1" } }],
    ["page", "p", { anonymousId: "anon-page", name: "Home", properties: { path: "/" } }],
    ["screen", "s", { anonymousId: "anon-screen", name: "Cart" }],
    ["group", "g", { userId: "u-group", groupId: "g1", traits: { plan: "pro" } }],
    ["alias", "a", { previousId: "anon-alias", userId: "u-alias" }],
  ] as const;
  for (const [type, short, body] of calls) {
    it(`stores a ${type} sent to /v1/${type} and /v1/${short}, with its fields kept as sent`, async () => {
      for (const path of [`/v1/${type}`, `/v1/${short}`]) {
        const messageId = `${type}-${path}`;
        const res = await server.track(path, { ...body, messageId });
        expect(res.status).toBe(200);
        expect(await res.json()).toMatchObject({ success: true, accepted: 1, rejected: 0 });
        const [stored] = await latest(`&type=${type}`);
        expect(stored).toMatchObject({ ...body, type, messageId });
        expect(typeof stored!.receivedAt).toBe("string");
      }
    });
  }
});

describe("authentication", () => {
  it("accepts the write key as writeKey in the body, and never stores it", async () => {
    const res = await fetch(`${server.url}/v1/track`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ writeKey: server.keys.writeKey, userId: "body-key", event: "Body Key" }),
    });
    expect(res.status).toBe(200);
    const [stored] = await latest("&event=Body%20Key");
    expect(stored).toMatchObject({ userId: "body-key" });
    expect(stored).not.toHaveProperty("writeKey");
  });

  it("answers 401 with a JSON error when the key is missing or unknown", async () => {
    const missing = await fetch(`${server.url}/v1/track`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ userId: "x", event: "E" }),
    });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { message: string }).message).toMatch(/write key required/);
    const unknown = await server.track(
      "/v1/track",
      { userId: "x", event: "E" },
      {
        authorization: `Basic ${Buffer.from("not-a-key:").toString("base64")}`,
      },
    );
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toEqual({ error: "unauthorized", message: "unknown write key" });
  });

  it("guards the admin API with the bearer token", async () => {
    expect((await fetch(`${server.url}/api/v1/events`)).status).toBe(401);
    const wrong = await fetch(`${server.url}/api/v1/events`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
  });
});

describe("bodies", () => {
  it("reads text/plain bodies, as browsers send with sendBeacon", async () => {
    const res = await server.track(
      "/v1/t",
      { userId: "beacon", event: "Beacon" },
      { "content-type": "text/plain" },
    );
    expect(res.status).toBe(200);
    expect(await latest("&event=Beacon")).toHaveLength(1);
  });

  it("reads gzip-encoded bodies", async () => {
    const res = await fetch(`${server.url}/v1/batch`, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(`${server.keys.writeKey}:`).toString("base64")}`,
        "content-type": "application/json",
        "content-encoding": "gzip",
      },
      body: gzipSync(JSON.stringify({ batch: [{ type: "track", userId: "gz", event: "Gzipped" }] })),
    });
    expect(res.status).toBe(200);
    expect(await latest("&event=Gzipped")).toHaveLength(1);
  });

  it("answers 400 for a body that claims gzip but is not", async () => {
    const res = await server.track("/v1/track", "not gzip at all", { "content-encoding": "gzip" });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/gzip/);
  });

  it("answers malformed JSON with 400 and the parse error, and keeps the raw body as a dead letter", async () => {
    const res = await server.track("/v1/track", '{"userId": "u", "event": ');
    expect(res.status).toBe(400);
    const body = (await res.json()) as { message: string };
    expect(body.message).toMatch(/^malformed JSON: /);
    expect((await rejected()).find((r) => r.raw === '{"userId": "u", "event": ')).toMatchObject({
      reasonCode: "malformed_json",
      route: "track",
    });
  });

  it("keeps a refused single event's body as it came, spacing and all, as the dead letter", async () => {
    const sent = '{ "event": "No Identity",  "properties": {"a": 1} }';
    const res = await server.track("/v1/track", sent);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      "track: userId or anonymousId is required",
    );
    expect((await rejected()).find((r) => r.raw === sent)).toMatchObject({
      reasonCode: "missing_identity",
      route: "track",
    });
  });

  it("answers CORS preflights on the tracking routes", async () => {
    const res = await fetch(`${server.url}/v1/t`, {
      method: "OPTIONS",
      headers: {
        origin: "https://shop.example",
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("https://shop.example");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  });
});

describe("validation on single-event routes: 400 naming the field and the rule", () => {
  const cases: Array<[string, unknown, string]> = [
    ["/v1/track", { event: "No One" }, "track: userId or anonymousId is required"],
    ["/v1/track", { userId: "u" }, "track: event is required"],
    ["/v1/track", { userId: "u", event: "" }, "track: event must not be empty"],
    ["/v1/track", { userId: "u", event: 42 }, "track: event must be a string"],
    ["/v1/track", { userId: "u", event: "E", properties: [1] }, "track: properties must be an object"],
    [
      "/v1/track",
      { userId: "u", event: "E", timestamp: "yesterday" },
      "track: timestamp must be an ISO 8601 date-time",
    ],
    ["/v1/identify", { traits: { a: 1 } }, "identify: userId or anonymousId is required"],
    ["/v1/identify", { userId: "u", traits: "x" }, "identify: traits must be an object"],
    ["/v1/group", { userId: "u" }, "group: groupId is required"],
    ["/v1/alias", { userId: "u" }, "alias: previousId is required"],
    ["/v1/alias", { previousId: "p" }, "alias: userId is required"],
    ["/v1/page", { userId: { id: 1 } }, "page: userId must be a string or a number"],
    ["/v1/track", [1, 2], "track: body must be a JSON object"],
    [
      "/v1/track",
      { userId: "u", event: "Nul\u0000" },
      "track: text must not contain the NUL character (\\u0000)",
    ],
  ];
  for (const [path, body, message] of cases) {
    it(`${path} ${JSON.stringify(body)} -> ${message}`, async () => {
      const res = await server.track(path, body);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({ error: "validation_error", message });
      expect((await rejected()).some((r) => r.reason === message)).toBe(true);
    });
  }

  it("generates a messageId when absent", async () => {
    await server.track("/v1/track", { userId: "gen-id", event: "Generated Id" });
    const [stored] = await latest("&event=Generated%20Id");
    expect(stored!.messageId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("stores numeric ids as strings", async () => {
    await server.track("/v1/identify", { userId: 12345, messageId: "numeric-id" });
    const [stored] = await latest("&userId=12345");
    expect(stored).toMatchObject({ userId: "12345", messageId: "numeric-id" });
  });
});

describe("timestamps", () => {
  it("corrects client clock skew: timestamp = receivedAt - (sentAt - originalTimestamp)", async () => {
    // The device clock is a year behind; the call happened 5 s before the send.
    const res = await server.track("/v1/track", {
      userId: "skew",
      event: "Skewed",
      timestamp: "2020-01-01T10:00:00.000Z",
      sentAt: "2020-01-01T10:00:05.000Z",
    });
    expect(res.status).toBe(200);
    const [stored] = await latest("&event=Skewed");
    const receivedAt = Date.parse(stored!.receivedAt as string);
    expect(Date.parse(stored!.timestamp as string)).toBe(receivedAt - 5000);
    expect(stored).toMatchObject({
      originalTimestamp: "2020-01-01T10:00:00.000Z",
      sentAt: "2020-01-01T10:00:05.000Z",
    });
  });

  it("keeps a historical timestamp when no sentAt is given (imports)", async () => {
    await server.track("/v1/track", {
      userId: "hist",
      event: "Historical",
      timestamp: "2019-05-01T08:00:00Z",
    });
    const [stored] = await latest("&event=Historical");
    expect(stored!.timestamp).toBe("2019-05-01T08:00:00.000Z");
  });

  it("uses the batch's sentAt for messages without their own", async () => {
    await server.track("/v1/batch", {
      sentAt: "2021-06-01T00:00:10.000Z",
      batch: [{ type: "track", userId: "bs", event: "Batch SentAt", timestamp: "2021-06-01T00:00:00.000Z" }],
    });
    const [stored] = await latest("&event=Batch%20SentAt");
    expect(Date.parse(stored!.receivedAt as string) - Date.parse(stored!.timestamp as string)).toBe(10_000);
  });
});

describe("batches", () => {
  it("stores the valid messages, dead-letters the invalid ones and still answers 200 with both counts", async () => {
    const res = await server.track("/v1/batch", {
      batch: [
        { type: "track", userId: "b1", event: "Batch Good", messageId: "bg-1" },
        { type: "track", event: "Batch Bad" },
        { type: "identify", userId: "b1", messageId: "bg-2" },
        "not an object",
        { type: "unknown", userId: "b1" },
      ],
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      success: true,
      accepted: 2,
      rejected: 3,
      duplicates: 0,
      suppressed: 0,
      errors: [
        { index: 1, messageId: null, reason: "track: userId or anonymousId is required" },
        { index: 3, messageId: null, reason: "batch[3]: must be a JSON object" },
        {
          index: 4,
          messageId: null,
          reason: "type must be one of identify, track, page, screen, group, alias",
        },
      ],
    });
    expect((await latest("&userId=b1")).map((e) => e.messageId).sort()).toEqual(["bg-1", "bg-2"]);
    const dead = await rejected();
    expect(dead.find((r) => r.raw === JSON.stringify({ type: "track", event: "Batch Bad" }))).toMatchObject({
      route: "batch",
      reasonCode: "missing_identity",
    });
  });

  it("accepts /v1/import and /v1/b as batch", async () => {
    for (const path of ["/v1/import", "/v1/b"]) {
      const res = await server.track(path, {
        batch: [{ type: "track", userId: "imp", event: `Via ${path}` }],
      });
      expect(res.status).toBe(200);
    }
    expect(await latest("&userId=imp")).toHaveLength(2);
  });

  it("merges the batch's context and integrations into each message", async () => {
    await server.track("/v1/batch", {
      context: { library: { name: "x" }, app: "shop" },
      integrations: { All: false },
      batch: [{ type: "track", userId: "ctx", event: "Ctx", context: { app: "mine" } }],
    });
    const [stored] = await latest("&event=Ctx");
    expect(stored).toMatchObject({
      context: { library: { name: "x" }, app: "mine" },
      integrations: { All: false },
    });
  });
});

describe("limits", () => {
  it("refuses an event over 32 KB with 400 naming the limit", async () => {
    const res = await server.track("/v1/track", {
      userId: "big",
      event: "Big",
      properties: { blob: "x".repeat(33_000) },
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/over the limit of 32 KB per event/);
  });

  it("dead-letters an oversized event inside a batch and keeps the rest", async () => {
    const res = await server.track("/v1/batch", {
      batch: [
        { type: "track", userId: "big2", event: "Small" },
        { type: "track", userId: "big2", event: "Huge", properties: { blob: "y".repeat(33_000) } },
      ],
    });
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: 1 });
  });

  it("answers 413 for a body over 500 KB", async () => {
    const batch = Array.from({ length: 20 }, (_, i) => ({
      type: "track",
      userId: "huge",
      event: `E${i}`,
      properties: { blob: "z".repeat(30_000) },
    }));
    const res = await server.track("/v1/batch", { batch });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { message: string }).message).toBe(
      "request body is over the limit of 500 KB",
    );
  });

  it("counts the 500 KB after decompression, so a gzip bomb is refused", async () => {
    const body = gzipSync(
      JSON.stringify({ batch: [{ type: "track", userId: "bomb", event: "x".repeat(2_000_000) }] }),
    );
    expect(body.length).toBeLessThan(50_000);
    const res = await server.track("/v1/batch", body, { "content-encoding": "gzip" });
    expect(res.status).toBe(413);
  });

  it("refuses a batch of more than 2,500 events with 400 naming the limit", async () => {
    const batch = Array.from({ length: 2501 }, () => ({ type: "page", userId: "u" }));
    const res = await server.track("/v1/batch", { batch });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toBe(
      "batch: 2501 events is over the limit of 2,500 events per batch",
    );
  });
});

describe("duplicates", () => {
  it("accepts the same messageId again and stores it once", async () => {
    const msg = { userId: "dup", event: "Dup", messageId: "dup-1" };
    const first = await server.track("/v1/track", msg);
    const again = await server.track("/v1/track", msg);
    expect(await first.json()).toMatchObject({ accepted: 1, duplicates: 0 });
    expect(await again.json()).toMatchObject({ accepted: 1, duplicates: 1 });
    const inBatch = await server.track("/v1/batch", {
      batch: [
        { ...msg, type: "track" },
        { ...msg, type: "track" },
      ],
    });
    expect(await inBatch.json()).toMatchObject({ accepted: 2, duplicates: 2 });
    expect(await latest("&userId=dup")).toHaveLength(1);
  });

  it("stores a message once when the same messageId arrives on many connections at the same moment", async () => {
    const msg = { userId: "race", event: "Race", messageId: "race-1" };
    const results = await Promise.all(Array.from({ length: 20 }, () => server.track("/v1/track", msg)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect(await latest("&userId=race")).toHaveLength(1);
  });
});

describe("reading back", () => {
  it("pages newest first with nextCursor until null", async () => {
    const batch = Array.from({ length: 7 }, (_, i) => ({
      type: "track",
      userId: "pager",
      event: `Page ${i}`,
    }));
    await server.track("/v1/batch", { batch });
    const seen: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const res = await server.admin(`/api/v1/events?userId=pager&limit=3&cursor=${cursor}`);
      const page = (await res.json()) as { items: Array<{ event: string }>; nextCursor: string | null };
      seen.push(...page.items.map((e) => e.event));
      cursor = page.nextCursor;
    }
    expect(seen).toEqual(Array.from({ length: 7 }, (_, i) => `Page ${6 - i}`));
  });

  it("rejects a limit out of range and a forged cursor with 400", async () => {
    const tooMany = await server.admin("/api/v1/events?limit=5000");
    expect(tooMany.status).toBe(400);
    expect(((await tooMany.json()) as { message: string }).message).toMatch(/^querystring\.limit/);
    const forged = await server.admin("/api/v1/events?cursor=!!!");
    expect(forged.status).toBe(400);
  });

  it("refuses a filter it does not know instead of ignoring it (a typo must not list everything)", async () => {
    const res = await server.admin("/api/v1/events?user_id=pager");
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "validation_error",
      message: expect.stringMatching(/^querystring: .*"user_id"/),
    });
  });
});
