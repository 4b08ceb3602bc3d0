import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consentInputs, decideDelivery } from "../src/messaging/index.ts";
import { drained } from "./support/pipeline.ts";
import { json } from "./support/responses.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ pipeline: true });
  await json(
    server.admin("/api/v1/topics/promotions", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "Promotions", channels: ["email", "sms"], default: "opt_out" }),
    }),
  );
});
afterAll(async () => {
  await server.close();
});

const run = randomUUID().slice(0, 8);
const lin = {
  userId: `lin-${run}`,
  anonymousId: `tablet-${run}`,
  email: `lin.${run}@example.com`,
  phone: "+1 555 010 0199",
  pushToken: `fcm-${run}`,
};

async function subscriptionRows(profileIds: string[]): Promise<number> {
  const { rows } = await server.db.pool.query<{ n: string }>(
    "SELECT count(*) AS n FROM subscriptions WHERE workspace_id = $1 AND profile_id = ANY($2::uuid[])",
    [server.keys.workspaceId, profileIds],
  );
  return Number(rows[0]!.n);
}

async function suppression(channel: string, address: string): Promise<Array<{ reason: string }>> {
  const q = new URLSearchParams({ channel, address });
  return (await json<{ items: Array<{ reason: string }> }>(server.admin(`/api/v1/suppressions?${q}`))).items;
}

describe("a person with subscriptions and a message history asks to be erased", () => {
  let anonymousProfile: string;
  let id: string;

  it("keeps the choices they made before logging in once their profiles merge", async () => {
    await json(
      server.track("/v1/identify", {
        anonymousId: lin.anonymousId,
        traits: { subscriptions: { promotions: { sms: false } } },
      }),
    );
    await drained(server);
    const anonymous = await json<{ items: Array<{ id: string }> }>(
      server.admin(`/api/v1/profiles?anonymousId=${lin.anonymousId}`),
    );
    anonymousProfile = anonymous.items[0]!.id;
    // Logging in: the user's profile exists already, so the tablet's profile merges into it.
    await json(
      server.track("/v1/identify", { userId: lin.userId, traits: { email: lin.email, phone: lin.phone } }),
    );
    await drained(server);
    await json(
      server.track("/v1/identify", {
        userId: lin.userId,
        anonymousId: lin.anonymousId,
        traits: { subscriptions: { promotions: { email: true } } },
      }),
    );
    await drained(server);
    const found = await json<{ items: Array<{ id: string }> }>(
      server.admin(`/api/v1/profiles?userId=${lin.userId}`),
    );
    id = found.items[0]!.id;
    expect(id).not.toBe(anonymousProfile);
    const subs = await json<Array<{ topic: string; channel: string; status: string }>>(
      server.admin(`/api/v1/profiles/${anonymousProfile}/subscriptions`),
    );
    expect(subs.map((s) => `${s.topic}/${s.channel}: ${s.status}`)).toEqual([
      "promotions/email: subscribed",
      "promotions/sms: unsubscribed",
    ]);
    expect(await subscriptionRows([anonymousProfile])).toBe(0);
    // The same choices, the person named by an identifier instead of a profile id.
    const byRef = await json<unknown[]>(
      server.admin(`/api/v1/profiles/anonymous_id:${lin.anonymousId}/subscriptions`),
    );
    expect(byRef).toEqual(subs);
  });

  it("exports their messages, their choices and the suppression entries for their addresses, and erasure removes exactly those", async () => {
    // A push notification sent to them earlier: its address is theirs too.
    const at = new Date();
    await server.db.pool.query(
      `INSERT INTO messages (id, workspace_id, idempotency_key, profile_id, channel, template_key, data, to_address,
         status, next_attempt_at, created_at, sent_at, updated_at)
       VALUES ($1, $2, $3, $4, 'push', 'welcome', '{}', $5, 'sent', $6, $6, $6, $6)`,
      [randomUUID(), server.keys.workspaceId, `test:${run}`, id, lin.pushToken, at],
    );
    // An admin had suppressed their email by hand before.
    await json(
      server.admin("/api/v1/suppressions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ channel: "email", address: lin.email }),
      }),
      201,
    );

    interface Export {
      messages: Array<{ channel: string; to: string; status: string; template: string; profileId: string }>;
      subscriptions: Array<{
        profileId: string;
        topic: string;
        channel: string;
        status: string;
        source: string;
      }>;
      messageSuppressions: Array<{ channel: string; reason: string }>;
      profiles: unknown[];
      identities: unknown[];
      events: unknown[];
    }
    const exported = await json<Export>(server.admin(`/api/v1/profiles/${anonymousProfile}/export`));
    expect(exported.messages).toEqual([
      expect.objectContaining({
        channel: "push",
        to: lin.pushToken,
        status: "sent",
        template: "welcome",
        profileId: id,
      }),
    ]);
    expect(
      exported.subscriptions.map((s) => `${s.topic}/${s.channel}: ${s.status} (${s.source})`).sort(),
    ).toEqual(["promotions/email: subscribed (identify)", "promotions/sms: unsubscribed (identify)"]);
    // Found by the hash of their email in any spelling; the list keeps no address to show.
    expect(exported.messageSuppressions).toEqual([
      expect.objectContaining({ channel: "email", reason: "manual" }),
    ]);
    expect(JSON.stringify(exported.messageSuppressions)).not.toContain(lin.email);

    const erased = await json<{ counts: Record<string, number> }>(
      server.admin(`/api/v1/profiles/${id}`, { method: "DELETE" }),
    );
    // The right of access shows what the right to erasure removes.
    expect(erased.counts).toMatchObject({
      messages: exported.messages.length,
      messageSubscriptions: exported.subscriptions.length,
      profiles: exported.profiles.length,
      identities: exported.identities.length,
      events: exported.events.length,
    });

    expect(await subscriptionRows([id, anonymousProfile])).toBe(0);
    // Any spelling of the address finds the entry: the erasure hashes it as the API does.
    expect(await suppression("email", `  ${lin.email.toUpperCase()} `)).toEqual([
      expect.objectContaining({ reason: "erased" }),
    ]);
    expect(await suppression("sms", "+1 (555) 010-0199")).toEqual([
      expect.objectContaining({ reason: "erased" }),
    ]);
    expect(await suppression("push", lin.pushToken)).toEqual([expect.objectContaining({ reason: "erased" })]);
    const { rows } = await server.db.pool.query<{ address_hash: string }>(
      "SELECT address_hash FROM message_suppressions WHERE workspace_id = $1",
      [server.keys.workspaceId],
    );
    expect(JSON.stringify(rows)).not.toContain(lin.email);
    const log = await server.db.pool.query<{ counts: Record<string, number> }>(
      "SELECT counts FROM erasures WHERE workspace_id = $1",
      [server.keys.workspaceId],
    );
    expect(log.rows[0]!.counts).toMatchObject({ messageSubscriptions: 2, suppressedAddresses: 3 });
  });

  it("never sends them anything again, not even a receipt", async () => {
    const now = new Date();
    for (const [channel, address] of [
      ["email", lin.email],
      ["sms", "+15550100199"],
    ] as const) {
      const decision = decideDelivery({
        ...(await consentInputs(server.db.pool, server.keys.workspaceId, id, channel, address, null, now)),
        channel,
        topic: null,
        transactional: true,
        journey: null,
        priority: 0,
        now,
      });
      expect(decision).toEqual({ action: "skip", reason: "suppressed:erased" });
    }
  });

  it("refuses to take an erased person's address off the list", async () => {
    const q = new URLSearchParams({ channel: "email", address: lin.email });
    const refused = await json<{ error: string; message: string }>(
      server.admin(`/api/v1/suppressions?${q}`, { method: "DELETE" }),
      409,
    );
    expect(refused.message).toBe("the address belongs to an erased person and stays suppressed");
  });
});
