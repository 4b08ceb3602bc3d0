import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "./support/server.ts";
import { openWeb, type WebSession } from "./support/web.ts";

describe("the web app's shell: sign-in, deep links, history", () => {
  let server: TestServer;
  let web: WebSession;
  beforeAll(async () => {
    server = await startTestServer();
    web = await openWeb(server, { signedIn: false });
  }, 60_000);
  afterAll(async () => {
    await web?.close();
    await server?.close();
  });

  it("asks for the admin token, says where it is, and refuses a wrong one", async () => {
    const { page } = web;
    await web.open("/journeys/abandoned-cart");
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    expect(await page.locator("main").innerText()).toContain("credentials.json");
    await web.screenshot("sign-in");

    await page.getByLabel("Admin token").fill("wm_admin_not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.getByRole("alert").innerText()).toContain("unknown admin token");
    // The refused token's 401 is the one browser error this page is expected to log.
    expect(web.errors).toEqual([expect.stringContaining("401")]);
    web.errors.length = 0;
  });

  it("signs in with the token, then deep links and back/forward land on their pages", async () => {
    const { page } = web;
    await page.getByLabel("Admin token").fill(server.keys.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    // The deep link typed before signing in is still the page shown.
    await page.getByRole("navigation", { name: "Main" }).waitFor();
    expect(new URL(page.url()).pathname).toBe("/journeys/abandoned-cart");

    await page.getByRole("link", { name: "Profiles" }).click();
    await page.waitForURL(/\/profiles$/);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.waitForURL(/\/settings$/);
    await page.goBack();
    await page.waitForURL(/\/profiles$/);
    await page.goForward();
    await page.waitForURL(/\/settings$/);

    // A reload of a deep link is served the app by the server, still signed in.
    await web.open("/templates");
    await page.getByRole("link", { name: "Templates" }).and(page.locator(".active")).waitFor();

    // An unknown page says so inside the app.
    await web.open("/no/such/page");
    await page.getByRole("heading", { name: "Not found" }).waitFor();
    expect(web.errors).toEqual([]);
  });

  it("keeps answering the API with JSON, not the app", async () => {
    const res = await fetch(`${server.url}/api/v1/nothing`, { headers: { accept: "text/html" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: "not_found" });
  });
});
