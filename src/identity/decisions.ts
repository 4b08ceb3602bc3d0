import type { Pool } from "pg";
import { NotFoundError } from "../errors/index.ts";
import { decodeCursor, encodeCursor, type Page } from "../ingest/index.ts";

/** An identity decision that did not simply attach an identifier, as the API shows it. */
export interface IdentityDecision {
  id: number;
  /** `blocked`, `dropped` (a limit) or `merge_refused`. */
  kind: string;
  identifier: { type: string; value: string };
  /** The profile the event resolved to when the decision was taken. */
  profileId: string | null;
  /** For a refused merge: the profile that was not merged. */
  otherProfileId: string | null;
  reason: string;
  /** The event that caused it. */
  eventSeq: number;
  at: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Decisions about one person: their live profile ($n) or any profile merged into it, on either side. */
const aboutPerson = (n: number) => {
  const person = `SELECT id FROM profiles WHERE workspace_id = $1 AND (id = $${n} OR merged_into = $${n})`;
  return `(d.profile_id IN (${person}) OR d.other_profile_id IN (${person}))`;
};

/**
 * The workspace's identity decisions, newest first; with `profileId`, those about that person on
 * either side (under any of their merged ids; a merged-away id stands for its survivor).
 */
export async function listDecisions(
  pool: Pool,
  workspaceId: string,
  filter: { profileId?: string | undefined },
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<IdentityDecision>> {
  const before = decodeCursor(page.cursor);
  const params: unknown[] = [workspaceId, before, page.limit + 1];
  let about = "";
  if (filter.profileId !== undefined) {
    params.push(await liveProfile(pool, workspaceId, filter.profileId));
    about = `AND ${aboutPerson(4)}`;
  }
  const { rows } = await pool.query<{
    id: number;
    kind: string;
    identifier_type: string;
    identifier_value: string;
    profile_id: string | null;
    other_profile_id: string | null;
    reason: string;
    event_seq: number;
    created_at: Date;
  }>(
    `SELECT d.id, d.kind, d.identifier_type, d.identifier_value, d.profile_id, d.other_profile_id,
            d.reason, d.event_seq, d.created_at
     FROM identity_decisions d
     WHERE d.workspace_id = $1 AND ($2::bigint IS NULL OR d.id < $2) ${about}
     ORDER BY d.id DESC LIMIT $3`,
    params,
  );
  const items = rows.slice(0, page.limit).map((r) => ({
    id: Number(r.id),
    kind: r.kind,
    identifier: { type: r.identifier_type, value: r.identifier_value },
    profileId: r.profile_id,
    otherProfileId: r.other_profile_id,
    reason: r.reason,
    eventSeq: Number(r.event_seq),
    at: r.created_at.toISOString(),
  }));
  const more = rows.length > page.limit;
  return { items, nextCursor: more ? encodeCursor(items.at(-1)!.id) : null };
}

/** How many identity decisions concern the person whose live profile this is. */
export async function countDecisions(
  pool: Pool,
  workspaceId: string,
  liveProfileId: string,
): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM identity_decisions d
     WHERE d.workspace_id = $1 AND ${aboutPerson(2)}`,
    [workspaceId, liveProfileId],
  );
  return rows[0]!.n;
}

async function liveProfile(pool: Pool, workspaceId: string, id: string): Promise<string> {
  if (!UUID.test(id)) throw new NotFoundError(`no profile ${id}`);
  const { rows } = await pool.query<{ live: string }>(
    "SELECT coalesce(merged_into, id) AS live FROM profiles WHERE workspace_id = $1 AND id = $2",
    [workspaceId, id],
  );
  if (!rows[0]) throw new NotFoundError(`no profile ${id}`);
  return rows[0].live;
}
