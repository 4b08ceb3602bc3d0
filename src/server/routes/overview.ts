import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { workspaceOverview } from "../../analytics/index.ts";
import type { ServerDeps } from "../context.ts";

const count = z.number().int();

const overviewSchema = z.object({
  generatedAt: z.string().describe("the server's time the overview was taken at"),
  hours: z.number().int().describe("the window of the series"),
  eventsPerMinute: z
    .object({
      bucketSeconds: z
        .number()
        .int()
        .describe("60 up to 4 hours, 300 up to 24, 900 up to 72, 1800 up to 144, then 3600"),
      items: z.array(
        z.object({
          at: z.string().describe("the bucket's start (ISO 8601)"),
          count: count.describe("events received in the bucket (per bucket, not per minute)"),
        }),
      ),
    })
    .describe("events received, in at most 288 buckets, oldest first; the last one holds now"),
  messagesPerHour: z
    .object({
      bucketSeconds: z.number().int().describe("3600"),
      items: z.array(
        z.object({
          at: z.string().describe("the hour's start (ISO 8601)"),
          sent: count.describe("messages sent in the hour (delivered included)"),
          skipped: count.describe("messages skipped in the hour (consent, caps, no address, ...)"),
          failed: count.describe("messages that failed in the hour (bounced included)"),
        }),
      ),
    })
    .describe("messages by outcome at the time of the outcome, one bucket per hour, oldest first"),
  today: z
    .object({
      since: z.string().describe("UTC midnight of the server's day"),
      events: count,
      messagesSent: count,
      messagesSkipped: count,
      messagesFailed: count,
    })
    .describe("since UTC midnight"),
  liveInstances: count.describe("journey instances running now (status active), in every journey"),
  journeys: z
    .object({ draft: count, active: count, paused: count, archived: count })
    .describe("journeys by status: draft (never published), active (published, running), paused, archived"),
  pipelineLagSeconds: z
    .number()
    .describe("the age of the oldest event the pipeline has not applied yet (0 when it is caught up)"),
});

/** The workspace at a glance, for the UI's home page (admin token). */
export async function overviewRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/v1/overview",
    {
      schema: {
        tags: ["overview"],
        summary: "The workspace at a glance: events and messages over time, today's counts, journeys, lag",
        description:
          "Series cover the last `hours` in fixed buckets aligned to the Unix epoch, with a point for every " +
          "bucket (zeros included); the last bucket holds now and is still filling.",
        security: [{ adminToken: [] }],
        querystring: z.strictObject({
          hours: z.coerce.number().int().min(1).max(168).default(24).describe("the window (1 to 168 hours)"),
        }),
        response: { 200: overviewSchema },
      },
    },
    async (req) => workspaceOverview(deps.pool, req.workspace.id, now(), req.query.hours),
  );
}
