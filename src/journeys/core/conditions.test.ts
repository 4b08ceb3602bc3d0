import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  conditionPaths,
  conditionSchema,
  evaluateCondition,
  getPath,
  type Condition,
  type Operator,
} from "./conditions.ts";

const scope = {
  event: {
    event: "Order Completed",
    properties: {
      total: 120,
      currency: "EUR",
      coupon: null,
      items: [
        { id: "sku-1", price: 100 },
        { id: "sku-2", price: 20 },
      ],
      tags: ["gift", "express"],
    },
    timestamp: "2026-03-10T09:00:00.000Z",
  },
  profile: { traits: { email: "ada@example.com", plan: "pro", age: "42", orders: 3 } },
  context: { cart: [{ id: "sku-1" }], code: "SPRING-25" },
  instance: { entryKey: "cart-7" },
};

const holds = (path: string, op: Operator, value?: unknown) =>
  evaluateCondition({ path, op, value }, scope).result;

/** The message zod gives for a condition, with the path it gives it at. */
const problems = (input: unknown) =>
  conditionSchema.safeParse(input).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);

describe("reading a value from the scope", () => {
  it("follows dots through objects and numeric indexes through arrays", () => {
    expect(getPath(scope, "event.properties.items.0.id")).toBe("sku-1");
    expect(getPath(scope, "event.properties.items.1.price")).toBe(20);
    expect(getPath(scope, "context.cart")).toEqual([{ id: "sku-1" }]);
  });

  it("gives undefined for anything missing, without throwing", () => {
    expect(getPath(scope, "event.properties.items.5.id")).toBeUndefined();
    expect(getPath(scope, "event.properties.items.first")).toBeUndefined();
    expect(getPath(scope, "event.properties.total.value")).toBeUndefined();
    expect(getPath(scope, "profile.nothing.here")).toBeUndefined();
  });

  it("never reaches into prototypes", () => {
    expect(getPath(scope, "profile.constructor")).toBeUndefined();
    expect(getPath(scope, "profile.traits.__proto__")).toBeUndefined();
    expect(getPath(scope, "event.properties.items.length")).toBeUndefined();
  });
});

describe("comparing values", () => {
  it("eq and neq compare objects and arrays by content", () => {
    expect(holds("event.properties.tags", "eq", ["gift", "express"])).toBe(true);
    expect(holds("event.properties.items.0", "eq", { price: 100, id: "sku-1" })).toBe(true);
    expect(holds("event.properties.items.0", "eq", { id: "sku-1" })).toBe(false);
    expect(holds("event.properties.tags", "neq", ["express", "gift"])).toBe(true);
    expect(holds("event.properties.coupon", "eq", null)).toBe(true);
  });

  it("does not take a numeric string for a number in eq", () => {
    expect(holds("profile.traits.age", "eq", 42)).toBe(false);
    expect(holds("profile.traits.age", "eq", "42")).toBe(true);
    expect(holds("profile.traits.orders", "in", ["3"])).toBe(false);
  });

  it("orders two numbers numerically and two strings lexicographically, and nothing else", () => {
    expect(holds("event.properties.total", "gt", 100)).toBe(true);
    expect(holds("event.properties.total", "gte", 120)).toBe(true);
    expect(holds("event.properties.total", "lt", 120)).toBe(false);
    expect(holds("event.properties.total", "lte", 120)).toBe(true);
    expect(holds("event.timestamp", "gte", "2026-03-01T00:00:00.000Z")).toBe(true);
    expect(holds("event.timestamp", "lt", "2026-03-01T00:00:00.000Z")).toBe(false);
    // "42" vs 9: mixed types never order, whichever way round.
    expect(holds("profile.traits.age", "gt", 9)).toBe(false);
    expect(holds("profile.traits.age", "lte", 9)).toBe(false);
  });

  it("in and nin look for the value in a list", () => {
    expect(holds("profile.traits.plan", "in", ["pro", "enterprise"])).toBe(true);
    expect(holds("profile.traits.plan", "nin", ["pro", "enterprise"])).toBe(false);
    expect(holds("event.properties.items.0", "in", [{ id: "sku-1", price: 100 }])).toBe(true);
  });

  it("contains looks into arrays (by content) and strings", () => {
    expect(holds("event.properties.tags", "contains", "gift")).toBe(true);
    expect(holds("event.properties.items", "contains", { id: "sku-2", price: 20 })).toBe(true);
    expect(holds("profile.traits.email", "contains", "@example.")).toBe(true);
    expect(holds("event.properties.total", "contains", 1)).toBe(false);
  });

  it("startsWith and matches apply to strings only", () => {
    expect(holds("context.code", "startsWith", "SPRING")).toBe(true);
    expect(holds("event.properties.total", "startsWith", "1")).toBe(false);
    expect(holds("profile.traits.email", "matches", "^[^@]+@example\\.com$")).toBe(true);
    expect(holds("profile.traits.email", "matches", "^bob")).toBe(false);
    expect(holds("event.properties.total", "matches", "\\d+")).toBe(false);
  });

  it("exists is true for a present value, false for a missing or null one, and can be negated", () => {
    expect(holds("profile.traits.email", "exists")).toBe(true);
    expect(holds("profile.traits.phone", "exists")).toBe(false);
    expect(holds("event.properties.coupon", "exists")).toBe(false);
    expect(holds("profile.traits.phone", "exists", false)).toBe(true);
  });

  it("a missing value satisfies nothing but neq and nin", () => {
    const missing = "profile.traits.phone";
    for (const [op, value] of [
      ["eq", "x"],
      ["gt", 1],
      ["lte", "z"],
      ["in", ["x"]],
      ["contains", "x"],
      ["startsWith", ""],
      ["matches", ".*"],
    ] as const) {
      expect(holds(missing, op, value), op).toBe(false);
    }
    expect(holds(missing, "neq", "x")).toBe(true);
    expect(holds(missing, "nin", ["x"])).toBe(true);
  });
});

describe("a branch decides between big and small orders", () => {
  const bigGiftOrder: Condition = {
    all: [
      { path: "event.properties.total", op: "gte", value: 100 },
      {
        any: [
          { path: "event.properties.tags", op: "contains", value: "gift" },
          { path: "profile.traits.vip", op: "eq", value: true },
        ],
      },
      { not: { path: "profile.traits.plan", op: "eq", value: "free" } },
    ],
  };

  it("takes the branch and records every value it compared", () => {
    const { result, compared } = evaluateCondition(bigGiftOrder, scope);
    expect(result).toBe(true);
    expect(compared).toEqual([
      { path: "event.properties.total", op: "gte", expected: 100, actual: 120, result: true },
      {
        path: "event.properties.tags",
        op: "contains",
        expected: "gift",
        actual: ["gift", "express"],
        result: true,
      },
      { path: "profile.traits.plan", op: "eq", expected: "free", actual: "pro", result: false },
    ]);
  });

  it("stops at the first leaf that decides, so the audit shows only what mattered", () => {
    const smallOrder = { ...scope, event: { properties: { total: 10 } } };
    const { result, compared } = evaluateCondition(bigGiftOrder, smallOrder);
    expect(result).toBe(false);
    expect(compared).toEqual([
      { path: "event.properties.total", op: "gte", expected: 100, actual: 10, result: false },
    ]);
  });

  it("records the boolean an exists leaf expects", () => {
    const { compared } = evaluateCondition({ path: "profile.traits.phone", op: "exists" }, scope);
    expect(compared).toEqual([
      { path: "profile.traits.phone", op: "exists", expected: true, actual: undefined, result: false },
    ]);
  });

  it("treats an empty all as true and an empty any as false", () => {
    expect(evaluateCondition({ all: [] }, scope).result).toBe(true);
    expect(evaluateCondition({ any: [] }, scope).result).toBe(false);
  });

  it("lists the paths it reads, once each, for validation", () => {
    expect(
      conditionPaths({ any: [bigGiftOrder, { path: "event.properties.total", op: "lt", value: 5 }] }),
    ).toEqual([
      "event.properties.total",
      "event.properties.tags",
      "profile.traits.vip",
      "profile.traits.plan",
    ]);
  });
});

describe("an author writes a condition into a journey definition", () => {
  it("accepts a well-formed tree as it is", () => {
    const tree = {
      any: [
        { path: "event.properties.total", op: "gt", value: 50 },
        { not: { path: "context.code", op: "matches", value: "^SPRING-\\d+$" } },
        { path: "profile.traits.email", op: "exists" },
      ],
    };
    expect(conditionSchema.parse(tree)).toEqual(tree);
  });

  it("is told a path must start from the scope", () => {
    expect(problems({ path: "traits.plan", op: "eq", value: "pro" })).toEqual([
      "path: path must start with event., profile., context. or instance. and have no empty segment" +
        ' (got "traits.plan")',
    ]);
    expect(problems({ path: "event..plan", op: "exists" })).toHaveLength(1);
  });

  it("is told which operators exist", () => {
    expect(problems({ path: "event.total", op: "greater", value: 1 })).toEqual([
      ": op must be one of eq, neq, gt, gte, lt, lte, in, nin, contains, exists, startsWith, matches",
    ]);
  });

  it("is told what value each operator needs", () => {
    expect(problems({ path: "event.plan", op: "in", value: "pro" })).toEqual([
      "value: value of in must be a list",
    ]);
    expect(problems({ path: "event.plan", op: "exists", value: "yes" })).toEqual([
      "value: value of exists must be true or false (or absent, meaning true)",
    ]);
    expect(problems({ path: "event.plan", op: "eq" })).toEqual(["value: value is required with eq"]);
    expect(problems({ path: "event.total", op: "gt", value: null })).toEqual([
      "value: value of gt must be a number or a string (such as an ISO 8601 date)",
    ]);
  });

  it("is told when a pattern does not compile or is too long", () => {
    expect(problems({ path: "event.code", op: "matches", value: "(" })?.[0]).toMatch(
      /^value: value of matches is not a valid regular expression: .*Unterminated group/,
    );
    expect(problems({ path: "event.code", op: "matches", value: "a".repeat(201) })).toEqual([
      "value: value of matches must be at most 200 characters (got 201)",
    ]);
    expect(problems({ path: "event.code", op: "matches", value: "a".repeat(200) })).toBeUndefined();
  });

  it("is told about unknown keys and shapeless objects", () => {
    expect(problems({ path: "event.plan", op: "eq", value: "pro", negate: true })?.[0]).toMatch(
      /^: unknown key "negate": a condition is \{ all/,
    );
    expect(problems({})?.[0]).toMatch(/^: a condition is \{ all: \[\.\.\.\] \}/);
    expect(problems("event.plan = pro")?.[0]).toMatch(/^: a condition is/);
  });

  it("finds the problem deep in the tree and says where", () => {
    expect(problems({ all: [{ any: [{ not: { path: "event.plan", op: "nin", value: 1 } }] }] })).toEqual([
      "all.0.any.0.not.value: value of nin must be a list",
    ]);
    expect(problems({ all: "everything" })).toEqual([": all must be a list of conditions"]);
    expect(problems({ not: [] })?.[0]).toMatch(/^: not: a condition is/);
  });

  it("derives a JSON Schema for the API description", () => {
    const schema = JSON.stringify(z.toJSONSchema(conditionSchema));
    expect(schema).toContain('"enum":["eq","neq"');
    expect(schema).toContain('"$ref":"#"');
  });
});
