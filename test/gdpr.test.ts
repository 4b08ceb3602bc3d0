import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Pool } from "../src/db/index.ts";
import { eventually } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { cleanUpProcesses, runCli } from "./support/process.ts";
import { startReceiver, type Receiver } from "./support/receiver.ts";
import { json } from "./support/responses.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ pipeline: true });
});
afterAll(async () => {
  await cleanUpProcesses();
  await server.close();
});

/** Identifier values unique to this run, so a scan that finds one found this person. */
const run = randomUUID().slice(0, 8);
const ada = {
  userId: `ada-${run}`,
  anonymousId: `laptop-${run}`,
  phone: `phone-${run}`,
  tablet: `tablet-${run}`,
  ip: "203.0.113.77",
  userAgent: `Mozilla/5.0 (Ada's laptop ${run}) Firefox/128.0`,
  email: `ada.lovelace.${run}@example.com`,
  name: `Ada Lovelace ${run}`,
};
const bob = { userId: `bob-${run}`, email: `bob.${run}@example.com` };

interface Profile {
  id: string;
  traits: Record<string, unknown>;
  identities: Array<{ type: string; value: string }>;
  mergedFrom: Array<{ id: string; cause: string }>;
}

async function profileOf(query: string): Promise<Profile | undefined> {
  return (await json<{ items: Profile[] }>(server.admin(`/api/v1/profiles?${query}`))).items[0];
}

/**
 * Every column of every table in the public schema (partitions included) that can hold text, cast to
 * text (bytea through its escape encoding) and searched case-insensitively for each needle. Returns
 * `table.column: needle` for every hit.
 */
async function findAnywhere(pool: Pool, needles: string[]): Promise<string[]> {
  const { rows: columns } = await pool.query<{ table_name: string; column_name: string; data_type: string }>(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = 'public'
       AND data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'bytea', 'uuid', 'ARRAY')
     ORDER BY table_name, column_name`,
  );
  expect(columns.map((c) => c.table_name)).toEqual(
    expect.arrayContaining(["events", "rejected_events", "profiles", "identities", "erasures"]),
  );
  const hits: string[] = [];
  for (const c of columns) {
    const col = `t."${c.column_name}"`;
    const text = c.data_type === "bytea" ? `encode(${col}, 'escape')` : `${col}::text`;
    const { rows } = await pool.query<{ needle: string }>(
      `SELECT DISTINCT n.needle FROM public."${c.table_name}" t, unnest($1::text[]) AS n(needle)
       WHERE position(lower(n.needle) IN lower(${text})) > 0`,
      [needles],
    );
    for (const r of rows) hits.push(`${c.table_name}.${c.column_name}: ${r.needle}`);
  }
  return hits;
}

describe("a person browses, logs in on two devices, and then asks for their data and its erasure", () => {
  let adaId: string;
  let phoneProfileId: string;
  let tabletProfileId: string;
  let eveId: string;

  beforeAll(async () => {
    const stitching = await server.admin("/api/v1/identity/rules", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ stitching: { enabled: true, windowMinutes: 30 } }),
    });
    expect(stitching.status).toBe(200);
    const device = { ip: ada.ip, userAgent: ada.userAgent };
    await server.track("/v1/page", { anonymousId: ada.anonymousId, name: "Home", context: device });
    await server.track("/v1/track", {
      anonymousId: ada.anonymousId,
      event: "Product Viewed",
      context: device,
    });
    // A second visitor on the same device: a stitching suggestion, which the operator confirms.
    await server.track("/v1/page", { anonymousId: ada.tablet, name: "Pricing", context: device });
    await server.track("/v1/identify", {
      anonymousId: ada.anonymousId,
      userId: ada.userId,
      traits: { email: ada.email, name: ada.name },
    });
    await server.track("/v1/track", { anonymousId: ada.phone, event: "App Opened" });
    await drained(server);
    phoneProfileId = (await profileOf(`anonymousId=${ada.phone}`))!.id;
    tabletProfileId = (await profileOf(`anonymousId=${ada.tablet}`))!.id;
    const suggested = await json<{ items: Array<{ id: number; otherProfileId: string }> }>(
      server.admin("/api/v1/identity/suggestions?status=suggested"),
    );
    expect(suggested.items).toEqual([expect.objectContaining({ otherProfileId: tabletProfileId })]);
    await json(
      server.admin(`/api/v1/identity/suggestions/${suggested.items[0]!.id}/confirm`, { method: "POST" }),
    );
    // The phone logs in: its profile merges into Ada's.
    await server.track("/v1/identify", { userId: ada.userId, anonymousId: ada.phone });
    // A blocked value (a decision about Ada), and another user on Ada's laptop (a refused merge).
    await server.track("/v1/identify", { userId: ada.userId, anonymousId: "anonymous" });
    await server.track("/v1/identify", { userId: `eve-${run}`, anonymousId: ada.anonymousId });
    // A message the API refuses, mentioning Ada's email (in another case).
    const refused = await json<{ rejected: number }>(
      server.track("/v1/batch", {
        batch: [{ type: "identify", traits: { email: ada.email.toUpperCase() } }],
      }),
    );
    expect(refused.rejected).toBe(1);
    // Somebody else, with a dead letter of their own.
    await server.track("/v1/identify", { userId: bob.userId, traits: { email: bob.email } });
    await server.track("/v1/batch", { batch: [{ type: "track", userId: bob.userId }] });
    await drained(server);

    const profile = (await profileOf(`userId=${ada.userId}`))!;
    adaId = profile.id;
    eveId = (await profileOf(`userId=eve-${run}`))!.id;
    expect(profile.mergedFrom.map((m) => m.id)).toEqual([tabletProfileId, phoneProfileId]);
  });

  it("finds them by an identifier written type:value, as Segment's Profile API does, on every profile route", async () => {
    for (const ref of [
      `user_id:${ada.userId}`,
      `email:${ada.email.toUpperCase()}`,
      `anonymous_id:${ada.phone}`,
    ]) {
      const res = await server.admin(`/api/v1/profiles/${encodeURIComponent(ref)}`);
      expect(res.status, ref).toBe(200);
      expect(((await res.json()) as { id: string }).id, ref).toBe(adaId);
    }
    const events = await json<{ items: Array<{ userId?: string }> }>(
      server.admin(`/api/v1/profiles/user_id:${ada.userId}/events?limit=100`),
    );
    const byId = await json<{ items: unknown[] }>(server.admin(`/api/v1/profiles/${adaId}/events?limit=100`));
    expect(events.items).toEqual(byId.items);
    expect(events.items.length).toBeGreaterThan(0);
    const viaRef = await json<{ profile: { id: string } }>(
      server.admin(`/api/v1/profiles/user_id:${ada.userId}/export`),
    );
    expect(viaRef.profile.id).toBe(adaId);
    const unknown = await server.admin("/api/v1/profiles/user_id:nobody-at-all");
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: "not_found",
      message: 'no profile with user_id "nobody-at-all"',
    });
  });

  it("exports everything stored about them, and a merged-away id answers with the same export", async () => {
    interface Export {
      deviceSightings: Array<{ profileId: string }>;
      profile: Profile;
      profiles: Array<{ id: string; mergedInto: string | null }>;
      identities: Array<{ type: string; value: string; profileId: string }>;
      merges: Array<{ survivorId: string; mergedId: string; cause: string }>;
      identityDecisions: Array<{ kind: string; identifierValue: string; otherProfileId: string | null }>;
      events: Array<{ type: string; userId?: string; anonymousId?: string }>;
      deadLetters: Array<{ raw: string; reasonCode: string }>;
      stitchSuggestions: Array<{ profileId: string; otherProfileId: string; status: string }>;
    }
    const exported = await json<Export>(server.admin(`/api/v1/profiles/${adaId}/export`));
    expect(exported.profile).toMatchObject({ id: adaId, traits: { email: ada.email, name: ada.name } });
    expect(exported.profiles.map((p) => [p.id, p.mergedInto]).sort()).toEqual(
      [
        [adaId, null],
        [phoneProfileId, adaId],
        [tabletProfileId, adaId],
      ].sort(),
    );
    expect(exported.identities.map((i) => `${i.type}:${i.value}`).sort()).toEqual(
      [
        `anonymous_id:${ada.anonymousId}`,
        `anonymous_id:${ada.phone}`,
        `anonymous_id:${ada.tablet}`,
        `email:${ada.email}`,
        `user_id:${ada.userId}`,
      ].sort(),
    );
    expect(exported.merges).toEqual([
      expect.objectContaining({
        survivorId: adaId,
        mergedId: tabletProfileId,
        cause: expect.stringMatching(/^stitching/),
      }),
      expect.objectContaining({ survivorId: adaId, mergedId: phoneProfileId, cause: expect.any(String) }),
    ]);
    expect(exported.identityDecisions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ kind: "blocked", identifierValue: "anonymous" }),
        expect.objectContaining({ identifierValue: ada.anonymousId, otherProfileId: adaId }),
      ]),
    );
    // Laptop page and track, the tablet's page, the login; the phone's track; the merge the confirmed
    // suggestion wrote; the phone's login; the blocked identify; Eve's identify on the laptop (it
    // carries Ada's anonymous id).
    expect(exported.events.map((e) => e.type)).toEqual([
      "page",
      "track",
      "page",
      "identify",
      "track",
      "merge",
      "identify",
      "identify",
      "identify",
    ]);
    expect(exported.deadLetters).toEqual([
      expect.objectContaining({
        reasonCode: "missing_identity",
        raw: expect.stringContaining(ada.email.toUpperCase()),
      }),
    ]);
    expect(exported.stitchSuggestions).toEqual([
      expect.objectContaining({ profileId: adaId, otherProfileId: tabletProfileId, status: "confirmed" }),
    ]);
    expect(exported.deviceSightings.length).toBeGreaterThan(0);

    const viaMerged = await json<Export>(server.admin(`/api/v1/profiles/${phoneProfileId}/export`));
    expect({ ...viaMerged, exportedAt: null }).toEqual({ ...exported, exportedAt: null });
  });

  it("erases them in one go: nothing of theirs is left in any table, the erasure log keeps counts only", async () => {
    const needles = [...Object.values(ada), adaId, phoneProfileId, tabletProfileId];
    // The scan finds the person wherever they are stored, before the erasure.
    const tables = new Set((await findAnywhere(server.db.pool, needles)).map((hit) => hit.split(".")[0]));
    for (const table of [
      "events",
      "rejected_events",
      "profiles",
      "identities",
      "profile_merges",
      "identity_decisions",
      "stitch_suggestions",
      "device_sightings",
    ])
      expect(tables).toContain(table);
    const before = await findAnywhere(server.db.pool, [bob.userId, bob.email]);
    const erased = await json<{ id: number; counts: Record<string, number> }>(
      server.admin(`/api/v1/profiles/${phoneProfileId}`, { method: "DELETE" }),
    );
    expect(erased.counts).toMatchObject({
      profiles: 3,
      identities: 5,
      events: 9,
      deadLetters: 1,
      merges: 2,
      stitchSuggestions: 1,
      suppressedIdentifiers: 5,
    });
    expect(erased.counts.deviceSightings).toBeGreaterThan(0);
    expect(erased.counts.identityDecisions).toBeGreaterThanOrEqual(2);

    expect(await findAnywhere(server.db.pool, needles)).toEqual([]);
    await json(server.admin(`/api/v1/profiles/${adaId}`), 404);
    await json(server.admin(`/api/v1/profiles/${phoneProfileId}/export`), 404);
    await json(server.admin(`/api/v1/profiles/${adaId}`, { method: "DELETE" }), 404);

    const log = await json<{ items: Array<{ id: number; counts: Record<string, number> }> }>(
      server.admin("/api/v1/erasures"),
    );
    expect(log.items).toEqual([expect.objectContaining({ id: erased.id, counts: erased.counts })]);

    // Somebody else's data is untouched, and so is Eve's profile (only the event with Ada's id went).
    expect(await findAnywhere(server.db.pool, [bob.userId, bob.email])).toEqual(before);
    expect((await profileOf(`userId=${bob.userId}`))!.traits).toMatchObject({ email: bob.email });
    expect((await profileOf(`userId=eve-${run}`))!.id).toBe(eveId);
  });

  it("drops their later events: answered 200, counted, never stored", async () => {
    const res = await json<{ accepted: number; rejected: number; suppressed: number }>(
      server.track("/v1/batch", {
        batch: [
          { type: "track", userId: ada.userId, event: "Came Back" },
          { type: "page", anonymousId: ada.anonymousId },
          { type: "identify", anonymousId: `new-${run}`, traits: { email: ` ${ada.email.toUpperCase()} ` } },
          { type: "track", anonymousId: `new-${run}`, event: "X", context: { traits: { email: ada.email } } },
          { type: "alias", previousId: ada.userId, userId: `new-user-${run}` },
          { type: "track", userId: ada.userId },
          { type: "track", userId: bob.userId, event: "Still Here" },
        ],
      }),
    );
    expect(res).toMatchObject({ accepted: 1, rejected: 1, suppressed: 6 });
    const single = await json<{ accepted: number; suppressed: number }>(
      server.track("/v1/identify", { anonymousId: ada.phone }),
    );
    expect(single).toMatchObject({ accepted: 0, suppressed: 1 });
    await drained(server);

    expect(await findAnywhere(server.db.pool, [...Object.values(ada), `new-${run}`])).toEqual([]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^waymark_events_suppressed_total 7$/m);
    const log = await json<{ suppressedMessages: number }>(server.admin("/api/v1/erasures"));
    expect(log.suppressedMessages).toBe(7);
    const bobEvents = await json<{ items: Array<{ event?: string }> }>(
      server.admin(`/api/v1/events?userId=${bob.userId}`),
    );
    expect(bobEvents.items.map((e) => e.event)).toContain("Still Here");
  });
});

describe("an erasure while the pipeline is still applying the person's events", () => {
  it("leaves nothing behind once the pipeline has caught up, and holds no one up", async () => {
    const dora = { userId: `dora-${run}`, anonymousId: `dora-device-${run}` };
    await server.track("/v1/identify", { ...dora, traits: { name: `Dora ${run}` } });
    await drained(server);
    const id = (await profileOf(`userId=${dora.userId}`))!.id;
    // Many committed events of hers (and of others) the pipeline has not applied yet.
    const batches = Array.from({ length: 20 }, (_, b) => ({
      batch: Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? { type: "track", event: `Step ${b}.${i}`, ...(i % 4 === 0 ? { userId: dora.userId } : dora) }
          : { type: "track", event: "Other", userId: `other-${run}-${i}` },
      ),
    }));
    for (const r of await Promise.all(batches.map((b) => server.track("/v1/batch", b)))) {
      expect(r.status).toBe(200);
    }
    const erased = await json<{ counts: { events: number } }>(
      server.admin(`/api/v1/profiles/${id}`, { method: "DELETE" }),
    );
    expect(erased.counts.events).toBe(501);
    await drained(server);
    expect(await findAnywhere(server.db.pool, [...Object.values(dora), id])).toEqual([]);
    expect((await profileOf(`userId=other-${run}-1`))!.traits).toEqual({});
  });
});

describe("the CLI reads and erases profiles through the same services", () => {
  const carol = { userId: `carol-${run}`, email: `carol.${run}@example.com` };
  const cli = (...args: string[]) => runCli(args, { env: { DATABASE_URL: server.db.url } });

  it("prints a profile found by id, by email or by userId", async () => {
    await server.track("/v1/identify", { userId: carol.userId, traits: { email: carol.email } });
    await drained(server);
    const byEmail = await cli("profiles", "get", carol.email.toUpperCase());
    expect(byEmail.stderr).toBe("");
    expect(byEmail.code).toBe(0);
    const profile = JSON.parse(byEmail.stdout) as Profile;
    expect(profile.traits).toMatchObject({ email: carol.email });
    for (const key of [profile.id, carol.userId]) {
      const r = await cli("profiles", "get", key);
      expect(JSON.parse(r.stdout)).toEqual(profile);
    }
    const missing = await cli("profiles", "get", `nobody-${run}`);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`no profile with the id, email or userId "nobody-${run}"`);
  });

  it("erases a person and prints the counts; the running server drops their events within its refresh window", async () => {
    const id = (await profileOf(`userId=${carol.userId}`))!.id;
    const erased = await cli("profiles", "erase", id);
    expect(erased.code, erased.stderr).toBe(0);
    expect(JSON.parse(erased.stdout)).toMatchObject({ counts: { profiles: 1, identities: 2, events: 1 } });

    // Another process erased them: this server learns it at its next refresh (5 s).
    const started = Date.now();
    let suppressed = 0;
    while (suppressed === 0 && Date.now() - started < 10_000) {
      const r = await json<{ suppressed: number }>(
        server.track("/v1/track", { userId: carol.userId, event: "Hi" }),
      );
      suppressed = r.suppressed;
      if (suppressed === 0) await new Promise((r) => setTimeout(r, 250));
    }
    expect(suppressed).toBe(1);
    expect(Date.now() - started).toBeLessThan(7_000);
  });
});

describe("a person waiting in a journey, with a reminder to them still to be retried, asks for their data and its erasure", () => {
  let shop: TestServer;
  let receiver: Receiver;
  let clock = new Date("2026-03-02T10:00:00.000Z");
  const later = (ms: number) => (clock = new Date(clock.getTime() + ms));
  const MIN = 60_000;
  const grace = {
    userId: `grace-${run}`,
    laptop: `grace-laptop-${run}`,
    phone: `grace-phone-${run}`,
    email: `grace.hopper.${run}@example.com`,
    name: `Grace Hopper ${run}`,
    phoneCart: `cart-grace-phone-${run}`,
    laptopCart: `cart-grace-laptop-${run}`,
  };
  const dan = { userId: `dan-${run}`, email: `dan.${run}@example.com`, cart: `cart-dan-${run}` };
  let graceId: string;
  let phoneProfileId: string;

  interface ExportedInstance {
    id: string;
    journey: string;
    version: number;
    profileId: string;
    key: string;
    status: string;
    currentStep: string | null;
    context: { trigger?: { properties?: Record<string, unknown> } };
    timeline: Array<{ kind: string; step: string | null }>;
    effects: Array<{ key: string; kind: string; status: string; attempts: number; lastError: string | null }>;
  }
  interface Export {
    profile: Profile;
    journeyInstances: ExportedInstance[];
  }

  const track = async (body: Record<string, unknown>, path = "/v1/track") =>
    expect((await shop.track(path, body)).status).toBe(200);
  const profile = async (query: string) =>
    (await json<{ items: Profile[] }>(shop.admin(`/api/v1/profiles?${query}`))).items[0]!;
  const exportOf = (id: string) => json<Export>(shop.admin(`/api/v1/profiles/${id}/export`));
  const emailsReceived = (from = 0) =>
    receiver.received.slice(from).map((r) => (r.body as { email?: string } | undefined)?.email);

  beforeAll(async () => {
    receiver = await startReceiver("127.0.0.1");
    receiver.respond(500); // the reminders fail for now: they stay in the outbox, to be retried
    shop = await startTestServer({ pipeline: true, now: () => clock });
    const put = await shop.admin("/api/v1/journeys/cart-reminder", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        key: "cart-reminder",
        name: "Cart reminder",
        trigger: { event: "Product Added" },
        entry: { key: "{{ event.properties.cart_id }}" },
        steps: [
          {
            id: "wait_checkout",
            hold_until: {
              events: [{ id: "checkout", event: "Checkout Started", next: "done" }],
              timeout: "1h",
              onTimeout: "remind",
            },
          },
          {
            id: "remind",
            webhook: {
              url: `${receiver.url}/hooks/cart`,
              body: { email: "{{ profile.traits.email }}", cart: "{{ context.trigger.properties.cart_id }}" },
            },
          },
          { id: "done", exit: {} },
        ],
      }),
    });
    expect((await json<{ violations: unknown[] }>(put)).violations).toEqual([]);
    await json(shop.admin("/api/v1/journeys/cart-reminder/publish", { method: "POST" }));

    // Grace fills a cart on her phone before logging in there; Dan fills one too.
    await track(
      { userId: grace.userId, anonymousId: grace.laptop, traits: { email: grace.email, name: grace.name } },
      "/v1/identify",
    );
    await track({
      anonymousId: grace.phone,
      event: "Product Added",
      properties: { cart_id: grace.phoneCart },
    });
    await track({ userId: dan.userId, traits: { email: dan.email } }, "/v1/identify");
    await track({ userId: dan.userId, event: "Product Added", properties: { cart_id: dan.cart } });
    await drained(shop);
    phoneProfileId = (await profile(`anonymousId=${grace.phone}`)).id;
    // She logs in on the phone (its profile and its instance move to hers), later fills another cart.
    later(5 * MIN);
    await track({ userId: grace.userId, anonymousId: grace.phone }, "/v1/identify");
    later(25 * MIN);
    await track({ userId: grace.userId, event: "Product Added", properties: { cart_id: grace.laptopCart } });
    await drained(shop);
    const p = await profile(`userId=${grace.userId}`);
    graceId = p.id;
    expect(p.mergedFrom.map((m) => m.id)).toEqual([phoneProfileId]);

    // An hour after the phone's cart: its reminder (and Dan's) fails with a 500 and waits for a retry;
    // the laptop's cart still holds.
    later(31 * MIN);
    await receiver.waitFor(2);
    expect(emailsReceived().sort()).toEqual([dan.email, grace.email].sort());
    await eventually(async () => {
      const e = await exportOf(graceId);
      const phone = e.journeyInstances.find((i) => i.key === grace.phoneCart);
      return phone?.timeline.some((t) => t.kind === "webhook_retrying") ? e : undefined;
    }, "the failed reminder on the timeline");
  });
  afterAll(async () => {
    await shop?.close();
    await receiver?.close();
  });

  it("exports their instances, of the phone's profile too, with timelines and the pending reminder", async () => {
    const exported = await exportOf(graceId);
    expect(exported.journeyInstances.map((i) => i.key)).toEqual([grace.phoneCart, grace.laptopCart]);
    const [phone, laptop] = exported.journeyInstances;
    expect(phone).toMatchObject({
      journey: "cart-reminder",
      version: 1,
      profileId: graceId,
      status: "completed",
      context: { trigger: { properties: { cart_id: grace.phoneCart } } },
    });
    expect(phone!.timeline.map((t) => t.kind)).toEqual(
      expect.arrayContaining(["entered", "waiting", "timed_out", "webhook_queued", "webhook_retrying"]),
    );
    expect(phone!.effects).toEqual([
      expect.objectContaining({ kind: "webhook", status: "pending", attempts: 1, lastError: "HTTP 500" }),
    ]);
    expect(laptop).toMatchObject({
      journey: "cart-reminder",
      version: 1,
      profileId: graceId,
      status: "active",
      currentStep: "wait_checkout",
      context: { trigger: { properties: { cart_id: grace.laptopCart } } },
      effects: [],
    });
    expect(laptop!.timeline.map((t) => t.kind)).toEqual(expect.arrayContaining(["entered", "waiting"]));
    // The phone's id (merged away) answers with the same export.
    const viaPhone = await exportOf(phoneProfileId);
    expect(viaPhone.journeyInstances).toEqual(exported.journeyInstances);
  });

  it("erases their instances, timelines and outbox effects: no table holds anything of them", async () => {
    const { journeyInstances } = await exportOf(graceId);
    const needles = [...Object.values(grace), graceId, phoneProfileId, ...journeyInstances.map((i) => i.id)];
    const tables = new Set((await findAnywhere(shop.db.pool, needles)).map((hit) => hit.split(".")[0]));
    for (const table of ["journey_instances", "journey_audit", "outbox"]) expect(tables).toContain(table);
    const dans = await findAnywhere(shop.db.pool, [dan.userId, dan.email, dan.cart]);

    const erased = await json<{ counts: Record<string, number> }>(
      shop.admin(`/api/v1/profiles/${graceId}`, { method: "DELETE" }),
    );
    expect(erased.counts).toMatchObject({
      profiles: 2,
      journeyInstances: 2,
      journeyAuditRows: journeyInstances.reduce((n, i) => n + i.timeline.length, 0),
      outboxEffects: 1,
    });
    expect(await findAnywhere(shop.db.pool, needles)).toEqual([]);
    expect(await findAnywhere(shop.db.pool, [dan.userId, dan.email, dan.cart])).toEqual(dans);
  });

  it("never sends the pending reminder, nor the one the held cart would have sent; Dan's goes out", async () => {
    const before = receiver.received.length;
    receiver.respond(200);
    later(2 * 60 * MIN); // past every retry time and past the laptop cart's hold
    await eventually(
      async () => (emailsReceived(before).includes(dan.email) ? true : undefined),
      "Dan's reminder, retried",
    );
    await new Promise((r) => setTimeout(r, 300)); // several more timer and outbox rounds
    expect(emailsReceived(before)).toEqual([dan.email]);
  });
});
