import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startReceiver, type Receiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { openWeb, type WebSession } from "./support/web.ts";

const LONG = { timeout: 20_000, interval: 250 };
/** An edge is an SVG group: a straight one has no width, so only its presence is awaited. */
const ATTACHED = { state: "attached" } as const;

/** The number a step's box shows ("entered", "waiting" or "exited"). */
function stat(page: Page, step: string, which: "entered" | "waiting" | "exited"): Promise<string> {
  return page.getByTestId(`stats-${step}`).locator(`[data-stat="${which}"]`).innerText();
}

/** Drags a way out of a step (its handle) onto another step's box. */
async function dragWay(page: Page, handle: Locator, target: Locator) {
  const from = (await handle.boundingBox())!;
  const to = (await target.boundingBox())!;
  await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(to.x + to.width / 2, to.y + 10, { steps: 12 });
  await page.mouse.move(to.x + to.width / 2, to.y + 4, { steps: 4 });
  await page.mouse.up();
}

describe("a marketer builds a journey on the map, publishes it and follows people through it", () => {
  let server: TestServer;
  let receiver: Receiver;
  let web: WebSession;
  beforeAll(async () => {
    receiver = await startReceiver("127.0.0.1");
    server = await startTestServer({ pipeline: true });
    web = await openWeb(server);
  }, 60_000);
  afterAll(async () => {
    await web?.close();
    await server?.close();
    await receiver?.close();
  });

  const track = async (body: Record<string, unknown>) => {
    const res = await server.track("/v1/track", body);
    expect(res.status).toBe(200);
  };

  it("says how to create the first journey: in the app, or as YAML with the CLI", async () => {
    const { page } = web;
    await web.open("/journeys");
    await page.getByRole("heading", { name: "No journeys yet" }).waitFor();
    const text = await page.locator("main").innerText();
    expect(text).toContain("npx waymark journeys apply -f welcome.yaml");
    await web.screenshot("journeys-list-empty");

    // A deep link to a journey that does not exist says so, with the way back.
    await web.open("/journeys/no-such-journey");
    await page.getByRole("heading", { name: "There is no journey “no-such-journey”" }).waitFor();
    await page.getByRole("link", { name: "All journeys" }).click();
    await page.getByRole("heading", { name: "No journeys yet" }).waitFor();
    // The refused GET is the one browser error this is expected to log.
    expect(web.errors).toEqual([expect.stringContaining("404")]);
    web.errors.length = 0;
  });

  it("creates a draft and builds trigger → hold until (event or timeout) → webhook → exit in the editor", async () => {
    const { page } = web;
    await page.getByRole("button", { name: "New journey" }).first().click();
    const dialog = page.getByRole("dialog", { name: "New journey" });
    await dialog.getByLabel("Name").fill("Order follow-up");
    expect(await dialog.getByLabel("Key").inputValue()).toBe("order-follow-up");
    await dialog.getByLabel("Starts when this event arrives").fill("Order Placed");
    await dialog.getByRole("button", { name: "Create draft" }).click();
    await page.waitForURL(/\/journeys\/order-follow-up\?edit=1$/);
    await page.getByRole("button", { name: "Order Placed (trigger)" }).waitFor();
    await page.getByText("No problems: the draft can be published.").waitFor();

    // The starter step becomes a hold until "Order Paid", with a 1 h timeout.
    await page.getByRole("button", { name: "wait_a_day (wait)" }).click();
    let form = page.getByRole("form", { name: "Step wait_a_day" });
    await form.getByLabel("What it does").selectOption({ label: "Hold until" });
    await form.getByLabel("Step id").fill("hold");
    await form.getByLabel("Step id").press("Enter");
    form = page.getByRole("form", { name: "Step hold" });
    await form.getByLabel("Name").fill("Wait for payment");
    const branch = form.getByRole("group", { name: "Event 1" });
    await branch.getByLabel("ID").fill("paid");
    await branch.getByLabel("Event", { exact: true }).fill("Order Paid");
    await form.getByLabel("Timeout", { exact: true }).fill("1h");
    await page.getByRole("button", { name: "Wait for payment (hold until)" }).waitFor();

    // A webhook after it, to a real receiver; a wrong URL is a problem the validator names at once.
    await page.getByLabel("New step").selectOption({ label: "Webhook" });
    await page.getByRole("button", { name: "Add step" }).click();
    form = page.getByRole("form", { name: "Step webhook" });
    await form.getByLabel("Step id").fill("notify");
    await form.getByLabel("Step id").press("Enter");
    form = page.getByRole("form", { name: "Step notify" });
    await form.getByLabel("URL").fill("not a url");
    const problems = page.getByRole("list", { name: "Problems", exact: true });
    await expect.poll(() => problems.innerText()).toContain("must be an http:// or https:// URL");
    await expect
      .poll(() => page.getByRole("button", { name: "notify (webhook)" }).innerText())
      .toContain("1 problem");
    await form.getByLabel("URL").fill(`${receiver.url}/paid`);
    await form.getByLabel(/^Body/).fill('{ "order": "{{ event.properties.order_id }}" }');
    await page.getByText("No problems: the draft can be published.").waitFor();

    // An exit step; the hold's timeout is dragged onto it (paid goes on to the webhook in order).
    await page.getByLabel("New step").selectOption({ label: "Exit" });
    await page.getByRole("button", { name: "Add step" }).click();
    form = page.getByRole("form", { name: "Step exit" });
    await form.getByLabel("Step id").fill("done");
    await form.getByLabel("Step id").press("Enter");
    await page.getByRole("button", { name: "done (exit)" }).waitFor();
    await expect.poll(() => page.getByRole("img", { name: "hold to notify (timeout)" }).count()).toBe(1);
    await dragWay(
      page,
      page.getByLabel('way out "timeout" of Wait for payment'),
      page.getByRole("button", { name: "done (exit)" }),
    );
    await page.getByRole("img", { name: "hold to done (timeout)" }).waitFor(ATTACHED);
    await page.getByRole("img", { name: "hold to notify (paid)" }).waitFor(ATTACHED);
    await page.getByRole("img", { name: "notify to done" }).waitFor(ATTACHED);
    // A step added after the exit is unreachable, which the validator says; deleting it clears that.
    await page.getByLabel("New step").selectOption({ label: "Split" });
    await page.getByRole("button", { name: "Add step" }).click();
    await expect
      .poll(() => problems.innerText())
      .toContain('step "split" is unreachable from the first step');
    await page.getByRole("form", { name: "Step split" }).getByRole("button", { name: "Delete step" }).click();
    await page
      .getByRole("dialog", { name: "Delete step “split”?" })
      .getByRole("button", { name: "Delete" })
      .click();
    await page.getByText("No problems: the draft can be published.").waitFor();
    expect(await page.getByRole("button", { name: "split (split)" }).count()).toBe(0);
    // The form shows the connection too.
    await page.getByRole("button", { name: "Wait for payment (hold until)" }).click();
    form = page.getByRole("form", { name: "Step hold" });
    expect(await form.getByLabel("On timeout").inputValue()).toBe("done");

    await page.getByRole("button", { name: "Save draft" }).click();
    await page.getByText("Draft saved").waitFor();
    await web.screenshot("journeys-editor");
  });

  it("publishes after showing the draft against what is published", async () => {
    const { page } = web;
    await page.getByRole("button", { name: "Publish…" }).click();
    const dialog = page.getByRole("dialog", { name: "Publish version 1" });
    const changes = dialog.getByRole("region", { name: "Changes" });
    expect(await changes.innerText()).toMatch(/^\+\s+"event": "Order Paid",?$/m);
    await web.screenshot("journeys-publish");
    await dialog.getByRole("button", { name: "Publish v1" }).click();
    await page.getByText(/v1 published/).waitFor();
    await page.getByRole("button", { name: "Edit journey" }).waitFor();
    expect(await page.locator(".page-header").innerText()).toContain("active");
  });

  it("counts people on the map as events arrive, and calls the webhook", async () => {
    const { page } = web;
    await track({ userId: "ann", event: "Order Placed" });
    await track({ userId: "bob", event: "Order Placed" });
    await expect.poll(() => stat(page, "hold", "waiting"), LONG).toBe("2");
    expect(await stat(page, "hold", "entered")).toBe("2");
    expect(await stat(page, "notify", "entered")).toBe("0");

    await track({ userId: "ann", event: "Order Paid", properties: { order_id: "o-1" } });
    const [hook] = await receiver.waitFor(1, 20_000);
    expect(hook!.path).toBe("/paid");
    expect(hook!.body).toEqual({ order: "o-1" });
    await expect.poll(() => stat(page, "hold", "waiting"), LONG).toBe("1");
    expect(await stat(page, "hold", "exited")).toBe("1");
    expect(await stat(page, "notify", "entered")).toBe("1");
    expect(await stat(page, "done", "entered")).toBe("1");
    await expect.poll(() => page.getByTestId("total-active").innerText(), LONG).toContain("1");
    await web.screenshot("journeys-map");
  });

  it("lists the journey with its status, version and the people in it now", async () => {
    const { page } = web;
    await page.getByRole("link", { name: "All journeys" }).click();
    const row = page.getByRole("row", { name: /Order follow-up/ });
    await row.waitFor();
    expect(await row.innerText()).toContain("active");
    expect(await row.innerText()).toContain("v1");
    await expect.poll(() => page.getByTestId("active-order-follow-up").innerText(), LONG).toBe("1");
    await web.screenshot("journeys-list");
    await page.getByRole("link", { name: "Order follow-up" }).click();
    await page.getByRole("button", { name: "Wait for payment (hold until)" }).waitFor();
  });

  it("shows who is at a step, and one person's timeline and path", async () => {
    const { page } = web;
    // A step opens from the keyboard too.
    await page.getByRole("button", { name: "Wait for payment (hold until)" }).focus();
    await page.keyboard.press("Enter");
    const waiting = page.getByRole("list", { name: "People at Wait for payment" });
    await expect.poll(() => waiting.getByRole("listitem").count(), LONG).toBe(1);
    expect(await waiting.innerText()).toContain("active");

    await page.getByRole("button", { name: "done (exit)" }).click();
    const ended = page.getByRole("list", { name: "People at done" });
    await expect.poll(() => ended.getByRole("listitem").count(), LONG).toBe(1);
    expect(await ended.innerText()).toContain("completed");
    await ended.getByRole("link").click();
    await page.waitForURL(/\/instances\/[0-9a-f-]+$/);

    const timeline = page.getByRole("list", { name: "Timeline" });
    await expect.poll(() => timeline.innerText(), LONG).toContain("Webhook sent");
    const text = await timeline.innerText();
    expect(text).toContain("triggered by Order Placed");
    expect(text).toContain("Order Paid matched branch paid");
    expect(text).toContain(`POST ${receiver.url}/paid`);
    expect(text).toContain("reached exit step done");
    expect(await page.getByTestId("ended").innerText()).toContain("reached exit step done");

    // The path: every step visited, the ways taken marked, the timeout not.
    for (const step of [
      "Order Placed (trigger)",
      "Wait for payment (hold until)",
      "notify (webhook)",
      "done (exit)",
    ])
      await page.getByRole("button", { name: `${step}, visited` }).waitFor();
    await page.getByRole("img", { name: "hold to notify (paid), taken" }).waitFor(ATTACHED);
    await page.getByRole("img", { name: "notify to done, taken" }).waitFor(ATTACHED);
    expect(await page.getByRole("img", { name: "hold to done (timeout)" }).count()).toBe(1);
    await web.screenshot("journeys-instance");
  });

  it("pauses and resumes the journey", async () => {
    const { page } = web;
    await page.getByRole("link", { name: "Order follow-up" }).first().click();
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByText(/Paused: nobody new enters/).waitFor();
    expect(await page.locator(".page-header").innerText()).toContain("paused");
    await page.getByRole("button", { name: "Resume" }).click();
    await page.getByRole("button", { name: "Pause" }).waitFor();
    expect(await page.locator(".page-header").innerText()).toContain("active");
  });

  it("shows what an edit changes against the published version, then publishes v2", async () => {
    const { page } = web;
    await page.getByRole("button", { name: "Edit journey" }).click();
    await page.getByRole("button", { name: "Wait for payment (hold until)" }).click();
    const form = page.getByRole("form", { name: "Step hold" });
    await form.getByLabel("Timeout", { exact: true }).fill("2h");
    await page.getByText("Unsaved changes").waitFor();
    await page.getByRole("button", { name: "Publish…" }).click();
    const dialog = page.getByRole("dialog", { name: "Publish version 2" });
    const changes = await dialog.getByRole("region", { name: "Changes" }).innerText();
    expect(changes).toMatch(/^-\s+"timeout": "1h",?$/m);
    expect(changes).toMatch(/^\+\s+"timeout": "2h",?$/m);
    expect(changes).not.toContain("Order Placed");
    await web.screenshot("journeys-publish-diff");
    await dialog.getByRole("button", { name: "Publish v2" }).click();
    await page.getByText(/v2 published/).waitFor();
    expect(web.errors).toEqual([]);
  });
});
