import { z } from "zod";
import type { OutboundClient } from "../../outbound/index.ts";
import type { Channel, OutgoingMessage, SendResult } from "../core/channel.ts";
import { closedFailure, describeOutboundFailure, excerpt, isRetryableStatus } from "./outbound-result.ts";

/** An SMS channel's settings: a Twilio account and the number (or sender id) messages come from. */
export const twilioConfigSchema = z.strictObject({
  maxPerSecond: z.number().positive().max(100_000).optional().describe("the provider's send rate limit"),
  provider: z.literal("twilio"),
  accountSid: z
    .string()
    .regex(/^AC[0-9a-fA-F]{32}$/, "a Twilio account SID: AC followed by 32 hex digits")
    .describe("the account SID (AC...), from the Twilio console"),
  authToken: z.string().min(1).describe("secret: the account's auth token"),
  from: z.string().min(1).describe("the sending number in E.164 (+15005550006) or an alphanumeric sender id"),
  baseUrl: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("the API's origin; default https://api.twilio.com"),
});
export type TwilioConfig = z.infer<typeof twilioConfigSchema>;

export const TWILIO_BASE_URL = "https://api.twilio.com";

/**
 * Twilio error codes that mean the recipient's number cannot take messages: a bounce, which also
 * suppresses the number. 21211: not a valid phone number; 21614: not a mobile number; 21610: the
 * recipient replied STOP (Twilio refuses every message to them until they reply START).
 */
const BOUNCE_CODES = new Set([21211, 21614, 21610]);

/** What Twilio answered to a create-message call. */
export function describeTwilioResponse(status: number, body: unknown): SendResult {
  const answer = (typeof body === "object" && body !== null ? body : {}) as {
    sid?: unknown;
    code?: unknown;
    message?: unknown;
  };
  if (status >= 200 && status < 300) {
    return typeof answer.sid === "string" ? { ok: true, providerMessageId: answer.sid } : { ok: true };
  }
  const code = typeof answer.code === "number" ? answer.code : undefined;
  const detail = typeof answer.message === "string" ? answer.message : excerpt(body);
  const reason = `twilio HTTP ${status}${code !== undefined ? ` (${code})` : ""}: ${detail}`;
  if (isRetryableStatus(status)) return { ok: false, permanent: false, reason };
  const bounce = code !== undefined && BOUNCE_CODES.has(code);
  return { ok: false, permanent: true, ...(bounce ? { bounce } : {}), reason };
}

/**
 * The SMS channel through Twilio's Messages API (POST .../Accounts/{sid}/Messages.json, form-encoded,
 * HTTP Basic with the account SID and auth token), through the outbound client so the destination
 * guard applies to `baseUrl`. Twilio does not deduplicate creates: the idempotency key travels as an
 * `Idempotency-Key` header for whatever sits in between, and exactly-once rests on the message log.
 */
export function createTwilioChannel(config: TwilioConfig, options: { outbound: OutboundClient }): Channel {
  const base = (config.baseUrl ?? TWILIO_BASE_URL).replace(/\/+$/, "");
  const url = `${base}/2010-04-01/Accounts/${encodeURIComponent(config.accountSid)}/Messages.json`;
  const authorization = `Basic ${Buffer.from(`${config.accountSid}:${config.authToken}`).toString("base64")}`;

  async function send(message: OutgoingMessage): Promise<SendResult> {
    const form = new URLSearchParams({ To: message.to, From: config.from, Body: message.body ?? "" });
    const result = await options.outbound.request({
      method: "POST",
      url,
      headers: {
        authorization,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
        "idempotency-key": message.idempotencyKey,
      },
      body: form.toString(),
    });
    if (!result.ok) return describeOutboundFailure(result, "twilio");
    return describeTwilioResponse(result.status, result.body);
  }

  let closed = false;
  return {
    kind: "sms",
    provider: "twilio",
    send: (message) => (closed ? Promise.resolve(closedFailure("twilio")) : send(message)),
    // The outbound client is shared and closed by its owner; this only stops new sends.
    close: async () => {
      closed = true;
    },
  };
}
