import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { isMigrated } from "../../db/index.ts";
import type { ServerDeps } from "../context.ts";

/** Liveness, readiness and metrics: no token, as load balancers and Prometheus expect. */
export async function systemRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  r.get(
    "/health",
    {
      schema: {
        tags: ["system"],
        summary: "The process is alive",
        response: { 200: z.object({ status: z.literal("ok") }) },
      },
    },
    async () => ({ status: "ok" as const }),
  );
  r.get(
    "/ready",
    {
      schema: {
        tags: ["system"],
        summary: "The database is reachable and migrated (503 otherwise)",
        response: {
          200: z.object({ status: z.literal("ready") }),
          503: z.object({ status: z.literal("unavailable"), reason: z.string() }),
        },
      },
    },
    async (_req, reply) => {
      try {
        if (await isMigrated(deps.pool)) return { status: "ready" as const };
        return reply.code(503).send({ status: "unavailable", reason: "database migrations are pending" });
      } catch (err) {
        return reply
          .code(503)
          .send({ status: "unavailable", reason: `database unreachable: ${(err as Error).message}` });
      }
    },
  );
  app.get(
    "/metrics",
    { schema: { tags: ["system"], summary: "Prometheus metrics" } },
    async (_req, reply) => {
      void reply.header("content-type", deps.metrics.registry.contentType);
      return deps.metrics.registry.metrics();
    },
  );
}
