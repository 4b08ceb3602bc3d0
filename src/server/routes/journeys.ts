import { randomUUID } from "node:crypto";
import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  JOURNEY_STATUSES,
  VersionCache,
  exitInstances,
  getInstance,
  getJourney,
  journeyDefinitionSchema,
  journeyStats,
  listInstances,
  listJourneys,
  publishJourney,
  saveDraft,
  setJourneyStatus,
  triggerJourney,
} from "../../journeys/index.ts";
import type { ServerDeps } from "../context.ts";

const keyParams = z.object({ key: z.string().min(1).max(100).describe("the journey's key") });
const common = { tags: ["journeys"], security: [{ adminToken: [] }] };

const journeyListSchema = z.object({
  items: z.array(
    z.object({
      key: z.string(),
      name: z.string(),
      status: z.enum(JOURNEY_STATUSES).describe("draft (never published), active, paused or archived"),
      publishedVersion: z
        .number()
        .int()
        .nullable()
        .describe("the latest published version; null for a draft"),
      draftUpdatedAt: z.string(),
      updatedAt: z.string(),
      activeInstances: z.number().int().describe("instances running now (status active), of every version"),
    }),
  ),
});

const instanceStatus = z.enum(["active", "completed", "exited", "held_out"]);

const page = {
  status: instanceStatus.optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  cursor: z.string().optional().describe("the previous page's nextCursor"),
};

const instanceListSchema = z.object({
  items: z.array(
    z.object({
      id: z.string(),
      journey: z.string().describe("the journey's key"),
      version: z.number().int().describe("the version the instance entered with"),
      profileId: z.string(),
      key: z.string().nullable().describe("the entry key (`entry.key`), when the journey has one"),
      status: instanceStatus,
      currentStep: z.string().nullable(),
      dueAt: z.string().nullable().describe("when its wait or hold ends"),
      enteredAt: z.string(),
      endedAt: z.string().nullable(),
      endReason: z.string().nullable(),
      goalReachedAt: z.string().nullable(),
      context: z.record(z.string(), z.unknown()),
    }),
  ),
  nextCursor: z.string().nullable(),
});

/** Journeys: drafts, publishing, status, triggers, stats and instances (admin token). */
export async function journeyRoutes(app: FastifyInstance, deps: ServerDeps & { versions?: VersionCache }) {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? (() => new Date());
  const versions = deps.versions ?? new VersionCache();

  r.get(
    "/api/v1/journeys/schema",
    { schema: { ...common, summary: "The journey definition as JSON Schema (for editors and tools)" } },
    async () => z.toJSONSchema(journeyDefinitionSchema, { io: "input", unrepresentable: "any" }),
  );
  r.get(
    "/api/v1/journeys",
    {
      schema: {
        ...common,
        summary: "Every journey by key: status, published version and instances running now",
        response: { 200: journeyListSchema },
      },
    },
    async (req) => ({
      items: await listJourneys(deps.pool, req.workspace.id),
    }),
  );
  r.put(
    "/api/v1/journeys/:key",
    {
      schema: {
        ...common,
        summary:
          "Save the draft; answers with its violations (a draft may have some; publish refuses it then)",
        description: "The body is a journey definition (GET /api/v1/journeys/schema), as JSON.",
        params: keyParams,
        body: z.record(z.string(), z.unknown()),
      },
    },
    async (req) => saveDraft(deps.pool, req.workspace.id, req.params.key, req.body),
  );
  r.get(
    "/api/v1/journeys/:key",
    {
      schema: {
        ...common,
        summary: "The journey: draft, its violations and every published version",
        params: keyParams,
      },
    },
    async (req) => getJourney(deps.pool, req.workspace.id, req.params.key),
  );
  r.post(
    "/api/v1/journeys/:key/publish",
    {
      schema: {
        ...common,
        summary: "Publish the draft as the next immutable version (422 with the violations when invalid)",
        description:
          "A draft equal to the published version of an active journey adds no version: the answer has " +
          "unchanged: true and the version that stays published.",
        params: keyParams,
      },
    },
    async (req, reply) => {
      const result = await publishJourney(deps.pool, req.workspace.id, req.params.key, now());
      if ("violations" in result) {
        return reply.code(422).send({
          error: "invalid_journey",
          message: `the draft breaks ${result.violations.length} rule(s); fix them and publish again`,
          violations: result.violations,
        });
      }
      return result;
    },
  );
  for (const action of ["pause", "resume"] as const) {
    r.post(
      `/api/v1/journeys/:key/${action}`,
      {
        schema: {
          ...common,
          summary:
            action === "pause"
              ? "Pause: no new entries, timers hold until resumed; events still reach instances"
              : "Resume a paused journey",
          params: keyParams,
        },
      },
      async (req) => ({
        journey: await setJourneyStatus(deps.pool, req.workspace.id, req.params.key, action, now()),
      }),
    );
  }
  r.post(
    "/api/v1/journeys/:key/archive",
    {
      schema: {
        ...common,
        summary: "Archive: no new entries; with exitInstances, every running instance ends now",
        params: keyParams,
        body: z.object({ exitInstances: z.boolean().default(false) }).default({ exitInstances: false }),
      },
    },
    async (req) => {
      const journey = await setJourneyStatus(deps.pool, req.workspace.id, req.params.key, "archive", now());
      const exited = req.body.exitInstances
        ? await exitInstances(
            deps.pool,
            versions,
            req.workspace.id,
            { journey: req.params.key },
            "journey archived",
            now(),
          )
        : 0;
      return { journey, exited };
    },
  );
  r.post(
    "/api/v1/journeys/:key/trigger",
    {
      schema: {
        ...common,
        summary: "Start the journey for a person (through the log, in order with their events)",
        description:
          "Appends a `Journey Triggered` event for the person; the pipeline enters them under the journey's " +
          "entry rules within moments. Answers 202 with the event's messageId.",
        params: keyParams,
        body: z
          .object({
            userId: z.string().min(1).max(512).optional(),
            anonymousId: z.string().min(1).max(512).optional(),
            profileId: z.uuid().optional(),
            properties: z.record(z.string(), z.unknown()).default({}),
            messageId: z.string().min(1).max(200).optional().describe("makes a retried call idempotent"),
          })
          .refine((b) => b.userId || b.anonymousId || b.profileId, {
            message: "one of userId, anonymousId or profileId is required",
          }),
      },
    },
    async (req, reply) => {
      const result = await triggerJourney(
        deps.pool,
        req.workspace.id,
        req.params.key,
        req.body,
        now(),
        randomUUID,
      );
      return reply.code(202).send(result);
    },
  );
  r.get(
    "/api/v1/journeys/:key/stats",
    {
      schema: {
        ...common,
        summary: "Per step: entered, waiting now, completed, ended there by reason; totals",
        params: keyParams,
      },
    },
    async (req) => {
      await getJourney(deps.pool, req.workspace.id, req.params.key);
      return journeyStats(deps.pool, req.workspace.id, req.params.key);
    },
  );
  r.get(
    "/api/v1/journeys/:key/instances",
    {
      schema: {
        ...common,
        summary: "The journey's instances, newest entry first",
        params: keyParams,
        querystring: z.strictObject({
          ...page,
          step: z
            .string()
            .optional()
            .describe("only instances at this step: waiting there now, or ended there"),
          userId: z.string().optional(),
          profileId: z.string().optional(),
        }),
        response: { 200: instanceListSchema },
      },
    },
    async (req) => listInstances(deps.pool, req.workspace.id, { ...req.query, journey: req.params.key }),
  );
  r.get(
    "/api/v1/instances",
    {
      schema: {
        ...common,
        summary: "A person's instances in every journey, newest entry first",
        description:
          "The person is a profile id (a merged-away id stands for the person it was merged into) or a " +
          "userId; their instances under profiles merged into theirs are included. An unknown person has " +
          "none.",
        querystring: z
          .strictObject({
            ...page,
            profileId: z.string().optional().describe("the person's profile id"),
            userId: z.string().optional().describe("or their userId"),
          })
          .refine((q) => q.profileId !== undefined || q.userId !== undefined, {
            message: "give profileId or userId",
          }),
        response: { 200: instanceListSchema },
      },
    },
    async (req) => listInstances(deps.pool, req.workspace.id, req.query),
  );
  r.get(
    "/api/v1/instances/:id",
    {
      schema: {
        ...common,
        summary: "One instance: state, context and its timeline of every transition with the reason",
        params: z.object({ id: z.string() }),
      },
    },
    async (req) => getInstance(deps.pool, req.workspace.id, req.params.id),
  );
  r.post(
    "/api/v1/instances/:id/exit",
    { schema: { ...common, summary: "End a running instance now", params: z.object({ id: z.string() }) } },
    async (req) => {
      await getInstance(deps.pool, req.workspace.id, req.params.id);
      const exited = await exitInstances(
        deps.pool,
        versions,
        req.workspace.id,
        { id: req.params.id },
        "exited through the API",
        now(),
      );
      return { exited: exited > 0 };
    },
  );
}
