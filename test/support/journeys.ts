import { expect } from "vitest";
import type { TestServer } from "./server.ts";

/** An instance as GET /api/v1/instances/:id answers. */
export interface InstanceBody {
  id: string;
  key: string | null;
  version: number;
  profileId: string;
  status: string;
  currentStep: string | null;
  dueAt: string | null;
  endReason: string | null;
  context: Record<string, unknown>;
  timeline: Array<{
    at: string;
    kind: string;
    step: string | null;
    reason: string;
    data: Record<string, unknown> | null;
  }>;
}

const json = (body: unknown) => ({
  headers: { "content-type": "application/json" },
  body: JSON.stringify(body),
});

/** Saves and publishes a journey through the API; fails the test when either step is refused. */
export async function publish(server: TestServer, definition: { key: string } & Record<string, unknown>) {
  const put = await server.admin(`/api/v1/journeys/${definition.key}`, {
    method: "PUT",
    ...json(definition),
  });
  expect(put.status).toBe(200);
  const saved = (await put.json()) as { violations: unknown[] };
  expect(saved.violations).toEqual([]);
  const res = await server.admin(`/api/v1/journeys/${definition.key}/publish`, { method: "POST" });
  expect(res.status).toBe(200);
  return (await res.json()) as { version: number };
}

/** POST JSON with the admin token. */
export function post(server: TestServer, path: string, body: unknown = {}) {
  return server.admin(path, { method: "POST", ...json(body) });
}

/** Every instance of a journey (with timelines), optionally only one person's. */
export async function instancesOf(server: TestServer, journey: string, query = ""): Promise<InstanceBody[]> {
  const res = await server.admin(`/api/v1/journeys/${journey}/instances?limit=1000${query}`);
  expect(res.status).toBe(200);
  const { items } = (await res.json()) as { items: Array<{ id: string }> };
  return Promise.all(
    items.map(async (i) => (await (await server.admin(`/api/v1/instances/${i.id}`)).json()) as InstanceBody),
  );
}

/** Polls `fn` until it returns a value (bounded). */
export async function eventually<T>(fn: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Waits until the journey and messaging workers hold no claim whose outcome is unwritten. A test that
 * moves its clock past a claim's lease while an effect or message is still being recorded would see it
 * claimed and sent again (at-least-once, as after a crash), so it settles the workers first.
 */
export async function outboxSettled(server: TestServer): Promise<void> {
  const workers = [server.journeys, server.messaging];
  if (!workers.every((w) => w)) throw new Error("outboxSettled needs a server started with pipeline: true");
  await eventually(
    async () => (workers.every((w) => w!.busy === 0) ? true : undefined),
    "the outbox to settle",
  );
}
