import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decisions, getJson, profileBy, profilesBy, send, type ProfileView } from "./support/identity.ts";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ pipeline: true });
});
afterAll(() => server.close());

const userIds = (p: ProfileView) => p.identities.filter((i) => i.type === "user_id").map((i) => i.value);

describe("a customer signs in on a second device", () => {
  it("merges the device's visitor into the known customer, with the history of both", async () => {
    await send(server, [
      ["/v1/identify", { userId: "dana", anonymousId: "dana-laptop", traits: { email: "dana@example.com" } }],
      ["/v1/page", { anonymousId: "dana-phone", name: "Pricing" }],
      ["/v1/track", { anonymousId: "dana-phone", event: "Plan Viewed" }],
    ]);
    await drained(server);
    expect((await profileBy(server, "anonymousId=dana-phone")).id).not.toBe(
      (await profileBy(server, "userId=dana")).id,
    );

    await send(server, [["/v1/identify", { userId: "dana", anonymousId: "dana-phone" }]]);
    await drained(server);
    const dana = await profileBy(server, "userId=dana");
    expect(dana.identities.map((i) => i.value)).toEqual([
      "dana-laptop",
      "dana-phone",
      "dana@example.com",
      "dana",
    ]);
    expect(dana.mergedFrom.map((m) => m.cause)).toEqual(["identify: shared anonymous_id"]);
    expect(dana.eventCount).toBe(4);
    const history = await getJson<{ items: Array<{ type: string }> }>(
      server,
      `/api/v1/profiles/${dana.mergedFrom[0]!.id}/events`,
    );
    expect(history.items.map((e) => e.type)).toEqual(["identify", "track", "page", "identify"]);
  });
});

describe("two user ids share an email", () => {
  it("stay two profiles, and the refused merge is visible from either side", async () => {
    await send(server, [
      ["/v1/identify", { userId: "frank", traits: { email: "family@example.com" } }],
      ["/v1/identify", { userId: "grace", traits: { email: "family@example.com" } }],
    ]);
    await drained(server);
    const frank = await profileBy(server, "userId=frank");
    const grace = await profileBy(server, "userId=grace");
    expect(frank.id).not.toBe(grace.id);
    expect(await profilesBy(server, "email=family@example.com")).toEqual([frank]);
    expect(grace.identities).toEqual([{ type: "user_id", value: "grace" }]);
    expect([frank.identityDecisions, grace.identityDecisions]).toEqual([1, 1]);

    const refused = {
      kind: "merge_refused",
      identifier: { type: "email", value: "family@example.com" },
      profileId: grace.id,
      otherProfileId: frank.id,
      reason: "merging would give one profile 2 user_id (limit 1); email dropped from this event",
      eventSeq: expect.any(Number),
    };
    expect(await decisions(server, `profileId=${grace.id}`)).toEqual([expect.objectContaining(refused)]);
    expect(await decisions(server, `profileId=${frank.id}`)).toEqual([expect.objectContaining(refused)]);
    expect(await decisions(server)).toContainEqual(expect.objectContaining(refused));
  });

  it("pages the decisions with a cursor, newest first", async () => {
    await send(server, [
      ["/v1/identify", { userId: "henry", traits: { email: "family@example.com" } }],
      ["/v1/identify", { userId: "iris", traits: { email: "family@example.com" } }],
    ]);
    await drained(server);
    const frank = await profileBy(server, "userId=frank");
    const all = await decisions(server, `profileId=${frank.id}`);
    expect(all).toHaveLength(3);
    const first = await getJson<{ items: Array<{ id: number }>; nextCursor: string }>(
      server,
      `/api/v1/identity/decisions?profileId=${frank.id}&limit=2`,
    );
    const rest = await getJson<{ items: Array<{ id: number }>; nextCursor: string | null }>(
      server,
      `/api/v1/identity/decisions?profileId=${frank.id}&limit=2&cursor=${first.nextCursor}`,
    );
    expect([...first.items, ...rest.items].map((d) => d.id)).toEqual(all.map((d) => d.id));
    expect(rest.nextCursor).toBeNull();
    expect(all.map((d) => d.id)).toEqual([...all.map((d) => d.id)].sort((a, b) => b - a));
  });

  it("answers 404 for decisions about a profile that does not exist", async () => {
    for (const id of ["00000000-0000-4000-8000-000000000000", "not-a-profile"]) {
      const res = await server.admin(`/api/v1/identity/decisions?profileId=${id}`);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: "not_found", message: `no profile ${id}` });
    }
  });
});

describe("blocked values", () => {
  it("never identify or merge anyone: null, unknown, 0", async () => {
    await send(server, [
      ["/v1/identify", { anonymousId: "blk-1", userId: "unknown", traits: { email: "null", phone: "0" } }],
      ["/v1/identify", { anonymousId: "blk-2", userId: "Unknown", traits: { email: "NULL", phone: " 0 " } }],
      ["/v1/track", { anonymousId: "blk-3", userId: "0", event: "Viewed" }],
    ]);
    await drained(server);
    const visitors = await Promise.all(
      ["blk-1", "blk-2", "blk-3"].map((a) => profileBy(server, `anonymousId=${a}`)),
    );
    expect(new Set(visitors.map((v) => v.id)).size).toBe(3);
    for (const v of visitors) expect(v.identities).toHaveLength(1);
    expect(await profilesBy(server, "userId=unknown")).toEqual([]);
    expect(await profilesBy(server, "email=null")).toEqual([]);
    const blocked = await decisions(server, `profileId=${visitors[0]!.id}`);
    expect(blocked.map((d) => [d.kind, d.identifier.type, d.identifier.value]).sort()).toEqual([
      ["blocked", "email", "null"],
      ["blocked", "phone", "0"],
      ["blocked", "user_id", "unknown"],
    ]);
  });
});

describe("alias", () => {
  it("merges an anonymous visitor's profile into the user's (previousId anonymous)", async () => {
    await send(server, [
      ["/v1/track", { anonymousId: "kim-visitor", event: "Article Read" }],
      ["/v1/identify", { userId: "kim", traits: { name: "Kim" } }],
    ]);
    await drained(server);
    await send(server, [["/v1/alias", { previousId: "kim-visitor", userId: "kim" }]]);
    await drained(server);
    const kim = await profileBy(server, "userId=kim");
    expect(await profilesBy(server, "anonymousId=kim-visitor")).toEqual([kim]);
    expect(kim.mergedFrom.map((m) => m.cause)).toEqual(["alias"]);
    expect(kim.eventCount).toBe(3);
  });

  it("renames a user (previousId a former user id): one profile holding both user ids", async () => {
    await send(server, [
      ["/v1/identify", { userId: "lee-old", traits: { email: "lee@example.com" } }],
      ["/v1/alias", { previousId: "lee-old", userId: "lee-new" }],
      ["/v1/track", { userId: "lee-new", event: "Order Completed" }],
      ["/v1/track", { userId: "lee-old", event: "Late Event From An Old Session" }],
    ]);
    await drained(server);
    const lee = await profileBy(server, "userId=lee-new");
    expect(await profilesBy(server, "userId=lee-old")).toEqual([lee]);
    expect(userIds(lee)).toEqual(["lee-new", "lee-old"]);
    expect(lee.eventCount).toBe(4);
    expect(await decisions(server, `profileId=${lee.id}`)).toEqual([]);
  });

  it("merges the former user's profile into the new user's when both already exist", async () => {
    await send(server, [
      ["/v1/identify", { userId: "max-old", traits: { plan: "free" } }],
      ["/v1/identify", { userId: "max-new", traits: { email: "max@example.com" } }],
    ]);
    await drained(server);
    await send(server, [["/v1/alias", { previousId: "max-old", userId: "max-new" }]]);
    await drained(server);
    const max = await profileBy(server, "userId=max-new");
    expect(await profilesBy(server, "userId=max-old")).toEqual([max]);
    expect(max.mergedFrom.map((m) => m.cause)).toEqual(["alias"]);
    expect(max.traits).toMatchObject({ plan: "free", email: "max@example.com" });
  });
});
