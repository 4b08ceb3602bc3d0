import type { OutboundResult } from "../../outbound/index.ts";
import type { SendResult } from "../core/channel.ts";

/** A failure to send, as the channel port reports it. */
export type SendFailure = SendResult & { ok: false };

/**
 * What an outbound call that got no usable response means for a message. A refused destination, a URL
 * that cannot be sent and an oversized answer will not change on a retry: permanent. A timeout or a
 * broken connection may: retryable (the provider may have taken the message; the idempotency key is
 * what keeps a retry from becoming a second message where the receiver honours it).
 */
export function describeOutboundFailure(
  result: OutboundResult & { ok: false },
  provider: string,
): SendFailure {
  switch (result.kind) {
    case "refused":
    case "invalid_url":
    case "too_large":
      return { ok: false, permanent: true, reason: `${provider}: ${result.reason}` };
    case "timeout":
    case "network":
      return { ok: false, permanent: false, reason: `${provider}: ${result.reason}` };
    default: {
      const never: never = result.kind;
      return { ok: false, permanent: false, reason: `${provider}: ${String(never)}` };
    }
  }
}

/** Whether an HTTP status is worth another try: throttled, or the provider's own trouble. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

/** A short, printable excerpt of a response body for a failure reason. */
export function excerpt(body: unknown, max = 200): string {
  const text = typeof body === "string" ? body : JSON.stringify(body ?? "");
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

/** A send on a closed channel: the caller retries, on the channel that replaced it. */
export function closedFailure(provider: string): SendFailure {
  return { ok: false, permanent: false, reason: `${provider}: channel closed; retry on a new one` };
}
