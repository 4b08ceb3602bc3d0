import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withTx } from "../src/db/index.ts";
import { resolveEvents, type LogEvent } from "../src/identity/index.ts";
import { createWorkspace } from "../src/workspaces/index.ts";
import { createTestDatabase, type TestDatabase } from "./support/database.ts";

let db: TestDatabase;
let workspaceId: string;
beforeAll(async () => {
  db = await createTestDatabase();
  workspaceId = (await createWorkspace(db.pool, "resolve")).workspaceId;
});
afterAll(() => db.drop());

let seq = 0;
const at = new Date("2026-03-02T09:00:00Z");
const resolve = (...messages: Array<Record<string, unknown>>) =>
  withTx(db.pool, (tx) =>
    resolveEvents(
      tx,
      workspaceId,
      messages.map((message): LogEvent => ({ seq: ++seq, receivedAt: at, message })),
    ),
  );
const owner = async (type: string, value: string) =>
  (
    await db.pool.query<{ profile_id: string }>(
      "SELECT profile_id FROM identities WHERE workspace_id = $1 AND type = $2 AND value = $3",
      [workspaceId, type, value],
    )
  ).rows[0]?.profile_id;

describe("a merge event in the same batch as the merges before it", () => {
  it("merges the profile its id has become by then, in seq order", async () => {
    const [a, b, c, d] = await resolve(
      { type: "page", anonymousId: "rs-a" },
      { type: "page", anonymousId: "rs-b" },
      { type: "page", anonymousId: "rs-c" },
      { type: "page", anonymousId: "rs-d" },
    );
    // An earlier batch merged d into c: d points at c.
    await resolve({
      type: "merge",
      profileId: c!.profileId,
      mergedProfileId: d!.profileId,
      cause: "earlier",
    });
    const results = await resolve(
      { type: "identify", anonymousId: "rs-b", userId: "rs-user" },
      // rs-c joins rs-b's profile: c's profile is merged into b's.
      { type: "identify", anonymousId: "rs-c", userId: "rs-user" },
      // A suggestion confirmed between a and c: by now c is b.
      { type: "merge", profileId: a!.profileId, mergedProfileId: c!.profileId, cause: "test merge" },
      { type: "track", anonymousId: "rs-c", event: "After" },
    );
    expect(results.map((r) => [r.profileId, r.merged])).toEqual([
      [b!.profileId, []],
      [b!.profileId, [c!.profileId]],
      [a!.profileId, [b!.profileId]],
      [a!.profileId, []],
    ]);
    for (const [type, value] of [
      ["anonymous_id", "rs-b"],
      ["anonymous_id", "rs-c"],
      ["user_id", "rs-user"],
    ]) {
      expect(await owner(type!, value!)).toBe(a!.profileId);
    }
    expect(await owner("anonymous_id", "rs-d")).toBe(a!.profileId);
    const { rows } = await db.pool.query<{ id: string; merged_into: string }>(
      "SELECT id, merged_into FROM profiles WHERE workspace_id = $1 AND id = ANY($2) ORDER BY merged_into, id",
      [workspaceId, [b!.profileId, c!.profileId, d!.profileId]],
    );
    // Every merged-away profile points straight at the survivor, the one merged in an earlier batch too.
    expect(rows.map((r) => r.merged_into)).toEqual([a!.profileId, a!.profileId, a!.profileId]);
    // The merges are recorded as they happened, each with its own survivor, in order.
    const { rows: merges } = await db.pool.query<{ survivor_id: string; merged_id: string; cause: string }>(
      "SELECT survivor_id, merged_id, cause FROM profile_merges WHERE workspace_id = $1 ORDER BY id",
      [workspaceId],
    );
    expect(merges.map((m) => [m.survivor_id, m.merged_id])).toEqual([
      [c!.profileId, d!.profileId],
      [b!.profileId, c!.profileId],
      [a!.profileId, b!.profileId],
    ]);
    expect(merges.map((m) => m.cause)).toEqual(["earlier", expect.any(String), "test merge"]);
  });
});

describe("a malformed merge event", () => {
  it("is refused and recorded, never stuck", async () => {
    const [r] = await resolve({ type: "merge", profileId: "not-a-uuid", mergedProfileId: 7 });
    expect(r!.merged).toEqual([]);
    const { rows } = await db.pool.query(
      "SELECT kind, reason FROM identity_decisions WHERE workspace_id = $1 AND event_seq = $2",
      [workspaceId, r!.seq],
    );
    expect(rows).toEqual([
      { kind: "merge_refused", reason: "profile (none) does not exist; merge: not merged" },
    ]);
  });
});
