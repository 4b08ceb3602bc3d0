import { describe, expect, it } from "vitest";
import { ALL_UNITS, PARTITIONS, fairShare, mergedElsewhere, partitionOf } from "./partition.ts";

/** A profile id (UUID) whose first 32 bits put it in `partition`. */
const inPartition = (partition: number, n = 0) =>
  `${(partition + PARTITIONS * n).toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;

describe("partitions", () => {
  it("puts a profile in the partition of its id's first 32 bits", () => {
    expect(partitionOf("0000000a-0000-4000-8000-000000000000")).toBe(10 % PARTITIONS);
    expect(partitionOf(inPartition(3, 5))).toBe(3);
  });

  it("makes a merge wait for every profile it merges from another partition, once each", () => {
    expect(mergedElsewhere(2, [])).toEqual([]);
    expect(mergedElsewhere(2, [inPartition(2)])).toEqual([]);
    expect(
      mergedElsewhere(2, [inPartition(5), inPartition(2), inPartition(1), inPartition(5, 1), inPartition(5)]),
    ).toEqual([inPartition(5), inPartition(1), inPartition(5, 1)]);
  });

  it("gives each worker the smallest share that still leaves no unit without a holder", () => {
    for (let workers = 1; workers <= 12; workers++) {
      const share = fairShare(ALL_UNITS.length, workers);
      expect(share * workers).toBeGreaterThanOrEqual(ALL_UNITS.length);
      expect((share - 1) * workers).toBeLessThan(ALL_UNITS.length);
    }
    expect(fairShare(ALL_UNITS.length, 0)).toBe(ALL_UNITS.length);
  });
});
