/** The device an event came from, as far as it tells: its IP address and user agent. */
export interface Device {
  ip: string;
  userAgent: string;
}

/** A customer event with a device, resolved to its profile (after the batch's merges). */
export interface DeviceEvent {
  seq: number;
  profileId: string;
  /** A stable key of the device (a hash of IP and user agent, computed by the caller). */
  signal: string;
  /** When the event happened (ms since the epoch). */
  at: number;
  device: Device;
}

/** A profile seen with a device signal: when last, and at which event. */
export interface Sighting {
  signal: string;
  profileId: string;
  at: number;
  seq: number;
}

/** A suggested link: `otherProfileId` was seen on the device `profileId` had been seen on. */
export interface StitchSuggestion {
  /** The profile seen with the device first; it survives if the suggestion is confirmed. */
  profileId: string;
  otherProfileId: string;
  /** 1 when both were seen at the same moment, falling to 0.5 at the edge of the window. */
  score: number;
  signals: {
    ip: string;
    userAgent: string;
    /** Time between the two sightings. */
    gapSeconds: number;
    /** The event that saw profileId and the one that saw otherProfileId. */
    seq: number;
    otherSeq: number;
  };
}

/** The device of a message carrying both `context.ip` and `context.userAgent`; an IP alone says too little. */
export function deviceOf(message: Record<string, unknown>): Device | undefined {
  const context = message.context;
  if (typeof context !== "object" || context === null) return undefined;
  const { ip, userAgent } = context as Record<string, unknown>;
  if (typeof ip !== "string" || typeof userAgent !== "string") return undefined;
  if (ip.trim() === "" || userAgent.trim() === "") return undefined;
  return { ip: ip.trim(), userAgent: userAgent.trim() };
}

export function stitchScore(gapMs: number, windowMs: number): number {
  return Math.round((1 - Math.min(gapMs, windowMs) / (2 * windowMs)) * 100) / 100;
}

/**
 * Visitor stitching: each event whose device was seen with another profile within the window
 * suggests linking the two, unless merging them would break a limit (`canMerge`), since such a
 * suggestion could never be confirmed. One suggestion per pair, with the best score. Returns the
 * suggestions and the sightings to store. Suggestions only: nothing here merges anyone. Pure.
 */
export function planStitches(
  events: DeviceEvent[],
  known: Sighting[],
  windowMs: number,
  canMerge: (a: string, b: string) => boolean,
): { suggestions: StitchSuggestion[]; sightings: Sighting[] } {
  const bySignal = new Map<string, Map<string, Sighting>>();
  const remember = (s: Sighting) => {
    const profiles = bySignal.get(s.signal) ?? new Map<string, Sighting>();
    const previous = profiles.get(s.profileId);
    profiles.set(s.profileId, {
      ...s,
      at: Math.max(s.at, previous?.at ?? s.at),
      seq: Math.max(s.seq, previous?.seq ?? s.seq),
    });
    bySignal.set(s.signal, profiles);
  };
  for (const s of known) remember(s);

  const suggestions = new Map<string, StitchSuggestion>();
  const touched = new Set<string>();
  for (const e of events) {
    for (const seen of bySignal.get(e.signal)?.values() ?? []) {
      if (seen.profileId === e.profileId) continue;
      const gap = Math.abs(e.at - seen.at);
      if (gap > windowMs || !canMerge(seen.profileId, e.profileId)) continue;
      const pair = [seen.profileId, e.profileId].sort().join("/");
      const score = stitchScore(gap, windowMs);
      const existing = suggestions.get(pair);
      if (existing && existing.score >= score) continue;
      suggestions.set(pair, {
        profileId: existing?.profileId ?? seen.profileId,
        otherProfileId: existing?.otherProfileId ?? e.profileId,
        score,
        signals: {
          ...e.device,
          gapSeconds: Math.round(gap / 1000),
          seq: existing?.profileId === e.profileId ? e.seq : seen.seq,
          otherSeq: existing?.profileId === e.profileId ? seen.seq : e.seq,
        },
      });
    }
    remember({ signal: e.signal, profileId: e.profileId, at: e.at, seq: e.seq });
    touched.add(`${e.signal}\u0000${e.profileId}`);
  }
  const sightings = [...touched].map((k) => {
    const [signal, profileId] = k.split("\u0000") as [string, string];
    return bySignal.get(signal)!.get(profileId)!;
  });
  return { suggestions: [...suggestions.values()], sightings };
}
