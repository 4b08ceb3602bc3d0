import type { z } from "zod";
import { LIMITS } from "./limits.ts";
import { MESSAGE_TYPES, batchSchema, messageSchemas, type InternalType, type MessageType } from "./schema.ts";

/** What the I/O layer hands in: time and ids are inputs, so this file stays pure. */
export interface ReadContext {
  receivedAt: Date;
  newMessageId: () => string;
  /** The client's address; set as `context.ip` when the message has none (as Segment does). */
  ip?: string;
  /** Size of the whole request body: when it is under the per-event limit, no event needs measuring. */
  bodyBytes?: number;
}

/** An accepted event, normalised and ready to append to the log. */
export interface EventRow {
  messageId: string;
  /** Internal types are written by Waymark itself, never read from a request. */
  type: MessageType | InternalType;
  userId: string | null;
  anonymousId: string | null;
  event: string | null;
  /** ISO 8601, corrected for client clock skew. */
  timestamp: string;
  receivedAt: string;
  /** The whole message in Segment's shape as it will be stored and read back. */
  message: Record<string, unknown>;
}

export type RejectCode =
  | "malformed_json"
  | "not_an_object"
  | "invalid_type"
  | "missing_identity"
  | "invalid_field"
  | "event_too_large"
  | "unstorable_value"
  | "invalid_batch";

/** A refused message: it goes to the dead letters with its reason and raw body. */
export interface Rejection {
  /** Position in the batch, or 0 for a single-event route. */
  index: number;
  messageId: string | null;
  code: RejectCode;
  /** Names the field and the rule: `track: userId or anonymousId is required`. */
  reason: string;
  /** The message as received (JSON), or the raw body when it was not JSON. */
  raw: string;
}

export type ReadResult = { ok: true; event: EventRow } | { ok: false; rejection: Rejection };

export type ParsedBody = { ok: true; value: unknown } | { ok: false; reason: string };

/** JSON.parse with its error turned into a sentence. */
export function parseJson(text: string): ParsedBody {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const detail = err instanceof RangeError ? "nested too deeply" : (err as Error).message;
    // The parser quotes the offending input, which may hold characters a text column refuses.
    return { ok: false, reason: `malformed JSON: ${detail.replaceAll("\u0000", "\\u0000").toWellFormed()}` };
  }
}

/** Validates and normalises one message sent to a single-event route (`/v1/track`, ...). */
export function readMessage(type: MessageType, body: unknown, ctx: ReadContext): ReadResult {
  if (!isObject(body)) return reject(0, body, "not_an_object", `${type}: body must be a JSON object`);
  return readOne({ ...body, type }, 0, ctx, {});
}

export type BatchResult =
  { ok: true; events: EventRow[]; rejections: Rejection[] } | { ok: false; reason: string };

/**
 * Validates a batch. Only a batch that is not a batch at all fails as a whole (`ok: false`); each bad
 * message in it becomes a rejection while the good ones are kept.
 */
export function readBatch(body: unknown, ctx: ReadContext): BatchResult {
  if (!isObject(body)) return { ok: false, reason: "batch: body must be a JSON object" };
  const { batch } = body;
  if (!Array.isArray(batch)) return { ok: false, reason: "batch: `batch` is required and must be an array" };
  if (batch.length > LIMITS.batchEvents) {
    return {
      ok: false,
      reason: `batch: ${batch.length} events is over the limit of ${LIMITS.batchEvents.toLocaleString("en")} events per batch`,
    };
  }
  const shared = batchSchema.pick({ context: true, integrations: true, sentAt: true }).safeParse(body);
  if (!shared.success) return { ok: false, reason: `batch: ${describeIssue(shared.error.issues[0]!, body)}` };
  const events: EventRow[] = [];
  const rejections: Rejection[] = [];
  batch.forEach((item, index) => {
    const result = isObject(item)
      ? readOne(item, index, ctx, shared.data)
      : reject(index, item, "not_an_object", `batch[${index}]: must be a JSON object`);
    if (result.ok) events.push(result.event);
    else rejections.push(result.rejection);
  });
  return { ok: true, events, rejections };
}

interface BatchDefaults {
  context?: Record<string, unknown> | undefined;
  integrations?: Record<string, unknown> | undefined;
  sentAt?: string | undefined;
}

function readOne(
  msg: Record<string, unknown>,
  index: number,
  ctx: ReadContext,
  defaults: BatchDefaults,
): ReadResult {
  const type = msg.type;
  if (typeof type !== "string" || !(MESSAGE_TYPES as readonly string[]).includes(type)) {
    const reason =
      type === undefined
        ? `type is required (one of ${MESSAGE_TYPES.join(", ")})`
        : `type must be one of ${MESSAGE_TYPES.join(", ")}`;
    return reject(index, msg, "invalid_type", reason);
  }
  const t = type as MessageType;
  const small = ctx.bodyBytes !== undefined && ctx.bodyBytes <= LIMITS.eventBytes;
  const raw = small ? undefined : JSON.stringify(msg);
  const bytes = raw === undefined ? 0 : utf8Length(raw);
  if (bytes > LIMITS.eventBytes) {
    return reject(
      index,
      msg,
      "event_too_large",
      `${t}: event is ${bytes} bytes, over the limit of 32 KB per event`,
      raw,
    );
  }
  const unstorable = findUnstorable(msg, 0);
  if (unstorable) return reject(index, msg, "unstorable_value", `${t}: ${unstorable}`, raw);

  const parsed = (messageSchemas[t] as z.ZodType).safeParse(msg);
  if (!parsed.success) {
    return reject(index, msg, "invalid_field", `${t}: ${describeIssue(parsed.error.issues[0]!, msg)}`, raw);
  }
  const userId = idOrNull(msg.userId);
  const anonymousId = idOrNull(msg.anonymousId);
  if (t !== "alias" && userId === null && anonymousId === null) {
    return reject(index, msg, "missing_identity", `${t}: userId or anonymousId is required`, raw);
  }
  if (t === "alias" && (userId === null || idOrNull(msg.previousId) === null)) {
    return reject(index, msg, "missing_identity", "alias: previousId and userId are required", raw);
  }
  if (t === "track" && String(msg.event).trim() === "") {
    return reject(index, msg, "invalid_field", "track: event must not be empty", raw);
  }
  return { ok: true, event: normalise(t, msg, userId, anonymousId, ctx, defaults) };
}

function normalise(
  type: MessageType,
  msg: Record<string, unknown>,
  userId: string | null,
  anonymousId: string | null,
  ctx: ReadContext,
  defaults: BatchDefaults,
): EventRow {
  const receivedAt = ctx.receivedAt.toISOString();
  const messageId = typeof msg.messageId === "string" ? msg.messageId : ctx.newMessageId();
  const sentAt = isoOrUndefined(msg.sentAt) ?? defaults.sentAt;
  const original = isoOrUndefined(msg.originalTimestamp) ?? isoOrUndefined(msg.timestamp);
  const timestamp = correctedTimestamp(ctx.receivedAt, original, sentAt);
  const context = { ...(defaults.context ?? {}), ...(isObject(msg.context) ? msg.context : {}) };
  if (ctx.ip !== undefined && context.ip === undefined) context.ip = ctx.ip;
  const integrations = isObject(msg.integrations) ? msg.integrations : defaults.integrations;

  const message: Record<string, unknown> = { ...msg, type, messageId };
  delete message.writeKey; // a credential, never stored
  delete message.waymark; // reserved for messages Waymark writes itself (journey triggers)
  if (userId !== null) message.userId = userId;
  if (anonymousId !== null) message.anonymousId = anonymousId;
  if (type === "alias") message.previousId = String(msg.previousId);
  if (type === "group") message.groupId = String(msg.groupId);
  message.context = context;
  if (integrations !== undefined) message.integrations = integrations;
  if (original !== undefined) message.originalTimestamp = original;
  if (sentAt !== undefined) message.sentAt = sentAt;
  message.timestamp = timestamp;
  message.receivedAt = receivedAt;
  return {
    messageId,
    type,
    userId,
    anonymousId,
    event: type === "track" ? String(msg.event) : null,
    timestamp,
    receivedAt,
    message,
  };
}

/**
 * Segment's clock-skew correction: the device clock may be wrong, but the time between the call
 * (`originalTimestamp`) and the send (`sentAt`) is measured on that same clock, so
 * `timestamp = receivedAt - (sentAt - originalTimestamp)`.
 */
export function correctedTimestamp(receivedAt: Date, original?: string, sentAt?: string): string {
  if (original === undefined) return receivedAt.toISOString();
  if (sentAt === undefined) return original;
  const skewFree = receivedAt.getTime() - (Date.parse(sentAt) - Date.parse(original));
  // Absurd clocks (sentAt in year 9999) must not push the result out of what can be stored.
  return inStorableRange(skewFree) ? new Date(skewFree).toISOString() : original;
}

const MIN_TIME = Date.parse("0001-01-01T00:00:00Z");
const MAX_TIME = Date.parse("9999-12-31T23:59:59.999Z");
function inStorableRange(ms: number): boolean {
  return ms >= MIN_TIME && ms <= MAX_TIME;
}

/** Reads an ISO 8601 string; a date-time without a zone is taken as UTC. */
function isoOrUndefined(v: unknown): string | undefined {
  if (typeof v !== "string") return undefined;
  const withZone = /T|\s/.test(v) && !/(Z|[+-]\d{2}(:?\d{2})?)$/i.test(v) ? `${v}Z` : v;
  const ms = Date.parse(withZone);
  return inStorableRange(ms) ? new Date(ms).toISOString() : undefined;
}

function idOrNull(v: unknown): string | null {
  if (typeof v === "number") return String(v);
  if (typeof v === "string" && v.trim() !== "") return v;
  return null;
}

/** Values PostgreSQL's jsonb cannot hold, or that would make it recurse too deep. */
function findUnstorable(v: unknown, depth: number): string | null {
  if (typeof v === "string") return storableString(v);
  if (v === null || typeof v !== "object") return null;
  if (depth >= LIMITS.depth) return `nested deeper than ${LIMITS.depth} levels`;
  if (Array.isArray(v)) {
    for (const item of v) {
      const found = findUnstorable(item, depth + 1);
      if (found) return found;
    }
    return null;
  }
  for (const [key, item] of Object.entries(v)) {
    const found = storableString(key) ?? findUnstorable(item, depth + 1);
    if (found) return found;
  }
  return null;
}

function storableString(s: string): string | null {
  if (s.includes("\u0000")) return "text must not contain the NUL character (\\u0000)";
  if (!s.isWellFormed()) return "text must be valid Unicode (it has an unpaired surrogate)";
  return null;
}

/** Turns a zod issue into "<field> <rule>", in the words a developer would use. */
function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const field = issue.path.map(String).join(".") || "message";
  const value = issue.path.reduce<unknown>((v, k) => (isObject(v) ? v[k as string] : undefined), input);
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return `${field} is required`;
      return `${field} must be ${issue.expected === "record" || issue.expected === "object" ? "an object" : `a ${issue.expected}`}`;
    case "invalid_union":
      return value === undefined ? `${field} is required` : `${field} must be a string or a number`;
    case "too_small":
      return issue.origin === "string" ? `${field} must not be empty` : `${field} is too small`;
    case "too_big":
      return `${field} must be at most ${issue.maximum} ${issue.origin === "string" ? "characters" : "items"}`;
    default:
      return `${field} ${issue.message}`;
  }
}

function reject(index: number, msg: unknown, code: RejectCode, reason: string, raw?: string): ReadResult {
  const id = isObject(msg) ? msg.messageId : undefined;
  const messageId = typeof id === "string" && storableString(id) === null ? id.slice(0, 256) : null;
  return {
    ok: false,
    rejection: { index, messageId, code, reason, raw: raw ?? JSON.stringify(msg) ?? String(msg) },
  };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** UTF-8 byte length without Buffer (pure code has no node: imports). */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
