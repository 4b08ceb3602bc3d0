import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { enqueueSend, getMessage, listMessages, retryMessage } from "../../messaging/index.ts";
import type { ServerDeps } from "../context.ts";

const common = { tags: ["messages"], security: [{ adminToken: [] }] };
const idParams = z.object({ id: z.string().describe("a message id") });

/** The send API and the message log (admin token). */
export async function messageRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? (() => new Date());
  r.post(
    "/api/v1/send",
    {
      schema: {
        ...common,
        summary: "Send a template to a person now (transactional by default)",
        description:
          "Queues the message and answers 202 with its id; the message log shows what happened. A " +
          "transactional message skips topics, caps and quiet hours, but never a suppressed address. A " +
          "person not known yet may be in an event accepted a moment before: the send waits up to 5 s " +
          "for the pipeline to apply the events accepted before it (503 with Retry-After if it is " +
          "further behind; 404 when nobody has the id).",
        body: z.object({
          template: z.string().min(1).max(100),
          to: z
            .object({
              userId: z.string().min(1).max(512).optional(),
              email: z.email().optional(),
              profileId: z.uuid().optional(),
            })
            .refine((t) => t.userId || t.email || t.profileId, {
              message: "one of userId, email or profileId is required",
            }),
          data: z.record(z.string(), z.unknown()).default({}).describe("available to the template as `data`"),
          transactional: z.boolean().default(true),
          topic: z.string().max(100).optional(),
          messageId: z.string().min(1).max(200).optional().describe("makes a retried call idempotent"),
        }),
      },
    },
    async (req, reply) =>
      reply.code(202).send(await enqueueSend(deps.pool, req.workspace.id, req.body, now())),
  );
  r.get(
    "/api/v1/messages",
    {
      schema: {
        ...common,
        summary: "The message log, newest first: status and, when not sent, why",
        querystring: z.strictObject({
          profileId: z.string().optional(),
          journey: z.string().optional(),
          status: z.enum(["queued", "sent", "skipped", "failed", "bounced"]).optional(),
          limit: z.coerce.number().int().min(1).max(1000).default(50),
          cursor: z.string().optional(),
        }),
      },
    },
    async (req) => listMessages(deps.pool, req.workspace.id, req.query),
  );
  r.get(
    "/api/v1/messages/:id",
    { schema: { ...common, summary: "One message", params: idParams } },
    async (req) => getMessage(deps.pool, req.workspace.id, req.params.id),
  );
  r.post(
    "/api/v1/messages/:id/retry",
    { schema: { ...common, summary: "Queue a failed, bounced or skipped message again", params: idParams } },
    async (req) => retryMessage(deps.pool, req.workspace.id, req.params.id, now()),
  );
}
