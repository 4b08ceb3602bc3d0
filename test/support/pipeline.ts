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
