import {
  advance,
  enter,
  journeyDefinitionSchema,
  type Instance,
  type JourneyInput,
  type JourneyVersion,
} from "../src/journeys/index.ts";

/**
 * The journey engine alone (issue 5, benchmark 1): `advance` calls per second in this process, no
 * database, for two moves an instance makes all the time, each beside the same loop doing only a copy
 * of the instance (`structuredClone`, which `advance` itself starts with, and a JSON round trip, what
 * storing the state costs at least), so that the ratio says what the engine adds.
 */

export interface AdvanceCase {
  name: string;
  /** What one call does, for the table. */
  what: string;
  /** Calls per second: the engine, then the baselines of the same loop. */
  advance: number;
  structuredClone: number;
  jsonRoundTrip: number;
  /** Size of the instance as JSON (what the loop copies), bytes. */
  instanceBytes: number;
  /** Effects and audit rows one call produced. */
  effects: number;
  audit: number;
}

/** The abandoned cart of the issue (as in test/journeys-cart.test.ts, without the data-table lookup). */
export const CART_JOURNEY: JourneyInput = {
  key: "abandoned-cart",
  name: "Abandoned cart",
  trigger: { event: "Product Added" },
  entry: { key: "{{ event.properties.cart_id }}", reentry: "after_exit", maxPerProfile: 25 },
  context: {
    collections: {
      cart: {
        id: "{{ event.properties.product_id }}",
        upsert: ["Product Added"],
        remove: ["Product Removed"],
      },
    },
  },
  exits: [{ event: "Order Completed" }],
  goal: { event: "Order Completed", within: "7d" },
  steps: [
    {
      id: "wait_checkout",
      hold_until: {
        events: [{ id: "checkout", event: "Checkout Started", next: "done" }],
        timeout: "1h",
        resetOn: ["Product Added", "Product Removed"],
        onTimeout: "remind",
      },
    },
    {
      id: "remind",
      webhook: {
        url: "https://hooks.example.com/cart",
        body: { email: "{{ profile.traits.email }}", items: "{{ context.cart }}" },
      },
    },
    { id: "done", exit: {} },
  ],
};

/** A trial reminder: wait three days, then call a webhook rendered from the profile, then end. */
export const TRIAL_JOURNEY: JourneyInput = {
  key: "trial-reminder",
  name: "Trial reminder",
  trigger: { event: "Trial Started" },
  steps: [
    { id: "wait_3d", wait: { duration: "3d" } },
    {
      id: "remind",
      webhook: {
        url: "https://hooks.example.com/trial/{{ profile.id }}",
        headers: { "x-plan": "{{ profile.traits.plan }}" },
        body: {
          email: "{{ profile.traits.email }}",
          name: "{{ profile.traits.name }}",
          plan: "{{ profile.traits.plan }}",
          startedAt: "{{ context.trigger.timestamp }}",
          source: "{{ context.trigger.context.page.url }}",
        },
      },
    },
    { id: "done", exit: {} },
  ],
};

const PRODUCTS = ["sku_4821", "sku_1077", "sku_3390", "sku_2214", "sku_5502"];

/** A Segment track message as the log stores it (about 800 bytes, like bench/events.ts). */
export function storedTrack(event: string, n: number, at: string, properties: Record<string, unknown>) {
  return {
    type: "track",
    event,
    userId: "user_42",
    anonymousId: "anon-0000002a-4c1d-9a2e-5f0b7d3e8a61",
    messageId: `bench-${n}`,
    timestamp: at,
    originalTimestamp: at,
    receivedAt: at,
    properties: { currency: "USD", quantity: 1, ...properties },
    context: {
      library: { name: "analytics.js", version: "npm:next-1.84.3" },
      page: {
        path: "/products/trail-running-shoes",
        referrer: "https://www.google.com/",
        search: "",
        title: "Trail Running Shoes | Acme Store",
        url: "https://shop.example.com/products/trail-running-shoes",
      },
      userAgent:
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
      locale: "en-US",
      ip: "127.0.0.1",
    },
  };
}

const PROFILE = {
  id: "6f0c9a52-8d1e-4c4b-9a55-2f7d1e0b9c11",
  traits: { email: "ada@example.com", name: "Ada Lovelace", plan: "pro" },
  timeZone: "Europe/Berlin",
};

function version(input: JourneyInput): JourneyVersion {
  const definition = journeyDefinitionSchema.parse(input);
  return { journey: definition.key, version: 1, definition };
}

/**
 * Calls `fn` in rounds of 100 for `seconds` after `warmupSeconds` of the same; returns calls/s.
 * The clock is read once per round so that reading it does not weigh on a call of a microsecond.
 */
function rate(fn: () => void, seconds: number, warmupSeconds: number): number {
  const run = (s: number) => {
    const started = performance.now();
    const until = started + s * 1000;
    let calls = 0;
    do {
      for (let i = 0; i < 100; i++) fn();
      calls += 100;
    } while (performance.now() < until);
    return calls / ((performance.now() - started) / 1000);
  };
  run(warmupSeconds);
  return run(seconds);
}

/** Both cases, each with its two baselines, `seconds` measured after `warmupSeconds` each. */
export function advanceBenchmark(o: { seconds: number; warmupSeconds: number }): AdvanceCase[] {
  const t0 = new Date("2026-03-02T10:00:00.000Z");
  const cases: AdvanceCase[] = [];

  // 1. An instance in a hold_until receives events that restart its timeout (and update its cart).
  {
    const v = version(CART_JOURNEY);
    const first = storedTrack("Product Added", 0, t0.toISOString(), {
      cart_id: "c1",
      product_id: PRODUCTS[0],
    });
    const entered = enter(
      v,
      {
        instanceId: "0b7e5a7c-1d2f-4c3e-9f8a-1234567890ab",
        profile: PROFILE,
        key: "c1",
        event: first,
        lookups: {},
        holdout: false,
      },
      t0,
    ).instance;
    // Events are built ahead, so that the loop measures the engine, not the benchmark.
    const events = Array.from({ length: 1000 }, (_, n) =>
      storedTrack("Product Added", n + 1, t0.toISOString(), { cart_id: "c1", product_id: PRODUCTS[n % 5] }),
    );
    const inputs = events.map((event) => ({ kind: "event" as const, event, profile: PROFILE, lookups: {} }));
    const now = new Date(t0.getTime() + 60_000);
    const sample = advance(v, entered, inputs[0]!, now);
    let instance: Instance = sample.instance;
    let n = 0;
    const engine = rate(
      () => {
        instance = advance(v, instance, inputs[n++ % 1000]!, now).instance;
      },
      o.seconds,
      o.warmupSeconds,
    );
    if (instance.status !== "active" || instance.step !== "wait_checkout") {
      throw new Error(`the cart instance left its hold (${instance.status} at ${instance.step})`);
    }
    let copy: Instance = sample.instance;
    const cloned = rate(() => void (copy = structuredClone(copy)), o.seconds, o.warmupSeconds);
    const json = rate(
      () => void (copy = JSON.parse(JSON.stringify(copy)) as Instance),
      o.seconds,
      o.warmupSeconds,
    );
    cases.push({
      name: "hold_until, event that restarts the timeout",
      what:
        "a `Product Added` reaches a cart instance in `hold_until` (goal, exit and branch checked, cart collection " +
        "upserted, timeout restarted: `timer_reset`)",
      advance: engine,
      structuredClone: cloned,
      jsonRoundTrip: json,
      instanceBytes: JSON.stringify(sample.instance).length,
      effects: sample.effects.length,
      audit: sample.audit.length,
    });
  }

  // 2. A wait ends: the timer moves the instance through a webhook step (rendered) to its end.
  {
    const v = version(TRIAL_JOURNEY);
    const trigger = storedTrack("Trial Started", 0, t0.toISOString(), { plan: "pro" });
    const waiting = enter(
      v,
      {
        instanceId: "1c8f6b8d-2e3a-4d4f-8a9b-234567890abc",
        profile: PROFILE,
        key: null,
        event: trigger,
        lookups: {},
        holdout: false,
      },
      t0,
    ).instance;
    if (waiting.waiting?.kind !== "wait") throw new Error("the trial instance does not wait");
    const now = new Date(Date.parse(waiting.dueAt!) + 1000);
    const input = { kind: "timer" as const, profile: PROFILE, lookups: {} };
    const sample = advance(v, waiting, input, now);
    if (sample.instance.status !== "completed" || sample.effects.length !== 1) {
      throw new Error("the trial instance did not run through its webhook to the end");
    }
    const engine = rate(() => void advance(v, waiting, input, now), o.seconds, o.warmupSeconds);
    const cloned = rate(() => void structuredClone(waiting), o.seconds, o.warmupSeconds);
    const json = rate(() => void JSON.parse(JSON.stringify(waiting)), o.seconds, o.warmupSeconds);
    cases.push({
      name: "timer: wait → webhook → end",
      what:
        "the timer of an instance in a 3-day `wait` fires: `waited`, a webhook step renders its URL, a header and a " +
        "5-field body from the profile and trigger (one effect), then the exit step completes it",
      advance: engine,
      structuredClone: cloned,
      jsonRoundTrip: json,
      instanceBytes: JSON.stringify(waiting).length,
      effects: sample.effects.length,
      audit: sample.audit.length,
    });
  }
  return cases;
}
