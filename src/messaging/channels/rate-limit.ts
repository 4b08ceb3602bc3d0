import type { Channel, OutgoingMessage, SendResult } from "../core/channel.ts";

/** The longest a send waits for its slot; past that it is handed back to be tried again later. */
export const MAX_SLOT_WAIT_MS = 2_000;

/**
 * A channel that sends at most `perSecond` messages a second (a provider's limit), spacing the sends
 * evenly: each send waits for its slot. A send whose slot is further away than MAX_SLOT_WAIT_MS is not
 * kept waiting (its claim on the message would run out meanwhile and the message be sent twice): it
 * answers a retryable failure with `retryAfterMs`, and the dispatcher queues it for then. The limit
 * holds per process; with several worker processes each keeps it.
 */
export function rateLimited(
  channel: Channel,
  perSecond: number,
  clock: () => number = () => performance.now(),
): Channel {
  const gap = 1000 / perSecond;
  let next = 0;
  return {
    kind: channel.kind,
    provider: channel.provider,
    async send(message: OutgoingMessage): Promise<SendResult> {
      const now = clock();
      const slot = Math.max(now, next);
      if (slot - now > MAX_SLOT_WAIT_MS) {
        return {
          ok: false,
          permanent: false,
          reason: `rate limited: at most ${perSecond}/s`,
          retryAfterMs: Math.ceil(slot - now),
        };
      }
      next = slot + gap;
      if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
      return channel.send(message);
    },
    close: () => channel.close(),
  };
}
