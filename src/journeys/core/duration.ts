import { z } from "zod";

/**
 * Durations of journey waits and windows, written by people (`30m`, `1h30m`, `7d`) or by tools
 * (ISO 8601 `PT1H`, `P1DT2H30M`). Every unit has a fixed length: a day is exactly 24 hours and a week
 * 7 days, so a duration is a number of milliseconds. Calendar-aware waits ("next Monday at 9:00",
 * across DST) belong to calendar.ts, not here. Years and months have no fixed length and are refused.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

/** Shorthand units, largest first: the order a combination must be written in. */
const UNITS = [
  ["w", WEEK],
  ["d", DAY],
  ["h", HOUR],
  ["m", MINUTE],
  ["s", SECOND],
  ["ms", 1],
] as const;
const UNIT_MS = new Map<string, number>(UNITS);
const UNIT_RANK = new Map<string, number>(UNITS.map(([unit], i) => [unit, i]));

/** `1h30m`: whole numbers, each unit at most once, largest first. `ms` before `m`/`s` so it wins. */
const SHORTHAND = /^(?:\d+(?:ms|w|d|h|m|s))+$/;
const SHORTHAND_PART = /(\d+)(ms|w|d|h|m|s)/g;

/** ISO 8601 duration without years and months; only the last component may have a fraction. */
const ISO = /^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/;

/** The message both schema and callers show when a duration does not parse. */
export const DURATION_MESSAGE = "must be a duration such as 30s, 5m, 1h, 7d or ISO 8601 (PT1H)";

/** Milliseconds of a duration like `30s`, `1h30m`, `500ms`, `PT1H` or `P1DT2H30M`; undefined otherwise. */
export function parseDuration(text: string): number | undefined {
  const ms = SHORTHAND.test(text) ? parseShorthand(text) : parseIso(text);
  return ms !== undefined && Number.isSafeInteger(ms) ? ms : undefined;
}

function parseShorthand(text: string): number | undefined {
  let total = 0;
  let lastRank = -1;
  for (const [, amount, unit] of text.matchAll(SHORTHAND_PART)) {
    const rank = UNIT_RANK.get(unit!)!;
    // `30m1h` and `1h1h` are most likely typos; refuse rather than guess.
    if (rank <= lastRank) return undefined;
    lastRank = rank;
    total += Number(amount) * UNIT_MS.get(unit!)!;
  }
  return total;
}

function parseIso(text: string): number | undefined {
  const m = ISO.exec(text);
  // `P` and `PT` match the pattern with every component absent: a duration needs at least one.
  if (!m || text.endsWith("T") || m.slice(1).every((part) => part === undefined)) return undefined;
  const [, weeks, days, hours, minutes, seconds] = m;
  const n = (part: string | undefined) => (part === undefined ? 0 : Number(part.replace(",", ".")));
  return Math.round(
    n(weeks) * WEEK + n(days) * DAY + n(hours) * HOUR + n(minutes) * MINUTE + n(seconds) * SECOND,
  );
}

/** A duration field of a journey definition: a string that parseDuration accepts. */
export const durationSchema = z
  .string()
  .refine((text) => parseDuration(text) !== undefined, { message: DURATION_MESSAGE });

/** A duration as people write it (5400000 -> `1h30m`), for audit messages; parseDuration reads it back. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  let rest = Math.round(Math.abs(ms));
  if (rest === 0) return "0s";
  let text = "";
  for (const [unit, size] of UNITS) {
    if (rest >= size) {
      text += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return ms < 0 ? `-${text}` : text;
}
