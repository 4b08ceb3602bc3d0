import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { erasePerson, exportPerson, listErasures } from "../../profiles/index.ts";
import type { RouteDeps } from "../context.ts";
import { PROFILE_REF, profileSchema } from "./profiles.ts";

const row = z.record(z.string(), z.unknown());
const journeyInstanceSchema = z.object({
  id: z.string(),
  journey: z.string(),
  version: z.number().int(),
  profileId: z.string(),
  key: z.string().nullable(),
  status: z.string(),
  currentStep: z.string().nullable(),
  dueAt: z.string().nullable(),
  goalUntil: z.string().nullable(),
  enteredAt: z.string(),
  endedAt: z.string().nullable(),
  endReason: z.string().nullable(),
  goalReachedAt: z.string().nullable(),
  waiting: z.unknown().describe("what the instance waits for, or null"),
  context: row.describe("the instance's context as stored: trigger event, collections, lookups, responses"),
  timeline: z.array(row).describe("every audit row of the instance, in order"),
  effects: z.array(row).describe("its outbox effects and their delivery (not the rendered request)"),
});
const exportSchema = z.object({
  exportedAt: z.string(),
  workspaceId: z.string(),
  profile: profileSchema.describe("the surviving profile"),
  profiles: z.array(row).describe("stored profile rows: the survivor and those merged into it"),
  identities: z.array(row),
  merges: z.array(row).describe("merges into and out of their profiles"),
  identityDecisions: z.array(row),
  stitchSuggestions: z.array(row),
  deviceSightings: z.array(row).describe("where their devices were seen (hashed IP and user agent)"),
  events: z.array(row).describe("every event of theirs in the log, oldest first"),
  deadLetters: z.array(row).describe("refused messages mentioning one of their identifiers"),
  journeyInstances: z
    .array(journeyInstanceSchema)
    .describe("their journey instances, oldest entry first, with timelines and effects"),
  messages: z.array(row).describe("every message to them, oldest first: address, status, rendering data"),
  subscriptions: z.array(row).describe("their subscription choices by topic and channel"),
  messageSuppressions: z
    .array(row)
    .describe("suppression-list entries for their addresses (the list keeps only a hash of each)"),
});
// Erasures logged before the journey runtime existed have no journey counts.
const journeyCount = z.number().int().optional();
const countsSchema = z.object({
  profiles: z.number().int(),
  identities: z.number().int(),
  events: z.number().int(),
  deadLetters: z.number().int(),
  identityDecisions: z.number().int(),
  merges: z.number().int(),
  stitchSuggestions: z.number().int(),
  deviceSightings: z.number().int(),
  queuedEvents: z.number().int(),
  suppressedIdentifiers: z.number().int(),
  journeyInstances: journeyCount,
  journeyAuditRows: journeyCount,
  outboxEffects: journeyCount,
  messageSubscriptions: journeyCount,
  suppressedAddresses: journeyCount,
  messages: journeyCount,
});
const erasureSchema = z.object({ id: z.number().int(), erasedAt: z.string(), counts: countsSchema });
const idParams = z.object({
  id: z.string().describe(PROFILE_REF),
});

/** Right of access and right to erasure (admin token). */
export async function gdprRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const common = { tags: ["privacy"], security: [{ adminToken: [] }] };
  const now = deps.now ?? (() => new Date());
  r.get(
    "/api/v1/profiles/:id/export",
    {
      schema: {
        ...common,
        summary: "Everything stored about the person (right of access)",
        params: idParams,
        response: { 200: exportSchema },
      },
    },
    async (req) => exportPerson(deps.pool, req.workspace.id, req.params.id, now()),
  );
  r.delete(
    "/api/v1/profiles/:id",
    {
      schema: {
        ...common,
        summary:
          "Erase the person: profiles, identities, events, dead letters, journey instances; suppress their identifiers",
        description:
          "One transaction. Their identifiers are added to the suppression list (hashed), so later events " +
          "carrying them are dropped at ingest; the erasure log keeps the counts only. Their journey " +
          "instances go with their timelines and outbox effects, so a pending webhook to them is never sent.",
        params: idParams,
        response: { 200: erasureSchema },
      },
    },
    async (req) => erasePerson(deps.pool, deps.suppression, req.workspace.id, req.params.id, now()),
  );
  r.get(
    "/api/v1/erasures",
    {
      schema: {
        ...common,
        summary: "The erasure log (counts only, never whom) and how many messages suppression dropped",
        querystring: z.strictObject({
          limit: z.coerce.number().int().min(1).max(1000).default(50),
          cursor: z.string().optional(),
        }),
        response: {
          200: z.object({
            items: z.array(erasureSchema),
            nextCursor: z.string().nullable(),
            suppressedMessages: z.number().int(),
          }),
        },
      },
    },
    async (req) => listErasures(deps.pool, req.workspace.id, req.query),
  );
}
