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

/** The routes whose `:id` names a person (PROFILE_REF). */
const PERSON_ROUTE = "/api/v1/profiles/:id";

/**
 * On every route under /api/v1/profiles/:id (in this scope, after the admin token set the workspace),
 * an identifier written `type:value` is turned into the profile id holding it before the handler
 * runs, so each handler deals in profile ids only.
 */
export function resolveProfileRefs(app: FastifyInstance, pool: ServerDeps["pool"]): void {
  app.addHook("preHandler", async (req) => {
    const url = req.routeOptions.url;
    if (url !== PERSON_ROUTE && !url?.startsWith(`${PERSON_ROUTE}/`)) return;
    const params = req.params as { id: string };
    params.id = await profileIdOfRef(pool, req.workspace.id, params.id);
  });
}

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
    async (req) => getProfile(deps.pool, req.workspace.id, req.params.id),
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
    async (req) => profileEvents(deps.pool, req.workspace.id, req.params.id, req.query),
  );
}
