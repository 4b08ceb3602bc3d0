import { readFile } from "node:fs/promises";
import path from "node:path";
import pg from "pg";
import { sleep } from "./process.ts";

/**
 * Talking to a real `waymark start` (see process.ts) from a test: its admin API, its embedded
 * PostgreSQL, and polling until it has done what the test waits for.
 */

/**
 * An admin API caller (JSON in and out) for the server at `url`; a call answered with any status but
 * `accepted` fails with the method, route, status and body.
 */
export function adminCaller(url: string, token: string, accepted: readonly number[] = [200]) {
  return async (method: string, route: string, body?: unknown): Promise<Record<string, unknown>> => {
    const res = await fetch(url + route, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    if (!accepted.includes(res.status)) throw new Error(`${method} ${route}: ${res.status} ${text}`);
    return JSON.parse(text) as Record<string, unknown>;
  };
}

/** Polls `check` until it answers true; fails with `what` and the last progress after `ms`. */
export async function until(
  what: string,
  ms: number,
  check: () => Promise<boolean> | boolean,
  { progress = () => "", everyMs = 100 }: { progress?: () => string; everyMs?: number } = {},
): Promise<void> {
  const deadline = performance.now() + ms;
  for (;;) {
    if (await check()) return;
    if (performance.now() > deadline)
      throw new Error(`timed out after ${ms} ms waiting for ${what}; ${progress()}`);
    await sleep(everyMs);
  }
}

/**
 * A client to the embedded PostgreSQL of the data dir, while it runs (its port is in postmaster.pid),
 * also after the CLI that started it was killed.
 */
export async function connectEmbedded(dataDir: string): Promise<pg.Client> {
  const pid = await readFile(path.join(dataDir, "pg", "postmaster.pid"), "utf8");
  const port = Number(pid.split("\n")[3]);
  const password = (await readFile(path.join(dataDir, "pg-password"), "utf8")).trim();
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", password, database: "postgres" });
  await client.connect();
  return client;
}

/** Logs `[tag] label at N ms` since the call, to show where a long test spends its time. */
export function lapTimer(tag: string): (label: string) => void {
  const started = performance.now();
  return (label) => console.log(`[${tag}] ${label} at ${Math.round(performance.now() - started)} ms`);
}
