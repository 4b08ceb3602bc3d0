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

describe("a channel limited to 1 send a second, with more waiting than it can take", () => {
  it("hands a send back with retryAfterMs instead of holding it past its claim", async () => {
    let sent = 0;
    const inner: Channel = {
      kind: "email",
      provider: "smtp",
      send: async () => {
        sent += 1;
        return { ok: true };
      },
      close: async () => undefined,
    };
    let now = 0;
    const limited = rateLimited(inner, 1, () => now);
    const message = { id: "m", idempotencyKey: "k", channel: "email" as const, to: "a@example.com" };
    expect(await limited.send(message)).toEqual({ ok: true });
    // Slots at 1 s and 2 s are within the 2 s wait; the fourth (3 s away) is handed back.
    const pending = [limited.send(message), limited.send(message)];
    const fourth = await limited.send(message);
    expect(fourth).toMatchObject({ ok: false, permanent: false, retryAfterMs: 3000 });
    now = 3000;
    await Promise.all(pending);
    expect(sent).toBe(3);
  });
});
