import { describe, expect, it } from "vitest";
import { fillSeries, seriesWindow, startOfUtcDay, sumSince } from "./series.ts";

const now = new Date("2026-11-23T10:02:30.000Z");

describe("a day of events in 5-minute buckets", () => {
  const window = seriesWindow(now, 24, { maxPoints: 288 });

  it("has 288 buckets aligned to the clock, the last one holding now", () => {
    expect(window).toEqual({
      bucketSeconds: 300,
      buckets: 288,
      from: new Date("2026-11-22T10:05:00.000Z"),
      until: new Date("2026-11-23T10:05:00.000Z"),
    });
  });

  it("shows every bucket, the empty ones as zeros", () => {
    const counts = new Map([
      [Date.parse("2026-11-22T10:05:00Z") / 1000, { count: 2 }],
      [Date.parse("2026-11-23T10:00:00Z") / 1000, { count: 5 }],
    ]);
    const items = fillSeries(window, counts, { count: 0 });
    expect(items).toHaveLength(288);
    expect(items[0]).toEqual({ at: "2026-11-22T10:05:00.000Z", count: 2 });
    expect(items[1]).toEqual({ at: "2026-11-22T10:10:00.000Z", count: 0 });
    expect(items.at(-1)).toEqual({ at: "2026-11-23T10:00:00.000Z", count: 5 });
  });

  it("counts today from UTC midnight", () => {
    const counts = new Map([
      [Date.parse("2026-11-22T23:55:00Z") / 1000, { count: 2 }],
      [Date.parse("2026-11-23T00:00:00Z") / 1000, { count: 3 }],
      [Date.parse("2026-11-23T10:00:00Z") / 1000, { count: 5 }],
    ]);
    expect(startOfUtcDay(now)).toEqual(new Date("2026-11-23T00:00:00.000Z"));
    expect(sumSince(counts, startOfUtcDay(now), (c) => c.count)).toBe(8);
  });
});

describe("the bucket size grows with the window, up to 288 points", () => {
  it.each([
    [1, 60, 60],
    [4, 60, 240],
    [5, 300, 60],
    [24, 300, 288],
    [25, 900, 100],
    [72, 900, 288],
    [73, 1800, 146],
    [168, 3600, 168],
  ])("%i hours: %i-second buckets, %i of them", (hours, bucketSeconds, buckets) => {
    expect(seriesWindow(now, hours, { maxPoints: 288 })).toMatchObject({ bucketSeconds, buckets });
  });

  it("keeps to hours when asked for at least an hour", () => {
    expect(seriesWindow(now, 2, { maxPoints: 288, minBucketSeconds: 3600 })).toEqual({
      bucketSeconds: 3600,
      buckets: 2,
      from: new Date("2026-11-23T09:00:00.000Z"),
      until: new Date("2026-11-23T11:00:00.000Z"),
    });
  });
});
