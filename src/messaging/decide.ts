import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { addressHash, getDeliveryPolicy } from "./consent.ts";
import {
  decideDelivery,
  priorityOf,
  recentSince,
  zoneOrUtc,
  type DeliveryDecision,
  type DeliveryPolicy,
  type RecentSend,
  type SubscriptionChoice,
  type TopicDefinition,
} from "./core/policy.ts";

type Db = Pool | PoolClient;

/** The parts of `decideDelivery`'s input that come from the database. */
export interface ConsentInputs {
  policy: DeliveryPolicy;
  /** The person's time zone (profiles.timezone) when valid, else UTC. */
  timeZone: string;
  topicDefinition: TopicDefinition | null;
  /** The person's choices about this topic and about the whole channel (topic `*`). */
  subscriptions: SubscriptionChoice[];
  suppressed: { reason: string } | null;
  /** Non-transactional messages sent or delivered to the person within the policy's longest cap window. */
  recent: RecentSend[];
}

/** What one message's consent depends on. */
export interface ConsentQuestion {
  /** null: an explicit recipient without a profile. */
  profileId: string | null;
  channel: string;
  address: string | null;
  topic: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Loads what `decideDelivery` needs to know about a message to `profileId` at `address` on `channel`
 * about `topic`. A merged-away profile id stands for its survivor; the messages of every profile
 * merged into it count against the caps.
 */
export async function consentInputs(
  db: Db,
  workspaceId: string,
  profileId: string | null,
  channel: string,
  address: string | null,
  topic: string | null,
  now: Date,
): Promise<ConsentInputs> {
  const [inputs] = await consentInputsFor(db, workspaceId, [{ profileId, channel, address, topic }], now);
  return inputs!;
}

/**
 * `consentInputs` for many messages of one workspace, with one query per kind of input (policy,
 * people, topics, suppressions, subscriptions, recent sends) rather than six per message: the
 * dispatcher decides a claimed batch at once. One query after another: `db` may be a transaction's
 * client, which runs one query at a time.
 */
export async function consentInputsFor(
  db: Db,
  workspaceId: string,
  questions: ConsentQuestion[],
  now: Date,
): Promise<ConsentInputs[]> {
  const policy = await getDeliveryPolicy(db, workspaceId);
  const profileIds = unique(
    questions.map((q) => q.profileId).filter((id): id is string => !!id && UUID.test(id)),
  );
  const people = new Map<string, { id: string; profileIds: string[]; timezone: string | null }>();
  if (profileIds.length > 0) {
    const { rows } = await db.query<{ input: string; id: string; timezone: string | null; ids: string[] }>(
      `SELECT p.id AS input, s.id, s.timezone,
         array(SELECT m.id FROM profiles m WHERE m.workspace_id = $1 AND (m.id = s.id OR m.merged_into = s.id)) AS ids
       FROM profiles p JOIN profiles s ON s.workspace_id = p.workspace_id AND s.id = coalesce(p.merged_into, p.id)
       WHERE p.workspace_id = $1 AND p.id = ANY($2::uuid[])`,
      [workspaceId, profileIds],
    );
    for (const r of rows) people.set(r.input, { id: r.id, profileIds: r.ids, timezone: r.timezone });
  }

  const topicKeys = unique(questions.map((q) => q.topic).filter((t): t is string => !!t));
  const topics = new Map<string, TopicDefinition>();
  if (topicKeys.length > 0) {
    const { rows } = await db.query<{ key: string; channels: string[]; default_mode: "opt_in" | "opt_out" }>(
      "SELECT key, channels, default_mode FROM topics WHERE workspace_id = $1 AND key = ANY($2::text[])",
      [workspaceId, topicKeys],
    );
    for (const r of rows)
      topics.set(r.key, { key: r.key, channels: r.channels, defaultMode: r.default_mode });
  }

  const addressed = questions.filter((q) => q.address);
  const suppressions = new Map<string, string>();
  if (addressed.length > 0) {
    const { rows } = await db.query<{ channel: string; address_hash: string; reason: string }>(
      // Array conditions on the primary key's columns: an index scan, where a join with the pairs
      // could hash the workspace's whole list. Pairs not asked for are never looked up below.
      `SELECT channel, address_hash, reason FROM message_suppressions
       WHERE workspace_id = $1 AND channel = ANY($2::text[]) AND address_hash = ANY($3::text[])`,
      [
        workspaceId,
        [...new Set(addressed.map((q) => q.channel))],
        addressed.map((q) => addressHash(q.channel, q.address!)),
      ],
    );
    for (const r of rows) suppressions.set(`${r.channel}:${r.address_hash}`, r.reason);
  }

  const survivors = unique([...people.values()].map((p) => p.id));
  const choices = new Map<string, Array<SubscriptionChoice & { profile_id: string }>>();
  const recentOf = new Map<string, RecentSend[]>();
  if (survivors.length > 0) {
    const { rows } = await db.query<SubscriptionChoice & { profile_id: string }>(
      "SELECT profile_id, topic, channel, status FROM subscriptions WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])",
      [workspaceId, survivors],
    );
    for (const r of rows) push(choices, r.profile_id, r);
    // Each person's window starts at their own local midnight (caps count in their time zone):
    // read from the earliest and keep each person's part.
    const since = new Map(
      [...people.values()].map((p) => [p.id, recentSince(policy, now, zoneOrUtc(p.timezone))] as const),
    );
    const starts = [...since.values()].filter((d): d is Date => !!d);
    if (starts.length > 0) {
      const owner = new Map<string, string>();
      for (const p of people.values()) for (const id of p.profileIds) owner.set(id, p.id);
      const { rows: sent } = await db.query<{
        profile_id: string;
        channel: string;
        sent_at: Date;
        journey_key: string | null;
      }>(
        `SELECT profile_id, channel, sent_at, journey_key FROM messages
         WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])
           AND (status IN ('sent', 'delivered') OR (status = 'queued' AND sent_at IS NOT NULL))
           AND NOT transactional AND sent_at >= $3 AND sent_at <= $4`,
        [workspaceId, [...owner.keys()], new Date(Math.min(...starts.map((d) => d.getTime()))), now],
      );
      for (const r of sent) {
        const person = owner.get(r.profile_id)!;
        const from = since.get(person);
        if (!from || r.sent_at < from) continue;
        push(recentOf, person, {
          channel: r.channel,
          sentAt: r.sent_at,
          journey: r.journey_key,
          priority: priorityOf(policy, r.journey_key),
        });
      }
    }
  }

  return questions.map((q) => {
    const person = q.profileId ? people.get(q.profileId) : undefined;
    const topicDefinition = q.topic ? (topics.get(q.topic) ?? null) : null;
    const reason = q.address
      ? suppressions.get(`${q.channel}:${addressHash(q.channel, q.address)}`)
      : undefined;
    const suppressed = reason ? { reason } : null;
    const timeZone = zoneOrUtc(person?.timezone);
    if (!person) return { policy, timeZone, topicDefinition, subscriptions: [], suppressed, recent: [] };
    const wanted = new Set(q.topic ? ["*", q.topic] : ["*"]);
    const subscriptions = (choices.get(person.id) ?? [])
      .filter((c) => wanted.has(c.topic) && (c.channel === q.channel || c.channel === "*"))
      .map(({ topic, channel, status }) => ({ topic, channel, status }));
    return {
      policy,
      timeZone,
      topicDefinition,
      subscriptions,
      suppressed,
      recent: recentOf.get(person.id) ?? [],
    };
  });
}

/** A claimed message with the address it goes to, ready to be decided. */
export interface DecisionRequest {
  id: string;
  workspaceId: string;
  profileId: string | null;
  channel: string;
  to: string;
  topic: string | null;
  transactional: boolean;
  journey: string | null;
}

/**
 * Decides claimed messages of one workspace, in the order given. Decided under a lock per person,
 * and a message decided "send" is marked as in flight (sent_at set while still queued) before the
 * locks go: two messages to one person decided at the same moment both count against the caps, so
 * concurrency never lets one through a full cap. The locks are taken in one order (by key), so two
 * workers deciding overlapping batches wait for each other rather than deadlock. A transactional
 * message is stopped by suppression alone: no caps, so no lock and no counting.
 */
export async function decideMessages(
  pool: Pool,
  workspaceId: string,
  requests: DecisionRequest[],
  now: Date,
): Promise<DeliveryDecision[]> {
  const decisions = new Array<DeliveryDecision>(requests.length);
  const transactional = requests.flatMap((r, i) => (r.transactional ? [i] : []));
  if (transactional.length > 0) {
    const inputs = await consentInputsFor(
      pool,
      workspaceId,
      transactional.map((i) => question(requests[i]!)),
      now,
    );
    transactional.forEach((i, k) => {
      const suppressed = inputs[k]!.suppressed;
      decisions[i] = suppressed
        ? { action: "skip", reason: `suppressed:${suppressed.reason}` }
        : { action: "send" };
    });
  }
  const others = requests.flatMap((r, i) => (r.transactional ? [] : [i]));
  if (others.length === 0) return decisions;

  await withTx(pool, async (tx) => {
    const keys = unique(others.map((i) => requests[i]!.profileId).filter((p): p is string => !!p));
    if (keys.length > 0) {
      await tx.query(
        `SELECT pg_advisory_xact_lock(k)
         FROM (SELECT DISTINCT hashtextextended('messages:' || p, 0) AS k FROM unnest($1::text[]) AS p ORDER BY k) AS l`,
        [keys],
      );
    }
    const inputs = await consentInputsFor(
      tx,
      workspaceId,
      others.map((i) => question(requests[i]!)),
      now,
    );
    // Journey priority: messages of higher-priority journeys due for the person on this channel (or
    // claimed and not yet decided: no reason yet) take the cap's last slots first.
    const rivals = keys.length
      ? (
          await tx.query<{ id: string; profile_id: string; channel: string; journey_key: string | null }>(
            `SELECT id, profile_id, channel, journey_key FROM messages
             WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) AND status = 'queued' AND sent_at IS NULL
               AND NOT transactional AND (next_attempt_at <= $3 OR reason IS NULL)`,
            [workspaceId, keys, now],
          )
        ).rows
      : [];
    const decided = new Set<string>();
    /** Sends decided in this batch, per person: the later messages of the batch count them. */
    const sentNow = new Map<string, RecentSend[]>();
    const sends: string[] = [];
    others.forEach((i, k) => {
      const r = requests[i]!;
      const consent = inputs[k]!;
      const personKey = r.profileId ?? `address:${r.channel}:${r.to}`;
      const recent = [...consent.recent, ...(sentNow.get(personKey) ?? [])];
      const input = {
        ...consent,
        recent,
        channel: r.channel,
        topic: r.topic,
        transactional: false,
        journey: r.journey,
        priority: priorityOf(consent.policy, r.journey),
        now,
      };
      let decision = decideDelivery(input);
      if (decision.action === "send" && r.profileId) {
        const higher = rivals
          .filter(
            (x) =>
              x.profile_id === r.profileId && x.channel === r.channel && x.id !== r.id && !decided.has(x.id),
          )
          .map((x) => ({ journey: x.journey_key, priority: priorityOf(consent.policy, x.journey_key) }))
          .filter((x) => x.priority > input.priority);
        if (higher.length > 0) {
          // Decided as if they had been sent: if that fills the cap, this one yields (whichever of
          // the two is decided first, the higher one wins).
          const yielded = decideDelivery({
            ...input,
            recent: [...recent, ...higher.map((h) => ({ ...h, channel: r.channel, sentAt: now }))],
          });
          if (yielded.action === "skip" && yielded.reason.startsWith("capped:")) {
            decision = {
              action: "skip",
              reason: `${yielded.reason} (a higher-priority journey's message goes first)`,
            };
          }
        }
      }
      decided.add(r.id);
      if (decision.action === "send") {
        sends.push(r.id);
        push(sentNow, personKey, {
          channel: r.channel,
          sentAt: now,
          journey: r.journey,
          priority: input.priority,
        });
      }
      decisions[i] = decision;
    });
    if (sends.length > 0) {
      await tx.query("UPDATE messages SET sent_at = $2 WHERE id = ANY($1::uuid[]) AND status = 'queued'", [
        sends,
        now,
      ]);
    }
  });
  return decisions;
}

function question(r: DecisionRequest): ConsentQuestion {
  return { profileId: r.profileId, channel: r.channel, address: r.to, topic: r.topic };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
