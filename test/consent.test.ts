import { createHash, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentInputs, decideDelivery, signToken } from "../src/messaging/index.ts";
import { drained } from "./support/pipeline.ts";
import { json } from "./support/responses.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
let secret: string;
beforeAll(async () => {
  server = await startTestServer({ pipeline: true });
  const { rows } = await server.db.pool.query<{ webhook_secret: string }>(
    "SELECT webhook_secret FROM workspaces WHERE id = $1",
    [server.keys.workspaceId],
  );
  secret = rows[0]!.webhook_secret;
});
afterAll(async () => {
  await server.close();
});

async function page(res: Response | Promise<Response>, status = 200): Promise<string> {
  const r = await res;
  const body = await r.text();
  expect(r.status, body).toBe(status);
  expect(r.headers.get("content-type")).toMatch(/^text\/html/);
  return body;
}

const put = (path: string, body: unknown) =>
  server.admin(path, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

interface Subscription {
  topic: string;
  channel: string;
  status: string;
  source: string;
}
const subscriptionsOf = (id: string) =>
  json<Subscription[]>(server.admin(`/api/v1/profiles/${id}/subscriptions`));
const brief = (subs: Subscription[]) => subs.map((s) => `${s.topic}/${s.channel}: ${s.status} (${s.source})`);

/** Identifies a new person and waits for the profile; returns its id. */
async function person(userId: string, traits: Record<string, unknown> = {}): Promise<string> {
  await json(server.track("/v1/identify", { userId, traits }));
  await drained(server);
  const { items } = await json<{ items: Array<{ id: string }> }>(
    server.admin(`/api/v1/profiles?userId=${userId}`),
  );
  return items[0]!.id;
}

async function unsubscribedEvents(userId: string): Promise<Array<Record<string, unknown>>> {
  const { items } = await json<{ items: Array<Record<string, unknown>> }>(
    server.admin(`/api/v1/events?event=Unsubscribed&userId=${userId}`),
  );
  return items;
}

const run = randomUUID().slice(0, 8);

describe("a workspace sets up its topics", () => {
  it("creates and replaces topics and lists them", async () => {
    const promotions = await json<Record<string, unknown>>(
      put("/api/v1/topics/promotions", {
        name: "Promotions",
        channels: ["email", "sms"],
        default: "opt_out",
      }),
    );
    expect(promotions).toMatchObject({ key: "promotions", name: "Promotions", channels: ["email", "sms"] });
    await json(
      put("/api/v1/topics/newsletter", { name: "Newsletter", channels: ["email"], default: "opt_out" }),
    );
    await json(
      put("/api/v1/topics/newsletter", { name: "Weekly newsletter", channels: ["email"], default: "opt_in" }),
    );
    const { items } = await json<{ items: Array<Record<string, unknown>> }>(server.admin("/api/v1/topics"));
    expect(items.map((t) => [t.key, t.name, t.default])).toEqual([
      ["newsletter", "Weekly newsletter", "opt_in"],
      ["promotions", "Promotions", "opt_out"],
    ]);
    expect(await json(server.admin("/api/v1/topics/newsletter"))).toMatchObject({ channels: ["email"] });
  });
  it("refuses a bad topic, naming the field", async () => {
    const bad = await json<{ message: string }>(
      put("/api/v1/topics/offers", { name: "Offers", channels: ["fax"], default: "opt_out" }),
      400,
    );
    expect(bad.message).toMatch(/^body\.channels\.0: /);
    const mode = await json<{ message: string }>(
      put("/api/v1/topics/offers", { name: "Offers", channels: ["email"], default: "always" }),
      400,
    );
    expect(mode.message).toMatch(/^body\.default: /);
    const key = await json<{ message: string }>(
      put("/api/v1/topics/has%20space", { name: "x", channels: ["email"], default: "opt_in" }),
      400,
    );
    expect(key.message).toMatch(/^params\.key: must be 1-100 letters/);
  });
  it("deletes a topic; an unknown one is a 404", async () => {
    await json(put("/api/v1/topics/temporary", { name: "Temporary", channels: ["push"], default: "opt_in" }));
    expect((await server.admin("/api/v1/topics/temporary", { method: "DELETE" })).status).toBe(204);
    await json(server.admin("/api/v1/topics/temporary"), 404);
    await json(server.admin("/api/v1/topics/temporary", { method: "DELETE" }), 404);
  });
});

describe("an admin records a person's choices through the API", () => {
  let id: string;
  beforeAll(async () => {
    id = await person(`api-${run}`);
  });

  it("starts with no choices, then keeps those sent and leaves the others", async () => {
    expect(await subscriptionsOf(id)).toEqual([]);
    await json(
      put(`/api/v1/profiles/${id}/subscriptions`, [
        { topic: "newsletter", channel: "email", status: "subscribed" },
        { topic: "*", channel: "sms", status: "unsubscribed" },
      ]),
    );
    const after = await json<Subscription[]>(
      put(`/api/v1/profiles/${id}/subscriptions`, [
        { topic: "promotions", channel: "*", status: "unsubscribed" },
      ]),
    );
    expect(brief(after)).toEqual([
      "*/sms: unsubscribed (api)",
      "newsletter/email: subscribed (api)",
      "promotions/*: unsubscribed (api)",
    ]);
    expect(await subscriptionsOf(id)).toEqual(after);
  });
  it("decides a promotion by them as skipped, and the newsletter they subscribed to as sent", async () => {
    const now = new Date();
    const decide = async (topic: string) =>
      decideDelivery({
        ...(await consentInputs(
          server.db.pool,
          server.keys.workspaceId,
          id,
          "email",
          "x@example.com",
          topic,
          now,
        )),
        channel: "email",
        topic,
        transactional: false,
        journey: null,
        priority: 0,
        now,
      });
    expect(await decide("promotions")).toEqual({ action: "skip", reason: "unsubscribed:promotions" });
    expect(await decide("newsletter")).toEqual({ action: "send" });
  });
  it("refuses a topic that does not exist or a channel the topic is not offered on", async () => {
    const bad = await json<{ message: string }>(
      put(`/api/v1/profiles/${id}/subscriptions`, [
        { topic: "newsletter", channel: "sms", status: "subscribed" },
        { topic: "promotionz", channel: "email", status: "subscribed" },
      ]),
      400,
    );
    expect(bad.message).toBe(
      "body.0.channel: topic newsletter is offered on email, not sms; " +
        "body.1.topic: no topic promotionz; create it with PUT /api/v1/topics/promotionz",
    );
    const status = await json<{ message: string }>(
      put(`/api/v1/profiles/${id}/subscriptions`, [{ topic: "newsletter", channel: "email", status: "yes" }]),
      400,
    );
    expect(status.message).toMatch(/^body\.0\.status: /);
  });
  it("answers 404 for an unknown profile", async () => {
    await json(server.admin(`/api/v1/profiles/${randomUUID()}/subscriptions`), 404);
  });
});

describe("an app sends subscriptions as identify traits", () => {
  const userId = `traits-${run}`;
  let id: string;

  it("writes them as the person's choices (source identify)", async () => {
    id = await person(userId, {
      email: `${userId}@example.com`,
      subscriptions: { promotions: false, newsletter: { email: true }, "*": { push: false }, junk: 3 },
    });
    expect(brief(await subscriptionsOf(id))).toEqual([
      "*/push: unsubscribed (identify)",
      "newsletter/email: subscribed (identify)",
      "promotions/*: unsubscribed (identify)",
    ]);
  });
  it("applies the later call by timestamp, whatever the order of arrival", async () => {
    await json(
      server.track("/v1/identify", {
        userId,
        timestamp: "2026-01-02T00:00:00Z",
        traits: { subscriptions: { promotions: { sms: true } } },
      }),
    );
    await json(
      server.track("/v1/identify", {
        userId,
        timestamp: "2026-01-01T00:00:00Z",
        traits: { subscriptions: { promotions: { sms: false } } },
      }),
    );
    await drained(server);
    expect(brief(await subscriptionsOf(id))).toContain("promotions/sms: subscribed (identify)");
  });
  it("does not let an old call undo a choice made since through the API", async () => {
    await json(
      put(`/api/v1/profiles/${id}/subscriptions`, [
        { topic: "newsletter", channel: "email", status: "unsubscribed" },
      ]),
    );
    await json(
      server.track("/v1/identify", {
        userId,
        timestamp: "2026-01-03T00:00:00Z",
        traits: { subscriptions: { newsletter: { email: true } } },
      }),
    );
    await drained(server);
    expect(brief(await subscriptionsOf(id))).toContain("newsletter/email: unsubscribed (api)");
  });
});

/** The token the dispatcher would put in a message to the person. */
const tokenFor = (
  profileId: string,
  topic: string | null,
  channel = "email",
  messageId: string = randomUUID(),
) => signToken(secret, { w: server.keys.workspaceId, p: profileId, c: channel, t: topic, m: messageId });

describe("a person clicks the unsubscribe link of a promotion", () => {
  const userId = `click-${run}`;
  const messageId = randomUUID();
  let id: string;
  let token: string;
  beforeAll(async () => {
    id = await person(userId);
    token = tokenFor(id, "promotions", "email", messageId);
  });

  it("GET shows a confirmation page and unsubscribes no one (link scanners open links)", async () => {
    const html = await page(fetch(`${server.url}/u/${token}`));
    expect(html).toContain("Stop receiving Promotions emails?");
    expect(html).toMatch(/<form method="post">/);
    expect(html).toContain('name="List-Unsubscribe" value="One-Click"');
    expect(await subscriptionsOf(id)).toEqual([]);
    expect(await unsubscribedEvents(userId)).toEqual([]);
  });
  it("the mail client's one-click POST unsubscribes at once and appends an Unsubscribed event", async () => {
    const html = await page(
      fetch(`${server.url}/u/${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      }),
    );
    expect(html).toContain("You are unsubscribed");
    expect(html).toContain(`href="../p/${token}"`);
    expect(brief(await subscriptionsOf(id))).toEqual(["promotions/email: unsubscribed (one_click)"]);
    await drained(server);
    const events = await unsubscribedEvents(userId);
    expect(events).toEqual([
      expect.objectContaining({
        type: "track",
        event: "Unsubscribed",
        userId,
        properties: { channel: "email", topic: "promotions", messageId, source: "one_click" },
      }),
    ]);
  });
  it("a second POST (the person's own click after the mail client's) appends nothing", async () => {
    await page(
      fetch(`${server.url}/u/${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      }),
    );
    expect(await unsubscribedEvents(userId)).toHaveLength(1);
  });
  it("a multipart one-click POST works too; without the one-click body it is refused", async () => {
    const sms = tokenFor(id, "promotions", "sms");
    const form = new FormData();
    form.set("List-Unsubscribe", "One-Click");
    await page(fetch(`${server.url}/u/${sms}`, { method: "POST", body: form }));
    expect(brief(await subscriptionsOf(id))).toContain("promotions/sms: unsubscribed (one_click)");
    const other = tokenFor(id, null, "push");
    await page(fetch(`${server.url}/u/${other}`, { method: "POST" }), 400);
    expect(brief(await subscriptionsOf(id))).not.toContain("*/push: unsubscribed (one_click)");
  });
  it("the link of a message without a topic unsubscribes from the whole channel", async () => {
    const html = await page(fetch(`${server.url}/u/${tokenFor(id, null, "push")}`));
    expect(html).toContain("Stop receiving all push notifications?");
    await page(
      fetch(`${server.url}/u/${tokenFor(id, null, "push")}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: "List-Unsubscribe=One-Click",
      }),
    );
    expect(brief(await subscriptionsOf(id))).toContain("*/push: unsubscribed (one_click)");
  });
});

describe("a person manages their preferences on the hosted page", () => {
  const userId = `prefs-${run}`;
  let id: string;
  let token: string;
  beforeAll(async () => {
    id = await person(userId);
    token = tokenFor(id, "newsletter");
  });

  it("lists every topic per channel with the person's state (opt-out ticked, opt-in not)", async () => {
    const html = await page(fetch(`${server.url}/p/${token}`));
    expect(html).toContain("<legend>Weekly newsletter</legend>");
    expect(html).toContain("<legend>Promotions</legend>");
    expect(html).toContain('name="on" value="newsletter|email"> Email');
    expect(html).toContain('name="on" value="promotions|email" checked> Email');
    expect(html).toContain('name="on" value="promotions|sms" checked> SMS');
    expect(html).toContain('name="on" value="*|email" checked> Receive emails from us');
    expect(await subscriptionsOf(id)).toEqual([]);
  });
  it("saves the form: only what changed is written, and each unsubscribe is an event", async () => {
    const form = new URLSearchParams();
    for (const f of ["newsletter|email", "promotions|email", "promotions|sms", "*|email"])
      form.append("shown", f);
    for (const f of ["newsletter|email", "promotions|email", "*|email"]) form.append("on", f);
    const html = await page(
      fetch(`${server.url}/p/${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      }),
    );
    expect(html).toContain("Your preferences are saved.");
    expect(html).toContain('name="on" value="newsletter|email" checked> Email');
    expect(html).toContain('name="on" value="promotions|sms"> SMS');
    expect(brief(await subscriptionsOf(id))).toEqual([
      "newsletter/email: subscribed (preference_page)",
      "promotions/sms: unsubscribed (preference_page)",
    ]);
    await drained(server);
    const events = await unsubscribedEvents(userId);
    expect(events.map((e) => e.properties)).toEqual([
      expect.objectContaining({ channel: "sms", topic: "promotions", source: "preference_page" }),
    ]);
  });
  it("unticking everything unsubscribes from the channel", async () => {
    const form = new URLSearchParams([["shown", "*|email"]]);
    await page(
      fetch(`${server.url}/p/${token}`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded" },
        body: form.toString(),
      }),
    );
    expect(brief(await subscriptionsOf(id))).toContain("*/email: unsubscribed (preference_page)");
    const html = await page(fetch(`${server.url}/p/${token}`));
    expect(html).toContain('name="on" value="*|email"> Receive emails from us');
  });
});

describe("a forged or broken link", () => {
  let id: string;
  beforeAll(async () => {
    id = await person(`forged-${run}`);
  });
  const forms = { "content-type": "application/x-www-form-urlencoded" };

  it("answers a 404 page and changes nothing", async () => {
    const good = tokenFor(id, "promotions");
    const [data, signature] = good.split(".") as [string, string];
    const tampered = Buffer.from(
      JSON.stringify({ w: server.keys.workspaceId, p: id, c: "email", t: null, m: randomUUID() }),
    ).toString("base64url");
    const tokens = [
      `${tampered}.${signature}`,
      `${data}.${signature.slice(0, -2)}AA`,
      signToken("whsec_someone-elses-secret", {
        w: server.keys.workspaceId,
        p: id,
        c: "email",
        t: null,
        m: "x",
      }),
      signToken(secret, { w: server.keys.workspaceId, p: id, c: "email", t: null, m: "x", x: 1 }),
      signToken(secret, { w: server.keys.workspaceId, p: randomUUID(), c: "email", t: null, m: "x" }),
      "not-a-token",
      `${Buffer.from("[]").toString("base64url")}.x`,
    ];
    for (const token of tokens) {
      const path = `${server.url}/u/${encodeURIComponent(token)}`;
      expect(await page(fetch(path), 404)).toContain("This link is not valid");
      await page(fetch(path, { method: "POST", headers: forms, body: "List-Unsubscribe=One-Click" }), 404);
      await page(fetch(`${server.url}/p/${encodeURIComponent(token)}`), 404);
      await page(
        fetch(`${server.url}/p/${encodeURIComponent(token)}`, { method: "POST", headers: forms, body: "" }),
        404,
      );
    }
    expect(await subscriptionsOf(id)).toEqual([]);
  });
});

describe("the suppression list", () => {
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");

  it("keeps a manual entry as a hash of the normalised address", async () => {
    const created = await json<Record<string, unknown>>(
      server.admin("/api/v1/suppressions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ channel: "email", address: "  Grace@Example.COM ", detail: "asked by phone" }),
      }),
      201,
    );
    expect(created).toMatchObject({
      channel: "email",
      addressHash: sha("grace@example.com"),
      reason: "manual",
      detail: "asked by phone",
    });
    const again = await json<Record<string, unknown>>(
      server.admin("/api/v1/suppressions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ channel: "sms", address: "+44 (20) 7946-0000", reason: "complaint" }),
      }),
      201,
    );
    expect(again.addressHash).toBe(sha("+442079460000"));
    const { items } = await json<{ items: Array<Record<string, unknown>> }>(
      server.admin("/api/v1/suppressions"),
    );
    expect(items.map((i) => i.reason)).toEqual(["complaint", "manual"]);
    expect(JSON.stringify(items)).not.toMatch(/grace/i);
  });
  it("finds an address in any spelling, and skips even a transactional message to it", async () => {
    const found = await json<{ items: unknown[] }>(
      server.admin("/api/v1/suppressions?channel=email&address=GRACE%40example.com"),
    );
    expect(found.items).toHaveLength(1);
    const now = new Date();
    const decision = decideDelivery({
      ...(await consentInputs(
        server.db.pool,
        server.keys.workspaceId,
        null,
        "email",
        "grace@example.com",
        null,
        now,
      )),
      channel: "email",
      topic: null,
      transactional: true,
      journey: null,
      priority: 0,
      now,
    });
    expect(decision).toEqual({ action: "skip", reason: "suppressed:manual" });
    const noChannel = await json<{ message: string }>(server.admin("/api/v1/suppressions?address=x"), 400);
    expect(noChannel.message).toMatch(/channel/);
  });
  it("takes an entry off by address or by hash", async () => {
    const del = (q: string) => server.admin(`/api/v1/suppressions?${q}`, { method: "DELETE" });
    expect((await del("channel=email&address=grace%40example.com")).status).toBe(204);
    await json(del("channel=email&address=grace%40example.com"), 404);
    expect((await del(`channel=sms&hash=${sha("+442079460000")}`)).status).toBe(204);
    expect((await json<{ items: unknown[] }>(server.admin("/api/v1/suppressions"))).items).toEqual([]);
  });
});

describe("the delivery policy API", () => {
  it("starts with no caps and no quiet hours", async () => {
    expect(await json(server.admin("/api/v1/policies/delivery"))).toEqual({ caps: [], priorities: {} });
  });
  it("stores a policy and answers it with the defaults filled in", async () => {
    const policy = {
      caps: [
        { channel: "email", limit: 3, per: "1d" },
        { channel: "*", limit: 10, per: "7d" },
      ],
      quietHours: { start: "21:00", end: "08:00" },
      priorities: { cart: 10 },
    };
    const stored = await json(put("/api/v1/policies/delivery", policy));
    const expected = { ...policy, quietHours: { ...policy.quietHours, mode: "delay" } };
    expect(stored).toEqual(expected);
    expect(await json(server.admin("/api/v1/policies/delivery"))).toEqual(expected);
  });
  it("refuses a bad policy, naming the field, and keeps the stored one", async () => {
    const message = async (body: unknown) =>
      (await json<{ message: string }>(put("/api/v1/policies/delivery", body), 400)).message;
    expect(await message({ caps: [{ channel: "email", limit: 3, per: "one day" }] })).toMatch(
      /^body\.caps\.0\.per: must be a duration such as 30s, 5m, 1h, 7d/,
    );
    expect(await message({ caps: [{ channel: "fax", limit: 3, per: "1d" }] })).toMatch(
      /^body\.caps\.0\.channel: /,
    );
    expect(await message({ caps: [{ channel: "sms", limit: -1, per: "1d" }] })).toMatch(
      /^body\.caps\.0\.limit: /,
    );
    expect(await message({ quietHours: { start: "9pm", end: "08:00" } })).toBe(
      "body.quietHours.start: must be a time of day HH:MM, 24 h (21:00)",
    );
    expect(await message({ quietHours: { start: "21:00", end: "08:00", mode: "later" } })).toMatch(
      /^body\.quietHours\.mode: /,
    );
    expect(await message({ quiet_hours: {} })).toMatch(/quiet_hours/);
    expect(await json(server.admin("/api/v1/policies/delivery"))).toMatchObject({ priorities: { cart: 10 } });
  });
});
