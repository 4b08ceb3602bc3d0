import { readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import type { AddressInfo } from "node:net";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { launchChromium } from "./support/browser.ts";

interface StoredEvent {
  type: string;
  userId?: string;
  anonymousId?: string;
  context: { library: { name: string }; page: { url: string }; userAgent: string; ip: string };
  [field: string]: unknown;
}
import { startTestServer, type TestServer } from "./support/server.ts";

const UMD = path.resolve("node_modules/@segment/analytics-next/dist/umd");

let server: TestServer;
let site: http.Server;
let siteUrl: string;
let browser: Browser;

/** A shop's page on another origin than Waymark, loading analytics.js the npm way with cdnURL. */
function shopPage(writeKey: string, waymarkUrl: string): string {
  return `<!doctype html><html><head><title>Shop</title></head><body><h1>Shop</h1>
<script src="/vendor/analytics-next.js"></script>
<script>
  const analytics = AnalyticsNext.AnalyticsBrowser.load({ writeKey: ${JSON.stringify(writeKey)}, cdnURL: ${JSON.stringify(waymarkUrl)} });
  Promise.all([
    analytics.page("Shop", "Home"),
    analytics.identify("browser-user-1", { email: "browser@example.com" }),
    analytics.track("Product Added", { product_id: "p-9", price: 30 }),
  ]).then(() => { document.title = "sent"; }, (err) => { document.title = "failed: " + err; });
</script></body></html>`;
}

beforeAll(async () => {
  server = await startTestServer();
  site = http.createServer(async (req, res) => {
    if (req.url === "/") {
      res.setHeader("content-type", "text/html");
      return res.end(shopPage(server.keys.writeKey, server.url));
    }
    if (req.url === "/vendor/analytics-next.js") {
      res.setHeader("content-type", "application/javascript");
      return res.end(await readFile(path.join(UMD, "index.js")));
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((resolve) => site.listen(0, "127.0.0.1", resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await server?.close();
});

describe("@segment/analytics-next in Chromium, loading its settings from Waymark", () => {
  it("sends page, identify and track across origins, and Waymark stores them with the browser context", async () => {
    const page = await browser.newPage();
    const posted: string[] = [];
    page.on("request", (r) => {
      if (r.method() === "POST") posted.push(new URL(r.url()).origin);
    });
    await page.goto(siteUrl);
    await page.waitForFunction(() => document.title !== "Shop", null, { timeout: 15_000 });
    expect(await page.title()).toBe("sent");
    await page.close();
    // Every call went to Waymark (no request left the machine for a Segment host).
    expect(new Set(posted)).toEqual(new Set([server.url]));

    const res = await server.admin("/api/v1/events?limit=10");
    const events = ((await res.json()) as { items: StoredEvent[] }).items;
    expect(events.map((e) => e.type).sort()).toEqual(["identify", "page", "track"]);
    const track = events.find((e) => e.type === "track")!;
    expect(track).toMatchObject({ event: "Product Added", properties: { product_id: "p-9", price: 30 } });
    expect(track.userId).toBe("browser-user-1");
    expect(track.anonymousId).toEqual(expect.any(String));
    expect(track.context.library.name).toBe("analytics.js");
    expect(track.context.page.url).toBe(`${siteUrl}/`);
    expect(track.context.userAgent).toMatch(/Chrome/);
    expect(track.context.ip).toBe("127.0.0.1");
    const identify = events.find((e) => e.type === "identify")!;
    expect(identify).toMatchObject({ userId: "browser-user-1", traits: { email: "browser@example.com" } });
    // One anonymous visitor across the three calls.
    expect(new Set(events.map((e) => e.anonymousId)).size).toBe(1);
  });

  it("gets 401 for settings of an unknown write key", async () => {
    const res = await fetch(`${server.url}/v1/projects/nope/settings`);
    expect(res.status).toBe(401);
  });
});
