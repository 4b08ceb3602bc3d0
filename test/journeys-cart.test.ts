import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { startReceiver, type Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

/** The abandoned cart of the issue, as a user writes it, pointed at a local receiver. */
function cartJourney(hook: string) {
  return {
    key: "abandoned-cart",
    name: "Abandoned cart",
    trigger: { event: "Product Added" },
    entry: { key: "{{ event.properties.cart_id }}", reentry: "after_exit", maxPerProfile: 25 },
    context: {
      collections: {
        cart: {
          id: "{{ event.properties.product_id }}",
          upsert: ["Product Added"],
          remove: ["Product Removed"],
        },
      },
      lookups: { product: { table: "products", key: "{{ context.trigger.properties.product_id }}" } },
    },
    exits: [{ event: "Order Completed" }],
    goal: { event: "Order Completed", within: "7d" },
    steps: [
      {
        id: "wait_checkout",
        hold_until: {
          events: [{ id: "checkout", event: "Checkout Started", next: "done" }],
          timeout: "1h",
          resetOn: ["Product Added", "Product Removed"],
          onTimeout: "remind",
        },
      },
      {
        id: "remind",
        webhook: {
          url: `${hook}/hooks/cart`,
          body: {
            email: "{{ profile.traits.email }}",
            items: "{{ context.cart }}",
            first: "{{ context.product.name }}",
          },
        },
      },
      { id: "done", exit: {} },
    ],
  };
}

interface InstanceBody {
  id: string;
  key: string;
  status: string;
  currentStep: string;
  context: Record<string, unknown>;
  timeline: Array<{
    kind: string;
    step: string | null;
    reason: string;
    data: Record<string, unknown> | null;
  }>;
}

describe("the abandoned cart journey", () => {
  let server: TestServer;
  let receiver: Receiver;
  let clock = new Date("2026-03-02T10:00:00.000Z");
  const later = (ms: number) => (clock = new Date(clock.getTime() + ms));
  const MIN = 60_000;

  const track = async (event: string, properties: Record<string, unknown>, userId = "u1") => {
    const res = await server.track("/v1/track", { userId, event, properties });
    expect(res.status).toBe(200);
  };
  const instances = async (query = "") => {
    const res = await server.admin(`/api/v1/journeys/abandoned-cart/instances?userId=u1${query}`);
    expect(res.status).toBe(200);
    return ((await res.json()) as { items: InstanceBody[] }).items;
  };
  const instance = async (key: string) => {
    const found = (await instances()).find((i) => i.key === key);
    expect(found, `an instance for cart ${key}`).toBeDefined();
    const res = await server.admin(`/api/v1/instances/${found!.id}`);
    return (await res.json()) as InstanceBody;
  };

  beforeAll(async () => {
    receiver = await startReceiver("127.0.0.1");
    server = await startTestServer({ pipeline: true, now: () => clock });
    const table = await server.admin("/api/v1/tables/products", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        key: "product_id",
        rows: [
          { product_id: "p1", name: "Socks", price: 9.5 },
          { product_id: "p2", name: "Hat", price: 20 },
        ],
      }),
    });
    expect(table.status).toBe(200);
    const put = await server.admin("/api/v1/journeys/abandoned-cart", {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(cartJourney(receiver.url)),
    });
    expect(put.status).toBe(200);
    expect(((await put.json()) as { violations: unknown[] }).violations).toEqual([]);
    const published = await server.admin("/api/v1/journeys/abandoned-cart/publish", { method: "POST" });
    expect(published.status).toBe(200);
    await server.track("/v1/identify", { userId: "u1", traits: { email: "ada@example.com" } });
  });
  afterAll(async () => {
    await server?.close();
    await receiver?.close();
  });

  it("runs two carts of one person as two instances", async () => {
    await track("Product Added", { cart_id: "c1", product_id: "p1", price: 9.5 });
    await track("Product Added", { cart_id: "c2", product_id: "p2", price: 20 });
    await drained(server);
    const live = await instances("&status=active");
    expect(live.map((i) => i.key).sort()).toEqual(["c1", "c2"]);
    expect(live.every((i) => i.currentStep === "wait_checkout")).toBe(true);
  });

  it("takes the done branch on checkout, for that cart only", async () => {
    later(10 * MIN);
    await track("Checkout Started", { cart_id: "c2" });
    await drained(server);
    const c2 = await instance("c2");
    expect(c2.status).toBe("completed");
    expect(c2.timeline.map((t) => t.kind)).toContain("event_matched");
    expect(c2.timeline.find((t) => t.kind === "event_matched")!.reason).toContain("checkout");
    expect((await instance("c1")).status).toBe("active");
  });

  it("restarts the timer on activity and sends the reminder with the right items and the product looked up", async () => {
    later(40 * MIN); // 50 min after the first add
    await track("Product Added", { cart_id: "c1", product_id: "p2", price: 20 });
    await track("Product Removed", { cart_id: "c1", product_id: "p1" });
    await drained(server);
    const reset = await instance("c1");
    expect(reset.timeline.filter((t) => t.kind === "timer_reset")).toHaveLength(2);

    later(30 * MIN); // past the first hour, but not an hour after the last activity
    await new Promise((r) => setTimeout(r, 300)); // several timer rounds
    expect(receiver.received).toHaveLength(0);
    expect((await instance("c1")).currentStep).toBe("wait_checkout");

    later(31 * MIN); // an hour after the last activity
    const [hook] = await receiver.waitFor(1);
    expect(hook!.path).toBe("/hooks/cart");
    expect(hook!.headers["webhook-id"]).toMatch(/^[0-9a-f-]{36}:1$/);
    // Signed per Standard Webhooks with the workspace's secret. (Webhook.verify also checks the
    // timestamp against the real clock, which this test pins elsewhere: the signature is checked as
    // verify does, on the id, timestamp and body received.)
    const { webhookSecret } = (await (await server.admin("/api/v1/workspace")).json()) as {
      webhookSecret: string;
    };
    const id = String(hook!.headers["webhook-id"]);
    const at = new Date(Number(hook!.headers["webhook-timestamp"]) * 1000);
    const signer = new Webhook(webhookSecret);
    expect(hook!.headers["webhook-signature"]).toBe(signer.sign(id, at, JSON.stringify(hook!.body)));
    expect(hook!.headers["webhook-signature"]).not.toBe(
      signer.sign(id, at, JSON.stringify({ forged: true })),
    );
    expect(hook!.body).toEqual({
      email: "ada@example.com",
      items: [{ cart_id: "c1", product_id: "p2", price: 20 }],
      first: "Socks",
    });
    const done = await eventually(async () => {
      const i = await instance("c1");
      return i.timeline.some((t) => t.kind === "webhook_sent") ? i : undefined;
    }, "the webhook outcome on the timeline");
    expect(done.status).toBe("completed");
    const kinds = done.timeline.map((t) => t.kind);
    expect(kinds).toEqual(
      expect.arrayContaining([
        "entered",
        "waiting",
        "timer_reset",
        "timed_out",
        "webhook_queued",
        "webhook_sent",
      ]),
    );
  });

  it("leaves at once on Order Completed, only the instance of that cart", async () => {
    await track("Product Added", { cart_id: "c3", product_id: "p1" });
    await track("Product Added", { cart_id: "c4", product_id: "p2" });
    await drained(server);
    await track("Order Completed", { cart_id: "c3" });
    await drained(server);
    const c3 = await instance("c3");
    expect(c3.status).toBe("exited");
    expect(c3.timeline.map((t) => t.kind)).toEqual(expect.arrayContaining(["goal_reached", "exited"]));
    expect((await instance("c4")).status).toBe("active");

    const stats = await (await server.admin("/api/v1/journeys/abandoned-cart/stats")).json();
    expect(stats.totals).toMatchObject({ entered: 4, active: 1, completed: 2, exited: 1, goalReached: 1 });
    const hold = stats.steps.find((s: { step: string }) => s.step === "wait_checkout");
    expect(hold).toMatchObject({ entered: 4, waiting: 1 });
    // Every step of the definition, in its order, also one nobody has reached.
    expect(stats.steps.map((s: { step: string }) => s.step)).toEqual(["wait_checkout", "remind", "done"]);
  });
});
