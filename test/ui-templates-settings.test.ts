import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakeFcm } from "./support/fake-fcm.ts";
import { startReceiver } from "./support/receiver.ts";
import { startTestServer, type TestServer } from "./support/server.ts";
import { startSmtpServer, type TestSmtpServer } from "./support/smtp.ts";
import { openWeb, type WebSession } from "./support/web.ts";

/** GET an admin route and return its JSON (fails the test on anything but 200). */
/** The sandboxed frame the email preview is drawn in. */
function frame(page: WebSession["page"]) {
  return page.frameLocator('iframe[title="Email preview"]');
}

async function getJson(server: TestServer, path: string): Promise<unknown> {
  const res = await server.admin(path);
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200);
  return res.json();
}

describe("settings, then a template written, previewed for Ada, saved and sent through SMTP", () => {
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

  it("configures push with a pasted service account key file, shown only as set and kept on the next save", async () => {
    const fcm = await startFakeFcm();
    try {
      const { page } = web;
      await web.open("/settings?tab=channels");
      const push = page.getByRole("form", { name: "push channel" });
      const keyFile = push.getByLabel("Service account key (JSON)");
      await keyFile.fill("{not json");
      await push.getByRole("button", { name: "Save push channel" }).click();
      await push.getByText("Service account key (JSON): not JSON").waitFor();

      await keyFile.fill(JSON.stringify(fcm.serviceAccount, null, 2));
      await push.getByRole("button", { name: "Save push channel" }).click();
      await push.getByRole("status").filter({ hasText: "Saved" }).waitFor();
      const expected = {
        provider: "fcm",
        serviceAccount: {
          type: "service_account",
          project_id: fcm.projectId,
          client_email: fcm.serviceAccount.client_email,
          private_key: "***",
          token_uri: fcm.serviceAccount.token_uri,
        },
      };
      expect(await getJson(server, "/api/v1/channels/push")).toMatchObject({ config: expected });

      await web.open("/settings?tab=channels");
      const reloaded = page.getByRole("form", { name: "push channel" });
      await reloaded.getByText("set", { exact: true }).waitFor();
      expect(await reloaded.getByLabel("Service account key (JSON)").inputValue()).toBe("");
      expect(await page.content()).not.toContain("PRIVATE KEY");
      await reloaded.getByLabel("Max messages per second").fill("50");
      await reloaded.getByRole("button", { name: "Save push channel" }).click();
      await reloaded.getByRole("status").filter({ hasText: "Saved" }).waitFor();
      expect(await getJson(server, "/api/v1/channels/push")).toMatchObject({
        config: { ...expected, maxPerSecond: 50 },
      });
      expect(web.errors).toEqual([]);
    } finally {
      await fcm.close();
    }
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

  it("lists no templates yet and says how to start", async () => {
    const { page } = web;
    await web.open("/templates");
    await page.getByText("No templates yet").waitFor();
    await web.screenshot("templates-empty");
    expect(web.errors).toEqual([]);
  });

  it("previews a new email template for Ada as it is typed, rendered by the server", async () => {
    const { page } = web;
    const identify = await server.track("/v1/identify", {
      userId: "ada",
      traits: { firstName: "Ada", lastName: "Lovelace", email: "ada@example.com" },
    });
    expect(identify.status).toBe(200);
    await expect
      .poll(
        async () => ((await getJson(server, "/api/v1/profiles?query=ada")) as { items: unknown[] }).items,
        {
          timeout: 20_000,
        },
      )
      .toHaveLength(1);

    await page.getByRole("button", { name: "New template" }).click();
    const dialog = page.getByRole("dialog", { name: "New template" });
    await dialog.getByLabel("Key").fill("welcome-email");
    await dialog.getByRole("radio", { name: /Email/ }).check();
    await dialog.getByRole("button", { name: "Open the editor" }).click();
    await page.waitForURL(/\/templates\/welcome-email\?channel=email$/);
    await page.getByText("New template: not saved yet").waitFor();

    await page.getByLabel("Subject").fill("");
    await page.getByLabel("Subject").pressSequentially("Welcome, {{ profile.traits.firstName }}");
    await page
      .getByRole("textbox", { name: "MJML" })
      .fill(
        [
          "<mjml>",
          '  <mj-head><mj-attributes><mj-all font-family="Helvetica, Arial" /></mj-attributes></mj-head>',
          "  <mj-body>",
          "    <mj-section><mj-column>",
          "      <mj-text>Hello {{ profile.traits.firstName }}, welcome aboard.</mj-text>",
          "    </mj-column></mj-section>",
          "  </mj-body>",
          "</mjml>",
        ].join("\n"),
      );
    // No person yet: the preview says to pick one.
    await page.getByText("Pick a person to preview").waitFor();
    await page.getByLabel("Preview as").fill("ada");
    await page.getByRole("button", { name: /Ada Lovelace/ }).click();
    await page.getByRole("group", { name: "Preview as" }).getByText("Ada Lovelace").waitFor();

    await expect.poll(() => page.getByTestId("preview-subject").innerText()).toBe("Welcome, Ada");
    await frame(page).getByText("Hello Ada, welcome aboard.").waitFor();
    // The email is shown in a sandbox without scripts.
    expect(await page.locator('iframe[title="Email preview"]').getAttribute("sandbox")).toBe("");
    await page.getByText("Plain-text part").click();
    await expect
      .poll(() => page.getByTestId("preview-text").innerText())
      .toContain("Hello Ada, welcome aboard.");
    await web.screenshot("templates-editor-preview");
    expect(web.errors).toEqual([]);
  });

  it("names the field and the line when the template does not render", async () => {
    const { page } = web;
    const subject = page.getByLabel("Subject");
    await subject.fill("Welcome, {{ profile.traits.firstName ");
    const alert = page.getByRole("alert").filter({ hasText: "Error in" });
    await expect.poll(() => alert.innerText()).toMatch(/Error in subject, line 1, column \d+:/);
    expect(await subject.getAttribute("aria-invalid")).toBe("true");
    await web.screenshot("templates-editor-error");
    await subject.fill("Welcome, {{ profile.traits.firstName }}");
    await expect.poll(() => page.getByTestId("preview-subject").innerText()).toBe("Welcome, Ada");
    expect(await subject.getAttribute("aria-invalid")).toBeNull();

    const mjml = page.getByRole("textbox", { name: "MJML" });
    const good = await mjml.inputValue();
    const lines = good.split("\n");
    lines[4] = "      <mj-text>{% if profile.traits.firstName %}Hello</mj-text>";
    await mjml.fill(lines.join("\n"));
    await expect.poll(() => alert.innerText()).toMatch(/Error in mjml, line 5\b/);
    // "Go to line 5" selects the line the server names, in the field it names.
    await alert.getByRole("button", { name: /Go to line 5/ }).click();
    expect(
      await mjml.evaluate((el: HTMLTextAreaElement) =>
        document.activeElement === el ? el.value.slice(el.selectionStart, el.selectionEnd) : null,
      ),
    ).toBe(lines[4]);
    await mjml.fill(good);
    await frame(page).getByText("Hello Ada, welcome aboard.").waitFor();
    await expect.poll(() => alert.count()).toBe(0);
    // The server's 400 answers to the broken drafts are the only browser errors expected here.
    expect(web.errors.length).toBeGreaterThan(0);
    expect(web.errors).toEqual(web.errors.map(() => expect.stringContaining("400 (Bad Request)")));
    web.errors.length = 0;
  });

  it("saves each change as a new version", async () => {
    const { page } = web;
    await page.getByRole("button", { name: "Save v1" }).click();
    await page.getByText("Saved version 1.").waitFor();
    expect(new URL(page.url()).search).toBe("");
    expect(await getJson(server, "/api/v1/templates/welcome-email")).toMatchObject({
      channel: "email",
      version: 1,
      content: { subject: "Welcome, {{ profile.traits.firstName }}" },
    });

    await page.getByLabel("Subject").fill("Welcome aboard, {{ profile.traits.firstName }}");
    await page.getByText("Unsaved changes", { exact: true }).waitFor();
    await page.getByRole("button", { name: "Save as v2" }).click();
    await page.getByText("Saved version 2.").waitFor();
    const versions = page.getByLabel("Version");
    expect(await versions.locator("option").allInnerTexts()).toEqual([
      expect.stringMatching(/^v2 \(latest\)/),
      expect.stringMatching(/^v1 /),
    ]);
    expect(await getJson(server, "/api/v1/templates/welcome-email")).toMatchObject({
      version: 2,
      versions: [{ version: 2 }, { version: 1 }],
    });

    // An older version opens in the editor; the latest is one click away.
    await versions.selectOption("1");
    await expect
      .poll(() => page.getByLabel("Subject").inputValue())
      .toBe("Welcome, {{ profile.traits.firstName }}");
    await page.getByText("You are looking at version 1").waitFor();
    await page.getByRole("button", { name: "open the latest" }).click();
    await expect
      .poll(() => page.getByLabel("Subject").inputValue())
      .toBe("Welcome aboard, {{ profile.traits.firstName }}");
    expect(web.errors).toEqual([]);
  });

  it("sends a test through the email channel set in Settings: it arrives with the rendered subject", async () => {
    const { page } = web;
    const send = page.getByRole("form", { name: "Send a test" });
    await send.getByRole("button", { name: "Send test" }).click();
    const outcome = page.getByTestId("send-outcome");
    await outcome.getByText("Queued message").waitFor();
    await expect.poll(() => outcome.innerText(), { timeout: 20_000 }).toMatch(/Status\s+sent/);
    const [mail] = await smtp.waitFor(1, 20_000);
    expect(mail).toMatchObject({
      subject: "Welcome aboard, Ada",
      to: ["ada@example.com"],
      from: { name: "Waymark", address: "hello@waymark.test" },
    });
    expect(mail!.html).toContain("Hello Ada, welcome aboard.");
    const id = (await outcome.locator("code").first().innerText()).trim();
    expect(await getJson(server, `/api/v1/messages/${id}`)).toMatchObject({
      status: "sent",
      template: "welcome-email",
      templateVersion: 2,
      subject: "Welcome aboard, Ada",
    });
    expect(await outcome.innerText()).toContain("Welcome aboard, Ada");
    await outcome.getByRole("link", { name: "Ada Lovelace's profile" }).waitFor();
    await web.screenshot("templates-editor");
    expect(web.errors).toEqual([]);
  });

  it("lists the template with its channel and latest version", async () => {
    const { page } = web;
    await page.getByRole("link", { name: "Templates", exact: true }).click();
    const row = page.getByRole("row", { name: /welcome-email/ });
    await row.waitFor();
    expect(await row.innerText()).toMatch(/welcome-email\s+Email\s+v2/);
    await web.screenshot("templates-list");
    await row.getByRole("link", { name: "welcome-email" }).click();
    await expect
      .poll(() => page.getByLabel("Subject").inputValue())
      .toBe("Welcome aboard, {{ profile.traits.firstName }}");
    expect(web.errors).toEqual([]);
  });

  it("edits SMS, webhook and push templates, previewed for the same person with sample data", async () => {
    const { page } = web;
    await web.open("/templates");
    await page.getByRole("button", { name: "New template" }).click();
    const dialog = page.getByRole("dialog", { name: "New template" });
    await dialog.getByLabel("Key").fill("welcome-sms");
    await dialog.getByRole("radio", { name: /SMS/ }).check();
    await web.screenshot("templates-new");
    await dialog.getByRole("button", { name: "Open the editor" }).click();
    await page.waitForURL(/\/templates\/welcome-sms\?channel=sms$/);

    // The person picked for the email template is still the one previewed.
    await page.getByRole("group", { name: "Preview as" }).getByText("Ada Lovelace").waitFor();
    await page.getByLabel("Message").fill("Hi {{ profile.traits.firstName }}, your code is {{ data.code }}");
    await page.getByText("Sample event and data").click();
    await page.getByLabel("data (JSON)").fill('{ "code": "WELCOME10" }');
    await expect
      .poll(() => page.getByTestId("preview-body").innerText())
      .toBe("Hi Ada, your code is WELCOME10");
    await page.getByText("1 SMS").waitFor();
    await page.getByRole("button", { name: "Save v1" }).click();
    await page.getByText("Saved version 1.").waitFor();
    expect(await getJson(server, "/api/v1/templates/welcome-sms")).toMatchObject({
      channel: "sms",
      content: { body: "Hi {{ profile.traits.firstName }}, your code is {{ data.code }}" },
    });
    await web.screenshot("templates-editor-sms");

    await web.open("/templates/order-hook?channel=webhook");
    const body = page.getByRole("textbox", { name: "JSON body" });
    await body.fill('{ "who": "{{ profile.traits.firstName }}", ');
    // Bad JSON is caught in the browser, on its field.
    const alert = page.getByRole("alert").filter({ hasText: "Error in body" });
    await expect.poll(() => alert.innerText()).toContain("is not valid JSON");
    await body.fill('{ "who": "{{ profile.traits.firstName }}", "profileId": "{{ profile.id }}" }');
    await expect.poll(() => page.locator(".json").last().innerText()).toContain('"who": "Ada"');
    await expect.poll(() => alert.count()).toBe(0);
    await page.getByRole("button", { name: "Format JSON body" }).click();
    expect(await body.inputValue()).toBe(
      '{\n  "who": "{{ profile.traits.firstName }}",\n  "profileId": "{{ profile.id }}"\n}',
    );
    await page.getByRole("button", { name: "Save v1" }).click();
    await page.getByText("Saved version 1.").waitFor();

    // A test send of a webhook posts the rendered body to the URL given.
    const receiver = await startReceiver();
    try {
      const send = page.getByRole("form", { name: "Send a test" });
      await send.getByLabel("Endpoint URL").fill(`${receiver.url}/hooks/waymark`);
      await send.getByRole("button", { name: "Send test" }).click();
      const [hook] = await receiver.waitFor(1, 20_000);
      expect(hook).toMatchObject({ method: "POST", body: { who: "Ada" } });
      await expect
        .poll(() => page.getByTestId("send-outcome").innerText(), { timeout: 20_000 })
        .toMatch(/Status\s+sent/);
    } finally {
      await receiver.close();
    }
    await web.screenshot("templates-editor-webhook");

    await web.open("/templates/app-push?channel=push");
    await page.getByLabel("Title").fill("Hi {{ profile.traits.firstName }}");
    await page.getByRole("textbox", { name: "Body" }).fill("Your cart is waiting.");
    await page
      .getByRole("textbox", { name: "Data (JSON, optional)" })
      .fill('{ "screen": "cart", "name": "{{ profile.traits.lastName }}" }');
    await expect.poll(() => page.getByTestId("preview-title").innerText()).toBe("Hi Ada");
    expect(await page.getByTestId("preview-body").innerText()).toBe("Your cart is waiting.");
    await expect.poll(() => page.locator(".json").last().innerText()).toContain('"name": "Lovelace"');
    await web.screenshot("templates-editor-push");
    expect(web.errors).toEqual([]);
  });
});
