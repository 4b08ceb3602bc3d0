import type { PoolClient } from "pg";
import type { Identifier } from "./core/extract.ts";
import { finalSurvivors } from "./core/merge.ts";
import type { Decision } from "./core/plan.ts";

export const identityKey = (id: Identifier) => `${id.type}\u0000${id.value}`;

/** The part of a workspace's identity graph one batch touches. */
export interface LoadedGraph {
  /** identityKey -> the live profile holding it. */
  owners: Map<string, string>;
  /** Live profile -> identifiers held, per type. */
  counts: Map<string, Record<string, number>>;
  /** Requested profile id -> the live profile it is or was merged into (absent: no such profile). */
  live: Map<string, string>;
}

/** Loads the owners of the identifiers, the live profiles of the ids, and those profiles' counts. */
export async function loadGraph(
  client: PoolClient,
  workspaceId: string,
  identifiers: Identifier[],
  profileIds: string[],
): Promise<LoadedGraph> {
  const graph: LoadedGraph = { owners: new Map(), counts: new Map(), live: new Map() };
  const profiles = new Set<string>();
  if (identifiers.length > 0) {
    const found = await client.query<{ type: string; value: string; profile_id: string }>({
      name: "identity-owners",
      text: `SELECT i.type, i.value, i.profile_id FROM identities i
       JOIN unnest($2::text[], $3::text[]) AS x(type, value) ON i.type = x.type AND i.value = x.value
       WHERE i.workspace_id = $1`,
      values: [workspaceId, identifiers.map((i) => i.type), identifiers.map((i) => i.value)],
    });
    for (const row of found.rows) {
      graph.owners.set(identityKey(row), row.profile_id);
      profiles.add(row.profile_id);
    }
  }
  if (profileIds.length > 0) {
    const { rows } = await client.query<{ id: string; live: string }>(
      `SELECT id, coalesce(merged_into, id) AS live FROM profiles
       WHERE workspace_id = $1 AND id = ANY($2::uuid[])`,
      [workspaceId, profileIds],
    );
    for (const row of rows) {
      graph.live.set(row.id, row.live);
      profiles.add(row.live);
    }
  }
  if (profiles.size > 0) graph.counts = await loadCounts(client, workspaceId, [...profiles]);
  return graph;
}

/** Per profile, how many identifiers of each type it holds. */
export async function loadCounts(
  client: PoolClient,
  workspaceId: string,
  profileIds: string[],
): Promise<Map<string, Record<string, number>>> {
  const counts = new Map<string, Record<string, number>>();
  const { rows } = await client.query<{ profile_id: string; type: string; n: number }>({
    name: "identity-counts",
    text: `SELECT profile_id, type, count(*)::int AS n FROM identities
     WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) GROUP BY 1, 2`,
    values: [workspaceId, profileIds],
  });
  for (const row of rows) counts.set(row.profile_id, { ...counts.get(row.profile_id), [row.type]: row.n });
  return counts;
}

/** What one batch changes in the graph, in event order. */
export interface GraphChanges {
  newProfiles: Array<{ id: string; at: Date }>;
  attaches: Array<Identifier & { profileId: string; seq: number; at: Date }>;
  merges: Array<{ survivor: string; merged: string; cause: string; seq: number }>;
  decisions: Array<Decision & { seq: number; profileId: string }>;
}

/** Writes a batch's graph changes in a few statements (one per merge), inside the caller's transaction. */
export async function writeGraphChanges(
  client: PoolClient,
  workspaceId: string,
  changes: GraphChanges,
): Promise<void> {
  const { newProfiles, attaches, merges, decisions } = changes;
  if (newProfiles.length) {
    await client.query({
      name: "identity-new-profiles",
      text: `INSERT INTO profiles (workspace_id, id, created_at, updated_at)
       SELECT $1, id, at, at FROM unnest($2::uuid[], $3::timestamptz[]) AS x(id, at)`,
      values: [workspaceId, newProfiles.map((p) => p.id), newProfiles.map((p) => p.at)],
    });
  }
  if (attaches.length) {
    await client.query({
      name: "identity-attach",
      text: `INSERT INTO identities (workspace_id, type, value, profile_id, first_seen, event_seq)
       SELECT $1, type, value, profile_id, at, seq
       FROM unnest($2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::bigint[]) AS x(type, value, profile_id, at, seq)
       ON CONFLICT DO NOTHING`,
      values: [
        workspaceId,
        attaches.map((a) => a.type),
        attaches.map((a) => a.value),
        attaches.map((a) => a.profileId),
        attaches.map((a) => a.at),
        attaches.map((a) => a.seq),
      ],
    });
  }
  // Merges: identities move to the survivor, and every profile that pointed at the merged one points
  // at the survivor, so a read resolves in one hop. The profile rows are locked first, in id order, the
  // order the profile stage locks them in: the two never wait on each other in a cycle. A batch's
  // merges are written in three statements whatever their number: each merged profile goes straight
  // to its final survivor (a survivor merged later in the batch passes its own on), which is where
  // applying them one by one in order would leave everything; the merges are recorded as they were.
  if (merges.length) {
    const merged = merges.map((m) => m.merged);
    const finals = finalSurvivors(merges);
    await client.query({
      name: "identity-merge-lock",
      text: `SELECT 1 FROM profiles WHERE workspace_id = $1 AND (id = ANY($2::uuid[]) OR merged_into = ANY($2::uuid[]))
             ORDER BY id FOR UPDATE`,
      values: [workspaceId, merged],
    });
    await client.query({
      name: "identity-merge-identities",
      text: `UPDATE identities i SET profile_id = x.survivor
             FROM unnest($2::uuid[], $3::uuid[]) AS x(merged, survivor)
             WHERE i.workspace_id = $1 AND i.profile_id = x.merged`,
      values: [workspaceId, merged, finals],
    });
    await client.query({
      name: "identity-merge-profiles",
      text: `UPDATE profiles p SET merged_into = x.survivor
             FROM unnest($2::uuid[], $3::uuid[]) AS x(merged, survivor)
             WHERE p.workspace_id = $1 AND (p.id = x.merged OR p.merged_into = x.merged)`,
      values: [workspaceId, merged, finals],
    });
    await client.query({
      name: "identity-merge-record",
      text: `INSERT INTO profile_merges (workspace_id, survivor_id, merged_id, cause, event_seq)
             SELECT $1, survivor, merged, cause, seq
             FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::bigint[]) WITH ORDINALITY AS x(survivor, merged, cause, seq, n)
             ORDER BY n`,
      values: [
        workspaceId,
        merges.map((m) => m.survivor),
        merged,
        merges.map((m) => m.cause),
        merges.map((m) => m.seq),
      ],
    });
  }
  if (decisions.length) {
    await client.query(
      `INSERT INTO identity_decisions
         (workspace_id, event_seq, profile_id, kind, identifier_type, identifier_value, other_profile_id, reason)
       SELECT $1, seq, profile_id, kind, type, value, other, reason
       FROM unnest($2::bigint[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::uuid[], $8::text[])
         AS x(seq, profile_id, kind, type, value, other, reason)`,
      [
        workspaceId,
        decisions.map((d) => d.seq),
        decisions.map((d) => d.profileId),
        decisions.map((d) => d.kind),
        decisions.map((d) => d.identifier.type),
        decisions.map((d) => d.identifier.value),
        decisions.map((d) => d.otherProfileId ?? null),
        decisions.map((d) => d.reason),
      ],
    );
  }
}
