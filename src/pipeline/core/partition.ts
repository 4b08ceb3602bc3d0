/** Apply partitions: a profile's events always land in the same one, so they apply in order. */
export const PARTITIONS = 8;

export const RESOLVE_UNIT = "resolve";
export const applyUnit = (partition: number) => `apply:${partition}`;
export const ALL_UNITS = [RESOLVE_UNIT, ...Array.from({ length: PARTITIONS }, (_, p) => applyUnit(p))];

/** The partition of a profile id (a UUID): its first 32 bits, modulo the partition count. */
export function partitionOf(profileId: string): number {
  return Number.parseInt(profileId.slice(0, 8), 16) % PARTITIONS;
}

/**
 * How many units a worker should hold when `workers` share them: the ceiling of the fair share, so
 * every unit has a holder and no worker holds more than one beyond another.
 */
export function fairShare(units: number, workers: number): number {
  return Math.ceil(units / Math.max(1, workers));
}

/**
 * The profiles an event queued in `partition` must wait for: those it merges that live in other
 * partitions. Their earlier events (seq below the event's) are queued there and must be applied
 * before the merge absorbs them; every one of them, since one event can merge several profiles.
 */
export function mergedElsewhere(partition: number, merged: readonly string[]): string[] {
  return [...new Set(merged)].filter((p) => partitionOf(p) !== partition);
}
