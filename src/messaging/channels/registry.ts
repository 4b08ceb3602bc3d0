import type { Pool, PoolClient } from "pg";
import { z } from "zod";
import { withTx } from "../../db/index.ts";
import { NotFoundError, ValidationError } from "../../errors/index.ts";
import type { OutboundClient } from "../../outbound/index.ts";
import type { Channel, ChannelKind } from "../core/channel.ts";
import { createFcmChannel, fcmConfigSchema } from "./fcm.ts";
import { createSmtpChannel, smtpConfigSchema, type SmtpTimeouts } from "./smtp.ts";
import { createTwilioChannel, twilioConfigSchema } from "./twilio.ts";
import { rateLimited } from "./rate-limit.ts";
import { createWebhookChannel } from "./webhook.ts";

/** The webhook channel has nothing to set: it signs with the workspace's webhook secret. */
export const webhookConfigSchema = z.strictObject({ provider: z.literal("webhook") });

/** A channel's provider settings, any channel: discriminated by `provider`. */
export const channelConfigSchema = z.discriminatedUnion(
  "provider",
  [smtpConfigSchema, twilioConfigSchema, fcmConfigSchema, webhookConfigSchema],
  { error: "provider must be smtp (email), twilio (sms), fcm (push) or webhook (webhook)" },
);
export type ChannelConfig = z.infer<typeof channelConfigSchema>;
export type ChannelProvider = ChannelConfig["provider"];

/** The providers each channel takes. */
export const PROVIDERS_OF = {
  email: ["smtp"],
  sms: ["twilio"],
  push: ["fcm"],
  webhook: ["webhook"],
} as const satisfies Record<ChannelKind, readonly ChannelProvider[]>;

/** Where each provider keeps its secrets: shown as "***", and "***" in a PUT keeps the stored one. */
const SECRETS: Record<ChannelProvider, ReadonlyArray<readonly string[]>> = {
  smtp: [["auth", "pass"]],
  twilio: [["authToken"]],
  fcm: [["accessToken"], ["serviceAccount", "private_key"]],
  webhook: [],
};

export const REDACTED = "***";

/** A channel as the API shows it: secrets redacted. */
export interface ChannelView {
  channel: ChannelKind;
  provider: ChannelProvider;
  config: ChannelConfig;
  /** When it was last PUT; null for the webhook channel, which works without being configured. */
  updatedAt: string | null;
}

type Queryable = Pool | PoolClient;

function secretAt(config: unknown, path: readonly string[]): unknown {
  let node = config;
  for (const step of path) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[step];
  }
  return node;
}

function withSecret(config: ChannelConfig, path: readonly string[], value: unknown): ChannelConfig {
  const copy = structuredClone(config) as Record<string, unknown>;
  let node = copy;
  for (const step of path.slice(0, -1)) {
    if (typeof node[step] !== "object" || node[step] === null) return copy as ChannelConfig;
    node = node[step] as Record<string, unknown>;
  }
  node[path.at(-1)!] = value;
  return copy as ChannelConfig;
}

/** The config with every secret replaced by "***". */
export function redactConfig(config: ChannelConfig): ChannelConfig {
  let redacted = config;
  for (const path of SECRETS[config.provider]) {
    if (secretAt(redacted, path) !== undefined) redacted = withSecret(redacted, path, REDACTED);
  }
  return redacted;
}

/**
 * Checks a config for one channel. Throws a ValidationError whose message names the field:
 * `host: Invalid input: expected string, received undefined`, `provider: sms takes twilio`.
 */
export function parseChannelConfig(kind: ChannelKind, input: unknown): ChannelConfig {
  const parsed = channelConfigSchema.safeParse(input);
  if (!parsed.success) {
    const details = parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join(".") || "config",
      message: issue.message,
    }));
    throw new ValidationError(details.map((d) => `${d.path}: ${d.message}`).join("; "), details);
  }
  const allowed: readonly ChannelProvider[] = PROVIDERS_OF[kind];
  if (!allowed.includes(parsed.data.provider)) {
    throw new ValidationError(
      `provider: the ${kind} channel takes ${allowed.join(" or ")}, not ${parsed.data.provider}`,
      [{ path: "provider", message: `must be ${allowed.join(" or ")}` }],
    );
  }
  return parsed.data;
}

interface ChannelRow {
  channel: ChannelKind;
  provider: ChannelProvider;
  config: ChannelConfig;
  updated_at: Date;
}

function toView(row: ChannelRow): ChannelView {
  return {
    channel: row.channel,
    provider: row.provider,
    config: redactConfig(row.config),
    updatedAt: row.updated_at.toISOString(),
  };
}

const IMPLICIT_WEBHOOK: ChannelView = {
  channel: "webhook",
  provider: "webhook",
  config: { provider: "webhook" },
  updatedAt: null,
};

/**
 * Stores a channel's provider settings (validated; a secret sent as "***" keeps the stored one, so
 * a config read back from the API can be edited and PUT again). Returns it as the API shows it.
 * Whoever holds a ChannelRegistry must `invalidate` it afterwards.
 */
export async function putChannel(
  pool: Pool,
  workspaceId: string,
  kind: ChannelKind,
  input: unknown,
  now: Date = new Date(),
): Promise<ChannelView> {
  let config = parseChannelConfig(kind, input);
  return withTx(pool, async (tx) => {
    const kept = SECRETS[config.provider].filter((path) => secretAt(config, path) === REDACTED);
    if (kept.length > 0) {
      const { rows } = await tx.query<Pick<ChannelRow, "provider" | "config">>(
        "SELECT provider, config FROM channels WHERE workspace_id = $1 AND channel = $2 FOR UPDATE",
        [workspaceId, kind],
      );
      const stored = rows[0]?.provider === config.provider ? rows[0].config : undefined;
      for (const path of kept) {
        const secret = stored && secretAt(stored, path);
        if (typeof secret !== "string") {
          const field = path.join(".");
          throw new ValidationError(
            `${field}: "***" keeps the stored secret, but this ${kind} channel has none stored for ${config.provider}; send the secret itself`,
            [{ path: field, message: "no stored secret to keep" }],
          );
        }
        config = withSecret(config, path, secret);
      }
    }
    const { rows } = await tx.query<ChannelRow>(
      `INSERT INTO channels (workspace_id, channel, provider, config, updated_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (workspace_id, channel) DO UPDATE
         SET provider = excluded.provider, config = excluded.config, updated_at = excluded.updated_at
       RETURNING channel, provider, config, updated_at`,
      [workspaceId, kind, config.provider, JSON.stringify(config), now],
    );
    return toView(rows[0]!);
  });
}

/** One channel with its secrets redacted; undefined when it is not configured (webhook always is). */
export async function getChannelPublic(
  db: Queryable,
  workspaceId: string,
  kind: ChannelKind,
): Promise<ChannelView | undefined> {
  const { rows } = await db.query<ChannelRow>(
    "SELECT channel, provider, config, updated_at FROM channels WHERE workspace_id = $1 AND channel = $2",
    [workspaceId, kind],
  );
  if (rows[0]) return toView(rows[0]);
  return kind === "webhook" ? IMPLICIT_WEBHOOK : undefined;
}

/** The workspace's configured channels (and the webhook channel, always there), secrets redacted. */
export async function listChannels(db: Queryable, workspaceId: string): Promise<ChannelView[]> {
  const { rows } = await db.query<ChannelRow>(
    "SELECT channel, provider, config, updated_at FROM channels WHERE workspace_id = $1",
    [workspaceId],
  );
  const views = rows.map(toView);
  if (!views.some((v) => v.channel === "webhook")) views.push(IMPLICIT_WEBHOOK);
  const order: readonly string[] = Object.keys(PROVIDERS_OF);
  return views.sort((a, b) => order.indexOf(a.channel) - order.indexOf(b.channel));
}

/** The workspace's Standard Webhooks secret (whsec_...). */
export async function webhookSecretOf(db: Queryable, workspaceId: string): Promise<string> {
  const { rows } = await db.query<{ webhook_secret: string }>(
    "SELECT webhook_secret FROM workspaces WHERE id = $1",
    [workspaceId],
  );
  if (!rows[0]) throw new NotFoundError(`no workspace ${workspaceId}`);
  return rows[0].webhook_secret;
}

/** How a ChannelRegistry builds channels. */
export interface ChannelRegistryOptions {
  /** The client Twilio, FCM and webhook calls go through (the destination guard). Not closed here. */
  outbound: OutboundClient;
  /** The clock of webhook signatures; default the system clock. */
  now?: () => Date;
  /**
   * How long a cached channel is used before its settings are read again (default 5000 ms). Another
   * process's PUT reaches this one within that time; a PUT in this process calls `invalidate`.
   */
  recheckMs?: number;
  /** SMTP pool size and timeouts. */
  smtp?: { maxConnections?: number; timeouts?: SmtpTimeouts };
}

/** A channel built from settings, and what the settings were (to notice a change). */
interface Built {
  channel: Channel;
  fingerprint: string;
}

interface Entry {
  current: Promise<Built | undefined>;
  checkedAt: number;
}

/**
 * The workspaces' channels, built from their settings on first use and kept (an SMTP channel keeps a
 * pool of connections). A replaced channel is closed once its sends in flight are done.
 */
export class ChannelRegistry {
  private readonly entries = new Map<string, Entry>();
  private readonly closing = new Set<Promise<void>>();
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly options: ChannelRegistryOptions,
  ) {}

  /** The workspace's channel of this kind; undefined when not configured (webhook always is). */
  async get(workspaceId: string, kind: ChannelKind): Promise<Channel | undefined> {
    if (this.closed) throw new Error("the channel registry is closed");
    const key = `${workspaceId}/${kind}`;
    let entry = this.entries.get(key);
    const now = Date.now();
    if (!entry || now - entry.checkedAt >= (this.options.recheckMs ?? 5_000)) {
      entry = { current: this.refresh(workspaceId, kind, entry?.current), checkedAt: now };
      this.entries.set(key, entry);
      const mine = entry;
      // A failed first read is not cached: the next get tries again.
      mine.current.catch(() => {
        if (this.entries.get(key) === mine) this.entries.delete(key);
      });
    }
    return (await entry.current)?.channel;
  }

  /** Forgets the cached channel (after its settings changed); it closes once idle. */
  invalidate(workspaceId: string, kind: ChannelKind): void {
    const key = `${workspaceId}/${kind}`;
    const entry = this.entries.get(key);
    if (!entry) return;
    this.entries.delete(key);
    this.retire(entry.current);
  }

  /** Closes every channel (SMTP pools), after their sends in flight. */
  async close(): Promise<void> {
    this.closed = true;
    for (const entry of this.entries.values()) this.retire(entry.current);
    this.entries.clear();
    await Promise.all([...this.closing]);
  }

  private retire(built: Promise<Built | undefined>): void {
    const done = built
      .then((b) => b?.channel.close())
      .catch(() => undefined)
      .finally(() => this.closing.delete(done));
    this.closing.add(done);
  }

  /** Reads the settings; keeps the previous channel when they are unchanged (or unreadable now). */
  private async refresh(
    workspaceId: string,
    kind: ChannelKind,
    previous: Promise<Built | undefined> | undefined,
  ): Promise<Built | undefined> {
    const old = await previous?.catch(() => undefined);
    let spec: Spec | undefined;
    try {
      spec = await this.load(workspaceId, kind);
    } catch (err) {
      if (old) return old;
      throw err;
    }
    if (old && spec?.fingerprint === old.fingerprint) return old;
    if (old) this.retire(Promise.resolve(old));
    return spec && { channel: spec.create(), fingerprint: spec.fingerprint };
  }

  private async load(workspaceId: string, kind: ChannelKind): Promise<Spec | undefined> {
    const { outbound } = this.options;
    if (kind === "webhook") {
      const { rows } = await this.pool.query<{ webhook_secret: string }>(
        "SELECT webhook_secret FROM workspaces WHERE id = $1",
        [workspaceId],
      );
      const secret = rows[0]?.webhook_secret;
      if (secret === undefined) return undefined;
      const now = this.options.now;
      return {
        fingerprint: secret,
        create: () => createWebhookChannel({ secret, outbound, ...(now ? { now } : {}) }),
      };
    }
    const { rows } = await this.pool.query<{ config: unknown }>(
      "SELECT config FROM channels WHERE workspace_id = $1 AND channel = $2",
      [workspaceId, kind],
    );
    if (!rows[0]) return undefined;
    const config = parseChannelConfig(kind, rows[0].config);
    const fingerprint = JSON.stringify(config);
    const perSecond = "maxPerSecond" in config ? config.maxPerSecond : undefined;
    const limit = (channel: Channel) => (perSecond ? rateLimited(channel, perSecond) : channel);
    switch (config.provider) {
      case "smtp":
        return {
          fingerprint,
          create: () => limit(createSmtpChannel(config, { ...this.options.smtp, outbound })),
        };
      case "twilio":
        return { fingerprint, create: () => limit(createTwilioChannel(config, { outbound })) };
      case "fcm":
        return { fingerprint, create: () => limit(createFcmChannel(config, { outbound })) };
      case "webhook":
        return this.load(workspaceId, "webhook");
      default: {
        const never: never = config;
        throw new Error(`unknown provider ${JSON.stringify(never)}`);
      }
    }
  }
}

interface Spec {
  fingerprint: string;
  create(): Channel;
}
