import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { findProfiles, getProfile, profileEvents, profileIdOfRef } from "../../profiles/index.ts";
import type { ServerDeps } from "../context.ts";

const jsonObject = z.record(z.string(), z.unknown());

/** What a profile route's `:id` takes. */
export const PROFILE_REF =
  "a profile id (a merged-away id stands for its survivor), or an identifier as type:value, e.g. " +
  "user_id:user-42 or email:ada@example.com";
export const profileSchema = z.object({
  id: z.string(),
  traits: jsonObject,
  identities: z.array(z.object({ type: z.string(), value: z.string() })),
  firstSeen: z.string().nullable(),
  lastSeen: z.string().nullable(),
  lastIp: z.string().nullable(),
  location: jsonObject.nullable(),
  timezone: z.string().nullable(),
  device: jsonObject.nullable(),
  eventCount: z.number(),
  counts: z.record(z.string(), z.number()),
  mergedFrom: z.array(z.object({ id: z.string(), cause: z.string(), at: z.string() })),
  identityDecisions: z
    .number()
    .int()
    .describe("identity decisions about this person; GET /api/v1/identity/decisions?profileId= lists them"),
});

const page = {
  limit: z.coerce.number().int().min(1).max(1000).default(50).describe("items per page (1-1000)"),
  cursor: z.string().optional().describe("nextCursor of the previous page"),
};
const idParams = z.object({
  id: z.string().describe(PROFILE_REF),
});

/** Reading unified profiles (admin token). */
export async function profileRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const common = { tags: ["profiles"], security: [{ adminToken: [] }] };
  r.get(
    "/api/v1/profiles",
    {
      schema: {
        ...common,
        summary: "Find profiles by identifier or free text",
        querystring: z.strictObject({
          ...page,
          query: z.string().optional().describe("text in an identifier or a trait"),
          userId: z.string().optional(),
          anonymousId: z.string().optional(),
          email: z.string().optional(),
        }),
        response: { 200: z.object({ items: z.array(profileSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const { limit, cursor, ...q } = req.query;
      return findProfiles(deps.pool, req.workspace.id, q, { limit, cursor });
    },
  );
  r.get(
    "/api/v1/profiles/:id",
    {
      schema: {
        ...common,
        summary: "One profile: traits, identities, merges",
        params: idParams,
        response: { 200: profileSchema },
      },
    },
    async (req) =>
      getProfile(
        deps.pool,
        req.workspace.id,
        await profileIdOfRef(deps.pool, req.workspace.id, req.params.id),
      ),
  );
  r.get(
    "/api/v1/profiles/:id/events",
    {
      schema: {
        ...common,
        summary: "The profile's whole event history across its merged ids, newest first",
        params: idParams,
        querystring: z.strictObject(page),
      },
    },
    async (req) =>
      profileEvents(
        deps.pool,
        req.workspace.id,
        await profileIdOfRef(deps.pool, req.workspace.id, req.params.id),
        req.query,
      ),
  );
}
