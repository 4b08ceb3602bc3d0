import { randomUUID } from "node:crypto";
import type { PoolClient } from "pg";
import { extractIdentifiers, type Identifier } from "./core/extract.ts";
import { planResolution, type Decision } from "./core/plan.ts";
import { withDefaults, type IdentityRules } from "./core/rules.ts";

/** An event of the log as the resolver reads it. */
export interface LogEvent {
  seq: number;
  receivedAt: Date;
  message: Record<string, unknown>;
}

/** The outcome for one event: whose it is now, and which profiles it merged into that one. */
export interface Resolution {
  seq: number;
  profileId: string;
  merged: string[];
}

const key = (id: Identifier) => `${id.type}\u0000${id.value}`;

export async function loadRules(client: PoolClient, workspaceId: string): Promise<IdentityRules> {
  const { rows } = await client.query<{ rules: Partial<IdentityRules> }>(
    "SELECT rules FROM identity_rules WHERE workspace_id = $1",
    [workspaceId],
  );
  return withDefaults(rows[0]?.rules);
}

/**
 * Resolves a batch of one workspace's events, in seq order, inside the caller's transaction: loads the
 * part of the graph the batch touches in two queries, plans each event against it (pure), and writes
 * the new profiles, identities, merges and decisions in a few statements.
 */
export async function resolveEvents(
  client: PoolClient,
  workspaceId: string,
  events: LogEvent[],
  rules?: IdentityRules,
): Promise<Resolution[]> {
  if (events.length === 0) return [];
  const r = rules ?? (await loadRules(client, workspaceId));
  const extracted = events.map((e) => extractIdentifiers(e.message, r));

  // Alias's previousId may be a former user id rather than an anonymous id: look it up as both.
  const lookups = new Map<string, Identifier>();
  extracted.forEach((x, i) => {
    for (const id of x.identifiers) lookups.set(key(id), id);
    if (events[i]!.message.type === "alias") {
      for (const id of x.identifiers.filter((d) => d.type === "anonymous_id")) {
        lookups.set(key({ type: "user_id", value: id.value }), { type: "user_id", value: id.value });
      }
    }
  });
  const owners = new Map<string, string>();
  const counts = new Map<string, Record<string, number>>();
  if (lookups.size > 0) {
    const ids = [...lookups.values()];
    const found = await client.query<{ type: string; value: string; profile_id: string }>(
      `SELECT i.type, i.value, i.profile_id FROM identities i
       JOIN unnest($2::text[], $3::text[]) AS x(type, value) ON i.type = x.type AND i.value = x.value
       WHERE i.workspace_id = $1`,
      [workspaceId, ids.map((i) => i.type), ids.map((i) => i.value)],
    );
    for (const row of found.rows) owners.set(key(row), row.profile_id);
    const profiles = [...new Set(found.rows.map((x) => x.profile_id))];
    const c = await client.query<{ profile_id: string; type: string; n: number }>(
      `SELECT profile_id, type, count(*)::int AS n FROM identities
       WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[]) GROUP BY 1, 2`,
      [workspaceId, profiles],
    );
    for (const row of c.rows)
      counts.set(row.profile_id, { ...counts.get(row.profile_id), [row.type]: row.n });
  }

  const graph = {
    owner: (id: Identifier) => owners.get(key(id)),
    counts: (p: string) => counts.get(p) ?? {},
  };
  const newProfiles: Array<{ id: string; at: Date }> = [];
  const attaches: Array<Identifier & { profileId: string; seq: number; at: Date }> = [];
  const merges: Array<{ survivor: string; merged: string; cause: string; seq: number }> = [];
  const decisions: Array<Decision & { seq: number; profileId: string }> = [];
  const results: Resolution[] = [];

  events.forEach((event, i) => {
    const x = extracted[i]!;
    if (event.message.type === "alias") {
      // A previousId known as a user id is one.
      x.identifiers = x.identifiers.map((id) =>
        id.type === "anonymous_id" &&
        !owners.has(key(id)) &&
        owners.has(key({ type: "user_id", value: id.value }))
          ? { type: "user_id", value: id.value }
          : id,
      );
    }
    const plan = planResolution({ type: String(event.message.type) }, x, graph, r, randomUUID());
    if (plan.created) {
      newProfiles.push({ id: plan.profileId, at: event.receivedAt });
      counts.set(plan.profileId, {});
    }
    const mine = { ...counts.get(plan.profileId) };
    for (const id of plan.attach) {
      owners.set(key(id), plan.profileId);
      mine[id.type] = (mine[id.type] ?? 0) + 1;
      attaches.push({ ...id, profileId: plan.profileId, seq: event.seq, at: event.receivedAt });
    }
    for (const m of plan.merges) {
      for (const [k, owner] of owners) if (owner === m.from) owners.set(k, plan.profileId);
      for (const [type, n] of Object.entries(counts.get(m.from) ?? {})) mine[type] = (mine[type] ?? 0) + n;
      counts.delete(m.from);
      merges.push({ survivor: plan.profileId, merged: m.from, cause: m.cause, seq: event.seq });
    }
    counts.set(plan.profileId, mine);
    for (const d of plan.decisions) decisions.push({ ...d, seq: event.seq, profileId: plan.profileId });
    results.push({ seq: event.seq, profileId: plan.profileId, merged: plan.merges.map((m) => m.from) });
  });

  await writeGraphChanges(client, workspaceId, { newProfiles, attaches, merges, decisions });
  return results;
}

async function writeGraphChanges(
  client: PoolClient,
  workspaceId: string,
  changes: {
    newProfiles: Array<{ id: string; at: Date }>;
    attaches: Array<Identifier & { profileId: string; seq: number; at: Date }>;
    merges: Array<{ survivor: string; merged: string; cause: string; seq: number }>;
    decisions: Array<Decision & { seq: number; profileId: string }>;
  },
): Promise<void> {
  const { newProfiles, attaches, merges, decisions } = changes;
  if (newProfiles.length) {
    await client.query(
      `INSERT INTO profiles (workspace_id, id, created_at, updated_at)
       SELECT $1, id, at, at FROM unnest($2::uuid[], $3::timestamptz[]) AS x(id, at)`,
      [workspaceId, newProfiles.map((p) => p.id), newProfiles.map((p) => p.at)],
    );
  }
  if (attaches.length) {
    await client.query(
      `INSERT INTO identities (workspace_id, type, value, profile_id, first_seen, event_seq)
       SELECT $1, type, value, profile_id, at, seq
       FROM unnest($2::text[], $3::text[], $4::uuid[], $5::timestamptz[], $6::bigint[]) AS x(type, value, profile_id, at, seq)
       ON CONFLICT DO NOTHING`,
      [
        workspaceId,
        attaches.map((a) => a.type),
        attaches.map((a) => a.value),
        attaches.map((a) => a.profileId),
        attaches.map((a) => a.at),
        attaches.map((a) => a.seq),
      ],
    );
  }
  // Merges in order: identities move to the survivor, and every profile that pointed at the merged
  // one points at the survivor, so a read resolves in one hop.
  for (const m of merges) {
    await client.query("UPDATE identities SET profile_id = $2 WHERE workspace_id = $1 AND profile_id = $3", [
      workspaceId,
      m.survivor,
      m.merged,
    ]);
    await client.query(
      "UPDATE profiles SET merged_into = $2 WHERE workspace_id = $1 AND (id = $3 OR merged_into = $3)",
      [workspaceId, m.survivor, m.merged],
    );
    await client.query(
      "INSERT INTO profile_merges (workspace_id, survivor_id, merged_id, cause, event_seq) VALUES ($1, $2, $3, $4, $5)",
      [workspaceId, m.survivor, m.merged, m.cause, m.seq],
    );
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
