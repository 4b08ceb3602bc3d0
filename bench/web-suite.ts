import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { execFileSync } from "node:child_process";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../test/support/browser.ts";
import { startWaymark, stopChild, type WaymarkServer } from "./processes.ts";
import { describeMachine, writeSection } from "./report.ts";

/**
 * The web app's budgets (issue 7), each beside a baseline measured in the same run:
 * - web-bundle: the main bundle (entry script, the chunks it imports statically, its CSS) gzipped,
 *   against 400 KB; baseline: React DOM's production build alone, gzipped.
 * - web-map: a 100-step journey's map in Chromium, from the definition's arrival to the laid-out map
 *   on screen (the page's `waymark:map-rendered` mark), against 1 s; baseline: a 10-step journey.
 * - web-load: first load of the overview in a fresh browser context (navigation start to headline
 *   numbers and charts on screen), against 2 s; baseline: first load of the sign-in page (the same
 *   bundle, no API calls).
 */
export const WEB_SCENARIOS = ["web-bundle", "web-map", "web-load"] as const;
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DIST = path.join(ROOT, "web/dist");
const RUNS = 5;

export interface WebResults {
  bundle?: { mainGzipKb: number; files: Array<{ file: string; gzipKb: number }>; reactDomGzipKb: number };
  map?: { steps100Ms: number[]; steps10Ms: number[] };
  load?: { overviewMs: number[]; signInMs: number[] };
  errors: string[];
}

export async function runWebSuite(o: {
  tmp: string;
  scenarios: Set<string>;
  log: (line: string) => void;
  readme: string | null;
}): Promise<string | null> {
  const selected = WEB_SCENARIOS.filter((k) => o.scenarios.has(k));
  if (selected.length === 0) return null;
  const results: WebResults = { errors: [] };
  o.log("building the web app");
  execFileSync(
    process.execPath,
    [
      path.join(ROOT, "node_modules/vite/bin/vite.js"),
      "build",
      "--config",
      path.join(ROOT, "web/vite.config.ts"),
      "--logLevel",
      "warn",
    ],
    { cwd: ROOT, stdio: "inherit" },
  );
  if (o.scenarios.has("web-bundle")) results.bundle = measureBundle();

  let server: WaymarkServer | undefined;
  let browser: Browser | undefined;
  try {
    if (o.scenarios.has("web-map") || o.scenarios.has("web-load")) {
      server = await startWaymark(path.join(o.tmp, "web-data"));
      browser = await launchChromium();
      if (o.scenarios.has("web-map")) {
        o.log("web-map: 10 and 100 steps");
        await putJourney(server, chainJourney("bench-map-10", 10));
        await putJourney(server, chainJourney("bench-map-100", 100));
        const steps10Ms: number[] = [];
        const steps100Ms: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          steps10Ms.push(await timeMap(browser, server, "bench-map-10"));
          steps100Ms.push(await timeMap(browser, server, "bench-map-100"));
        }
        results.map = { steps10Ms, steps100Ms };
      }
      if (o.scenarios.has("web-load")) {
        o.log("web-load: overview and sign-in, cold contexts");
        await sendEvents(server, 200);
        const overviewMs: number[] = [];
        const signInMs: number[] = [];
        for (let i = 0; i < RUNS; i++) {
          signInMs.push(await timeSignIn(browser, server));
          overviewMs.push(await timeOverview(browser, server));
        }
        results.load = { overviewMs, signInMs };
      }
    }
  } catch (err) {
    o.log(`web suite failed: ${(err as Error).stack ?? String(err)}`);
    results.errors.push((err as Error).message);
  } finally {
    await browser?.close().catch(() => undefined);
    if (server) await stopChild(server.pid);
  }
  const report = renderWebReport(results);
  if (o.readme && selected.length === WEB_SCENARIOS.length && results.errors.length === 0)
    await writeSection(o.readme, "web-results", report);
  return report;
}

/** The entry script of index.html, the chunks it preloads, and the stylesheet: what every page loads. */
function measureBundle(): NonNullable<WebResults["bundle"]> {
  const html = readFileSync(path.join(DIST, "index.html"), "utf8");
  const refs = [...html.matchAll(/(?:src|href)="\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);
  const files = refs.map((file) => ({ file, gzipKb: gzipKb(readFileSync(path.join(DIST, file))) }));
  const reactDom = path.join(ROOT, "node_modules/react-dom/cjs/react-dom-client.production.js");
  return {
    files,
    mainGzipKb: files.reduce((s, f) => s + f.gzipKb, 0),
    reactDomGzipKb: gzipKb(readFileSync(reactDom)),
  };
}

function gzipKb(data: Buffer): number {
  return gzipSync(data, { level: 9 }).length / 1024;
}

async function adminFetch(server: WaymarkServer, p: string, init: RequestInit = {}): Promise<unknown> {
  const res = await fetch(`${server.url}${p}`, {
    ...init,
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": "application/json" },
  });
  if (!res.ok) throw new Error(`${init.method ?? "GET"} ${p}: ${res.status} ${await res.text()}`);
  return res.json();
}

async function putJourney(server: WaymarkServer, def: Record<string, unknown>): Promise<void> {
  await adminFetch(server, `/api/v1/journeys/${def.key as string}`, {
    method: "PUT",
    body: JSON.stringify(def),
  });
  await adminFetch(server, `/api/v1/journeys/${def.key as string}/publish`, { method: "POST", body: "{}" });
}

/** A journey of `n` steps mixing every kind that draws edges: waits, branches, splits, hold-untils. */
export function chainJourney(key: string, n: number): Record<string, unknown> {
  const id = (i: number) => `s${i}`;
  const steps: Record<string, unknown>[] = [];
  for (let i = 0; i < n - 1; i++) {
    const skip = id(Math.min(i + 2, n - 1));
    const kinds: Record<string, unknown>[] = [
      { wait: { duration: "1h" } },
      { branch: { cases: [{ when: { path: "profile.traits.plan", op: "eq", value: "pro" }, next: skip }] } },
      { hold_until: { events: [{ id: "came", event: `Step ${i}`, next: skip }], timeout: "1d" } },
      {
        split: {
          variants: [
            { name: "a", weight: 1 },
            { name: "b", weight: 1, next: skip },
          ],
        },
      },
      { update_profile: { traits: { [`reached_${i}`]: true } } },
    ];
    steps.push({ id: id(i), ...kinds[i % kinds.length] });
  }
  steps.push({ id: id(n - 1), exit: {} });
  return { key, name: `Benchmark map, ${n} steps`, trigger: { event: "Bench Map Start" }, steps };
}

async function timeMap(browser: Browser, server: WaymarkServer, key: string): Promise<number> {
  return withPage(browser, server, async (page) => {
    await page.goto(`${server.url}/journeys/${key}`);
    await page.waitForFunction(() => performance.getEntriesByName("waymark:map-rendered").length > 0, null, {
      timeout: 30_000,
    });
    return page.evaluate((k: string) => {
      const rendered = performance.getEntriesByName("waymark:map-rendered")[0]!.startTime;
      const definition = (performance.getEntriesByType("resource") as PerformanceResourceTiming[]).find((r) =>
        new URL(r.name).pathname.endsWith(`/api/v1/journeys/${k}`),
      );
      if (!definition) throw new Error("the map page did not fetch the journey definition");
      return rendered - definition.responseEnd;
    }, key);
  });
}

async function timeOverview(browser: Browser, server: WaymarkServer): Promise<number> {
  return withPage(browser, server, async (page) => {
    await page.goto(`${server.url}/`);
    // Headline numbers shown, nothing loading, and the charts drawn.
    return page
      .waitForFunction(
        () =>
          document.querySelector("main h1") &&
          !document.querySelector("main .loading") &&
          document.querySelector("main canvas, main svg")
            ? performance.now()
            : null,
        null,
        { timeout: 30_000, polling: "raf" },
      )
      .then((h) => h.jsonValue() as Promise<number>);
  });
}

async function timeSignIn(browser: Browser, server: WaymarkServer): Promise<number> {
  return withPage(
    browser,
    server,
    async (page) => {
      await page.goto(`${server.url}/`);
      return page
        .waitForFunction(
          () => (document.querySelector("form input[name=token]") ? performance.now() : null),
          null,
          {
            timeout: 30_000,
            polling: "raf",
          },
        )
        .then((h) => h.jsonValue() as Promise<number>);
    },
    false,
  );
}

/** A fresh context each time: a first load, nothing cached. */
async function withPage<T>(
  browser: Browser,
  server: WaymarkServer,
  fn: (page: Page) => Promise<T>,
  signedIn = true,
): Promise<T> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  if (signedIn)
    await context.addInitScript(
      (t: string) => localStorage.setItem("waymark.adminToken", t),
      server.adminToken,
    );
  try {
    return await fn(await context.newPage());
  } finally {
    await context.close();
  }
}

async function sendEvents(server: WaymarkServer, n: number): Promise<void> {
  const batch = Array.from({ length: n }, (_, i) => ({
    type: "track",
    event: "Bench Page Viewed",
    userId: `web-bench-${i % 20}`,
    properties: { i },
  }));
  const res = await fetch(`${server.url}/v1/batch`, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${server.writeKey}:`).toString("base64")}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ batch }),
  });
  if (!res.ok) throw new Error(`POST /v1/batch: ${res.status} ${await res.text()}`);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const max = (xs: number[]) => Math.max(...xs);
const ms = (x: number) => `${Math.round(x)} ms`;
const kb = (x: number) => `${x.toFixed(1)} KB`;
const verdict = (value: number, target: number) => (value < target ? "met" : "**missed**");

export function renderWebReport(r: WebResults): string {
  const m = describeMachine();
  const lines = [
    `Measured ${m.date} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB.toFixed(0)} GiB), Node ${m.node}, ` +
      `revision ${m.revision}; Debian's Chromium, headless, 1280x860, ${RUNS} runs each in fresh contexts.`,
    "",
    "| budget | measured | baseline (same run) | ratio | target | verdict |",
    "| --- | --- | --- | --- | --- | --- |",
  ];
  if (r.bundle)
    lines.push(
      `| main bundle, gzipped | ${kb(r.bundle.mainGzipKb)} | React DOM alone ${kb(r.bundle.reactDomGzipKb)} | ` +
        `${(r.bundle.mainGzipKb / r.bundle.reactDomGzipKb).toFixed(2)}x | < 400 KB | ${verdict(r.bundle.mainGzipKb, 400)} |`,
    );
  if (r.map)
    lines.push(
      `| 100-step journey map: layout + render (median / max) | ${ms(median(r.map.steps100Ms))} / ${ms(max(r.map.steps100Ms))} | ` +
        `10 steps ${ms(median(r.map.steps10Ms))} | ${(median(r.map.steps100Ms) / median(r.map.steps10Ms)).toFixed(1)}x | < 1 s | ` +
        `${verdict(max(r.map.steps100Ms), 1000)} |`,
    );
  if (r.load)
    lines.push(
      `| overview first load (median / max) | ${ms(median(r.load.overviewMs))} / ${ms(max(r.load.overviewMs))} | ` +
        `sign-in page ${ms(median(r.load.signInMs))} | ${(median(r.load.overviewMs) / median(r.load.signInMs)).toFixed(1)}x | < 2 s | ` +
        `${verdict(max(r.load.overviewMs), 2000)} |`,
    );
  if (r.bundle)
    lines.push(
      "",
      "Main bundle files: " + r.bundle.files.map((f) => `\`${f.file}\` ${kb(f.gzipKb)}`).join(", ") + ".",
    );
  if (r.errors.length) lines.push("", `Errors: ${r.errors.join("; ")}`);
  return lines.join("\n");
}
