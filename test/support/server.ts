import type { FastifyInstance } from "fastify";
import { inject } from "vitest";
import { EventWriter, ensurePartitions } from "../../src/ingest/index.ts";
import { JourneyWorker, VersionCache, journeyStage } from "../../src/journeys/index.ts";
import { ChannelRegistry, MessagingWorker, subscriptionStage } from "../../src/messaging/index.ts";
import { createOutboundClient, parseAllowList } from "../../src/outbound/index.ts";
import { PipelineWorker, type PipelineStage } from "../../src/pipeline/index.ts";
import { profileStage } from "../../src/profiles/index.ts";
import { buildApp, createMetrics, observeWrites } from "../../src/server/index.ts";
import { WorkspaceResolver, createWorkspace, type WorkspaceKeys } from "../../src/workspaces/index.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";

export interface TestServer {
  /** Base URL of the listening server, e.g. http://127.0.0.1:41234 */
  url: string;
  app: FastifyInstance;
  db: TestDatabase;
  keys: WorkspaceKeys;
  /** The pipeline worker, when started with `pipeline: true`. */
  pipeline: PipelineWorker | undefined;
  /** The journey runtime's timer loop and outbox, when started with `pipeline: true`. */
  journeys: JourneyWorker | undefined;
  /** The messaging worker (message log intake and dispatcher), when started with `pipeline: true`. */
  messaging: MessagingWorker | undefined;
  /** fetch against the server with the admin token. */
  admin(path: string, init?: RequestInit): Promise<Response>;
  /** POST JSON to a tracking route with the write key as HTTP Basic user. */
  track(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** The real server on a fresh database, listening on a loopback port, with one workspace. */
export async function startTestServer(
  options: {
    now?: () => Date;
    pipeline?: boolean;
    /**
     * `paused`: the pipeline worker is built but not started (events wait in the log); the test
     * calls `pipeline.start()` when it wants them applied (default: started).
     */
    pipelineStart?: "auto" | "paused";
    /** Stages the pipeline runs after the profile stage (test-only stages that record what they see). */
    stages?: PipelineStage[];
    /** The pipeline's batch size (default: the worker's). */
    batchSize?: number;
    /** WAYMARK_OUTBOUND_ALLOW for the journey runtime's webhooks (default: 127.0.0.1). */
    outboundAllow?: string;
    /** Resolver for outbound host names (tests map names to loopback addresses). */
    lookup?: Parameters<typeof createOutboundClient>[0]["lookup"];
    /** Timer and outbox poll interval (ms). */
    pollMs?: number;
    /** WAYMARK_PUBLIC_URL: the base of links in messages and previews (default: the server's URL). */
    publicUrl?: string;
    /**
     * `manual`: the messaging worker is built but not started; the test drives `acceptOnce` and
     * `sendOnce` itself, for a decision order it chooses (default: started).
     */
    messaging?: "auto" | "manual";
    /** Messages the messaging worker sends at once (default: the worker's). */
    messagingConcurrency?: number;
  } = {},
): Promise<TestServer> {
  const db = await createTestDatabase();
  await ensurePartitions(db.pool, new Date());
  const keys = await createWorkspace(db.pool, "test");
  const metrics = createMetrics();
  const versions = new VersionCache();
  const writer = new EventWriter(db.pool, { onFlush: observeWrites(metrics) });
  const outbound = createOutboundClient({
    allow: parseAllowList(options.outboundAllow ?? "127.0.0.1"),
    timeoutMs: 10_000,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  });
  const channels = new ChannelRegistry(db.pool, { outbound, ...(options.now ? { now: options.now } : {}) });
  const app = await buildApp({
    pool: db.pool,
    writer,
    workspaces: new WorkspaceResolver(db.pool),
    metrics,
    role: "all",
    versions,
    channels,
    ...(options.publicUrl ? { publicUrl: options.publicUrl } : {}),
    ...(options.now ? { now: options.now } : {}),
    // This run's build of the web app (test/support/global-setup.ts), else web/dist.
    ...(inject("webRoot") ? { webRoot: inject("webRoot") } : {}),
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  const pipeline = options.pipeline
    ? new PipelineWorker(db.pool, {
        stages: [
          profileStage,
          subscriptionStage,
          journeyStage({ versions, ...(options.now ? { now: options.now } : {}) }),
          ...(options.stages ?? []),
        ],
        // No fast polling: the tests go through the LISTEN/NOTIFY wake-ups the product uses.
        ...(options.batchSize ? { batchSize: options.batchSize } : {}),
        onApplied: (stage, events) => metrics.pipelineApplied.inc({ stage }, events),
      })
    : undefined;
  if (options.pipelineStart !== "paused") pipeline?.start();
  const journeys = options.pipeline
    ? new JourneyWorker(db.pool, {
        versions,
        outbound,
        pollMs: options.pollMs ?? 50,
        ...(options.now ? { now: options.now } : {}),
      })
    : undefined;
  journeys?.start();
  const address = app.server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
  const messaging = options.pipeline
    ? new MessagingWorker(db.pool, {
        channels,
        publicUrl: options.publicUrl ?? url,
        pollMs: options.pollMs ?? 50,
        // A failing round is a bug the test should show, not a silent retry.
        onError: (err) => console.error("messaging round failed:", err),
        ...(options.now ? { now: options.now } : {}),
        ...(options.messagingConcurrency ? { concurrency: options.messagingConcurrency } : {}),
      })
    : undefined;
  if (options.messaging !== "manual") messaging?.start();
  const basic = `Basic ${Buffer.from(`${keys.writeKey}:`).toString("base64")}`;
  return {
    url,
    app,
    db,
    keys,
    admin: (path, init = {}) =>
      fetch(url + path, {
        ...init,
        headers: { authorization: `Bearer ${keys.adminToken}`, ...init.headers },
      }),
    track: (path, body, headers = {}) =>
      fetch(url + path, {
        method: "POST",
        headers: { authorization: basic, "content-type": "application/json", ...headers },
        body:
          typeof body === "string" || body instanceof Uint8Array ? (body as BodyInit) : JSON.stringify(body),
      }),
    pipeline,
    journeys,
    messaging,
    close: async () => {
      await pipeline?.stop();
      await journeys?.stop();
      await messaging?.stop();
      await channels.close();
      await outbound.close();
      await app.close();
      await writer.close();
      await db.drop();
    },
  };
}
