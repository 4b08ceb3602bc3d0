import { describe, expect, it } from "vitest";
import { TemplateError, checkTemplate, checkValue, renderTemplate, renderValue } from "./template.ts";

const scope = {
  event: { event: "Cart Updated", properties: { total: 42.5, currency: "EUR" } },
  profile: { traits: { name: "Ada Lovelace", email: "ada@example.com" } },
  context: {
    cart: [
      { id: "sku-1", name: "Tea", price: 12.5 },
      { id: "sku-2", name: "Cups", price: 30 },
    ],
    coupon: null,
  },
  instance: { id: "instance-1", entryKey: "cart-7" },
};

/** The TemplateError a template throws. */
const failure = (template: string): TemplateError => {
  try {
    renderTemplate(template, scope);
  } catch (error) {
    if (error instanceof TemplateError) return error;
    throw error;
  }
  throw new Error(`expected ${JSON.stringify(template)} to fail`);
};

describe("a webhook body passes the cart along", () => {
  it("keeps the type of a value that is the whole template", () => {
    expect(renderTemplate("{{ context.cart }}", scope)).toEqual(scope.context.cart);
    expect(renderTemplate("  {{ event.properties.total }}\n", scope)).toBe(42.5);
    expect(renderTemplate("{{ context.cart[0] }}", scope)).toEqual(scope.context.cart[0]);
    expect(renderTemplate("{{ context.coupon }}", scope)).toBeNull();
    expect(renderTemplate("{{-instance.entryKey-}}", scope)).toBe("cart-7");
  });

  it("keeps the type through filters", () => {
    expect(renderTemplate("{{ context.cart | map: 'id' }}", scope)).toEqual(["sku-1", "sku-2"]);
    expect(renderTemplate("{{ context.cart | size }}", scope)).toBe(2);
    expect(renderTemplate("{{ event.properties.total | times: 2 }}", scope)).toBe(85);
  });

  it("gives undefined for a value that is missing, so the field can be left out", () => {
    expect(renderTemplate("{{ context.wishlist }}", scope)).toBeUndefined();
    expect(renderTemplate("{{ profile.traits.name.first }}", scope)).toBeUndefined();
  });

  it("renders every string of a body and leaves keys and other values alone", () => {
    const body = {
      "{{ not.a.key }}": "{{ profile.traits.email }}",
      items: "{{ context.cart | map: 'name' }}",
      greeting: ["Hi {{ profile.traits.name }}", 3, true, null],
      nested: { total: "{{ event.properties.total }}" },
    };
    expect(renderValue(body, scope)).toEqual({
      "{{ not.a.key }}": "ada@example.com",
      items: ["Tea", "Cups"],
      greeting: ["Hi Ada Lovelace", 3, true, null],
      nested: { total: 42.5 },
    });
  });
});

describe("a message greets the customer by name", () => {
  it("renders text around expressions to a string", () => {
    expect(renderTemplate("Hello {{ profile.traits.name | upcase }}!", scope)).toBe("Hello ADA LOVELACE!");
    expect(renderTemplate("{{ profile.traits.name }} has {{ context.cart | size }} items", scope)).toBe(
      "Ada Lovelace has 2 items",
    );
    expect(renderTemplate("no expressions at all", scope)).toBe("no expressions at all");
  });

  it("renders a missing value as nothing", () => {
    expect(renderTemplate("Hello {{ profile.traits.nickname }}!", scope)).toBe("Hello !");
  });

  it("supports tags and loops", () => {
    const template =
      "{% for item in context.cart %}{{ item.name }}{% unless forloop.last %}, {% endunless %}{% endfor %}";
    expect(renderTemplate(template, scope)).toBe("Tea, Cups");
    expect(renderTemplate("{% if event.properties.total > 40 %}big{% else %}small{% endif %}", scope)).toBe(
      "big",
    );
  });

  it("formats dates the same on every machine, in UTC", () => {
    expect(renderTemplate("{{ '2026-03-10T23:30:00Z' | date: '%Y-%m-%d %H:%M' }}", scope)).toBe(
      "2026-03-10 23:30",
    );
  });
});

describe("an author makes a mistake in a template", () => {
  it("is told which line does not parse", () => {
    const error = failure("Hello\n{% if profile.traits.name %}\nno end");
    expect(error.line).toBe(2);
    expect(error.message).toMatch(/^line 2, column 1: tag \{% if profile.traits.name %\} not closed/);
    expect(checkTemplate("Hello\n{% if profile.traits.name %}\nno end")).toBe(error.message);
  });

  it("is told about a filter that does not exist, even in a single expression", () => {
    expect(failure("\n\n{{ profile.traits.name | shout }}").message).toBe(
      "line 3, column 1: undefined filter: shout",
    );
    expect(checkTemplate("{{ profile.traits.name | upcase }}")).toBeUndefined();
  });

  it("gets every broken string of a body, with where it is", () => {
    const body = { subject: "Hi {{ profile.traits.name", body: { items: ["ok", "{{ x | nope }}"] }, n: 1 };
    expect(checkValue(body)).toEqual([
      { path: "subject", message: expect.stringMatching(/^line 1, column 4: output .* not closed/) },
      { path: "body.items.1", message: "line 1, column 1: undefined filter: nope" },
    ]);
    expect(checkValue({ fine: ["{{ a }}", { b: "{% if a %}x{% endif %}" }] })).toEqual([]);
  });
});

describe("a template tries to do too much", () => {
  it("is stopped when a loop would allocate a huge range", () => {
    expect(failure("{% for i in (1..100000000) %}x{% endfor %}").message).toMatch(
      /memory alloc limit exceeded/,
    );
  });

  it("is stopped when it renders for too long", () => {
    const slow = "{% for i in (1..3000) %}{% for j in (1..3000) %}{% endfor %}{% endfor %}";
    expect(failure(slow).message).toMatch(/template render limit exceeded/);
  });

  it("is stopped when its output would pass 1 MB", () => {
    const justOver = "{% for i in (1..1001) %}" + "x".repeat(1000) + "{% endfor %}";
    expect(failure(justOver).message).toBe("output is longer than 1000000 characters (1001000)");
    const justUnder = "{% for i in (1..1000) %}" + "x".repeat(1000) + "{% endfor %}";
    expect(renderTemplate(justUnder, scope)).toHaveLength(1_000_000);
  });

  it("is refused when the template itself is too long", () => {
    expect(checkTemplate("x".repeat(100_001))).toMatch(/parse length limit exceeded/);
  });

  it("cannot read files", () => {
    expect(failure("{% include '/etc/passwd' %}").message).toMatch(/tag "include" not found/);
    expect(failure("{% render 'secrets' %}").message).toMatch(/tag "render" not found/);
    expect(failure("{% layout 'base' %}").message).toMatch(/tag "layout" not found/);
  });

  it("cannot read the clock or draw random numbers, so a replay renders the same", () => {
    expect(failure("{{ 'now' | date: '%Y' }}").message).toMatch(
      /"now" is not available in journey templates/,
    );
    expect(failure("Today is {{ 'today' | date_to_string }}").message).toMatch(/"today" is not available/);
    expect(failure("{{ context.cart | sample }}").message).toMatch(/undefined filter: sample/);
  });

  it("cannot reach prototypes", () => {
    expect(renderTemplate("{{ profile.constructor }}", scope)).toBeUndefined();
    expect(renderTemplate("[{{ profile.traits.name.constructor.name }}]", scope)).toBe("[]");
  });
});
