import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drained } from "./support/pipeline.ts";
import { eventually, instancesOf, outboxSettled, post, publish } from "./support/journeys.ts";
import { startReceiver, type Receiver } from "./support/receiver.ts";
import { startTestServer } from "./support/server.ts";

const MIN = 60_000;

/** A server with the pipeline, a pinned clock and a local receiver allowed as webhook target. */
async function setup(options: { outboundAllow?: string } = {}) {
  const state = { clock: new Date("2026-03-02T10:00:00.000Z") };
  const receiver = await startReceiver("127.0.0.1");
  const server = await startTestServer({ pipeline: true, now: () => state.clock, ...options });
  return {
    server,
    receiver,
    get clock() {
      return state.clock;
    },
    later(ms: number) {
      state.clock = new Date(state.clock.getTime() + ms);
    },
    set(at: string) {
      state.clock = new Date(at);
    },
    async track(type: string, body: Record<string, unknown>) {
      const res = await server.track(`/v1/${type}`, body);
      expect(res.status).toBe(200);
    },
    async close() {
      await server.close();
      await receiver.close();
    },
  };
}
type Setup = Awaited<ReturnType<typeof setup>>;

describe("an onboarding journey waiting until 09:00 in the profile's time zone", () => {
  let t: Setup;
  beforeAll(async () => {
    t = await setup();
    await publish(t.server, {
      key: "onboarding",
      name: "Onboarding",
      timeZone: "Europe/Berlin",
      trigger: { event: "Signed Up" },
      steps: [
        { id: "morning", wait: { timeOfDay: "09:00" } },
        {
          id: "tips",
          webhook: { url: `${t.receiver.url}/tips`, body: { user: "{{ profile.traits.name }}" } },
        },
      ],
    });
  });
  afterAll(() => t.close());

  it("waits until 09:00 New York time for a New Yorker, 09:00 Berlin time for a profile without a zone", async () => {
    // 10:00 UTC is 05:00 in New York (EST, before the switch on March 8) and 11:00 in Berlin.
    await t.track("identify", {
      userId: "ny",
      traits: { name: "Ny" },
      context: { timezone: "America/New_York" },
    });
    await t.track("track", { userId: "ny", event: "Signed Up" });
    await t.track("track", { userId: "nozone", event: "Signed Up" });
    await drained(t.server);
    const [ny] = await instancesOf(t.server, "onboarding", "&userId=ny");
    const [nozone] = await instancesOf(t.server, "onboarding", "&userId=nozone");
    expect(ny!.dueAt).toBe("2026-03-02T14:00:00.000Z");
    expect(nozone!.dueAt).toBe("2026-03-03T08:00:00.000Z");
  });

  it("sends at 09:00 local, not before", async () => {
    t.set("2026-03-02T13:59:00.000Z");
    await new Promise((r) => setTimeout(r, 200));
    expect(t.receiver.received).toHaveLength(0);
    t.set("2026-03-02T14:00:00.000Z");
    const [hook] = await t.receiver.waitFor(1);
    expect(hook!.body).toEqual({ user: "Ny" });
  });
});

describe("a split", () => {
  let t: Setup;
  beforeAll(async () => {
    t = await setup();
    await publish(t.server, {
      key: "promo-test",
      name: "Promo test",
      trigger: { event: "Visited Pricing" },
      entry: { reentry: "always" },
      steps: [
        {
          id: "ab",
          split: {
            name: "discount copy",
            variants: [
              { name: "ten_percent", weight: 1, next: "a" },
              { name: "free_shipping", weight: 1, next: "b" },
            ],
          },
        },
        { id: "a", update_profile: { traits: { offer: "ten_percent" } }, next: "end" },
        { id: "b", update_profile: { traits: { offer: "free_shipping" } } },
        { id: "end", exit: {} },
      ],
    });
  });
  afterAll(() => t.close());

  it("stays sticky per person across entries, and people land in both variants", async () => {
    for (let n = 0; n < 3; n++) {
      for (let u = 0; u < 12; u++) await t.track("track", { userId: `p${u}`, event: "Visited Pricing" });
      await drained(t.server);
    }
    const all = await instancesOf(t.server, "promo-test");
    expect(all).toHaveLength(36);
    const variants = new Map<string, Set<string>>();
    for (const i of all) {
      const split = i.timeline.find((e) => e.kind === "split")!;
      const seen = variants.get(i.profileId) ?? new Set();
      seen.add(String(split.data!.variant));
      variants.set(i.profileId, seen);
    }
    expect([...variants.values()].every((v) => v.size === 1)).toBe(true);
    const chosen = new Set([...variants.values()].map((v) => [...v][0]));
    expect(chosen).toEqual(new Set(["ten_percent", "free_shipping"]));
  });

  it("updates the profile through the log: the trait arrives as an event of the person", async () => {
    const profile = await eventually(async () => {
      await drained(t.server);
      const res = await t.server.admin("/api/v1/profiles?userId=p0");
      const { items } = (await res.json()) as { items: Array<{ traits: Record<string, unknown> }> };
      return items[0]?.traits.offer ? items[0] : undefined;
    }, "the offer trait on p0");
    expect(["ten_percent", "free_shipping"]).toContain(profile.traits.offer);
  });
});

describe("definitions that break the rules", () => {
  let t: Setup;
  beforeAll(async () => (t = await setup()));
  afterAll(() => t.close());

  it("saves the draft with its violations, and publish answers 422 with them", async () => {
    const bad = {
      key: "broken",
      name: "Broken",
      trigger: { event: "Signed Up" },
      context: { lookups: { plan: { table: "plans", key: "{{ event.properties.plan }}" } } },
      steps: [
        {
          id: "first",
          branch: { cases: [{ when: { path: "event.properties.x", op: "eq", value: 1 }, next: "nowhere" }] },
        },
        { id: "loop_a", next: "loop_b", update_profile: { traits: { a: 1 } } },
        {
          id: "loop_b",
          next: "loop_a",
          webhook: { url: "https://example.com/{{ event.properties | nofilter }}" },
        },
      ],
    };
    const put = await t.server.admin("/api/v1/journeys/broken", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(bad),
    });
    expect(put.status).toBe(200);
    const { violations } = (await put.json()) as { violations: Array<{ path: string; message: string }> };
    const text = violations.map((v) => `${v.path}: ${v.message}`).join("\n");
    expect(text).toContain('unknown step "nowhere"');
    expect(text).toContain("cycle without a wait");
    expect(text).toContain("bad template");
    expect(text).toContain('unknown table "plans"');
    const res = await post(t.server, "/api/v1/journeys/broken/publish");
    expect(res.status).toBe(422);
    const body = (await res.json()) as { violations: unknown[] };
    expect(body.violations).toEqual(violations);
  });

  it("names the field of a schema error", async () => {
    const res = await t.server.admin("/api/v1/journeys/shape", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Shape", trigger: {}, steps: [{ id: "w", wait: { duration: "soon" } }] }),
    });
    const { violations } = (await res.json()) as { violations: Array<{ path: string; message: string }> };
    expect(violations.map((v) => v.path)).toEqual(
      expect.arrayContaining(["trigger", "steps.0.wait.duration"]),
    );
  });
});

describe("webhooks to forbidden addresses (no allow list)", () => {
  let t: Setup;
  let inside: Receiver;
  beforeAll(async () => {
    t = await setup({ outboundAllow: "" });
    inside = await startReceiver("127.0.0.2");
    await publish(t.server, {
      key: "ssrf",
      name: "SSRF",
      trigger: { event: "Poke" },
      steps: [
        { id: "loopback", webhook: { url: `${t.receiver.url}/a` } },
        { id: "other_loopback", webhook: { url: `${inside.url}/b` } },
        { id: "by_name", webhook: { url: `http://localhost:${new URL(inside.url).port}/c` } },
      ],
    });
  });
  afterAll(async () => {
    await t.close();
    await inside.close();
  });

  it("refuses 127.0.0.1, 127.0.0.2 and a name resolving to loopback, records why, and never connects", async () => {
    await t.track("track", { userId: "x", event: "Poke" });
    await drained(t.server);
    const [instance] = await eventually(async () => {
      const list = await instancesOf(t.server, "ssrf");
      return list[0] && list[0].timeline.filter((e) => e.kind === "webhook_failed").length === 3
        ? list
        : undefined;
    }, "three refused webhooks");
    // The three effects are carried out concurrently: their outcomes land in any order.
    const failed = instance!.timeline.filter((e) => e.kind === "webhook_failed");
    const reason = (step: string) => failed.find((f) => f.step === step)?.reason;
    expect(reason("loopback")).toContain("loopback address 127.0.0.1");
    expect(reason("other_loopback")).toContain("loopback address 127.0.0.2");
    expect(reason("by_name")).toMatch(/loopback address (127\.0\.0\.1|::1)/);
    expect(failed.every((f) => f.reason.includes("WAYMARK_OUTBOUND_ALLOW"))).toBe(true);
    expect(t.receiver.connections).toBe(0);
    expect(inside.connections).toBe(0);
  });
});

describe("triggers through the API and on a schedule", () => {
  let t: Setup;
  beforeAll(async () => {
    t = await setup();
    await publish(t.server, {
      key: "welcome-call",
      name: "Welcome call",
      trigger: { api: true },
      steps: [
        {
          id: "call",
          webhook: { url: `${t.receiver.url}/call`, body: { topic: "{{ event.properties.topic }}" } },
        },
      ],
    });
    await publish(t.server, {
      key: "trial-digest",
      name: "Trial digest",
      trigger: {
        schedule: { cron: "0 9 * * *" },
        where: { path: "profile.traits.plan", op: "eq", value: "trial" },
      },
      steps: [
        {
          id: "digest",
          webhook: { url: `${t.receiver.url}/digest`, body: { who: "{{ profile.traits.name }}" } },
        },
      ],
    });
  });
  afterAll(() => t.close());

  it("enters a person through POST /trigger, and a forged trigger through the tracking API enters nobody", async () => {
    await t.track("track", {
      userId: "forger",
      event: "Journey Triggered",
      waymark: { trigger: "welcome-call" },
    });
    const res = await post(t.server, "/api/v1/journeys/welcome-call/trigger", {
      userId: "caller",
      properties: { topic: "billing" },
    });
    expect(res.status).toBe(202);
    await drained(t.server);
    const all = await instancesOf(t.server, "welcome-call");
    expect(all).toHaveLength(1);
    const [hook] = await t.receiver.waitFor(1);
    expect(hook!.body).toEqual({ topic: "billing" });
  });

  it("refuses to start a journey that has no API trigger, saying what starts it", async () => {
    const res = await post(t.server, "/api/v1/journeys/trial-digest/trigger", { userId: "caller" });
    expect(res.status).toBe(409);
    expect(await res.json()).toEqual({
      error: "conflict",
      message:
        'journey trial-digest starts on its schedule, not through the API; publish it with "trigger": { "api": true } to start it here',
    });
    expect(await instancesOf(t.server, "trial-digest")).toHaveLength(0);
  });

  it("enters at each tick the profiles meeting the schedule's condition", async () => {
    await t.track("identify", { userId: "t1", traits: { plan: "trial", name: "Tia" } });
    await t.track("identify", { userId: "p1", traits: { plan: "pro", name: "Pat" } });
    await drained(t.server);
    t.set("2026-03-03T09:00:00.000Z");
    const hooks = await eventually(async () => {
      await drained(t.server);
      const got = t.receiver.received.filter((r) => r.path === "/digest");
      return got.length >= 1 ? got : undefined;
    }, "the digest webhook");
    await new Promise((r) => setTimeout(r, 300));
    expect(hooks.map((h) => h.body)).toEqual([{ who: "Tia" }]);
    const journey = await (await t.server.admin("/api/v1/journeys/trial-digest/stats")).json();
    expect(journey.totals.entered).toBe(1);
  });
});

describe("pause, resume, archive and versions", () => {
  let t: Setup;
  const definition = (url: string, wait: string) => ({
    key: "nudge",
    name: "Nudge",
    trigger: { event: "Started Trial" },
    steps: [
      { id: "pause_a_bit", wait: { duration: wait } },
      { id: "nudge", webhook: { url, body: { wait } } },
    ],
  });
  beforeAll(async () => {
    t = await setup();
    await publish(t.server, definition(`${t.receiver.url}/nudge`, "10m"));
  });
  afterAll(() => t.close());

  it("keeps instances on the version they entered with", async () => {
    await t.track("track", { userId: "v1", event: "Started Trial" });
    await drained(t.server);
    const v2 = await publish(t.server, definition(`${t.receiver.url}/nudge`, "20m"));
    expect(v2.version).toBe(2);
    await t.track("track", { userId: "v2", event: "Started Trial" });
    await drained(t.server);
    const [first] = await instancesOf(t.server, "nudge", "&userId=v1");
    const [second] = await instancesOf(t.server, "nudge", "&userId=v2");
    expect([first!.version, second!.version]).toEqual([1, 2]);
    await outboxSettled(t.server);
    t.later(10 * MIN);
    const [hook] = await t.receiver.waitFor(1);
    expect(hook!.body).toEqual({ wait: "10m" });
  });

  it("holds timers while paused and lets no one in; resume releases them", async () => {
    expect((await post(t.server, "/api/v1/journeys/nudge/pause")).status).toBe(200);
    await t.track("track", { userId: "late", event: "Started Trial" });
    await drained(t.server);
    expect(await instancesOf(t.server, "nudge", "&userId=late")).toHaveLength(0);
    await outboxSettled(t.server); // the first nudge's outcome is written before its lease could end
    t.later(15 * MIN);
    await new Promise((r) => setTimeout(r, 300));
    expect(t.receiver.received).toHaveLength(1);
    expect((await post(t.server, "/api/v1/journeys/nudge/resume")).status).toBe(200);
    const hooks = await t.receiver.waitFor(2);
    expect(hooks[1]!.body).toEqual({ wait: "20m" });
  });

  it("archives with exitInstances: running instances end with the reason", async () => {
    await t.track("track", { userId: "arch", event: "Started Trial" });
    await drained(t.server);
    const res = await post(t.server, "/api/v1/journeys/nudge/archive", { exitInstances: true });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { exited: number }).exited).toBe(1);
    const [gone] = await instancesOf(t.server, "nudge", "&userId=arch");
    expect(gone!.status).toBe("exited");
    expect(gone!.endReason).toBe("journey archived");
    expect((await post(t.server, "/api/v1/journeys/nudge/publish")).status).toBe(409);
  });
});

describe("a webhook whose answer the journey waits for", () => {
  let t: Setup;
  beforeAll(async () => {
    t = await setup();
    t.receiver.respond(200, { score: 87 });
    await publish(t.server, {
      key: "scoring",
      name: "Scoring",
      trigger: { event: "Applied" },
      steps: [
        { id: "score", webhook: { url: `${t.receiver.url}/score`, saveAs: "scored" } },
        {
          id: "decide",
          branch: {
            cases: [{ when: { path: "context.scored.body.score", op: "gte", value: 80 }, next: "approve" }],
            else: "review",
          },
        },
        { id: "approve", update_profile: { traits: { approved: true } }, next: "end" },
        { id: "review", update_profile: { traits: { approved: false } } },
        { id: "end", exit: {} },
      ],
    });
  });
  afterAll(() => t.close());

  it("keeps the response in context and branches on it, showing the values compared", async () => {
    await t.track("track", { userId: "app1", event: "Applied" });
    await drained(t.server);
    const instance = await eventually(async () => {
      const [i] = await instancesOf(t.server, "scoring");
      return i?.status === "completed" ? i : undefined;
    }, "the scoring instance to complete");
    expect(instance.context.scored).toMatchObject({ ok: true, status: 200, body: { score: 87 } });
    const branch = instance.timeline.find((e) => e.kind === "branch")!;
    expect(branch.data).toMatchObject({
      next: "approve",
      compared: [{ path: "context.scored.body.score", op: "gte", expected: 80, actual: 87, result: true }],
    });
  });
});

describe("a holdout", () => {
  let t: Setup;
  beforeAll(async () => {
    t = await setup();
    await publish(t.server, {
      key: "winback",
      name: "Win-back",
      trigger: { event: "Churn Risk" },
      entry: { holdout: 0.5 },
      goal: { event: "Order Completed", within: "7d" },
      steps: [{ id: "later", wait: { duration: "1d" } }],
    });
  });
  afterAll(() => t.close());

  it("records the control group once per person, runs no steps for it, and still counts its conversions", async () => {
    for (let round = 0; round < 2; round++) {
      for (let u = 0; u < 20; u++) await t.track("track", { userId: `h${u}`, event: "Churn Risk" });
      await drained(t.server);
    }
    for (let u = 0; u < 20; u++) await t.track("track", { userId: `h${u}`, event: "Order Completed" });
    await drained(t.server);
    const all = await instancesOf(t.server, "winback");
    expect(all).toHaveLength(20);
    const held = all.filter((i) => i.status === "held_out");
    expect(held.length).toBeGreaterThan(0);
    expect(held.length).toBeLessThan(20);
    expect(held.every((i) => i.timeline.every((e) => e.kind !== "step_started"))).toBe(true);
    const stats = await (await t.server.admin("/api/v1/journeys/winback/stats")).json();
    expect(stats.totals).toMatchObject({ entered: 20, heldOut: held.length, goalReached: 20 });
  });
});
