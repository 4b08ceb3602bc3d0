import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { RESOLVE_UNIT } from "../pipeline/index.ts";
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
 * identifiers, the identity decisions, merges, stitch suggestions, device sightings and queued
 * pipeline work about them.
 * Their identifiers go to the suppression list, hashed, so later events carrying them are dropped at
 * ingest; the erasure is logged with counts only. Message ids stay in `event_message_ids` (they are not
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
    const counts: ErasureCounts = {
      profiles: await remove("profiles"),
      identities: await remove("identities"),
      events,
      deadLetters: await remove("rejected_events"),
      identityDecisions: await remove("identity_decisions"),
      merges: await remove("profile_merges"),
      stitchSuggestions: await remove("stitch_suggestions"),
      deviceSightings: await remove("device_sightings"),
      queuedEvents,
      suppressedIdentifiers: await suppress(tx, person),
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

async function suppress(tx: PoolClient, person: Person): Promise<number> {
  const hashes = person.identifiers.map((id) => suppressionHash(person.workspaceId, id));
  const { rowCount } = await tx.query(
    `INSERT INTO suppressed_identifiers (workspace_id, hash)
     SELECT $1, h FROM unnest($2::text[]) AS h ON CONFLICT DO NOTHING`,
    [person.workspaceId, hashes],
  );
  return rowCount ?? 0;
}
