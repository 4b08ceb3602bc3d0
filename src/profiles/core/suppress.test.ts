import { describe, expect, it } from "vitest";
import { DEFAULT_RULES, withDefaults } from "../../identity/index.ts";
import { rejectedKeys, suppressionKeys } from "./suppress.ts";

const keys = (message: Record<string, unknown>, rules = DEFAULT_RULES) =>
  suppressionKeys(message, rules)
    .map((k) => `${k.type}:${k.value}`)
    .sort();

describe("the identifiers a message is checked by", () => {
  it("reads user and anonymous ids, and emails from traits and context.traits, normalised", () => {
    expect(
      keys({
        type: "identify",
        userId: 42,
        anonymousId: " a-1 ",
        traits: { email: " Ada@Example.COM " },
        context: { traits: { phone: "+44 1" }, externalIds: [{ type: "Customer-No", id: "c7" }] },
      }),
    ).toEqual(["anonymous_id:a-1", "customer_no:c7", "email:ada@example.com", "phone:+44 1", "user_id:42"]);
  });

  it("reads alias's previousId both as the id it looks like and as a user id", () => {
    expect(keys({ type: "alias", userId: "new", previousId: "old" })).toEqual([
      "anonymous_id:old",
      "user_id:new",
      "user_id:old",
    ]);
  });

  it("reads configured trait keys, and never blocked values", () => {
    const rules = withDefaults({ traitKeys: { member: "member_no" } });
    expect(keys({ type: "identify", anonymousId: "anonymous", traits: { member: "m-9" } }, rules)).toEqual([
      "member_no:m-9",
    ]);
  });
});

describe("the identifiers a refused message is checked by", () => {
  it("reads traits whatever the type, and every item of a refused batch", () => {
    const raw = JSON.stringify({
      batch: [{ type: "nonsense", traits: { email: "X@y.z" } }, "not an object", { userId: "u" }],
    });
    expect(rejectedKeys(raw, DEFAULT_RULES)).toEqual([
      { type: "email", value: "x@y.z" },
      { type: "user_id", value: "u" },
    ]);
  });

  it("gives up on a body that is not a JSON object (it is kept as a dead letter)", () => {
    expect(rejectedKeys('{"userId": "u"', DEFAULT_RULES)).toBeNull();
    expect(rejectedKeys('"u"', DEFAULT_RULES)).toBeNull();
  });
});
