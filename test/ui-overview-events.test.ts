import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { Analytics } from "@segment/analytics-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, post, publish } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { startSmtpServer, type TestSmtpServer } from "./support/smtp.ts";
import { openWeb, type WebSession } from "./support/web.ts";
import { jsonBody } from "./support/responses.ts";

/** Sends calls with the real Segment SDK pointed at the test server, and waits until it has flushed. */
async function viaSegment(server: TestServer, send: (analytics: Analytics) => void): Promise<void> {
  const errors: unknown[] = [];
  const analytics = new Analytics({ writeKey: server.keys.writeKey, host: server.url, flushInterval: 50 });
  analytics.on("error", (err) => errors.push(err));
  send(analytics);
  await analytics.closeAndFlush({ timeout: 10_000 });
  expect(errors).toEqual([]);
}

describe("the events debugger, watching a shop's events arrive", () => {
  let server: TestServer;
  let web: WebSession;
  beforeAll(async () => {
    server = await startTestServer({ pipeline: true });
    web = await openWeb(server);
  }, 60_000);
  afterAll(async () => {
    await web?.close();
    await server?.close();
  });

  it("shows events sent with the Segment SDK while the page is open, newest on top", async () => {
    const { page } = web;
    await web.open("/events");
    await page.getByRole("heading", { name: "No events yet" }).waitFor();
    await web.screenshot("events-empty");

    await viaSegment(server, (a) => {
      a.identify({ userId: "ada", traits: { email: "ada@example.com", plan: "pro" } });
      a.track({ userId: "ada", event: "Product Added", properties: { product_id: "p-1", price: 12.5 } });
      a.page({ userId: "ada", name: "Pricing", properties: { path: "/pricing" } });
    });
    await viaSegment(server, (a) => {
      a.track({ userId: "bo", event: "Order Completed", properties: { total: 42, currency: "EUR" } });
    });

    const stream = page.getByTestId("event-stream");
    await stream.getByRole("button", { name: /^Order Completed/ }).waitFor();
    await stream.getByRole("button", { name: /^Product Added/ }).waitFor();
    const rows = stream.locator("tbody tr");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(4);
    // Newest on top: Bo's order was sent after Ada's three calls.
    expect(await rows.first().innerText()).toContain("Order Completed");
    expect(await rows.last().innerText()).toContain("Identify");
  });

  it("narrows the stream by type, event name and user id", async () => {
    const { page } = web;
    const rows = page.getByTestId("event-stream").locator("tbody tr");

    await page.getByLabel("Type").selectOption("track");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(2);
    await page.getByLabel("Event name").fill("Product Added");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(1);
    expect(await rows.first().innerText()).toContain("ada");
    // The filters live in the address, so a reload keeps them.
    expect(new URL(page.url()).searchParams.get("event")).toBe("Product Added");

    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(4);
    await page.getByLabel("User ID").fill("bo");
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(1);
    expect(await rows.first().innerText()).toContain("Order Completed");

    await page.getByLabel("User ID").fill("nobody");
    await page.getByRole("heading", { name: "No events match these filters" }).waitFor();
    await page.getByRole("button", { name: "Clear filters" }).click();
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBe(4);
  });

  it("opens an event's full JSON", async () => {
    const { page } = web;
    await page
      .getByTestId("event-stream")
      .getByRole("button", { name: /^Product Added/ })
      .click();
    const detail = page.getByRole("complementary", { name: "Event details" });
    await detail.getByRole("heading", { name: "Product Added" }).waitFor();
    const json = JSON.parse(await detail.locator("pre.json").innerText()) as Record<string, unknown>;
    expect(json).toMatchObject({
      type: "track",
      event: "Product Added",
      userId: "ada",
      properties: { product_id: "p-1", price: 12.5 },
      context: { library: { name: "@segment/analytics-node" } },
    });
    await web.screenshot("events-stream");
  });

  it("holds the stream while paused and catches up on resume", async () => {
    const { page } = web;
    const stream = page.getByTestId("event-stream");
    await page.getByRole("button", { name: "Pause" }).click();
    await page.getByRole("button", { name: "Resume" }).waitFor();
    await viaSegment(server, (a) => a.track({ userId: "cy", event: "Checkout Started" }));
    // The event is stored, yet the paused page does not show it.
    await expect
      .poll(async () => {
        const res = await server.admin("/api/v1/events?event=Checkout%20Started");
        return ((await res.json()) as { items: unknown[] }).items.length;
      })
      .toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await stream.getByRole("button", { name: /^Checkout Started/ }).count()).toBe(0);

    await page.getByRole("button", { name: "Resume" }).click();
    await stream.getByRole("button", { name: /^Checkout Started/ }).waitFor();
    expect(await stream.locator("tbody tr").first().innerText()).toContain("Checkout Started");
  });

  it("lists a refused message with its reason", async () => {
    const { page } = web;
    const res = await server.track("/v1/track", { event: "No Identity", messageId: "bad-1" });
    expect(res.status).toBe(400);

    await page.getByRole("tab", { name: "Rejected" }).click();
    const list = page.getByTestId("rejected-list");
    await list.getByRole("button", { name: "track: userId or anonymousId is required" }).click();
    const detail = page.getByRole("complementary", { name: "Rejected message" });
    await detail.getByText("track: userId or anonymousId is required").waitFor();
    expect(JSON.parse(await detail.locator("pre.json").innerText())).toMatchObject({
      event: "No Identity",
      messageId: "bad-1",
    });
    expect(await list.locator("tbody tr").first().innerText()).toContain("missing_identity");
    await web.screenshot("events-rejected");
    expect(web.errors).toEqual([]);
  });
});

describe("the overview, from a new workspace to a busy one", () => {
  let server: TestServer;
  let smtp: TestSmtpServer;
  let web: WebSession;
  beforeAll(async () => {
    smtp = await startSmtpServer();
    server = await startTestServer({ pipeline: true });
    web = await openWeb(server);
  }, 60_000);
  afterAll(async () => {
    await web?.close();
    await server?.close();
    await smtp?.close();
  });
  const stat = (id: string) => web.page.getByTestId(id).locator(".stat-value").innerText();

  it("tells a new workspace how to send its first event, and its curl snippet works as pasted", async () => {
    const { page } = web;
    await web.open("/");
    await page.getByRole("heading", { name: "Send your first event" }).waitFor();
    expect(await page.getByTestId("write-key").innerText()).toBe(server.keys.writeKey);
    const curl = await page.getByLabel("curl snippet").innerText();
    expect(curl).toContain(`${server.url}/v1/track`);
    expect(curl).toContain(`-u '${server.keys.writeKey}:'`);
    await web.screenshot("overview-empty");

    await page.getByRole("tab", { name: "analytics.js" }).click();
    const browser = await page.getByLabel("analytics.js snippet").innerText();
    expect(browser).toContain(`writeKey: "${server.keys.writeKey}"`);
    expect(browser).toContain(`cdnURL: "${server.url}"`);

    // The snippet, run in a shell as a user would paste it; the page notices the event by itself.
    const { stdout } = await promisify(execFile)("bash", ["-c", curl]);
    expect(JSON.parse(stdout)).toMatchObject({ success: true });
    await page.getByTestId("stat-events-today").waitFor({ timeout: 30_000 });
    expect(await stat("stat-events-today")).toBe("1");
  });

  // Its waits (drained, the SMTP delivery, the polls of the page's figures) may each take up to 30 s on
  // a loaded machine: the test's own limit must be above them (it timed out once at 30 s in a full run).
  it("shows today's events, live instances, messages sent and skipped, and the pipeline's lag", async () => {
    const { page } = web;
    const channel = await server.admin("/api/v1/channels/email", {
      method: "PUT",
      ...jsonBody({
        provider: "smtp",
        host: smtp.host,
        port: smtp.port,
        secure: false,
        from: "Shop <shop@example.com>",
      }),
    });
    expect(channel.status).toBe(200);
    await publish(server, {
      key: "welcome",
      name: "Welcome",
      trigger: { event: "Signed Up" },
      steps: [{ id: "a_day", wait: { duration: "1d" } }],
    });
    const topic = await server.admin("/api/v1/topics/newsletter", {
      method: "PUT",
      ...jsonBody({ name: "Newsletter", channels: ["email"], default: "opt_out" }),
    });
    expect(topic.status).toBe(200);
    const template = await server.admin("/api/v1/templates/news", {
      method: "PUT",
      ...jsonBody({ channel: "email", subject: "News", html: "<p>Hello</p>" }),
    });
    expect(template.status).toBe(200);

    await viaSegment(server, (a) => {
      for (const name of ["ada", "bo"]) {
        a.identify({ userId: name, traits: { email: `${name}@example.com` } });
        a.track({ userId: name, event: "Signed Up" });
      }
      a.track({ userId: "ada", event: "Product Added", properties: { price: 10 } });
    });
    await drained(server);
    const optOut = await server.admin("/api/v1/profiles?userId=bo");
    const bo = ((await optOut.json()) as { items: Array<{ id: string }> }).items[0]!;
    await server.admin(`/api/v1/profiles/${bo.id}/subscriptions`, {
      method: "PUT",
      ...jsonBody([{ topic: "newsletter", channel: "email", status: "unsubscribed" }]),
    });
    for (const userId of ["ada", "bo"])
      expect(
        (
          await post(server, "/api/v1/send", {
            template: "news",
            to: { userId },
            transactional: false,
            topic: "newsletter",
          })
        ).status,
      ).toBe(202);
    await smtp.waitFor(1);
    await eventually(async () => {
      const res = await server.admin("/api/v1/messages?status=skipped");
      return ((await res.json()) as { items: unknown[] }).items.length === 1 ? true : undefined;
    }, "Bo's newsletter to be skipped");
    await drained(server);
    // What the API counts is what the page must show: the curl event, five SDK calls, and the outcome
    // events Waymark recorded for the two messages.
    const events = ((await (await server.admin("/api/v1/events?limit=1000")).json()) as { items: unknown[] })
      .items;

    await web.open("/");
    await page.getByTestId("stat-events-today").waitFor();
    await expect.poll(() => stat("stat-events-today"), { timeout: 30_000 }).toBe(String(events.length));
    await expect.poll(() => stat("stat-live-instances"), { timeout: 30_000 }).toBe("2");
    expect(await stat("stat-messages-sent")).toBe("1");
    expect(await stat("stat-messages-skipped")).toBe("1");
    expect(await stat("stat-pipeline-lag")).toMatch(/^(0 s|< 1 s|\d+ s)$/);
    expect(Number(await stat("stat-events-per-minute"))).toBeGreaterThan(0);
    expect(await page.getByTestId("stat-live-instances").innerText()).toContain("1 active journey");
    await page
      .getByRole("img", { name: /Events received per 5 min/ })
      .locator("canvas")
      .waitFor();
    await page
      .getByRole("img", { name: /Messages sent, skipped and failed/ })
      .locator("canvas")
      .waitFor();
    await web.screenshot("overview");
    expect(web.errors).toEqual([]);
  }, 90_000);
});
