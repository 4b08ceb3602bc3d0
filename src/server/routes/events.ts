import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { STORED_TYPES, listEvents, listRejected, storedEventSchema } from "../../ingest/index.ts";
import { webhookSecretOf } from "../../messaging/index.ts";
import type { ServerDeps } from "../context.ts";

const pageQuery = {
  limit: z.coerce.number().int().min(1).max(1000).default(100).describe("items per page (1-1000)"),
  cursor: z.string().optional().describe("nextCursor of the previous page"),
};

const rejectedSchema = z.object({
  id: z.number().int(),
  receivedAt: z.string(),
  route: z.string(),
  reasonCode: z.string(),
  reason: z.string(),
  messageId: z.string().nullable(),
  raw: z.string().describe("the message or body as received"),
});

/** Reading the event log back (admin token). */
export async function eventRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    "/api/v1/events",
    {
      schema: {
        tags: ["events"],
        summary: "The workspace's events, newest first",
        security: [{ adminToken: [] }],
        querystring: z.strictObject({
          ...pageQuery,
          type: z.enum(STORED_TYPES).optional(),
          event: z.string().optional(),
          userId: z.string().optional(),
          anonymousId: z.string().optional(),
        }),
        response: { 200: z.object({ items: z.array(storedEventSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => {
      const { limit, cursor, ...filter } = req.query;
      return listEvents(deps.pool, req.workspace.id, filter, { limit, cursor });
    },
  );
  r.get(
    "/api/v1/events/rejected",
    {
      schema: {
        tags: ["events"],
        summary: "Messages the tracking API refused (dead letters), newest first, with their reasons",
        security: [{ adminToken: [] }],
        querystring: z.strictObject(pageQuery),
        response: { 200: z.object({ items: z.array(rejectedSchema), nextCursor: z.string().nullable() }) },
      },
    },
    async (req) => listRejected(deps.pool, req.workspace.id, req.query),
  );
  r.get(
    "/api/v1/workspace",
    {
      schema: {
        tags: ["workspace"],
        summary: "The workspace of the admin token, with its write key and webhook secret",
        description:
          "webhookSecret (whsec_...) signs outgoing webhooks per Standard Webhooks; receivers verify with it.",
        security: [{ adminToken: [] }],
        response: {
          200: z.object({
            id: z.string(),
            name: z.string(),
            writeKey: z.string(),
            webhookSecret: z.string(),
            createdAt: z.string(),
          }),
        },
      },
    },
    async (req) => ({ ...req.workspace, webhookSecret: await webhookSecretOf(deps.pool, req.workspace.id) }),
  );
}
