import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
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
    };
  });
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

/** Dates as ISO 8601, raw bytes as text (invalid UTF-8 replaced), as the rest of the API shows them. */
function isoDates(row: Json): Json {
  const show = (v: unknown) =>
    v instanceof Date ? v.toISOString() : Buffer.isBuffer(v) ? v.toString("utf8") : v;
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, show(v)]));
}
