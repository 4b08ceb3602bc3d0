import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decisions, getJson, profileBy, profilesBy, putRules, send } from "./support/identity.ts";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ pipeline: true });
});
afterAll(() => server.close());

/** Rules apply to events resolved after the change: let everything before it resolve first. */
async function changeRules(rules: unknown): Promise<void> {
  await drained(server);
  const res = await putRules(server, rules);
  expect(res.status, await res.clone().text()).toBe(200);
}

describe("a workspace reads and changes its identity rules", () => {
  it("starts with Segment-like defaults", async () => {
    expect(await getJson(server, "/api/v1/identity/rules")).toEqual({
      limits: { user_id: 1, email: 5, phone: 5, anonymous_id: null },
      priority: ["user_id", "email", "phone", "anonymous_id"],
      blocked: [],
      traitKeys: { email: "email", phone: "phone" },
      stitching: { enabled: false, windowMinutes: 30 },
    });
  });

  it("keeps the defaults of what it does not name", async () => {
    const res = await putRules(server, { limits: { email: 2 }, stitching: { enabled: true } });
    expect(res.status).toBe(200);
    const effective = {
      limits: { user_id: 1, email: 2, phone: 5, anonymous_id: null },
      priority: ["user_id", "email", "phone", "anonymous_id"],
      blocked: [],
      traitKeys: { email: "email", phone: "phone" },
      stitching: { enabled: true, windowMinutes: 30 },
    };
    expect(await res.json()).toEqual(effective);
    expect(await getJson(server, "/api/v1/identity/rules")).toEqual(effective);
  });

  it.each([
    [{ limits: { email: 0 } }, "body.limits.email: Too small: expected number to be >=1"],
    [{ limits: { "Loyalty ID": 1 } }, "body.limits.Loyalty ID: must be an identifier type"],
    [{ traitKeys: { loyalty: "Loyalty" } }, "body.traitKeys.loyalty: must be an identifier type"],
    [{ priority: ["email", "email"] }, "body.priority: must not name a type twice"],
    [{ stitching: { enabled: "yes" } }, "body.stitching.enabled: Invalid input: expected boolean"],
    [{ stitching: { enabled: true, windowMinutes: 0 } }, "body.stitching.windowMinutes: Too small"],
    [{ blocked: "test" }, "body.blocked: Invalid input: expected array"],
    [{ limit: { email: 1 } }, 'body: Unrecognized key: "limit"'],
  ])("refuses %j with 400, naming the field and the rule", async (body, message) => {
    const res = await putRules(server, body);
    expect(res.status).toBe(400);
    const answer = (await res.json()) as { error: string; message: string };
    expect(answer.error).toBe("validation_error");
    expect(answer.message).toContain(message);
  });

  it("keeps its rules when a change is refused, and asks for the admin token", async () => {
    expect(await getJson(server, "/api/v1/identity/rules")).toMatchObject({ limits: { email: 2 } });
    const anonymous = await fetch(`${server.url}/api/v1/identity/rules`);
    expect(anonymous.status).toBe(401);
    await changeRules({});
    expect(await getJson(server, "/api/v1/identity/rules")).toMatchObject({
      limits: { email: 5 },
      stitching: { enabled: false },
    });
  });
});

describe("limits changed through the rules API", () => {
  it("drop an email past a lowered limit, and say so", async () => {
    await changeRules({ limits: { email: 1 } });
    await send(server, [
      ["/v1/identify", { userId: "lim-1", traits: { email: "first@example.com" } }],
      ["/v1/identify", { userId: "lim-1", traits: { email: "second@example.com" } }],
    ]);
    await drained(server);
    const person = await profileBy(server, "userId=lim-1");
    expect(person.identities).toEqual([
      { type: "email", value: "first@example.com" },
      { type: "user_id", value: "lim-1" },
    ]);
    expect(await decisions(server, `profileId=${person.id}`)).toEqual([
      expect.objectContaining({
        kind: "dropped",
        identifier: { type: "email", value: "second@example.com" },
        reason: "profile already holds 1 email (limit 1); email not added",
      }),
    ]);
  });

  it("let two user ids sharing an email be one person once the user_id limit is raised", async () => {
    await changeRules({ limits: { user_id: 2 } });
    await send(server, [
      ["/v1/identify", { userId: "raised-1", traits: { email: "shared-raised@example.com" } }],
      ["/v1/identify", { userId: "raised-2", traits: { email: "shared-raised@example.com" } }],
    ]);
    await drained(server);
    const person = await profileBy(server, "email=shared-raised@example.com");
    expect(person.identities.filter((i) => i.type === "user_id").map((i) => i.value)).toEqual([
      "raised-1",
      "raised-2",
    ]);
    await changeRules({});
  });
});

describe("a configured trait key carries an identifier", () => {
  it("merges two devices that share a member number, from identify traits and context.traits", async () => {
    await changeRules({ traitKeys: { member_number: "member_number" }, limits: { member_number: 1 } });
    await send(server, [
      ["/v1/identify", { anonymousId: "tk-laptop", traits: { member_number: "M-100" } }],
      ["/v1/identify", { anonymousId: "tk-phone", traits: { member_number: "M-100" } }],
      [
        "/v1/track",
        { anonymousId: "tk-tablet", event: "Opened", context: { traits: { member_number: "M-100" } } },
      ],
    ]);
    await drained(server);
    const person = await profileBy(server, "anonymousId=tk-laptop");
    expect(person.identities).toEqual([
      { type: "anonymous_id", value: "tk-laptop" },
      { type: "anonymous_id", value: "tk-phone" },
      { type: "anonymous_id", value: "tk-tablet" },
      { type: "member_number", value: "M-100" },
    ]);
    expect(person.eventCount).toBe(3);
  });

  it("applies the configured limit to it", async () => {
    await send(server, [
      ["/v1/identify", { userId: "tk-member", traits: { member_number: "M-200" } }],
      ["/v1/identify", { userId: "tk-member", traits: { member_number: "M-201" } }],
    ]);
    await drained(server);
    const person = await profileBy(server, "userId=tk-member");
    expect(person.identities.filter((i) => i.type === "member_number")).toEqual([
      { type: "member_number", value: "M-200" },
    ]);
    expect((await decisions(server, `profileId=${person.id}`)).map((d) => d.kind)).toEqual(["dropped"]);
    await changeRules({});
  });
});

describe("custom identifier types from context.externalIds", () => {
  it("merge two visitors carrying the same external id, under the type's normalised name", async () => {
    const stripe = (anonymousId: string) => ({
      anonymousId,
      event: "Checkout Started",
      context: {
        externalIds: [{ id: "cus_9X", type: "Stripe Customer-ID", collection: "users", encoding: "none" }],
      },
    });
    await send(server, [
      ["/v1/track", stripe("ext-1")],
      ["/v1/track", stripe("ext-2")],
    ]);
    await drained(server);
    const person = await profileBy(server, "anonymousId=ext-1");
    expect(person.identities).toEqual([
      { type: "anonymous_id", value: "ext-1" },
      { type: "anonymous_id", value: "ext-2" },
      { type: "stripe_customer_id", value: "cus_9X" },
    ]);
    // The second visitor joins the profile that holds the external id: nothing to merge.
    expect(person.mergedFrom).toEqual([]);
    expect(person.eventCount).toBe(2);
  });

  it("ranks a custom type by the configured priority", async () => {
    // A loyalty id trusted above email: the profile that holds it is the one the event keeps.
    await changeRules({ priority: ["user_id", "loyalty_id", "email", "phone", "anonymous_id"] });
    await send(server, [
      ["/v1/identify", { anonymousId: "ext-3", traits: { email: "loyal@example.com" } }],
      [
        "/v1/track",
        {
          anonymousId: "ext-4",
          event: "Scanned",
          context: { externalIds: [{ id: "L-1", type: "loyalty_id" }] },
        },
      ],
      [
        "/v1/identify",
        {
          anonymousId: "ext-5",
          traits: { email: "loyal@example.com" },
          context: { externalIds: [{ id: "L-1", type: "loyalty_id" }] },
        },
      ],
    ]);
    await drained(server);
    const person = await profileBy(server, "anonymousId=ext-4");
    expect(person.identities.map((i) => i.value)).toEqual([
      "ext-3",
      "ext-4",
      "ext-5",
      "loyal@example.com",
      "L-1",
    ]);
    expect(await profilesBy(server, "anonymousId=ext-3")).toEqual([person]);
    await changeRules({});
  });
});

describe("a configured blocked value", () => {
  it("never merges anyone, whatever its case, and the decision is visible", async () => {
    await changeRules({ blocked: ["test@example.com"] });
    await send(server, [
      ["/v1/identify", { anonymousId: "bl-1", traits: { email: "Test@Example.com" } }],
      ["/v1/identify", { anonymousId: "bl-2", traits: { email: "test@example.com" } }],
    ]);
    await drained(server);
    const one = await profileBy(server, "anonymousId=bl-1");
    const two = await profileBy(server, "anonymousId=bl-2");
    expect(one.id).not.toBe(two.id);
    expect(await profilesBy(server, "email=test@example.com")).toEqual([]);
    for (const person of [one, two]) {
      expect(await decisions(server, `profileId=${person.id}`)).toEqual([
        expect.objectContaining({
          kind: "blocked",
          identifier: { type: "email", value: "test@example.com" },
          reason: 'blocked value "test@example.com" for email never identifies anyone',
        }),
      ]);
    }
    await changeRules({});
  });
});
