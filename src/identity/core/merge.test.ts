import { describe, expect, it } from "vitest";
import { finalSurvivors, mergeMessage, planMerge, readMergeRequest } from "./merge.ts";
import { DEFAULT_RULES } from "./rules.ts";

const A = "00000000-0000-4000-8000-00000000000a";
const B = "00000000-0000-4000-8000-00000000000b";
const counts: Record<string, Record<string, number>> = {
  [A]: { anonymous_id: 2 },
  [B]: { anonymous_id: 1, user_id: 1 },
};
const request = { into: A, from: B, cause: "stitching suggestion 1 confirmed" };
const plan = (live: { into: string | undefined; from: string | undefined }, c = counts) =>
  planMerge(request, live, (p) => c[p] ?? {}, DEFAULT_RULES, "ORPHAN");

describe("a confirmed suggestion's merge event", () => {
  it("round-trips through the log's message", () => {
    const message = mergeMessage({ ...request, messageId: "m1", suggestionId: 1 }, new Date(0));
    expect(message).toMatchObject({ type: "merge", profileId: A, mergedProfileId: B, suggestionId: 1 });
    expect(readMergeRequest(message)).toEqual(request);
  });

  it("merges the second profile into the first", () => {
    expect(plan({ into: A, from: B })).toEqual({
      profileId: A,
      created: false,
      attach: [],
      merges: [{ from: B, cause: request.cause }],
      decisions: [],
    });
  });

  it("does nothing when both are already one profile", () => {
    expect(plan({ into: A, from: A })).toMatchObject({ profileId: A, merges: [], decisions: [] });
  });

  it("is refused, and says why, when the limits would break", () => {
    const p = plan({ into: A, from: B }, { [A]: { user_id: 1 }, [B]: { user_id: 1 } });
    expect(p.merges).toEqual([]);
    expect(p.decisions).toEqual([
      {
        kind: "merge_refused",
        identifier: { type: "profile_id", value: B },
        otherProfileId: B,
        reason:
          "merging would give one profile 2 user_id (limit 1); stitching suggestion 1 confirmed: not merged",
      },
    ]);
  });

  it("is refused when a profile no longer exists (erased), filed under whichever remains", () => {
    expect(plan({ into: undefined, from: B })).toMatchObject({
      profileId: B,
      decisions: [{ kind: "merge_refused", reason: expect.stringContaining(`profile ${A} does not exist`) }],
    });
    expect(plan({ into: undefined, from: undefined }).profileId).toBe("ORPHAN");
  });

  it("reads a malformed merge event as naming no profile, so it is refused instead of stuck", () => {
    expect(readMergeRequest({ type: "merge", profileId: "x" })).toEqual({
      into: "",
      from: "",
      cause: "merge",
    });
    expect(readMergeRequest({ type: "track" })).toBeUndefined();
  });
});

describe("a batch's merges written at once", () => {
  it("send each merged profile to where the merges in order leave it", () => {
    // c into b, then b into a, then d into e: c and b end in a, d in e.
    const merges = [
      { survivor: "b", merged: "c" },
      { survivor: "a", merged: "b" },
      { survivor: "e", merged: "d" },
    ];
    expect(finalSurvivors(merges)).toEqual(["a", "a", "e"]);
  });

  it("follow a chain whatever its length, and give nothing for no merges", () => {
    const chain = ["p0", "p1", "p2", "p3", "p4"];
    const merges = chain.slice(1).map((merged, i) => ({ survivor: chain[i]!, merged }));
    merges.reverse(); // p4 into p3, then p3 into p2, ... then p1 into p0
    expect(finalSurvivors(merges)).toEqual(["p0", "p0", "p0", "p0"]);
    expect(finalSurvivors([])).toEqual([]);
  });
});
