import type { LookupAddress } from "node:dns";
import { createServer, type AddressInfo, type LookupFunction, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createOutboundClient, parseAllowList } from "./index.ts";

// Listeners on 127.0.0.1 (allowed) and 127.0.0.2 (loopback, not allowed); nothing leaves the machine.

interface Listener {
  server: Server;
  port: number;
  connections: number;
}

async function listen(host: string): Promise<Listener> {
  const server = createServer((socket) => {
    listener.connections++;
    socket.on("error", () => {}); // a test client that hangs up at once resets the connection
    socket.end("220 hello\r\n");
  });
  const listener: Listener = { server, port: 0, connections: 0 };
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  listener.port = (server.address() as AddressInfo).port;
  return listener;
}

/** A resolver that answers every name with `address`. */
const resolvingTo =
  (address: string): LookupFunction =>
  (_hostname, options, callback) => {
    const found: LookupAddress[] = [{ address, family: 4 }];
    if (options.all) (callback as (e: null, a: LookupAddress[]) => void)(null, found);
    else callback(null, address, 4);
  };

let allowed: Listener;
let other: Listener;

beforeAll(async () => {
  [allowed, other] = await Promise.all([listen("127.0.0.1"), listen("127.0.0.2")]);
});

afterAll(async () => {
  await Promise.all([allowed, other].map((l) => new Promise((r) => l.server.close(r))));
});

describe("a guarded TCP connection (SMTP's way out)", () => {
  it("connects to an allowed address and hands over the open socket", async () => {
    const client = createOutboundClient({ allow: parseAllowList("127.0.0.1") });
    const result = await client.connect("127.0.0.1", allowed.port);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const greeting = await new Promise<string>((resolve) =>
      result.socket.once("data", (d) => resolve(String(d))),
    );
    expect(greeting).toBe("220 hello\r\n");
    result.socket.destroy();
    await client.close();
  });

  it("refuses a loopback address off the allow list by its literal, and never connects", async () => {
    const client = createOutboundClient({ allow: parseAllowList("127.0.0.1") });
    const before = other.connections;
    const result = await client.connect("127.0.0.2", other.port);
    expect(result).toEqual({
      ok: false,
      kind: "refused",
      reason: expect.stringMatching(/loopback address 127\.0\.0\.2 .*WAYMARK_OUTBOUND_ALLOW/),
    });
    await new Promise((r) => setTimeout(r, 50));
    expect(other.connections).toBe(before);
  });

  it("refuses a host name by the address it resolves to, and never connects", async () => {
    const client = createOutboundClient({
      allow: parseAllowList("127.0.0.1"),
      lookup: resolvingTo("127.0.0.2"),
    });
    const before = other.connections;
    const result = await client.connect("relay.example.test", other.port);
    expect(result).toMatchObject({ ok: false, kind: "refused" });
    await new Promise((r) => setTimeout(r, 50));
    expect(other.connections).toBe(before);
  });

  it("connects a host name on the allow list to the address it resolves to", async () => {
    const client = createOutboundClient({
      allow: parseAllowList("relay.internal"),
      lookup: resolvingTo("127.0.0.2"),
    });
    const before = other.connections;
    const result = await client.connect("relay.internal", other.port);
    expect(result.ok).toBe(true);
    if (result.ok) result.socket.destroy();
    await new Promise((r) => setTimeout(r, 50));
    expect(other.connections).toBe(before + 1);
  });

  it("gives up after the timeout it is given, while the name is still being resolved", async () => {
    const client = createOutboundClient({
      allow: parseAllowList("127.0.0.1"),
      lookup: () => {}, // a resolver that never answers
    });
    expect(await client.connect("slow.example.test", allowed.port, 100)).toEqual({
      ok: false,
      kind: "timeout",
      reason: `timeout: no connection to slow.example.test:${allowed.port} within 100 ms`,
    });
  });

  it("reports a closed port as a network failure and a bad port as invalid", async () => {
    const client = createOutboundClient({ allow: parseAllowList("127.0.0.1") });
    const closed = await listen("127.0.0.1");
    await new Promise((r) => closed.server.close(r));
    expect(await client.connect("127.0.0.1", closed.port)).toEqual({
      ok: false,
      kind: "network",
      reason: expect.stringContaining("ECONNREFUSED"),
    });
    expect(await client.connect("127.0.0.1", 0)).toMatchObject({ ok: false, kind: "invalid_url" });
  });
});
