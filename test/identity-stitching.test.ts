import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decisions, getJson, profileBy, putRules, send, suggestions } from "./support/identity.ts";
import { drained } from "./support/pipeline.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ pipeline: true });
});
afterAll(() => server.close());

const T0 = Date.parse("2026-03-02T09:00:00Z");
const MIN = 60_000;

/** A page view from a device (IP and user agent) at T0 + minutes. */
function pageView(anonymousId: string, device: { ip: string; ua: string }, minutes: number) {
  return [
    "/v1/page",
    {
      anonymousId,
      name: "Home",
      timestamp: new Date(T0 + minutes * MIN).toISOString(),
      context: { ip: device.ip, userAgent: device.ua },
    },
  ] as [string, unknown];
}

const device = (n: number) => ({ ip: `198.51.100.${n}`, ua: `Mozilla/5.0 (Test Device ${n}) Firefox/128.0` });

function post(path: string): Promise<Response> {
  return server.admin(path, { method: "POST" });
}

async function enableStitching(windowMinutes = 30): Promise<void> {
  await drained(server);
  const res = await putRules(server, { stitching: { enabled: true, windowMinutes } });
  expect(res.status).toBe(200);
}

describe("visitor stitching is off by default", () => {
  it("suggests nothing for two visitors on one device", async () => {
    await send(server, [pageView("off-1", device(1), 0), pageView("off-2", device(1), 2)]);
    await drained(server);
    expect(await suggestions(server)).toEqual([]);
  });
});

describe("with stitching on, two visitors on one device within the window", () => {
  it("are suggested as one person, with a score and the signals, and not merged", async () => {
    await enableStitching();
    await send(server, [pageView("st-1", device(2), 0), pageView("st-2", device(2), 6)]);
    await drained(server);
    const one = await profileBy(server, "anonymousId=st-1");
    const two = await profileBy(server, "anonymousId=st-2");
    expect(one.id).not.toBe(two.id);
    expect(await suggestions(server)).toEqual([
      expect.objectContaining({
        profileId: one.id,
        otherProfileId: two.id,
        score: 0.9,
        status: "suggested",
        mergeEventSeq: null,
        signals: expect.objectContaining({ ip: device(2).ip, userAgent: device(2).ua, gapSeconds: 360 }),
      }),
    ]);
  });

  it("are not suggested on another device, past the window, or when both are known users", async () => {
    await send(server, [
      pageView("st-3", device(3), 0),
      pageView("st-4", { ...device(3), ua: "curl/8.5.0" }, 1),
      pageView("st-5", device(4), 0),
      pageView("st-6", device(4), 31),
      ["/v1/identify", { userId: "st-user-7", anonymousId: "st-7" }],
      ["/v1/identify", { userId: "st-user-8", anonymousId: "st-8" }],
      pageView("st-7", device(5), 0),
      pageView("st-8", device(5), 1),
    ]);
    await drained(server);
    expect(await suggestions(server)).toHaveLength(1);
  });
});

describe("confirming a suggestion", () => {
  it("merges the two profiles in the pipeline, in order, and keeps the merge event in the log", async () => {
    await send(server, [pageView("cf-1", device(10), 0), pageView("cf-2", device(10), 1)]);
    await drained(server);
    const [suggestion] = await suggestions(server, "status=suggested");
    const first = await profileBy(server, "anonymousId=cf-1");
    expect(suggestion).toMatchObject({ profileId: first.id });

    const res = await post(`/api/v1/identity/suggestions/${suggestion!.id}/confirm`);
    expect(res.status).toBe(200);
    const confirmed = (await res.json()) as { status: string; mergeEventSeq: number };
    expect(confirmed).toMatchObject({ status: "confirmed", mergeEventSeq: expect.any(Number) });
    await send(server, [["/v1/track", { anonymousId: "cf-2", event: "Signed Up" }]]);
    await drained(server);

    const person = await profileBy(server, "anonymousId=cf-2");
    expect(person.id).toBe(first.id);
    expect(person.identities.map((i) => i.value)).toEqual(["cf-1", "cf-2"]);
    expect(person.mergedFrom.map((m) => m.cause)).toEqual([
      `stitching suggestion ${suggestion!.id} confirmed`,
    ]);
    // Three page views and a track: the merge event is no event of the customer's.
    expect(person.eventCount).toBe(3);

    const log = await getJson<{ items: Array<{ type: string; seq: number }> }>(
      server,
      "/api/v1/events?type=merge",
    );
    expect(log.items).toEqual([
      expect.objectContaining({ type: "merge", seq: confirmed.mergeEventSeq, profileId: first.id }),
    ]);
    expect((await server.admin("/api/v1/events")).status).toBe(200);
  });

  it("answers the same when confirmed twice, and refuses to dismiss it afterwards", async () => {
    const [confirmed] = await suggestions(server, "status=confirmed");
    const again = await post(`/api/v1/identity/suggestions/${confirmed!.id}/confirm`);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ mergeEventSeq: confirmed!.mergeEventSeq });
    const dismiss = await post(`/api/v1/identity/suggestions/${confirmed!.id}/dismiss`);
    expect(dismiss.status).toBe(409);
    expect(((await dismiss.json()) as { message: string }).message).toContain("was confirmed");
  });

  it("records a refused merge when the limits broke since the suggestion", async () => {
    await send(server, [pageView("rf-1", device(11), 0), pageView("rf-2", device(11), 1)]);
    await drained(server);
    const [suggestion] = await suggestions(server, "status=suggested");
    await send(server, [
      ["/v1/identify", { anonymousId: "rf-1", userId: "rf-user-1" }],
      ["/v1/identify", { anonymousId: "rf-2", userId: "rf-user-2" }],
    ]);
    const res = await post(`/api/v1/identity/suggestions/${suggestion!.id}/confirm`);
    const { mergeEventSeq } = (await res.json()) as { mergeEventSeq: number };
    await drained(server);
    const one = await profileBy(server, "userId=rf-user-1");
    const two = await profileBy(server, "userId=rf-user-2");
    expect(one.id).not.toBe(two.id);
    expect(await decisions(server, `profileId=${two.id}`)).toEqual([
      expect.objectContaining({
        kind: "merge_refused",
        eventSeq: mergeEventSeq,
        profileId: one.id,
        otherProfileId: two.id,
        reason: `merging would give one profile 2 user_id (limit 1); stitching suggestion ${suggestion!.id} confirmed: not merged`,
      }),
    ]);
  });
});

describe("dismissing a suggestion", () => {
  it("merges nothing, and the pair is not suggested again", async () => {
    await send(server, [pageView("ds-1", device(12), 0), pageView("ds-2", device(12), 3)]);
    await drained(server);
    const [suggestion] = await suggestions(server, "status=suggested");
    const res = await post(`/api/v1/identity/suggestions/${suggestion!.id}/dismiss`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "dismissed", decidedAt: expect.any(String) });

    const before = await suggestions(server);
    await send(server, [pageView("ds-2", device(12), 4), pageView("ds-1", device(12), 4)]);
    await drained(server);
    expect((await profileBy(server, "anonymousId=ds-1")).id).not.toBe(
      (await profileBy(server, "anonymousId=ds-2")).id,
    );
    expect(await suggestions(server)).toHaveLength(before.length);
    expect(await suggestions(server, "status=dismissed")).toEqual([
      expect.objectContaining({ id: suggestion!.id, score: suggestion!.score }),
    ]);
    const confirm = await post(`/api/v1/identity/suggestions/${suggestion!.id}/confirm`);
    expect(confirm.status).toBe(409);
  });

  it("answers 404 for a suggestion that does not exist, and 400 for one that cannot", async () => {
    expect((await post("/api/v1/identity/suggestions/999999/dismiss")).status).toBe(404);
    expect((await post("/api/v1/identity/suggestions/abc/confirm")).status).toBe(400);
  });
});

describe("the tracking API", () => {
  it("refuses the internal merge event type", async () => {
    const res = await server.track("/v1/batch", {
      batch: [{ type: "merge", anonymousId: "x", profileId: "a", mergedProfileId: "b" }],
    });
    expect(await res.json()).toMatchObject({ accepted: 0, rejected: 1 });
    expect((await server.track("/v1/merge", { anonymousId: "x" })).status).toBe(404);
  });
});
