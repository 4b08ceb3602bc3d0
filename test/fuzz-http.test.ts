import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MESSAGE_TYPES } from "../src/ingest/index.ts";
import { anyText, messageArbitrary } from "./support/arbitraries.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

async function counts(): Promise<{ events: number; dead: number }> {
  const { rows } = await server.db.pool.query<{ events: number; dead: number }>(
    `SELECT (SELECT count(*) FROM events)::int AS events, (SELECT count(*) FROM rejected_events)::int AS dead`,
  );
  return rows[0]!;
}

const route = fc.constantFrom(...MESSAGE_TYPES.map((t) => `/v1/${t}`), "/v1/batch", "/v1/t", "/v1/b");
const body = fc.oneof(
  { weight: 3, arbitrary: messageArbitrary.map((m) => JSON.stringify(m)) },
  {
    weight: 3,
    arbitrary: fc.array(messageArbitrary, { maxLength: 8 }).map((batch) => JSON.stringify({ batch })),
  },
  { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
  { weight: 1, arbitrary: anyText },
);

describe("fuzzing the tracking API through HTTP", () => {
  it("never answers 5xx, and stores exactly what it reports: accepted events in the log, the rest as dead letters", async () => {
    await fc.assert(
      fc.asyncProperty(
        route,
        body,
        fc.constantFrom("application/json", "text/plain"),
        async (path, text, type) => {
          const before = await counts();
          const res = await server.track(path, text, { "content-type": type });
          expect(res.status, await res.clone().text()).toBeLessThan(500);
          const after = await counts();
          if (res.status === 200) {
            const r = (await res.json()) as { accepted: number; rejected: number; duplicates: number };
            expect(after.events - before.events).toBe(r.accepted - r.duplicates);
            expect(after.dead - before.dead).toBe(r.rejected);
          } else {
            expect(res.status).toBe(400);
            const r = (await res.json()) as { error: string; message: string };
            expect(r.message.length).toBeGreaterThan(0);
            // A refused request stores no event, and keeps one dead letter with its reason.
            expect(after.events).toBe(before.events);
            expect(after.dead - before.dead).toBe(1);
          }
        },
      ),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 300) },
    );
  });
});
