import fc from "fast-check";
import { BlockList } from "node:net";
import { describe, expect, it } from "vitest";
import { ValidationError } from "../../errors/index.ts";
import { checkDestination, forbiddenReason, parseAllowList, type AllowList } from "./address.ts";

// Every address here is only ever judged, never connected to: the guard for private ranges is
// proven by these unit tests, not by sending traffic.

describe("an IPv4 destination", () => {
  it.each([
    ["0.0.0.0", "unspecified address 0.0.0.0"],
    ["0.1.2.3", "this-network address 0.1.2.3"],
    ["10.0.0.5", "private address 10.0.0.5"],
    ["10.255.255.255", "private address 10.255.255.255"],
    ["100.64.0.1", "shared (CGNAT) address 100.64.0.1"],
    ["100.127.255.255", "shared (CGNAT) address 100.127.255.255"],
    ["127.0.0.1", "loopback address 127.0.0.1"],
    ["127.0.0.2", "loopback address 127.0.0.2"],
    ["127.255.255.255", "loopback address 127.255.255.255"],
    ["169.254.169.254", "link-local address 169.254.169.254"],
    ["169.254.0.1", "link-local address 169.254.0.1"],
    ["172.16.0.1", "private address 172.16.0.1"],
    ["172.31.255.255", "private address 172.31.255.255"],
    ["192.0.0.8", "reserved (IETF protocol assignments) address 192.0.0.8"],
    ["192.0.2.1", "documentation address 192.0.2.1"],
    ["192.168.1.1", "private address 192.168.1.1"],
    ["198.18.0.1", "benchmarking address 198.18.0.1"],
    ["198.19.255.255", "benchmarking address 198.19.255.255"],
    ["198.51.100.7", "documentation address 198.51.100.7"],
    ["203.0.113.9", "documentation address 203.0.113.9"],
    ["224.0.0.1", "multicast address 224.0.0.1"],
    ["239.255.255.250", "multicast address 239.255.255.250"],
    ["240.0.0.1", "reserved address 240.0.0.1"],
    ["255.255.255.254", "reserved address 255.255.255.254"],
    ["255.255.255.255", "broadcast address 255.255.255.255"],
  ])("refuses %s", (ip, reason) => {
    expect(forbiddenReason(ip)).toBe(reason);
  });

  it.each([
    "8.8.8.8",
    "1.1.1.1",
    "1.0.0.0",
    "9.255.255.255",
    "11.0.0.0",
    "100.63.255.255",
    "100.128.0.0",
    "126.255.255.255",
    "128.0.0.0",
    "169.253.255.255",
    "169.255.0.0",
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "192.169.0.0",
    "198.17.255.255",
    "198.20.0.0",
    "223.255.255.255",
  ])("lets public %s through", (ip) => {
    expect(forbiddenReason(ip)).toBeUndefined();
  });
});

describe("an IPv6 destination", () => {
  it.each([
    ["::", "unspecified address ::"],
    ["::1", "loopback address ::1"],
    ["0:0:0:0:0:0:0:1", "loopback address 0:0:0:0:0:0:0:1"],
    ["fc00::1", "private (unique-local) address fc00::1"],
    ["fd12:3456::1", "private (unique-local) address fd12:3456::1"],
    ["fe80::1", "link-local address fe80::1"],
    ["fe80::1%eth0", "link-local address fe80::1%eth0"],
    ["febf:ffff::1", "link-local address febf:ffff::1"],
    ["fec0::1", "site-local address fec0::1"],
    ["ff02::1", "multicast address ff02::1"],
    ["2001:db8::1", "documentation address 2001:db8::1"],
    ["3fff::1", "documentation address 3fff::1"],
    ["100::1", "discard-only address 100::1"],
    ["64:ff9b:1::a", "private (local-use NAT64) address 64:ff9b:1::a"],
    ["::7f00:1", "reserved (IPv4-compatible) address ::7f00:1"],
    ["::8.8.8.8", "reserved (IPv4-compatible) address ::8.8.8.8"],
    ["fe00::1", "reserved address fe00::1"],
    ["4000::1", "reserved address 4000::1"],
  ])("refuses %s", (ip, reason) => {
    expect(forbiddenReason(ip)).toBe(reason);
  });

  it.each(["2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::200e", "2000::", "3ffe::1"])(
    "lets public %s through",
    (ip) => {
      expect(forbiddenReason(ip)).toBeUndefined();
    },
  );
});

describe("an IPv6 address carrying an IPv4 address", () => {
  it.each([
    ["::ffff:10.0.0.1", "private address 10.0.0.1 (IPv4-mapped ::ffff:10.0.0.1)"],
    ["::ffff:7f00:1", "loopback address 127.0.0.1 (IPv4-mapped ::ffff:7f00:1)"],
    ["::FFFF:A9FE:A9FE", "link-local address 169.254.169.254 (IPv4-mapped ::FFFF:A9FE:A9FE)"],
    ["0:0:0:0:0:ffff:192.168.0.1", "private address 192.168.0.1 (IPv4-mapped 0:0:0:0:0:ffff:192.168.0.1)"],
    ["::ffff:0.0.0.0", "unspecified address 0.0.0.0 (IPv4-mapped ::ffff:0.0.0.0)"],
    ["64:ff9b::a00:1", "private address 10.0.0.1 (NAT64 64:ff9b::a00:1)"],
    ["64:ff9b::127.0.0.1", "loopback address 127.0.0.1 (NAT64 64:ff9b::127.0.0.1)"],
    ["2002:7f00:1::1", "loopback address 127.0.0.1 (6to4 2002:7f00:1::1)"],
    ["2002:c0a8:101::", "private address 192.168.1.1 (6to4 2002:c0a8:101::)"],
    ["2002:a9fe:a9fe::1", "link-local address 169.254.169.254 (6to4 2002:a9fe:a9fe::1)"],
    [
      "2001:0:4136:e378:8000:63bf:80ff:fffe",
      "loopback address 127.0.0.1 (Teredo 2001:0:4136:e378:8000:63bf:80ff:fffe)",
    ],
  ])("judges %s by its IPv4 address", (ip, reason) => {
    expect(forbiddenReason(ip)).toBe(reason);
  });

  it.each([
    "::ffff:8.8.8.8",
    "::ffff:808:808",
    "64:ff9b::808:808",
    "2002:808:808::1",
    "2001:0:4136:e378:8000:63bf:f7f7:f7f7",
  ])("lets %s through when that IPv4 address is public", (ip) => {
    expect(forbiddenReason(ip)).toBeUndefined();
  });

  it("judges every IPv4-mapped address exactly like its IPv4 address", () => {
    fc.assert(
      fc.property(fc.ipV4(), (v4) => {
        const reason = forbiddenReason(v4);
        const mapped = `::ffff:${v4}`;
        expect(forbiddenReason(mapped)).toBe(reason && `${reason} (IPv4-mapped ${mapped})`);
      }),
    );
  });
});

describe("text that is not an IP address", () => {
  it.each([
    "",
    "localhost",
    "example.com",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "01.2.3.4",
    "1.2.3.-1",
    "0x7f.0.0.1",
    "2130706433",
    "::g",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7::8",
    "1::2::3",
    ":1::",
    "1::2:",
    "12345::",
    "::1.2.3.4.5",
    "1.2.3.4::",
    "[::1]",
  ])("is refused, failing closed: %j", (text) => {
    expect(forbiddenReason(text)).toBe(`unparseable address ${text}`);
  });
});

describe("the ranges agree with Node's own subnet matching", () => {
  const v4 = new BlockList();
  for (const [net, prefix] of [
    ["0.0.0.0", 8],
    ["10.0.0.0", 8],
    ["100.64.0.0", 10],
    ["127.0.0.0", 8],
    ["169.254.0.0", 16],
    ["172.16.0.0", 12],
    ["192.0.0.0", 24],
    ["192.0.2.0", 24],
    ["192.168.0.0", 16],
    ["198.18.0.0", 15],
    ["198.51.100.0", 24],
    ["203.0.113.0", 24],
    ["224.0.0.0", 3],
  ] as const) {
    v4.addSubnet(net, prefix, "ipv4");
  }

  it("refuses an IPv4 address exactly when it is in a non-public range", () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(forbiddenReason(ip) !== undefined).toBe(v4.check(ip, "ipv4"));
      }),
      { numRuns: 5000 },
    );
  });

  const embedded = new BlockList();
  embedded.addSubnet("::ffff:0:0", 96, "ipv6");
  embedded.addSubnet("64:ff9b::", 96, "ipv6");
  embedded.addSubnet("2002::", 16, "ipv6");
  embedded.addSubnet("2001::", 32, "ipv6");
  const v6 = new BlockList();
  for (const [net, prefix] of [
    ["64:ff9b:1::", 48],
    ["2001:db8::", 32],
    ["3fff::", 20],
  ] as const) {
    v6.addSubnet(net, prefix, "ipv6");
  }
  const globalUnicast = new BlockList();
  globalUnicast.addSubnet("2000::", 3, "ipv6");

  it("refuses an IPv6 address exactly when it is outside global unicast or in a special range", () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        fc.pre(!embedded.check(ip, "ipv6"));
        const expected = v6.check(ip, "ipv6") || !globalUnicast.check(ip, "ipv6");
        expect(forbiddenReason(ip) !== undefined).toBe(expected);
      }),
      { numRuns: 5000 },
    );
  });
});

describe("reading WAYMARK_OUTBOUND_ALLOW", () => {
  it("allows nothing when absent or blank", () => {
    for (const text of [undefined, "", " ", " , ,"]) {
      expect(parseAllowList(text)).toEqual({ hosts: new Set(), cidrs: [] });
    }
  });

  it("reads host names, addresses and CIDRs", () => {
    expect(parseAllowList("127.0.0.1,hooks.internal,10.1.0.0/16")).toEqual({
      hosts: new Set(["hooks.internal"]),
      cidrs: [
        { version: 4, base: 0x7f000001n, prefix: 32 },
        { version: 4, base: 0x0a010000n, prefix: 16 },
      ],
    });
  });

  it("trims entries, lower-cases host names and drops a trailing root dot", () => {
    expect(parseAllowList("  Hooks.Internal. , crm_local , localhost").hosts).toEqual(
      new Set(["hooks.internal", "crm_local", "localhost"]),
    );
  });

  it("reads IPv6 addresses and networks, with or without brackets", () => {
    expect(parseAllowList("[::1], fd00::/8, [fe80::]/10").cidrs).toEqual([
      { version: 6, base: 1n, prefix: 128 },
      { version: 6, base: 0xfdn << 120n, prefix: 8 },
      { version: 6, base: 0xfe80n << 112n, prefix: 10 },
    ]);
  });

  it("clears host bits of a CIDR written from one of its addresses", () => {
    expect(parseAllowList("10.1.2.3/16").cidrs).toEqual([{ version: 4, base: 0x0a010000n, prefix: 16 }]);
  });

  it.each([
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/",
    "10.0.0.0/8/8",
    "10.0.0.0/-1",
    "300.1.1.1",
    "1.2.3",
    "01.2.3.4",
    "http://hooks.internal",
    "hooks.internal:8080",
    "hooks internal",
    "*.example.com",
    "-bad.example.com",
    "fe80::1%eth0",
    "[::1",
  ])("names the bad entry %j", (entry) => {
    const attempt = () => parseAllowList(`127.0.0.1, ${entry}`);
    expect(attempt).toThrow(ValidationError);
    expect(attempt).toThrow(`WAYMARK_OUTBOUND_ALLOW entry "${entry}" is not a host name, IP address or CIDR`);
  });
});

describe("checking a destination against the allow list", () => {
  const none: AllowList = parseAllowList(undefined);
  const allow = parseAllowList("127.0.0.1, hooks.internal, 10.1.0.0/16, ::1, fd00::/8");

  it("lets a public address through with an empty allow list", () => {
    expect(checkDestination("example.com", "93.184.215.14", none)).toEqual({ ok: true });
    expect(checkDestination("example.com", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", none)).toEqual({
      ok: true,
    });
  });

  it("refuses a loopback address, saying what it was and how to allow it", () => {
    expect(checkDestination("127.0.0.2", "127.0.0.2", none)).toEqual({
      ok: false,
      reason: "refused: loopback address 127.0.0.2 (host 127.0.0.2); allow it with WAYMARK_OUTBOUND_ALLOW",
    });
  });

  it("refuses a name resolving to the cloud metadata address", () => {
    expect(checkDestination("metadata.example", "169.254.169.254", allow)).toEqual({
      ok: false,
      reason:
        "refused: link-local address 169.254.169.254 (host metadata.example); allow it with WAYMARK_OUTBOUND_ALLOW",
    });
  });

  it("allows an address listed exactly, and no neighbour of it", () => {
    expect(checkDestination("127.0.0.1", "127.0.0.1", allow)).toEqual({ ok: true });
    expect(checkDestination("localhost", "127.0.0.1", allow)).toEqual({ ok: true });
    expect(checkDestination("127.0.0.2", "127.0.0.2", allow).ok).toBe(false);
  });

  it("allows an IPv4 address listed in its IPv4-mapped IPv6 form", () => {
    expect(checkDestination("localhost", "::ffff:127.0.0.1", allow)).toEqual({ ok: true });
    expect(checkDestination("localhost", "::ffff:7f00:2", allow).ok).toBe(false);
  });

  it("allows addresses inside a listed network and refuses those outside", () => {
    expect(checkDestination("a.internal", "10.1.0.0", allow)).toEqual({ ok: true });
    expect(checkDestination("a.internal", "10.1.255.255", allow)).toEqual({ ok: true });
    expect(checkDestination("a.internal", "10.2.0.0", allow).ok).toBe(false);
    expect(checkDestination("a.internal", "10.0.255.255", allow).ok).toBe(false);
  });

  it("allows listed IPv6 addresses and networks", () => {
    expect(checkDestination("[::1]", "::1", allow)).toEqual({ ok: true });
    expect(checkDestination("b.internal", "fd00::2", allow)).toEqual({ ok: true });
    expect(checkDestination("b.internal", "fc00::2", allow).ok).toBe(false);
    expect(checkDestination("b.internal", "fe80::1", allow).ok).toBe(false);
  });

  it("allows a listed host name whatever it resolves to, matching case-insensitively", () => {
    expect(checkDestination("hooks.internal", "10.0.0.5", allow)).toEqual({ ok: true });
    expect(checkDestination("HOOKS.Internal.", "192.168.0.9", allow)).toEqual({ ok: true });
  });

  it("matches host names exactly: no subdomains, no lookalikes", () => {
    expect(checkDestination("evil.hooks.internal", "10.0.0.5", allow).ok).toBe(false);
    expect(checkDestination("hooks.internal.evil", "10.0.0.5", allow).ok).toBe(false);
    expect(checkDestination("hooks-internal", "10.0.0.5", allow).ok).toBe(false);
  });

  it("refuses text that is not an address unless the host name is allowed", () => {
    expect(checkDestination("x.example", "not-an-ip", none)).toEqual({
      ok: false,
      reason: "refused: unparseable address not-an-ip (host x.example); allow it with WAYMARK_OUTBOUND_ALLOW",
    });
  });

  it("does not let an allowed network open an embedded form it does not cover", () => {
    expect(checkDestination("c.example", "2002:7f00:1::1", allow).ok).toBe(false);
  });
});
