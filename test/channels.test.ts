import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bootstrapWorkspace } from "../src/cli/credentials.ts";
import { EventWriter } from "../src/ingest/index.ts";
import { createFcmChannel, FCM_IDEMPOTENCY_DATA_KEY } from "../src/messaging/channels/fcm.ts";
import {
  ChannelRegistry,
  putChannel,
  webhookSecretOf,
  type ChannelConfig,
} from "../src/messaging/channels/registry.ts";
import {
  SMTP_MAX_CONNECTIONS,
  createSmtpChannel,
  messageIdOf,
  type SmtpConfig,
} from "../src/messaging/channels/smtp.ts";
import { createTwilioChannel } from "../src/messaging/channels/twilio.ts";
import { createWebhookChannel } from "../src/messaging/channels/webhook.ts";
import type { OutgoingMessage } from "../src/messaging/core/channel.ts";
import { createOutboundClient, parseAllowList, type OutboundClient } from "../src/outbound/index.ts";
import { buildApp, createMetrics } from "../src/server/index.ts";
import { WorkspaceResolver, createWorkspace } from "../src/workspaces/index.ts";
import { channelContract } from "./support/channel-contract.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";
import { startFakeFcm, type FakeFcm } from "./support/fake-fcm.ts";
import { startFakeTwilio, type FakeTwilio } from "./support/fake-twilio.ts";
import { startReceiver, type Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { startSmtpServer, type TestSmtpServer } from "./support/smtp.ts";

// Every listener is on 127.0.0.1 (allowed) or 127.0.0.2 (a loopback address off the allow list, to
// prove the outbound guard refuses it without connecting). Nothing leaves the machine.

const SMTP_AUTH = { user: "waymark", pass: "smtp-secret-pass" };
const FROM = "Waymark Tests <news@waymark.test>";
const SMS_FROM = "+15005550006";
const DEVICE = `dXk2bW9jay1kZXZpY2U:APA91b${"x".repeat(120)}`;

let outbound: OutboundClient;
let smtp: TestSmtpServer;
let smtpRefused: TestSmtpServer;
let twilio: FakeTwilio;
let twilioRefused: FakeTwilio;
let fcm: FakeFcm;
let fcmRefused: FakeFcm;
let receiver: Receiver;
let refusedReceiver: Receiver;
const webhookSecret = `whsec_${randomBytes(32).toString("base64")}`;

beforeAll(async () => {
  outbound = createOutboundClient({ allow: parseAllowList("127.0.0.1"), timeoutMs: 2_000 });
  [smtp, smtpRefused, twilio, twilioRefused, fcm, fcmRefused, receiver, refusedReceiver] = await Promise.all([
    startSmtpServer({ auth: SMTP_AUTH }),
    startSmtpServer({ host: "127.0.0.2" }),
    startFakeTwilio(),
    startFakeTwilio({ host: "127.0.0.2" }),
    startFakeFcm(),
    startFakeFcm({ host: "127.0.0.2" }),
    startReceiver("127.0.0.1"),
    startReceiver("127.0.0.2"),
  ]);
});

afterAll(async () => {
  await outbound?.close();
  await Promise.all(
    [smtp, smtpRefused, twilio, twilioRefused, fcm, fcmRefused, receiver, refusedReceiver].map((s) =>
      s?.close(),
    ),
  );
});

const smtpConfig = () =>
  ({
    provider: "smtp",
    host: smtp.host,
    port: smtp.port,
    secure: false,
    auth: SMTP_AUTH,
    from: FROM,
  }) as const;

/** An sms channel's config for a fake Twilio (the allowed one unless named). */
const twilioConfig = (fake = twilio) =>
  ({
    provider: "twilio",
    accountSid: fake.accountSid,
    authToken: fake.authToken,
    from: SMS_FROM,
    baseUrl: fake.url,
  }) as const;

/** A push channel's config for a fake FCM (the allowed one unless named). */
const fcmConfig = (fake = fcm) =>
  ({ provider: "fcm", projectId: fake.projectId, accessToken: fake.accessToken, baseUrl: fake.url }) as const;

channelContract("smtp (a real smtp-server)", () => ({
  kind: "email",
  provider: "smtp",
  open: () =>
    createSmtpChannel(smtpConfig(), {
      outbound,
      maxConnections: 2,
      timeouts: { connectionMs: 2_000, greetingMs: 2_000, socketMs: 5_000 },
    }),
  message: (idempotencyKey, n): OutgoingMessage => ({
    id: `message-${n}`,
    idempotencyKey,
    channel: "email",
    to: "ada@example.test",
    subject: `Still thinking about it, Ada? (${n})`,
    html: `<p>Your cart misses you: <b>${n}</b> item(s).</p>`,
    text: `Your cart misses you: ${n} item(s).`,
    headers: { "List-Unsubscribe": `<https://waymark.test/u/${n}>` },
  }),
  contentOf: (m) => ({
    from: { name: "Waymark Tests", address: "news@waymark.test" },
    to: [m.to],
    subject: m.subject,
    html: m.html,
    text: m.text,
    listUnsubscribe: m.headers?.["List-Unsubscribe"],
  }),
  carriedKey: messageIdOf,
  deliveries: () =>
    smtp.mails.map((mail) => ({
      key: mail.messageId ?? "",
      content: {
        from: mail.from,
        to: mail.to,
        subject: mail.subject,
        html: mail.html,
        text: mail.text?.trimEnd(),
        listUnsubscribe: mail.headers["list-unsubscribe"],
      },
    })),
  reset: () => {
    smtp.mails.length = 0;
    smtp.reject("gone@example.test", undefined);
    smtp.reject("busy@example.test", undefined);
  },
  permanentFailure: (key) => {
    smtp.reject("gone@example.test", 550);
    return {
      message: {
        id: "m-gone",
        idempotencyKey: key,
        channel: "email",
        to: "gone@example.test",
        subject: "x",
        text: "x",
      },
      bounce: true,
    };
  },
  temporaryFailure: (key) => {
    smtp.reject("busy@example.test", 451);
    return {
      id: "m-busy",
      idempotencyKey: key,
      channel: "email",
      to: "busy@example.test",
      subject: "x",
      text: "x",
    };
  },
  refused: {
    open: () =>
      createSmtpChannel(
        { ...smtpConfig(), host: smtpRefused.host, port: smtpRefused.port, auth: undefined },
        { outbound },
      ),
    message: (key) => ({
      id: "m-refused",
      idempotencyKey: key,
      channel: "email",
      to: "ada@example.test",
      text: "x",
    }),
    connections: () => smtpRefused.connections,
  },
}));

const smsMessage = (idempotencyKey: string, n: number, to = "+14155550100"): OutgoingMessage => ({
  id: `sms-${n}`,
  idempotencyKey,
  channel: "sms",
  to,
  body: `Your order #${n} has shipped.`,
});

channelContract("twilio (a fake Twilio Messages API)", () => ({
  kind: "sms",
  provider: "twilio",
  open: () => createTwilioChannel(twilioConfig(), { outbound }),
  message: (key, n) => smsMessage(key, n),
  contentOf: (m) => ({ to: m.to, from: SMS_FROM, body: m.body }),
  deliveries: () =>
    twilio.messages.map((m) => ({
      key: m.idempotencyKey ?? "",
      content: { to: m.to, from: m.from, body: m.body },
    })),
  reset: () => twilio.reset(),
  // Twilio's magic test number for "not a valid phone number" (21211).
  permanentFailure: (key) => ({ message: smsMessage(key, 0, "+15005550001"), bounce: true }),
  temporaryFailure: (key) => {
    twilio.failNext(429);
    return smsMessage(key, 0);
  },
  refused: {
    open: () => createTwilioChannel(twilioConfig(twilioRefused), { outbound }),
    message: (key) => smsMessage(key, 0),
    connections: () => twilioRefused.connections,
  },
}));

const pushMessage = (idempotencyKey: string, n: number, to = DEVICE): OutgoingMessage => ({
  id: `push-${n}`,
  idempotencyKey,
  channel: "push",
  to,
  title: "Back in stock",
  body: `The blue kettle is back (${n})`,
  data: { productId: `kettle-${n}`, quantity: n, deepLink: "app://products/kettle" },
});

/** The push channel authenticated with the fake's access token, or with its service account's key. */
const fcmAuth = {
  "an access token": (fake: FakeFcm) => ({ accessToken: fake.accessToken }),
  "a service account's key": (fake: FakeFcm) => ({ serviceAccount: fake.serviceAccount }),
};

for (const [auth, credentials] of Object.entries(fcmAuth))
  channelContract(`fcm with ${auth} (a fake FCM HTTP v1 API and token endpoint)`, () => ({
    kind: "push",
    provider: "fcm",
    open: () =>
      createFcmChannel({ ...fcmConfig(), accessToken: undefined, ...credentials(fcm) }, { outbound }),
    message: (key, n) => pushMessage(key, n),
    // Data values travel as strings: a number as its JSON.
    contentOf: (m) => ({
      token: m.to,
      notification: { title: m.title, body: m.body },
      data: Object.fromEntries(
        Object.entries(m.data ?? {}).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
      ),
    }),
    deliveries: () =>
      fcm.pushes.map((p) => {
        const { [FCM_IDEMPOTENCY_DATA_KEY]: key, ...data } = p.data ?? {};
        return { key: key ?? "", content: { token: p.token, notification: p.notification, data } };
      }),
    reset: () => fcm.reset(),
    permanentFailure: (key) => {
      const uninstalled = `${DEVICE}-uninstalled`;
      fcm.unregister(uninstalled);
      return { message: pushMessage(key, 0, uninstalled), bounce: true };
    },
    temporaryFailure: (key) => {
      fcm.failNext(503);
      return pushMessage(key, 0);
    },
    refused: {
      open: () =>
        createFcmChannel(
          { ...fcmConfig(fcmRefused), accessToken: undefined, ...credentials(fcmRefused) },
          { outbound },
        ),
      message: (key) => pushMessage(key, 0),
      connections: () => fcmRefused.connections,
    },
  }));

const hookMessage = (idempotencyKey: string, n: number, base = receiver.url): OutgoingMessage => ({
  id: `hook-${n}`,
  idempotencyKey,
  channel: "webhook",
  to: `${base}/hooks/waymark?n=${n}`,
  data: { event: "Cart Abandoned", n, items: [{ sku: "kettle-blue", qty: 1 }], note: "naïve ☕" },
  headers: { "X-Tenant": "acme" },
});

channelContract("webhook (a real receiver, Standard Webhooks signatures verified)", () => ({
  kind: "webhook",
  provider: "webhook",
  open: () => createWebhookChannel({ secret: webhookSecret, outbound }),
  message: (key, n) => hookMessage(key, n),
  contentOf: (m) => ({ path: new URL(m.to).pathname + new URL(m.to).search, body: m.data, tenant: "acme" }),
  deliveries: () =>
    receiver.received.map((r) => {
      // Throws when the signature does not verify with the workspace secret (or is stale).
      const body = new Webhook(webhookSecret).verify(
        JSON.stringify(r.body),
        r.headers as Record<string, string>,
      );
      return {
        key: String(r.headers["webhook-id"]),
        content: { path: r.path, body, tenant: r.headers["x-tenant"] },
      };
    }),
  reset: () => {
    receiver.received.length = 0;
    receiver.respond(200);
  },
  permanentFailure: (key) => {
    receiver.respond(410, { error: "gone" });
    return { message: hookMessage(key, 0), bounce: true };
  },
  temporaryFailure: (key) => {
    receiver.respond(503, { error: "busy" });
    return hookMessage(key, 0);
  },
  refused: {
    open: () => createWebhookChannel({ secret: webhookSecret, outbound }),
    message: (key) => hookMessage(key, 0, refusedReceiver.url),
    connections: () => refusedReceiver.connections,
  },
}));

describe("email over SMTP, beyond the contract", () => {
  it("writes each idempotency key as its own valid Message-ID, however odd its characters", () => {
    expect(messageIdOf("cart-42")).toBe("<cart-42@waymark>");
    expect(messageIdOf("j:cart/step.1 ü=")).toBe("<j=3Acart/step=2E1=20=C3=BC=3D@waymark>");
    // One-to-one: keys that a lossy cleanup would merge stay apart.
    expect(messageIdOf("a b")).not.toBe(messageIdOf("a_b"));
    expect(messageIdOf("a=20b")).not.toBe(messageIdOf("a b"));
    expect(messageIdOf("x".repeat(500))).toMatch(/^<sha256-[0-9a-f]{64}@waymark>$/);
  });

  /** Sends `count` mails at once through a new channel; the connections it opened to the server. */
  const sendAtOnce = async (
    count: number,
    config: SmtpConfig,
    options: Omit<Parameters<typeof createSmtpChannel>[1], "outbound"> = {},
  ): Promise<number> => {
    const before = smtp.connections;
    const channel = createSmtpChannel(config, { ...options, outbound });
    try {
      const results = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          channel.send({
            id: `p${i}`,
            idempotencyKey: `pool-${count}-${i}`,
            channel: "email",
            to: "ada@example.test",
            subject: "s",
            text: "t",
          }),
        ),
      );
      expect(results.every((r) => r.ok)).toBe(true);
      return smtp.connections - before;
    } finally {
      await channel.close();
    }
  };

  it("sends many messages over a few pooled connections", async () => {
    smtp.mails.length = 0;
    expect(await sendAtOnce(10, smtpConfig(), { maxConnections: 2 })).toBeLessThanOrEqual(2);
    expect(smtp.mails).toHaveLength(10);
  });

  it("opens as many connections as the config's maxConnections, 16 when it says nothing", async () => {
    const opened = (config: SmtpConfig) => sendAtOnce(40, config);
    expect(await opened(smtpConfig())).toBe(SMTP_MAX_CONNECTIONS);
    expect(SMTP_MAX_CONNECTIONS).toBe(16);
    expect(await opened({ ...smtpConfig(), maxConnections: 3 })).toBe(3);
  });

  it("fails for good, without a bounce, when the server refuses the login (535)", async () => {
    const channel = createSmtpChannel(
      { ...smtpConfig(), auth: { user: SMTP_AUTH.user, pass: "wrong" } },
      { outbound },
    );
    try {
      const result = await channel.send({
        id: "a",
        idempotencyKey: "auth-1",
        channel: "email",
        to: "ada@example.test",
        text: "t",
      });
      expect(result).toMatchObject({ ok: false, permanent: true, reason: expect.stringContaining("535") });
      expect(!result.ok && result.bounce).toBeFalsy();
    } finally {
      await channel.close();
    }
  });

  it("is retryable when no SMTP server listens", async () => {
    const gone = await startSmtpServer();
    const port = gone.port;
    await gone.close();
    const channel = createSmtpChannel({ ...smtpConfig(), port, auth: undefined }, { outbound });
    try {
      const result = await channel.send({
        id: "a",
        idempotencyKey: "down-1",
        channel: "email",
        to: "ada@example.test",
        text: "t",
      });
      expect(result).toMatchObject({
        ok: false,
        permanent: false,
        reason: expect.stringContaining("ECONNREFUSED"),
      });
    } finally {
      await channel.close();
    }
  });
});

describe("SMS through Twilio, beyond the contract", () => {
  const channel = () => createTwilioChannel(twilioConfig(), { outbound });

  it("answers with Twilio's message SID, and sends the body form-encoded as written", async () => {
    twilio.reset();
    const body = "Ünïcode & symbols: 50% off + free shipping = ☕";
    const result = await channel().send({ ...smsMessage("sid-1", 1), body });
    expect(result).toEqual({ ok: true, providerMessageId: twilio.messages[0]!.sid });
    expect(twilio.messages[0]).toMatchObject({ body, from: SMS_FROM, to: "+14155550100" });
  });

  it("bounces a number that is not a mobile number (21614)", async () => {
    const result = await channel().send(smsMessage("landline-1", 1, "+15005550009"));
    expect(result).toMatchObject({
      ok: false,
      permanent: true,
      bounce: true,
      reason: expect.stringContaining("21614"),
    });
  });

  it("fails for good, without a bounce, on a wrong auth token (401, 20003)", async () => {
    const wrong = createTwilioChannel({ ...twilioConfig(), authToken: "wrong" }, { outbound });
    const result = await wrong.send(smsMessage("auth-1", 1));
    expect(result).toMatchObject({
      ok: false,
      permanent: true,
      reason: "twilio HTTP 401 (20003): Authenticate",
    });
    expect(!result.ok && result.bounce).toBeFalsy();
  });

  it("is retryable on Twilio's 500", async () => {
    twilio.failNext(500);
    expect(await channel().send(smsMessage("t500-1", 1))).toMatchObject({ ok: false, permanent: false });
  });
});

describe("push through FCM, beyond the contract", () => {
  const channel = (accessToken = fcm.accessToken) =>
    createFcmChannel({ ...fcmConfig(), accessToken }, { outbound });

  it("answers with FCM's message name", async () => {
    fcm.reset();
    const result = await channel().send(pushMessage("name-1", 1));
    expect(result).toEqual({ ok: true, providerMessageId: fcm.pushes[0]!.name });
    expect(fcm.pushes[0]!.name).toMatch(new RegExp(`^projects/${fcm.projectId}/messages/`));
  });

  it("sends a data-only push (no title, no body) without a notification", async () => {
    fcm.reset();
    const { title: _title, body: _body, ...silent } = pushMessage("silent-1", 1);
    expect(await channel().send(silent)).toMatchObject({ ok: true });
    expect(fcm.pushes[0]!.notification).toBeUndefined();
    expect(fcm.pushes[0]!.data).toMatchObject({
      productId: "kettle-1",
      [FCM_IDEMPOTENCY_DATA_KEY]: "silent-1",
    });
  });

  it("bounces a malformed device token (400 INVALID_ARGUMENT on message.token)", async () => {
    const result = await channel().send(pushMessage("bad-token-1", 1, "not-a-token"));
    expect(result).toMatchObject({
      ok: false,
      permanent: true,
      bounce: true,
      reason: expect.stringContaining("INVALID_ARGUMENT"),
    });
  });

  it("keeps the message (retryable) when the access token is refused: it expires and gets replaced", async () => {
    const result = await channel("ya29.expired").send(pushMessage("expired-1", 1));
    expect(result).toMatchObject({
      ok: false,
      permanent: false,
      reason: expect.stringContaining("fcm HTTP 401"),
    });
  });

  it("is retryable on quota exhaustion (429)", async () => {
    fcm.failNext(429);
    expect(await channel().send(pushMessage("quota-1", 1))).toMatchObject({
      ok: false,
      permanent: false,
      reason: expect.stringContaining("QUOTA_EXCEEDED"),
    });
  });
});

describe("push through FCM with a service account's key", () => {
  const withKey = (serviceAccount: FakeFcm["serviceAccount"] = fcm.serviceAccount) =>
    createFcmChannel(
      { provider: "fcm", serviceAccount, baseUrl: fcm.url } as Parameters<typeof createFcmChannel>[0],
      { outbound },
    );

  it("takes the project from the key, gets one access token, and uses it for every push until it lapses", async () => {
    fcm.reset();
    const channel = withKey();
    const before = fcm.tokensIssued;
    const results = await Promise.all([1, 2, 3].map((n) => channel.send(pushMessage(`sa-${n}`, n))));
    expect(results.map((r) => r.ok)).toEqual([true, true, true]);
    expect(fcm.pushes.map((p) => p.name)).toEqual(
      results.map((r) => (r.ok ? r.providerMessageId : undefined)),
    );
    // Three sends at once share one exchange.
    expect(fcm.tokensIssued - before).toBe(1);
  });

  it("after FCM refuses the token (401), keeps the message and gets a new token for the next send", async () => {
    fcm.reset();
    const channel = withKey();
    expect(await channel.send(pushMessage("lapse-1", 1))).toMatchObject({ ok: true });
    const before = fcm.tokensIssued;
    fcm.expireIssuedTokens();
    expect(await channel.send(pushMessage("lapse-2", 2))).toMatchObject({
      ok: false,
      permanent: false,
      reason: expect.stringContaining("fcm HTTP 401"),
    });
    expect(await channel.send(pushMessage("lapse-2", 2))).toMatchObject({ ok: true });
    expect(fcm.tokensIssued - before).toBe(1);
    expect(fcm.pushes.map((p) => p.data?.[FCM_IDEMPOTENCY_DATA_KEY])).toEqual(["lapse-1", "lapse-2"]);
  });

  it("keeps the message, naming Google's answer, when the key is not the account's (invalid_grant)", async () => {
    fcm.reset();
    const other = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    const channel = withKey({
      ...fcm.serviceAccount,
      private_key: other.export({ type: "pkcs8", format: "pem" }).toString(),
    });
    expect(await channel.send(pushMessage("wrong-key-1", 1))).toEqual({
      ok: false,
      permanent: false,
      reason: "fcm token: HTTP 400 (invalid_grant): Invalid JWT Signature.",
    });
    expect(fcm.pushes).toEqual([]);
  });
});

describe("webhooks, beyond the contract", () => {
  const channel = () => createWebhookChannel({ secret: webhookSecret, outbound });

  it("fails for good, without a bounce, on a 422; retries a 500", async () => {
    receiver.respond(422, { error: "unknown event" });
    const refused = await channel().send(hookMessage("h422", 1));
    expect(refused).toMatchObject({
      ok: false,
      permanent: true,
      reason: expect.stringContaining("webhook HTTP 422"),
    });
    expect(!refused.ok && refused.bounce).toBeFalsy();
    receiver.respond(500);
    expect(await channel().send(hookMessage("h500", 1))).toMatchObject({ ok: false, permanent: false });
    receiver.respond(200);
  });

  it("keeps its own signature headers over a message's headers of the same names", async () => {
    receiver.received.length = 0;
    const message = hookMessage("own-headers", 1);
    message.headers = { "Webhook-Id": "forged", "webhook-signature": "v1,forged", "X-Tenant": "acme" };
    expect(await channel().send(message)).toMatchObject({ ok: true });
    const [seen] = receiver.received;
    expect(seen!.headers["webhook-id"]).toBe("own-headers");
    expect(() =>
      new Webhook(webhookSecret).verify(JSON.stringify(seen!.body), seen!.headers as Record<string, string>),
    ).not.toThrow();
  });

  it("is retryable when the receiver does not answer in time", async () => {
    const slow = createOutboundClient({ allow: parseAllowList("127.0.0.1"), timeoutMs: 200 });
    const silent = await import("node:http").then(({ createServer }) => createServer(() => {}));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = silent.address() as { port: number };
      const result = await createWebhookChannel({ secret: webhookSecret, outbound: slow }).send(
        hookMessage("slow-1", 1, `http://127.0.0.1:${port}`),
      );
      expect(result).toMatchObject({
        ok: false,
        permanent: false,
        reason: expect.stringContaining("timeout"),
      });
    } finally {
      await slow.close();
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});

describe("the channel registry", () => {
  let db: TestDatabase;
  let workspaceId: string;
  let registry: ChannelRegistry;
  const send = (key: string): OutgoingMessage => ({
    id: key,
    idempotencyKey: key,
    channel: "email",
    to: "ada@example.test",
    subject: "s",
    text: "t",
  });

  beforeAll(async () => {
    db = await createTestDatabase();
    workspaceId = (await createWorkspace(db.pool, "registry")).workspaceId;
    registry = new ChannelRegistry(db.pool, { outbound, recheckMs: 60_000 });
  });

  afterAll(async () => {
    await registry?.close();
    await db?.drop();
  });

  it("has no email channel before one is configured, and always a webhook channel signed with the workspace secret", async () => {
    expect(await registry.get(workspaceId, "email")).toBeUndefined();
    const hook = await registry.get(workspaceId, "webhook");
    expect(hook).toMatchObject({ kind: "webhook", provider: "webhook" });
    receiver.received.length = 0;
    receiver.respond(200);
    expect(await hook!.send(hookMessage("registry-hook", 1))).toEqual({ ok: true });
    const [seen] = receiver.received;
    const secret = await webhookSecretOf(db.pool, workspaceId);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(
      new Webhook(secret).verify(JSON.stringify(seen!.body), seen!.headers as Record<string, string>),
    ).toEqual(seen!.body);
  });

  it("builds a configured channel once, and after an invalidate builds it anew and closes the old one", async () => {
    await putChannel(db.pool, workspaceId, "email", smtpConfig());
    registry.invalidate(workspaceId, "email");
    const first = await registry.get(workspaceId, "email");
    expect(first).toMatchObject({ kind: "email", provider: "smtp" });
    expect(await registry.get(workspaceId, "email")).toBe(first);

    await putChannel(db.pool, workspaceId, "email", { ...smtpConfig(), from: "Other <other@waymark.test>" });
    registry.invalidate(workspaceId, "email");
    const second = await registry.get(workspaceId, "email");
    expect(second).not.toBe(first);
    smtp.mails.length = 0;
    expect(await second!.send(send("registry-new"))).toMatchObject({ ok: true });
    expect(smtp.mails[0]!.from).toEqual({ name: "Other", address: "other@waymark.test" });
    await new Promise((r) => setTimeout(r, 50));
    expect(await first!.send(send("registry-old"))).toMatchObject({ ok: false, permanent: false });
  });

  it("notices another process's change after recheckMs, without an invalidate", async () => {
    const quick = new ChannelRegistry(db.pool, { outbound, recheckMs: 50 });
    try {
      const config = twilioConfig();
      await putChannel(db.pool, workspaceId, "sms", config);
      const first = await quick.get(workspaceId, "sms");
      expect(await quick.get(workspaceId, "sms")).toBe(first);
      await new Promise((r) => setTimeout(r, 80));
      expect(await quick.get(workspaceId, "sms")).toBe(first);
      await putChannel(db.pool, workspaceId, "sms", { ...config, from: "+15005550007" });
      await new Promise((r) => setTimeout(r, 80));
      const second = await quick.get(workspaceId, "sms");
      expect(second).not.toBe(first);
      twilio.reset();
      expect(await second!.send(smsMessage("recheck-1", 1))).toMatchObject({ ok: true });
      expect(twilio.messages[0]!.from).toBe("+15005550007");
    } finally {
      await quick.close();
    }
  });

  it("closes its channels on close", async () => {
    const own = new ChannelRegistry(db.pool, { outbound });
    const email = await own.get(workspaceId, "email");
    await own.close();
    expect(await email!.send(send("after-registry-close"))).toMatchObject({ ok: false, permanent: false });
    await expect(own.get(workspaceId, "email")).rejects.toThrow("closed");
  });
});

describe("the channels API", () => {
  let server: TestServer;
  const put = (channel: string, body: unknown) =>
    server.admin(`/api/v1/channels/${channel}`, {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    server = await startTestServer();
  });

  afterAll(async () => {
    await server?.close();
  });

  it("refuses every channel route without the admin token", async () => {
    for (const [method, route] of [
      ["GET", "/api/v1/channels"],
      ["GET", "/api/v1/channels/email"],
      ["PUT", "/api/v1/channels/email"],
    ] as const) {
      const res = await fetch(server.url + route, { method });
      expect(res.status).toBe(401);
    }
  });

  it("stores an SMTP channel and shows it with the password redacted", async () => {
    const res = await put("email", smtpConfig());
    expect(res.status).toBe(200);
    const expected = {
      channel: "email",
      provider: "smtp",
      config: { ...smtpConfig(), auth: { user: SMTP_AUTH.user, pass: "***" } },
      updatedAt: expect.any(String),
    };
    expect(await res.json()).toEqual(expected);
    expect(await (await server.admin("/api/v1/channels/email")).json()).toEqual(expected);
    const text = await (await server.admin("/api/v1/channels")).text();
    expect(text).not.toContain(SMTP_AUTH.pass);
    expect(JSON.parse(text)).toEqual({
      items: [
        expected,
        { channel: "webhook", provider: "webhook", config: { provider: "webhook" }, updatedAt: null },
      ],
    });
  });

  it("keeps the stored secret when a config read back (with ***) is PUT again", async () => {
    const shown = (await (await server.admin("/api/v1/channels/email")).json()) as { config: ChannelConfig };
    const res = await put("email", { ...shown.config, from: "Renamed <news@waymark.test>" });
    expect(res.status).toBe(200);
    // The real password is still there: the channel can log in.
    const registry = new ChannelRegistry(server.db.pool, { outbound });
    try {
      const workspace = server.keys.workspaceId;
      const email = await registry.get(workspace, "email");
      expect(
        await email!.send({
          id: "k",
          idempotencyKey: "kept-secret",
          channel: "email",
          to: "ada@example.test",
          text: "t",
        }),
      ).toMatchObject({ ok: true });
    } finally {
      await registry.close();
    }
  });

  it("refuses *** for a secret that was never stored", async () => {
    const res = await put("sms", {
      provider: "twilio",
      accountSid: twilio.accountSid,
      authToken: "***",
      from: SMS_FROM,
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      error: "validation_error",
      message:
        'authToken: "***" keeps the stored secret, but this sms channel has none stored for twilio; send the secret itself',
    });
  });

  it("answers 400 naming the field that is wrong", async () => {
    const { private_key: _key, ...keyless } = fcm.serviceAccount;
    const cases: Array<[string, unknown, RegExp]> = [
      [
        "push",
        { provider: "fcm", projectId: "p" },
        /^body\.serviceAccount: give exactly one of serviceAccount \(a service account's key file\) or accessToken$/,
      ],
      [
        "push",
        { provider: "fcm", accessToken: "t", serviceAccount: fcm.serviceAccount },
        /^body\.serviceAccount: give exactly one of/,
      ],
      [
        "push",
        { provider: "fcm", accessToken: "t" },
        /^body\.projectId: required \(a service account's key file carries it as project_id\)$/,
      ],
      ["push", { provider: "fcm", serviceAccount: keyless }, /^body\.serviceAccount\.private_key: /],
      [
        "push",
        {
          provider: "fcm",
          serviceAccount: { ...fcm.serviceAccount, private_key: "-----BEGIN PRIVATE KEY-----\nnope" },
        },
        /^body\.serviceAccount\.private_key: an RSA private key in PEM/,
      ],
      ["email", { provider: "smtp", port: 587, secure: false, from: "a@b.test" }, /^body\.host: /],
      ["email", { ...smtpConfig(), port: 70000 }, /^body\.port: /],
      ["email", { ...smtpConfig(), maxConnections: 0 }, /^body\.maxConnections: /],
      ["email", { ...smtpConfig(), sercure: true }, /^body: Unrecognized key: "sercure"/],
      [
        "sms",
        { provider: "twilio", accountSid: "nope", authToken: "t", from: SMS_FROM },
        /^body\.accountSid: a Twilio account SID/,
      ],
      ["push", { provider: "fcm", projectId: "p", accessToken: "t", baseUrl: "ftp://x" }, /^body\.baseUrl: /],
      [
        "email",
        { provider: "sendgrid" },
        /^body\.provider: provider must be smtp \(email\), twilio \(sms\), fcm \(push\) or webhook/,
      ],
      ["sms", smtpConfig(), /^provider: the sms channel takes twilio, not smtp$/],
      ["fax", smtpConfig(), /^params\.channel: channel must be one of email, sms, push, webhook$/],
    ];
    for (const [channel, body, message] of cases) {
      const res = await put(channel, body);
      expect(res.status, `${channel} ${JSON.stringify(body)}`).toBe(400);
      const answer = (await res.json()) as { error: string; message: string };
      expect(answer.error).toBe("validation_error");
      expect(answer.message).toMatch(message);
    }
  });

  it("answers 404 with what to do for a channel that is not configured", async () => {
    const res = await server.admin("/api/v1/channels/push");
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({
      error: "not_found",
      message: 'the push channel is not configured; PUT /api/v1/channels/push with {"provider": "fcm", ...}',
    });
  });

  it("stores a push channel from a service account's key file: the private key redacted, kept on a PUT of ***, and used", async () => {
    const keyFile = fcm.serviceAccount;
    const res = await put("push", { provider: "fcm", serviceAccount: keyFile, baseUrl: fcm.url });
    expect(res.status, await res.clone().text()).toBe(200);
    const shown = (await res.json()) as { config: ChannelConfig };
    // Only what the token exchange needs is kept from the key file; the key is shown as ***.
    expect(shown.config).toEqual({
      provider: "fcm",
      serviceAccount: {
        type: "service_account",
        project_id: keyFile.project_id,
        client_email: keyFile.client_email,
        private_key: "***",
        token_uri: keyFile.token_uri,
      },
      baseUrl: fcm.url,
    });
    const listed = await (await server.admin("/api/v1/channels")).text();
    expect(listed).not.toContain("PRIVATE KEY");
    expect((await put("push", { ...shown.config, maxPerSecond: 500 })).status).toBe(200);
    fcm.reset();
    const registry = new ChannelRegistry(server.db.pool, { outbound });
    try {
      const push = await registry.get(server.keys.workspaceId, "push");
      expect(await push!.send(pushMessage("api-sa-1", 1))).toMatchObject({ ok: true });
      expect(fcm.pushes).toHaveLength(1);
    } finally {
      await registry.close();
    }
  });

  it("shows the workspace with its write key and its whsec_ webhook secret", async () => {
    const res = await server.admin("/api/v1/workspace");
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      id: server.keys.workspaceId,
      name: "test",
      writeKey: server.keys.writeKey,
      webhookSecret: await webhookSecretOf(server.db.pool, server.keys.workspaceId),
      createdAt: expect.any(String),
    });
  });

  it("makes the registry it is given drop the cached channel on PUT", async () => {
    const registry = new ChannelRegistry(server.db.pool, { outbound, recheckMs: 60_000 });
    const writer = new EventWriter(server.db.pool);
    const app = await buildApp({
      pool: server.db.pool,
      writer,
      workspaces: new WorkspaceResolver(server.db.pool),
      metrics: createMetrics(),
      role: "api",
      channels: registry,
    });
    try {
      const workspace = server.keys.workspaceId;
      const before = await registry.get(workspace, "email");
      const res = await app.inject({
        method: "PUT",
        url: "/api/v1/channels/email",
        headers: { authorization: `Bearer ${server.keys.adminToken}` },
        payload: smtpConfig(),
      });
      expect(res.statusCode).toBe(200);
      const after = await registry.get(workspace, "email");
      expect(after).toMatchObject({ kind: "email" });
      expect(after).not.toBe(before);
    } finally {
      await app.close();
      await writer.close();
      await registry.close();
    }
  });
});

describe("credentials.json at first start", () => {
  let db: TestDatabase;
  let dataDir: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), "waymark-credentials-"));
  });

  afterAll(async () => {
    await db?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("holds the new workspace's webhook secret beside its keys", async () => {
    const keys = await bootstrapWorkspace(db.pool, dataDir, "http://127.0.0.1:3000");
    expect(keys).not.toBeNull();
    const credentials = JSON.parse(await readFile(path.join(dataDir, "credentials.json"), "utf8")) as Record<
      string,
      string
    >;
    expect(credentials).toEqual({
      workspaceId: keys!.workspaceId,
      writeKey: keys!.writeKey,
      adminToken: keys!.adminToken,
      apiUrl: "http://127.0.0.1:3000",
      webhookSecret: await webhookSecretOf(db.pool, keys!.workspaceId),
    });
  });

  it("adds the secret on a later start to a file written before there was one, keeping its other fields", async () => {
    const file = path.join(dataDir, "credentials.json");
    const { webhookSecret: secret, ...older } = JSON.parse(await readFile(file, "utf8")) as Record<
      string,
      string
    >;
    await writeFile(file, JSON.stringify({ ...older, note: "kept" }));
    expect(await bootstrapWorkspace(db.pool, dataDir, "http://127.0.0.1:3000")).toBeNull();
    expect(JSON.parse(await readFile(file, "utf8"))).toEqual({
      ...older,
      note: "kept",
      webhookSecret: secret,
    });
  });
});
