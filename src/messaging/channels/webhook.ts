import { Webhook } from "standardwebhooks";
import type { OutboundClient } from "../../outbound/index.ts";
import type { Channel, OutgoingMessage, SendResult } from "../core/channel.ts";
import { closedFailure, describeOutboundFailure, excerpt, isRetryableStatus } from "./outbound-result.ts";

/** What a webhook receiver's answer means for the message. */
export function describeWebhookResponse(status: number, body: unknown): SendResult {
  if (status >= 200 && status < 300) return { ok: true };
  const reason = `webhook HTTP ${status}: ${excerpt(body)}`;
  if (isRetryableStatus(status)) return { ok: false, permanent: false, reason };
  // 410 Gone is how a Standard Webhooks receiver says "stop sending here": the URL is suppressed.
  if (status === 410)
    return { ok: false, permanent: true, bounce: true, reason: `${reason} (receiver gone)` };
  // Any other answer (4xx, or a redirect, which is not followed) will be the same next time.
  return { ok: false, permanent: true, reason };
}

/** The message's own headers, less those the channel sets (in any letter case). */
function extraHeaders(headers: Record<string, string> | undefined): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const lower = name.toLowerCase();
    if (lower !== "content-type" && !lower.startsWith("webhook-")) kept[name] = value;
  }
  return kept;
}

/**
 * The webhook channel: POSTs the message's `data` as JSON to its `to` URL, signed per Standard Webhooks
 * with the workspace's whsec_ secret (`webhook-id` is the idempotency key, the same on every retry;
 * `webhook-timestamp`; `webhook-signature`), through the outbound client so the destination guard
 * applies. The message's extra headers go along, but cannot replace the signature headers.
 */
export function createWebhookChannel(options: {
  secret: string;
  outbound: OutboundClient;
  /** The clock of the signature's timestamp; default the system clock. */
  now?: () => Date;
}): Channel {
  const signer = new Webhook(options.secret);
  const now = options.now ?? (() => new Date());

  async function send(message: OutgoingMessage): Promise<SendResult> {
    const payload = JSON.stringify(message.data ?? {});
    const at = now();
    const result = await options.outbound.request({
      method: "POST",
      url: message.to,
      headers: {
        ...extraHeaders(message.headers),
        "content-type": "application/json",
        "webhook-id": message.idempotencyKey,
        "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
        "webhook-signature": signer.sign(message.idempotencyKey, at, payload),
      },
      body: payload,
    });
    if (!result.ok) return describeOutboundFailure(result, "webhook");
    return describeWebhookResponse(result.status, result.body);
  }

  let closed = false;
  return {
    kind: "webhook",
    provider: "webhook",
    send: (message) => (closed ? Promise.resolve(closedFailure("webhook")) : send(message)),
    // The outbound client is shared and closed by its owner; this only stops new sends.
    close: async () => {
      closed = true;
    },
  };
}
