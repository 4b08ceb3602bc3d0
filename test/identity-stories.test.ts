import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ pipeline: true });
});
afterAll(() => server.close());

interface Profile {
  id: string;
  traits: Record<string, unknown>;
  identities: Array<{ type: string; value: string }>;
  mergedFrom: Array<{ id: string; cause: string }>;
  eventCount: number;
}

async function profilesBy(query: string): Promise<Profile[]> {
  const res = await server.admin(`/api/v1/profiles?${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: Profile[] }).items;
}

describe("an anonymous visitor browses, then logs in", () => {
  it("ends as one profile holding both ids, with the whole history", async () => {
    await server.track("/v1/page", { anonymousId: "visitor-1", name: "Home" });
    await server.track("/v1/track", { anonymousId: "visitor-1", event: "Product Viewed" });
    await server.track("/v1/identify", {
      anonymousId: "visitor-1",
      userId: "ada",
      traits: { email: "ada@example.com", name: "Ada" },
    });
    await server.track("/v1/track", { userId: "ada", event: "Order Completed" });
    await drained(server);

    const [byUser] = await profilesBy("userId=ada");
    expect(byUser).toBeDefined();
    expect(await profilesBy("anonymousId=visitor-1")).toEqual([byUser]);
    expect(byUser!.identities).toEqual([
      { type: "anonymous_id", value: "visitor-1" },
      { type: "email", value: "ada@example.com" },
      { type: "user_id", value: "ada" },
    ]);
    expect(byUser!.traits).toMatchObject({ email: "ada@example.com", name: "Ada" });
    expect(byUser!.eventCount).toBe(4);
    const history = await server.admin(`/api/v1/profiles/${byUser!.id}/events`);
    const events = ((await history.json()) as { items: Array<{ type: string }> }).items;
    expect(events.map((e) => e.type)).toEqual(["track", "identify", "track", "page"]);
  });
});

describe("a second device", () => {
  it("merges into the known user on identify, and the merged id answers with the survivor", async () => {
    await server.track("/v1/track", { anonymousId: "phone-1", event: "App Opened" });
    await server.track("/v1/identify", { userId: "bob", traits: { plan: "pro" } });
    await drained(server);
    const [phone] = await profilesBy("anonymousId=phone-1");
    const [bob] = await profilesBy("userId=bob");
    expect(phone!.id).not.toBe(bob!.id);

    await server.track("/v1/identify", { userId: "bob", anonymousId: "phone-1" });
    await drained(server);
    const [merged] = await profilesBy("userId=bob");
    expect(merged!.identities.map((i) => i.value).sort()).toEqual(["bob", "phone-1"]);
    expect(merged!.mergedFrom.map((m) => m.cause)).toEqual(["identify: shared anonymous_id"]);
    const old = await server.admin(`/api/v1/profiles/${merged!.mergedFrom[0]!.id}`);
    expect(((await old.json()) as Profile).id).toBe(merged!.id);
    expect(merged!.eventCount).toBe(3);
  });
});

describe("searching profiles page by page", () => {
  it("returns each match once, in id order, and no cursor after the last page", async () => {
    for (const name of ["pager-a", "pager-b", "pager-c", "pager-d", "pager-e"]) {
      await server.track("/v1/identify", { userId: name, traits: { team: "paging-crew" } });
    }
    await drained(server);
    const seen: Profile[] = [];
    const cursors: Array<string | null> = [];
    let cursor: string | null = null;
    do {
      const res = await server.admin(
        `/api/v1/profiles?query=paging-crew&limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      expect(res.status).toBe(200);
      const page = (await res.json()) as { items: Profile[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items);
      cursor = page.nextCursor;
      cursors.push(cursor);
    } while (cursor && cursors.length < 10);
    // 5 matches at 2 a page: 3 pages, the last one without a cursor.
    expect(cursors.map((c) => c !== null)).toEqual([true, true, false]);
    expect(seen.map((p) => p.identities.find((i) => i.type === "user_id")!.value).sort()).toEqual([
      "pager-a",
      "pager-b",
      "pager-c",
      "pager-d",
      "pager-e",
    ]);
    const ids = seen.map((p) => p.id);
    expect(ids).toEqual([...ids].sort());
    expect(new Set(ids).size).toBe(5);
    // Exactly a page's worth of matches: one page, no cursor.
    const exact = await server.admin("/api/v1/profiles?query=paging-crew&limit=5");
    expect(((await exact.json()) as { nextCursor: string | null }).nextCursor).toBeNull();
  });
});
