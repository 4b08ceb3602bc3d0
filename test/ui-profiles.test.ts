import { readFile } from "node:fs/promises";
import { Analytics } from "@segment/analytics-node";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, post, publish } from "./support/journeys.ts";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
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

/** Types into the profile search and waits for the server's answer to exactly that search. */
async function search(page: Page, text: string, by = "query"): Promise<void> {
  const answered = page.waitForResponse((r) => {
    const url = new URL(r.url());
    return url.pathname === "/api/v1/profiles" && url.searchParams.get(by) === text;
  });
  await page.getByLabel("Search profiles").fill(text);
  await answered;
}

describe("a support agent looks Ada up, exports her data and erases her", () => {
  let server: TestServer;
  let web: WebSession;
  let adaId: string;
  let message: { status: string; reason: string | null };
  beforeAll(async () => {
    server = await startTestServer({ pipeline: true });
    // A tiny journey, so that signing up leaves Ada waiting in it.
    await publish(server, {
      key: "welcome",
      name: "Welcome series",
      trigger: { event: "Signed Up" },
      steps: [{ id: "a_day", wait: { duration: "1d" } }],
    });
    await viaSegment(server, (a) => {
      a.identify({
        userId: "ada-1",
        anonymousId: "anon-ada",
        traits: { email: "ada@example.com", name: "Ada Lovelace", plan: "pro", city: "Berlin" },
      });
      a.track({ userId: "ada-1", event: "Signed Up", properties: { source: "landing" } });
      a.track({ userId: "ada-1", event: "Product Added", properties: { product_id: "p-7", price: 30 } });
      a.identify({ userId: "bo-2", traits: { email: "bo@example.com", name: "Bo Rivera", plan: "free" } });
    });
    await drained(server);
    const found = await server.admin("/api/v1/profiles?email=ada@example.com");
    adaId = ((await found.json()) as { items: Array<{ id: string }> }).items[0]!.id;

    // Her choices and a message to her, so those tabs have something to show.
    const topic = await server.admin("/api/v1/topics/newsletter", {
      method: "PUT",
      ...jsonBody({ name: "Newsletter", channels: ["email"], default: "opt_in" }),
    });
    expect(topic.status).toBe(200);
    const choice = await server.admin(`/api/v1/profiles/${adaId}/subscriptions`, {
      method: "PUT",
      ...jsonBody([{ topic: "newsletter", channel: "email", status: "unsubscribed" }]),
    });
    expect(choice.status).toBe(200);
    const template = await server.admin("/api/v1/templates/receipt", {
      method: "PUT",
      ...jsonBody({ channel: "email", subject: "Your receipt", html: "<p>Thanks</p>" }),
    });
    expect(template.status).toBe(200);
    expect(
      (await post(server, "/api/v1/send", { template: "receipt", to: { userId: "ada-1" } })).status,
    ).toBe(202);
    // No email channel is set up: the message ends without being sent, with the reason the page shows.
    message = await eventually(async () => {
      const res = await server.admin(`/api/v1/messages?profileId=${adaId}`);
      const [m] = ((await res.json()) as { items: Array<{ status: string; reason: string | null }> }).items;
      return m && m.status !== "queued" ? m : undefined;
    }, "the receipt's outcome");

    web = await openWeb(server);
  }, 60_000);
  afterAll(async () => {
    await web?.close();
    await server?.close();
  });

  it("lists everyone, then finds Ada by email and by a trait", async () => {
    const { page } = web;
    await web.open("/profiles");
    const list = page.getByTestId("profile-list");
    const rows = () => list.locator("tbody tr").allInnerTexts();
    const one = (text: string) => [expect.stringContaining(text)];
    await expect.poll(rows, { timeout: 15_000 }).toHaveLength(2);
    await web.screenshot("profiles-list");

    await search(page, "ada@example.com");
    await expect.poll(rows, { timeout: 15_000 }).toEqual(one("Ada Lovelace"));
    // A trait value finds her too, and so does an exact email search, whatever its case.
    await search(page, "Berlin");
    await expect.poll(rows, { timeout: 15_000 }).toEqual(one("ada@example.com"));
    await page.getByLabel("Search in").selectOption("email");
    await search(page, "ADA@example.com", "email");
    await expect.poll(rows, { timeout: 15_000 }).toEqual(one("Ada Lovelace"));

    await search(page, "nobody@example.com", "email");
    await page.getByRole("heading", { name: /No profile matches/ }).waitFor();
    await web.screenshot("profiles-search-empty");
    await page.getByLabel("Search in").selectOption("query");
    await search(page, "pro");
    await expect.poll(rows, { timeout: 15_000 }).toEqual(one("Ada Lovelace"));
    await web.screenshot("profiles-search");
  });

  it("opens her profile: traits, identities and the event timeline", async () => {
    const { page } = web;
    await page.getByRole("link", { name: "Ada Lovelace" }).click();
    await page.waitForURL(new RegExp(`/profiles/${adaId}$`));
    await page.getByRole("heading", { name: "Ada Lovelace" }).waitFor();

    const traits = page.getByRole("definition").filter({ hasText: "Berlin" });
    expect(await traits.count()).toBe(1);
    const traitList = await page.getByLabel("Traits", { exact: true }).innerText();
    expect(traitList).toMatch(/plan\s+pro/);
    expect(traitList).toMatch(/email\s+ada@example.com/);
    const identities = await page.getByLabel("Identities", { exact: true }).innerText();
    expect(identities).toMatch(/User ID\s+ada-1/);
    expect(identities).toMatch(/Anonymous ID\s+anon-ada/);
    expect(identities).toMatch(/Email\s+ada@example.com/);
    // Her four events: identify, two tracks, and the receipt's outcome Waymark recorded for her.
    expect(await page.getByTestId("profile-events").innerText()).toMatch(/\b4$/);

    const timeline = page.getByTestId("profile-timeline");
    await expect.poll(() => timeline.locator("tbody tr").count(), { timeout: 15_000 }).toBe(4);
    const rows = await timeline.locator("tbody tr").allInnerTexts();
    expect(rows[0]).toMatch(/Email (Skipped|Failed)/);
    expect(rows[1]).toContain("Product Added");
    expect(rows[2]).toContain("Signed Up");
    expect(rows[3]).toContain("Identify");
    await timeline.getByRole("button", { name: "Signed Up" }).click();
    const opened = JSON.parse(await timeline.locator("pre.json").innerText()) as Record<string, unknown>;
    expect(opened).toMatchObject({ event: "Signed Up", userId: "ada-1", properties: { source: "landing" } });
    await web.screenshot("profile-page");
  });

  it("shows her messages and subscriptions", async () => {
    const { page } = web;
    await page.getByRole("tab", { name: "Messages" }).click();
    const messages = page.getByTestId("profile-messages");
    await messages.waitFor();
    const row = await messages.locator("tbody tr").first().innerText();
    expect(row).toContain("receipt");
    expect(row).toContain(message.status.replace("_", " "));
    if (message.reason) expect(row).toContain(message.reason);
    await web.screenshot("profile-messages");

    await page.getByRole("tab", { name: "Subscriptions" }).click();
    const subscriptions = await page.getByTestId("profile-subscriptions").innerText();
    expect(subscriptions).toMatch(/newsletter\s+email\s+unsubscribed\s+api/);
  });

  it("shows her journey instance, linking to its timeline", async () => {
    const { page } = web;
    await page.getByRole("tab", { name: "Journeys" }).click();
    const instances = page.getByTestId("profile-instances");
    await instances.waitFor();
    const row = await instances.locator("tbody tr").first().innerText();
    expect(row).toContain("Welcome series");
    expect(row).toContain("active");
    expect(row).toContain("a_day");
    await web.screenshot("profile-journeys");

    const res = await server.admin(`/api/v1/instances?profileId=${adaId}`);
    const [instance] = ((await res.json()) as { items: Array<{ id: string }> }).items;
    await instances.getByRole("link", { name: "Open instance of Welcome series" }).click();
    await page.waitForURL(new RegExp(`/instances/${instance!.id}$`));
    await page.goBack();
    await page.getByRole("heading", { name: "Ada Lovelace" }).waitFor();
  });

  it("exports her data as a JSON file", async () => {
    const { page } = web;
    await page.getByRole("button", { name: "Export" }).click();
    const dialog = page.getByRole("dialog", { name: "Export this person's data" });
    await dialog.waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      dialog.getByRole("button", { name: "Download JSON" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe(`waymark-profile-${adaId}.json`);
    const exported = JSON.parse(await readFile((await download.path())!, "utf8")) as {
      profile: { id: string; traits: Record<string, unknown> };
      events: unknown[];
      journeyInstances: Array<{ journey: string }>;
    };
    expect(exported.profile).toMatchObject({ id: adaId, traits: { name: "Ada Lovelace" } });
    expect(exported.events).toHaveLength(4);
    expect(exported.journeyInstances.map((i) => i.journey)).toEqual(["welcome"]);
    await dialog.waitFor({ state: "hidden" });
  });

  it("erases her after asking, and she is gone from the search", async () => {
    const { page } = web;
    await page.getByRole("button", { name: "Erase" }).click();
    const dialog = page.getByRole("dialog", { name: "Erase this person?" });
    await dialog.waitFor();
    expect(await dialog.innerText()).toContain("cannot be undone");
    await web.screenshot("profile-erase-confirm");
    // Cancel keeps her.
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });
    expect((await server.admin(`/api/v1/profiles/${adaId}`)).status).toBe(200);

    await page.getByRole("button", { name: "Erase" }).click();
    await dialog.getByRole("button", { name: "Erase permanently" }).click();
    await page.waitForURL(/\/profiles$/);
    await page.getByRole("status").filter({ hasText: "was erased" }).waitFor();
    expect((await server.admin(`/api/v1/profiles/${adaId}`)).status).toBe(404);

    await search(page, "ada@example.com");
    await page.getByRole("heading", { name: /No profile matches/ }).waitFor();
    // Her old link says she is gone.
    await web.open(`/profiles/${adaId}`);
    await page.getByRole("heading", { name: "No such profile" }).waitFor();
    await web.screenshot("profile-not-found");
    // The API's 404 is the one browser error this page is expected to log.
    expect(web.errors).toEqual([expect.stringContaining("404")]);
    web.errors.length = 0;
    await web.open("/profiles");
    // Bo is still there.
    await page.getByLabel("Search profiles").fill("");
    await expect
      .poll(() => page.getByTestId("profile-list").locator("tbody tr").allInnerTexts(), { timeout: 15_000 })
      .toEqual([expect.stringContaining("Bo Rivera")]);
    expect(web.errors).toEqual([]);
  });
});
