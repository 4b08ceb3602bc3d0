import { lookup as dnsLookup } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { Agent } from "undici";
import { checkDestination, type AllowList } from "./core/address.ts";
import { RefusedDestinationError, errorCode, findError, guardLookup } from "./guard.ts";
import { connectGuarded, type ConnectResult } from "./tcp.ts";

/** One outgoing HTTP call. */
export interface OutboundRequest {
  method: string;
  /** An absolute http: or https: URL, without credentials (send those in a header). */
  url: string;
  headers?: Record<string, string>;
  body?: string;
}

/** Why an outbound call gave no usable response. */
export type OutboundFailureKind =
  /** The destination is private, loopback, link-local or otherwise non-public, and not allowed. */
  | "refused"
  /** No complete response within the client's timeout (connect, headers and body together). */
  | "timeout"
  /** The connection failed or broke: DNS failure, connection refused or reset, TLS error. */
  | "network"
  /** The response body is larger than the client's cap. */
  | "too_large"
  /** The request cannot be sent as given: bad URL, scheme other than http/https, credentials in the URL, bad header. */
  | "invalid_url";

/**
 * What an outbound call came to. `ok: true` means an HTTP response arrived, whatever its status: callers
 * decide what a 4xx or 5xx means. Failures are values with a reason meant for people (no header values
 * and no URL path or query, which may carry secrets).
 */
export type OutboundResult =
  | {
      ok: true;
      status: number;
      /** Response headers, lower-case names; repeated headers are joined with ", ". */
      headers: Record<string, string>;
      /** The parsed JSON for a JSON content type (the text if it does not parse), else the text. */
      body: unknown;
      durationMs: number;
    }
  | {
      ok: false;
      kind: OutboundFailureKind;
      reason: string;
      /** The response status, when a response had started (too_large). */
      status?: number;
    };

/** Sends outbound HTTP calls through the destination guard. */
export interface OutboundClient {
  request(req: OutboundRequest): Promise<OutboundResult>;
  /**
   * A TCP connection to `host:port` for a protocol other than HTTP (SMTP), under the same guard and
   * within `timeoutMs` (the client's unless given); the caller owns the socket.
   */
  connect(host: string, port: number, timeoutMs?: number): Promise<ConnectResult>;
  /** Closes pooled connections; requests in flight finish first. */
  close(): Promise<void>;
}

/** How `createOutboundClient` behaves. */
export interface OutboundClientOptions {
  /** Destinations allowed despite being non-public (see `parseAllowList`). */
  allow: AllowList;
  /** Resolves host names; defaults to `dns.lookup`. Tests inject one to map names to addresses. */
  lookup?: LookupFunction;
  /** Limit for a whole call, connect to last body byte; default 10 000 ms. */
  timeoutMs?: number;
  /** Largest response body read; a larger one fails with too_large. Default 1 MiB. */
  maxResponseBytes?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_RESPONSE_BYTES = 1024 * 1024;

const TIMEOUT_CODES = new Set(["UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

function isJsonType(contentType: string | undefined): boolean {
  return contentType !== undefined && /^[\w.+-]+\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(contentType);
}

function parseBody(text: string, contentType: string | undefined): unknown {
  if (!isJsonType(contentType)) return text;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function flattenHeaders(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(", ") : value;
  }
  return flat;
}

/** Checks what can be checked before connecting; returns the parsed URL or a failure. */
function prepare(req: OutboundRequest, allow: AllowList): URL | OutboundResult {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return { ok: false, kind: "invalid_url", reason: "invalid url: not an absolute URL" };
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return {
      ok: false,
      kind: "invalid_url",
      reason: `invalid url: scheme ${url.protocol} is not supported, only http: and https:`,
    };
  }
  if (url.username || url.password) {
    return {
      ok: false,
      kind: "invalid_url",
      reason: `invalid url: credentials in the URL (host ${url.hostname}); send them in an Authorization header`,
    };
  }
  // net.connect skips the lookup for an IP literal, so the guarded lookup never sees it: check here.
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (isIP(host)) {
    const check = checkDestination(host, host, allow);
    if (!check.ok) return { ok: false, kind: "refused", reason: check.reason };
  }
  return url;
}

/**
 * Creates the client every outgoing HTTP call goes through. Destinations are checked on the
 * resolved address at connect time; no redirect is followed (a 3xx comes back as a response);
 * the whole call is bounded by `timeoutMs` and the body by `maxResponseBytes`. Failures come back
 * as values, never as exceptions.
 */
export function createOutboundClient(options: OutboundClientOptions): OutboundClient {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const resolve = options.lookup ?? (dnsLookup as LookupFunction);
  // A plain Agent ignores HTTP_PROXY and friends: a proxy would connect on our behalf, out of the guard's sight.
  const agent = new Agent({
    connect: { lookup: guardLookup(options.allow, resolve), timeout: timeoutMs },
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  async function request(req: OutboundRequest): Promise<OutboundResult> {
    const prepared = prepare(req, options.allow);
    if (!(prepared instanceof URL)) return prepared;
    const url = prepared;
    const started = performance.now();
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    let status: number | undefined;
    try {
      const res = await agent.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: req.method.toUpperCase(),
        headers: req.headers,
        body: req.body,
        signal: deadline.signal,
      });
      status = res.statusCode;
      const tooLarge: OutboundResult = {
        ok: false,
        kind: "too_large",
        reason: `too large: the response from ${url.host} exceeds ${maxResponseBytes} bytes`,
        status,
      };
      const declared = Number(res.headers["content-length"]);
      if (Number.isFinite(declared) && declared > maxResponseBytes) {
        res.body.destroy();
        return tooLarge;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxResponseBytes) {
          res.body.destroy();
          return tooLarge;
        }
        chunks.push(chunk);
      }
      const headers = flattenHeaders(res.headers);
      return {
        ok: true,
        status,
        headers,
        body: parseBody(Buffer.concat(chunks).toString("utf8"), headers["content-type"]),
        durationMs: Math.round(performance.now() - started),
      };
    } catch (err) {
      return describeFailure(err, url, deadline.signal.aborted, status);
    } finally {
      clearTimeout(timer);
    }
  }

  function describeFailure(
    err: unknown,
    url: URL,
    timedOut: boolean,
    status: number | undefined,
  ): OutboundResult {
    const refused = findError(err, (e) => e instanceof RefusedDestinationError);
    if (refused) return { ok: false, kind: "refused", reason: refused.message };
    const withStatus = status === undefined ? {} : { status };
    const timeout = timedOut || findError(err, (e) => TIMEOUT_CODES.has(errorCode(e) ?? "")) !== undefined;
    if (timeout) {
      return {
        ok: false,
        kind: "timeout",
        reason: `timeout: no complete response from ${url.host} within ${timeoutMs} ms`,
        ...withStatus,
      };
    }
    const invalid = findError(err, (e) => errorCode(e) === "UND_ERR_INVALID_ARG");
    if (invalid) return { ok: false, kind: "invalid_url", reason: `invalid request: ${invalid.message}` };
    const cause =
      findError(err, (e) => errorCode(e) !== undefined) ?? (err instanceof Error ? err : undefined);
    const code = cause && errorCode(cause);
    const detail = !cause
      ? String(err)
      : code && !cause.message.includes(code)
        ? `${cause.message} (${code})`
        : cause.message;
    return {
      ok: false,
      kind: "network",
      reason: `network error reaching ${url.host}: ${detail}`,
      ...withStatus,
    };
  }

  return {
    request,
    connect: (host, port, ms = timeoutMs) =>
      connectGuarded({ host, port, allow: options.allow, lookup: resolve, timeoutMs: ms }),
    close: () => agent.close(),
  };
}
