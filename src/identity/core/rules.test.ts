import { describe, expect, it } from "vitest";
import { DEFAULT_RULES, brokenLimit, identityRulesSchema, isBlocked, withDefaults } from "./rules.ts";

describe("identity rules", () => {
  it("default like Segment's: one user id, five emails, any number of anonymous ids", () => {
    expect(DEFAULT_RULES.limits).toEqual({ user_id: 1, email: 5, phone: 5, anonymous_id: null });
    expect(DEFAULT_RULES.stitching).toEqual({ enabled: false, windowMinutes: 30 });
  });

  it("take what a workspace stored over the defaults, limits and trait keys key by key", () => {
    const stored = identityRulesSchema.parse({ limits: { email: 1 }, traitKeys: { member: "member_no" } });
    expect(withDefaults(stored)).toMatchObject({
      limits: { user_id: 1, email: 1, anonymous_id: null },
      traitKeys: { email: "email", phone: "phone", member: "member_no" },
    });
  });

  it("name the field and the rule a bad body breaks", () => {
    const issue = (body: unknown) => identityRulesSchema.safeParse(body).error?.issues[0];
    expect(issue({ limits: { email: 0 } })).toMatchObject({ path: ["limits", "email"] });
    expect(issue({ limits: { "Loyalty ID": 1 } })).toMatchObject({
      path: ["limits", "Loyalty ID"],
      message: expect.stringContaining("must be an identifier type"),
    });
    expect(issue({ priority: ["email", "email"] })?.message).toBe("must not name a type twice");
    expect(issue({ limt: {} })?.message).toContain('"limt"');
  });

  it("block the built-in values and configured ones, whatever their case", () => {
    const rules = withDefaults({ blocked: ["Test@Example.com"] });
    for (const v of ["null", "Unknown", " 0 ", "", "test@example.COM"])
      expect(isBlocked(rules, v)).toBe(true);
    expect(isBlocked(rules, "ada@example.com")).toBe(false);
  });

  it("tell which limit two profiles together would break", () => {
    const limit = (t: string) => (t === "user_id" ? 1 : null);
    expect(brokenLimit(limit, { user_id: 1 }, { user_id: 1 })).toEqual(["user_id", 2, 1]);
    expect(brokenLimit(limit, { user_id: 1, anonymous_id: 9 }, { anonymous_id: 3 })).toBeUndefined();
  });
});
