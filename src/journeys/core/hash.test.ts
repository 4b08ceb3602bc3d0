import { describe, expect, it } from "vitest";
import { hashToUnit, pickWeighted } from "./hash.ts";

describe("a split hashes the instance and step instead of rolling dice", () => {
  it("gives the same number for the same seed, every time", () => {
    expect(hashToUnit("instance-1:split")).toBe(hashToUnit("instance-1:split"));
    expect(hashToUnit("instance-1:split")).not.toBe(hashToUnit("instance-2:split"));
  });

  it("stays in [0, 1), for empty and non-ASCII seeds too", () => {
    for (const seed of ["", "a", "é", "日本語", "😀", "x".repeat(10_000)]) {
      const u = hashToUnit(seed);
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
    }
  });

  it("keeps its values from release to release, since running splits depend on them", () => {
    expect(hashToUnit("")).toBe(0.6689221884589642);
    expect(hashToUnit("instance-1:split")).toBe(0.771425822051242);
  });

  it("spreads 100k similar seeds evenly over 10 buckets", () => {
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) buckets[Math.floor(hashToUnit(`instance-${i}:split`) * 10)]!++;
    for (const count of buckets) {
      expect(count).toBeGreaterThan(9_700);
      expect(count).toBeLessThan(10_300);
    }
  });
});

describe("a 70/30 split picks variants by weight", () => {
  const variants = [
    { id: "control", weight: 70 },
    { id: "discount", weight: 30 },
  ];

  it("sends each instance to the same variant on replay", () => {
    const first = pickWeighted(variants, "instance-42:split");
    expect(pickWeighted(variants, "instance-42:split")).toBe(first);
  });

  it("sends about 70% to control and 30% to discount", () => {
    let control = 0;
    for (let i = 0; i < 20_000; i++)
      if (pickWeighted(variants, `instance-${i}:split`).id === "control") control++;
    expect(control / 20_000).toBeCloseTo(0.7, 1);
  });

  it("never picks a variant of weight 0", () => {
    const paused = [{ id: "off", weight: 0 }, ...variants, { id: "also-off", weight: 0 }];
    for (let i = 0; i < 1_000; i++) expect(pickWeighted(paused, `s-${i}`).weight).toBeGreaterThan(0);
  });

  it("refuses weights that cannot make a split", () => {
    expect(() => pickWeighted([], "s")).toThrow(/positive weight/);
    expect(() => pickWeighted([{ weight: 0 }], "s")).toThrow(/positive weight/);
    expect(() => pickWeighted([{ weight: -1 }, { weight: 2 }], "s")).toThrow(/not negative/);
    expect(() => pickWeighted([{ weight: Number.NaN }], "s")).toThrow(/finite/);
  });
});
