import { describe, expect, it } from "vitest";
import { extractIdentifiers } from "./extract.ts";
import { planResolution, type GraphView } from "./plan.ts";
import { DEFAULT_RULES } from "./rules.ts";

/** A graph given as profile -> identifiers. */
function graph(profiles: Record<string, Array<[string, string]>>): GraphView {
  return {
    owner: (id) =>
      Object.keys(profiles).find((p) => profiles[p]!.some(([t, v]) => t === id.type && v === id.value)),
    counts: (p) => {
      const counts: Record<string, number> = {};
      for (const [t] of profiles[p] ?? []) counts[t] = (counts[t] ?? 0) + 1;
      return counts;
    },
  };
}

const plan = (message: Record<string, unknown>, g: GraphView) =>
  planResolution(
    message as { type: string },
    extractIdentifiers(message, DEFAULT_RULES),
    g,
    DEFAULT_RULES,
    "NEW",
  );

describe("an anonymous visitor logs in", () => {
  it("keeps the visitor's profile and adds the user id to it", () => {
    const p = plan(
      { type: "identify", userId: "u1", anonymousId: "a1" },
      graph({ P: [["anonymous_id", "a1"]] }),
    );
    expect(p).toMatchObject({
      profileId: "P",
      created: false,
      attach: [{ type: "user_id", value: "u1" }],
      merges: [],
    });
  });

  it("merges the visitor into the known user's profile when the user already has one", () => {
    const g = graph({ A: [["anonymous_id", "a1"]], U: [["user_id", "u1"]] });
    const p = plan({ type: "identify", userId: "u1", anonymousId: "a1" }, g);
    expect(p).toMatchObject({
      profileId: "U",
      merges: [{ from: "A", cause: "identify: shared anonymous_id" }],
    });
  });
});

describe("limits", () => {
  it("keeps two user ids sharing an email as two profiles, and says why", () => {
    const g = graph({
      P1: [
        ["user_id", "u1"],
        ["email", "same@example.com"],
      ],
    });
    const p = plan({ type: "identify", userId: "u2", traits: { email: "Same@Example.com" } }, g);
    expect(p.profileId).toBe("NEW");
    expect(p.merges).toEqual([]);
    expect(p.decisions).toEqual([
      expect.objectContaining({
        kind: "merge_refused",
        otherProfileId: "P1",
        identifier: { type: "email", value: "same@example.com" },
      }),
    ]);
  });
});

describe("blocked values", () => {
  it("never lets a blocked value identify or merge anyone", () => {
    const g = graph({ P1: [["user_id", "u1"]] });
    const p = plan({ type: "identify", userId: "u2", anonymousId: "null", traits: { email: "unknown" } }, g);
    expect(p.profileId).toBe("NEW");
    expect(p.attach).toEqual([{ type: "user_id", value: "u2" }]);
    expect(p.decisions.map((d) => d.kind)).toEqual(["blocked", "blocked"]);
  });
});

describe("alias", () => {
  it("merges the previous id's profile into the user's", () => {
    const g = graph({ A: [["anonymous_id", "old"]], U: [["user_id", "u1"]] });
    const p = plan({ type: "alias", userId: "u1", previousId: "old" }, g);
    expect(p).toMatchObject({ profileId: "U", merges: [{ from: "A", cause: "alias" }] });
  });
});

describe("alias renames a user", () => {
  it("adds the new user id to the former user's profile despite the user_id limit", () => {
    const g = graph({ P: [["user_id", "old"]] });
    const message = { type: "alias", userId: "new", previousId: "old" };
    // The resolver reads a previousId it knows as a user id as one.
    const x = extractIdentifiers(message, DEFAULT_RULES);
    x.identifiers = x.identifiers.map((id) => (id.value === "old" ? { type: "user_id", value: "old" } : id));
    const p = planResolution(message, x, g, DEFAULT_RULES, "NEW");
    expect(p).toMatchObject({ profileId: "P", attach: [{ type: "user_id", value: "new" }], decisions: [] });
  });

  it("still refuses a merge an identify would make between two user ids", () => {
    const g = graph({ P: [["user_id", "old"]] });
    const p = plan({ type: "identify", userId: "new", traits: {} }, g);
    expect(p.profileId).toBe("NEW");
  });
});
