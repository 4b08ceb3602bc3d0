import { randomUUID } from "node:crypto";
import type { PoolClient } from "pg";
import { extractIdentifiers, type Identifier } from "./core/extract.ts";
import { planMerge, readMergeRequest } from "./core/merge.ts";
import { planResolution } from "./core/plan.ts";
import type { IdentityRules } from "./core/rules.ts";
import { identityKey as key, loadGraph, writeGraphChanges, type GraphChanges } from "./graph-store.ts";
import { loadRules } from "./rules-store.ts";
import { suggestStitches } from "./stitching.ts";

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

/**
 * Resolves a batch of one workspace's events, in seq order, inside the caller's transaction: loads the
 * part of the graph the batch touches in a few queries, plans each event against it (pure), writes
 * the new profiles, identities, merges and decisions in a few statements, and, when the workspace
 * turned stitching on, records suggested links from device signals. Internal `merge` events (a
 * confirmed suggestion) merge the profiles they name here, in seq order like every other merge.
 */
export async function resolveEvents(
  client: PoolClient,
  workspaceId: string,
  events: LogEvent[],
  rules?: IdentityRules,
): Promise<Resolution[]> {
  if (events.length === 0) return [];
  const r = rules ?? (await loadRules(client, workspaceId));
  const requests = events.map((e) => readMergeRequest(e.message));
  const extracted = events.map((e, i) =>
    requests[i] ? { identifiers: [], blocked: [] } : extractIdentifiers(e.message, r),
  );

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
  const requested = requests.flatMap((q) => (q ? [q.into, q.from].filter((id) => id !== "") : []));
  const { owners, counts, live } = await loadGraph(client, workspaceId, [...lookups.values()], requested);

  // Profiles merged earlier in this batch -> their survivor.
  const redirect = new Map<string, string>();
  const liveOf = (id: string) => {
    let p = live.get(id);
    while (p !== undefined && redirect.has(p)) p = redirect.get(p)!;
    return p;
  };
  const graph = {
    owner: (id: Identifier) => owners.get(key(id)),
    counts: (p: string) => counts.get(p) ?? {},
  };
  const changes: GraphChanges = { newProfiles: [], attaches: [], merges: [], decisions: [] };
  const results: Resolution[] = [];

  events.forEach((event, i) => {
    const x = extracted[i]!;
    const request = requests[i];
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
    const plan = request
      ? planMerge(
          request,
          { into: liveOf(request.into), from: liveOf(request.from) },
          graph.counts,
          r,
          randomUUID(),
        )
      : planResolution(
          { type: String(event.message.type), previousId: event.message.previousId },
          x,
          graph,
          r,
          randomUUID(),
        );
    if (plan.created) {
      changes.newProfiles.push({ id: plan.profileId, at: event.receivedAt });
      counts.set(plan.profileId, {});
    }
    const mine = { ...counts.get(plan.profileId) };
    for (const id of plan.attach) {
      owners.set(key(id), plan.profileId);
      mine[id.type] = (mine[id.type] ?? 0) + 1;
      changes.attaches.push({ ...id, profileId: plan.profileId, seq: event.seq, at: event.receivedAt });
    }
    for (const m of plan.merges) {
      for (const [k, owner] of owners) if (owner === m.from) owners.set(k, plan.profileId);
      for (const [type, n] of Object.entries(counts.get(m.from) ?? {})) mine[type] = (mine[type] ?? 0) + n;
      counts.delete(m.from);
      redirect.set(m.from, plan.profileId);
      changes.merges.push({ survivor: plan.profileId, merged: m.from, cause: m.cause, seq: event.seq });
    }
    counts.set(plan.profileId, mine);
    for (const d of plan.decisions)
      changes.decisions.push({ ...d, seq: event.seq, profileId: plan.profileId });
    results.push({ seq: event.seq, profileId: plan.profileId, merged: plan.merges.map((m) => m.from) });
  });

  await writeGraphChanges(client, workspaceId, changes);
  if (r.stitching.enabled) await suggestStitches(client, workspaceId, events, results, r);
  return results;
}
