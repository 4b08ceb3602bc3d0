import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { pipelineStatus } from "../../pipeline/index.ts";
import type { ServerDeps } from "../context.ts";

/** How far the pipeline is behind the log (admin token). */
export async function pipelineRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  app.withTypeProvider<ZodTypeProvider>().get(
    "/api/v1/pipeline",
    {
      schema: {
        tags: ["pipeline"],
        summary: "Per unit (resolve, apply partitions): last applied seq, lag in events and seconds, holder",
        security: [{ adminToken: [] }],
        response: {
          200: z.object({
            units: z.array(
              z.object({
                unit: z.string(),
                appliedSeq: z.number(),
                lagEvents: z.number(),
                lagSeconds: z.number(),
                owner: z.string().nullable(),
              }),
            ),
          }),
        },
      },
    },
    async (req) => ({
      units: await pipelineStatus(deps.pool, req.workspace.id, deps.now?.() ?? new Date()),
    }),
  );
}
