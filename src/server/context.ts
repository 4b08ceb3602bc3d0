import type { FastifyBaseLogger } from "fastify";
import type { Pool } from "pg";
import type { EventWriter } from "../ingest/index.ts";
import type { VersionCache } from "../journeys/index.ts";
import type { ChannelRegistry } from "../messaging/index.ts";
import type { SuppressionList } from "../profiles/index.ts";
import type { Workspace, WorkspaceResolver } from "../workspaces/index.ts";
import type { Metrics } from "./metrics.ts";

/** What the routes are given: ports and services, never module internals. */
export interface ServerDeps {
  pool: Pool;
  writer: EventWriter;
  workspaces: WorkspaceResolver;
  metrics: Metrics;
  /** Which routes this process serves: `worker` answers only health, readiness and metrics. */
  role: "all" | "api" | "worker";
  logger?: FastifyBaseLogger;
  /** Proxies whose X-Forwarded-For sets the client IP (default: none). */
  trustProxy?: boolean | string[];
  /** Clock for receivedAt (tests may pin it). */
  now?: () => Date;
  /** Erased people's identifiers, checked at ingest (default: one built on `pool`). */
  suppression?: SuppressionList;
  /** Published journey versions (immutable), shared with the journey runtime. */
  versions?: VersionCache;
  /** The workspaces' channels, shared with the messaging worker so a PUT takes effect at once. */
  channels?: ChannelRegistry;
  /** Where links in messages and previews point (WAYMARK_PUBLIC_URL, else the server's address). */
  publicUrl?: string;
  /** The built web app served at `/` (default: web/dist of this package). */
  webRoot?: string;
}

/** What routes get once the app has filled in the defaults. */
export type RouteDeps = ServerDeps & { suppression: SuppressionList; channels: ChannelRegistry };

declare module "fastify" {
  interface FastifyRequest {
    /** The workspace of the authenticated admin token. */
    workspace: Workspace;
  }
}
