import { NotFoundError } from "../errors/index.ts";
import { normaliseType, normaliseValue } from "../identity/index.ts";
import { resolveProfileId, type Queryable } from "./read.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The live profile a person is known by: a profile id (a merged-away one answers with its
 * survivor), else an email (compared as the graph stores it: trimmed, lower-cased), else a user id.
 */
export async function lookupProfileId(db: Queryable, workspaceId: string, key: string): Promise<string> {
  if (UUID.test(key)) {
    const found = await resolveProfileId(db, workspaceId, key).catch((err: unknown) => {
      if (err instanceof NotFoundError) return null;
      throw err;
    });
    if (found) return found;
  }
  const { rows } = await db.query<{ profile_id: string }>({
    name: "profiles.lookup",
    text: `SELECT profile_id FROM identities
     WHERE workspace_id = $1 AND ((type = 'email' AND value = $2) OR (type = 'user_id' AND value = $3))
     ORDER BY type = 'email' DESC LIMIT 1`,
    values: [workspaceId, key.trim().toLowerCase(), key],
  });
  if (!rows[0]) throw new NotFoundError(`no profile with the id, email or userId "${key}"`);
  return rows[0].profile_id;
}

/** `type:value`: an identifier as Segment's Profile API writes it in a path (`user_id:42`). */
const IDENTIFIER_REF = /^([A-Za-z][A-Za-z0-9_ -]{0,63}):(.+)$/s;

/**
 * The profile id behind a profile route's `:id`: a profile id as it is, or an identifier written
 * `type:value` as in Segment's Profile API (`user_id:user-42`, `email:ada@example.com`,
 * `anonymous_id:...`, `phone:...` or a custom type), which names the live profile holding it
 * (types and values compared as the graph stores them: an email lower-cased). NotFoundError when
 * no profile holds it.
 */
export async function profileIdOfRef(db: Queryable, workspaceId: string, ref: string): Promise<string> {
  const m = UUID.test(ref) ? null : IDENTIFIER_REF.exec(ref);
  if (!m) return ref;
  const type = normaliseType(m[1]!);
  const value = normaliseValue(type, m[2]!);
  const { rows } = await db.query<{ profile_id: string }>({
    name: "profiles.by-identifier",
    text: "SELECT profile_id FROM identities WHERE workspace_id = $1 AND type = $2 AND value = $3",
    values: [workspaceId, type, value],
  });
  if (!rows[0]) throw new NotFoundError(`no profile with ${type} "${value}"`);
  return rows[0].profile_id;
}
