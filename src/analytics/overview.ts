import type { Pool } from "pg";
import { listJourneys } from "../journeys/index.ts";
import { pipelineStatus } from "../pipeline/index.ts";
import { fillSeries, seriesWindow, startOfUtcDay, sumSince, type SeriesWindow } from "./core/series.ts";

/** A workspace at a glance: traffic, messages, journeys and the pipeline's delay. */
export interface Overview {
  /** The server's time the overview was taken at. */
  generatedAt: string;
  /** The window of the series, in hours. */
  hours: number;
  /** Events received per bucket (`count` is per bucket, not per minute: divide by bucketSeconds / 60). */
  eventsPerMinute: { bucketSeconds: number; items: Array<{ at: string; count: number }> };
  /**
   * Messages per hour by outcome, at the time of the outcome: sent (and delivered) when sent, skipped
   * and failed (bounced included) when decided. Queued messages are not counted.
   */
  messagesPerHour: {
    bucketSeconds: number;
    items: Array<{ at: string; sent: number; skipped: number; failed: number }>;
  };
  /** Since UTC midnight of the server's day. */
  today: {
    since: string;
    events: number;
    messagesSent: number;
    messagesSkipped: number;
    messagesFailed: number;
  };
  /** Journey instances running now (status active), in every journey. */
  liveInstances: number;
  /** Journeys by status. */
  journeys: { draft: number; active: number; paused: number; archived: number };
  /** The largest lagSeconds of the pipeline's units: the age of the oldest event not yet applied. */
  pipelineLagSeconds: number;
}

/** At most this many points in the event series: 5-minute buckets over a day. */
const MAX_EVENT_POINTS = 288;

/**
 * The overview of a workspace over the last `hours` (1 to 168) up to `now`. Counting is a range scan
 * of an index per table (events by received_at, messages by updated_at) over the window, or since
 * midnight when that is longer, so its cost grows with the traffic in the window.
 */
export async function workspaceOverview(
  pool: Pool,
  workspaceId: string,
  now: Date,
  hours: number,
): Promise<Overview> {
  const midnight = startOfUtcDay(now);
  const eventWindow = seriesWindow(now, hours, { maxPoints: MAX_EVENT_POINTS });
  // Hourly: at most 168 points (a week).
  const messageWindow = seriesWindow(now, hours, { maxPoints: MAX_EVENT_POINTS, minBucketSeconds: 3600 });
  const [events, messages, journeys, units] = await Promise.all([
    countEvents(pool, workspaceId, eventWindow, midnight),
    countMessages(pool, workspaceId, messageWindow, midnight),
    listJourneys(pool, workspaceId),
    pipelineStatus(pool, workspaceId, now),
  ]);
  const byStatus = { draft: 0, active: 0, paused: 0, archived: 0 };
  for (const j of journeys) byStatus[j.status] += 1;
  return {
    generatedAt: now.toISOString(),
    hours,
    eventsPerMinute: {
      bucketSeconds: eventWindow.bucketSeconds,
      items: fillSeries(eventWindow, events, { count: 0 }),
    },
    messagesPerHour: {
      bucketSeconds: messageWindow.bucketSeconds,
      items: fillSeries(messageWindow, messages, { sent: 0, skipped: 0, failed: 0 }),
    },
    today: {
      since: midnight.toISOString(),
      events: sumSince(events, midnight, (c) => c.count),
      messagesSent: sumSince(messages, midnight, (c) => c.sent),
      messagesSkipped: sumSince(messages, midnight, (c) => c.skipped),
      messagesFailed: sumSince(messages, midnight, (c) => c.failed),
    },
    liveInstances: journeys.reduce((sum, j) => sum + j.activeInstances, 0),
    journeys: byStatus,
    pipelineLagSeconds: Math.max(0, ...units.map((u) => u.lagSeconds)),
  };
}

/**
 * Events per bucket (keyed by the bucket's start in Unix seconds) from the window's start, or
 * midnight when that is earlier, to its end. Midnight is a bucket start (sizes divide a day).
 */
async function countEvents(
  pool: Pool,
  workspaceId: string,
  window: SeriesWindow,
  midnight: Date,
): Promise<Map<number, { count: number }>> {
  const { rows } = await pool.query<{ at: number; n: number }>(
    `SELECT (floor(extract(epoch FROM received_at) / $4) * $4)::bigint AS at, count(*) AS n
     FROM events WHERE workspace_id = $1 AND received_at >= $2 AND received_at < $3
     GROUP BY 1`,
    [workspaceId, earlier(window.from, midnight), window.until, window.bucketSeconds],
  );
  return new Map(rows.map((r) => [r.at, { count: r.n }]));
}

/** Messages per bucket by outcome, over the same span as countEvents. */
async function countMessages(
  pool: Pool,
  workspaceId: string,
  window: SeriesWindow,
  midnight: Date,
): Promise<Map<number, { sent: number; skipped: number; failed: number }>> {
  // A decided message's outcome time is its sent_at (sent) or its updated_at (skipped, failed); an
  // open or a click moves updated_at later, never earlier, so the index range on updated_at from the
  // window's start holds every message decided in the window.
  const { rows } = await pool.query<{ at: number; sent: number; skipped: number; failed: number }>(
    `SELECT (floor(extract(epoch FROM decided_at) / $4) * $4)::bigint AS at,
       count(*) FILTER (WHERE status IN ('sent', 'delivered')) AS sent,
       count(*) FILTER (WHERE status = 'skipped') AS skipped,
       count(*) FILTER (WHERE status IN ('failed', 'bounced')) AS failed
     FROM (SELECT status,
             CASE WHEN status IN ('sent', 'delivered') THEN coalesce(sent_at, updated_at) ELSE updated_at END
               AS decided_at
           FROM messages
           WHERE workspace_id = $1 AND updated_at >= $2
             AND status IN ('sent', 'delivered', 'skipped', 'failed', 'bounced')) m
     WHERE decided_at >= $2 AND decided_at < $3
     GROUP BY 1`,
    [workspaceId, earlier(window.from, midnight), window.until, window.bucketSeconds],
  );
  return new Map(rows.map(({ at, ...counts }) => [at, counts]));
}

const earlier = (a: Date, b: Date): Date => (a < b ? a : b);
