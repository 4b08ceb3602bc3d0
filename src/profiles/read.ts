import type { Pool, PoolClient } from "pg";
import { NotFoundError, ValidationError } from "../errors/index.ts";
import { decodeCursor, encodeCursor, type Page } from "../ingest/index.ts";
import type { ProfileState } from "./core/apply.ts";
import { PROFILE_COLUMNS, fromRow, type ProfileRow } from "./stage.ts";

/** A person as the API shows them: the folded state (without per-trait times) and their graph. */
export interface Profile extends Omit<ProfileState, "traitTimes"> {
  id: string;
  identities: Array<{ type: string; value: string }>;
  /** Profiles merged into this one, with the cause. */
  mergedFrom: Array<{ id: string; cause: string; at: string }>;
  /** Identity decisions about this person (GET /api/v1/identity/decisions?profileId= lists them). */
  identityDecisions: number;
}

/** A pool or a transaction's client: reads run on either. */
export type Queryable = { query: PoolClient["query"] };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The live profile for an id; the id of a merged-away profile answers with its survivor. */
export async function resolveProfileId(db: Queryable, workspaceId: string, id: string): Promise<string> {
  if (!UUID.test(id)) throw new NotFoundError(`no profile ${id}`);
  // Named statements are parsed and planned once per connection: under concurrent reads PostgreSQL
  // spent most of its CPU planning these (profile-read benchmark, issue 4).
  const { rows } = await db.query<{ id: string; merged_into: string | null }>({
    name: "profiles.resolve",
    text: "SELECT id, merged_into FROM profiles WHERE workspace_id = $1 AND id = $2",
    values: [workspaceId, id],
  });
  if (!rows[0]) throw new NotFoundError(`no profile ${id}`);
  return rows[0].merged_into ?? rows[0].id;
}

export async function getProfile(db: Queryable, workspaceId: string, id: string): Promise<Profile> {
  if (!UUID.test(id)) throw new NotFoundError(`no profile ${id}`);
  const [profile] = await readProfiles(db, workspaceId, [id]);
  if (!profile) throw new NotFoundError(`no profile ${id}`);
  return profile;
}

/**
 * The live profiles of the given ids (a merged-away id gives its survivor, once), in one statement:
 * a read by id is one round trip. Named, so it is parsed and planned once per connection; one
 * statement (not three in parallel), so it also runs on a transaction's client.
 */
async function readProfiles(db: Queryable, workspaceId: string, ids: string[]): Promise<Profile[]> {
  if (ids.length === 0) return [];
  // One id (the common read) gets a statement of its own with a plain `id = $2`: PostgreSQL then
  // keeps one generic plan per connection, where `= ANY($2)` was planned again on every call (planning
  // took three times the execution in the profile-read benchmark).
  const one = ids.length === 1;
  const { rows } = await db.query<ProfileReadRow>({
    name: one ? "profiles.read-one" : "profiles.read",
    text: readStatement(
      `SELECT ${one ? "" : "DISTINCT "}coalesce(merged_into, id) AS id FROM profiles
       WHERE workspace_id = $1 AND ${one ? "id = $2::uuid" : "id = ANY($2::uuid[])"}`,
    ),
    values: [workspaceId, one ? ids[0] : ids],
  });
  return rows.map(toProfile);
}

/** A row of `readStatement`: the profile's columns and its graph, aggregated as JSON. */
interface ProfileReadRow extends ProfileRow {
  ids: Array<{ type: string; value: string }>;
  merges: Array<{ id: string; cause: string; at: string }>;
  decisions: number;
}

/**
 * The statement reading whole profiles, ordered by id, for the live ids that `live` selects (a query
 * whose first parameter is the workspace). Searches put their filter there, so a lookup by email is
 * one round trip too.
 */
function readStatement(live: string): string {
  return `WITH live AS (${live})
     SELECT ${PROFILE_COLUMNS.map((c) => `p.${c}`).join(", ")},
       coalesce((SELECT json_agg(json_build_object('type', i.type, 'value', i.value) ORDER BY i.type, i.value)
                 FROM identities i WHERE i.workspace_id = p.workspace_id AND i.profile_id = p.id), '[]') AS ids,
       coalesce((SELECT json_agg(json_build_object('id', m.merged_id, 'cause', m.cause, 'at', m.created_at) ORDER BY m.id)
                 FROM profile_merges m JOIN profiles q ON q.workspace_id = m.workspace_id AND q.id = m.merged_id
                 WHERE m.workspace_id = p.workspace_id AND q.merged_into = p.id), '[]') AS merges,
       (SELECT count(*) FROM identity_decisions d
        WHERE d.workspace_id = p.workspace_id
          AND (d.profile_id = ANY(person.ids) OR d.other_profile_id = ANY(person.ids)))::int AS decisions
     FROM live JOIN profiles p ON p.workspace_id = $1 AND p.id = live.id
     -- The person: this profile and every profile merged into it, found once.
     CROSS JOIN LATERAL (SELECT array_agg(x.id) AS ids FROM profiles x
                         WHERE x.workspace_id = p.workspace_id AND (x.id = p.id OR x.merged_into = p.id)) AS person
     ORDER BY p.id`;
}

function toProfile(r: ProfileReadRow): Profile {
  const { traitTimes: _traitTimes, ...state } = fromRow(r);
  return {
    id: r.id,
    ...state,
    identities: r.ids,
    mergedFrom: r.merges.map((m) => ({ id: m.id, cause: m.cause, at: new Date(m.at).toISOString() })),
    identityDecisions: r.decisions,
  };
}

export interface ProfileQuery {
  query?: string | undefined;
  userId?: string | undefined;
  anonymousId?: string | undefined;
  email?: string | undefined;
}

/**
 * Live profiles matching an identifier (userId, anonymousId, email) or a free-text query over
 * identifier values and traits; ordered by id, paged by cursor.
 */
export async function findProfiles(
  pool: Pool,
  workspaceId: string,
  q: ProfileQuery,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<Profile>> {
  const after = page.cursor ? decodeProfileCursor(page.cursor) : null;
  const params: unknown[] = [workspaceId, after, page.limit + 1];
  const where = ["p.workspace_id = $1", "p.merged_into IS NULL", "($2::uuid IS NULL OR p.id > $2)"];
  const byIdentity = (type: string, value: string) => {
    params.push(type, type === "email" ? value.trim().toLowerCase() : value);
    where.push(
      `EXISTS (SELECT 1 FROM identities i WHERE i.workspace_id = p.workspace_id AND i.profile_id = p.id
               AND i.type = $${params.length - 1} AND i.value = $${params.length})`,
    );
  };
  if (q.userId) byIdentity("user_id", q.userId);
  if (q.anonymousId) byIdentity("anonymous_id", q.anonymousId);
  if (q.email) byIdentity("email", q.email);
  if (q.query) {
    params.push(`%${q.query.replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
    where.push(
      `(p.traits::text ILIKE $${params.length} OR EXISTS (SELECT 1 FROM identities i WHERE i.workspace_id = p.workspace_id
         AND i.profile_id = p.id AND i.value ILIKE $${params.length}))`,
    );
  }
  // The text depends only on which filters are present: one named (prepared) statement per combination.
  // The search and the read are one statement (one round trip); it reads one profile past the page
  // to know whether there is a next one.
  const shape = [q.userId, q.anonymousId, q.email, q.query].map((x) => (x ? 1 : 0)).join("");
  const { rows } = await pool.query<ProfileReadRow>({
    name: `profiles.find.${shape}`,
    text: readStatement(`SELECT p.id FROM profiles p WHERE ${where.join(" AND ")} ORDER BY p.id LIMIT $3`),
    values: params,
  });
  const items = rows.slice(0, page.limit).map(toProfile);
  const more = rows.length > page.limit;
  return { items, nextCursor: more ? Buffer.from(items.at(-1)!.id).toString("base64url") : null };
}

function decodeProfileCursor(cursor: string): string {
  const id = Buffer.from(cursor, "base64url").toString();
  if (!UUID.test(id)) throw new ValidationError("cursor is not one this API returned");
  return id;
}

/** The person's whole history, newest first: every event carrying one of their user or anonymous ids. */
export async function profileEvents(
  pool: Pool,
  workspaceId: string,
  id: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<Record<string, unknown>>> {
  const live = await resolveProfileId(pool, workspaceId, id);
  const before = decodeCursor(page.cursor);
  const { rows } = await pool.query<{ seq: number; message: Record<string, unknown> }>(
    `WITH ids AS (SELECT type, value FROM identities WHERE workspace_id = $1 AND profile_id = $2)
     SELECT seq, message FROM events e
     WHERE e.workspace_id = $1 AND ($3::bigint IS NULL OR e.seq < $3)
       AND (e.user_id IN (SELECT value FROM ids WHERE type = 'user_id')
         OR e.anonymous_id IN (SELECT value FROM ids WHERE type = 'anonymous_id'))
     ORDER BY seq DESC LIMIT $4`,
    [workspaceId, live, before, page.limit + 1],
  );
  const items = rows.slice(0, page.limit).map((r) => ({ ...r.message, seq: r.seq }));
  return { items, nextCursor: rows.length > page.limit ? encodeCursor(rows[page.limit - 1]!.seq) : null };
}
