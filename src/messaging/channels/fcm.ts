import { createPrivateKey } from "node:crypto";
import { SignJWT } from "jose";
import { z } from "zod";
import type { OutboundClient } from "../../outbound/index.ts";
import type { Channel, OutgoingMessage, SendResult } from "../core/channel.ts";
import {
  closedFailure,
  describeOutboundFailure,
  excerpt,
  isRetryableStatus,
  type SendFailure,
} from "./outbound-result.ts";

/** The part of a Google service account key file (JSON) the token exchange needs; the rest is dropped. */
const serviceAccountSchema = z.object({
  type: z.literal("service_account").optional(),
  project_id: z.string().optional(),
  client_email: z.email().describe("the service account's address"),
  private_key: z
    .string()
    .refine((pem) => {
      // "***" stands for the key stored before (a config read back and PUT again): putChannel puts it back.
      if (pem === "***") return true;
      try {
        return createPrivateKey(pem).asymmetricKeyType === "rsa";
      } catch {
        return false;
      }
    }, "an RSA private key in PEM (the key file's private_key)")
    .describe("secret: the key file's private_key"),
  token_uri: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("where access tokens are issued; default https://oauth2.googleapis.com/token"),
});

/**
 * A push channel's settings: a Firebase project and either a service account's key (the JSON file
 * from the Google Cloud console, as an object), which Waymark exchanges for access tokens as they
 * expire, or an OAuth 2 access token used as given (it expires after about an hour).
 */
export const fcmConfigSchema = z
  .strictObject({
    maxPerSecond: z.number().positive().max(100_000).optional().describe("the provider's send rate limit"),
    provider: z.literal("fcm"),
    projectId: z
      .string()
      .regex(/^[a-z0-9-]{1,64}$/, "a Firebase project id: lower-case letters, digits and dashes")
      .optional()
      .describe("the Firebase project id; default the service account's project_id"),
    serviceAccount: serviceAccountSchema.optional(),
    accessToken: z
      .string()
      .min(1)
      .optional()
      .describe("secret: an OAuth 2 access token with the firebase.messaging scope"),
    baseUrl: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("the API's origin; default https://fcm.googleapis.com"),
  })
  .superRefine((c, ctx) => {
    if ((c.serviceAccount === undefined) === (c.accessToken === undefined)) {
      ctx.addIssue({
        code: "custom",
        path: ["serviceAccount"],
        message: "give exactly one of serviceAccount (a service account's key file) or accessToken",
      });
    }
    if (!c.projectId && !c.serviceAccount?.project_id) {
      ctx.addIssue({
        code: "custom",
        path: ["projectId"],
        message: "required (a service account's key file carries it as project_id)",
      });
    }
  });
export type FcmConfig = z.infer<typeof fcmConfigSchema>;

export const FCM_BASE_URL = "https://fcm.googleapis.com";
export const GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token";
const FCM_SCOPE = "https://www.googleapis.com/auth/firebase.messaging";
/** A token is renewed this long before it expires, so a send never carries one about to lapse. */
const TOKEN_MARGIN_MS = 5 * 60_000;

/** The data key a push carries its idempotency key under, so the app can drop a repeat. */
export const FCM_IDEMPOTENCY_DATA_KEY = "waymark_idempotency_key";

interface FcmErrorBody {
  error?: {
    message?: string;
    status?: string;
    details?: Array<{ "@type"?: string; errorCode?: string; fieldViolations?: Array<{ field?: string }> }>;
  };
}

/** FCM's own error code (UNREGISTERED, SENDER_ID_MISMATCH ...), else the Google RPC status. */
function fcmErrorCode(body: FcmErrorBody): string | undefined {
  const fcm = body.error?.details?.find((d) => typeof d.errorCode === "string");
  return fcm?.errorCode ?? body.error?.status;
}

/** Whether an INVALID_ARGUMENT is about the device token rather than the payload. */
function blamesToken(body: FcmErrorBody): boolean {
  const fields = body.error?.details?.flatMap((d) => d.fieldViolations ?? []) ?? [];
  if (fields.some((f) => f.field === "message.token")) return true;
  return /registration token/i.test(body.error?.message ?? "");
}

/** What FCM answered to a send. */
export function describeFcmResponse(status: number, body: unknown): SendResult {
  if (status >= 200 && status < 300) {
    const name = (body as { name?: unknown } | null)?.name;
    return typeof name === "string" ? { ok: true, providerMessageId: name } : { ok: true };
  }
  const error = (typeof body === "object" && body !== null ? body : {}) as FcmErrorBody;
  const code = fcmErrorCode(error);
  const reason = `fcm HTTP ${status}${code ? ` (${code})` : ""}: ${error.error?.message ?? excerpt(body)}`;
  // An expired access token fails every push until the channel gets a new one; keep the messages.
  if (isRetryableStatus(status) || status === 401) return { ok: false, permanent: false, reason };
  // The token is gone (app uninstalled), malformed, or belongs to another project: never again.
  const bounce =
    code === "UNREGISTERED" ||
    code === "SENDER_ID_MISMATCH" ||
    (code === "INVALID_ARGUMENT" && blamesToken(error));
  return { ok: false, permanent: true, ...(bounce ? { bounce } : {}), reason };
}

/** FCM data values are strings: strings go as they are, anything else as its JSON. */
function stringValues(data: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(data ?? {})) {
    if (value === undefined) continue;
    out[key] = typeof value === "string" ? value : JSON.stringify(value);
  }
  return out;
}

type AccessToken = { ok: true; token: string } | { ok: false; failure: SendFailure };
type ServiceAccount = NonNullable<FcmConfig["serviceAccount"]>;

/**
 * Access tokens for FCM: the configured one as it is, or a service account's, obtained with the
 * OAuth 2 JWT bearer grant (RFC 7523, as Google's client libraries do) through the outbound client
 * (so the guard applies to `token_uri`), kept until five minutes before it expires; concurrent
 * sends share one exchange.
 */
function accessTokens(config: FcmConfig, outbound: OutboundClient) {
  let cached: { token: string; until: number } | undefined;
  let pending: Promise<AccessToken> | undefined;
  const key = config.serviceAccount ? createPrivateKey(config.serviceAccount.private_key) : undefined;

  async function exchange(account: ServiceAccount): Promise<AccessToken> {
    const tokenUri = account.token_uri ?? GOOGLE_TOKEN_URI;
    const issuedAt = Math.floor(Date.now() / 1000);
    const assertion = await new SignJWT({ scope: FCM_SCOPE })
      .setProtectedHeader({ alg: "RS256", typ: "JWT" })
      .setIssuer(account.client_email)
      .setAudience(tokenUri)
      .setIssuedAt(issuedAt)
      .setExpirationTime(issuedAt + 3600)
      .sign(key!);
    const result = await outbound.request({
      method: "POST",
      url: tokenUri,
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
      body: new URLSearchParams({
        grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
        assertion,
      }).toString(),
    });
    if (!result.ok) return { ok: false, failure: describeOutboundFailure(result, "fcm token") };
    const body = (typeof result.body === "object" && result.body !== null ? result.body : {}) as {
      access_token?: unknown;
      expires_in?: unknown;
      error?: unknown;
      error_description?: unknown;
    };
    if (result.status === 200 && typeof body.access_token === "string") {
      const seconds = typeof body.expires_in === "number" ? body.expires_in : 3600;
      cached = { token: body.access_token, until: Date.now() + seconds * 1000 - TOKEN_MARGIN_MS };
      return { ok: true, token: body.access_token };
    }
    const code = typeof body.error === "string" ? ` (${body.error})` : "";
    const why = typeof body.error_description === "string" ? body.error_description : excerpt(result.body);
    // A revoked or wrong key fails every push until the channel gets a good one: keep the messages.
    return {
      ok: false,
      failure: { ok: false, permanent: false, reason: `fcm token: HTTP ${result.status}${code}: ${why}` },
    };
  }

  return {
    get(): Promise<AccessToken> {
      if (!config.serviceAccount) return Promise.resolve({ ok: true, token: config.accessToken! });
      if (cached && Date.now() < cached.until) return Promise.resolve({ ok: true, token: cached.token });
      pending ??= exchange(config.serviceAccount).finally(() => {
        pending = undefined;
      });
      return pending;
    },
    /** FCM refused the token (401): the next send asks for a new one. */
    refused(token: string): void {
      if (cached?.token === token) cached = undefined;
    },
  };
}

/**
 * The push channel through FCM's HTTP v1 API (POST /v1/projects/{id}/messages:send with a Bearer
 * token), through the outbound client so the destination guard applies to `baseUrl`. FCM does not
 * deduplicate sends: the idempotency key rides in the data payload (`waymark_idempotency_key`).
 */
export function createFcmChannel(config: FcmConfig, options: { outbound: OutboundClient }): Channel {
  const base = (config.baseUrl ?? FCM_BASE_URL).replace(/\/+$/, "");
  const projectId = config.projectId ?? config.serviceAccount!.project_id!;
  const url = `${base}/v1/projects/${encodeURIComponent(projectId)}/messages:send`;
  const tokens = accessTokens(config, options.outbound);

  async function send(message: OutgoingMessage): Promise<SendResult> {
    const notification = {
      ...(message.title !== undefined ? { title: message.title } : {}),
      ...(message.body !== undefined ? { body: message.body } : {}),
    };
    const payload = {
      message: {
        token: message.to,
        // A data-only push (no title, no body) is handed to the app without showing anything.
        ...(Object.keys(notification).length > 0 ? { notification } : {}),
        data: { ...stringValues(message.data), [FCM_IDEMPOTENCY_DATA_KEY]: message.idempotencyKey },
      },
    };
    const token = await tokens.get();
    if (!token.ok) return token.failure;
    const result = await options.outbound.request({
      method: "POST",
      url,
      headers: {
        authorization: `Bearer ${token.token}`,
        "content-type": "application/json; charset=utf-8",
        accept: "application/json",
      },
      body: JSON.stringify(payload),
    });
    if (!result.ok) return describeOutboundFailure(result, "fcm");
    if (result.status === 401) tokens.refused(token.token);
    return describeFcmResponse(result.status, result.body);
  }

  let closed = false;
  return {
    kind: "push",
    provider: "fcm",
    send: (message) => (closed ? Promise.resolve(closedFailure("fcm")) : send(message)),
    // The outbound client is shared and closed by its owner; this only stops new sends.
    close: async () => {
      closed = true;
    },
  };
}
