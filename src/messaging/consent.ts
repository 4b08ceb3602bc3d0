import { createHash } from "node:crypto";
import type { Pool, PoolClient } from "pg";
import { z } from "zod";
import { ConflictError, NotFoundError, ValidationError } from "../errors/index.ts";
import {
  DEFAULT_POLICY,
  deliveryPolicySchema,
  type DeliveryPolicy,
  type SubscriptionChoice,
} from "./core/policy.ts";

/**
 * Consent: topics, the people's subscription choices, the suppression list, the delivery policy,
 * read and written here; what `decideDelivery` needs about a batch of messages is loaded in decide.ts.
 */

type Db = Pool | PoolClient;

/** The channels topics and subscriptions are about: the ones that reach people. */
export const CONSENT_CHANNELS = ["email", "sms", "push"] as const;
export type ConsentChannel = (typeof CONSENT_CHANNELS)[number];

export const topicKeySchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$/, {
  message: "must be 1-100 letters, digits, _ . : or -, starting with a letter or digit",
});

export const topicInputSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).describe("what people see on the preference page"),
  channels: z.array(z.enum(CONSENT_CHANNELS)).min(1).describe("the channels the topic is offered on"),
  default: z
    .enum(["opt_in", "opt_out"])
    .describe("opt_in: only people who subscribed get it; opt_out: everyone until they unsubscribe"),
});
export type TopicInput = z.output<typeof topicInputSchema>;

export interface Topic extends TopicInput {
  key: string;
  updatedAt: string;
}

export const SUBSCRIPTION_STATUSES = ["subscribed", "unsubscribed"] as const;

export const subscriptionInputSchema = z.strictObject({
  topic: z.union([z.literal("*"), topicKeySchema]).describe("a topic key, or * for the whole channel"),
  channel: z.enum([...CONSENT_CHANNELS, "*"]).describe("a channel, or * for every channel of the topic"),
  status: z.enum(SUBSCRIPTION_STATUSES),
});
export type SubscriptionInput = z.output<typeof subscriptionInputSchema>;

export interface Subscription extends SubscriptionInput {
  /** Who made the choice: api, identify, one_click, preference_page. */
  source: string;
  updatedAt: string;
}

export const SUPPRESSION_REASONS = ["hard_bounce", "complaint", "manual", "erased"] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export interface Suppression {
  channel: string;
  /** sha256 (hex) of the normalised address; the address itself is never stored. */
  addressHash: string;
  reason: string;
  detail: string | null;
  createdAt: string;
}

// ---------------------------------------------------------------------------------------------- topics

interface TopicRow {
  key: string;
  name: string;
  channels: string[];
  default_mode: "opt_in" | "opt_out";
  updated_at: Date;
}

function toTopic(r: TopicRow): Topic {
  return {
    key: r.key,
    name: r.name,
    channels: r.channels as ConsentChannel[],
    default: r.default_mode,
    updatedAt: r.updated_at.toISOString(),
  };
}

/** Creates or replaces a topic. People's choices about it stay. */
export async function putTopic(
  db: Db,
  workspaceId: string,
  key: string,
  input: TopicInput,
  now: Date,
): Promise<Topic> {
  const { rows } = await db.query<TopicRow>(
    `INSERT INTO topics (workspace_id, key, name, channels, default_mode, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (workspace_id, key) DO UPDATE SET name = excluded.name, channels = excluded.channels,
       default_mode = excluded.default_mode, updated_at = excluded.updated_at
     RETURNING *`,
    [workspaceId, key, input.name, [...new Set(input.channels)], input.default, now],
  );
  return toTopic(rows[0]!);
}

export async function listTopics(db: Db, workspaceId: string): Promise<Topic[]> {
  const { rows } = await db.query<TopicRow>("SELECT * FROM topics WHERE workspace_id = $1 ORDER BY key", [
    workspaceId,
  ]);
  return rows.map(toTopic);
}

export async function getTopic(db: Db, workspaceId: string, key: string): Promise<Topic> {
  const { rows } = await db.query<TopicRow>("SELECT * FROM topics WHERE workspace_id = $1 AND key = $2", [
    workspaceId,
    key,
  ]);
  if (!rows[0]) throw new NotFoundError(`no topic ${key}`);
  return toTopic(rows[0]);
}

/**
 * Deletes a topic. People's choices about it are kept: an unsubscribe must still hold if a topic of
 * that key comes back.
 */
export async function deleteTopic(db: Db, workspaceId: string, key: string): Promise<void> {
  const { rowCount } = await db.query("DELETE FROM topics WHERE workspace_id = $1 AND key = $2", [
    workspaceId,
    key,
  ]);
  if (!rowCount) throw new NotFoundError(`no topic ${key}`);
}

// ------------------------------------------------------------------------------------- subscriptions

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The live profile an id stands for (a merged-away id: its survivor), with its time zone; undefined when none. */
export async function findPerson(
  db: Db,
  workspaceId: string,
  profileId: string,
): Promise<{ id: string; profileIds: string[]; timezone: string | null } | undefined> {
  if (!UUID.test(profileId)) return undefined;
  const { rows } = await db.query<{ id: string; timezone: string | null; ids: string[] }>(
    `SELECT s.id, s.timezone,
       array(SELECT m.id FROM profiles m WHERE m.workspace_id = $1 AND (m.id = s.id OR m.merged_into = s.id)) AS ids
     FROM profiles p JOIN profiles s ON s.workspace_id = p.workspace_id AND s.id = coalesce(p.merged_into, p.id)
     WHERE p.workspace_id = $1 AND p.id = $2`,
    [workspaceId, profileId],
  );
  const r = rows[0];
  return r && { id: r.id, profileIds: r.ids, timezone: r.timezone };
}

async function livePerson(db: Db, workspaceId: string, profileId: string): Promise<string> {
  const person = await findPerson(db, workspaceId, profileId);
  if (!person) throw new NotFoundError(`no profile ${profileId}`);
  return person.id;
}

/** A person's explicit choices (a merged-away id answers for its survivor). */
export async function getSubscriptions(
  db: Db,
  workspaceId: string,
  profileId: string,
): Promise<Subscription[]> {
  const id = await livePerson(db, workspaceId, profileId);
  const { rows } = await db.query<{
    topic: string;
    channel: ConsentChannel | "*";
    status: "subscribed" | "unsubscribed";
    source: string;
    updated_at: Date;
  }>(
    `SELECT topic, channel, status, source, updated_at FROM subscriptions
     WHERE workspace_id = $1 AND profile_id = $2 ORDER BY topic, channel`,
    [workspaceId, id],
  );
  return rows.map((r) => ({
    topic: r.topic,
    channel: r.channel,
    status: r.status,
    source: r.source,
    updatedAt: r.updated_at.toISOString(),
  }));
}

/**
 * Records choices of a person (`source` api through the admin API). Choices not listed stay as they
 * are. Each topic must exist and offer the channel (channel `*` is always allowed).
 */
export async function setSubscriptions(
  db: Db,
  workspaceId: string,
  profileId: string,
  choices: SubscriptionInput[],
  source: string,
  now: Date,
): Promise<Subscription[]> {
  const id = await livePerson(db, workspaceId, profileId);
  const topics = new Map((await listTopics(db, workspaceId)).map((t) => [t.key, t]));
  const problems: Array<{ path: string; message: string }> = [];
  choices.forEach((c, i) => {
    if (c.topic === "*") return;
    const topic = topics.get(c.topic);
    if (!topic) {
      problems.push({
        path: `body.${i}.topic`,
        message: `no topic ${c.topic}; create it with PUT /api/v1/topics/${c.topic}`,
      });
    } else if (c.channel !== "*" && !topic.channels.includes(c.channel)) {
      problems.push({
        path: `body.${i}.channel`,
        message: `topic ${c.topic} is offered on ${topic.channels.join(", ")}, not ${c.channel}`,
      });
    }
  });
  if (problems.length > 0) {
    throw new ValidationError(problems.map((p) => `${p.path}: ${p.message}`).join("; "), problems);
  }
  await writeChoices(db, workspaceId, id, choices, source, now);
  return getSubscriptions(db, workspaceId, id);
}

/**
 * Writes choices a person or an admin makes now (API, one-click, preference page) for one live
 * profile: they replace what is stored, whatever made it. (Identify calls go through the pipeline
 * stage, where an older call never overwrites a newer choice.) Returns the choices with the status
 * each had before (null: none), in input order.
 */
export async function writeChoices(
  db: Db,
  workspaceId: string,
  profileId: string,
  choices: SubscriptionChoice[],
  source: string,
  at: Date,
): Promise<Array<SubscriptionChoice & { before: string | null }>> {
  // One row per (topic, channel), the last one listed winning: ON CONFLICT may touch a row once.
  const unique = new Map(choices.map((c) => [`${c.topic}\u0000${c.channel}`, c]));
  const list = [...unique.values()];
  if (list.length === 0) return [];
  const { rows } = await db.query<SubscriptionChoice & { before: string | null }>(
    `WITH input AS (SELECT * FROM unnest($3::text[], $4::text[], $5::text[]) AS x(topic, channel, status)),
     old AS (SELECT s.topic, s.channel, s.status FROM subscriptions s JOIN input i USING (topic, channel)
             WHERE s.workspace_id = $1 AND s.profile_id = $2),
     up AS (INSERT INTO subscriptions (workspace_id, profile_id, topic, channel, status, source, updated_at)
            SELECT $1, $2, topic, channel, status, $6, $7 FROM input
            ON CONFLICT (workspace_id, profile_id, topic, channel) DO UPDATE
              SET status = excluded.status, source = excluded.source, updated_at = excluded.updated_at
            RETURNING topic, channel, status)
     SELECT up.topic, up.channel, up.status, old.status AS before FROM up LEFT JOIN old USING (topic, channel)`,
    [
      workspaceId,
      profileId,
      list.map((c) => c.topic),
      list.map((c) => c.channel),
      list.map((c) => c.status),
      source,
      at,
    ],
  );
  const order = new Map(list.map((c, i) => [`${c.topic}\u0000${c.channel}`, i]));
  return rows.sort(
    (a, b) => order.get(`${a.topic}\u0000${a.channel}`)! - order.get(`${b.topic}\u0000${b.channel}`)!,
  );
}

// ---------------------------------------------------------------------------------------- suppression

/**
 * An address as the suppression list compares it: email trimmed and lower-cased; a phone number as
 * its digits, with the leading + kept (`+49 (170) 123-4567` -> `+491701234567`; a national number
 * stays national, so store and send E.164); anything else (push token, URL) trimmed.
 */
export function normaliseAddress(channel: string, address: string): string {
  const a = address.trim();
  if (channel === "email") return a.toLowerCase();
  if (channel === "sms") return (a.startsWith("+") ? "+" : "") + a.replace(/[^0-9]/g, "");
  return a;
}

/** sha256 (hex) of the normalised address: what the suppression list stores. */
export function addressHash(channel: string, address: string): string {
  return createHash("sha256").update(normaliseAddress(channel, address)).digest("hex");
}

/**
 * Puts an address on the suppression list: nothing is sent to it on `channel` again, transactional
 * messages included. An address already listed keeps its first reason, except that `erased` replaces
 * any other (an erased person's entry must not be removable as a manual one).
 */
export async function suppress(
  db: Db,
  workspaceId: string,
  channel: string,
  address: string,
  reason: SuppressionReason,
  detail: string | null,
  now?: Date,
): Promise<{ addressHash: string; created: boolean }> {
  const hash = addressHash(channel, address);
  const { rows } = await db.query<{ created: boolean }>(
    `INSERT INTO message_suppressions (workspace_id, channel, address_hash, reason, detail, created_at)
     VALUES ($1, $2, $3, $4, $5, coalesce($6, now()))
     ON CONFLICT (workspace_id, channel, address_hash) DO UPDATE SET reason = excluded.reason, detail = excluded.detail
       WHERE excluded.reason = 'erased' AND message_suppressions.reason <> 'erased'
     RETURNING (xmax = 0) AS created`,
    [workspaceId, channel, hash, reason, detail, now ?? null],
  );
  return { addressHash: hash, created: rows[0]?.created ?? false };
}

/** The address's suppression entry on `channel`, or null. */
export async function isSuppressed(
  db: Db,
  workspaceId: string,
  channel: string,
  address: string,
): Promise<{ reason: string } | null> {
  const { rows } = await db.query<{ reason: string }>(
    "SELECT reason FROM message_suppressions WHERE workspace_id = $1 AND channel = $2 AND address_hash = $3",
    [workspaceId, channel, addressHash(channel, address)],
  );
  return rows[0] ?? null;
}

/** The suppression list, newest first; `address` looks one address up (hashed the same way). */
export async function listSuppressions(
  db: Db,
  workspaceId: string,
  filter: { channel?: string | undefined; address?: string | undefined; reason?: string | undefined },
  page: { limit: number; cursor?: string | undefined },
): Promise<{ items: Suppression[]; nextCursor: string | null }> {
  const params: unknown[] = [workspaceId];
  const where = ["workspace_id = $1"];
  const add = (sql: string, ...values: unknown[]) => {
    where.push(sql.replace(/\?/g, () => `$${params.push(values.shift())}`));
  };
  if (filter.channel) add("channel = ?", filter.channel);
  if (filter.address) {
    if (!filter.channel)
      throw new ValidationError("querystring.channel: required with address (the hash depends on it)");
    add("address_hash = ?", addressHash(filter.channel, filter.address));
  }
  if (filter.reason) add("reason = ?", filter.reason);
  const after = decodeSuppressionCursor(page.cursor);
  if (after)
    add("(created_at, channel, address_hash) < (?::timestamptz, ?, ?)", after[0], after[1], after[2]);
  params.push(page.limit + 1);
  const { rows } = await db.query<{
    channel: string;
    address_hash: string;
    reason: string;
    detail: string | null;
    created_at: Date;
    created_text: string;
  }>(
    `SELECT channel, address_hash, reason, detail, created_at, created_at::text AS created_text
     FROM message_suppressions WHERE ${where.join(" AND ")}
     ORDER BY created_at DESC, channel DESC, address_hash DESC LIMIT $${params.length}`,
    params,
  );
  const more = rows.length > page.limit;
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return {
    items: items.map((r) => ({
      channel: r.channel,
      addressHash: r.address_hash,
      reason: r.reason,
      detail: r.detail,
      createdAt: r.created_at.toISOString(),
    })),
    // The database's own text of the time: microseconds a JavaScript Date would drop.
    nextCursor:
      more && last
        ? Buffer.from(JSON.stringify([last.created_text, last.channel, last.address_hash])).toString(
            "base64url",
          )
        : null,
  };
}

function decodeSuppressionCursor(cursor: string | undefined): [string, string, string] | null {
  if (!cursor) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString());
    if (Array.isArray(value) && value.length === 3 && value.every((v) => typeof v === "string")) {
      return value as [string, string, string];
    }
  } catch {
    // refused below
  }
  throw new ValidationError("cursor is not one this API returned");
}

/**
 * Takes an address (or a hash from the list) off the suppression list. An erased person's entry
 * cannot be removed: that would let messages reach someone who asked to be forgotten.
 */
export async function unsuppress(
  db: Db,
  workspaceId: string,
  channel: string,
  which: { address?: string | undefined; hash?: string | undefined },
): Promise<void> {
  const hash = which.address !== undefined ? addressHash(channel, which.address) : which.hash;
  if (!hash) throw new ValidationError("querystring: address or hash is required");
  const { rows } = await db.query<{ reason: string }>(
    "SELECT reason FROM message_suppressions WHERE workspace_id = $1 AND channel = $2 AND address_hash = $3",
    [workspaceId, channel, hash],
  );
  if (!rows[0]) throw new NotFoundError(`that address is not suppressed on ${channel}`);
  if (rows[0].reason === "erased") {
    throw new ConflictError("the address belongs to an erased person and stays suppressed");
  }
  await db.query(
    "DELETE FROM message_suppressions WHERE workspace_id = $1 AND channel = $2 AND address_hash = $3",
    [workspaceId, channel, hash],
  );
}

// --------------------------------------------------------------------------------------------- policy

export async function getDeliveryPolicy(db: Db, workspaceId: string): Promise<DeliveryPolicy> {
  const { rows } = await db.query<{ policy: unknown }>(
    "SELECT policy FROM delivery_policies WHERE workspace_id = $1",
    [workspaceId],
  );
  return rows[0] ? deliveryPolicySchema.parse(rows[0].policy) : DEFAULT_POLICY;
}

/** Replaces the workspace's delivery policy (already validated by `deliveryPolicySchema`). */
export async function putDeliveryPolicy(
  db: Db,
  workspaceId: string,
  policy: DeliveryPolicy,
  now: Date,
): Promise<DeliveryPolicy> {
  const parsed = deliveryPolicySchema.parse(policy);
  await db.query(
    `INSERT INTO delivery_policies (workspace_id, policy, updated_at) VALUES ($1, $2, $3)
     ON CONFLICT (workspace_id) DO UPDATE SET policy = excluded.policy, updated_at = excluded.updated_at`,
    [workspaceId, JSON.stringify(parsed), now],
  );
  return parsed;
}
