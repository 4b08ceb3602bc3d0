import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FCM_IDEMPOTENCY_DATA_KEY } from "../src/messaging/channels/fcm.ts";
import { startFakeFcm, type FakeFcm } from "./support/fake-fcm.ts";
import { startFakeTwilio, type FakeTwilio } from "./support/fake-twilio.ts";
import { eventually, instancesOf, post, publish } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

const json = (body: unknown) => ({
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** A registration token as FCM hands them to apps. */
const tokenOf = (device: string) =>
  `${device}:APA91bHPRgkF3JUikC4ENAHEeMrd41Zxv3hVZjC9KtT8OvPVGJ-hQMRKRrZuJAEcl7B338qju59zJMjw2DeSd`;

interface MessageBody {
  id: string;
  channel: string;
  status: string;
  reason: string | null;
  template: string;
  to: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  instanceId: string | null;
}

/** The messages table's own columns for a message: what the API does not show. */
interface MessageRow {
  id: string;
  channel: string;
  idempotency_key: string;
  provider_message_id: string | null;
}

describe("an order ships: an SMS, then a push", () => {
  const state = { clock: new Date("2026-05-04T10:00:00.000Z") };
  let server: TestServer;
  let twilio: FakeTwilio;
  let fcm: FakeFcm;

  const later = (ms: number) => (state.clock = new Date(state.clock.getTime() + ms));
  const track = async (type: string, body: Record<string, unknown>) => {
    const res = await server.track(`/v1/${type}`, body);
    expect(res.status).toBe(200);
  };
  const put = async (path: string, body: unknown) => {
    const res = await server.admin(path, { method: "PUT", ...json(body) });
    expect(res.status, await res.clone().text()).toBe(200);
  };
  const messages = async (query = ""): Promise<MessageBody[]> => {
    const res = await server.admin(`/api/v1/messages?limit=100${query}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: MessageBody[] }).items;
  };
  const message = async (id: string): Promise<MessageBody> =>
    (await (await server.admin(`/api/v1/messages/${id}`)).json()) as MessageBody;
  const rows = async (ids: string[]) =>
    (
      await server.db.pool.query<MessageRow>(
        "SELECT id, channel, idempotency_key, provider_message_id FROM messages WHERE id = ANY($1::uuid[])",
        [ids],
      )
    ).rows;
  const events = async (name: string, userId: string) => {
    const res = await server.admin(
      `/api/v1/events?event=${encodeURIComponent(name)}&userId=${encodeURIComponent(userId)}`,
    );
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: Array<{ properties: Record<string, unknown> }> }).items;
  };
  /** The person's messages once both are no longer queued (or as `until` wants them). */
  const settled = (userId: string, until: (list: MessageBody[]) => boolean = (l) => l.length === 2) =>
    eventually(async () => {
      await drained(server);
      const [instance] = await instancesOf(server, "order-shipped", `&userId=${userId}`);
      if (!instance) return undefined;
      const list = (await messages(`&journey=order-shipped`)).filter((m) => m.instanceId === instance.id);
      return until(list) ? list : undefined;
    }, `${userId}'s messages`);

  beforeAll(async () => {
    twilio = await startFakeTwilio();
    fcm = await startFakeFcm();
    server = await startTestServer({ pipeline: true, now: () => state.clock });
    await put("/api/v1/channels/sms", {
      provider: "twilio",
      accountSid: twilio.accountSid,
      authToken: twilio.authToken,
      from: "+15005550006",
      baseUrl: twilio.url,
    });
    await put("/api/v1/channels/push", {
      provider: "fcm",
      projectId: fcm.projectId,
      accessToken: fcm.accessToken,
      baseUrl: fcm.url,
    });
    await put("/api/v1/templates/shipped-sms", {
      channel: "sms",
      body: "Hi {{ profile.traits.first_name }}, order {{ event.properties.order_id }} is on its way: {{ event.properties.tracking_url }}",
    });
    await put("/api/v1/templates/shipped-push", {
      channel: "push",
      title: "Order {{ event.properties.order_id }} shipped",
      body: "{{ profile.traits.first_name }}, it arrives {{ event.properties.eta }}",
      data: { orderId: "{{ event.properties.order_id }}", items: "{{ event.properties.items }}" },
    });
    await publish(server, {
      key: "order-shipped",
      name: "Order shipped",
      trigger: { event: "Order Shipped" },
      entry: { key: "{{ event.properties.order_id }}" },
      steps: [
        { id: "sms", message: { channel: "sms", template: "shipped-sms" } },
        { id: "push", message: { channel: "push", template: "shipped-push" } },
      ],
    });
  });
  afterAll(async () => {
    await server?.close();
    await twilio?.close();
    await fcm?.close();
  });

  it("texts the person and pushes to their phone, personalised, logged with the provider's ids, and back as events", async () => {
    await track("identify", {
      userId: "ada",
      traits: { first_name: "Ada", phone: "+15551234567", pushToken: tokenOf("ada-phone") },
    });
    await track("track", {
      userId: "ada",
      event: "Order Shipped",
      properties: { order_id: "A-100", tracking_url: "https://t.example/A-100", eta: "Thursday", items: 2 },
    });
    const sent = await settled("ada", (l) => l.length === 2 && l.every((m) => m.status === "sent"));

    expect(twilio.messages).toHaveLength(1);
    const sms = twilio.messages[0]!;
    expect(sms.to).toBe("+15551234567");
    expect(sms.from).toBe("+15005550006");
    expect(sms.body).toBe("Hi Ada, order A-100 is on its way: https://t.example/A-100");

    expect(fcm.pushes).toHaveLength(1);
    const push = fcm.pushes[0]!;
    expect(push.token).toBe(tokenOf("ada-phone"));
    expect(push.notification).toEqual({ title: "Order A-100 shipped", body: "Ada, it arrives Thursday" });
    // FCM data values are strings: a number goes as its JSON.
    expect(push.data).toMatchObject({ orderId: "A-100", items: "2" });

    // Logged as sent, with the provider's ids; the idempotency key went along to each provider.
    const byChannel = Object.fromEntries((await rows(sent.map((m) => m.id))).map((r) => [r.channel, r]));
    expect(byChannel.sms!.provider_message_id).toBe(sms.sid);
    expect(sms.idempotencyKey).toBe(byChannel.sms!.idempotency_key);
    expect(byChannel.push!.provider_message_id).toBe(push.name);
    expect(push.data![FCM_IDEMPOTENCY_DATA_KEY]).toBe(byChannel.push!.idempotency_key);
    expect(sent.map((m) => m.to).sort()).toEqual(["+15551234567", tokenOf("ada-phone")].sort());

    // Each outcome is an event of the person, once.
    const smsDelivered = await events("SMS Delivered", "ada");
    expect(smsDelivered).toHaveLength(1);
    expect(smsDelivered[0]!.properties).toMatchObject({
      messageId: byChannel.sms!.id,
      channel: "sms",
      template: "shipped-sms",
      journey: "order-shipped",
      step: "sms",
    });
    const pushDelivered = await events("Push Delivered", "ada");
    expect(pushDelivered).toHaveLength(1);
    expect(pushDelivered[0]!.properties).toMatchObject({ messageId: byChannel.push!.id, channel: "push" });
  });

  it("an invalid number bounces (Twilio 21211), is suppressed, and the next SMS to it is skipped", async () => {
    await track("identify", {
      userId: "bo",
      traits: { first_name: "Bo", phone: "+15005550001", pushToken: tokenOf("bo-phone") },
    });
    await track("track", { userId: "bo", event: "Order Shipped", properties: { order_id: "B-200" } });
    const first = await settled("bo", (l) => l.length === 2 && l.every((m) => m.status !== "queued"));
    const bounced = first.find((m) => m.channel === "sms")!;
    expect(bounced.status).toBe("bounced");
    expect(bounced.reason).toMatch(/^twilio HTTP 400 \(21211\): /);
    // The push is another channel and address: it still goes.
    expect(first.find((m) => m.channel === "push")!.status).toBe("sent");
    expect(await events("SMS Bounced", "bo")).toHaveLength(1);
    expect(await events("SMS Delivered", "bo")).toHaveLength(0);

    const res = await server.admin("/api/v1/suppressions?channel=sms&address=%2B15005550001");
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: Array<{ reason: string; channel: string }> };
    expect(items).toEqual([expect.objectContaining({ channel: "sms", reason: "hard_bounce" })]);

    const requests = twilio.requests;
    await track("track", { userId: "bo", event: "Order Shipped", properties: { order_id: "B-201" } });
    const second = await eventually(async () => {
      await drained(server);
      const list = (await messages("&journey=order-shipped&status=skipped")).filter(
        (m) => m.channel === "sms",
      );
      return list[0];
    }, "the next SMS to be skipped");
    expect(second.reason).toBe("suppressed:hard_bounce");
    expect(twilio.requests).toBe(requests);
    // A transactional send is refused the same way: suppression is never skipped.
    const send = await post(server, "/api/v1/send", { template: "shipped-sms", to: { userId: "bo" } });
    expect(send.status).toBe(202);
    const { id } = (await send.json()) as { id: string };
    const skipped = await eventually(async () => {
      const m = await message(id);
      return m.status === "queued" ? undefined : m;
    }, "the transactional SMS");
    expect(skipped).toMatchObject({ status: "skipped", reason: "suppressed:hard_bounce" });
    expect(twilio.requests).toBe(requests);
  });

  it("FCM throttles (429) and fails (500): the push is tried again after a backoff, then sent once", async () => {
    await track("identify", { userId: "cy", traits: { first_name: "Cy", pushToken: tokenOf("cy-phone") } });
    const requests = fcm.requests;
    fcm.failNext(429);
    await track("track", { userId: "cy", event: "Order Shipped", properties: { order_id: "C-300" } });
    const queued = await eventually(async () => {
      const push = (await settled("cy")).find((m) => m.channel === "push")!;
      return push.status === "queued" && push.reason ? push : undefined;
    }, "the throttled push to be queued again");
    expect(queued.reason).toBe("fcm HTTP 429 (QUOTA_EXCEEDED): Quota exceeded.");
    expect(queued.attempts).toBe(1);
    // About 10 s later (with jitter: 7.5 to 12.5 s), by the server's clock.
    const wait1 = Date.parse(queued.nextAttemptAt!) - state.clock.getTime();
    expect(wait1).toBeGreaterThanOrEqual(7_500);
    expect(wait1).toBeLessThanOrEqual(12_500);
    // No phone: the SMS of the same order is skipped for want of an address.
    const sms = (await settled("cy")).find((m) => m.channel === "sms")!;
    expect(sms).toMatchObject({ status: "skipped", reason: "no_address:sms" });

    // Not before its time.
    await new Promise((r) => setTimeout(r, 300));
    expect(fcm.requests).toBe(requests + 1);

    fcm.failNext(500);
    later(wait1);
    const failed = await eventually(async () => {
      const m = await message(queued.id);
      return m.attempts === 2 && m.status === "queued" && m.reason?.includes("500") ? m : undefined;
    }, "the second try to fail with a 500");
    expect(failed.reason).toBe("fcm HTTP 500 (INTERNAL): Internal error encountered.");
    expect(fcm.requests).toBe(requests + 2);
    // The backoff doubles: about 20 s (15 to 25 s).
    const wait2 = Date.parse(failed.nextAttemptAt!) - state.clock.getTime();
    expect(wait2).toBeGreaterThanOrEqual(15_000);
    expect(wait2).toBeLessThanOrEqual(25_000);

    later(wait2);
    const sent = await eventually(async () => {
      const m = await message(queued.id);
      return m.status === "sent" ? m : undefined;
    }, "the third try to send it");
    expect(sent.attempts).toBe(3);
    expect(fcm.requests).toBe(requests + 3);
    expect(fcm.pushes.filter((p) => p.token === tokenOf("cy-phone"))).toHaveLength(1);
    const [row] = await rows([queued.id]);
    expect(row!.provider_message_id).toBe(fcm.pushes.at(-1)!.name);
    expect(await events("Push Delivered", "cy")).toHaveLength(1);
  });
});
