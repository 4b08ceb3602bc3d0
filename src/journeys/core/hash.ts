/**
 * Deterministic "randomness" for splits and sampling: the engine hashes a stable seed such as
 * `${instanceId}:${stepId}` instead of calling Math.random, so replaying an instance takes the same
 * branch. Changing this function reshuffles every running split: treat its output as stored data.
 */

const encoder = new TextEncoder();

/** A number in [0, 1) that depends only on `seed`, evenly spread: FNV-1a over UTF-8, murmur3 finaliser. */
export function hashToUnit(seed: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(seed)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  // FNV-1a alone leaves the high bits of short, similar seeds (`i-1:s`, `i-2:s`) correlated; the
  // finaliser spreads every input bit over every output bit.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/**
 * The item a seed lands on when each gets a share proportional to its weight (a split's variants).
 * Items of weight 0 are never picked. Throws when no item has a positive finite weight: validation
 * refuses such definitions before they run.
 */
export function pickWeighted<T extends { weight: number }>(items: T[], seed: string): T {
  let total = 0;
  for (const item of items) {
    if (!Number.isFinite(item.weight) || item.weight < 0) {
      throw new RangeError(`weights must be finite and not negative (got ${item.weight})`);
    }
    total += item.weight;
  }
  if (total <= 0) throw new RangeError("pickWeighted needs at least one item with a positive weight");
  const target = hashToUnit(seed) * total;
  let cumulative = 0;
  let last: T | undefined;
  for (const item of items) {
    if (item.weight === 0) continue;
    cumulative += item.weight;
    last = item;
    if (target < cumulative) return item;
  }
  // Only reached through floating-point rounding of the running sum.
  return last!;
}
