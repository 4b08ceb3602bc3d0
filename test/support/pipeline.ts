import { expect } from "vitest";
import type { TestServer } from "./server.ts";

/** Waits until the pipeline has applied every event in the log (bounded: fails after `ms`). */
export async function drained(server: TestServer, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    const res = await server.admin("/api/v1/pipeline");
    const { units } = (await res.json()) as { units: Array<{ lagEvents: number }> };
    if (units.every((u) => u.lagEvents === 0)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`pipeline not drained after ${ms} ms`);
}

/** Sends `count` track events in one /v1/batch, from `people` users (`<tag>-0` ...) in turn. */
export async function sendTracks(
  server: TestServer,
  count: number,
  tag: string,
  people: number,
): Promise<void> {
  const batch = Array.from({ length: count }, (_, n) => ({
    type: "track",
    userId: `${tag}-${n % people}`,
    event: "Pipeline Tested",
    properties: { n },
  }));
  expect((await server.track("/v1/batch", { batch })).status).toBe(200);
}
