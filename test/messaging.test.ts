import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, instancesOf, outboxSettled, post, publish } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { startTestServer } from "./support/server.ts";
import { startReceiver } from "./support/receiver.ts";
import { startSmtpServer } from "./support/smtp.ts";
import { jsonBody } from "./support/responses.ts";

const MIN = 60_000;

interface MessageBody {
  id: string;
  status: string;
  reason: string | null;
  template: string;
  journey: string | null;
}

/** A server with the pipeline, an injected clock, a real SMTP server as the email channel. */
async function setup(
  options: Pick<
    Parameters<typeof startTestServer>[0] & {},
    "messaging" | "messagingConcurrency" | "pipelineStart"
  > & {
    /** The SMTP server's loopback address (default 127.0.0.1, the test server's allowed one). */
    smtpHost?: string;
  } = {},
) {
  const state = { clock: new Date("2026-05-04T10:00:00.000Z") };
  const { smtpHost, ...serverOptions } = options;
  const smtp = await startSmtpServer(smtpHost ? { host: smtpHost } : {});
  const server = await startTestServer({ pipeline: true, now: () => state.clock, ...serverOptions });
  const channel = await server.admin("/api/v1/channels/email", {
    method: "PUT",
    ...jsonBody({
      provider: "smtp",
      host: smtp.host,
      port: smtp.port,
      // No "secure": on a port other than 465 it means STARTTLS when offered (this server offers none).
      from: "Shop <shop@example.com>",
    }),
  });
  expect(channel.status).toBe(200);
  return {
    server,
    smtp,
    state,
    later(ms: number) {
      state.clock = new Date(state.clock.getTime() + ms);
    },
    async track(type: string, body: Record<string, unknown>) {
      const res = await server.track(`/v1/${type}`, body);
      expect(res.status).toBe(200);
    },
    async template(key: string, content: Record<string, unknown>) {
      const res = await server.admin(`/api/v1/templates/${key}`, { method: "PUT", ...jsonBody(content) });
      expect(res.status, await res.clone().text()).toBe(200);
    },
    async messages(query = ""): Promise<MessageBody[]> {
      const res = await server.admin(`/api/v1/messages?limit=100${query}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { items: MessageBody[] }).items;
    },
    async close() {
      await server.close();
      await smtp.close();
    },
  };
}
type Setup = Awaited<ReturnType<typeof setup>>;

describe("a cart reminder email", () => {
  let t: Setup;
  /** Ada puts a product in a cart. */
  const addToCart = (properties: Record<string, unknown>) =>
    t.track("track", { userId: "ada", event: "Product Added", properties });
  beforeAll(async () => {
    t = await setup();
    await t.template("cart-reminder", {
      channel: "email",
      subject: "{{ profile.traits.first_name }}, your cart is waiting",
      mjml: `<mjml><mj-body><mj-section><mj-column>
<mj-text>Hi {{ profile.traits.first_name }}, you left:</mj-text>
{% for item in context.cart %}<mj-text>{{ item.name }} ({{ item.price }})</mj-text>{% endfor %}
<mj-button href="https://shop.example/cart">Back to your cart</mj-button>
<mj-text><a href="{% unsubscribe_url %}">Unsubscribe</a></mj-text>
</mj-column></mj-section></mj-body></mjml>`,
    });
    const topic = await t.server.admin("/api/v1/topics/promotions", {
      method: "PUT",
      ...jsonBody({ name: "Promotions", channels: ["email"], default: "opt_out" }),
    });
    expect(topic.status).toBe(200);
    await publish(t.server, {
      key: "cart-email",
      name: "Cart email",
      trigger: { event: "Product Added" },
      entry: { key: "{{ event.properties.cart_id }}" },
      context: {
        collections: { cart: { id: "{{ event.properties.product_id }}", upsert: ["Product Added"] } },
      },
      steps: [
        { id: "wait", wait: { duration: "1h" } },
        { id: "remind", message: { channel: "email", template: "cart-reminder", topic: "promotions" } },
        {
          id: "clicked",
          hold_until: {
            events: [{ id: "click", event: "Email Link Clicked", next: "thanks" }],
            timeout: "1d",
          },
        },
        { id: "thanks", update_profile: { traits: { came_back: true } } },
      ],
    });
    await t.track("identify", { userId: "ada", traits: { email: "ada@example.com", first_name: "Ada" } });
  });
  afterAll(() => t.close());

  it("arrives with the person's name and the cart's items, and List-Unsubscribe headers", async () => {
    await addToCart({ cart_id: "k1", product_id: "p1", name: "Socks", price: 9.5 });
    await addToCart({ cart_id: "k1", product_id: "p2", name: "Hat", price: 20 });
    await drained(t.server);
    t.later(60 * MIN);
    const [mail] = await t.smtp.waitFor(1);
    expect(mail!.subject).toBe("Ada, your cart is waiting");
    expect(mail!.to).toEqual(["ada@example.com"]);
    expect(mail!.text).toContain("Socks (9.5)");
    expect(mail!.text).toContain("Hat (20)");
    expect(mail!.html).toContain("Hi Ada, you left:");
    expect(mail!.headers["list-unsubscribe-post"]).toBe("List-Unsubscribe=One-Click");
    expect(mail!.headers["list-unsubscribe"]).toMatch(/^<http:\/\/127\.0\.0\.1:\d+\/u\/[A-Za-z0-9_.-]+>$/);
    const [message] = await eventually(async () => {
      const list = await t.messages("&status=sent");
      return list.length === 1 ? list : undefined;
    }, "the message to be logged as sent");
    expect(message!.journey).toBe("cart-email");
  });

  it("a click goes through the signed redirect, becomes an event, and moves the journey on", async () => {
    const mail = t.smtp.mails[0]!;
    const link = /href="(http:\/\/127\.0\.0\.1:\d+\/c\/[^"]+)"/.exec(mail.html!)![1]!;
    const res = await fetch(link.replace(/&amp;/g, "&"), { redirect: "manual" });
    expect(res.status).toBe(302);
    expect(res.headers.get("location")).toBe("https://shop.example/cart");
    const tampered = await fetch(`${link.slice(0, -3)}xyz`, { redirect: "manual" });
    expect(tampered.status).toBe(404);
    const instance = await eventually(async () => {
      await drained(t.server);
      const [i] = await instancesOf(t.server, "cart-email");
      return i?.status === "completed" ? i : undefined;
    }, "the instance to take the click branch");
    const kinds = instance.timeline.map((e) => e.kind);
    expect(kinds).toEqual(
      expect.arrayContaining(["message_queued", "message_sent", "event_matched", "profile_updated"]),
    );
  });

  it("one-click unsubscribe: the next promotional email is skipped with its reason, a transactional one still goes", async () => {
    const unsubscribe = /<(.+)>/.exec(t.smtp.mails[0]!.headers["list-unsubscribe"]!)![1]!;
    const res = await fetch(unsubscribe, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(res.status).toBe(200);
    await addToCart({ cart_id: "k2", product_id: "p3", name: "Scarf", price: 15 });
    await drained(t.server);
    await outboxSettled(t.server); // the first reminder is recorded before its lease could end
    t.later(60 * MIN);
    const skipped = await eventually(async () => {
      const list = await t.messages("&status=skipped");
      return list.length === 1 ? list[0] : undefined;
    }, "the second reminder to be skipped");
    expect(skipped.reason).toBe("unsubscribed:promotions");

    await t.template("receipt", {
      channel: "email",
      subject: "Your receipt",
      html: "<p>Thanks, {{ profile.traits.first_name }}</p>",
    });
    const send = await post(t.server, "/api/v1/send", { template: "receipt", to: { userId: "ada" } });
    expect(send.status).toBe(202);
    const mails = await t.smtp.waitFor(2);
    expect(mails[1]!.subject).toBe("Your receipt");
    expect(t.smtp.mails).toHaveLength(2);
  });
});

describe("a send right after the identify that makes the person", () => {
  let t: Setup;
  beforeAll(async () => {
    // The pipeline is built but not started: the identify waits in the log until the test starts it.
    t = await setup({ pipelineStart: "paused" });
    await t.template("welcome", {
      channel: "email",
      subject: "Welcome, {{ profile.traits.first_name }}",
      html: "<p>Hello {{ profile.traits.first_name }}</p>",
    });
    await t.track("identify", {
      userId: "grace",
      traits: { email: "grace@example.com", first_name: "Grace" },
    });
  });
  afterAll(() => t?.close());
  const send = (userId: string) =>
    t.server.admin("/api/v1/send", {
      method: "POST",
      ...jsonBody({ template: "welcome", to: { userId } }),
    });

  it("answers 503 with Retry-After, naming what is not applied, when the pipeline does not get there in 5 s", async () => {
    const started = Date.now();
    const res = await send("grace");
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
    expect(res.headers.get("retry-after")).toBe("1");
    const body = (await res.json()) as { error: string; message: string };
    expect(body.error).toBe("unavailable");
    expect(body.message).toMatch(
      /"grace" yet: 1 event accepted before this request is not applied yet \(waited 5 s\); retry$/,
    );
    expect(await t.messages()).toEqual([]);
  });

  it("waits for the pipeline to apply the identify, then queues the email to the person's address", async () => {
    let answered = 0;
    const pending = send("grace").then((res) => {
      answered++;
      return res;
    });
    // A preview for her waits the same way.
    const preview = t.server
      .admin("/api/v1/templates/welcome/preview", { method: "POST", ...jsonBody({ userId: "grace" }) })
      .then((res) => {
        answered++;
        return res;
      });
    await new Promise((r) => setTimeout(r, 300));
    expect(answered).toBe(0);
    t.server.pipeline!.start();
    const res = await pending;
    expect(res.status, await res.clone().text()).toBe(202);
    const previewed = await preview;
    expect(previewed.status, await previewed.clone().text()).toBe(200);
    expect(((await previewed.json()) as { subject: string }).subject).toBe("Welcome, Grace");
    const [mail] = await t.smtp.waitFor(1);
    expect(mail!.to).toEqual(["grace@example.com"]);
    expect(mail!.subject).toBe("Welcome, Grace");
  });

  it("answers 404 at once for a user id nobody has once the pipeline has caught up", async () => {
    await drained(t.server);
    const started = Date.now();
    const res = await send("nobody");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { message: string }).message).toBe(
      'no profile with the id, email or userId "nobody"',
    );
    // No wait: nothing was behind (the 5 s bound is far off).
    expect(Date.now() - started).toBeLessThan(4_000);
  });
});

describe("a bounce", () => {
  let t: Setup;
  beforeAll(async () => {
    t = await setup();
    await t.template("news", { channel: "email", subject: "News", html: "<p>Hello</p>" });
  });
  afterAll(() => t.close());

  it("suppresses the address: later sends, transactional ones too, are skipped with suppressed:hard_bounce", async () => {
    t.smtp.reject("gone@example.com", 550);
    await t.track("identify", { userId: "gone", traits: { email: "gone@example.com" } });
    await drained(t.server);
    const first = (await (
      await post(t.server, "/api/v1/send", { template: "news", to: { userId: "gone" } })
    ).json()) as {
      id: string;
    };
    const bounced = await eventually(async () => {
      const res = await t.server.admin(`/api/v1/messages/${first.id}`);
      const m = (await res.json()) as MessageBody;
      return m.status === "bounced" ? m : undefined;
    }, "the bounce");
    expect(bounced.reason).toMatch(/550/);
    await post(t.server, "/api/v1/send", { template: "news", to: { userId: "gone" } });
    const skipped = await eventually(async () => {
      const list = await t.messages("&status=skipped");
      return list[0];
    }, "the next send to be skipped");
    expect(skipped.reason).toBe("suppressed:hard_bounce");
    expect(t.smtp.mails).toHaveLength(0);
    // The bounce is an event of the person.
    await drained(t.server);
    const events = await (await t.server.admin("/api/v1/events?event=Email%20Bounced")).json();
    expect(events.items).toHaveLength(1);
  });

  it("erasing the person removes their messages and keeps the address suppressed (hashed)", async () => {
    const [message] = await t.messages();
    const res = await t.server.admin(
      `/api/v1/profiles/${(message as unknown as { profileId: string }).profileId}`,
      {
        method: "DELETE",
      },
    );
    expect(res.status).toBe(200);
    const { counts } = (await res.json()) as { counts: Record<string, number> };
    expect(counts.messages).toBe(2);
    expect(await t.messages()).toEqual([]);
    const { rows } = await t.server.db.pool.query(
      "SELECT count(*)::int AS n FROM messages WHERE to_address = 'gone@example.com' OR data::text LIKE '%gone@%'",
    );
    expect(rows[0].n).toBe(0);
    const suppressed = await t.server.db.pool.query(
      "SELECT reason FROM message_suppressions WHERE channel = 'email'",
    );
    expect(suppressed.rows.map((r) => r.reason)).toEqual(["erased"]);
  });
});

describe("a webhook message", () => {
  let t: Setup;
  beforeAll(async () => {
    t = await setup();
  });
  afterAll(() => t.close());

  it("goes to the template's url, or to the send's data.url when it gives one", async () => {
    const receiver = await startReceiver("127.0.0.1");
    try {
      await t.template("order-hook", {
        channel: "webhook",
        url: `${receiver.url}/orders`,
        body: { order: "{{ data.order }}", user: "{{ profile.traits.name }}" },
      });
      await t.track("identify", { userId: "dee", traits: { name: "Dee" } });
      await drained(t.server);
      const first = await post(t.server, "/api/v1/send", {
        template: "order-hook",
        to: { userId: "dee" },
        data: { order: "A-1" },
      });
      expect(first.status).toBe(202);
      await receiver.waitFor(1);
      await post(t.server, "/api/v1/send", {
        template: "order-hook",
        to: { userId: "dee" },
        data: { order: "A-2", url: `${receiver.url}/elsewhere` },
      });
      await receiver.waitFor(2);
      expect(receiver.received.map((r) => [r.path, r.body])).toEqual([
        ["/orders", { order: "A-1", user: "Dee" }],
        ["/elsewhere", { order: "A-2", user: "Dee" }],
      ]);
    } finally {
      await receiver.close();
    }
  });

  it("refuses a template url that is not http or https, naming the field", async () => {
    const res = await t.server.admin("/api/v1/templates/bad-hook", {
      method: "PUT",
      ...jsonBody({ channel: "webhook", url: "file:///etc/passwd", body: {} }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/url: must be an http or https URL/);
  });
});

describe("an SMTP server on an address the outbound guard refuses", () => {
  let t: Setup;
  beforeAll(async () => {
    // 127.0.0.2 is loopback, off the test server's allow list (127.0.0.1), like a relay on a private
    // address the operator has not allowed.
    t = await setup({ smtpHost: "127.0.0.2" });
    await t.template("news", { channel: "email", subject: "News", html: "<p>Hello</p>" });
  });
  afterAll(() => t.close());

  it("is never connected to: the send fails for good and names the refusal and the way to allow it", async () => {
    await t.track("identify", { userId: "cy", traits: { email: "cy@example.com" } });
    await drained(t.server);
    const res = await post(t.server, "/api/v1/send", { template: "news", to: { userId: "cy" } });
    expect(res.status).toBe(202);
    const { id } = (await res.json()) as { id: string };
    const failed = await eventually(async () => {
      const m = (await (await t.server.admin(`/api/v1/messages/${id}`)).json()) as MessageBody;
      return m.status === "failed" ? m : undefined;
    }, "the send to fail");
    expect(failed.reason).toMatch(/^smtp: refused: loopback address 127\.0\.0\.2 .*WAYMARK_OUTBOUND_ALLOW/);
    expect(t.smtp.connections).toBe(0);
    expect(t.smtp.mails).toHaveLength(0);
  });
});

describe("caps and quiet hours", () => {
  let t: Setup;
  /** Sends Bo the promotional email "Deal n" through the send API. */
  const sendPromo = (n: number) =>
    post(t.server, "/api/v1/send", {
      template: "promo",
      to: { userId: "bo" },
      transactional: false,
      data: { n },
    });
  beforeAll(async () => {
    t = await setup();
    await t.template("promo", { channel: "email", subject: "Deal {{ data.n }}", html: "<p>Deal</p>" });
    const policy = await t.server.admin("/api/v1/policies/delivery", {
      method: "PUT",
      ...jsonBody({
        caps: [{ channel: "email", limit: 2, per: "1d" }],
        quietHours: { start: "21:00", end: "08:00", mode: "delay" },
      }),
    });
    expect(policy.status, await policy.clone().text()).toBe(200);
    await t.track("identify", {
      userId: "bo",
      traits: { email: "bo@example.com" },
      context: { timezone: "Europe/Berlin" },
    });
    await drained(t.server);
  });
  afterAll(() => t.close());

  it("sends two promotional emails a day and skips the third with capped:email 2/1d", async () => {
    for (let n = 1; n <= 3; n++) {
      await sendPromo(n);
      await eventually(
        async () => ((await t.messages("&status=queued")).length === 0 ? true : undefined),
        `send ${n}`,
      );
    }
    expect(t.smtp.mails.map((m) => m.subject)).toEqual(["Deal 1", "Deal 2"]);
    const [skipped] = await t.messages("&status=skipped");
    expect(skipped!.reason).toBe("capped:email 2/1d");
  });

  it("delays a message sent at 22:00 Berlin time to 08:00", async () => {
    t.state.clock = new Date("2026-05-05T20:00:00.000Z"); // 22:00 in Berlin (CEST), a new local day
    await sendPromo(4);
    const delayed = await eventually(async () => {
      const [m] = await t.messages("&status=queued");
      return m?.reason ? m : undefined;
    }, "the delay");
    expect(delayed.reason).toBe("quiet_hours:delayed until 2026-05-06T06:00:00.000Z");
    expect(t.smtp.mails).toHaveLength(2);
    t.state.clock = new Date("2026-05-06T06:00:00.000Z");
    const mails = await t.smtp.waitFor(3);
    expect(mails[2]!.subject).toBe("Deal 4");
  });

  it("keeps the cap when several messages to the person are decided at the same moment", async () => {
    // 08:00 in Berlin: "Deal 4" is today's first; the cap leaves room for one more of these five.
    await Promise.all([5, 6, 7, 8, 9].map(sendPromo));
    await eventually(
      async () => ((await t.messages("&status=queued")).length === 0 ? true : undefined),
      "all decided",
    );
    expect(t.smtp.mails).toHaveLength(4);
    const capped = (await t.messages("&status=skipped")).filter((m) => m.reason === "capped:email 2/1d");
    expect(capped).toHaveLength(1 + 4);
  });
});

describe("two journeys competing for the last slot of a cap", () => {
  let t: Setup;
  beforeAll(async () => {
    // The test decides the order: one message at a time, the lower-priority one first. Decided the
    // other way round, the cap alone would skip it and the priority rule would go untested.
    t = await setup({ messaging: "manual", messagingConcurrency: 1 });
    await t.template("vip-offer", { channel: "email", subject: "VIP offer", html: "<p>VIP</p>" });
    await t.template("weekly-deal", { channel: "email", subject: "Weekly deal", html: "<p>Deal</p>" });
    const policy = await t.server.admin("/api/v1/policies/delivery", {
      method: "PUT",
      ...jsonBody({ caps: [{ channel: "email", limit: 1, per: "1d" }], priorities: { vip: 10, weekly: 1 } }),
    });
    expect(policy.status, await policy.clone().text()).toBe(200);
    for (const [key, template, event] of [
      ["weekly", "weekly-deal", "Visited Store"],
      ["vip", "vip-offer", "Viewed VIP Page"],
    ] as const) {
      await publish(t.server, {
        key,
        name: key,
        trigger: { event },
        steps: [{ id: "send", message: { channel: "email", template } }],
      });
    }
    await t.track("identify", { userId: "cy", traits: { email: "cy@example.com" } });
  });
  afterAll(() => t.close());

  it("skips the lower-priority journey's message while a higher one is queued, then sends that one", async () => {
    const worker = t.server.messaging!;
    await t.track("track", { userId: "cy", event: "Visited Store" });
    t.later(1000);
    await t.track("track", { userId: "cy", event: "Viewed VIP Page" });
    await drained(t.server);
    await eventually(async () => {
      await worker.acceptOnce();
      return (await t.messages("&status=queued")).length === 2 ? true : undefined;
    }, "both messages queued");

    // The weekly message is the older one: claimed and decided first, with the VIP one still queued.
    await eventually(async () => ((await worker.sendOnce()) === 1 ? true : undefined), "weekly claimed");
    const weekly = await eventually(async () => {
      const [m] = await t.messages("&journey=weekly");
      return m && m.status !== "queued" ? m : undefined;
    }, "the weekly message decided");
    expect(weekly.status).toBe("skipped");
    expect(weekly.reason).toMatch(/^capped:email 1\/1d/);

    // Claimed once the weekly message's slot is free again.
    await eventually(async () => ((await worker.sendOnce()) === 1 ? true : undefined), "VIP claimed");
    await t.smtp.waitFor(1);
    expect(t.smtp.mails.map((m) => m.subject)).toEqual(["VIP offer"]);
    const vip = await eventually(async () => {
      const [m] = await t.messages("&journey=vip");
      return m && m.status !== "queued" ? m : undefined;
    }, "the VIP message decided");
    expect(vip.status).toBe("sent");
  });
});
