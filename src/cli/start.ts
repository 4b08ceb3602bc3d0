import { pino, type Logger } from "pino";
import { migrate } from "../db/index.ts";
import { EventWriter, ensurePartitions } from "../ingest/index.ts";
import { JourneyWorker, VersionCache, journeyStage } from "../journeys/index.ts";
import { ChannelRegistry, MessagingWorker, subscriptionStage } from "../messaging/index.ts";
import { createOutboundClient } from "../outbound/index.ts";
import { PipelineWorker } from "../pipeline/index.ts";
import { profileStage } from "../profiles/index.ts";
import { buildApp, createMetrics, observeWrites } from "../server/index.ts";
import { WorkspaceResolver } from "../workspaces/index.ts";
import type { Config } from "./config.ts";
import { bootstrapWorkspace, credentialsPath, refreshApiUrl } from "./credentials.ts";
import { openDatabase } from "./database.ts";

export interface RunningServer {
  url: string;
  /** Stops accepting, finishes in-flight commits and answers them, closes the pool, stops PostgreSQL. */
  stop(): Promise<void>;
}

const HOUR = 3_600_000;

export function createLogger(level: string): Logger {
  // Logs go to stderr; stdout carries the start banner. Credentials are never logged.
  return pino(
    { level, redact: ["req.headers.authorization", "*.adminToken", "*.password"] },
    pino.destination({ fd: 2, sync: false }),
  );
}

/**
 * Connections per process. The API's pool is kept small: on 2 cores more than a few statements at once
 * only queue inside PostgreSQL, and each backend maps every shared-buffer page it touches anew (a page
 * fault each, costly on some virtual machines): a burst of reads that opened 20 backends left 20 cold
 * ones (profile-read benchmark at 1,000 reads/s: PostgreSQL page faults per read 0.9-1.3 with 20, 0.2
 * with 5). The workers (9 pipeline units, the journey runtime, messaging) get a pool of their own so
 * that a burst of requests never waits behind them, nor they behind it.
 */
const API_POOL_SIZE = 8;
const WORKER_POOL_SIZE = 16;

/** `waymark start`: database, migrations, first workspace, HTTP server and background upkeep. */
export async function startServer(config: Config, log: Logger): Promise<RunningServer> {
  const db = await openDatabase(config, log, API_POOL_SIZE, WORKER_POOL_SIZE);
  try {
    const applied = await migrate(db.pool);
    if (applied.length) log.info({ applied }, "migrations applied");
    await ensurePartitions(db.pool, new Date());

    const metrics = createMetrics();
    const versions = new VersionCache();
    const writer = new EventWriter(db.pool, { onFlush: observeWrites(metrics) });
    const outbound = createOutboundClient({ allow: config.outboundAllow });
    // One registry for the API and the dispatcher: a PUT of a channel takes effect at once.
    const channels = new ChannelRegistry(db.pool, { outbound });
    const app = await buildApp({
      pool: db.pool,
      writer,
      workspaces: new WorkspaceResolver(db.pool),
      metrics,
      role: config.role,
      trustProxy: config.trustProxy,
      logger: log,
      versions,
      channels,
      ...(config.publicUrl ? { publicUrl: config.publicUrl } : {}),
    });
    const pipeline =
      config.role === "api"
        ? undefined
        : new PipelineWorker(db.workerPool, {
            stages: [profileStage, subscriptionStage, journeyStage({ versions })],
            onError: (err) => log.error({ err }, "pipeline batch failed; retrying"),
            onApplied: (stage, events) => metrics.pipelineApplied.inc({ stage }, events),
          });
    const journeys =
      config.role === "api"
        ? undefined
        : new JourneyWorker(db.workerPool, {
            versions,
            outbound,
            leaseMs: config.outboxLeaseMs,
            onError: (err) => log.error({ err }, "journey runtime round failed; retrying"),
          });
    await app.listen({ port: config.port, host: config.host });
    pipeline?.start();
    journeys?.start();
    const address = app.server.address();
    const port = typeof address === "object" && address ? address.port : config.port;
    const shownHost = config.host === "0.0.0.0" || config.host === "::" ? "127.0.0.1" : config.host;
    const url =
      config.publicUrl ?? `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${port}`;
    const messaging =
      config.role === "api"
        ? undefined
        : new MessagingWorker(db.workerPool, {
            channels,
            publicUrl: url,
            leaseMs: config.messageLeaseMs,
            onError: (err) => log.error({ err }, "messaging round failed; retrying"),
          });
    messaging?.start();

    const created = await bootstrapWorkspace(db.pool, config.dataDir, url);
    // A worker serves no API: credentials.json keeps the address of the server that does.
    if (!created && config.role !== "worker" && !(await refreshApiUrl(config.dataDir, url))) {
      log.warn(
        "workspaces exist but this data dir has no credentials.json; use `waymark workspaces create <name>`",
      );
    }
    if (config.role === "worker" && !config.publicUrl) {
      log.warn(
        `WAYMARK_PUBLIC_URL is not set: links in the messages this worker sends (clicks, opens, unsubscribes) ` +
          `are built on its own address, ${url}, which does not serve them; set it to the API's address`,
      );
    }
    // Partitions a few months ahead, kept up by every worker (the SQL function is safe to race).
    const upkeep =
      config.role === "api"
        ? undefined
        : setInterval(() => {
            ensurePartitions(db.workerPool, new Date()).catch((err) =>
              log.error({ err }, "partition upkeep failed"),
            );
          }, HOUR).unref();

    process.stdout.write(
      `Waymark ${config.role === "worker" ? "worker" : "server"} listening on ${url}\n` +
        `  database:    ${db.describe}\n` +
        `  credentials: ${credentialsPath(config.dataDir)}${created ? " (new workspace created)" : ""}\n` +
        (config.role === "worker" ? "" : `  web app:     ${url}/\n`) +
        `  API docs:    ${url}/api/docs\n`,
    );

    return {
      url,
      stop: async () => {
        clearInterval(upkeep);
        // Stops accepting; in-flight requests finish (they await their commit). Node closes the
        // connections that are idle when close() starts, but a keep-alive connection whose request is in
        // flight goes idle afterwards and would hold close() for the keep-alive timeout (72 s), past the
        // 10 s promise: close those too as soon as they go idle.
        const reaper = setInterval(() => app.server.closeIdleConnections(), 50);
        try {
          await app.close();
        } finally {
          clearInterval(reaper);
        }
        await writer.close();
        // Finishes the batches in flight and gives the leases back, so other workers take the units
        // over at once instead of after the lease expires.
        await pipeline?.stop();
        await journeys?.stop();
        await messaging?.stop();
        await channels.close();
        await outbound.close();
        await db.close();
      },
    };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
