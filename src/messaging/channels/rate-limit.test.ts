import { describe, expect, it } from "vitest";
import type { Channel } from "../core/channel.ts";
import { rateLimited } from "./rate-limit.ts";

describe("a channel limited to 20 sends a second", () => {
  it("gives five concurrent sends slots 50 ms apart, in order, and passes results through", async () => {
    const sentAt: number[] = [];
    const inner: Channel = {
      kind: "sms",
      provider: "twilio",
      send: async (m) => {
        sentAt.push(performance.now());
        return { ok: true, providerMessageId: m.id };
      },
      close: async () => undefined,
    };
    const limited = rateLimited(inner, 20);
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((n) =>
        limited.send({
          id: `m${n}`,
          idempotencyKey: `k${n}`,
          channel: "sms",
          to: "+15005550006",
          body: "hi",
        }),
      ),
    );
    expect(results.map((r) => (r.ok ? r.providerMessageId : r.reason))).toEqual([
      "m1",
      "m2",
      "m3",
      "m4",
      "m5",
    ]);
    // Slots are 50 ms apart from the first: the n-th send never goes before its slot (setTimeout may
    // fire a hair early against performance.now()); a late send does not push the later slots back.
    const offsets = sentAt.map((t) => t - sentAt[0]!);
    expect(
      offsets.every((o, n) => o >= n * 50 - 2),
      `offsets ${offsets.join(", ")}`,
    ).toBe(true);
    expect(limited.kind).toBe("sms");
  });
});
