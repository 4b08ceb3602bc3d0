import { describe, expect, it } from "vitest";
import { isTimeOfDay, isTimeZone, localParts, nextTimeOfDay, type Weekday } from "./calendar.ts";

const at = (iso: string) => new Date(iso);
const next = (now: string, time: string, timeZone: string, weekdays?: Weekday[]) =>
  nextTimeOfDay(at(now), { time, timeZone, ...(weekdays ? { weekdays } : {}) }).toISOString();

describe("time zones", () => {
  it("knows IANA names and UTC, and nothing else", () => {
    expect(isTimeZone("Europe/Berlin")).toBe(true);
    expect(isTimeZone("Pacific/Chatham")).toBe(true);
    expect(isTimeZone("UTC")).toBe(true);
    expect(isTimeZone("Mars/Olympus_Mons")).toBe(false);
    expect(isTimeZone("")).toBe(false);
  });

  it("knows times of day as HH:MM, 24 h", () => {
    expect(isTimeOfDay("09:00")).toBe(true);
    expect(isTimeOfDay("23:59")).toBe(true);
    expect(isTimeOfDay("24:00")).toBe(false);
    expect(isTimeOfDay("9:00")).toBe(false);
  });

  it("reads the wall clock, calendar and weekday of an instant somewhere", () => {
    expect(localParts(at("2026-03-10T23:30:00Z"), "Asia/Kolkata")).toEqual({
      year: 2026,
      month: 3,
      day: 11,
      hour: 5,
      minute: 0,
      second: 0,
      weekday: "wed",
    });
    expect(localParts(at("2026-01-01T00:00:00Z"), "America/New_York")).toMatchObject({
      year: 2025,
      month: 12,
      day: 31,
      hour: 19,
      weekday: "wed",
    });
    expect(localParts(at("2026-01-01T00:00:00Z"), "UTC").hour).toBe(0);
  });

  it("refuses a zone it does not know, saying what to use", () => {
    expect(() => localParts(at("2026-01-01T00:00:00Z"), "Berlin")).toThrow(/unknown time zone "Berlin"/);
  });
});

describe("a reminder waits until 10:00 in the customer's time zone", () => {
  it("sends later the same day when 10:00 is still ahead", () => {
    // 09:00 in Berlin (CET, UTC+1).
    expect(next("2026-03-10T08:00:00Z", "10:00", "Europe/Berlin")).toBe("2026-03-10T09:00:00.000Z");
  });

  it("sends the next day when 10:00 has passed", () => {
    expect(next("2026-03-10T09:00:01Z", "10:00", "Europe/Berlin")).toBe("2026-03-11T09:00:00.000Z");
  });

  it("ends at once when woken exactly at 10:00", () => {
    expect(next("2026-03-10T09:00:00Z", "10:00", "Europe/Berlin")).toBe("2026-03-10T09:00:00.000Z");
  });

  it("uses the local date, not the UTC one", () => {
    // 23:30 UTC on the 10th is 05:00 on the 11th in Kolkata (UTC+5:30): 06:00 is an hour away.
    expect(next("2026-03-10T23:30:00Z", "06:00", "Asia/Kolkata")).toBe("2026-03-11T00:30:00.000Z");
    expect(next("2026-03-10T23:30:00Z", "04:00", "Asia/Kolkata")).toBe("2026-03-11T22:30:00.000Z");
  });

  it("keeps to the allowed weekdays", () => {
    // Friday 2026-03-13, 12:00 in New York: the next Monday or Wednesday at 09:00 is Monday the 16th.
    expect(next("2026-03-13T16:00:00Z", "09:00", "America/New_York", ["mon", "wed"])).toBe(
      "2026-03-16T13:00:00.000Z",
    );
    // Friday's 09:00 is past and only Friday is allowed: a week later.
    expect(next("2026-03-13T16:00:00Z", "09:00", "America/New_York", ["fri"])).toBe(
      "2026-03-20T13:00:00.000Z",
    );
  });

  it("refuses a time that is not HH:MM", () => {
    expect(() => nextTimeOfDay(at("2026-03-10T00:00:00Z"), { time: "9am", timeZone: "UTC" })).toThrow(
      /time must be HH:MM/,
    );
  });
});

describe("clocks change while the customer waits", () => {
  it("follows Berlin into summer time", () => {
    // Clocks go from 02:00 CET to 03:00 CEST on Sunday 2026-03-29.
    expect(next("2026-03-28T12:00:00Z", "09:00", "Europe/Berlin")).toBe("2026-03-29T07:00:00.000Z");
    expect(next("2026-03-27T12:00:00Z", "09:00", "Europe/Berlin", ["mon"])).toBe("2026-03-30T07:00:00.000Z");
  });

  it("moves a time that does not exist that day to the moment the clocks jump", () => {
    expect(next("2026-03-28T12:00:00Z", "02:30", "Europe/Berlin")).toBe("2026-03-29T01:00:00.000Z");
    expect(localParts(at("2026-03-29T01:00:00Z"), "Europe/Berlin")).toMatchObject({ hour: 3, minute: 0 });
    // New York jumps from 02:00 EST to 03:00 EDT on 2026-03-08.
    expect(next("2026-03-07T12:00:00Z", "02:15", "America/New_York")).toBe("2026-03-08T07:00:00.000Z");
    // The day after, 02:15 exists again.
    expect(next("2026-03-08T12:00:00Z", "02:15", "America/New_York")).toBe("2026-03-09T06:15:00.000Z");
  });

  it("takes the first of a time that happens twice when clocks go back", () => {
    // Berlin: 03:00 CEST becomes 02:00 CET on 2026-10-25; 02:30 happens at 00:30Z and 01:30Z.
    expect(next("2026-10-24T12:00:00Z", "02:30", "Europe/Berlin")).toBe("2026-10-25T00:30:00.000Z");
    // New York: 02:00 EDT becomes 01:00 EST on 2026-11-01; 01:30 happens at 05:30Z and 06:30Z.
    expect(next("2026-10-31T12:00:00Z", "01:30", "America/New_York")).toBe("2026-11-01T05:30:00.000Z");
  });

  it("does not send twice when the first of a repeated time has passed", () => {
    // 00:45Z is 02:45 CEST, after the first 02:30: the second 02:30 (01:30Z) is skipped for the next day.
    expect(next("2026-10-25T00:45:00Z", "02:30", "Europe/Berlin")).toBe("2026-10-26T01:30:00.000Z");
  });

  it("handles Chatham's 45-minute offsets and its jump at 02:45", () => {
    // In January Chatham is on daylight time, UTC+13:45: 09:00 on the 15th is 19:15Z on the 14th.
    expect(next("2026-01-14T12:00:00Z", "09:00", "Pacific/Chatham")).toBe("2026-01-14T19:15:00.000Z");
    // In July it is on standard time, UTC+12:45.
    expect(next("2026-07-14T12:00:00Z", "09:00", "Pacific/Chatham")).toBe("2026-07-14T20:15:00.000Z");
    // On Sunday 2026-09-27 clocks jump from 02:45 to 03:45: 03:00 moves to 03:45 (+13:45), 14:00Z.
    expect(next("2026-09-26T12:00:00Z", "03:00", "Pacific/Chatham")).toBe("2026-09-26T14:00:00.000Z");
    expect(localParts(at("2026-09-26T14:00:00Z"), "Pacific/Chatham")).toMatchObject({ hour: 3, minute: 45 });
  });

  it("keeps Kolkata, which has no DST, at UTC+5:30 all year", () => {
    expect(next("2026-01-01T00:00:00Z", "09:00", "Asia/Kolkata")).toBe("2026-01-01T03:30:00.000Z");
    expect(next("2026-07-01T00:00:00Z", "09:00", "Asia/Kolkata")).toBe("2026-07-01T03:30:00.000Z");
  });

  it("always lands on the requested wall-clock time, or just past a skipped one, within a day", () => {
    const zones = [
      "Europe/Berlin",
      "America/New_York",
      "Asia/Kolkata",
      "Pacific/Chatham",
      "Australia/Lord_Howe",
    ];
    for (const timeZone of zones) {
      for (let hour = 0; hour < 24 * 400; hour += 7) {
        const now = new Date(Date.UTC(2026, 0, 1) + hour * 3_600_000);
        const result = nextTimeOfDay(now, { time: "02:30", timeZone });
        const local = localParts(result, timeZone);
        expect(result.getTime()).toBeGreaterThanOrEqual(now.getTime());
        expect(result.getTime() - now.getTime()).toBeLessThanOrEqual(25 * 3_600_000);
        expect(local.hour * 60 + local.minute).toBeGreaterThanOrEqual(150);
        expect(local.hour * 60 + local.minute).toBeLessThanOrEqual(240);
      }
    }
  });
});
