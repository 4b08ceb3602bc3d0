import type { Plan } from "./plan.ts";
import { brokenLimit, limitOf, type IdentityRules } from "./rules.ts";

/**
 * The internal event type that asks stage one to merge one profile into another (a confirmed
 * stitching suggestion). It is written to the log by Waymark itself, so the merge takes its place in
 * seq order like every merge an identify or alias causes; the tracking API never accepts it.
 */
export const MERGE_EVENT = "merge";

/** What a merge event asks for. */
export interface MergeRequest {
  /** The profile that survives. */
  into: string;
  /** The profile merged into it. */
  from: string;
  /** Recorded with the merge, e.g. "stitching suggestion 4 confirmed". */
  cause: string;
}

/** The merge event's message, as stored in the log. */
export function mergeMessage(
  request: MergeRequest & { messageId: string; suggestionId?: number },
  now: Date,
): Record<string, unknown> {
  const at = now.toISOString();
  return {
    type: MERGE_EVENT,
    messageId: request.messageId,
    profileId: request.into,
    mergedProfileId: request.from,
    cause: request.cause,
    ...(request.suggestionId !== undefined ? { suggestionId: request.suggestionId } : {}),
    timestamp: at,
    receivedAt: at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const isUuid = (v: unknown): v is string => typeof v === "string" && UUID.test(v);

/**
 * The request a merge event carries, or undefined when the message is not a merge event. A profile
 * id that is not a UUID reads as "" (no such profile), so a malformed event is refused, never stuck.
 */
export function readMergeRequest(message: Record<string, unknown>): MergeRequest | undefined {
  if (message.type !== MERGE_EVENT) return undefined;
  const { profileId, mergedProfileId, cause } = message;
  return {
    into: isUuid(profileId) ? profileId : "",
    from: isUuid(mergedProfileId) ? mergedProfileId : "",
    cause: typeof cause === "string" ? cause : "merge",
  };
}

/**
 * Plans an explicit merge. `into` and `from` are the live profiles the requested ids resolve to now
 * (undefined when that profile no longer exists, e.g. erased). Limits apply as to any merge: one that
 * would break one is refused and the decision recorded. When neither profile exists, the event is
 * filed under `orphanId`, a profile id that holds nothing. Pure.
 */
export function planMerge(
  request: MergeRequest,
  live: { into: string | undefined; from: string | undefined },
  counts: (profileId: string) => Readonly<Record<string, number>>,
  rules: IdentityRules,
  orphanId: string,
): Plan {
  const profileId = live.into ?? live.from ?? orphanId;
  const plan: Plan = { profileId, created: false, attach: [], merges: [], decisions: [] };
  const refuse = (reason: string, other?: string) => {
    plan.decisions.push({
      kind: "merge_refused",
      identifier: { type: "profile_id", value: request.from },
      ...(other !== undefined ? { otherProfileId: other } : {}),
      reason: `${reason}; ${request.cause}: not merged`,
    });
    return plan;
  };
  if (live.into === undefined) return refuse(`profile ${request.into || "(none)"} does not exist`);
  if (live.from === undefined) return refuse(`profile ${request.from || "(none)"} does not exist`);
  if (live.into === live.from) return plan;
  const broken = brokenLimit((type) => limitOf(rules, type), counts(live.into), counts(live.from));
  if (broken) {
    return refuse(`merging would give one profile ${broken[1]} ${broken[0]} (limit ${broken[2]})`, live.from);
  }
  plan.merges.push({ from: live.from, cause: request.cause });
  return plan;
}

/**
 * For each merge, in order, the profile its merged one ends with: its survivor, or, when that survivor
 * is itself merged later in the batch, that one's final survivor.
 */
export function finalSurvivors(merges: ReadonlyArray<{ survivor: string; merged: string }>): string[] {
  const into = new Map(merges.map((m) => [m.merged, m.survivor]));
  return merges.map((m) => {
    let p = m.survivor;
    for (let hops = 0; into.has(p) && hops <= merges.length; hops++) p = into.get(p)!;
    return p;
  });
}
