import type { Channel, OutgoingMessage, SendResult } from "../core/channel.ts";

/**
 * A channel that sends at most `perSecond` messages a second (a provider's limit), spacing the sends
 * evenly: each send waits for its slot. The limit holds per process; with several worker processes
 * each keeps it, so set it to the provider's limit divided by the number of workers.
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
      next = slot + gap;
      if (slot > now) await new Promise((resolve) => setTimeout(resolve, slot - now));
      return channel.send(message);
    },
    close: () => channel.close(),
  };
}
