import path from "node:path";
import { parseAllowList, type AllowList } from "../outbound/index.ts";

/** Everything `waymark start` can be told, from flags first, then the environment, then defaults. */
export interface Config {
  port: number;
  host: string;
  dataDir: string;
  role: "all" | "api" | "worker";
  /** An external PostgreSQL; when absent an embedded one runs from `<dataDir>/pg`. */
  databaseUrl: string | undefined;
  /** How clients reach this server (written to credentials.json as apiUrl). */
  publicUrl: string | undefined;
  logLevel: string;
  /**
   * Proxies whose X-Forwarded-For is believed (sets the client IP stored as context.ip):
   * false (default), true (any), or a list of addresses/CIDRs.
   */
  trustProxy: boolean | string[];
  /**
   * Private, loopback and link-local destinations outbound HTTP (webhooks) may reach anyway: host
   * names and addresses/CIDRs from WAYMARK_OUTBOUND_ALLOW. Empty by default: all such are refused.
   */
  outboundAllow: AllowList;
  /**
   * How long (ms) the outbox dispatcher reserves a claimed effect; after a crash the effect is tried
   * again once this passes. WAYMARK_OUTBOX_LEASE_MS, default 60 000.
   */
  outboxLeaseMs: number;
  /**
   * How long (ms) the messaging dispatcher reserves a claimed message; after a crash the message is
   * sent again (same idempotency key) once this passes. WAYMARK_MESSAGE_LEASE_MS, default 60 000.
   */
  messageLeaseMs: number;
  /**
   * Settings for the embedded PostgreSQL (`name=value`, after Waymark's own, so they win), from
   * WAYMARK_PG_SETTINGS; ignored with DATABASE_URL.
   */
  postgresSettings: string[];
}

export interface ConfigFlags {
  port?: string;
  host?: string;
  dataDir?: string;
  role?: string;
}

const ROLES = ["all", "api", "worker"] as const;

export function readConfig(flags: ConfigFlags, env: NodeJS.ProcessEnv = process.env): Config {
  // An empty value (WAYMARK_PORT=) means unset, not port 0.
  const rawPort = [flags.port, env.WAYMARK_PORT].find((v) => v !== undefined && v.trim() !== "") ?? "8080";
  const port = Number(rawPort);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`port must be an integer from 0 to 65535 (got ${rawPort})`);
  }
  const role = flags.role ?? env.WAYMARK_ROLE ?? "all";
  if (!(ROLES as readonly string[]).includes(role))
    throw new Error(`role must be one of ${ROLES.join(", ")} (got ${role})`);
  return {
    port,
    host: flags.host ?? env.WAYMARK_HOST ?? "127.0.0.1",
    dataDir: path.resolve(flags.dataDir ?? env.WAYMARK_DATA_DIR ?? ".waymark"),
    role: role as Config["role"],
    databaseUrl: env.DATABASE_URL || undefined,
    publicUrl: env.WAYMARK_PUBLIC_URL || undefined,
    logLevel: env.WAYMARK_LOG_LEVEL ?? "info",
    trustProxy: readTrustProxy(env.WAYMARK_TRUST_PROXY),
    outboundAllow: parseAllowList(env.WAYMARK_OUTBOUND_ALLOW),
    outboxLeaseMs: readLeaseMs("WAYMARK_OUTBOX_LEASE_MS", env.WAYMARK_OUTBOX_LEASE_MS),
    messageLeaseMs: readLeaseMs("WAYMARK_MESSAGE_LEASE_MS", env.WAYMARK_MESSAGE_LEASE_MS),
    postgresSettings: readPostgresSettings(env.WAYMARK_PG_SETTINGS),
  };
}

/** `shared_buffers=4GB work_mem=16MB` (spaces or commas between): each a name, `=`, a value. */
function readPostgresSettings(value: string | undefined): string[] {
  const settings = (value ?? "").split(/[\s,]+/).filter(Boolean);
  for (const setting of settings) {
    if (!/^[a-z_][a-z0-9_.]*=[^=]+$/i.test(setting)) {
      throw new Error(
        `WAYMARK_PG_SETTINGS must list name=value settings separated by spaces or commas, ` +
          `e.g. shared_buffers=4GB (got ${setting})`,
      );
    }
  }
  return settings;
}

function readLeaseMs(name: string, value: string | undefined): number {
  if (value === undefined || value.trim() === "") return 60_000;
  const ms = Number(value);
  if (!Number.isInteger(ms) || ms < 1) {
    throw new Error(`${name} must be a whole number of milliseconds above 0 (got ${value})`);
  }
  return ms;
}

function readTrustProxy(value: string | undefined): boolean | string[] {
  if (!value || value === "false") return false;
  if (value === "true") return true;
  return value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}
