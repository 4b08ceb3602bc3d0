import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Signed tokens in the links of messages (unsubscribe, preferences, and the dispatcher's open and
 * click links): `base64url(JSON payload) "." base64url(HMAC-SHA256)`, keyed with the workspace's
 * secret. The payload is readable by whoever holds the link (it names ids, never addresses); the
 * signature makes it unforgeable. Tokens use only `A-Z a-z 0-9 - _ .`, safe in a URL path.
 */

/** What an unsubscribe or preference link carries. */
export interface LinkPayload {
  /** Workspace id. */
  w: string;
  /** Profile id (may be merged away since: follow it to the survivor). */
  p: string | null;
  /** The message's channel. */
  c: string;
  /** The message's topic, or null (its unsubscribe link then unsubscribes from the whole channel). */
  t: string | null;
  /** The message id. */
  m: string;
  /** Optional expiry, Unix seconds. */
  x?: number;
}

// Domain separation: the same secret signs outgoing webhooks (Standard Webhooks); a signature made
// for one use must never verify for the other.
const CONTEXT = "waymark-link.v1.";

function mac(secret: string, data: string): Buffer {
  return createHmac("sha256", secret)
    .update(CONTEXT + data)
    .digest();
}

/** Signs a JSON payload with the workspace's secret. */
export function signToken(secret: string, payload: object): string {
  const data = Buffer.from(JSON.stringify(payload)).toString("base64url");
  return `${data}.${mac(secret, data).toString("base64url")}`;
}

/**
 * The payload of a token signed with `secret`, or undefined when it is malformed, forged, or past
 * its expiry `x` (Unix seconds; a token with an expiry and no `now` counts as expired).
 */
export function verifyToken<T extends object = LinkPayload>(
  secret: string,
  token: string,
  now?: Date,
): T | undefined {
  const parts = token.split(".");
  if (parts.length !== 2) return undefined;
  const [data, signature] = parts as [string, string];
  const given = Buffer.from(signature, "base64url");
  const expected = mac(secret, data);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
  const payload = readPayload(data);
  if (!payload) return undefined;
  if (typeof payload.x === "number" && (!now || now.getTime() / 1000 > payload.x)) return undefined;
  return payload as T;
}

/**
 * The workspace id a token claims (`w`), unverified: which secret to verify it with. Never trust
 * anything else from an unverified token.
 */
export function tokenWorkspace(token: string): string | undefined {
  const payload = readPayload(token.split(".")[0] ?? "");
  return typeof payload?.w === "string" ? payload.w : undefined;
}

function readPayload(data: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(data, "base64url").toString());
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The unsubscribe and preference page links of a message. */
export function linkUrls(
  publicUrl: string,
  token: string,
): { unsubscribeUrl: string; preferencesUrl: string } {
  const base = publicUrl.replace(/\/+$/, "");
  return { unsubscribeUrl: `${base}/u/${token}`, preferencesUrl: `${base}/p/${token}` };
}
