/**
 * Wall-clock time in a person's time zone, without a clock: "the next Monday at 09:00 in
 * Europe/Berlin" from a given `now`. Time zone rules come from Intl (the ICU data of the runtime).
 */

/** Days of the week as journey definitions spell them. */
export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/** JavaScript's getUTCDay() numbering: 0 is Sunday. */
const BY_DAY_NUMBER: readonly Weekday[] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/** What a wall clock and calendar in some time zone show at one instant. */
export interface LocalParts {
  year: number;
  /** 1 to 12. */
  month: number;
  /** 1 to 31. */
  day: number;
  /** 0 to 23. */
  hour: number;
  minute: number;
  second: number;
  weekday: Weekday;
}

const TIME_OF_DAY = /^([01]\d|2[0-3]):([0-5]\d)$/;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

/** Formatters by time zone: building one is far slower than using it. */
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat("en-US", {
        timeZone,
        hourCycle: "h23",
        year: "numeric",
        month: "numeric",
        day: "numeric",
        hour: "numeric",
        minute: "numeric",
        second: "numeric",
      });
    } catch {
      throw new RangeError(
        `unknown time zone ${JSON.stringify(timeZone)}: use an IANA name such as Europe/Berlin`,
      );
    }
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether the runtime knows `timeZone` (an IANA name such as `Europe/Berlin`, or `UTC`). */
export function isTimeZone(timeZone: string): boolean {
  if (timeZone.trim() === "") return false;
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

/** Whether `text` is a time of day as waits write it: `HH:MM`, 24 h. */
export function isTimeOfDay(text: string): boolean {
  return TIME_OF_DAY.test(text);
}

/** Date, wall-clock time and weekday at `at` in `timeZone`; throws RangeError for an unknown zone. */
export function localParts(at: Date, timeZone: string): LocalParts {
  const parts: Record<string, number> = {};
  for (const { type, value } of formatter(timeZone).formatToParts(at)) {
    if (type !== "literal") parts[type] = Number(value);
  }
  const { year, month, day, hour, minute, second } = parts as Record<
    "year" | "month" | "day" | "hour" | "minute" | "second",
    number
  >;
  return { year, month, day, hour, minute, second, weekday: weekdayOf(year, month, day) };
}

function weekdayOf(year: number, month: number, day: number): Weekday {
  return BY_DAY_NUMBER[new Date(Date.UTC(year, month - 1, day)).getUTCDay()]!;
}

/** The wall clock at `t` in `timeZone`, read as if it were UTC: the difference to `t` is the UTC offset. */
function wallMs(t: number, timeZone: string): number {
  const p = localParts(new Date(t), timeZone);
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
}

/**
 * The instant the wall clock in `timeZone` reads `wall` (a local time written as a UTC timestamp).
 * Ambiguous (the hour repeated when clocks go back): the first. Non-existent (the hour skipped when
 * clocks go forward): the first instant after it, i.e. the moment the clocks jump.
 */
function instantOf(wall: number, timeZone: string): number {
  // An instant with that wall clock is wall - offset for an offset in force around it. Offsets a day
  // either side cover the offset before and after any transition near it.
  const offsets = new Set([DAY, 0, -DAY].map((d) => wallMs(wall + d, timeZone) - (wall + d)));
  const matches = [...offsets].map((o) => wall - o).filter((t) => wallMs(t, timeZone) === wall);
  if (matches.length > 0) return Math.min(...matches);
  // A gap: the wall clock jumps over `wall`. Find the first instant whose wall clock is past it.
  const candidates = [...offsets].map((o) => wall - o);
  let lo = Math.min(...candidates);
  let hi = Math.max(...candidates);
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (wallMs(mid, timeZone) >= wall) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * The first instant at or after `now` when the wall clock in `timeZone` reads `time` (`HH:MM`, 24 h)
 * on one of `weekdays` (any day when absent). At `now` itself counts, so a wait recomputed when it
 * wakes ends instead of moving a day on. A local time skipped by a DST change moves to the moment the
 * clocks jump; one that happens twice takes the first (and the next day's, if the first is past).
 */
export function nextTimeOfDay(
  now: Date,
  spec: { time: string; weekdays?: Weekday[]; timeZone: string },
): Date {
  const match = TIME_OF_DAY.exec(spec.time);
  if (!match) throw new RangeError(`time must be HH:MM, 24 h (got ${JSON.stringify(spec.time)})`);
  const [hour, minute] = [Number(match[1]), Number(match[2])];
  const allowed = new Set<Weekday>(spec.weekdays ?? WEEKDAYS);
  if (allowed.size === 0) throw new RangeError("weekdays must name at least one day");
  const today = localParts(now, spec.timeZone);
  // Seven days on from today always reaches an allowed weekday again; one more covers a day whose
  // time is already past.
  for (let i = 0; i <= 8; i++) {
    const date = new Date(Date.UTC(today.year, today.month - 1, today.day + i));
    if (!allowed.has(BY_DAY_NUMBER[date.getUTCDay()]!)) continue;
    const at = instantOf(date.getTime() + hour * 60 * MINUTE + minute * MINUTE, spec.timeZone);
    if (at >= now.getTime()) return new Date(at);
  }
  throw new RangeError("no time found within 8 days; this is a bug");
}
