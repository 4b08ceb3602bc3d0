import { ValidationError } from "../../errors/index.ts";

/**
 * Which destinations outbound HTTP may reach. Private, loopback, link-local and other non-public
 * addresses are refused unless a host name or a network here allows them (`WAYMARK_OUTBOUND_ALLOW`).
 */
export interface AllowList {
  /** Host names allowed whatever they resolve to: lower case, without a trailing dot. */
  hosts: Set<string>;
  /** Networks allowed; a single address is a /32 (IPv4) or /128 (IPv6). */
  cidrs: Cidr[];
}

/** A network in CIDR notation, with its host bits cleared. */
export interface Cidr {
  version: 4 | 6;
  /** The network address as a number (32 bits for IPv4, 128 for IPv6). */
  base: bigint;
  /** Prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6. */
  prefix: number;
}

/** The answer of `checkDestination`; `reason` says what was refused and how to allow it. */
export type DestinationCheck = { ok: true } | { ok: false; reason: string };

/** The environment variable that feeds the allow list, named in refusals so operators know the way out. */
export const ALLOW_LIST_VARIABLE = "WAYMARK_OUTBOUND_ALLOW";

interface Ip {
  version: 4 | 6;
  value: bigint;
}

interface Range extends Cidr {
  /** What an address in this range is, as in "<label> address 10.0.0.5". */
  label: string;
}

/** Where an IPv6 range carries an IPv4 address, and how to read it. */
interface Embedding extends Cidr {
  name: string;
  extract(value: bigint): bigint;
}

const V4_BITS = 32;
const V6_BITS = 128;
const LOW_32 = 0xffff_ffffn;

/** Parses dotted-decimal IPv4; leading zeros are refused because some resolvers read them as octal. */
function parseIPv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^(?:0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = (value << 8n) | BigInt(octet);
  }
  return value;
}

/** Parses the 16-bit groups of one side of "::"; only the last group may be a dotted IPv4 tail. */
function parseGroups(part: string, allowIPv4Tail: boolean): number[] | undefined {
  if (part === "") return [];
  const pieces = part.split(":");
  const groups: number[] = [];
  for (const [i, piece] of pieces.entries()) {
    if (allowIPv4Tail && i === pieces.length - 1 && piece.includes(".")) {
      const v4 = parseIPv4(piece);
      if (v4 === undefined) return undefined;
      groups.push(Number(v4 >> 16n), Number(v4 & 0xffffn));
    } else if (/^[0-9a-f]{1,4}$/i.test(piece)) {
      groups.push(parseInt(piece, 16));
    } else {
      return undefined;
    }
  }
  return groups;
}

/** Parses IPv6 text (RFC 4291 forms: "::" compression, dotted IPv4 tail); no zone id. */
function parseIPv6(text: string): bigint | undefined {
  if (!text.includes(":")) return undefined;
  const halves = text.split("::");
  let groups: number[] | undefined;
  if (halves.length === 1) {
    groups = parseGroups(text, true);
    if (groups?.length !== 8) return undefined;
  } else if (halves.length === 2) {
    const head = parseGroups(halves[0]!, false);
    const tail = parseGroups(halves[1]!, true);
    if (!head || !tail || head.length + tail.length > 7) return undefined;
    groups = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    return undefined;
  }
  return groups.reduce((value, group) => (value << 16n) | BigInt(group), 0n);
}

/** Parses an IPv4 or IPv6 address; a zone id ("fe80::1%eth0") is dropped, it does not change the range. */
function parseIp(text: string): Ip | undefined {
  const v4 = parseIPv4(text);
  if (v4 !== undefined) return { version: 4, value: v4 };
  const zone = text.indexOf("%");
  const v6 = parseIPv6(zone >= 0 ? text.slice(0, zone) : text);
  return v6 === undefined ? undefined : { version: 6, value: v6 };
}

function formatIPv4(value: bigint): string {
  return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join(".");
}

function mask(version: 4 | 6, prefix: number): bigint {
  const bits = version === 4 ? V4_BITS : V6_BITS;
  return ((1n << BigInt(prefix)) - 1n) << BigInt(bits - prefix);
}

function parseCidr(text: string): Cidr | undefined {
  const [address, prefixText, extra] = text.split("/");
  if (address === undefined || extra !== undefined || address.includes("%")) return undefined;
  const ip = parseIp(address);
  if (!ip) return undefined;
  const bits = ip.version === 4 ? V4_BITS : V6_BITS;
  if (prefixText === undefined) return { version: ip.version, base: ip.value, prefix: bits };
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > bits) return undefined;
  const prefix = Number(prefixText);
  return { version: ip.version, base: ip.value & mask(ip.version, prefix), prefix };
}

function contains(cidr: Cidr, ip: Ip): boolean {
  return cidr.version === ip.version && (ip.value & mask(cidr.version, cidr.prefix)) === cidr.base;
}

function range(text: string, label: string): Range {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`bad built-in range ${text}`);
  return { ...cidr, label };
}

// First match wins, so narrower ranges come before the wider ones that hold them.
const V4_RANGES: Range[] = [
  range("0.0.0.0/32", "unspecified"),
  range("0.0.0.0/8", "this-network"),
  range("10.0.0.0/8", "private"),
  range("100.64.0.0/10", "shared (CGNAT)"),
  range("127.0.0.0/8", "loopback"),
  range("169.254.0.0/16", "link-local"),
  range("172.16.0.0/12", "private"),
  range("192.0.0.0/24", "reserved (IETF protocol assignments)"),
  range("192.0.2.0/24", "documentation"),
  range("192.168.0.0/16", "private"),
  range("198.18.0.0/15", "benchmarking"),
  range("198.51.100.0/24", "documentation"),
  range("203.0.113.0/24", "documentation"),
  range("224.0.0.0/4", "multicast"),
  range("255.255.255.255/32", "broadcast"),
  range("240.0.0.0/4", "reserved"),
];

// IPv6 forms that carry an IPv4 address: the packet ends up at (or is judged by) that IPv4 address,
// so ::ffff:127.0.0.1 must not slip past a check that only knows IPv6 loopback.
const IPV4_MAPPED: Embedding = {
  ...range("::ffff:0:0/96", ""),
  name: "IPv4-mapped",
  extract: (v) => v & LOW_32,
};
const EMBEDDINGS: Embedding[] = [
  IPV4_MAPPED,
  { ...range("64:ff9b::/96", ""), name: "NAT64", extract: (v) => v & LOW_32 },
  { ...range("2002::/16", ""), name: "6to4", extract: (v) => (v >> 80n) & LOW_32 },
  // Teredo stores the client's IPv4 address with every bit flipped.
  { ...range("2001::/32", ""), name: "Teredo", extract: (v) => ~v & LOW_32 },
];

const V6_RANGES: Range[] = [
  range("::/128", "unspecified"),
  range("::1/128", "loopback"),
  range("::/96", "reserved (IPv4-compatible)"),
  range("64:ff9b:1::/48", "private (local-use NAT64)"),
  range("100::/64", "discard-only"),
  range("2001:db8::/32", "documentation"),
  range("3fff::/20", "documentation"),
  range("fc00::/7", "private (unique-local)"),
  range("fe80::/10", "link-local"),
  range("fec0::/10", "site-local"),
  range("ff00::/8", "multicast"),
];

/** Only 2000::/3 is global unicast; the rest of the IPv6 space is reserved or special-purpose. */
const V6_GLOBAL_UNICAST = range("2000::/3", "global unicast");

function judgeIPv4(value: bigint): string | undefined {
  const ip: Ip = { version: 4, value };
  const hit = V4_RANGES.find((r) => contains(r, ip));
  return hit && `${hit.label} address ${formatIPv4(value)}`;
}

/**
 * Why outbound HTTP must not connect to `ip`, or undefined for a public address. Covers loopback,
 * private (RFC 1918, IPv6 unique-local), link-local (169.254/16: cloud metadata; fe80::/10),
 * unspecified, multicast, broadcast, CGNAT, reserved and documentation ranges, and IPv6 outside
 * global unicast (2000::/3). IPv6 addresses that embed an IPv4 address (IPv4-mapped, NAT64, 6to4,
 * Teredo) are judged by that IPv4 address.
 * Text that is not an IP address is refused too: the check fails closed.
 */
export function forbiddenReason(ip: string): string | undefined {
  const parsed = parseIp(ip);
  if (!parsed) return `unparseable address ${ip}`;
  if (parsed.version === 4) return judgeIPv4(parsed.value);
  const embedding = EMBEDDINGS.find((e) => contains(e, parsed));
  if (embedding) {
    const why = judgeIPv4(embedding.extract(parsed.value));
    return why && `${why} (${embedding.name} ${ip})`;
  }
  const hit = V6_RANGES.find((r) => contains(r, parsed));
  if (hit) return `${hit.label} address ${ip}`;
  return contains(V6_GLOBAL_UNICAST, parsed) ? undefined : `reserved address ${ip}`;
}

/** Host names compare case-insensitively, without brackets around IPv6 or a trailing root dot. */
function normalizeHost(host: string): string {
  const bare = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return bare.toLowerCase().replace(/\.$/, "");
}

function isHostName(text: string): boolean {
  const name = text.replace(/\.$/, "");
  if (name.length === 0 || name.length > 253) return false;
  return name.split(".").every((label) => /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/i.test(label));
}

/**
 * Reads the allow list: comma-separated host names, IP addresses and CIDRs
 * (`127.0.0.1,hooks.internal,10.1.0.0/16`); blanks are ignored and an absent value allows nothing.
 * Throws a ValidationError naming the first bad entry.
 */
export function parseAllowList(text: string | undefined): AllowList {
  const allow: AllowList = { hosts: new Set(), cidrs: [] };
  for (const raw of (text ?? "").split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const bare = entry.startsWith("[") ? entry.replace(/^\[([^\]]*)\]/, "$1") : entry;
    const cidr = parseCidr(bare);
    if (cidr) {
      allow.cidrs.push(cidr);
    } else if (!/^[\d.]+$/.test(bare) && isHostName(bare)) {
      allow.hosts.add(normalizeHost(bare));
    } else {
      const message =
        `${ALLOW_LIST_VARIABLE} entry "${entry}" is not a host name, IP address or CIDR ` +
        `(write e.g. hooks.internal, 127.0.0.1 or 10.1.0.0/16; no schemes or ports)`;
      throw new ValidationError(message, [{ path: ALLOW_LIST_VARIABLE, message }]);
    }
  }
  return allow;
}

/**
 * Whether outbound HTTP may connect to `ip`, reached as `host` (the URL's host name, or the address
 * itself for an IP literal). Allowed when the host name is on the allow list, when the address is
 * inside an allowed network, or when the address is public; refused otherwise.
 */
export function checkDestination(host: string, ip: string, allow: AllowList): DestinationCheck {
  if (allow.hosts.has(normalizeHost(host))) return { ok: true };
  const parsed = parseIp(ip);
  if (parsed) {
    const candidates = [parsed];
    // ::ffff:a.b.c.d is the IPv4 socket a.b.c.d, so an allowed IPv4 address allows its mapped form.
    if (parsed.version === 6 && contains(IPV4_MAPPED, parsed)) {
      candidates.push({ version: 4, value: IPV4_MAPPED.extract(parsed.value) });
    }
    if (allow.cidrs.some((cidr) => candidates.some((c) => contains(cidr, c)))) return { ok: true };
  }
  const why = forbiddenReason(ip);
  if (why === undefined) return { ok: true };
  return { ok: false, reason: `refused: ${why} (host ${host}); allow it with ${ALLOW_LIST_VARIABLE}` };
}
