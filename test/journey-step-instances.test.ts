import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { publish } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { json } from "./support/responses.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

interface Page {
  items: Array<{ profileId: string; status: string; currentStep: string | null }>;
  nextCursor: string | null;
}

describe("the people at one step of a journey (the map's side panel)", () => {
  let server: TestServer;
  const track = async (body: Record<string, unknown>) => {
    expect((await server.track("/v1/track", body)).status).toBe(200);
  };
  const at = (query: string) => json<Page>(server.admin(`/api/v1/journeys/checkout/instances?${query}`));

  beforeAll(async () => {
    server = await startTestServer({ pipeline: true });
    await publish(server, {
      key: "checkout",
      name: "Checkout",
      trigger: { event: "Checkout Started" },
      steps: [
        { id: "hold", hold_until: { events: [{ id: "paid", event: "Order Paid" }], timeout: "1d" } },
        { id: "done", exit: { reason: "paid" } },
      ],
    });
    for (const userId of ["ann", "bob", "cy"]) await track({ userId, event: "Checkout Started" });
    await drained(server);
    await track({ userId: "bob", event: "Order Paid" });
    await drained(server);
  });
  afterAll(() => server?.close());

  it("lists those waiting at the hold, and the one who ended at the exit step", async () => {
    const holding = await at("step=hold");
    expect(holding.items.map((i) => [i.status, i.currentStep])).toEqual([
      ["active", "hold"],
      ["active", "hold"],
    ]);
    const ended = await at("step=done");
    expect(ended.items.map((i) => [i.status, i.currentStep])).toEqual([["completed", "done"]]);
  });

  it("pages through a step's people, and combines with status", async () => {
    const first = await at("step=hold&limit=1");
    expect(first.items).toHaveLength(1);
    const second = await at(`step=hold&limit=1&cursor=${first.nextCursor}`);
    expect(second.items).toHaveLength(1);
    expect(second.items[0]!.profileId).not.toBe(first.items[0]!.profileId);
    expect(second.nextCursor).toBeNull();
    expect((await at("step=done&status=active")).items).toEqual([]);
    expect((await at("step=nowhere")).items).toEqual([]);
  });
});
