import { z } from "zod";
import type { OutboundClient } from "../../outbound/index.ts";
import type { Channel, OutgoingMessage, SendResult } from "../core/channel.ts";
import { closedFailure, describeOutboundFailure, excerpt, isRetryableStatus } from "./outbound-result.ts";

/**
 * A push channel's settings: a Firebase project and an OAuth 2 access token for the FCM HTTP v1 API.
 * The token is used as given; exchanging a service account's key for fresh tokens is future work, so
 * for now the token is replaced (PUT the channel) before it expires.
 */
export const fcmConfigSchema = z.strictObject({
  maxPerSecond: z.number().positive().max(100_000).optional().describe("the provider's send rate limit"),
  provider: z.literal("fcm"),
  projectId: z
    .string()
    .regex(/^[a-z0-9-]{1,64}$/, "a Firebase project id: lower-case letters, digits and dashes")
    .describe("the Firebase project id"),
  accessToken: z
    .string()
    .min(1)
    .describe("secret: an OAuth 2 access token with the firebase.messaging scope"),
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("the API's origin; default https://fcm.googleapis.com"),
});
export type FcmConfig = z.infer<typeof fcmConfigSchema>;

export const FCM_BASE_URL = "https://fcm.googleapis.com";

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

/**
 * The push channel through FCM's HTTP v1 API (POST /v1/projects/{id}/messages:send with a Bearer
 * token), through the outbound client so the destination guard applies to `baseUrl`. FCM does not
 * deduplicate sends: the idempotency key rides in the data payload (`waymark_idempotency_key`).
 */
export function createFcmChannel(config: FcmConfig, options: { outbound: OutboundClient }): Channel {
  const base = (config.baseUrl ?? FCM_BASE_URL).replace(/\/+$/, "");
  const url = `${base}/v1/projects/${encodeURIComponent(config.projectId)}/messages:send`;

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
    const result = await options.outbound.request({
      method: "POST",
      url,
      headers: {
        authorization: `Bearer ${config.accessToken}`,
        "content-type": "application/json; charset=utf-8",
        accept: "application/json",
      },
      body: JSON.stringify(payload),
    });
    if (!result.ok) return describeOutboundFailure(result, "fcm");
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
