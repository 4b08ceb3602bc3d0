import type { Extracted, Identifier } from "./extract.ts";
import { brokenLimit, limitOf, type IdentityRules, type LimitOf } from "./rules.ts";

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
 *
 * An alias whose previousId is a known user id renames a user: the alias itself says both user ids
 * are one person, so the user_id limit does not refuse that merge (every other limit still applies).
 */
export function planResolution(
  event: { type: string; previousId?: unknown },
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
  const renamesUser =
    event.type === "alias" &&
    ids.some((id) => id.type === "user_id" && id.value === String(event.previousId));
  const limit: LimitOf = (type) => (renamesUser && type === "user_id" ? null : limitOf(rules, type));
  const firstOwned = ids.findIndex((id) => graph.owner(id) !== undefined);
  const candidate = firstOwned === -1 ? undefined : graph.owner(ids[firstOwned]!)!;
  const canTake = (profile: string, newIds: Identifier[]) => {
    const counts = { ...graph.counts(profile) };
    return newIds.every((id) => {
      counts[id.type] = (counts[id.type] ?? 0) + 1;
      const max = limit(id.type);
      return max === null || counts[id.type]! <= max;
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
      const max = limit(id.type);
      if (max !== null && (counts[id.type] ?? 0) + 1 > max) {
        decisions.push({
          kind: "dropped",
          identifier: id,
          reason: `profile already holds ${counts[id.type]} ${id.type} (limit ${max}); ${id.type} not added`,
        });
        continue;
      }
      attach.push(id);
      counts[id.type] = (counts[id.type] ?? 0) + 1;
      continue;
    }
    const broken = brokenLimit(limit, counts, graph.counts(owner));
    if (broken) {
      decisions.push({
        kind: "merge_refused",
        identifier: id,
        otherProfileId: owner,
        reason: `merging would give one profile ${broken[1]} ${broken[0]} (limit ${broken[2]}); ${id.type} dropped from this event`,
      });
      continue;
    }
    for (const [type, n] of Object.entries(graph.counts(owner))) counts[type] = (counts[type] ?? 0) + n;
    merged.add(owner);
    merges.push({
      from: owner,
      cause: event.type === "alias" ? "alias" : `${event.type}: shared ${id.type}`,
    });
  }
  return { profileId, created: !anchorIsCandidate, attach, merges, decisions };
}
