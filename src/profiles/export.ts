import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { THEIR_ADDRESSES, theirAddressParams } from "./addresses.ts";
import { footprint, loadPerson, type FootprintTable, type Person } from "./person.ts";
import { getProfile, type Profile } from "./read.ts";

type Json = Record<string, unknown>;

/**
 * Everything Waymark stores about a person (right of access). Every list is in the order it was
 * recorded. Field names follow the API; each row keeps every stored column.
 */
export interface PersonExport {
  exportedAt: string;
  workspaceId: string;
  /** The surviving profile, as `GET /api/v1/profiles/:id` shows it. */
  profile: Profile;
  /** The stored profile rows: the survivor and every profile merged into it (`mergedInto` set). */
  profiles: Json[];
  /** Their identifiers, with the profile and event that first brought each. */
  identities: Json[];
  /** Merges into and out of their profiles, with the cause. */
  merges: Json[];
  /** Identity decisions about their profiles or identifiers (dropped, blocked, merge refused). */
  identityDecisions: Json[];
  /** Suggested links between their profiles and others (visitor stitching). */
  stitchSuggestions: Json[];
  /** Where their devices were seen, for visitor stitching (a hash of IP and user agent, not the values). */
  deviceSightings: Json[];
  /** Every event of theirs in the log, oldest first, in Segment's shape plus `seq`. */
  events: Json[];
  /** Refused messages that mention one of their identifiers, with the raw text as received. */
  deadLetters: Json[];
  /** Their journey instances, oldest entry first, each with its timeline and its effects. */
  journeyInstances: JourneyInstanceExport[];
  /**
   * Every message to them (the message log), oldest first, with the address it went to, its status and
   * the data it was rendered with.
   */
  messages: Json[];
  /** Their subscription choices (topic and channel; topic `*` is a channel-wide unsubscribe). */
  subscriptions: Json[];
  /**
   * Entries of messaging's suppression list for their addresses (bounces, complaints, manual ones):
   * the list stores only a hash of each address, so the channel and the reason are what there is.
   */
  messageSuppressions: Json[];
}

/**
 * One journey instance of theirs: the run as `GET /api/v1/instances/:id` shows it, with the context as
 * stored (collection bookkeeping included), the timeline (every audit row, in order) and the effects
 * it queued in the outbox.
 */
export interface JourneyInstanceExport {
  id: string;
  journey: string;
  version: number;
  profileId: string;
  key: string | null;
  status: string;
  currentStep: string | null;
  dueAt: string | null;
  goalUntil: string | null;
  enteredAt: string;
  endedAt: string | null;
  endReason: string | null;
  goalReachedAt: string | null;
  /** What the instance waits for (a wait, a hold, a webhook's response), when it waits. */
  waiting: unknown;
  context: Json;
  timeline: Json[];
  /**
   * Its effects and how their delivery went, without the rendered request: it carries the workspace's
   * headers (credentials of the receiving system), and the person's data in it comes from the profile
   * and context shown here.
   */
  effects: Json[];
}

/** The export of the person a profile id (live or merged away) belongs to, read in one snapshot. */
export async function exportPerson(
  pool: Pool,
  workspaceId: string,
  id: string,
  now: Date,
): Promise<PersonExport> {
  return withTx(pool, async (tx) => {
    await tx.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const person = await loadPerson(tx, workspaceId, id);
    const rows = (table: FootprintTable, columns: string, order: string) =>
      select(tx, person, table, columns, order);
    // One query at a time: they share the transaction's connection.
    const profile = await getProfile(tx, workspaceId, person.profileId);
    const profiles = await rows(
      "profiles",
      `id, merged_into AS "mergedInto", traits, trait_times AS "traitTimes", first_seen AS "firstSeen",
       last_seen AS "lastSeen", last_ip AS "lastIp", location, timezone, device, event_count AS "eventCount",
       counts, created_at AS "createdAt", updated_at AS "updatedAt"`,
      "created_at, id",
    );
    const identities = await rows(
      "identities",
      `type, value, profile_id AS "profileId", first_seen AS "firstSeen", event_seq AS "eventSeq"`,
      "first_seen, type, value",
    );
    const merges = await rows(
      "profile_merges",
      `survivor_id AS "survivorId", merged_id AS "mergedId", cause, event_seq AS "eventSeq", created_at AS "at"`,
      "id",
    );
    const decisions = await rows(
      "identity_decisions",
      `kind, identifier_type AS "identifierType", identifier_value AS "identifierValue",
       profile_id AS "profileId", other_profile_id AS "otherProfileId", reason, event_seq AS "eventSeq",
       created_at AS "at"`,
      "id",
    );
    const stitches = await rows(
      "stitch_suggestions",
      `profile_id AS "profileId", other_profile_id AS "otherProfileId", score, signals, status,
       created_at AS "at", decided_at AS "decidedAt", merge_event_seq AS "mergeEventSeq"`,
      "id",
    );
    const sightings = await rows(
      "device_sightings",
      `signal, profile_id AS "profileId", last_seen AS "lastSeen", event_seq AS "eventSeq"`,
      "last_seen, signal",
    );
    const events = await rows("events", "seq, message", "seq");
    const dead = await rows(
      "rejected_events",
      `received_at AS "receivedAt", route, reason_code AS "reasonCode", reason, message_id AS "messageId", raw`,
      "id",
    );
    const journeyInstances = await selectJourneyInstances(tx, person);
    const messaging = await selectMessagingData(tx, person);
    return {
      exportedAt: now.toISOString(),
      workspaceId,
      profile,
      profiles: profiles.map(isoDates),
      identities: identities.map(isoDates),
      merges: merges.map(isoDates),
      identityDecisions: decisions.map(isoDates),
      stitchSuggestions: stitches.map(isoDates),
      deviceSightings: sightings.map(isoDates),
      events: events.map((e) => ({ ...(e.message as Json), seq: e.seq })),
      deadLetters: dead.map(isoDates),
      journeyInstances,
      ...messaging,
    };
  });
}

/**
 * Their messages, subscription choices and suppressed addresses: the rows `erasePerson` removes or
 * marks. Plain SQL over messaging's tables, like the journey data below.
 */
async function selectMessagingData(
  tx: PoolClient,
  person: Person,
): Promise<Pick<PersonExport, "messages" | "subscriptions" | "messageSuppressions">> {
  const { rows: messages } = await tx.query<Json>(
    `SELECT id, profile_id AS "profileId", channel, template_key AS "template", template_version AS "templateVersion",
       topic, transactional, journey_key AS "journey", instance_id AS "instanceId", step, to_address AS "to",
       status, reason, attempts, subject, provider_message_id AS "providerMessageId", data,
       created_at AS "createdAt", sent_at AS "sentAt", opened_at AS "openedAt", clicked_at AS "clickedAt",
       updated_at AS "updatedAt"
     FROM messages WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY created_at, id`,
    [person.workspaceId, person.profileIds],
  );
  const { rows: subscriptions } = await tx.query<Json>(
    `SELECT profile_id AS "profileId", topic, channel, status, source, updated_at AS "updatedAt"
     FROM subscriptions WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])
     ORDER BY updated_at, topic, channel`,
    [person.workspaceId, person.profileIds],
  );
  const { rows: suppressions } = await tx.query<Json>(
    `WITH ${THEIR_ADDRESSES}
     SELECT s.channel, s.reason, s.detail, s.created_at AS "createdAt"
     FROM message_suppressions s JOIN their_addresses a USING (channel, address_hash)
     WHERE s.workspace_id = $1 ORDER BY s.created_at, s.channel`,
    theirAddressParams(person),
  );
  return {
    messages: messages.map(isoDates),
    subscriptions: subscriptions.map(isoDates),
    messageSuppressions: suppressions.map(isoDates),
  };
}

async function select(
  tx: PoolClient,
  person: Person,
  table: FootprintTable,
  columns: string,
  order: string,
): Promise<Json[]> {
  const { where, params } = footprint(table, person);
  const { rows } = await tx.query<Json>(
    `SELECT ${columns} FROM ${table} WHERE ${where} ORDER BY ${order}`,
    params,
  );
  return rows;
}

/**
 * Their journey instances with timelines and effects: the rows `erasePerson` removes. These tables
 * belong to the journeys module; profiles may not import its internals, so they are read here with
 * plain SQL (instances of the survivor and of every profile merged into it, since the journey stage
 * moves a merged profile's instances only when it applies the merge).
 */
async function selectJourneyInstances(tx: PoolClient, person: Person): Promise<JourneyInstanceExport[]> {
  const { rows: instances } = await tx.query<Json & { id: string; state: Json }>(
    `SELECT id, journey_key AS "journey", version, profile_id AS "profileId", key, status,
       step AS "currentStep", due_at AS "dueAt", goal_until AS "goalUntil", entered_at AS "enteredAt",
       ended_at AS "endedAt", state
     FROM journey_instances WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])
     ORDER BY entered_at, id`,
    [person.workspaceId, person.profileIds],
  );
  const ids = instances.map((i) => i.id);
  const { rows: audit } = await tx.query<Json & { instanceId: string }>(
    `SELECT instance_id AS "instanceId", at, kind, step, reason, data FROM journey_audit
     WHERE workspace_id = $1 AND instance_id = ANY($2::uuid[]) ORDER BY id`,
    [person.workspaceId, ids],
  );
  const { rows: effects } = await tx.query<Json & { instanceId: string }>(
    `SELECT instance_id AS "instanceId", key, kind, step, status, attempts, next_attempt_at AS "nextAttemptAt",
       last_error AS "lastError", created_at AS "createdAt", updated_at AS "updatedAt"
     FROM outbox WHERE workspace_id = $1 AND instance_id = ANY($2::uuid[]) ORDER BY id`,
    [person.workspaceId, ids],
  );
  const timelines = byInstance(audit);
  const effectsOf = byInstance(effects);
  return instances.map(({ state, ...i }) => ({
    ...(isoDates(i) as Omit<JourneyInstanceExport, FromState | "timeline" | "effects">),
    endReason: (state.endReason as string | null | undefined) ?? null,
    goalReachedAt: (state.goalReachedAt as string | null | undefined) ?? null,
    waiting: state.waiting ?? null,
    context: (state.context as Json | undefined) ?? {},
    timeline: timelines.get(i.id) ?? [],
    effects: effectsOf.get(i.id) ?? [],
  }));
}

/** The fields of an exported instance that come from its `state` column. */
type FromState = "endReason" | "goalReachedAt" | "waiting" | "context";

/** Rows grouped by their instance (order kept), without the instance id, dates as ISO 8601. */
function byInstance(rows: Array<Json & { instanceId: string }>): Map<string, Json[]> {
  const groups = new Map<string, Json[]>();
  for (const { instanceId, ...row } of rows) {
    const group = groups.get(instanceId) ?? [];
    if (group.length === 0) groups.set(instanceId, group);
    group.push(isoDates(row));
  }
  return groups;
}

/** Dates as ISO 8601, raw bytes as text (invalid UTF-8 replaced), as the rest of the API shows them. */
function isoDates(row: Json): Json {
  const show = (v: unknown) =>
    v instanceof Date ? v.toISOString() : Buffer.isBuffer(v) ? v.toString("utf8") : v;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, show(v)]));
}
