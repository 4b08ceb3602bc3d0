import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { RESOLVE_UNIT } from "../pipeline/index.ts";
import { THEIR_ADDRESSES, theirAddressParams } from "./addresses.ts";
import { footprint, loadPerson, type FootprintTable, type Person } from "./person.ts";
import { suppressionHash } from "./suppression.ts";

/** How many rows an erasure removed, per kind. The erasure log keeps these and nothing else. */
export interface ErasureCounts {
  profiles: number;
  identities: number;
  events: number;
  deadLetters: number;
  identityDecisions: number;
  merges: number;
  stitchSuggestions: number;
  /** Visitor-stitching sightings (hashed IP and user agent) of their profiles. */
  deviceSightings: number;
  queuedEvents: number;
  /** Identifiers added to the suppression list (hashed). */
  suppressedIdentifiers: number;
  /** Journey instances of their profiles (running ones too: they stop where they are). */
  journeyInstances: number;
  /** Those instances' audit rows (their timelines). */
  journeyAuditRows: number;
  /** Those instances' effects in the outbox, delivered or not (a pending one is never carried out). */
  outboxEffects: number;
  /** Their subscription choices (topics, channels). */
  messageSubscriptions: number;
  /** Their email addresses, phone numbers and push tokens added to messaging's suppression list (hashed). */
  suppressedAddresses: number;
  /** Messages to them (the message log). */
  messages: number;
}

export interface Erasure {
  /** The erasure's entry in the erasure log. */
  id: number;
  erasedAt: string;
  counts: ErasureCounts;
}

/** Told after an erasure commits, so this process suppresses the identifiers at once. */
export interface SuppressionCache {
  invalidate(workspaceId: string): void;
}

/**
 * Erases a person (right to erasure), in one transaction: the profile and every profile merged into
 * it, their identities, every event of theirs in the log, the dead letters that mention their
 * identifiers, the identity decisions, merges, stitch suggestions, device sightings, queued
 * pipeline work about them, their journey instances with their audit rows and outbox effects, and
 * their subscription choices. Their identifiers go to the suppression list, hashed, so later events
 * carrying them are dropped at ingest, and their addresses to messaging's, so nothing is sent to
 * them; the erasure is logged with counts only. Message ids stay in `event_message_ids` (they are not
 * personal, and a retried old message must stay a duplicate rather than bring the person back).
 */
export async function erasePerson(
  pool: Pool,
  cache: SuppressionCache,
  workspaceId: string,
  id: string,
  now: Date,
): Promise<Erasure> {
  const erasure = await withTx(pool, async (tx) => {
    await holdResolver(tx, workspaceId);
    const person = await loadPerson(tx, workspaceId, id);
    const remove = async (table: FootprintTable) => {
      const { where, params } = footprint(table, person);
      return (await tx.query(`DELETE FROM ${table} WHERE ${where}`, params)).rowCount ?? 0;
    };
    // Queued work first: an apply batch holding those rows finishes (and frees its profiles) before
    // this transaction takes the profiles, so the two never wait on each other.
    const queuedEvents = await remove("pipeline_queue");
    // Events before the merges and suggestions that name some of them (the `merge` events).
    const events = await remove("events");
    const profiles = await remove("profiles");
    // After the profiles, in the order an apply batch takes them (profiles, then instances).
    const journeys = await eraseJourneyData(tx, person);
    const messaging = await eraseMessagingData(tx, person, now);
    const counts: ErasureCounts = {
      profiles,
      identities: await remove("identities"),
      events,
      deadLetters: await remove("rejected_events"),
      identityDecisions: await remove("identity_decisions"),
      merges: await remove("profile_merges"),
      stitchSuggestions: await remove("stitch_suggestions"),
      deviceSightings: await remove("device_sightings"),
      queuedEvents,
      suppressedIdentifiers: await suppress(tx, person),
      ...journeys,
      ...messaging,
    };
    await skipErasedTail(tx, workspaceId);
    const { rows } = await tx.query<{ id: number }>(
      "INSERT INTO erasures (workspace_id, requested_at, counts) VALUES ($1, $2, $3) RETURNING id",
      [workspaceId, now, JSON.stringify(counts)],
    );
    return { id: rows[0]!.id, erasedAt: now.toISOString(), counts };
  });
  cache.invalidate(workspaceId);
  return erasure;
}

/**
 * Holds the workspace's resolver (the row lock it takes on its offset) for the transaction: a batch
 * in flight finishes first, and none starts until the erasure commits, so the graph read here is the
 * graph erased, and no batch that read the person's events before can write them back after.
 */
async function holdResolver(tx: PoolClient, workspaceId: string): Promise<void> {
  await tx.query(
    "INSERT INTO pipeline_offsets (workspace_id, unit, seq) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
    [workspaceId, RESOLVE_UNIT],
  );
  await tx.query("SELECT 1 FROM pipeline_offsets WHERE workspace_id = $1 AND unit = $2 FOR UPDATE", [
    workspaceId,
    RESOLVE_UNIT,
  ]);
}

/**
 * When the events the resolver had not reached yet were all erased, its offset moves to the end of
 * the log: it reads `seq > offset` and would otherwise wait forever for seqs that are gone (and the
 * pipeline would show a lag that never drains). One statement, so the log and its head are read in
 * one snapshot.
 */
async function skipErasedTail(tx: PoolClient, workspaceId: string): Promise<void> {
  await tx.query(
    `UPDATE pipeline_offsets o SET seq = s.last_seq, updated_at = now()
     FROM event_sequences s
     WHERE o.workspace_id = $1 AND o.unit = $2 AND s.workspace_id = $1 AND s.last_seq > o.seq
       AND NOT EXISTS (SELECT 1 FROM events e WHERE e.workspace_id = $1 AND e.seq > o.seq)`,
    [workspaceId, RESOLVE_UNIT],
  );
}

/**
 * Removes their journey instances (of the survivor and of every profile merged into it: the journey
 * stage moves a merged profile's instances to the survivor only when it applies the merge), those
 * instances' audit rows and their outbox effects. These tables belong to the journeys module; the
 * privacy requests read them with plain SQL since profiles may not import journeys internals.
 *
 * The order avoids waiting in a circle with the journey runtime, which takes an effect before its
 * instance (the outbox records an outcome, then resumes the instance that waited for it) or holds an
 * instance while it writes new effects (the timer loop):
 * 1. their effects as of now (taken before the instances, like the outbox does; a pending one is
 *    gone once this commits, so the dispatcher never claims it);
 * 2. the instances (waiting for a timer round holding one, whose new effects and audit rows are then
 *    committed);
 * 3. the effects and audit rows of the deleted instances, which now include what that round wrote.
 * An effect already claimed and being delivered when the erasure starts cannot be called back.
 */
async function eraseJourneyData(
  tx: PoolClient,
  person: Person,
): Promise<Pick<ErasureCounts, "journeyInstances" | "journeyAuditRows" | "outboxEffects">> {
  const { workspaceId, profileIds } = person;
  const first = await tx.query(
    `DELETE FROM outbox WHERE workspace_id = $1 AND instance_id IN (
       SELECT id FROM journey_instances WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]))`,
    [workspaceId, profileIds],
  );
  const { rows } = await tx.query<{ id: string }>(
    "DELETE FROM journey_instances WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) RETURNING id",
    [workspaceId, profileIds],
  );
  const ids = rows.map((r) => r.id);
  const rest = await tx.query(
    "DELETE FROM outbox WHERE workspace_id = $1 AND instance_id = ANY($2::uuid[])",
    [workspaceId, ids],
  );
  const audit = await tx.query(
    "DELETE FROM journey_audit WHERE workspace_id = $1 AND instance_id = ANY($2::uuid[])",
    [workspaceId, ids],
  );
  return {
    journeyInstances: ids.length,
    journeyAuditRows: audit.rowCount ?? 0,
    outboxEffects: (first.rowCount ?? 0) + (rest.rowCount ?? 0),
  };
}

/**
 * Removes their subscription choices and puts their addresses (`THEIR_ADDRESSES`) on messaging's
 * suppression list with reason `erased`, so no message, transactional or not, reaches them again.
 * Plain SQL over messaging's tables, like the journey data above.
 */
async function eraseMessagingData(
  tx: PoolClient,
  person: Person,
  now: Date,
): Promise<Pick<ErasureCounts, "messageSubscriptions" | "suppressedAddresses" | "messages">> {
  const { workspaceId, profileIds } = person;
  const subscriptions = await tx.query(
    "DELETE FROM subscriptions WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])",
    [workspaceId, profileIds],
  );
  const suppressed = await tx.query(
    `WITH ${THEIR_ADDRESSES}
     INSERT INTO message_suppressions (workspace_id, channel, address_hash, reason, created_at)
     SELECT $1, channel, address_hash, 'erased', $5 FROM their_addresses
     ON CONFLICT (workspace_id, channel, address_hash) DO UPDATE SET reason = 'erased', detail = NULL
       WHERE message_suppressions.reason <> 'erased'`,
    [...theirAddressParams(person), now],
  );
  // Then the messages themselves (addresses, rendered data): their addresses are suppressed above.
  const messages = await tx.query(
    "DELETE FROM messages WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])",
    [workspaceId, profileIds],
  );
  return {
    messageSubscriptions: subscriptions.rowCount ?? 0,
    suppressedAddresses: suppressed.rowCount ?? 0,
    messages: messages.rowCount ?? 0,
  };
}

async function suppress(tx: PoolClient, person: Person): Promise<number> {
  const hashes = person.identifiers.map((id) => suppressionHash(person.workspaceId, id));
  const { rowCount } = await tx.query(
    `INSERT INTO suppressed_identifiers (workspace_id, hash)
     SELECT $1, h FROM unnest($2::text[]) AS h ON CONFLICT DO NOTHING`,
    [person.workspaceId, hashes],
  );
  return rowCount ?? 0;
}
