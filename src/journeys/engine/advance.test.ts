import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { journeyDefinitionSchema } from "../core/definition.ts";
import { renderTemplate } from "../core/template.ts";
import { validateJourney } from "../core/validate.ts";
import { advance, enter } from "./advance.ts";
import { decideEntry, entryKeyOf, reaches, scopeOf, triggers, type EntryHistory } from "./entry.ts";
import type {
  AdvanceResult,
  AuditEntry,
  Effect,
  Instance,
  JourneyVersion,
  Message,
  ProfileData,
  WebhookOutcome,
} from "./types.ts";

/**
 * The engine's stories, told without a database or a network: a small runtime below drives `enter`
 * and `advance` the way the pipeline stage, the timer loop and the outbox do, on a clock the test
 * moves by hand.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** A journey version as publishing makes it: valid, parsed with its defaults. */
function publish(definition: unknown, version = 1): JourneyVersion {
  expect(validateJourney(definition)).toEqual([]);
  const parsed = journeyDefinitionSchema.parse(definition);
  return { journey: parsed.key, version, definition: parsed };
}

type Tables = Record<string, Record<string, unknown>>;

/**
 * The runtime in miniature, one journey version. Events first reach the person's instances whose
 * key they carry (running ones, and ended ones whose goal window is open), then may start one;
 * timers fire at their due time; webhook results come back by effect key. Mirrors stage.ts,
 * timers.ts and outbox.ts.
 */
class Runtime {
  readonly instances: Instance[] = [];
  readonly effects: Effect[] = [];
  private readonly audits = new Map<string, AuditEntry[]>();
  private readonly profiles = new Map<string, ProfileData>();
  private seq = 0;
  now: Date;

  constructor(
    readonly version: JourneyVersion,
    start: string,
    private readonly tables: Tables = {},
  ) {
    this.now = new Date(start);
  }

  person(id: string, traits: Record<string, unknown> = {}, timeZone?: string): this {
    this.profiles.set(id, { id, traits, ...(timeZone === undefined ? {} : { timeZone }) });
    return this;
  }

  private profile(id: string): ProfileData {
    return this.profiles.get(id) ?? { id, traits: {} };
  }

  /** A track call from `userId`, at the clock's time. */
  track(userId: string, event: string, properties: Record<string, unknown> = {}): Message {
    const message: Message = {
      type: "track",
      event,
      properties,
      userId,
      messageId: `msg-${++this.seq}`,
      timestamp: this.now.toISOString(),
    };
    const profile = this.profile(userId);
    const def = this.version.definition;
    const at = this.now.toISOString();
    this.instances.forEach((instance, n) => {
      if (instance.profileId !== userId) return;
      const loaded = instance.status === "active" || (instance.goalUntil !== null && instance.goalUntil > at);
      if (!loaded || !reaches(def, instance, message, profile)) return;
      this.apply(
        n,
        advance(this.version, instance, { kind: "event", event: message, profile, lookups: {} }, this.now),
      );
    });
    if (!triggers(def, message, profile)) return message;
    const key = entryKeyOf(def, message, profile);
    if (key === undefined) return message;
    const decision = decideEntry(def, this.version.journey, userId, this.history(userId, key), this.now);
    if (!decision.enter) return message;
    const result = enter(
      this.version,
      {
        instanceId: `${def.key}-${++this.seq}`,
        profile,
        key,
        event: message,
        lookups: this.lookups(message, profile),
        holdout: decision.holdout,
      },
      this.now,
    );
    this.apply(this.instances.length, result);
    return message;
  }

  /** Moves the clock to `iso`, firing every timer that falls due on the way, at its due time. */
  runUntil(iso: string): void {
    const end = new Date(iso).getTime();
    for (;;) {
      const due = this.instances
        .map((instance, n) => ({ instance, n }))
        .filter(({ instance }) => instance.status === "active" && instance.dueAt !== null)
        .filter(({ instance }) => Date.parse(instance.dueAt!) <= end)
        .sort((a, b) => a.instance.dueAt!.localeCompare(b.instance.dueAt!))[0];
      if (!due) break;
      this.now = new Date(due.instance.dueAt!);
      const profile = this.profile(due.instance.profileId);
      this.apply(
        due.n,
        advance(this.version, due.instance, { kind: "timer", profile, lookups: {} }, this.now),
      );
    }
    this.now = new Date(end);
  }

  later(ms: number): void {
    this.runUntil(new Date(this.now.getTime() + ms).toISOString());
  }

  /** The outbox feeding a waited-for webhook's outcome back. */
  webhookResult(instanceId: string, effectKey: string, outcome: WebhookOutcome): AdvanceResult {
    const n = this.instances.findIndex((i) => i.id === instanceId);
    const profile = this.profile(this.instances[n]!.profileId);
    const result = advance(
      this.version,
      this.instances[n]!,
      { kind: "webhook_result", effectKey, outcome, profile, lookups: {} },
      this.now,
    );
    this.apply(n, result);
    return result;
  }

  /** An operator (or archiving) ending an instance. */
  exit(instanceId: string, reason: string): AdvanceResult {
    const n = this.instances.findIndex((i) => i.id === instanceId);
    const result = advance(this.version, this.instances[n]!, { kind: "exit", reason }, this.now);
    this.apply(n, result);
    return result;
  }

  /** The only instance with this key. */
  instance(key: string | null): Instance {
    const found = this.instances.filter((i) => i.key === key);
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  log(instance: Instance): AuditEntry[] {
    return this.audits.get(instance.id) ?? [];
  }

  kinds(instance: Instance): string[] {
    return this.log(instance).map((a) => a.kind);
  }

  private apply(n: number, result: AdvanceResult): void {
    this.instances[n] = result.instance;
    this.effects.push(...result.effects);
    const id = result.instance.id;
    this.audits.set(id, [...(this.audits.get(id) ?? []), ...result.audit]);
  }

  /** What the stage reads from journey_instances before deciding an entry. */
  private history(profileId: string, key: string | null): EntryHistory {
    const mine = this.instances.filter((i) => i.profileId === profileId);
    const same = mine.filter((i) => i.key === key);
    const ended = same.map((i) => i.endedAt).filter((x): x is string => x !== null);
    return {
      live: same.some((i) => i.status === "active"),
      ever: same.length > 0,
      lastEndedAt: ended.sort().at(-1) ?? null,
      count: mine.length,
    };
  }

  /** resolveLookups: each key rendered against the trigger, a missing row as null. */
  private lookups(trigger: Message, profile: ProfileData): Record<string, unknown> {
    const scope = scopeOf(trigger, profile, { trigger }, null);
    return Object.fromEntries(
      Object.entries(this.version.definition.context.lookups).map(([name, l]) => {
        const key = renderTemplate(l.key, scope);
        return [name, this.tables[l.table]?.[String(key)] ?? null];
      }),
    );
  }
}

const webhooks = (effects: Effect[]) =>
  effects.filter((e): e is Extract<Effect, { kind: "webhook" }> => e.kind === "webhook");
const messages = (effects: Effect[]) =>
  effects.filter((e): e is Extract<Effect, { kind: "message" }> => e.kind === "message");
const bodyOf = (effect: Extract<Effect, { kind: "webhook" }>) => JSON.parse(effect.request.body!) as unknown;

// ---------------------------------------------------------------------------------------------------
// The abandoned cart of the issue.

/** The definition, word for word, with the name the schema asks for. */
const CART_YAML = `
key: abandoned-cart
name: Abandoned cart
trigger: { event: Product Added }
entry: { key: "{{ event.properties.cart_id }}", reentry: after_exit, maxPerProfile: 25, holdout: 0.1 }
context:
  collections: { cart: { id: "{{ event.properties.product_id }}", upsert: [Product Added], remove: [Product Removed] } }
  lookups: { product: { table: products, key: "{{ context.trigger.properties.product_id }}" } }
exits: [ { event: Order Completed } ]
goal: { event: Order Completed, within: 7d }
steps:
  - id: wait_checkout
    hold_until: { events: [{ id: checkout, event: Checkout Started, next: done }], timeout: 1h, resetOn: [Product Added, Product Removed], onTimeout: remind }
  - id: remind
    webhook: { url: "https://shop.example/hooks/cart", body: { email: "{{ profile.traits.email }}", items: "{{ context.cart }}" } }
  - id: done
    exit: {}
`;

const PRODUCTS: Tables = {
  products: {
    kettle: { sku: "kettle", name: "Kettle", price: 39 },
    teapot: { sku: "teapot", name: "Teapot", price: 25 },
  },
};

const kettle = { product_id: "kettle", name: "Kettle", price: 39 };
const teapot = { product_id: "teapot", name: "Teapot", price: 25 };

/** ada and grace are in the treatment group of the cart's 10% holdout; frances is held out. */
function shop(): Runtime {
  return new Runtime(publish(parseYaml(CART_YAML)), "2026-03-02T10:00:00.000Z", PRODUCTS)
    .person("ada", { email: "ada@example.com" })
    .person("grace", { email: "grace@example.com" })
    .person("frances", { email: "frances@example.com" });
}

describe("cart abandoned, customer never comes back", () => {
  /** Adds a kettle and a teapot, takes the kettle out again, and leaves. */
  function abandon(): Runtime {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.later(10 * MINUTE);
    rt.track("ada", "Product Added", { cart_id: "c1", ...teapot });
    rt.later(10 * MINUTE);
    rt.track("ada", "Product Removed", { cart_id: "c1", product_id: "kettle" });
    rt.runUntil("2026-03-03T10:00:00.000Z");
    return rt;
  }

  it("sends one reminder with what is still in the cart", () => {
    const rt = abandon();
    const [hook, ...more] = webhooks(rt.effects);
    expect(more).toEqual([]);
    expect(hook!.step).toBe("remind");
    expect(hook!.request.method).toBe("POST");
    expect(hook!.request.url).toBe("https://shop.example/hooks/cart");
    expect(hook!.request.headers).toEqual({ "content-type": "application/json" });
    expect(bodyOf(hook!)).toEqual({ email: "ada@example.com", items: [{ cart_id: "c1", ...teapot }] });
  });

  it("restarts the hour on every change and reminds an hour after the last one", () => {
    const rt = abandon();
    const cart = rt.instance("c1");
    const resets = rt.log(cart).filter((a) => a.kind === "timer_reset");
    expect(resets.map((a) => [a.at, a.data?.until])).toEqual([
      ["2026-03-02T10:10:00.000Z", "2026-03-02T11:10:00.000Z"],
      ["2026-03-02T10:20:00.000Z", "2026-03-02T11:20:00.000Z"],
    ]);
    const timedOut = rt.log(cart).find((a) => a.kind === "timed_out")!;
    expect(timedOut.at).toBe("2026-03-02T11:20:00.000Z");
    expect(rt.log(cart).find((a) => a.kind === "webhook_queued")!.at).toBe("2026-03-02T11:20:00.000Z");
  });

  it("keeps one instance per cart although every Product Added is a trigger", () => {
    const rt = abandon();
    expect(rt.instances).toHaveLength(1);
  });

  it("ends at the exit step after reminding", () => {
    const rt = abandon();
    const cart = rt.instance("c1");
    expect(cart).toMatchObject({ status: "completed", step: "done", endReason: "reached exit step done" });
    expect(cart.waiting).toBeNull();
    expect(cart.dueAt).toBeNull();
    expect(rt.kinds(cart)).toEqual([
      "entered",
      "step_started",
      "waiting",
      "timer_reset",
      "timer_reset",
      "timed_out",
      "step_started",
      "webhook_queued",
      "step_started",
      "completed",
    ]);
  });

  it("replaces an item added again in place, keeping the order items were first added in", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle, quantity: 1 });
    rt.track("ada", "Product Added", { cart_id: "c1", ...teapot, quantity: 1 });
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle, quantity: 2 });
    rt.later(2 * HOUR);
    expect(bodyOf(webhooks(rt.effects)[0]!)).toMatchObject({
      items: [
        { product_id: "kettle", quantity: 2 },
        { product_id: "teapot", quantity: 1 },
      ],
    });
  });
});

describe("cart abandoned, customer comes back within the hour", () => {
  function comeBack(): Runtime {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.later(40 * MINUTE);
    rt.track("ada", "Checkout Started", { cart_id: "c1" });
    return rt;
  }

  it("cancels the reminder", () => {
    const rt = comeBack();
    rt.runUntil("2026-03-05T00:00:00.000Z");
    expect(rt.effects).toEqual([]);
  });

  it("takes the checkout branch to done and keeps the matched event", () => {
    const rt = comeBack();
    const cart = rt.instance("c1");
    expect(cart).toMatchObject({ status: "completed", step: "done", dueAt: null, waiting: null });
    const matched = rt.log(cart).find((a) => a.kind === "event_matched")!;
    expect(matched).toMatchObject({
      at: "2026-03-02T10:40:00.000Z",
      step: "wait_checkout",
      reason: "Checkout Started matched branch checkout",
    });
    expect((cart.context.events as Record<string, Message[]>).checkout!.map((e) => e.event)).toEqual([
      "Checkout Started",
    ]);
  });

  it("still counts the order as the goal after the journey ended", () => {
    const rt = comeBack();
    rt.later(2 * HOUR);
    rt.track("ada", "Order Completed", { cart_id: "c1", total: 39 });
    const cart = rt.instance("c1");
    expect(cart.goalReachedAt).toBe("2026-03-02T12:40:00.000Z");
    expect(cart.status).toBe("completed");
    expect(rt.kinds(cart).slice(-2)).toEqual(["completed", "goal_reached"]);
  });
});

describe("customer orders while the reminder is pending", () => {
  it("records the goal, then exits, and never reminds", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.later(30 * MINUTE);
    rt.track("ada", "Order Completed", { cart_id: "c1", total: 39 });
    rt.later(DAY);
    const cart = rt.instance("c1");
    expect(rt.effects).toEqual([]);
    expect(cart).toMatchObject({
      status: "exited",
      endReason: "exit event Order Completed",
      goalReachedAt: "2026-03-02T10:30:00.000Z",
      endedAt: "2026-03-02T10:30:00.000Z",
      dueAt: null,
    });
    expect(rt.kinds(cart).slice(-2)).toEqual(["goal_reached", "exited"]);
  });

  it("does not count an order more than 7 days after entry", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.later(7 * DAY + 1);
    rt.track("ada", "Order Completed", { cart_id: "c1", total: 39 });
    const cart = rt.instance("c1");
    expect(cart.goalReachedAt).toBeNull();
    expect(rt.kinds(cart)).not.toContain("goal_reached");
  });
});

describe("a goal that ends the journey, and an exit with a condition", () => {
  function variant(change: (def: Record<string, unknown>) => Record<string, unknown>): Runtime {
    const def = change({ ...(parseYaml(CART_YAML) as Record<string, unknown>) });
    return new Runtime(publish(def), "2026-03-02T10:00:00.000Z").person("ada", { email: "ada@example.com" });
  }

  it("exits on the goal when the goal says exit", () => {
    const rt = variant((def) => ({
      ...def,
      exits: [],
      goal: { event: "Order Completed", within: "7d", exit: true },
    }));
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.later(20 * MINUTE);
    rt.track("ada", "Order Completed", { cart_id: "c1" });
    expect(rt.instance("c1")).toMatchObject({ status: "exited", endReason: "goal reached" });
    expect(rt.kinds(rt.instance("c1")).slice(-2)).toEqual(["goal_reached", "exited"]);
  });

  it("exits only on events that meet the exit's condition", () => {
    const rt = variant((def) => ({
      ...def,
      exits: [{ event: "Order Completed", where: { path: "event.properties.total", op: "gt", value: 0 } }],
    }));
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.track("ada", "Order Completed", { cart_id: "c1", total: 0 });
    expect(rt.instance("c1").status).toBe("active");
    rt.track("ada", "Order Completed", { cart_id: "c1", total: 39 });
    expect(rt.instance("c1")).toMatchObject({ status: "exited", endReason: "exit event Order Completed" });
  });
});

describe("a timer that fires after the hold was reset", () => {
  it("changes nothing when it fires before the new due time", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    const first = rt.instance("c1").dueAt;
    expect(first).toBe("2026-03-02T11:00:00.000Z");
    rt.now = new Date("2026-03-02T10:30:00.000Z");
    rt.track("ada", "Product Added", { cart_id: "c1", ...teapot });
    const reset = rt.instance("c1");
    expect(reset.dueAt).toBe("2026-03-02T11:30:00.000Z");

    // The wake-up claimed for the old due time arrives after the reset.
    const stale = advance(
      rt.version,
      reset,
      { kind: "timer", profile: { id: "ada", traits: {} }, lookups: {} },
      new Date(first!),
    );
    expect(stale).toEqual({ instance: reset, effects: [], audit: [] });

    rt.runUntil("2026-03-02T11:29:59.999Z");
    expect(rt.effects).toEqual([]);
    rt.runUntil("2026-03-02T11:30:00.000Z");
    expect(webhooks(rt.effects)).toHaveLength(1);
  });

  it("fires when it comes late, at the time it comes", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    const waiting = rt.instance("c1");
    const late = advance(
      rt.version,
      waiting,
      { kind: "timer", profile: { id: "ada", traits: { email: "ada@example.com" } }, lookups: {} },
      new Date("2026-03-02T11:05:00.000Z"),
    );
    expect(late.audit.find((a) => a.kind === "timed_out")!.at).toBe("2026-03-02T11:05:00.000Z");
    expect(webhooks(late.effects)).toHaveLength(1);
  });
});

describe("lookups given at entry", () => {
  it("land in context under their name, from the trigger's product, and stay put", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.track("ada", "Product Added", { cart_id: "c1", ...teapot });
    expect(rt.instance("c1").context.product).toEqual(PRODUCTS.products!.kettle);
  });

  it("are null when the table has no such row", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", product_id: "samovar" });
    expect(rt.instance("c1").context.product).toBeNull();
  });
});

describe("one customer, two carts", () => {
  function twoCarts(): Runtime {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.later(5 * MINUTE);
    rt.track("ada", "Product Added", { cart_id: "c2", ...teapot });
    return rt;
  }

  it("runs an instance per cart", () => {
    const rt = twoCarts();
    expect(rt.instances.map((i) => [i.key, i.status])).toEqual([
      ["c1", "active"],
      ["c2", "active"],
    ]);
  });

  it("lets an event reach only the cart it names", () => {
    const rt = twoCarts();
    rt.later(10 * MINUTE);
    rt.track("ada", "Checkout Started", { cart_id: "c2" });
    expect(rt.instance("c2").status).toBe("completed");
    expect(rt.instance("c1")).toMatchObject({ status: "active", dueAt: "2026-03-02T11:00:00.000Z" });
    rt.later(2 * HOUR);
    const [hook, ...more] = webhooks(rt.effects);
    expect(more).toEqual([]);
    expect(bodyOf(hook!)).toMatchObject({ items: [{ cart_id: "c1", product_id: "kettle" }] });
    expect(hook!.key.startsWith(`${rt.instance("c1").id}:`)).toBe(true);
  });

  it("lets an event without a cart id reach neither", () => {
    const rt = twoCarts();
    const def = rt.version.definition;
    const profile = { id: "ada", traits: {} };
    const bare: Message = { type: "track", event: "Checkout Started", properties: {}, messageId: "m" };
    const other: Message = { ...bare, properties: { cart_id: "c3" } };
    for (const instance of rt.instances) {
      expect(reaches(def, instance, bare, profile)).toBe(false);
      expect(reaches(def, instance, other, profile)).toBe(false);
    }
    rt.track("ada", "Checkout Started", {});
    rt.track("ada", "Checkout Started", { cart_id: "c3" });
    expect(rt.instances.map((i) => i.status)).toEqual(["active", "active"]);
  });

  it("does not mix one person's cart with another's", () => {
    const rt = twoCarts();
    rt.track("grace", "Product Added", { cart_id: "c1", ...teapot });
    rt.later(2 * HOUR);
    const bodies = webhooks(rt.effects).map(bodyOf);
    expect(bodies).toHaveLength(3);
    expect(bodies).toContainEqual({ email: "grace@example.com", items: [{ cart_id: "c1", ...teapot }] });
    expect(bodies).toContainEqual({ email: "ada@example.com", items: [{ cart_id: "c1", ...kettle }] });
  });

  it("starts a fresh instance when an ended cart is used again", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.later(2 * HOUR);
    rt.track("ada", "Product Added", { cart_id: "c1", ...teapot });
    expect(rt.instances.map((i) => [i.key, i.status])).toEqual([
      ["c1", "completed"],
      ["c1", "active"],
    ]);
    expect(rt.instances[1]!.context.cart).toEqual([{ cart_id: "c1", ...teapot }]);
  });
});

// ---------------------------------------------------------------------------------------------------
// Seed 000: a bank keeps several credit card applications of one person as "carts" and reminds about
// each one left half-filled.

const CARD_APPLICATION_YAML = `
key: card-application
name: Credit card application left unfinished
trigger: { event: Application Started }
entry: { key: "{{ event.properties.application_id }}" }
context:
  collections:
    completed: { id: "{{ event.properties.step }}", value: "{{ event.properties.step }}", upsert: [Application Step Completed] }
goal: { event: Application Submitted, within: 14d }
steps:
  - id: wait_submit
    hold_until:
      events: [{ id: submitted, event: Application Submitted, next: submitted }]
      timeout: 1h
      resetOn: [Application Step Completed]
      onTimeout: remind
  - id: remind
    message: { channel: email, template: card-application-reminder, topic: applications }
  - id: wait_again
    hold_until:
      events: [{ id: submitted, event: Application Submitted, next: submitted }]
      timeout: 1d
      onTimeout: remind_again
  - id: remind_again
    message: { channel: email, template: card-application-last-call, topic: applications }
    next: gave_up
  - id: gave_up
    exit: { reason: "reminded twice, not submitted" }
  - id: submitted
    exit: { reason: application submitted }
`;

function bank(): Runtime {
  return new Runtime(publish(parseYaml(CARD_APPLICATION_YAML)), "2026-05-14T09:00:00.000Z").person("ada", {
    email: "ada@example.com",
    first_name: "Ada",
  });
}

describe("a credit card application left half-filled", () => {
  /** Starts the gold card application, completes two form steps, and stops. */
  function halfFilled(): Runtime {
    const rt = bank();
    rt.track("ada", "Application Started", { application_id: "A-1", card: "Gold" });
    rt.later(20 * MINUTE);
    rt.track("ada", "Application Step Completed", { application_id: "A-1", step: "personal" });
    rt.later(25 * MINUTE);
    rt.track("ada", "Application Step Completed", { application_id: "A-1", step: "income" });
    return rt;
  }

  it("waits an hour after the last completed form step before reminding", () => {
    const rt = halfFilled();
    expect(rt.instance("A-1").dueAt).toBe("2026-05-14T10:45:00.000Z");
    rt.runUntil("2026-05-14T10:44:59.999Z");
    expect(rt.effects).toEqual([]);
    rt.runUntil("2026-05-14T10:45:00.000Z");
    expect(messages(rt.effects).map((m) => m.template)).toEqual(["card-application-reminder"]);
  });

  it("gives the reminder the application and the steps already done", () => {
    const rt = halfFilled();
    rt.later(HOUR);
    const [reminder] = messages(rt.effects);
    expect(reminder).toMatchObject({
      channel: "email",
      topic: "applications",
      transactional: false,
      step: "remind",
      key: `${rt.instance("A-1").id}:1`,
    });
    // Woken by its timer, the step renders with the trigger as its event.
    expect(reminder!.data.event).toMatchObject({
      event: "Application Started",
      properties: { application_id: "A-1", card: "Gold" },
    });
    expect(reminder!.data.context.completed).toEqual(["personal", "income"]);
  });

  it("reminds a second time a day later, then gives up", () => {
    const rt = halfFilled();
    rt.runUntil("2026-05-15T10:44:59.999Z");
    expect(messages(rt.effects)).toHaveLength(1);
    rt.runUntil("2026-05-15T10:45:00.000Z");
    expect(messages(rt.effects).map((m) => m.template)).toEqual([
      "card-application-reminder",
      "card-application-last-call",
    ]);
    expect(rt.instance("A-1")).toMatchObject({
      status: "completed",
      endReason: "reminded twice, not submitted",
      goalReachedAt: null,
    });
  });

  it("stops at submission after the first reminder, and counts it as the goal", () => {
    const rt = halfFilled();
    rt.later(3 * HOUR);
    rt.track("ada", "Application Submitted", { application_id: "A-1" });
    rt.later(7 * DAY);
    const application = rt.instance("A-1");
    expect(messages(rt.effects)).toHaveLength(1);
    expect(application).toMatchObject({
      status: "completed",
      step: "submitted",
      endReason: "application submitted",
      goalReachedAt: "2026-05-14T12:45:00.000Z",
    });
    expect(rt.kinds(application).slice(-4)).toEqual([
      "goal_reached",
      "event_matched",
      "step_started",
      "completed",
    ]);
  });

  it("never reminds about an application submitted within the hour", () => {
    const rt = halfFilled();
    rt.later(30 * MINUTE);
    rt.track("ada", "Application Submitted", { application_id: "A-1" });
    rt.later(3 * DAY);
    expect(rt.effects).toEqual([]);
    expect(rt.instance("A-1").endReason).toBe("application submitted");
  });

  it("follows two applications of one person separately", () => {
    const rt = bank();
    rt.track("ada", "Application Started", { application_id: "A-1", card: "Gold" });
    rt.later(5 * MINUTE);
    rt.track("ada", "Application Started", { application_id: "A-2", card: "Platinum" });
    rt.later(30 * MINUTE);
    rt.track("ada", "Application Step Completed", { application_id: "A-2", step: "personal" });
    rt.track("ada", "Application Submitted", { application_id: "A-2" });
    // A form step without an application id reaches neither application.
    rt.track("ada", "Application Step Completed", { step: "income" });
    rt.later(2 * HOUR);
    expect(rt.instance("A-2")).toMatchObject({ status: "completed", endReason: "application submitted" });
    expect(rt.instance("A-1").context.completed).toBeUndefined();
    const [reminder, ...more] = messages(rt.effects);
    expect(more).toEqual([]);
    expect(reminder!.data.event).toMatchObject({ properties: { application_id: "A-1", card: "Gold" } });
    expect(reminder!.key.startsWith(`${rt.instance("A-1").id}:`)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------------
// Waiting for a time of day or a date.

const ONBOARDING = {
  key: "onboarding",
  name: "Onboarding tips",
  timeZone: "Europe/Berlin",
  trigger: { event: "Signed Up" },
  steps: [
    { id: "morning", wait: { timeOfDay: "09:00" } },
    { id: "tips", message: { channel: "email", template: "onboarding-tips" } },
    { id: "workday", wait: { timeOfDay: "09:00", weekdays: ["mon", "tue", "wed", "thu", "fri"] } },
    { id: "checklist", message: { channel: "email", template: "onboarding-checklist" } },
  ],
};

/** Signs `who` up at `at` (a Friday afternoon unless told). */
function signUp(who: ProfileData, at = "2026-01-16T15:00:00.000Z"): Runtime {
  const rt = new Runtime(publish(ONBOARDING), at).person(who.id, who.traits, who.timeZone ?? undefined);
  rt.track(who.id, "Signed Up");
  return rt;
}

const newYorker: ProfileData = { id: "nora", traits: {}, timeZone: "America/New_York" };
const nowhere: ProfileData = { id: "nils", traits: {} };

describe("onboarding tips at 09:00 in the customer's time zone", () => {
  it("a New Yorker signing up on Friday afternoon waits until Saturday 09:00 New York time", () => {
    const rt = signUp(newYorker);
    // 15:00 UTC is 10:00 in New York (UTC-5 in January): today's 09:00 has passed.
    expect(rt.instance(null)).toMatchObject({
      step: "morning",
      waiting: { kind: "wait", until: "2026-01-17T14:00:00.000Z" },
      dueAt: "2026-01-17T14:00:00.000Z",
    });
  });

  it("someone without a time zone waits until 09:00 in the journey's zone", () => {
    const rt = signUp(nowhere);
    // 15:00 UTC is 16:00 in Berlin (UTC+1 in January).
    expect(rt.instance(null).dueAt).toBe("2026-01-17T08:00:00.000Z");
  });

  it("a profile whose time zone is not a real zone also gets the journey's zone", () => {
    const rt = signUp({ id: "mars", traits: {}, timeZone: "Mars/Olympus_Mons" });
    expect(rt.instance(null).dueAt).toBe("2026-01-17T08:00:00.000Z");
  });

  it("sends the tips at 09:00 sharp, then skips the weekend for the workday wait", () => {
    const ny = signUp(newYorker);
    ny.runUntil("2026-01-17T14:00:00.000Z");
    expect(messages(ny.effects).map((m) => m.template)).toEqual(["onboarding-tips"]);
    expect(ny.instance(null)).toMatchObject({ step: "workday", dueAt: "2026-01-19T14:00:00.000Z" });

    const berlin = signUp(nowhere);
    berlin.runUntil("2026-01-17T08:00:00.000Z");
    expect(berlin.instance(null)).toMatchObject({ step: "workday", dueAt: "2026-01-19T08:00:00.000Z" });
    berlin.runUntil("2026-01-19T08:00:00.000Z");
    expect(messages(berlin.effects).map((m) => m.template)).toEqual([
      "onboarding-tips",
      "onboarding-checklist",
    ]);
    expect(berlin.instance(null).status).toBe("completed");
  });

  it("keeps 09:00 on the wall clock when New York moves its clocks forward that night", () => {
    // Saturday 7 March 2026, 10:00 EST; the clocks go to EDT (UTC-4) early on Sunday.
    const rt = signUp(newYorker, "2026-03-07T15:00:00.000Z");
    expect(rt.instance(null).dueAt).toBe("2026-03-08T13:00:00.000Z");
  });

  it("waits for tomorrow's 09:00 when the customer signs up at 09:00 sharp", () => {
    const rt = signUp(newYorker, "2026-01-16T14:00:00.000Z");
    expect(rt.effects).toEqual([]);
    expect(rt.instance(null).dueAt).toBe("2026-01-17T14:00:00.000Z");
  });

  it("waits for the next workday after the tips, however promptly the timer fires", () => {
    // Monday 19 January, 10:00 in New York: the tips go out on Tuesday at 09:00.
    const prompt = signUp(newYorker, "2026-01-19T15:00:00.000Z");
    expect(prompt.instance(null).dueAt).toBe("2026-01-20T14:00:00.000Z");
    const waiting = prompt.instance(null);
    prompt.runUntil("2026-01-20T14:00:00.000Z");
    expect(messages(prompt.effects).map((m) => m.template)).toEqual(["onboarding-tips"]);
    expect(prompt.instance(null)).toMatchObject({ step: "workday", dueAt: "2026-01-21T14:00:00.000Z" });

    const late = advance(
      prompt.version,
      waiting,
      { kind: "timer", profile: newYorker, lookups: {} },
      new Date("2026-01-20T14:00:01.500Z"),
    );
    expect(late.instance).toMatchObject({ step: "workday", dueAt: "2026-01-21T14:00:00.000Z" });
  });

  it("ignores a timer that comes a moment early", () => {
    const rt = signUp(newYorker);
    const waiting = rt.instance(null);
    const early = advance(
      rt.version,
      waiting,
      { kind: "timer", profile: newYorker, lookups: {} },
      new Date("2026-01-17T13:59:59.999Z"),
    );
    expect(early).toEqual({ instance: waiting, effects: [], audit: [] });
  });
});

const TRIAL = {
  key: "trial-ending",
  name: "Trial ends tomorrow",
  trigger: { event: "Trial Started" },
  steps: [
    { id: "day_before", wait: { until: "{{ profile.traits.trial_ends_at }}", offset: "-1d" } },
    { id: "nudge", message: { channel: "email", template: "trial-ends-tomorrow" } },
  ],
};

function startTrial(traits: Record<string, unknown>): Runtime {
  const rt = new Runtime(publish(TRIAL), "2026-02-01T10:00:00.000Z").person("tom", traits);
  rt.track("tom", "Trial Started");
  return rt;
}

describe("a reminder the day before the trial ends", () => {
  it("waits until a day before the date in the profile", () => {
    const rt = startTrial({ trial_ends_at: "2026-02-15T12:00:00Z" });
    expect(rt.instance(null)).toMatchObject({
      waiting: { kind: "wait", until: "2026-02-14T12:00:00.000Z" },
      dueAt: "2026-02-14T12:00:00.000Z",
    });
    rt.runUntil("2026-02-14T11:59:59.999Z");
    expect(rt.effects).toEqual([]);
    rt.runUntil("2026-02-14T12:00:00.000Z");
    expect(messages(rt.effects).map((m) => m.template)).toEqual(["trial-ends-tomorrow"]);
  });

  it("reads the date's own offset", () => {
    const rt = startTrial({ trial_ends_at: "2026-02-15T12:00:00+01:00" });
    expect(rt.instance(null).dueAt).toBe("2026-02-14T11:00:00.000Z");
  });

  it("reads a date without a zone as UTC, whatever the server's zone", () => {
    const before = process.env.TZ;
    process.env.TZ = "America/New_York";
    try {
      expect(startTrial({ trial_ends_at: "2026-02-15T12:00:00" }).instance(null).dueAt).toBe(
        "2026-02-14T12:00:00.000Z",
      );
      expect(startTrial({ trial_ends_at: "2026-02-15 12:00" }).instance(null).dueAt).toBe(
        "2026-02-14T12:00:00.000Z",
      );
      expect(startTrial({ trial_ends_at: "2026-02-15" }).instance(null).dueAt).toBe(
        "2026-02-14T00:00:00.000Z",
      );
    } finally {
      if (before === undefined) delete process.env.TZ;
      else process.env.TZ = before;
    }
  });

  it.each([
    ["missing", {}],
    ["not a date", { trial_ends_at: "soon" }],
    ["null", { trial_ends_at: null }],
  ])("does not wait when the date is %s, and says why", (_, traits) => {
    const rt = startTrial(traits);
    const trial = rt.instance(null);
    expect(rt.log(trial).find((a) => a.step === "day_before" && a.kind === "waited")).toMatchObject({
      at: "2026-02-01T10:00:00.000Z",
      reason: "the date to wait for is missing or not a date: not waiting",
    });
    expect(messages(rt.effects)).toHaveLength(1);
    expect(trial.status).toBe("completed");
  });

  it("does not wait when the day before has already passed", () => {
    const rt = startTrial({ trial_ends_at: "2026-02-01T20:00:00Z" });
    expect(rt.log(rt.instance(null)).find((a) => a.kind === "waited")!.reason).toBe(
      "2026-01-31T20:00:00.000Z has passed: not waiting",
    );
    expect(messages(rt.effects)).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------------------------------------
// Splits, branches and webhooks that answer.

const PRICING_TEST = {
  key: "pricing-test",
  name: "Discount or not",
  trigger: { event: "Pricing Viewed" },
  entry: { reentry: "always" },
  steps: [
    {
      id: "offer",
      split: {
        name: "discount-2026",
        variants: [
          { name: "control", weight: 70, next: "plain" },
          { name: "discount", weight: 30, next: "coupon" },
        ],
      },
    },
    { id: "plain", message: { channel: "email", template: "pricing" }, next: "done" },
    { id: "coupon", message: { channel: "email", template: "pricing-coupon" } },
    { id: "done", exit: {} },
  ],
};

/** The variant a person gets in one new instance. */
function variantOf(
  version: JourneyVersion,
  profileId: string,
  instanceId: string,
  at = "2026-04-01T00:00:00Z",
) {
  const { audit, effects } = enter(
    version,
    {
      instanceId,
      profile: { id: profileId, traits: {} },
      key: null,
      event: { type: "track", event: "Pricing Viewed", messageId: instanceId },
      lookups: {},
      holdout: false,
    },
    new Date(at),
  );
  const split = audit.find((a) => a.kind === "split")!;
  const variant = split.data!.variant as string;
  expect(messages(effects).map((m) => m.template)).toEqual([
    variant === "control" ? "pricing" : "pricing-coupon",
  ]);
  return { variant, split };
}

describe("a 70/30 split stays with the customer", () => {
  const v1 = publish(PRICING_TEST);
  // Version 2 adds a step before the split; the split itself keeps its id.
  const v2 = publish(
    {
      ...PRICING_TEST,
      steps: [{ id: "pause", wait: { duration: "1m" } }, ...PRICING_TEST.steps],
    },
    2,
  );

  it("gives the same person the same variant in every instance and every version", () => {
    const seen = new Set<string>();
    for (const person of ["ada", "grace", "linus", "barbara", "edsger", "ken"]) {
      const first = variantOf(v1, person, `${person}-0`).variant;
      seen.add(first);
      for (let n = 1; n <= 20; n++) {
        expect(
          variantOf(v1, person, `${person}-${n}`, `2026-04-${String(n).padStart(2, "0")}T08:00:00Z`).variant,
        ).toBe(first);
      }
      const rt = new Runtime(v2, "2026-05-01T00:00:00.000Z");
      rt.track(person, "Pricing Viewed");
      rt.later(HOUR);
      const split = rt.log(rt.instances[0]!).find((a) => a.kind === "split")!;
      expect(split.data!.variant).toBe(first);
    }
    // Sticky per person, not one variant for everyone.
    expect(seen).toEqual(new Set(["control", "discount"]));
  });

  it("names the experiment, the variant and the bucket in the audit", () => {
    const { variant, split } = variantOf(v1, "ada", "ada-x");
    expect(split).toMatchObject({
      step: "offer",
      reason: `variant ${variant}`,
      data: { split: "discount-2026", variant, bucket: expect.any(Number) },
    });
  });

  it("splits 10,000 people 70/30 within 3 points", () => {
    let control = 0;
    for (let n = 0; n < 10_000; n++)
      if (variantOf(v1, `profile-${n}`, `i-${n}`).variant === "control") control++;
    expect(control / 10_000).toBeGreaterThan(0.67);
    expect(control / 10_000).toBeLessThan(0.73);
  });
});

const THANK_YOU = {
  key: "thank-you",
  name: "Thank you by tier",
  trigger: { event: "Order Completed" },
  entry: { reentry: "always" },
  steps: [
    {
      id: "tier",
      branch: {
        cases: [
          { when: { path: "profile.traits.plan", op: "eq", value: "pro" }, next: "vip" },
          {
            when: {
              all: [
                { path: "event.properties.total", op: "gte", value: 100 },
                { path: "event.properties.currency", op: "eq", value: "EUR" },
              ],
            },
            next: "big",
          },
        ],
        else: "thanks",
      },
    },
    { id: "vip", message: { channel: "email", template: "thanks-vip" }, next: "done" },
    { id: "big", message: { channel: "email", template: "thanks-big" }, next: "done" },
    { id: "thanks", message: { channel: "email", template: "thanks" } },
    { id: "done", exit: {} },
  ],
};

function order(traits: Record<string, unknown>, properties: Record<string, unknown>): AuditEntry {
  const rt = new Runtime(publish(THANK_YOU), "2026-06-01T12:00:00.000Z").person("olga", traits);
  rt.track("olga", "Order Completed", properties);
  return rt.log(rt.instances[0]!).find((a) => a.kind === "branch")!;
}

describe("a branch says which case it took and what it compared", () => {
  it("the first case", () => {
    expect(order({ plan: "pro" }, { total: 20, currency: "EUR" })).toMatchObject({
      step: "tier",
      reason: "case 1 matched",
      data: {
        case: 1,
        next: "vip",
        compared: [{ path: "profile.traits.plan", op: "eq", expected: "pro", actual: "pro", result: true }],
      },
    });
  });

  it("a later case", () => {
    const row = order({ plan: "free" }, { total: 120, currency: "EUR" });
    expect(row).toMatchObject({ reason: "case 2 matched", data: { case: 2, next: "big" } });
    expect(row.data!.compared).toEqual(
      expect.arrayContaining([
        { path: "event.properties.total", op: "gte", expected: 100, actual: 120, result: true },
        { path: "event.properties.currency", op: "eq", expected: "EUR", actual: "EUR", result: true },
      ]),
    );
  });

  it("the else branch, with every leaf it tried", () => {
    const row = order({}, { total: 120, currency: "USD" });
    expect(row).toMatchObject({ reason: "no case matched: else", data: { case: "else", next: "thanks" } });
    expect(row.data!.compared).toEqual([
      { path: "profile.traits.plan", op: "eq", expected: "pro", actual: undefined, result: false },
      { path: "event.properties.total", op: "gte", expected: 100, actual: 120, result: true },
      { path: "event.properties.currency", op: "eq", expected: "EUR", actual: "USD", result: false },
    ]);
  });
});

const SCORING = {
  key: "scoring",
  name: "Score new sign-ups",
  trigger: { event: "Signed Up" },
  steps: [
    {
      id: "score",
      webhook: {
        url: "https://scoring.example/score",
        headers: { authorization: "Bearer {{ profile.traits.team_token }}" },
        body: { email: "{{ profile.traits.email }}" },
        saveAs: "score",
      },
    },
    {
      id: "route",
      branch: {
        cases: [{ when: { path: "context.score.body.tier", op: "eq", value: "gold" }, next: "gold" }],
      },
    },
    { id: "standard", message: { channel: "email", template: "welcome" }, next: "done" },
    { id: "gold", message: { channel: "email", template: "welcome-gold" } },
    { id: "done", exit: {} },
  ],
};

function scoring(): { rt: Runtime; instance: Instance; hook: Extract<Effect, { kind: "webhook" }> } {
  const rt = new Runtime(publish(SCORING), "2026-07-01T08:00:00.000Z").person("sam", {
    email: "sam@example.com",
    team_token: "t0k",
  });
  rt.track("sam", "Signed Up");
  return { rt, instance: rt.instance(null), hook: webhooks(rt.effects)[0]! };
}

describe("a webhook whose answer the journey waits for", () => {
  it("sends the request and waits for its result, with no timer", () => {
    const { instance, hook } = scoring();
    expect(hook).toMatchObject({
      key: `${instance.id}:1`,
      step: "score",
      saveAs: "score",
      request: {
        method: "POST",
        url: "https://scoring.example/score",
        headers: { authorization: "Bearer t0k", "content-type": "application/json" },
      },
    });
    expect(bodyOf(hook)).toEqual({ email: "sam@example.com" });
    expect(instance).toMatchObject({
      status: "active",
      step: "score",
      waiting: { kind: "webhook", effectKey: hook.key, saveAs: "score" },
      dueAt: null,
    });
  });

  it("ignores the result of another effect, and timers", () => {
    const { rt, instance } = scoring();
    const other = rt.webhookResult(instance.id, `${instance.id}:7`, { ok: true, status: 200, body: {} });
    expect(other).toEqual({ instance, effects: [], audit: [] });
    const timer = advance(
      rt.version,
      instance,
      { kind: "timer", profile: { id: "sam", traits: {} }, lookups: {} },
      new Date("2026-07-09T00:00:00Z"),
    );
    expect(timer).toEqual({ instance, effects: [], audit: [] });
  });

  it("keeps the answer under its saveAs name and moves on", () => {
    const { rt, instance, hook } = scoring();
    const outcome: WebhookOutcome = { ok: true, status: 200, body: { tier: "gold", points: 87 } };
    rt.later(2 * MINUTE);
    rt.webhookResult(instance.id, hook.key, outcome);
    const done = rt.instance(null);
    expect(done.context.score).toEqual(outcome);
    expect(messages(rt.effects).map((m) => m.template)).toEqual(["welcome-gold"]);
    expect(done).toMatchObject({ status: "completed", waiting: null });
    expect(rt.log(done).find((a) => a.kind === "branch")!.at).toBe("2026-07-01T08:02:00.000Z");
  });

  it("keeps a failure too, so the journey can branch on it", () => {
    const { rt, instance, hook } = scoring();
    const outcome: WebhookOutcome = { ok: false, reason: "timed out after 10s" };
    rt.webhookResult(instance.id, hook.key, outcome);
    expect(rt.instance(null).context.score).toEqual(outcome);
    expect(messages(rt.effects).map((m) => m.template)).toEqual(["welcome"]);
  });

  it("takes a result delivered twice only once", () => {
    const { rt, instance, hook } = scoring();
    const outcome: WebhookOutcome = { ok: true, status: 200, body: { tier: "gold" } };
    rt.webhookResult(instance.id, hook.key, outcome);
    const after = rt.instance(null);
    expect(rt.webhookResult(instance.id, hook.key, outcome)).toEqual({
      instance: after,
      effects: [],
      audit: [],
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// Who enters: holdout and re-entry.

describe("a holdout keeps a control group", () => {
  const cart = publish(parseYaml(CART_YAML)).definition;
  const half = { ...cart, entry: { ...cart.entry, holdout: 0.5 } };
  const fresh: EntryHistory = { live: false, ever: false, lastEndedAt: null, count: 0 };
  const now = new Date("2026-03-02T10:00:00Z");

  it("keeps each person in the same group every time", () => {
    for (let n = 0; n < 100; n++) {
      const first = decideEntry(half, "abandoned-cart", `p-${n}`, fresh, now);
      for (let again = 0; again < 5; again++) {
        const later = new Date(now.getTime() + again * DAY);
        expect(decideEntry(half, "abandoned-cart", `p-${n}`, { ...fresh, count: again }, later)).toEqual(
          first,
        );
      }
    }
  });

  it("holds out about half of 10,000 people at 0.5", () => {
    let held = 0;
    for (let n = 0; n < 10_000; n++) {
      const decision = decideEntry(half, "abandoned-cart", `person-${n}`, fresh, now);
      if (!decision.enter) throw new Error("everyone may enter");
      if (decision.holdout) held++;
    }
    expect(held / 10_000).toBeGreaterThan(0.47);
    expect(held / 10_000).toBeLessThan(0.53);
  });

  it("holds out nobody at 0", () => {
    const none = { ...cart, entry: { ...cart.entry, holdout: 0 } };
    for (let n = 0; n < 1000; n++) {
      expect(decideEntry(none, "abandoned-cart", `person-${n}`, fresh, now)).toEqual({
        enter: true,
        holdout: false,
      });
    }
  });

  it("runs no steps for a held-out customer", () => {
    const rt = shop();
    rt.track("frances", "Product Added", { cart_id: "c9", ...kettle });
    rt.later(DAY);
    const held = rt.instance("c9");
    expect(held).toMatchObject({
      status: "held_out",
      step: null,
      dueAt: null,
      endReason: "holdout",
      endedAt: "2026-03-02T10:00:00.000Z",
      goalUntil: "2026-03-09T10:00:00.000Z",
    });
    expect(rt.kinds(held)).toEqual(["held_out"]);
    expect(rt.effects).toEqual([]);
  });

  it("still records the control group's conversion within the goal window", () => {
    const rt = shop();
    rt.track("frances", "Product Added", { cart_id: "c9", ...kettle });
    rt.later(3 * DAY);
    rt.track("frances", "Order Completed", { cart_id: "c9", total: 39 });
    const held = rt.instance("c9");
    expect(held).toMatchObject({ status: "held_out", goalReachedAt: "2026-03-05T10:00:00.000Z" });
    expect(rt.kinds(held)).toEqual(["held_out", "goal_reached"]);
  });

  it("does not record a conversion after the window", () => {
    const rt = shop();
    rt.track("frances", "Product Added", { cart_id: "c9", ...kettle });
    rt.later(8 * DAY);
    rt.track("frances", "Order Completed", { cart_id: "c9", total: 39 });
    // Past goal_until the runtime no longer loads the instance; the engine refuses it too.
    const held = rt.instance("c9");
    expect(held.goalReachedAt).toBeNull();
    const late = advance(
      rt.version,
      held,
      {
        kind: "event",
        event: { type: "track", event: "Order Completed", properties: { cart_id: "c9" }, messageId: "late" },
        profile: { id: "frances", traits: {} },
        lookups: {},
      },
      rt.now,
    );
    expect(late).toEqual({ instance: held, effects: [], audit: [] });
  });
});

describe("re-entry rules", () => {
  const now = new Date("2026-03-02T10:00:00.000Z");
  const hourAgo = new Date(now.getTime() - HOUR).toISOString();
  const defWith = (entry: Record<string, unknown>) =>
    publish({
      key: "again",
      name: "Again",
      trigger: { event: "Ping" },
      entry,
      steps: [{ id: "end", exit: {} }],
    }).definition;
  const decide = (entry: Record<string, unknown>, history: Partial<EntryHistory>) =>
    decideEntry(
      defWith(entry),
      "again",
      "ada",
      { live: false, ever: false, lastEndedAt: null, count: 0, ...history },
      now,
    );
  const yes = { enter: true, holdout: false };

  it("never: once only, per key", () => {
    expect(decide({ reentry: "never" }, {})).toEqual(yes);
    expect(decide({ reentry: "never" }, { ever: true, lastEndedAt: hourAgo, count: 1 })).toEqual({
      enter: false,
      reason: "re-entry is never allowed",
    });
    // Another key of the same person has its own history.
    expect(decide({ reentry: "never" }, { ever: false, count: 3 })).toEqual(yes);
  });

  it("after_exit (the default): again once the last one ended", () => {
    for (const entry of [{ reentry: "after_exit" }, {}]) {
      expect(decide(entry, { live: true, ever: true, count: 1 })).toEqual({
        enter: false,
        reason: "an instance is live",
      });
      expect(decide(entry, { ever: true, lastEndedAt: hourAgo, count: 1 })).toEqual(yes);
    }
  });

  it("always: alongside a live one", () => {
    expect(decide({ reentry: "always" }, { live: true, ever: true, count: 1 })).toEqual(yes);
  });

  it("cooldown: not until the time has passed since the last exit", () => {
    const entry = { reentry: "after_exit", cooldown: "1d" };
    expect(decide(entry, { ever: true, lastEndedAt: hourAgo, count: 1 })).toEqual({
      enter: false,
      reason: "cooldown until 2026-03-03T09:00:00.000Z",
    });
    const dayAgo = new Date(now.getTime() - DAY).toISOString();
    expect(decide(entry, { ever: true, lastEndedAt: dayAgo, count: 1 })).toEqual(yes);
  });

  it("maxPerProfile: the person's instances of the journey, any key", () => {
    const cart = publish(parseYaml(CART_YAML)).definition;
    const history = (count: number): EntryHistory => ({ live: false, ever: false, lastEndedAt: null, count });
    expect(decideEntry(cart, "abandoned-cart", "ada", history(24), now)).toEqual(yes);
    expect(decideEntry(cart, "abandoned-cart", "ada", history(25), now)).toEqual({
      enter: false,
      reason: "maxPerProfile 25 reached",
    });
  });

  it("the cart's 26th cart does not start an instance", () => {
    const rt = shop();
    for (let n = 1; n <= 26; n++) rt.track("ada", "Product Added", { cart_id: `c${n}`, ...kettle });
    expect(rt.instances).toHaveLength(25);
    expect(rt.instances.map((i) => i.key)).not.toContain("c26");
  });
});

// ---------------------------------------------------------------------------------------------------
// Exits, effect keys, failures.

describe("an operator ends a running instance", () => {
  it("exits with the reason given, and its timer no longer fires", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.later(10 * MINUTE);
    const result = rt.exit(rt.instance("c1").id, "journey archived");
    expect(result.instance).toMatchObject({
      status: "exited",
      endReason: "journey archived",
      endedAt: "2026-03-02T10:10:00.000Z",
      waiting: null,
      dueAt: null,
    });
    expect(result.audit).toEqual([
      { at: "2026-03-02T10:10:00.000Z", kind: "exited", step: "wait_checkout", reason: "journey archived" },
    ]);
    rt.later(DAY);
    expect(rt.effects).toEqual([]);
  });

  it("leaves an instance that already ended as it was", () => {
    const rt = shop();
    rt.track("ada", "Product Added", { cart_id: "c1", ...kettle });
    rt.track("ada", "Checkout Started", { cart_id: "c1" });
    const ended = rt.instance("c1");
    expect(rt.exit(ended.id, "journey archived")).toEqual({ instance: ended, effects: [], audit: [] });
  });
});

const WELCOME_SERIES = {
  key: "welcome-series",
  name: "Welcome series",
  trigger: { event: "Signed Up" },
  entry: { key: "{{ event.properties.workspace }}" },
  steps: [
    { id: "mark", update_profile: { traits: { onboarding: "started" } } },
    { id: "hello", message: { channel: "email", template: "welcome" } },
    {
      id: "crm",
      webhook: {
        url: "https://crm.example/leads",
        body: { id: "{{ profile.id }}", stage: "{{ profile.traits.onboarding }}" },
      },
    },
    { id: "pause", wait: { duration: "2d" } },
    { id: "follow_up", message: { channel: "email", template: "welcome-2" } },
    { id: "finish", update_profile: { traits: { onboarding: "done" } } },
  ],
};

/** The same script, run from scratch: two workspaces of one person, the timers, the end. */
function welcomeTwice(): { results: AdvanceResult[]; effects: Effect[] } {
  const version = publish(WELCOME_SERIES);
  const profile: ProfileData = { id: "wendy", traits: {} };
  const results: AdvanceResult[] = [];
  const start = new Date("2026-08-01T09:00:00.000Z");
  for (const workspace of ["w1", "w2"]) {
    const event: Message = {
      type: "track",
      event: "Signed Up",
      properties: { workspace },
      messageId: workspace,
    };
    const entered = enter(
      version,
      { instanceId: `welcome-${workspace}`, profile, key: workspace, event, lookups: {}, holdout: false },
      start,
    );
    const woken = advance(
      version,
      entered.instance,
      { kind: "timer", profile, lookups: {} },
      new Date(entered.instance.dueAt!),
    );
    results.push(entered, woken);
  }
  return { results, effects: results.flatMap((r) => r.effects) };
}

describe("effects carry keys that make them happen once", () => {
  it("gives every effect its own key, numbered per instance", () => {
    const { effects } = welcomeTwice();
    expect(effects.map((e) => [e.kind, e.key])).toEqual([
      ["update_profile", "welcome-w1:1"],
      ["message", "welcome-w1:2"],
      ["webhook", "welcome-w1:3"],
      ["message", "welcome-w1:4"],
      ["update_profile", "welcome-w1:5"],
      ["update_profile", "welcome-w2:1"],
      ["message", "welcome-w2:2"],
      ["webhook", "welcome-w2:3"],
      ["message", "welcome-w2:4"],
      ["update_profile", "welcome-w2:5"],
    ]);
    expect(new Set(effects.map((e) => e.key)).size).toBe(effects.length);
  });

  it("gives the same result for the same inputs", () => {
    expect(welcomeTwice()).toEqual(welcomeTwice());
  });

  it("leaves the instance it was given unchanged", () => {
    const version = publish(WELCOME_SERIES);
    const profile: ProfileData = { id: "wendy", traits: {} };
    const { instance } = enter(
      version,
      {
        instanceId: "welcome-w1",
        profile,
        key: "w1",
        event: { type: "track", event: "Signed Up", properties: { workspace: "w1" }, messageId: "m" },
        lookups: {},
        holdout: false,
      },
      new Date("2026-08-01T09:00:00.000Z"),
    );
    const copy = structuredClone(instance);
    advance(version, instance, { kind: "timer", profile, lookups: {} }, new Date("2026-08-05T00:00:00Z"));
    expect(instance).toEqual(copy);
  });

  it("lets later steps of a run see the traits it set", () => {
    const [entered] = welcomeTwice().results;
    const [update] = entered!.effects;
    expect(update).toMatchObject({ kind: "update_profile", traits: { onboarding: "started" } });
    expect(bodyOf(webhooks(entered!.effects)[0]!)).toEqual({ id: "wendy", stage: "started" });
  });
});

describe("a step whose template fails at run time", () => {
  // Valid as written; the customer's data makes the loop too big for the template's memory limit.
  const RECEIPT = {
    key: "receipt",
    name: "Receipt lines",
    trigger: { event: "Order Completed" },
    steps: [
      {
        id: "notify",
        webhook: {
          url: "https://erp.example/receipts",
          body: { lines: "{% for i in (1..event.properties.quantity) %}line {{ i }}\n{% endfor %}" },
        },
      },
      { id: "thanks", message: { channel: "email", template: "thanks" } },
    ],
  };

  it("exits the instance with step_failed and the reason, and sends nothing", () => {
    const rt = new Runtime(publish(RECEIPT), "2026-09-01T10:00:00.000Z");
    rt.track("ursula", "Order Completed", { quantity: 100_000_000 });
    const failed = rt.instance(null);
    expect(rt.effects).toEqual([]);
    expect(failed).toMatchObject({ status: "exited", step: "notify", effectCount: 0 });
    expect(failed.endReason).toMatch(/^step notify failed: .*memory alloc limit exceeded/);
    expect(rt.kinds(failed).slice(-2)).toEqual(["step_failed", "exited"]);
    expect(rt.log(failed).find((a) => a.kind === "step_failed")!.reason).toMatch(
      /memory alloc limit exceeded/,
    );
  });

  it("runs normally on ordinary data", () => {
    const rt = new Runtime(publish(RECEIPT), "2026-09-01T10:00:00.000Z");
    rt.track("ursula", "Order Completed", { quantity: 2 });
    expect(bodyOf(webhooks(rt.effects)[0]!)).toEqual({ lines: "line 1\nline 2\n" });
    expect(rt.instance(null).status).toBe("completed");
  });
});
