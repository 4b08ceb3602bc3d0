import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { profileBy } from "./support/identity.ts";
import { publish } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { json } from "./support/responses.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

/** An item of GET /api/v1/instances as the UI reads it. */
interface InstanceItem {
  id: string;
  journey: string;
  version: number;
  profileId: string;
  key: string | null;
  status: string;
  currentStep: string | null;
  dueAt: string | null;
  enteredAt: string;
  endedAt: string | null;
  endReason: string | null;
  goalReachedAt: string | null;
  context: Record<string, unknown>;
}
interface Page {
  items: InstanceItem[];
  nextCursor: string | null;
}

describe("Ada's journeys, first on her phone without logging in, then logged in", () => {
  const state = { clock: new Date("2026-11-23T09:00:00.000Z") };
  let server: TestServer;
  let survivor: string;
  let mergedAway: string;
  const at = (iso: string) => {
    state.clock = new Date(iso);
  };
  const track = async (type: string, body: Record<string, unknown>) => {
    expect((await server.track(`/v1/${type}`, body)).status).toBe(200);
    await drained(server);
  };
  const instances = (query: string) => json<Page>(server.admin(`/api/v1/instances?${query}`));
  /** Journey, status and entry time of each item: what the person page shows. */
  const rows = (page: Page) => page.items.map((i) => [i.journey, i.status, i.enteredAt]);

  beforeAll(async () => {
    server = await startTestServer({ pipeline: true, now: () => state.clock });
    await publish(server, {
      key: "cart",
      name: "Cart",
      trigger: { event: "Product Added" },
      entry: { key: "{{ event.properties.cart_id }}" },
      steps: [{ id: "wait", wait: { duration: "1d" } }],
    });
    await publish(server, {
      key: "welcome",
      name: "Welcome",
      trigger: { event: "Signed Up" },
      steps: [{ id: "wait", wait: { duration: "7d" } }],
    });
    await publish(server, {
      key: "thanks",
      name: "Thanks",
      trigger: { event: "Order Completed" },
      steps: [{ id: "mark", update_profile: { traits: { ordered: true } } }],
    });
    await track("track", { anonymousId: "phone-1", event: "Product Added", properties: { cart_id: "k1" } });
    at("2026-11-23T09:05:00.000Z");
    await track("identify", { userId: "ada", anonymousId: "laptop-1", traits: { name: "Ada" } });
    at("2026-11-23T09:10:00.000Z");
    await track("track", { userId: "ada", event: "Signed Up" });
    at("2026-11-23T09:20:00.000Z");
    await track("track", { userId: "ada", event: "Order Completed" });
    at("2026-11-23T09:40:00.000Z");
    await track("track", { userId: "bo", event: "Signed Up" });
    const phone = await profileBy(server, "anonymousId=phone-1");
    at("2026-11-23T09:50:00.000Z");
    // She logs in on her phone: its profile merges into hers.
    await track("identify", { userId: "ada", anonymousId: "phone-1" });
    const ada = await profileBy(server, "userId=ada");
    expect(ada.mergedFrom.map((m) => m.id)).toEqual([phone.id]);
    survivor = ada.id;
    mergedAway = phone.id;
  });
  afterAll(() => server?.close());

  it("lists her instances in every journey, newest entry first, the phone's cart included", async () => {
    const page = await instances(`profileId=${survivor}`);
    expect(rows(page)).toEqual([
      ["thanks", "completed", "2026-11-23T09:20:00.000Z"],
      ["welcome", "active", "2026-11-23T09:10:00.000Z"],
      ["cart", "active", "2026-11-23T09:00:00.000Z"],
    ]);
    expect(page.nextCursor).toBeNull();
    expect(page.items.map((i) => i.profileId)).toEqual([survivor, survivor, survivor]);
    expect(page.items[2]).toMatchObject({
      key: "k1",
      version: 1,
      currentStep: "wait",
      dueAt: "2026-11-24T09:00:00.000Z",
      endedAt: null,
    });
  });

  it("answers the same for the phone's merged-away profile id and for her userId", async () => {
    const bySurvivor = await instances(`profileId=${survivor}`);
    expect(await instances(`profileId=${mergedAway}`)).toEqual(bySurvivor);
    expect(await instances("userId=ada")).toEqual(bySurvivor);
  });

  it("filters by status", async () => {
    expect(rows(await instances(`profileId=${survivor}&status=active`)).map((r) => r[0])).toEqual([
      "welcome",
      "cart",
    ]);
    expect(rows(await instances(`profileId=${survivor}&status=completed`)).map((r) => r[0])).toEqual([
      "thanks",
    ]);
  });

  it("pages with the cursor", async () => {
    const first = await instances(`profileId=${survivor}&limit=2`);
    expect(first.items.map((i) => i.journey)).toEqual(["thanks", "welcome"]);
    expect(first.nextCursor).toBe(first.items[1]!.id);
    const second = await instances(`profileId=${survivor}&limit=2&cursor=${first.nextCursor}`);
    expect(second.items.map((i) => i.journey)).toEqual(["cart"]);
    expect(second.nextCursor).toBeNull();
  });

  it("has nothing for a person it does not know, and says what is wrong with a bad query", async () => {
    expect(await instances("profileId=00000000-0000-4000-8000-000000000000")).toEqual({
      items: [],
      nextCursor: null,
    });
    expect(await instances("userId=nobody")).toEqual({ items: [], nextCursor: null });
    const bad = (query: string) =>
      json<{ message: string }>(server.admin(`/api/v1/instances?${query}`), 400).then((b) => b.message);
    expect(await bad("")).toBe("querystring: give profileId or userId");
    expect(await bad("profileId=ada")).toBe("profileId must be a profile id (UUID)");
    expect(await bad(`profileId=${survivor}&cursor=x`)).toBe("cursor is not valid");
    expect(await bad(`profileId=${survivor}&status=waiting`)).toMatch(/^querystring\.status: /);
  });

  it("lists every journey with its status, published version and the people in it now", async () => {
    const { items } = await json<{ items: Array<Record<string, unknown>> }>(server.admin("/api/v1/journeys"));
    expect(items).toEqual([
      {
        key: "cart",
        name: "Cart",
        status: "active",
        publishedVersion: 1,
        draftUpdatedAt: expect.any(String),
        updatedAt: expect.any(String),
        activeInstances: 1,
      },
      expect.objectContaining({ key: "thanks", status: "active", publishedVersion: 1, activeInstances: 0 }),
      expect.objectContaining({ key: "welcome", status: "active", publishedVersion: 1, activeInstances: 2 }),
    ]);
  });

  it("lists a journey's instances newest entry first too", async () => {
    const page = await json<Page>(server.admin("/api/v1/journeys/welcome/instances"));
    expect(page.items.map((i) => [i.profileId === survivor ? "ada" : "bo", i.enteredAt])).toEqual([
      ["bo", "2026-11-23T09:40:00.000Z"],
      ["ada", "2026-11-23T09:10:00.000Z"],
    ]);
    const adas = await json<Page>(server.admin(`/api/v1/journeys/welcome/instances?profileId=${mergedAway}`));
    expect(adas.items.map((i) => i.profileId)).toEqual([survivor]);
  });
});
