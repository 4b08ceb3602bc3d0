import type { Extracted, Identifier } from "./extract.ts";
import { limitOf, type IdentityRules } from "./rules.ts";

/** What the resolver knows of the graph around one event (loaded, plus this batch's changes). */
export interface GraphView {
  /** The live profile holding the identifier, if any. */
  owner(id: Identifier): string | undefined;
  /** How many identifiers of each type the profile holds. */
  counts(profileId: string): Readonly<Record<string, number>>;
}

export type DecisionKind = "blocked" | "dropped" | "merge_refused";

/** An identity decision worth recording: why an identifier did not simply attach. */
export interface Decision {
  kind: DecisionKind;
  identifier: Identifier;
  otherProfileId?: string;
  reason: string;
}

export interface Plan {
  /** The profile the event belongs to after it. */
  profileId: string;
  /** True when profileId is the new id handed in. */
  created: boolean;
  /** Identifiers to attach to profileId. */
  attach: Identifier[];
  /** Profiles merged into profileId by this event, in order. */
  merges: Array<{ from: string; cause: string }>;
  decisions: Decision[];
}

/**
 * Resolves one event against the graph. The most trusted identifier decides the profile: its owner,
 * or the owner of a less trusted identifier when that profile can take the more trusted new ones
 * within the limits (an anonymous visitor logging in keeps their profile), or a new profile. Every
 * other identifier then attaches, merges its profile in, or is dropped when that would break a
 * limit, and the decision is recorded. Pure: the graph and the new id are inputs.
 */
export function planResolution(
  event: { type: string },
  extracted: Extracted,
  graph: GraphView,
  rules: IdentityRules,
  newProfileId: string,
): Plan {
  const decisions: Decision[] = extracted.blocked.map((identifier) => ({
    kind: "blocked",
    identifier,
    reason: `blocked value "${identifier.value}" for ${identifier.type} never identifies anyone`,
  }));
  const ids = extracted.identifiers;
  const firstOwned = ids.findIndex((id) => graph.owner(id) !== undefined);
  const candidate = firstOwned === -1 ? undefined : graph.owner(ids[firstOwned]!)!;
  const canTake = (profile: string, newIds: Identifier[]) => {
    const counts = { ...graph.counts(profile) };
    return newIds.every((id) => {
      counts[id.type] = (counts[id.type] ?? 0) + 1;
      const limit = limitOf(rules, id.type);
      return limit === null || counts[id.type]! <= limit;
    });
  };
  const anchorIsCandidate = candidate !== undefined && canTake(candidate, ids.slice(0, firstOwned));
  const profileId = anchorIsCandidate ? candidate : newProfileId;
  const counts: Record<string, number> = anchorIsCandidate ? { ...graph.counts(profileId) } : {};

  const attach: Identifier[] = [];
  const merges: Plan["merges"] = [];
  const merged = new Set<string>([profileId]);
  for (const id of ids) {
    const owner = graph.owner(id);
    if (owner !== undefined && merged.has(owner)) continue;
    if (owner === undefined) {
      const limit = limitOf(rules, id.type);
      if (limit !== null && (counts[id.type] ?? 0) + 1 > limit) {
        decisions.push({
          kind: "dropped",
          identifier: id,
          reason: `profile already holds ${counts[id.type]} ${id.type} (limit ${limit}); ${id.type} not added`,
        });
        continue;
      }
      attach.push(id);
      counts[id.type] = (counts[id.type] ?? 0) + 1;
      continue;
    }
    const union = { ...counts };
    for (const [type, n] of Object.entries(graph.counts(owner))) union[type] = (union[type] ?? 0) + n;
    const broken = Object.entries(union).find(([type, n]) => {
      const limit = limitOf(rules, type);
      return limit !== null && n > limit;
    });
    if (broken) {
      decisions.push({
        kind: "merge_refused",
        identifier: id,
        otherProfileId: owner,
        reason: `merging would give one profile ${broken[1]} ${broken[0]} (limit ${limitOf(rules, broken[0])}); ${id.type} dropped from this event`,
      });
      continue;
    }
    Object.assign(counts, union);
    merged.add(owner);
    merges.push({
      from: owner,
      cause: event.type === "alias" ? "alias" : `${event.type}: shared ${id.type}`,
    });
  }
  return { profileId, created: !anchorIsCandidate, attach, merges, decisions };
}
