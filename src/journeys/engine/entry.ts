import { evaluateCondition } from "../core/conditions.ts";
import type { JourneyDefinition } from "../core/definition.ts";
import { parseDuration } from "../core/duration.ts";
import { hashToUnit } from "../core/hash.ts";
import { renderTemplate } from "../core/template.ts";
import type { Instance, Message, ProfileData } from "./types.ts";

/**
 * The name an event is matched by: a track call's `event`; for other calls their type
 * (`identify`, `page`, `screen`, `group`, `alias`).
 */
export function eventName(message: Message): string {
  return message.type === "track" && typeof message.event === "string"
    ? message.event
    : String(message.type ?? "");
}

/** The scope templates and conditions read. */
export function scopeOf(
  event: Message | null,
  profile: ProfileData | null,
  context: Record<string, unknown>,
  instance: Partial<Instance> | null,
): Record<string, unknown> {
  return {
    event: event ?? context.trigger ?? {},
    profile: profile ?? {},
    context,
    instance: instance
      ? {
          id: instance.id,
          journey: instance.journey,
          version: instance.version,
          key: instance.key,
          step: instance.step,
          enteredAt: instance.enteredAt,
        }
      : {},
  };
}

/** Whether an event matches `{ event, where }`. */
export function matchesFilter(
  filter: { event: string; where?: Parameters<typeof evaluateCondition>[0] | undefined },
  event: Message,
  scope: Record<string, unknown>,
): boolean {
  if (eventName(event) !== filter.event) return false;
  return filter.where ? evaluateCondition(filter.where, scope).result : true;
}

/** Whether this event starts the journey (an event trigger whose name and condition match). */
export function triggers(def: JourneyDefinition, event: Message, profile: ProfileData): boolean {
  if (def.trigger.event === undefined) return false;
  return matchesFilter(
    { event: def.trigger.event, where: def.trigger.where },
    event,
    scopeOf(event, profile, {}, null),
  );
}

/**
 * The entry key an event carries: null for a journey without a key; undefined when the journey has
 * a key and this event renders it empty (such an event neither enters nor reaches an instance).
 */
export function entryKeyOf(
  def: JourneyDefinition,
  event: Message,
  profile: ProfileData | null,
): string | null | undefined {
  if (def.entry.key === undefined) return null;
  let value: unknown;
  try {
    value = renderTemplate(def.entry.key, scopeOf(event, profile, {}, null));
  } catch {
    return undefined;
  }
  if (value === undefined || value === null) return undefined;
  const key = typeof value === "string" ? value : JSON.stringify(value);
  return key === "" ? undefined : key.slice(0, 512);
}

/**
 * Whether a later event reaches an instance: its entry key equals the instance's (always, unkeyed).
 * An event about something the instance itself did (a message it sent was opened, clicked, bounced)
 * names the instance in `properties.instanceId` and reaches it whatever its key.
 */
export function reaches(
  def: JourneyDefinition,
  instance: Instance,
  event: Message,
  profile: ProfileData,
): boolean {
  if (instance.key === null) return true;
  const properties = event.properties as Record<string, unknown> | undefined;
  if (properties?.instanceId === instance.id) return true;
  return entryKeyOf(def, event, profile) === instance.key;
}

/** What the runner knows of the person's earlier instances of this journey. */
export interface EntryHistory {
  /** An active instance with the same key exists. */
  live: boolean;
  /** An instance with the same key ever existed. */
  ever: boolean;
  /** When the last instance with the same key ended. */
  lastEndedAt: string | null;
  /** Instances of this journey the person has entered, any key. */
  count: number;
}

export type EntryDecision = { enter: true; holdout: boolean } | { enter: false; reason: string };

/** Re-entry, cooldown, per-person cap and holdout, decided from the history. */
export function decideEntry(
  def: JourneyDefinition,
  journey: string,
  profileId: string,
  history: EntryHistory,
  now: Date,
): EntryDecision {
  const { reentry, cooldown, maxPerProfile, holdout } = def.entry;
  if (reentry === "never" && history.ever) return { enter: false, reason: "re-entry is never allowed" };
  if (reentry === "after_exit" && history.live) return { enter: false, reason: "an instance is live" };
  if (cooldown && history.lastEndedAt) {
    const until = Date.parse(history.lastEndedAt) + (parseDuration(cooldown) ?? 0);
    if (until > now.getTime()) {
      return { enter: false, reason: `cooldown until ${new Date(until).toISOString()}` };
    }
  }
  if (maxPerProfile !== undefined && history.count >= maxPerProfile) {
    return { enter: false, reason: `maxPerProfile ${maxPerProfile} reached` };
  }
  // Sticky per person: the same person is always in (or out of) the control group of a journey.
  return { enter: true, holdout: holdout > 0 && hashToUnit(`${journey}:holdout:${profileId}`) < holdout };
}
