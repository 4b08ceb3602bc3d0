import { describe, expect, it } from "vitest";
import {
  DEFAULT_POLICY,
  capWindowStart,
  decideDelivery,
  deliveryPolicySchema,
  orderByPriority,
  priorityOf,
  recentSince,
  type DeliveryInput,
  type DeliveryPolicy,
  type RecentSend,
} from "./policy.ts";

const at = (iso: string) => new Date(iso);
const policy = (p: unknown): DeliveryPolicy => deliveryPolicySchema.parse(p);
const promotions = { key: "promotions", channels: ["email", "sms"], defaultMode: "opt_out" as const };
const newsletter = { key: "newsletter", channels: ["email"], defaultMode: "opt_in" as const };
const sent = (iso: string, channel = "email", journey: string | null = null): RecentSend => ({
  channel,
  sentAt: at(iso),
  journey,
  priority: 0,
});

/** A marketing email to a person in Berlin, with nothing in its way unless a story adds it. */
function input(over: Partial<DeliveryInput> = {}): DeliveryInput {
  return {
    channel: "email",
    topic: null,
    transactional: false,
    journey: null,
    priority: 0,
    now: at("2026-03-10T10:00:00Z"),
    timeZone: "Europe/Berlin",
    policy: DEFAULT_POLICY,
    topicDefinition: null,
    subscriptions: [],
    suppressed: null,
    recent: [],
    ...over,
  };
}

describe("an address on the suppression list", () => {
  it("is skipped with the suppression's reason", () => {
    expect(decideDelivery(input({ suppressed: { reason: "hard_bounce" } }))).toEqual({
      action: "skip",
      reason: "suppressed:hard_bounce",
    });
  });
  it("is skipped even for a transactional message (an erased person gets no receipt either)", () => {
    expect(decideDelivery(input({ transactional: true, suppressed: { reason: "erased" } }))).toEqual({
      action: "skip",
      reason: "suppressed:erased",
    });
  });
});

describe("a password reset (transactional) at midnight to someone who unsubscribed from everything", () => {
  it("is sent: topics, global unsubscribes, caps and quiet hours do not apply", () => {
    const decision = decideDelivery(
      input({
        transactional: true,
        topic: "newsletter",
        topicDefinition: newsletter,
        now: at("2026-03-10T23:00:00Z"),
        subscriptions: [{ topic: "*", channel: "email", status: "unsubscribed" }],
        policy: policy({
          caps: [{ channel: "email", limit: 0, per: "1d" }],
          quietHours: { start: "21:00", end: "08:00", mode: "drop" },
        }),
      }),
    );
    expect(decision).toEqual({ action: "send" });
  });
});

describe("a person who unsubscribed from all email", () => {
  const subscriptions = [{ topic: "*", channel: "email", status: "unsubscribed" as const }];
  it("gets no marketing email, with or without a topic", () => {
    expect(decideDelivery(input({ subscriptions }))).toEqual({
      action: "skip",
      reason: "unsubscribed:email",
    });
    expect(
      decideDelivery(input({ subscriptions, topic: "promotions", topicDefinition: promotions })),
    ).toEqual({
      action: "skip",
      reason: "unsubscribed:email",
    });
  });
  it("still gets SMS", () => {
    expect(decideDelivery(input({ subscriptions, channel: "sms" }))).toEqual({ action: "send" });
  });
  it("gets nothing on any channel after unsubscribing from channel *", () => {
    const all = [{ topic: "*", channel: "*", status: "unsubscribed" as const }];
    expect(decideDelivery(input({ subscriptions: all, channel: "push" }))).toEqual({
      action: "skip",
      reason: "unsubscribed:push",
    });
  });
});

describe("topics", () => {
  it("an opt-out topic reaches everyone who has not unsubscribed", () => {
    expect(decideDelivery(input({ topic: "promotions", topicDefinition: promotions }))).toEqual({
      action: "send",
    });
  });
  it("an opt-out topic the person unsubscribed from (every channel) is skipped on each channel", () => {
    const subscriptions = [{ topic: "promotions", channel: "*", status: "unsubscribed" as const }];
    for (const channel of ["email", "sms"]) {
      expect(
        decideDelivery(input({ channel, topic: "promotions", topicDefinition: promotions, subscriptions })),
      ).toEqual({ action: "skip", reason: "unsubscribed:promotions" });
    }
  });
  it("a choice for the exact channel wins over the one for every channel", () => {
    const subscriptions = [
      { topic: "promotions", channel: "*", status: "unsubscribed" as const },
      { topic: "promotions", channel: "sms", status: "subscribed" as const },
    ];
    const base = { topic: "promotions", topicDefinition: promotions, subscriptions };
    expect(decideDelivery(input({ ...base, channel: "sms" }))).toEqual({ action: "send" });
    expect(decideDelivery(input({ ...base, channel: "email" })).action).toBe("skip");
  });
  it("an opt-in topic needs an explicit subscription", () => {
    const base = { topic: "newsletter", topicDefinition: newsletter };
    expect(decideDelivery(input(base))).toEqual({ action: "skip", reason: "not_subscribed:newsletter" });
    expect(
      decideDelivery(
        input({ ...base, subscriptions: [{ topic: "newsletter", channel: "email", status: "subscribed" }] }),
      ),
    ).toEqual({ action: "send" });
    expect(
      decideDelivery(
        input({ ...base, subscriptions: [{ topic: "newsletter", channel: "*", status: "subscribed" }] }),
      ),
    ).toEqual({ action: "send" });
    expect(
      decideDelivery(
        input({
          ...base,
          subscriptions: [{ topic: "newsletter", channel: "email", status: "unsubscribed" }],
        }),
      ),
    ).toEqual({ action: "skip", reason: "unsubscribed:newsletter" });
  });
  it("a topic not offered on the message's channel is skipped, even for a subscriber", () => {
    const subscriptions = [{ topic: "newsletter", channel: "*", status: "subscribed" as const }];
    expect(
      decideDelivery(
        input({ channel: "sms", topic: "newsletter", topicDefinition: newsletter, subscriptions }),
      ),
    ).toEqual({ action: "skip", reason: "topic_channel:newsletter" });
  });
  it("a topic that does not exist is skipped rather than sent to people who never chose", () => {
    expect(decideDelivery(input({ topic: "promotionz", topicDefinition: null }))).toEqual({
      action: "skip",
      reason: "topic_unknown:promotionz",
    });
  });
});

describe("three emails a day, counted in the person's calendar day", () => {
  const caps = policy({ caps: [{ channel: "email", limit: 3, per: "1d" }] });
  // 00:30, 09:00 and 13:00 on 10 March in Berlin (CET, UTC+1); 19:30 on 9 March, 04:00 and 08:00 on
  // 10 March in New York (EDT since 8 March, UTC-4).
  const recent = [sent("2026-03-09T23:30:00Z"), sent("2026-03-10T08:00:00Z"), sent("2026-03-10T12:00:00Z")];

  it("caps a fourth email at 23:30 in Berlin", () => {
    const decision = decideDelivery(input({ policy: caps, recent, now: at("2026-03-10T22:30:00Z") }));
    expect(decision).toEqual({ action: "skip", reason: "capped:email 3/1d" });
  });
  it("sends it a minute past local midnight: a new day", () => {
    expect(decideDelivery(input({ policy: caps, recent, now: at("2026-03-10T23:01:00Z") }))).toEqual({
      action: "send",
    });
  });
  it("sends the same email to a New Yorker: one of the three was on their 9 March", () => {
    const decision = decideDelivery(
      input({ policy: caps, recent, timeZone: "America/New_York", now: at("2026-03-10T22:30:00Z") }),
    );
    expect(decision).toEqual({ action: "send" });
  });
  it("does not count SMS against the email cap, nor cap SMS", () => {
    const sms = recent.map((r) => ({ ...r, channel: "sms" }));
    expect(decideDelivery(input({ policy: caps, recent: sms, now: at("2026-03-10T22:30:00Z") }))).toEqual({
      action: "send",
    });
    expect(
      decideDelivery(input({ policy: caps, recent, channel: "sms", now: at("2026-03-10T22:30:00Z") })).action,
    ).toBe("send");
  });
  it("treats an unknown time zone as UTC", () => {
    // UTC day of 10 March: two of the three.
    const decision = decideDelivery(
      input({ policy: caps, recent, timeZone: "Mars/Olympus", now: at("2026-03-10T22:30:00Z") }),
    );
    expect(decision).toEqual({ action: "send" });
  });
});

describe("a weekly cap in Tokyo: 7d counts since local midnight six days ago", () => {
  const caps = policy({ caps: [{ channel: "email", limit: 2, per: "7d" }] });
  const now = at("2026-03-10T03:00:00Z"); // 12:00 on Tuesday 10 March in Tokyo (UTC+9)

  it("starts the window at 00:00 on 4 March, Tokyo time", () => {
    expect(capWindowStart("7d", now, "Asia/Tokyo").toISOString()).toBe("2026-03-03T15:00:00.000Z");
    expect(capWindowStart("P1W", now, "Asia/Tokyo").toISOString()).toBe("2026-03-03T15:00:00.000Z");
  });
  it("counts an email sent at that midnight, not one a minute before", () => {
    const inside = [sent("2026-03-03T15:00:00Z"), sent("2026-03-09T10:00:00Z")];
    const outside = [sent("2026-03-03T14:59:00Z"), sent("2026-03-09T10:00:00Z")];
    expect(decideDelivery(input({ policy: caps, timeZone: "Asia/Tokyo", now, recent: inside }))).toEqual({
      action: "skip",
      reason: "capped:email 2/7d",
    });
    expect(decideDelivery(input({ policy: caps, timeZone: "Asia/Tokyo", now, recent: outside }))).toEqual({
      action: "send",
    });
  });
});

describe("cap windows across daylight saving changes", () => {
  it("Berlin springs forward on 29 March: the day began at 00:00 CET, the week six midnights earlier", () => {
    const now = at("2026-03-29T12:00:00Z"); // 14:00 CEST
    expect(capWindowStart("1d", now, "Europe/Berlin").toISOString()).toBe("2026-03-28T23:00:00.000Z");
    expect(capWindowStart("7d", now, "Europe/Berlin").toISOString()).toBe("2026-03-22T23:00:00.000Z");
    // The day after, midnight is in CEST.
    expect(capWindowStart("1d", at("2026-03-30T12:00:00Z"), "Europe/Berlin").toISOString()).toBe(
      "2026-03-29T22:00:00.000Z",
    );
  });
  it("Sydney falls back on 5 April: a week reaching back into daylight time", () => {
    const now = at("2026-04-06T01:00:00Z"); // 11:00 AEST (UTC+10)
    expect(capWindowStart("1d", now, "Australia/Sydney").toISOString()).toBe("2026-04-05T14:00:00.000Z");
    // 31 March 00:00 AEDT (UTC+11).
    expect(capWindowStart("7d", now, "Australia/Sydney").toISOString()).toBe("2026-03-30T13:00:00.000Z");
  });
  it("a window in hours is rolling, whatever the zone", () => {
    const now = at("2026-03-10T22:30:00Z");
    expect(capWindowStart("24h", now, "Europe/Berlin").toISOString()).toBe("2026-03-09T22:30:00.000Z");
    expect(capWindowStart("PT36H", now, "Asia/Tokyo").toISOString()).toBe("2026-03-09T10:30:00.000Z");
    expect(capWindowStart("1d12h", now, "UTC").toISOString()).toBe("2026-03-09T10:30:00.000Z");
  });
});

describe("a cap on every channel together", () => {
  const caps = policy({ caps: [{ channel: "*", limit: 2, per: "1d" }] });
  const now = at("2026-03-10T15:00:00Z");
  const recent = [sent("2026-03-10T08:00:00Z", "email"), sent("2026-03-10T09:00:00Z", "sms")];
  it("counts email and SMS together and caps a push", () => {
    expect(decideDelivery(input({ policy: caps, now, recent, channel: "push" }))).toEqual({
      action: "skip",
      reason: "capped:* 2/1d",
    });
  });
  it("neither counts nor caps webhooks, which go to systems, not people", () => {
    const hooks = [sent("2026-03-10T08:00:00Z", "webhook"), sent("2026-03-10T09:00:00Z", "webhook")];
    expect(decideDelivery(input({ policy: caps, now, recent: hooks, channel: "email" }))).toEqual({
      action: "send",
    });
    expect(decideDelivery(input({ policy: caps, now, recent, channel: "webhook" }))).toEqual({
      action: "send",
    });
  });
  it("reports the first full cap in policy order", () => {
    const two = policy({
      caps: [
        { channel: "email", limit: 1, per: "1d" },
        { channel: "*", limit: 2, per: "1d" },
      ],
    });
    expect(decideDelivery(input({ policy: two, now, recent }))).toEqual({
      action: "skip",
      reason: "capped:email 1/1d",
    });
  });
});

describe("quiet hours from 21:00 to 08:00, crossing midnight", () => {
  const quiet = policy({ quietHours: { start: "21:00", end: "08:00" } });

  it("delays an email at 22:30 in Berlin to 08:00 the next morning, Berlin time", () => {
    const decision = decideDelivery(input({ policy: quiet, now: at("2026-03-10T21:30:00Z") }));
    expect(decision).toEqual({
      action: "delay",
      until: at("2026-03-11T07:00:00Z"),
      reason: "quiet_hours:delayed until 2026-03-11T07:00:00.000Z",
    });
  });
  it("delays one at 03:00 to 08:00 the same morning", () => {
    const decision = decideDelivery(input({ policy: quiet, now: at("2026-03-11T02:00:00Z") }));
    expect(decision).toMatchObject({ action: "delay", until: at("2026-03-11T07:00:00Z") });
  });
  it("sends at 08:00 sharp and at 20:59", () => {
    expect(decideDelivery(input({ policy: quiet, now: at("2026-03-11T07:00:00Z") }))).toEqual({
      action: "send",
    });
    expect(decideDelivery(input({ policy: quiet, now: at("2026-03-11T19:59:00Z") }))).toEqual({
      action: "send",
    });
  });
  it("sends the same email at once to a New Yorker, for whom it is 17:30", () => {
    const decision = decideDelivery(
      input({ policy: quiet, timeZone: "America/New_York", now: at("2026-03-10T21:30:00Z") }),
    );
    expect(decision).toEqual({ action: "send" });
  });
  it("delays to 08:00 in Tokyo for someone there", () => {
    // 14:00Z is 23:00 in Tokyo; 08:00 there is 23:00Z.
    const decision = decideDelivery(
      input({ policy: quiet, timeZone: "Asia/Tokyo", now: at("2026-03-10T14:00:00Z") }),
    );
    expect(decision).toMatchObject({ action: "delay", until: at("2026-03-10T23:00:00Z") });
  });
  it("drops instead when the policy says so", () => {
    const drop = policy({ quietHours: { start: "21:00", end: "08:00", mode: "drop" } });
    expect(decideDelivery(input({ policy: drop, now: at("2026-03-10T21:30:00Z") }))).toEqual({
      action: "skip",
      reason: "quiet_hours:dropped",
    });
  });
  it("applies only to the channels it names", () => {
    const smsOnly = policy({ quietHours: { start: "21:00", end: "08:00", channels: ["sms", "push"] } });
    const now = at("2026-03-10T21:30:00Z");
    expect(decideDelivery(input({ policy: smsOnly, now }))).toEqual({ action: "send" });
    expect(decideDelivery(input({ policy: smsOnly, now, channel: "sms" })).action).toBe("delay");
    expect(decideDelivery(input({ policy: quiet, now, channel: "webhook" }))).toEqual({ action: "send" });
  });
  it("a window within one day (12:00-14:00) is quiet only inside it", () => {
    const lunch = policy({ quietHours: { start: "12:00", end: "14:00" } });
    expect(decideDelivery(input({ policy: lunch, now: at("2026-03-10T11:30:00Z") })).action).toBe("delay");
    expect(decideDelivery(input({ policy: lunch, now: at("2026-03-10T21:30:00Z") })).action).toBe("send");
  });
});

describe("a capped email at 23:00 meets quiet hours", () => {
  const both = policy({
    caps: [{ channel: "email", limit: 1, per: "1d" }],
    quietHours: { start: "21:00", end: "08:00" },
  });
  const recent = [sent("2026-03-10T09:00:00Z")];
  it("is delayed to 08:00 instead of capped, and then fits the new day's cap", () => {
    const first = decideDelivery(input({ policy: both, recent, now: at("2026-03-10T22:00:00Z") }));
    expect(first).toMatchObject({ action: "delay", until: at("2026-03-11T07:00:00Z") });
    if (first.action !== "delay") throw new Error("expected a delay");
    expect(decideDelivery(input({ policy: both, recent, now: first.until }))).toEqual({ action: "send" });
  });
});

describe("journey priority: one slot left, a cart reminder and a newsletter due together", () => {
  const p = policy({ caps: [{ channel: "email", limit: 1, per: "1d" }], priorities: { cart: 10 } });
  const queued = [
    { id: "newsletter-1", journey: "weekly-newsletter", createdAt: at("2026-03-10T09:00:00Z") },
    { id: "cart-1", journey: "cart", createdAt: at("2026-03-10T09:30:00Z") },
    { id: "newsletter-2", journey: "weekly-newsletter", createdAt: at("2026-03-10T08:00:00Z") },
  ].map((m) => ({ ...m, priority: priorityOf(p, m.journey) }));

  it("orders by priority, then the older message first", () => {
    expect(orderByPriority(queued).map((m) => m.id)).toEqual(["cart-1", "newsletter-2", "newsletter-1"]);
    expect(priorityOf(p, null)).toBe(0);
  });
  it("sends the cart reminder and caps the newsletters when decided in that order", () => {
    const now = at("2026-03-10T10:00:00Z");
    const recent: RecentSend[] = [];
    const outcomes: string[] = [];
    for (const m of orderByPriority(queued)) {
      const decision = decideDelivery(
        input({ policy: p, now, recent, journey: m.journey, priority: m.priority }),
      );
      outcomes.push(`${m.id}: ${decision.action === "skip" ? decision.reason : decision.action}`);
      if (decision.action === "send")
        recent.push({ channel: "email", sentAt: now, journey: m.journey, priority: m.priority });
    }
    expect(outcomes).toEqual([
      "cart-1: send",
      "newsletter-2: capped:email 1/1d",
      "newsletter-1: capped:email 1/1d",
    ]);
  });
});

describe("the delivery policy schema", () => {
  it("defaults to no caps, no quiet hours and priority 0", () => {
    expect(deliveryPolicySchema.parse({})).toEqual({ caps: [], priorities: {} });
    expect(recentSince(DEFAULT_POLICY, at("2026-03-10T10:00:00Z"), "UTC")).toBeNull();
  });
  it("fills quiet hours' mode with delay", () => {
    expect(policy({ quietHours: { start: "21:00", end: "08:00" } }).quietHours).toEqual({
      start: "21:00",
      end: "08:00",
      mode: "delay",
    });
  });
  it("names the field that is wrong", () => {
    const paths = (p: unknown) =>
      deliveryPolicySchema.safeParse(p).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
    expect(paths({ caps: [{ channel: "email", limit: 3, per: "1 day" }] })).toEqual([
      expect.stringMatching(/^caps\.0\.per: must be a duration/),
    ]);
    expect(paths({ caps: [{ channel: "fax", limit: 3, per: "1d" }] })[0]).toMatch(/^caps\.0\.channel: /);
    expect(paths({ caps: [{ channel: "sms", limit: 1.5, per: "1d" }] })[0]).toMatch(/^caps\.0\.limit: /);
    expect(paths({ quietHours: { start: "9pm", end: "08:00" } })).toEqual([
      "quietHours.start: must be a time of day HH:MM, 24 h (21:00)",
    ]);
    expect(paths({ quietHours: { start: "08:00", end: "08:00" } })).toEqual([
      "quietHours.end: end must differ from start",
    ]);
    expect(paths({ quiet_hours: {} })[0]).toMatch(/quiet_hours/);
  });
  it("reaches back as far as the longest cap for the recent sends", () => {
    const p = policy({
      caps: [
        { channel: "email", limit: 3, per: "1d" },
        { channel: "*", limit: 10, per: "7d" },
      ],
    });
    expect(recentSince(p, at("2026-03-10T03:00:00Z"), "Asia/Tokyo")?.toISOString()).toBe(
      "2026-03-03T15:00:00.000Z",
    );
  });
});
