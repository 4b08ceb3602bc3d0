import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.ts";
import { startSmtpServer, type TestSmtpServer } from "./support/smtp.ts";
import { openWeb, type WebSession } from "./support/web.ts";

/** GET an admin route and return its JSON (fails the test on anything but 200). */
async function getJson(server: TestServer, path: string): Promise<unknown> {
  const res = await server.admin(path);
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
  return res.json();
}

describe("settings: keys, the email channel, topics and the delivery policy", () => {
  let server: TestServer;
  let smtp: TestSmtpServer;
  let web: WebSession;
  beforeAll(async () => {
    server = await startTestServer({ pipeline: true });
    smtp = await startSmtpServer({ auth: { user: "mailer", pass: "s3cret-pass" } });
    web = await openWeb(server);
    await web.context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: server.url });
  }, 60_000);
  afterAll(async () => {
    await web?.close();
    await smtp?.close();
    await server?.close();
  });

  it("shows the write key, copies it, and masks the secrets until asked", async () => {
    const { page } = web;
    await web.open("/settings");
    const writeKey = page.getByRole("group", { name: "Write key" });
    await expect.poll(() => writeKey.innerText()).toContain(server.keys.writeKey);
    await writeKey.getByRole("button", { name: "Copy" }).click();
    await writeKey.getByRole("button", { name: "Copied" }).waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(server.keys.writeKey);

    const token = page.getByRole("group", { name: "Admin token" });
    expect(await token.innerText()).not.toContain(server.keys.adminToken);
    await token.getByRole("button", { name: "Show" }).click();
    await expect.poll(() => token.innerText()).toContain(server.keys.adminToken);
    await token.getByRole("button", { name: "Hide" }).click();
    expect(await page.getByRole("group", { name: "Workspace id" }).innerText()).toContain(
      server.keys.workspaceId,
    );
    await web.screenshot("settings-keys");
    expect(web.errors).toEqual([]);
  });

  it("configures the email channel with SMTP settings and shows the password only as set", async () => {
    const { page } = web;
    await page.getByRole("tab", { name: "Channels" }).click();
    const email = page.getByRole("form", { name: "email channel" });
    await email.getByLabel("SMTP host").fill(smtp.host);
    await email.getByLabel("Port", { exact: true }).fill(String(smtp.port));
    await email.getByLabel("User name").fill("mailer");
    await email.getByLabel("Password").fill("s3cret-pass");
    await email.getByRole("textbox", { name: "From" }).fill("Waymark Test <hello@waymark.test>");
    await email.getByRole("button", { name: "Save email channel" }).click();
    await email.getByRole("status").filter({ hasText: "Saved" }).waitFor();

    expect(await getJson(server, "/api/v1/channels/email")).toMatchObject({
      provider: "smtp",
      config: {
        host: smtp.host,
        port: smtp.port,
        secure: false,
        auth: { user: "mailer", pass: "***" },
        from: "Waymark Test <hello@waymark.test>",
      },
    });
    // The secret is write-only: the form says it is set and shows nothing of it.
    await web.open("/settings?tab=channels");
    const reloaded = page.getByRole("form", { name: "email channel" });
    await expect.poll(() => reloaded.getByLabel("SMTP host").inputValue()).toBe(smtp.host);
    expect(await reloaded.getByLabel("Password").inputValue()).toBe("");
    await reloaded.getByText("set", { exact: true }).waitFor();
    // Saving again without typing the password keeps the stored one ("***").
    await reloaded.getByRole("textbox", { name: "From" }).fill("Waymark <hello@waymark.test>");
    await reloaded.getByRole("button", { name: "Save email channel" }).click();
    await reloaded.getByRole("status").filter({ hasText: "Saved" }).waitFor();
    expect(await getJson(server, "/api/v1/channels/email")).toMatchObject({
      config: { from: "Waymark <hello@waymark.test>", auth: { user: "mailer", pass: "***" } },
    });
    await web.screenshot("settings-channels");
    expect(web.errors).toEqual([]);
  });

  it("creates, edits and deletes topics", async () => {
    const { page } = web;
    await page.getByRole("tab", { name: "Topics" }).click();
    await page.getByText("No topics yet").waitFor();
    const form = page.getByRole("form", { name: "New topic" });
    await form.getByLabel("Key").fill("newsletter");
    await form.getByLabel("Name").fill("Monthly newsletter");
    await form.getByRole("checkbox", { name: "SMS" }).check();
    await form.getByRole("radio", { name: /Opt-out/ }).check();
    await form.getByRole("button", { name: "Create topic" }).click();
    await page.getByRole("row", { name: /newsletter/ }).waitFor();
    expect(await getJson(server, "/api/v1/topics/newsletter")).toMatchObject({
      key: "newsletter",
      name: "Monthly newsletter",
      channels: ["email", "sms"],
      default: "opt_out",
    });

    await form.getByLabel("Key").fill("offers");
    await form.getByLabel("Name").fill("Offers");
    await form.getByRole("button", { name: "Create topic" }).click();
    await page.getByRole("row", { name: /offers/ }).waitFor();

    await page.getByRole("button", { name: "Edit newsletter" }).click();
    const edit = page.getByRole("form", { name: "Edit topic" });
    expect(await edit.getByLabel("Name").inputValue()).toBe("Monthly newsletter");
    await edit.getByLabel("Name").fill("The newsletter");
    await edit.getByRole("button", { name: "Save topic" }).click();
    await page.getByRole("cell", { name: "The newsletter" }).waitFor();
    expect(await getJson(server, "/api/v1/topics/newsletter")).toMatchObject({ name: "The newsletter" });

    await page
      .getByRole("row", { name: /offers/ })
      .getByRole("button", { name: "Delete" })
      .click();
    const dialog = page.getByRole("dialog", { name: "Delete topic offers?" });
    await dialog.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("row", { name: /offers/ }).waitFor({ state: "detached" });
    expect((await server.admin("/api/v1/topics/offers")).status).toBe(404);
    await web.screenshot("settings-topics");
    expect(web.errors).toEqual([]);
  });

  it("saves a delivery policy with a cap, quiet hours and a priority", async () => {
    const { page } = web;
    await page.getByRole("tab", { name: "Delivery policy" }).click();
    await page.getByText("No caps").waitFor();
    await page.getByRole("button", { name: "Add cap" }).click();
    const cap = page.getByRole("group", { name: "Cap 1" });
    await cap.getByLabel("Channel").selectOption("email");
    await cap.getByLabel("Limit").fill("2");
    await cap.getByLabel("Per").fill("1d");
    await page.getByRole("checkbox", { name: /Hold messages during quiet hours/ }).check();
    await page.getByLabel("From").fill("22:00");
    await page.getByLabel("Until").fill("07:30");
    await page.getByRole("radio", { name: "skipped" }).check();
    await page.getByRole("button", { name: "Add priority" }).click();
    const priority = page.getByRole("group", { name: "Priority 1" });
    await priority.getByLabel("Journey").fill("abandoned-cart");
    await priority.getByLabel("Priority", { exact: true }).fill("5");
    await page.getByRole("button", { name: "Save delivery policy" }).click();
    await page.getByRole("status").filter({ hasText: "Saved" }).waitFor();

    expect(await getJson(server, "/api/v1/policies/delivery")).toEqual({
      caps: [{ channel: "email", limit: 2, per: "1d" }],
      quietHours: { start: "22:00", end: "07:30", mode: "drop" },
      priorities: { "abandoned-cart": 5 },
    });
    // A reload shows what the server stored.
    await web.open("/settings?tab=policy");
    await expect
      .poll(() => page.getByRole("group", { name: "Cap 1" }).getByLabel("Per").inputValue())
      .toBe("1d");
    expect(await page.getByLabel("Until").inputValue()).toBe("07:30");
    await web.screenshot("settings-policy");
    expect(web.errors).toEqual([]);
  });
});
