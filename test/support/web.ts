import { mkdirSync } from "node:fs";
import path from "node:path";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { launchChromium } from "./browser.ts";
import type { TestServer } from "./server.ts";

export const SCREENSHOT_DIR = path.resolve("test-results/ui");

export interface WebSession {
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Opens a path of the app (signed in unless the session was opened without a token). */
  open(pathname: string): Promise<void>;
  /** Saves a full-page PNG under test-results/ui/<name>.png for review. */
  screenshot(name: string): Promise<void>;
  /** Errors the page threw or logged: a test ends by expecting none. */
  errors: string[];
  close(): Promise<void>;
}

/**
 * Chromium at 1280 px on the real server's web app, signed in with the workspace's admin token (stored
 * the way the sign-in page stores it) unless `signedIn` is false.
 */
export async function openWeb(server: TestServer, options: { signedIn?: boolean } = {}): Promise<WebSession> {
  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  if (options.signedIn !== false) {
    await context.addInitScript((token: string) => {
      // Init scripts run in every frame: a sandboxed one (the template editor's email preview) has no
      // storage, and reading it there throws.
      if (window.origin === "null") return;
      if (!localStorage.getItem("waymark.adminToken")) localStorage.setItem("waymark.adminToken", token);
    }, server.keys.adminToken);
  }
  const page = await context.newPage();
  page.setDefaultTimeout(15_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  return {
    browser,
    context,
    page,
    errors,
    async open(pathname) {
      await page.goto(`${server.url}${pathname}`);
    },
    async screenshot(name) {
      await page.screenshot({ path: path.join(SCREENSHOT_DIR, `${name}.png`), fullPage: true });
    },
    async close() {
      await context.close();
      await browser.close();
    },
  };
}
