import { NotFoundError } from "../errors/index.ts";
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
