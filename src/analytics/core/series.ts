/**
 * Time series in fixed buckets (pure): which bucket size a window gets, and the series with a point
 * for every bucket, empty ones included, from the counts the database returns for non-empty ones.
 */

/** The bucket sizes a series may use, in seconds, smallest first. Each divides a day. */
export const BUCKET_SECONDS = [60, 300, 900, 1800, 3600] as const;

/** The buckets of one series. */
export interface SeriesWindow {
  /** The length of a bucket, in seconds. */
  bucketSeconds: number;
  /** The start of the first bucket. */
  from: Date;
  /** The end of the last bucket, the one holding `now` (still filling). */
  until: Date;
  /** How many buckets: (until - from) / bucketSeconds. */
  buckets: number;
}

/**
 * The window of the last `hours` up to `now` in the smallest bucket size (of BUCKET_SECONDS, at
 * least `minBucketSeconds`) that keeps it at most `maxPoints` long (the largest size when none does).
 * Buckets are aligned to the Unix epoch, so a bucket keeps its bounds from one call to the next and
 * a UTC midnight is always a bucket's start; the last bucket is the one holding `now`.
 */
export function seriesWindow(
  now: Date,
  hours: number,
  options: { maxPoints: number; minBucketSeconds?: number },
): SeriesWindow {
  const span = hours * 3600;
  const sizes = BUCKET_SECONDS.filter((s) => s >= (options.minBucketSeconds ?? 0));
  const bucketSeconds =
    sizes.find((s) => Math.ceil(span / s) <= options.maxPoints) ?? sizes.at(-1) ?? BUCKET_SECONDS.at(-1)!;
  const size = bucketSeconds * 1000;
  const until = (Math.floor(now.getTime() / size) + 1) * size;
  const buckets = Math.ceil(span / bucketSeconds);
  return { bucketSeconds, from: new Date(until - buckets * size), until: new Date(until), buckets };
}

/** The start of `now`'s day in UTC. */
export function startOfUtcDay(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()));
}

/**
 * The series over `window`: one point per bucket, oldest first, `at` its start (ISO 8601), with the
 * counts of `counts` (keyed by the bucket's start in Unix seconds) or `empty`.
 */
export function fillSeries<T extends object>(
  window: SeriesWindow,
  counts: ReadonlyMap<number, T>,
  empty: T,
): Array<{ at: string } & T> {
  const first = window.from.getTime() / 1000;
  return Array.from({ length: window.buckets }, (_, n) => {
    const start = first + n * window.bucketSeconds;
    return { at: new Date(start * 1000).toISOString(), ...(counts.get(start) ?? empty) };
  });
}

/** The sum of `pick` over the buckets that start at or after `since` (counts keyed as in fillSeries). */
export function sumSince<T>(counts: ReadonlyMap<number, T>, since: Date, pick: (c: T) => number): number {
  let sum = 0;
  for (const [start, c] of counts) if (start * 1000 >= since.getTime()) sum += pick(c);
  return sum;
}
