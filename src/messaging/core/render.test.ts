import { describe, expect, it } from "vitest";
import { TemplateError } from "../../journeys/core/template.ts";
import {
  MESSAGE_LIMITS,
  checkMessage,
  renderMessage,
  templateContentSchema,
  type RenderScope,
  type TemplateContent,
} from "./render.ts";

const links = {
  unsubscribeUrl: "https://waymark.example/u/tok?c=email&t=news",
  preferencesUrl: "https://waymark.example/p/tok",
};

const ada: RenderScope = {
  profile: { id: "p-1", traits: { first_name: "Ada", email: "ada@example.com", plan: "pro" } },
  event: {
    event: "Order Completed",
    properties: { total: 42.5, items: [{ name: "Tea" }, { name: "Cups" }] },
  },
  data: { coupon: "WELCOME10" },
};

const welcome = `<mjml>
  <mj-head><mj-preview>Your coupon inside</mj-preview></mj-head>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text>Hello {{ profile.traits.first_name }}, here is {{ data.coupon }}.</mj-text>
        <mj-button href="https://shop.example/cart">Back to your cart</mj-button>
        <mj-text><a href="{% unsubscribe_url %}">Unsubscribe</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

const email = (fields: Partial<Record<"subject" | "mjml" | "html" | "text", string>>): TemplateContent => ({
  channel: "email",
  subject: "Hi",
  ...fields,
});

/** The TemplateError a render throws. */
async function failure(content: TemplateContent, scope: RenderScope = ada): Promise<TemplateError> {
  const error = await renderMessage(content, scope, links).then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof TemplateError) return error;
  throw new Error(`expected a TemplateError, got ${String(error)}`);
}

describe("a welcome email written in MJML", () => {
  it("renders responsive HTML with the person's data", async () => {
    const out = await renderMessage(
      email({ subject: "Welcome, {{ profile.traits.first_name }}", mjml: welcome }),
      ada,
      links,
    );
    expect(out.channel).toBe("email");
    if (out.channel !== "email") return;
    expect(out.subject).toBe("Welcome, Ada");
    expect(out.html).toMatch(/^<!doctype html>/i);
    expect(out.html).toContain("Hello Ada, here is WELCOME10.");
    expect(out.html).not.toContain("<mj-");
  });

  it("generates the text part from the HTML: links with their address, no hidden preview line", async () => {
    const out = await renderMessage(email({ mjml: welcome }), ada, links);
    if (out.channel !== "email") throw new Error("not an email");
    expect(out.text).toContain("Hello Ada, here is WELCOME10.");
    expect(out.text).toContain("Back to your cart [https://shop.example/cart]");
    expect(out.text).toContain(`Unsubscribe [${links.unsubscribeUrl}]`);
    expect(out.text).not.toContain("Your coupon inside");
    expect(out.text).not.toMatch(/\n{3}/);
  });

  it("uses the template's own text part when it has one, unescaped", async () => {
    const out = await renderMessage(
      email({
        html: "<p>{{ data.coupon }}</p>",
        text: "Code: {{ data.coupon }} & more\n{% preferences_url %}",
      }),
      ada,
      links,
    );
    expect(out).toEqual({
      channel: "email",
      subject: "Hi",
      html: "<p>WELCOME10</p>",
      text: `Code: WELCOME10 & more\n${links.preferencesUrl}`,
    });
  });

  it("outputs the person's links, escaped in HTML", async () => {
    const out = await renderMessage(
      email({ html: '<a href="{% unsubscribe_url %}">stop</a> <a href="{% preferences_url %}">choose</a>' }),
      ada,
      links,
    );
    if (out.channel !== "email") throw new Error("not an email");
    expect(out.html).toBe(
      '<a href="https://waymark.example/u/tok?c=email&#38;t=news">stop</a> <a href="https://waymark.example/p/tok">choose</a>',
    );
    expect(out.text).toContain(links.unsubscribeUrl);
  });

  it("keeps the subject on one line whatever a trait holds", async () => {
    const scope = { profile: { traits: { first_name: "Ada\r\nBcc: eve@example.com" } } };
    const out = await renderMessage(
      email({ subject: "Hi {{ profile.traits.first_name }}", html: "x" }),
      scope,
      links,
    );
    if (out.channel !== "email") throw new Error("not an email");
    expect(out.subject).toBe("Hi Ada Bcc: eve@example.com");
  });
});

describe("what each channel renders to", () => {
  it("an SMS is a body", async () => {
    const out = await renderMessage(
      { channel: "sms", body: "{{ data.coupon }} for {{ profile.traits.first_name }}" },
      ada,
      links,
    );
    expect(out).toEqual({ channel: "sms", body: "WELCOME10 for Ada" });
  });

  it("a push is a title, a body and data whose lone expressions keep their type", async () => {
    const out = await renderMessage(
      {
        channel: "push",
        title: "Thanks {{ profile.traits.first_name }}",
        body: "{{ event.properties.items | map: 'name' | join: ', ' }}",
        data: { total: "{{ event.properties.total }}", screen: "orders", deep: { n: 1 } },
      },
      ada,
      links,
    );
    expect(out).toEqual({
      channel: "push",
      title: "Thanks Ada",
      body: "Tea, Cups",
      data: { total: 42.5, screen: "orders", deep: { n: 1 } },
    });
  });

  it("a webhook is JSON data", async () => {
    const out = await renderMessage(
      {
        channel: "webhook",
        body: {
          items: "{{ event.properties.items }}",
          who: "{{ profile.id }}",
          plan: "is {{ profile.traits.plan }}",
        },
      },
      ada,
      links,
    );
    expect(out).toEqual({
      channel: "webhook",
      data: { items: [{ name: "Tea" }, { name: "Cups" }], who: "p-1", plan: "is pro" },
    });
  });

  it("an empty scope renders missing values as nothing", async () => {
    const out = await renderMessage(
      { channel: "sms", body: "Hi {{ profile.traits.first_name }}!" },
      {},
      links,
    );
    expect(out).toEqual({ channel: "sms", body: "Hi !" });
  });
});

describe("values from people and events are data, not template code", () => {
  const hostile = {
    profile: {
      traits: {
        first_name: "{{ 7*7 }} {% for x in (1..3) %}loop{% endfor %}",
        bio: "<script>alert(1)</script> & <b>",
      },
    },
  };

  it("renders Liquid in a trait literally, in every part", async () => {
    const out = await renderMessage(
      email({ subject: "{{ profile.traits.first_name }}", html: "<p>{{ profile.traits.first_name }}</p>" }),
      hostile,
      links,
    );
    if (out.channel !== "email") throw new Error("not an email");
    expect(out.subject).toBe("{{ 7*7 }} {% for x in (1..3) %}loop{% endfor %}");
    expect(out.html).toBe("<p>{{ 7*7 }} {% for x in (1..3) %}loop{% endfor %}</p>");
    const sms = await renderMessage(
      { channel: "sms", body: "{{ profile.traits.first_name }}" },
      hostile,
      links,
    );
    expect(sms).toEqual({ channel: "sms", body: "{{ 7*7 }} {% for x in (1..3) %}loop{% endfor %}" });
  });

  it("escapes HTML from data in the HTML part, and leaves it plain in the text part and SMS", async () => {
    const out = await renderMessage(
      email({ html: "<p>{{ profile.traits.bio }}</p>", text: "{{ profile.traits.bio }}" }),
      hostile,
      links,
    );
    if (out.channel !== "email") throw new Error("not an email");
    expect(out.html).toBe("<p>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;</p>");
    expect(out.text).toBe("<script>alert(1)</script> & <b>");
    const sms = await renderMessage({ channel: "sms", body: "{{ profile.traits.bio }}" }, hostile, links);
    expect(sms).toEqual({ channel: "sms", body: "<script>alert(1)</script> & <b>" });
  });

  it("escapes in MJML too, and the generated text part shows the value as written", async () => {
    const mjml = welcome.replace("{{ data.coupon }}", "{{ profile.traits.bio }}");
    const out = await renderMessage(email({ mjml }), hostile, links);
    if (out.channel !== "email") throw new Error("not an email");
    expect(out.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(out.html).not.toContain("<script>alert");
    expect(out.text).toContain("<script>alert(1)</script> & <b>");
  });

  it("lets the author opt out with | raw", async () => {
    const out = await renderMessage(
      email({ html: "{{ data.banner | raw }}" }),
      { data: { banner: "<b>Sale</b>" } },
      links,
    );
    if (out.channel !== "email") throw new Error("not an email");
    expect(out.html).toBe("<b>Sale</b>");
  });
});

describe("limits fail cleanly", () => {
  it("stops a runaway loop with the field and line", async () => {
    const error = await failure({
      channel: "sms",
      body: "Hi\n{% for i in (1..100000000) %}{% for j in (1..100000000) %}x{% endfor %}{% endfor %}",
    });
    expect(error.field).toBe("body");
    expect(error.message).toMatch(/^body: line 2, column \d+: .*limit exceeded/);
  });

  it("refuses an SMS over 1600 characters", async () => {
    const error = await failure({ channel: "sms", body: "{% for i in (1..200) %}0123456789{% endfor %}" });
    expect(error.message).toBe(`body: is longer than ${MESSAGE_LIMITS.smsChars} characters (2000)`);
  });

  it("refuses HTML over 512 KB", async () => {
    const error = await failure(email({ html: "<p>{{ data.blob }}</p>" }), {
      data: { blob: "é".repeat(300_000) },
    });
    expect(error.message).toBe(
      `html: renders to 600007 bytes of HTML, over the limit of ${MESSAGE_LIMITS.htmlBytes}`,
    );
  });

  it("refuses a push over 4 KB", async () => {
    const error = await failure({
      channel: "push",
      title: "t",
      body: "{% for i in (1..500) %}0123456789{% endfor %}",
    });
    expect(error.message).toMatch(/over the push limit of 4096/);
  });

  it("refuses the clock: a template never reads it", async () => {
    const error = await failure({ channel: "sms", body: "{{ 'now' | date: '%Y' }}" });
    expect(error.message).toMatch(/^body: line 1, column 1: "now" is not available/);
  });
});

describe("errors name the field and the line", () => {
  it("a Liquid syntax error in the subject", async () => {
    const error = await failure(email({ subject: "Hi {{ profile.traits.first_name ", html: "x" }));
    expect(error.message).toMatch(
      /^subject: line 1, column 4: output "{{ profile.traits.first_name " not closed/,
    );
  });

  it("an unknown filter in the HTML, on its line", async () => {
    const error = await failure(email({ html: "<p>\nhello\n{{ data.coupon | shout }}</p>" }));
    expect(error.message).toBe("html: line 3, column 1: undefined filter: shout");
  });

  it("an unknown MJML element, on its template line", async () => {
    const mjml = welcome.replace("<mj-button", "<mj-buton").replace("</mj-button>", "</mj-buton>");
    const error = await failure(email({ mjml }));
    expect(error.message).toBe("mjml: line 7: Element mj-buton doesn't exist or is not registered");
  });

  it("an MJML error after a loop, mapped back to the template's line", async () => {
    const mjml = `<mjml>
<mj-body>
  <mj-section>
    <mj-column>
      {% for item in event.properties.items %}
        <mj-text>{{ item.name }}</mj-text>
      {% endfor %}
      <mj-text color="not-a-colour">Total</mj-text>
    </mj-column>
  </mj-section>
</mj-body>
</mjml>`;
    const error = await failure(email({ mjml }));
    expect(error.message).toMatch(/^mjml: line 8: Attribute color has invalid value: not-a-colour/);
  });

  it("an MJML error whose template line cannot be told says which line of the MJML after Liquid", async () => {
    const mjml = [
      "<mjml><mj-body><mj-section><mj-column>",
      "{% for item in event.properties.items %}",
      "<mj-text>{{ item.name }}</mj-text>",
      "{% endfor %}",
      '<mj-text color="bad">x</mj-text>',
      '<mj-text color="bad">x</mj-text>',
      "</mj-column></mj-section></mj-body></mjml>",
    ].join("\n");
    const error = await failure(email({ mjml }));
    expect(error.message).toMatch(
      /^mjml: line 7 of the MJML after Liquid: Attribute color has invalid value: bad .*\(and 1 more\)$/,
    );
  });

  it("MJML that is not MJML", async () => {
    const error = await failure(email({ mjml: "<p>hello</p>" }));
    expect(error.message).toMatch(/^mjml: Malformed MJML/);
  });

  it("a webhook body's path", async () => {
    const error = await failure({ channel: "webhook", body: { items: ["ok", "{{ x | nope }}"] } });
    expect(error.message).toBe("body.items.1: line 1, column 1: undefined filter: nope");
  });

  it("checkMessage lists every field that does not parse", () => {
    expect(
      checkMessage({
        channel: "email",
        subject: "{% if %}",
        html: "<p>\n{{ x | nope }}</p>",
        text: "fine {{ x }}",
      }),
    ).toEqual([
      { path: "subject", message: expect.stringMatching(/^line 1, column \d+: /) },
      { path: "html", message: "line 2, column 1: undefined filter: nope" },
    ]);
    expect(
      checkMessage({ channel: "push", title: "t", body: "b", data: { a: { b: "{% endif %}" } } }),
    ).toEqual([{ path: "data.a.b", message: expect.stringMatching(/^line 1, column 1: /) }]);
  });
});

describe("the content schema", () => {
  it("wants exactly one of mjml or html", () => {
    const both = templateContentSchema.safeParse({ channel: "email", subject: "s", mjml: "m", html: "h" });
    expect(both.error?.issues[0]).toMatchObject({
      path: ["html"],
      message: "an email template has exactly one of mjml or html",
    });
    const neither = templateContentSchema.safeParse({ channel: "email", subject: "s" });
    expect(neither.error?.issues[0]).toMatchObject({ path: [] });
  });

  it("refuses unknown fields and channels", () => {
    expect(templateContentSchema.safeParse({ channel: "sms", body: "b", bdy: "x" }).success).toBe(false);
    expect(templateContentSchema.safeParse({ channel: "fax", body: "b" }).success).toBe(false);
  });
});
