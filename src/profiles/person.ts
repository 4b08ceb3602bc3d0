import type { PoolClient } from "pg";
import type { Identifier } from "../identity/index.ts";
import { resolveProfileId } from "./read.ts";

/**
 * A person as the privacy requests see them: the surviving profile, every profile merged into it,
 * and the identifiers the graph gives them.
 */
export interface Person {
  workspaceId: string;
  /** The surviving profile. */
  profileId: string;
  /** The surviving profile and every profile merged into it. */
  profileIds: string[];
  identifiers: Identifier[];
}

/** Loads the person a profile id (live or merged away) belongs to; NotFoundError when none. */
export async function loadPerson(tx: PoolClient, workspaceId: string, id: string): Promise<Person> {
  const profileId = await resolveProfileId(tx, workspaceId, id);
  const { rows: profiles } = await tx.query<{ id: string }>(
    "SELECT id FROM profiles WHERE workspace_id = $1 AND (id = $2 OR merged_into = $2) ORDER BY id",
    [workspaceId, profileId],
  );
  const profileIds = profiles.map((p) => p.id);
  const { rows: identifiers } = await tx.query<Identifier>(
    "SELECT type, value FROM identities WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) ORDER BY type, value",
    [workspaceId, profileIds],
  );
  return { workspaceId, profileId, profileIds, identifiers };
}

/**
 * Their events: every event carrying one of their user ids or anonymous ids (every tracked event has
 * one; the events of the profiles merged in are included, since their identifiers moved to the
 * survivor), and the internal `merge` events that merged their profiles or were asked for them.
 */
const EVENTS_OF_PERSON = `workspace_id = :ws AND (user_id = ANY(:userIds) OR anonymous_id = ANY(:anonymousIds)
    OR seq IN (SELECT event_seq FROM profile_merges WHERE workspace_id = :ws
               AND (survivor_id = ANY(:profiles) OR merged_id = ANY(:profiles)))
    OR seq IN (SELECT merge_event_seq FROM stitch_suggestions WHERE workspace_id = :ws
               AND merge_event_seq IS NOT NULL AND (profile_id = ANY(:profiles) OR other_profile_id = ANY(:profiles))))`;

/**
 * Where each table holds the person: the one definition export and erasure both read, so what an
 * export shows is what an erasure removes. `:name` placeholders are bound by `footprint`.
 *
 * - dead letters: every refused message whose raw bytes contain one of their identifier values,
 *   compared case-insensitively over ASCII (a byte search: the raw text need not be JSON).
 * - identity decisions: about their profiles, or about one of their identifiers on another profile.
 * - pipeline_queue: their profiles' queued events, and any queued event of theirs.
 */
const FOOTPRINT = {
  profiles: "workspace_id = :ws AND id = ANY(:profiles)",
  identities: "workspace_id = :ws AND profile_id = ANY(:profiles)",
  events: EVENTS_OF_PERSON,
  profile_merges: "workspace_id = :ws AND (survivor_id = ANY(:profiles) OR merged_id = ANY(:profiles))",
  identity_decisions: `workspace_id = :ws AND (profile_id = ANY(:profiles) OR other_profile_id = ANY(:profiles)
      OR (identifier_type, identifier_value) IN (SELECT * FROM unnest(:types, :values)))`,
  stitch_suggestions:
    "workspace_id = :ws AND (profile_id = ANY(:profiles) OR other_profile_id = ANY(:profiles))",
  device_sightings: "workspace_id = :ws AND profile_id = ANY(:profiles)",
  rejected_events: `workspace_id = :ws AND EXISTS (
      SELECT 1 FROM unnest(:values) AS v(value)
      WHERE position(lower(encode(convert_to(v.value, 'UTF8'), 'escape')) IN lower(encode(raw, 'escape'))) > 0)`,
  pipeline_queue: `workspace_id = :ws AND (profile_id = ANY(:profiles) OR merged && :profiles
      OR seq IN (SELECT seq FROM events WHERE ${EVENTS_OF_PERSON}))`,
} as const;

export type FootprintTable = keyof typeof FOOTPRINT;

/** The WHERE clause selecting the person's rows of `table`, with its parameters ($1, $2, ...). */
export function footprint(table: FootprintTable, person: Person): { where: string; params: unknown[] } {
  const ofType = (type: string) => person.identifiers.filter((i) => i.type === type).map((i) => i.value);
  const values: Record<string, [unknown, string]> = {
    ws: [person.workspaceId, "uuid"],
    profiles: [person.profileIds, "uuid[]"],
    types: [person.identifiers.map((i) => i.type), "text[]"],
    values: [person.identifiers.map((i) => i.value), "text[]"],
    userIds: [ofType("user_id"), "text[]"],
    anonymousIds: [ofType("anonymous_id"), "text[]"],
  };
  const params: unknown[] = [];
  const numbers = new Map<string, number>();
  const where = FOOTPRINT[table].replace(/:(\w+)/g, (_, name: string) => {
    const [value, type] = values[name]!;
    if (!numbers.has(name)) numbers.set(name, params.push(value));
    return `$${numbers.get(name)}::${type}`;
  });
  return { where, params };
}
