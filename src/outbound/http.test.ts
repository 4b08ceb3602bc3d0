import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { LookupAddress } from "node:dns";
import type { AddressInfo, LookupFunction } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createOutboundClient, parseAllowList, type OutboundClient } from "./index.ts";

// All traffic stays on 127.0.0.0/8. Private ranges (10/8, 172.16/12, 192.168/16, 169.254/16) are
// proven refused by the unit tests of the address guard, never by sending traffic there.

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

interface Receiver {
  server: Server;
  port: number;
  connections: number;
  requests: Received[];
  close(): Promise<void>;
}

async function startReceiver(
  host: string,
  respond: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end("ok"),
): Promise<Receiver> {
  const server = createServer();
  const receiver: Receiver = {
    server,
    port: 0,
    connections: 0,
    requests: [],
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
  server.on("connection", () => receiver.connections++);
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      receiver.requests.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      respond(req, res);
    });
  });
  await new Promise<void>((done) => server.listen(0, host, done));
  receiver.port = (server.address() as AddressInfo).port;
  return receiver;
}

/** A resolver answering from a fixed table, as if DNS said so. */
function fakeLookup(table: Record<string, string[]>): LookupFunction {
  return (hostname, options, callback) => {
    const addresses: LookupAddress[] = (table[hostname] ?? []).map((address) => ({
      address,
      family: address.includes(":") ? 6 : 4,
    }));
    if (addresses.length === 0) {
      return callback(
        Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }),
        "",
      );
    }
    if (options.all) return callback(null, addresses);
    callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

let allowed: Receiver;
let forbidden: Receiver;
const clients: OutboundClient[] = [];

function client(options: Parameters<typeof createOutboundClient>[0]): OutboundClient {
  const created = createOutboundClient(options);
  clients.push(created);
  return created;
}

beforeAll(async () => {
  allowed = await startReceiver("127.0.0.1", (req, res) => {
    res.setHeader("content-type", "application/json");
    res.end(JSON.stringify({ received: req.url }));
  });
  forbidden = await startReceiver("127.0.0.2");
});

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  allowed.requests.length = 0;
});

afterAll(async () => {
  await allowed.close();
  await forbidden.close();
});

describe("a webhook to a receiver on an allowed address", () => {
  it("delivers method, headers and body, and returns the parsed JSON response", async () => {
    const outbound = client({ allow: parseAllowList("127.0.0.1") });
    const result = await outbound.request({
      method: "post",
      url: `http://127.0.0.1:${allowed.port}/hooks/cart?step=remind`,
      headers: { "content-type": "application/json", "x-waymark-signature": "sig-1" },
      body: JSON.stringify({ userId: "u1" }),
    });
    expect(result).toMatchObject({
      ok: true,
      status: 200,
      headers: { "content-type": "application/json" },
      body: { received: "/hooks/cart?step=remind" },
    });
    expect(result.ok && result.durationMs).toBeGreaterThanOrEqual(0);
    expect(allowed.requests).toHaveLength(1);
    const [seen] = allowed.requests;
    expect(seen).toMatchObject({ method: "POST", url: "/hooks/cart?step=remind", body: '{"userId":"u1"}' });
    expect(seen!.headers).toMatchObject({
      "content-type": "application/json",
      "x-waymark-signature": "sig-1",
    });
  });
});

describe("a receiver on a loopback address that is not allowed", () => {
  it("is refused by its IP literal and never reached", async () => {
    const outbound = client({ allow: parseAllowList("127.0.0.1") });
    const result = await outbound.request({
      method: "POST",
      url: `http://127.0.0.2:${forbidden.port}/`,
      body: "x",
    });
    expect(result).toEqual({
      ok: false,
      kind: "refused",
      reason: "refused: loopback address 127.0.0.2 (host 127.0.0.2); allow it with WAYMARK_OUTBOUND_ALLOW",
    });
    expect(forbidden.connections).toBe(0);
  });

  it("is refused when a host name resolves to it, proving the check is on the resolved address", async () => {
    const outbound = client({
      allow: parseAllowList("127.0.0.1"),
      lookup: fakeLookup({ "hooks.example": ["127.0.0.2"] }),
    });
    const result = await outbound.request({ method: "GET", url: `http://hooks.example:${forbidden.port}/` });
    expect(result).toEqual({
      ok: false,
      kind: "refused",
      reason:
        "refused: loopback address 127.0.0.2 (host hooks.example); allow it with WAYMARK_OUTBOUND_ALLOW",
    });
    expect(forbidden.connections).toBe(0);
  });

  it("refuses a name when any of its addresses is refused, even next to an allowed one", async () => {
    const outbound = client({
      allow: parseAllowList("127.0.0.1"),
      lookup: fakeLookup({ "mixed.example": ["127.0.0.1", "127.0.0.2"] }),
    });
    const result = await outbound.request({ method: "GET", url: `http://mixed.example:${allowed.port}/` });
    expect(result).toMatchObject({ ok: false, kind: "refused" });
    expect(allowed.requests).toHaveLength(0);
    expect(forbidden.connections).toBe(0);
  });

  it("refuses IPv6 loopback and IPv4-mapped loopback literals before connecting", async () => {
    const outbound = client({ allow: parseAllowList("127.0.0.1") });
    expect(await outbound.request({ method: "GET", url: "http://[::1]:9/" })).toEqual({
      ok: false,
      kind: "refused",
      reason: "refused: loopback address ::1 (host ::1); allow it with WAYMARK_OUTBOUND_ALLOW",
    });
    expect(
      await outbound.request({ method: "GET", url: `http://[::ffff:127.0.0.2]:${forbidden.port}/` }),
    ).toMatchObject({ ok: false, kind: "refused" });
    expect(forbidden.connections).toBe(0);
  });

  it("refuses localhost through the real resolver when nothing is allowed", async () => {
    const outbound = client({ allow: parseAllowList(undefined) });
    const result = await outbound.request({ method: "GET", url: `http://localhost:${allowed.port}/` });
    expect(result).toMatchObject({ ok: false, kind: "refused" });
    expect(allowed.requests).toHaveLength(0);
  });
});

describe("a host name on the allow list", () => {
  it("goes through to whatever loopback address it resolves to", async () => {
    const outbound = client({
      allow: parseAllowList("hooks.example"),
      lookup: fakeLookup({ "hooks.example": ["127.0.0.1"] }),
    });
    const result = await outbound.request({
      method: "GET",
      url: `http://hooks.example:${allowed.port}/ping`,
    });
    expect(result).toMatchObject({ ok: true, status: 200, body: { received: "/ping" } });
    expect(allowed.requests).toHaveLength(1);
    expect(allowed.requests[0]!.headers.host).toBe(`hooks.example:${allowed.port}`);
  });
});

describe("a receiver that never answers", () => {
  it("times out after timeoutMs", async () => {
    const silent = await startReceiver("127.0.0.1", () => {});
    try {
      const outbound = client({ allow: parseAllowList("127.0.0.1"), timeoutMs: 200 });
      const started = performance.now();
      const result = await outbound.request({ method: "GET", url: `http://127.0.0.1:${silent.port}/` });
      expect(result).toEqual({
        ok: false,
        kind: "timeout",
        reason: `timeout: no complete response from 127.0.0.1:${silent.port} within 200 ms`,
      });
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      await silent.close();
    }
  });

  it("times out when the body stalls after the headers", async () => {
    const stalling = await startReceiver("127.0.0.1", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write("partial");
    });
    try {
      const outbound = client({ allow: parseAllowList("127.0.0.1"), timeoutMs: 200 });
      const result = await outbound.request({ method: "GET", url: `http://127.0.0.1:${stalling.port}/` });
      expect(result).toMatchObject({ ok: false, kind: "timeout", status: 200 });
    } finally {
      await stalling.close();
    }
  });
});

describe("a response over the size cap", () => {
  const twoMiB = Buffer.alloc(2 * 1024 * 1024, "a");

  it("fails with too_large when streamed without a length", async () => {
    const big = await startReceiver("127.0.0.1", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(twoMiB);
    });
    try {
      const outbound = client({ allow: parseAllowList("127.0.0.1") });
      const result = await outbound.request({ method: "GET", url: `http://127.0.0.1:${big.port}/` });
      expect(result).toEqual({
        ok: false,
        kind: "too_large",
        reason: `too large: the response from 127.0.0.1:${big.port} exceeds 1048576 bytes`,
        status: 200,
      });
    } finally {
      await big.close();
    }
  });

  it("fails with too_large from the declared length, before reading", async () => {
    const big = await startReceiver("127.0.0.1", (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain", "content-length": twoMiB.length });
      res.end(twoMiB);
    });
    try {
      const outbound = client({ allow: parseAllowList("127.0.0.1"), maxResponseBytes: 1024 * 1024 });
      const result = await outbound.request({ method: "GET", url: `http://127.0.0.1:${big.port}/` });
      expect(result).toMatchObject({ ok: false, kind: "too_large", status: 200 });
    } finally {
      await big.close();
    }
  });

  it("accepts a body of exactly the cap", async () => {
    const exact = await startReceiver("127.0.0.1", (_req, res) => res.end("x".repeat(1000)));
    try {
      const outbound = client({ allow: parseAllowList("127.0.0.1"), maxResponseBytes: 1000 });
      const result = await outbound.request({ method: "GET", url: `http://127.0.0.1:${exact.port}/` });
      expect(result).toMatchObject({ ok: true, status: 200, body: "x".repeat(1000) });
    } finally {
      await exact.close();
    }
  });
});

describe("a URL the client will not send", () => {
  it.each([
    ["file:///etc/passwd", "invalid url: scheme file: is not supported, only http: and https:"],
    ["ftp://127.0.0.1/file", "invalid url: scheme ftp: is not supported, only http: and https:"],
    ["not a url", "invalid url: not an absolute URL"],
    ["/relative/path", "invalid url: not an absolute URL"],
  ])("refuses %s as invalid_url", async (url, reason) => {
    const outbound = client({ allow: parseAllowList("127.0.0.1") });
    expect(await outbound.request({ method: "GET", url })).toEqual({
      ok: false,
      kind: "invalid_url",
      reason,
    });
  });

  it("refuses credentials in the URL without echoing them", async () => {
    const outbound = client({ allow: parseAllowList("127.0.0.1") });
    const result = await outbound.request({
      method: "GET",
      url: `http://user:hunter2@127.0.0.1:${allowed.port}/`,
    });
    expect(result).toMatchObject({ ok: false, kind: "invalid_url" });
    expect(JSON.stringify(result)).not.toContain("hunter2");
    expect(allowed.requests).toHaveLength(0);
  });
});

describe("a redirect", () => {
  it("is returned as is, not followed", async () => {
    const redirecting = await startReceiver("127.0.0.1", (_req, res) => {
      res.writeHead(302, { location: `http://127.0.0.2:${forbidden.port}/metadata` });
      res.end();
    });
    try {
      const outbound = client({ allow: parseAllowList("127.0.0.1") });
      const result = await outbound.request({ method: "GET", url: `http://127.0.0.1:${redirecting.port}/` });
      expect(result).toMatchObject({
        ok: true,
        status: 302,
        headers: { location: `http://127.0.0.2:${forbidden.port}/metadata` },
      });
      expect(forbidden.connections).toBe(0);
    } finally {
      await redirecting.close();
    }
  });
});

describe("responses that are not a success", () => {
  it("returns a 500 with its text body as an arrived response", async () => {
    const failing = await startReceiver("127.0.0.1", (_req, res) => {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("boom");
    });
    try {
      const outbound = client({ allow: parseAllowList("127.0.0.1") });
      const result = await outbound.request({ method: "GET", url: `http://127.0.0.1:${failing.port}/` });
      expect(result).toMatchObject({ ok: true, status: 500, body: "boom" });
    } finally {
      await failing.close();
    }
  });

  it("returns the text of a JSON response that does not parse", async () => {
    const broken = await startReceiver("127.0.0.1", (_req, res) => {
      res.writeHead(200, { "content-type": "application/problem+json; charset=utf-8" });
      res.end("{not json");
    });
    try {
      const outbound = client({ allow: parseAllowList("127.0.0.1") });
      const result = await outbound.request({ method: "GET", url: `http://127.0.0.1:${broken.port}/` });
      expect(result).toMatchObject({ ok: true, status: 200, body: "{not json" });
    } finally {
      await broken.close();
    }
  });
});

describe("a network failure", () => {
  it("reports a closed port as network, without header values", async () => {
    const gone = await startReceiver("127.0.0.1");
    const port = gone.port;
    await gone.close();
    const outbound = client({ allow: parseAllowList("127.0.0.1") });
    const result = await outbound.request({
      method: "POST",
      url: `http://127.0.0.1:${port}/hooks?token=query-secret`,
      headers: { authorization: "Bearer header-secret" },
      body: "{}",
    });
    expect(result).toMatchObject({ ok: false, kind: "network" });
    expect(!result.ok && result.reason).toContain("ECONNREFUSED");
    expect(JSON.stringify(result)).not.toMatch(/header-secret|query-secret/);
  });

  it("reports a name that does not resolve as network", async () => {
    const outbound = client({ allow: parseAllowList(undefined), lookup: fakeLookup({}) });
    const result = await outbound.request({ method: "GET", url: "http://nowhere.example/" });
    expect(result).toMatchObject({ ok: false, kind: "network" });
    expect(!result.ok && result.reason).toContain("ENOTFOUND");
  });

  it("reports a header undici cannot send as invalid, without its value", async () => {
    const outbound = client({ allow: parseAllowList("127.0.0.1") });
    const result = await outbound.request({
      method: "GET",
      url: `http://127.0.0.1:${allowed.port}/`,
      headers: { "x-token": "secret-value\r\ninjected: 1" },
    });
    expect(result).toMatchObject({ ok: false, kind: "invalid_url" });
    expect(JSON.stringify(result)).not.toContain("secret-value");
    expect(allowed.requests).toHaveLength(0);
  });
});
