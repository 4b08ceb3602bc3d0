import fastifySwagger from "@fastify/swagger";
import fastifySwaggerUi from "@fastify/swagger-ui";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import { jsonSchemaTransform, serializerCompiler, validatorCompiler } from "fastify-type-provider-zod";
import { requireAdminToken } from "./auth.ts";
import type { RouteDeps, ServerDeps } from "./context.ts";
import { errorHandler } from "./errors.ts";
import { observePipelineLag } from "./metrics.ts";
import { ChannelRegistry } from "../messaging/index.ts";
import { createOutboundClient, parseAllowList } from "../outbound/index.ts";
import { pipelineLag } from "../pipeline/index.ts";
import { SuppressionList } from "../profiles/index.ts";
import { channelRoutes } from "./routes/channels.ts";
import { consentPageRoutes, consentRoutes } from "./routes/consent.ts";
import { engagementRoutes } from "./routes/engagement.ts";
import { eventRoutes } from "./routes/events.ts";
import { identityRoutes } from "./routes/identity.ts";
import { journeyRoutes } from "./routes/journeys.ts";
import { messageRoutes } from "./routes/messages.ts";
import { overviewRoutes } from "./routes/overview.ts";
import { gdprRoutes } from "./routes/gdpr.ts";
import { pipelineRoutes } from "./routes/pipeline.ts";
import { profileRoutes, resolveProfileRefs } from "./routes/profiles.ts";
import { systemRoutes } from "./routes/system.ts";
import { tableRoutes } from "./routes/tables.ts";
import { templateRoutes } from "./routes/templates.ts";
import { DEFAULT_WEB_ROOT, webRoutes } from "./web.ts";
import { trackingRoutes } from "./routes/tracking.ts";

/** Builds the HTTP app. Routes are thin: parse with the schema, call one service, map the result. */
export async function buildApp(serverDeps: ServerDeps): Promise<FastifyInstance> {
  // Without a registry from the caller, one of our own: it only has cached channels to forget on a
  // PUT (nothing sends through it, so its outbound client allows nothing non-public).
  const ownOutbound = serverDeps.channels
    ? undefined
    : createOutboundClient({ allow: parseAllowList(undefined) });
  // One suppression list for ingest and erasure, so an erasure here takes effect at once.
  const deps: RouteDeps = {
    ...serverDeps,
    suppression: serverDeps.suppression ?? new SuppressionList(serverDeps.pool),
    channels: serverDeps.channels ?? new ChannelRegistry(serverDeps.pool, { outbound: ownOutbound! }),
  };
  const app = Fastify({
    ...(deps.logger ? { loggerInstance: deps.logger } : { logger: false }),
    // Per-request logs would cost more than the tracking request itself; metrics count requests.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: deps.trustProxy ?? false,
    bodyLimit: 1024 * 1024,
    // Signed link tokens (unsubscribe, click redirect) travel as path parameters.
    routerOptions: { maxParamLength: 4096 },
    return503OnClosing: true,
  });
  if (ownOutbound) {
    app.addHook("onClose", async () => {
      await deps.channels.close();
      await ownOutbound.close();
    });
  }
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  app.setErrorHandler(errorHandler);
  let serveApp: Awaited<ReturnType<typeof webRoutes>> = () => false;
  app.setNotFoundHandler((req, reply) => {
    if (serveApp(req, reply)) return;
    void reply
      .code(404)
      .send({ error: "not_found", message: `no route ${req.method} ${req.url.split("?")[0]}` });
  });

  observePipelineLag(deps.metrics, () => pipelineLag(deps.pool, deps.now?.() ?? new Date()));

  app.addHook("onResponse", async (req, reply) => {
    const route = req.routeOptions.url ?? "unmatched";
    deps.metrics.requests.inc({ method: req.method, route, status: reply.statusCode });
    deps.metrics.requestSeconds.observe({ route }, reply.elapsedTime / 1000);
  });

  await app.register(fastifySwagger, {
    openapi: {
      info: {
        title: "Waymark API",
        version: "0.1.0",
        description:
          "Tracking API (Segment-compatible, write key) and admin API (Bearer admin token). " +
          "Keys are in credentials.json in the data dir.",
      },
      components: {
        securitySchemes: {
          writeKey: {
            type: "http",
            scheme: "basic",
            description: "write key as the user name, empty password",
          },
          adminToken: { type: "http", scheme: "bearer" },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: "/api/docs" });
  app.get("/api/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  await app.register(systemRoutes, deps);
  if (deps.role !== "worker") {
    serveApp = await webRoutes(app, deps.webRoot ?? DEFAULT_WEB_ROOT);
    await app.register(trackingRoutes, deps);
    // The unsubscribe and preference pages: no token, the link's signature is the credential.
    await app.register(consentPageRoutes, deps);
    await app.register(engagementRoutes, deps);
    await app.register(async (admin) => {
      requireAdminToken(admin, deps.workspaces);
      resolveProfileRefs(admin, deps.pool);
      await eventRoutes(admin, deps);
      await profileRoutes(admin, deps);
      await identityRoutes(admin, deps);
      await gdprRoutes(admin, deps);
      await pipelineRoutes(admin, deps);
      await tableRoutes(admin, deps);
      await journeyRoutes(admin, deps);
      await templateRoutes(admin, deps);
      await consentRoutes(admin, deps);
      await channelRoutes(admin, deps);
      await messageRoutes(admin, deps);
      await overviewRoutes(admin, deps);
    });
  }
  return app;
}
