import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { DURATION_MESSAGE } from "./duration.ts";
import { validateJourney } from "./validate.ts";

/** The abandoned cart exactly as the issue writes it. */
const ISSUE_CART_YAML = `
key: abandoned-cart
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

const issueCart = () => parseYaml(ISSUE_CART_YAML) as Record<string, unknown>;
const cart = () => ({ ...issueCart(), name: "Abandoned cart" });

/** A small valid journey to break one rule at a time. */
const journey = (steps: unknown[], rest: Record<string, unknown> = {}) => ({
  key: "welcome",
  name: "Welcome",
  trigger: { event: "Signed Up" },
  ...rest,
  steps,
});

describe("the issue's abandoned cart", () => {
  it("is valid once named, also against the workspace's tables", () => {
    expect(validateJourney(cart())).toEqual([]);
    expect(validateJourney(cart(), { tables: ["products", "stores"] })).toEqual([]);
  });

  it("as written in the issue, lacks only its name", () => {
    expect(validateJourney(issueCart())).toEqual([{ path: "name", message: expect.any(String) }]);
  });

  it("names a lookup into a table the workspace does not have, and how to add it", () => {
    expect(validateJourney(cart(), { tables: ["stores"] })).toEqual([
      {
        path: "context.lookups.product.table",
        message: 'unknown table "products"; upload it with PUT /api/v1/tables/products',
      },
    ]);
  });
});

describe("a journey whose steps do not connect", () => {
  it("names a next that goes to no step, and what is left unreachable", () => {
    const def = journey([
      { id: "pause", wait: { duration: "1d" }, next: "hello" },
      { id: "welcome", message: { channel: "email", template: "welcome" } },
    ]);
    expect(validateJourney(def)).toEqual([
      { path: "steps.0", message: 'step "pause" (next) goes to unknown step "hello"' },
      { path: "steps.1", message: 'step "welcome" is unreachable from the first step' },
    ]);
  });

  it("names unknown targets of hold branches, timeouts, branch cases and split variants", () => {
    const def = journey([
      {
        id: "hold",
        hold_until: {
          events: [{ id: "paid", event: "Paid", next: "thanks" }],
          timeout: "1h",
          onTimeout: "nag",
        },
      },
      {
        id: "route",
        branch: { cases: [{ when: { path: "event.properties.x", op: "exists" }, next: "vip" }], else: "ab" },
      },
      {
        id: "ab",
        split: {
          variants: [
            { name: "a", weight: 1, next: "left" },
            { name: "b", weight: 1 },
          ],
        },
      },
      { id: "end", exit: {} },
    ]);
    const violations = validateJourney(def);
    expect(violations).toEqual(
      expect.arrayContaining([
        { path: "steps.0", message: 'step "hold" (paid) goes to unknown step "thanks"' },
        { path: "steps.0", message: 'step "hold" (timeout) goes to unknown step "nag"' },
        { path: "steps.1", message: 'step "route" (case 1) goes to unknown step "vip"' },
        { path: "steps.2", message: 'step "ab" (a) goes to unknown step "left"' },
      ]),
    );
  });

  it("names a step nothing leads to", () => {
    const def = journey([
      { id: "welcome", message: { channel: "email", template: "welcome" } },
      { id: "done", exit: {} },
      { id: "orphan", message: { channel: "email", template: "never" } },
    ]);
    expect(validateJourney(def)).toEqual([
      { path: "steps.2", message: 'step "orphan" is unreachable from the first step' },
    ]);
  });

  it("names a duplicate step id", () => {
    const def = journey([
      { id: "hello", message: { channel: "email", template: "welcome" } },
      { id: "hello", message: { channel: "sms", template: "welcome" } },
    ]);
    expect(validateJourney(def)).toEqual([{ path: "steps.1.id", message: 'duplicate step id "hello"' }]);
  });

  it("names duplicate hold branches and split variants", () => {
    const def = journey([
      {
        id: "hold",
        hold_until: {
          events: [
            { id: "paid", event: "Paid" },
            { id: "paid", event: "Order Completed" },
          ],
        },
      },
      {
        id: "ab",
        split: {
          variants: [
            { name: "a", weight: 1 },
            { name: "a", weight: 2 },
          ],
        },
      },
    ]);
    expect(validateJourney(def)).toEqual([
      { path: "steps.0.hold_until.events.1.id", message: 'duplicate branch id "paid"' },
      { path: "steps.1.split.variants.1.name", message: 'duplicate variant "a"' },
    ]);
  });
});

describe("a journey that loops", () => {
  it("refuses a cycle that never waits: it would run forever at once", () => {
    const def = journey([
      {
        id: "check",
        branch: { cases: [{ when: { path: "profile.traits.done", op: "eq", value: true }, next: "done" }] },
      },
      { id: "bump", update_profile: { traits: { tries: 1 } }, next: "check" },
      { id: "done", exit: {} },
    ]);
    expect(validateJourney(def)).toEqual([
      { path: "steps.0", message: "steps check -> bump -> check form a cycle without a wait" },
    ]);
  });

  it("accepts a cycle through a wait", () => {
    const def = journey([
      {
        id: "check",
        branch: { cases: [{ when: { path: "profile.traits.done", op: "eq", value: true }, next: "done" }] },
      },
      { id: "nudge", message: { channel: "email", template: "nudge" } },
      { id: "pause", wait: { duration: "1d" }, next: "check" },
      { id: "done", exit: {} },
    ]);
    expect(validateJourney(def)).toEqual([]);
  });

  it("accepts a cycle through a hold", () => {
    const def = journey([
      { id: "hold", hold_until: { events: [{ id: "paid", event: "Paid", next: "done" }], timeout: "1d" } },
      { id: "nudge", message: { channel: "email", template: "nudge" }, next: "hold" },
      { id: "done", exit: {} },
    ]);
    expect(validateJourney(def)).toEqual([]);
  });
});

describe("templates", () => {
  it("names the field and the line of a template that does not parse", () => {
    const def = journey([
      {
        id: "notify",
        webhook: {
          url: "https://hooks.example/{{ profile.id }}",
          body: {
            text: "Hello\n{% if profile.traits.vip %}\nVIP",
            items: ["{{ context.cart | nosuchfilter }}"],
          },
        },
      },
    ]);
    expect(validateJourney(def)).toEqual([
      {
        path: "steps.0.webhook.body.text",
        message: "bad template: line 2, column 1: tag {% if profile.traits.vip %} not closed",
      },
      {
        path: "steps.0.webhook.body.items.0",
        message: "bad template: line 1, column 1: undefined filter: nosuchfilter",
      },
    ]);
  });

  it("checks the entry key, collections, lookups, wait dates, headers and profile updates", () => {
    const bad = "{{ oops";
    const def = journey(
      [
        { id: "until", wait: { until: bad } },
        { id: "hook", webhook: { url: "https://x.example", headers: { "x-id": bad } } },
        { id: "mark", update_profile: { traits: { seen: bad } } },
      ],
      {
        entry: { key: bad },
        context: {
          collections: { cart: { id: bad, upsert: ["Product Added"] } },
          lookups: { product: { table: "products", key: bad } },
        },
      },
    );
    expect(validateJourney(def).map((v) => v.path)).toEqual([
      "entry.key",
      "context.collections.cart.id",
      "context.lookups.product.key",
      "steps.0.wait.until",
      "steps.1.webhook.headers.x-id",
      "steps.2.update_profile.traits.seen",
    ]);
    for (const v of validateJourney(def)) expect(v.message).toMatch(/^bad template: /);
  });

  it("refuses a webhook URL that is not http(s)", () => {
    const def = journey([{ id: "hook", webhook: { url: "ftp://files.example/cart" } }]);
    expect(validateJourney(def)).toEqual([
      { path: "steps.0.webhook.url", message: "must be an http:// or https:// URL" },
    ]);
  });
});

describe("time zones", () => {
  it("names a journey or wait time zone that does not exist", () => {
    const def = journey([{ id: "morning", wait: { timeOfDay: "09:00", timeZone: "Europe/Berln" } }], {
      timeZone: "Mars/Olympus_Mons",
    });
    expect(validateJourney(def)).toEqual([
      {
        path: "timeZone",
        message: 'unknown time zone "Mars/Olympus_Mons" (use an IANA name such as Europe/Berlin)',
      },
      {
        path: "steps.0.wait.timeZone",
        message: 'unknown time zone "Europe/Berln" (use an IANA name such as Europe/Berlin)',
      },
    ]);
  });

  it("names a schedule's unknown time zone", () => {
    const def = journey([{ id: "done", exit: {} }], {
      trigger: { schedule: { cron: "0 9 * * 1", timeZone: "Berlin" } },
    });
    expect(validateJourney(def)).toEqual([
      {
        path: "trigger.schedule.timeZone",
        message: 'unknown time zone "Berlin" (use an IANA name such as Europe/Berlin)',
      },
    ]);
  });
});

describe("steps of the wrong shape", () => {
  it("refuses a step with two kinds", () => {
    const def = journey([
      { id: "both", wait: { duration: "1h" }, message: { channel: "email", template: "t" } },
    ]);
    expect(validateJourney(def)).toEqual([
      { path: "steps.0", message: "step takes only one of wait, message" },
    ]);
  });

  it("refuses a step with no kind", () => {
    expect(validateJourney(journey([{ id: "nothing" }]))).toEqual([
      {
        path: "steps.0",
        message: "step needs one of: wait, hold_until, branch, split, webhook, message, update_profile, exit",
      },
    ]);
  });

  it("refuses a wait of two kinds", () => {
    expect(validateJourney(journey([{ id: "w", wait: { duration: "1h", timeOfDay: "09:00" } }]))).toEqual([
      { path: "steps.0.wait", message: "wait takes only one of duration, timeOfDay" },
    ]);
  });

  it("names every duration that does not parse", () => {
    const def = journey(
      [
        { id: "pause", wait: { duration: "1 hour" } },
        { id: "hold", hold_until: { events: [{ id: "paid", event: "Paid" }], timeout: "30m1h" } },
        { id: "trial", wait: { until: "{{ profile.traits.trial_ends_at }}", offset: "-1 day" } },
      ],
      { goal: { event: "Paid", within: "a week" }, entry: { cooldown: "P1M" } },
    );
    expect(validateJourney(def)).toEqual(
      expect.arrayContaining([
        { path: "steps.0.wait.duration", message: DURATION_MESSAGE },
        { path: "steps.1.hold_until.timeout", message: DURATION_MESSAGE },
        { path: "steps.2.wait.offset", message: expect.stringContaining("optionally negative (-1d)") },
        { path: "goal.within", message: DURATION_MESSAGE },
        { path: "entry.cooldown", message: DURATION_MESSAGE },
      ]),
    );
    expect(validateJourney(def)).toHaveLength(5);
  });

  it("accepts a negative offset", () => {
    const def = journey([
      { id: "trial", wait: { until: "{{ profile.traits.trial_ends_at }}", offset: "-1d" } },
    ]);
    expect(validateJourney(def)).toEqual([]);
  });
});

describe("schema errors name the field", () => {
  it("names the key, the missing name and the unknown channel", () => {
    const def = {
      key: "Abandoned Cart",
      trigger: { event: "Product Added" },
      steps: [{ id: "hello", message: { channel: "pigeon", template: "welcome" } }],
    };
    expect(validateJourney(def)).toEqual([
      { path: "key", message: "must be lowercase letters, digits, - or _ (at most 100)" },
      { path: "name", message: expect.any(String) },
      { path: "steps.0.message.channel", message: expect.stringContaining('"email"') },
    ]);
  });

  it("names an unknown field", () => {
    const def = { ...journey([{ id: "end", exit: {} }]), trigger: { event: "Signed Up", when: "always" } };
    expect(validateJourney(def)).toEqual([{ path: "trigger", message: expect.stringContaining('"when"') }]);
  });

  it("names a bad step id, a bad time of day and a split weight", () => {
    const def = journey([
      { id: "1st", wait: { timeOfDay: "9:00" } },
      {
        id: "ab",
        split: {
          variants: [
            { name: "a", weight: 0 },
            { name: "b", weight: 1 },
          ],
        },
      },
    ]);
    expect(validateJourney(def).map((v) => v.path)).toEqual([
      "steps.0.id",
      "steps.0.wait.timeOfDay",
      "steps.1.split.variants.0.weight",
    ]);
  });

  it("refuses a journey without steps or trigger", () => {
    expect(validateJourney({ key: "empty", name: "Empty", trigger: { event: "X" }, steps: [] })).toEqual([
      { path: "steps", message: "a journey needs at least one step" },
    ]);
    expect(
      validateJourney({ key: "empty", name: "Empty", trigger: {}, steps: [{ id: "e", exit: {} }] }),
    ).toEqual([{ path: "trigger", message: "trigger needs one of: event, api, schedule" }]);
  });

  it("refuses what is not an object at all", () => {
    expect(validateJourney("key: x")).toEqual([{ path: "", message: expect.any(String) }]);
  });
});

describe("context names", () => {
  it("refuses names the engine uses, and one name used twice", () => {
    const def = journey([{ id: "score", webhook: { url: "https://score.example", saveAs: "cart" } }], {
      context: {
        collections: { cart: { id: "{{ event.properties.sku }}", upsert: ["Product Added"] } },
        lookups: { trigger: { table: "products", key: "{{ context.trigger.properties.sku }}" } },
      },
    });
    expect(validateJourney(def)).toEqual([
      { path: "context.lookups.trigger", message: '"trigger" is reserved in context' },
      {
        path: "steps.0.webhook.saveAs",
        message: 'context name "cart" is already used by context.collections.cart',
      },
    ]);
  });
});

describe("a scheduled trigger", () => {
  const scheduled = (where: unknown) =>
    journey([{ id: "hello", message: { channel: "email", template: "weekly" } }], {
      trigger: { schedule: { cron: "0 9 * * 1", timeZone: "Europe/Berlin" }, where },
    });

  it("refuses a condition that reads the event it does not have", () => {
    const where = {
      all: [
        { path: "profile.traits.plan", op: "eq", value: "pro" },
        { path: "event.properties.total", op: "gt", value: 10 },
      ],
    };
    expect(validateJourney(scheduled(where))).toEqual([
      {
        path: "trigger.where",
        message:
          "a scheduled trigger has no event: the condition may read only profile.* (not event.properties.total)",
      },
    ]);
  });

  it("accepts a condition on the profile", () => {
    expect(validateJourney(scheduled({ path: "profile.traits.plan", op: "eq", value: "pro" }))).toEqual([]);
  });
});

describe("fields that would be ignored", () => {
  it("refuses an offset without until, weekdays or a time zone without a time of day", () => {
    const def = journey([
      { id: "pause", wait: { duration: "1d", offset: "-1h" } },
      { id: "weekday", wait: { duration: "1d", weekdays: ["mon"], timeZone: "Europe/Berlin" } },
    ]);
    expect(validateJourney(def)).toEqual([
      {
        path: "steps.0.wait.offset",
        message: "offset works only with until; without it, it would be ignored",
      },
      {
        path: "steps.1.wait.weekdays",
        message: "weekdays works only with timeOfDay; without it, it would be ignored",
      },
      {
        path: "steps.1.wait.timeZone",
        message: "timeZone works only with timeOfDay; without it, it would be ignored",
      },
    ]);
  });

  it("refuses resetOn and onTimeout on a hold without a timeout", () => {
    const def = journey([
      {
        id: "hold",
        hold_until: { events: [{ id: "paid", event: "Paid" }], resetOn: ["Product Added"], onTimeout: "nag" },
      },
      { id: "nag", message: { channel: "email", template: "nag" } },
    ]);
    expect(validateJourney(def)).toEqual([
      {
        path: "steps.0.hold_until.resetOn",
        message: "resetOn works only with timeout; without it, it would be ignored",
      },
      {
        path: "steps.0.hold_until.onTimeout",
        message: "onTimeout works only with timeout; without it, it would be ignored",
      },
    ]);
  });
});

describe("a message step, against the workspace's templates and topics", () => {
  const send = (message: Record<string, unknown>) => journey([{ id: "hello", message }]);
  const workspace = {
    templates: new Map([
      ["welcome", "email"],
      ["order-shipped", "sms"],
    ]),
    topics: ["promotions"],
  };

  it("is valid when its template is of its channel and its topic exists", () => {
    expect(
      validateJourney(send({ channel: "email", template: "welcome", topic: "promotions" }), workspace),
    ).toEqual([]);
  });

  it("names a template the workspace does not have, and how to create it", () => {
    expect(validateJourney(send({ channel: "email", template: "goodbye" }), workspace)).toEqual([
      {
        path: "steps.0.message.template",
        message: 'unknown template "goodbye"; create it with PUT /api/v1/templates/goodbye',
      },
    ]);
  });

  it("names a template of another channel", () => {
    expect(validateJourney(send({ channel: "sms", template: "welcome" }), workspace)).toEqual([
      { path: "steps.0.message.template", message: 'template "welcome" is an email template, not sms' },
    ]);
  });

  it("names a topic the workspace does not have", () => {
    expect(
      validateJourney(send({ channel: "email", template: "welcome", topic: "news" }), workspace),
    ).toEqual([
      {
        path: "steps.0.message.topic",
        message: 'unknown topic "news"; create it with PUT /api/v1/topics/news',
      },
    ]);
  });

  it("is not checked without the workspace (the CLI's offline validate)", () => {
    expect(validateJourney(send({ channel: "sms", template: "nowhere", topic: "none" }))).toEqual([]);
  });
});
