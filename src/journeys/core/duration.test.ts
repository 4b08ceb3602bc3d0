import { describe, expect, it } from "vitest";
import { durationSchema, formatDuration, parseDuration } from "./duration.ts";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("a journey author writes a wait the short way", () => {
  it("reads each unit", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("5m")).toBe(5 * MINUTE);
    expect(parseDuration("1h")).toBe(HOUR);
    expect(parseDuration("7d")).toBe(7 * DAY);
    expect(parseDuration("2w")).toBe(14 * DAY);
  });

  it("adds up combinations written largest unit first", () => {
    expect(parseDuration("1h30m")).toBe(90 * MINUTE);
    expect(parseDuration("1d12h")).toBe(36 * HOUR);
    expect(parseDuration("1m30s500ms")).toBe(90_500);
  });

  it("accepts zero, a wait that ends at once", () => {
    expect(parseDuration("0s")).toBe(0);
  });

  it("refuses units out of order or repeated, which are most likely typos", () => {
    expect(parseDuration("30m1h")).toBeUndefined();
    expect(parseDuration("1h1h")).toBeUndefined();
  });
});

describe("a tool sends ISO 8601 durations", () => {
  it("reads time, days and weeks, a day being exactly 24 hours", () => {
    expect(parseDuration("PT1H")).toBe(HOUR);
    expect(parseDuration("PT90M")).toBe(90 * MINUTE);
    expect(parseDuration("P1D")).toBe(DAY);
    expect(parseDuration("P1DT2H30M")).toBe(DAY + 2.5 * HOUR);
    expect(parseDuration("P2W")).toBe(14 * DAY);
    expect(parseDuration("PT0.5S")).toBe(500);
  });

  it("refuses years and months, which have no fixed length", () => {
    expect(parseDuration("P1Y")).toBeUndefined();
    expect(parseDuration("P1M")).toBeUndefined();
  });
});

describe("anything else is not a duration", () => {
  it.each(["", " ", "-5m", "1x", "5", "m", "1.5h", "5 m", "P", "PT", "P1DT", "pt1h", "1H", "PT-1H"])(
    "refuses %j",
    (text) => {
      expect(parseDuration(text)).toBeUndefined();
    },
  );

  it("refuses durations too long to count in milliseconds exactly", () => {
    expect(parseDuration("99999999999999999w")).toBeUndefined();
  });
});

describe("a journey definition carries a duration field", () => {
  it("accepts a duration and tells the author what a duration looks like otherwise", () => {
    expect(durationSchema.parse("1h30m")).toBe("1h30m");
    const result = durationSchema.safeParse("an hour");
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe(
      "must be a duration such as 30s, 5m, 1h, 7d or ISO 8601 (PT1H)",
    );
  });
});

describe("the audit trail says how long a wait was", () => {
  it("writes milliseconds the short way", () => {
    expect(formatDuration(5_400_000)).toBe("1h30m");
    expect(formatDuration(0)).toBe("0s");
    expect(formatDuration(500)).toBe("500ms");
    expect(formatDuration(8 * DAY + 1000)).toBe("1w1d1s");
    expect(formatDuration(-HOUR)).toBe("-1h");
  });

  it("writes what parseDuration reads back", () => {
    for (const ms of [1, 999, 61_001, 90 * MINUTE, 3 * DAY + 7, 30 * DAY]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
