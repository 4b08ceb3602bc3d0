/** A profile's traits and derived fields, as the profile stage folds events into them. */
export interface ProfileState {
  traits: Record<string, unknown>;
  /** Per trait key, the timestamp of the call that set it. */
  traitTimes: Record<string, string>;
  firstSeen: string | null;
  lastSeen: string | null;
  lastIp: string | null;
  location: Record<string, unknown> | null;
  timezone: string | null;
  device: Record<string, unknown> | null;
  eventCount: number;
  /** Events per type (identify, track, ...). */
  counts: Record<string, number>;
}

export const EMPTY_PROFILE: ProfileState = {
  traits: {},
  traitTimes: {},
  firstSeen: null,
  lastSeen: null,
  lastIp: null,
  location: null,
  timezone: null,
  device: null,
  eventCount: 0,
  counts: {},
};

type Message = Record<string, unknown>;

/**
 * Folds one event into a profile. Traits come from identify (and, per group, from group calls under
 * `groups.<groupId>`); for each trait the call with the later timestamp wins, whatever the order of
 * arrival. Derived fields follow the latest event by timestamp. Pure.
 */
export function applyEvent(profile: ProfileState, message: Message): ProfileState {
  // An internal merge event (identity's confirmed stitching) is no customer event: the stage absorbs
  // the merged profile and nothing else changes.
  if (message.type === "merge") return profile;
  const at = String(message.timestamp);
  const next: ProfileState = {
    ...profile,
    traits: { ...profile.traits },
    traitTimes: { ...profile.traitTimes },
    counts: { ...profile.counts },
  };
  const setTrait = (key: string, write: () => void) => {
    const previous = next.traitTimes[key];
    if (previous !== undefined && previous > at) return;
    next.traitTimes[key] = at;
    write();
  };
  if (message.type === "identify") {
    for (const [key, value] of Object.entries(asObject(message.traits))) {
      setTrait(key, () => (next.traits[key] = value));
    }
  }
  if (message.type === "group" && typeof message.groupId === "string") {
    const groupId = message.groupId;
    setTrait(`groups.${groupId}`, () => {
      next.traits.groups = { ...asObject(next.traits.groups), [groupId]: asObject(message.traits) };
    });
  }

  next.eventCount += 1;
  const type = String(message.type);
  next.counts[type] = (next.counts[type] ?? 0) + 1;
  if (next.firstSeen === null || at < next.firstSeen) next.firstSeen = at;
  if (next.lastSeen === null || at >= next.lastSeen) {
    next.lastSeen = at;
    const context = asObject(message.context);
    if (typeof context.ip === "string") next.lastIp = context.ip;
    if (isObject(context.location)) next.location = context.location;
    if (typeof context.timezone === "string") next.timezone = context.timezone;
    const device = {
      ...asObject(context.device),
      ...(typeof context.userAgent === "string" ? { userAgent: context.userAgent } : {}),
    };
    if (Object.keys(device).length > 0) next.device = device;
  }
  return next;
}

/** Combines a merged-away profile into the survivor: traits by later timestamp, counts summed. */
export function absorbProfile(survivor: ProfileState, merged: ProfileState): ProfileState {
  const traits = { ...survivor.traits };
  const traitTimes = { ...survivor.traitTimes };
  for (const [key, at] of Object.entries(merged.traitTimes)) {
    if (traitTimes[key] !== undefined && traitTimes[key]! >= at) continue;
    traitTimes[key] = at;
    if (key.startsWith("groups.")) {
      const groupId = key.slice("groups.".length);
      traits.groups = { ...asObject(traits.groups), [groupId]: asObject(merged.traits.groups)[groupId] };
    } else {
      traits[key] = merged.traits[key];
    }
  }
  const counts = { ...survivor.counts };
  for (const [type, n] of Object.entries(merged.counts)) counts[type] = (counts[type] ?? 0) + n;
  const mergedIsLater = (merged.lastSeen ?? "") > (survivor.lastSeen ?? "");
  const latest = mergedIsLater ? merged : survivor;
  return {
    traits,
    traitTimes,
    firstSeen: minIso(survivor.firstSeen, merged.firstSeen),
    lastSeen: mergedIsLater ? merged.lastSeen : survivor.lastSeen,
    lastIp: latest.lastIp ?? survivor.lastIp ?? merged.lastIp,
    location: latest.location ?? survivor.location ?? merged.location,
    timezone: latest.timezone ?? survivor.timezone ?? merged.timezone,
    device: latest.device ?? survivor.device ?? merged.device,
    eventCount: survivor.eventCount + merged.eventCount,
    counts,
  };
}

function minIso(a: string | null, b: string | null): string | null {
  if (a === null) return b;
  if (b === null) return a;
  return a < b ? a : b;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function asObject(v: unknown): Record<string, unknown> {
  return isObject(v) ? v : {};
}
