import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

const welcome = `<mjml>
  <mj-body>
    <mj-section>
      <mj-column>
        <mj-text color="{{ data.color | default: '#333333' }}">Hello {{ profile.traits.first_name }}, use {{ data.coupon }}.</mj-text>
        <mj-text>{{ profile.traits.bio }}</mj-text>
        <mj-button href="https://shop.example/cart">Back to your cart</mj-button>
        <mj-text><a href="{% unsubscribe_url %}">Unsubscribe</a> or <a href="{% preferences_url %}">choose</a></mj-text>
      </mj-column>
    </mj-section>
  </mj-body>
</mjml>`;

interface ErrorBody {
  error: string;
  message: string;
}

describe("message templates through the API", () => {
  let server: TestServer;

  const put = (key: string, content: unknown) =>
    server.admin(`/api/v1/templates/${key}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(content),
    });
  const preview = (key: string, body: unknown) =>
    server.admin(`/api/v1/templates/${key}/preview`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  const refusal = async (res: Response, status: number): Promise<string> => {
    const body = (await res.json()) as ErrorBody;
    expect(res.status, body.message).toBe(status);
    return body.message;
  };

  beforeAll(async () => {
    server = await startTestServer({ pipeline: true });
    const res = await server.track("/v1/identify", {
      userId: "ada",
      traits: { first_name: "Ada", email: "Ada@Example.com", bio: "<script>alert(1)</script> {{ 7*7 }}" },
    });
    expect(res.status).toBe(200);
    await drained(server);
  });
  afterAll(async () => {
    await server?.close();
  });

  describe("an author writes the welcome email and edits it", () => {
    it("stores each PUT as the next version", async () => {
      const first = await put("welcome", { channel: "email", subject: "Welcome", mjml: welcome });
      expect(first.status).toBe(200);
      expect(await first.json()).toMatchObject({ key: "welcome", channel: "email", version: 1 });
      const second = await put("welcome", {
        channel: "email",
        subject: "Welcome, {{ profile.traits.first_name }}",
        mjml: welcome,
      });
      expect(await second.json()).toMatchObject({ version: 2 });
    });

    it("shows the latest version with the list of versions, and any older one", async () => {
      const latest = await server.admin("/api/v1/templates/welcome");
      expect(latest.status).toBe(200);
      const body = (await latest.json()) as {
        version: number;
        content: { subject: string };
        versions: Array<{ version: number }>;
      };
      expect(body.version).toBe(2);
      expect(body.content.subject).toBe("Welcome, {{ profile.traits.first_name }}");
      expect(body.versions.map((v) => v.version)).toEqual([2, 1]);
      const old = await server.admin("/api/v1/templates/welcome?version=1");
      expect(((await old.json()) as { content: { subject: string } }).content.subject).toBe("Welcome");
      const missing = await server.admin("/api/v1/templates/welcome?version=7");
      expect(await refusal(missing, 404)).toBe("template welcome has no version 7 (its latest is 2)");
    });

    it("lists the workspace's templates", async () => {
      expect(
        (await put("order-sms", { channel: "sms", body: "Order {{ event.properties.id }} shipped" })).status,
      ).toBe(200);
      const res = await server.admin("/api/v1/templates");
      const { items } = (await res.json()) as {
        items: Array<{ key: string; channel: string; latestVersion: number }>;
      };
      expect(items.map(({ key, channel, latestVersion }) => ({ key, channel, latestVersion }))).toEqual([
        { key: "order-sms", channel: "sms", latestVersion: 1 },
        { key: "welcome", channel: "email", latestVersion: 2 },
      ]);
    });

    it("numbers concurrent PUTs one after the other", async () => {
      const results = await Promise.all(
        Array.from({ length: 5 }, (_, i) => put("burst", { channel: "sms", body: `version ${i}` })),
      );
      const versions = await Promise.all(
        results.map(async (r) => ((await r.json()) as { version: number }).version),
      );
      expect(versions.sort()).toEqual([1, 2, 3, 4, 5]);
    });

    it("keeps a key's channel", async () => {
      const res = await put("welcome", { channel: "sms", body: "hi" });
      expect(await refusal(res, 409)).toBe(
        "template welcome is on the email channel, which cannot change; store the sms template under another key",
      );
    });
  });

  it("describes its routes in the OpenAPI document", async () => {
    const spec = (await (await fetch(`${server.url}/api/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    for (const path of [
      "/api/v1/templates",
      "/api/v1/templates/{key}",
      "/api/v1/templates/{key}/preview",
      "/api/v1/templates/preview",
    ]) {
      expect(spec.paths, path).toHaveProperty([path]);
    }
  });

  describe("a template that does not parse or render is refused with its field and line", () => {
    it("a Liquid error in the MJML", async () => {
      const mjml = welcome.replace("{{ data.coupon }}", "{{ data.coupon | shout }}");
      const message = await refusal(await put("broken", { channel: "email", subject: "s", mjml }), 400);
      expect(message).toMatch(/^mjml: line 5, column \d+: undefined filter: shout$/);
    });

    it("an MJML validation error", async () => {
      const mjml = welcome.replace("<mj-button", "<mj-buton").replace("</mj-button>", "</mj-buton>");
      const message = await refusal(await put("broken", { channel: "email", subject: "s", mjml }), 400);
      expect(message).toBe("mjml: line 7: Element mj-buton doesn't exist or is not registered");
    });

    it("a subject that never closes", async () => {
      const message = await refusal(
        await put("broken", { channel: "email", subject: "Hi {% if x %}", html: "x" }),
        400,
      );
      expect(message).toMatch(/^subject: line 1, column 4: tag \{% if x %\} not closed/);
    });

    it("both mjml and html, an unknown channel, a bad key", async () => {
      expect(
        await refusal(await put("broken", { channel: "email", subject: "s", mjml: "m", html: "h" }), 400),
      ).toBe("body.html: an email template has exactly one of mjml or html");
      expect(await refusal(await put("broken", { channel: "fax", body: "b" }), 400)).toMatch(
        /^body\.channel: /,
      );
      expect(await refusal(await put("Bad Key", { channel: "sms", body: "b" }), 400)).toMatch(
        /^params\.key: a template key is lower case letters/,
      );
    });

    it("stores nothing refused", async () => {
      expect((await server.admin("/api/v1/templates/broken")).status).toBe(404);
    });
  });

  describe("previewing for a person identified through the tracking API", () => {
    it("renders exactly what would be sent, with links on the server's address", async () => {
      const res = await preview("welcome", { userId: "ada", data: { coupon: "WELCOME10" } });
      expect(res.status).toBe(200);
      const body = (await res.json()) as Record<string, string>;
      expect(body.channel).toBe("email");
      expect(body.version).toBe(2);
      expect(body.subject).toBe("Welcome, Ada");
      expect(body.html).toMatch(/^<!doctype html>/i);
      expect(body.html).toContain("Hello Ada, use WELCOME10.");
      expect(body.html).toContain(`href="${server.url}/u/preview"`);
      expect(body.html).toContain(`href="${server.url}/p/preview"`);
      expect(body.text).toContain("Hello Ada, use WELCOME10.");
      expect(body.text).toContain(`Unsubscribe [${server.url}/u/preview]`);
    });

    it("builds the links on WAYMARK_PUBLIC_URL when it is set", async () => {
      const other = await startTestServer({ pipeline: true, publicUrl: "https://mail.shop.example" });
      try {
        await other.track("/v1/identify", { userId: "eve", traits: { email: "eve@example.com" } });
        await drained(other);
        const put = await other.admin("/api/v1/templates/hello", {
          method: "PUT",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({
            channel: "email",
            subject: "Hi",
            html: '<a href="{% unsubscribe_url %}">Unsubscribe</a>',
          }),
        });
        expect(put.status).toBe(200);
        const res = await other.admin("/api/v1/templates/hello/preview", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ userId: "eve" }),
        });
        const body = (await res.json()) as Record<string, string>;
        expect(body.html).toContain('href="https://mail.shop.example/u/preview"');
      } finally {
        await other.close();
      }
    });

    it("escapes the person's data in the HTML and never runs it as a template", async () => {
      const res = await preview("welcome", { email: "ada@example.com" });
      const body = (await res.json()) as Record<string, string>;
      expect(body.html).toContain("&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }}");
      expect(body.html).not.toContain("<script>alert");
      expect(body.text).toContain("<script>alert(1)</script> {{ 7*7 }}");
    });

    it("finds the person by profile id too, and renders an older version", async () => {
      const found = await server.admin("/api/v1/profiles?userId=ada");
      const { items } = (await found.json()) as { items: Array<{ id: string }> };
      const res = await preview("welcome", { profileId: items[0]!.id, version: 1 });
      expect(await res.json()).toMatchObject({ subject: "Welcome", version: 1 });
    });

    it("renders an SMS with the event given", async () => {
      const res = await preview("order-sms", { userId: "ada", event: { properties: { id: "A-17" } } });
      expect(await res.json()).toEqual({ channel: "sms", version: 1, body: "Order A-17 shipped" });
    });

    it("answers 404 for a person or template it does not know", async () => {
      expect(await refusal(await preview("welcome", { userId: "nobody" }), 404)).toBe(
        'no profile with the id, email or userId "nobody"',
      );
      expect(await refusal(await preview("nothing", { userId: "ada" }), 404)).toMatch(/^no template nothing/);
    });

    it("answers 400 with the line when the person's data breaks the template", async () => {
      const res = await preview("welcome", { userId: "ada", data: { color: "not-a-colour" } });
      expect(await refusal(res, 400)).toBe(
        "mjml: line 5: Attribute color has invalid value: not-a-colour for type Color",
      );
    });

    it("wants exactly one way to find the person", async () => {
      expect(await refusal(await preview("welcome", {}), 400)).toBe(
        "body: give exactly one of profileId, userId or email",
      );
    });
  });

  describe("previewing a template in the editor before it is saved", () => {
    const previewDraft = (body: unknown) =>
      server.admin("/api/v1/templates/preview", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    it("renders exactly what the saved template renders, without a version", async () => {
      const stored = (await (await server.admin("/api/v1/templates/welcome")).json()) as { content: unknown };
      const scope = { userId: "ada", data: { coupon: "WELCOME10" } };
      const saved = (await (await preview("welcome", scope)).json()) as Record<string, unknown>;
      const res = await previewDraft({ content: stored.content, ...scope });
      expect(res.status).toBe(200);
      const { version, ...rendered } = saved;
      expect(version).toBe(2);
      expect(await res.json()).toEqual(rendered);
    });

    it("renders a draft for a person found by email, and saves nothing", async () => {
      const res = await previewDraft({
        content: {
          channel: "sms",
          body: "{{ profile.traits.first_name }}, order {{ event.properties.id }} is here",
        },
        email: "ada@example.com",
        event: { properties: { id: "A-18" } },
      });
      expect(await res.json()).toEqual({ channel: "sms", body: "Ada, order A-18 is here" });
      const list = (await (await server.admin("/api/v1/templates")).json()) as {
        items: Array<{ key: string }>;
      };
      expect(list.items.map((t) => t.key)).toEqual(["burst", "order-sms", "welcome"]);
    });

    it("answers 400 with the field and line for a draft that does not parse, or not for this person", async () => {
      const mjml = welcome.replace("{{ data.coupon }}", "{{ data.coupon | shout }}");
      expect(
        await refusal(
          await previewDraft({ content: { channel: "email", subject: "s", mjml }, userId: "ada" }),
          400,
        ),
      ).toMatch(/^mjml: line 5, column \d+: undefined filter: shout$/);
      expect(
        await refusal(
          await previewDraft({
            content: { channel: "email", subject: "s", mjml: welcome },
            userId: "ada",
            data: { color: "not-a-colour" },
          }),
          400,
        ),
      ).toBe("mjml: line 5: Attribute color has invalid value: not-a-colour for type Color");
      expect(
        await refusal(
          await previewDraft({
            content: { channel: "email", subject: "s", mjml: "m", html: "h" },
            userId: "ada",
          }),
          400,
        ),
      ).toBe("body.content.html: an email template has exactly one of mjml or html");
    });

    it("answers 404 for a person it does not know, and wants exactly one way to find them", async () => {
      const content = { channel: "sms", body: "hi" };
      expect(await refusal(await previewDraft({ content, userId: "nobody" }), 404)).toBe(
        'no profile with the id, email or userId "nobody"',
      );
      expect(
        await refusal(await previewDraft({ content, userId: "ada", email: "ada@example.com" }), 400),
      ).toBe("body: give exactly one of profileId, userId or email");
      expect(await refusal(await previewDraft({ userId: "ada" }), 400)).toMatch(/^body\.content: /);
    });
  });
});
