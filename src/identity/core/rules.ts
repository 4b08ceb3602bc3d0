import { z } from "zod";

/** Identifier types Waymark knows; custom ones come from context.externalIds and configured trait keys. */
export const BUILTIN_TYPES = ["user_id", "anonymous_id", "email", "phone"] as const;

/** Values that never identify anyone, whatever a workspace configures. */
export const DEFAULT_BLOCKED = ["null", "undefined", "0", "anonymous", "unknown", "", "none", "n/a", "nil"];

const STITCHING_DEFAULT = { enabled: false, windowMinutes: 30 };

/**
 * An identifier type as rules name it: spelled the way custom types from context.externalIds are
 * normalised (lower case, `_` for spaces and dashes), so a configured type matches what events carry.
 */
const TYPE_RULE =
  "must be an identifier type: a lower-case letter, then lower-case letters, digits or _ (64 at most)";
const identifierType = z.string().regex(/^[a-z][a-z0-9_]{0,63}$/, TYPE_RULE);
/** Zod reports a bad record key as "Invalid key in record"; say which rule it broke instead. */
const keyError = {
  error: (issue: { code?: string }) => (issue.code === "invalid_key" ? TYPE_RULE : undefined),
};

/**
 * A workspace's identity rules, declared once: the API validates with it, the resolver reads it.
 * Defaults follow Segment's: one user_id per profile, up to 5 emails, unlimited anonymous ids.
 * Every field may be left out (its default applies); unknown fields are refused, so a typo is caught.
 */
export const identityRulesSchema = z.strictObject({
  /** Most identifiers of a type one profile may hold (null: unlimited). Unnamed types keep their default. */
  limits: z
    .record(identifierType, z.number().int().min(1).max(1000).nullable(), keyError)
    .default(() => ({ user_id: 1, email: 5, phone: 5, anonymous_id: null }))
    .describe("most identifiers of a type one profile may hold (null: unlimited)"),
  /** Types from most to least trusted. Types not listed rank after these, in name order. */
  priority: z
    .array(identifierType)
    .max(100)
    .refine((types) => new Set(types).size === types.length, "must not name a type twice")
    .default(() => ["user_id", "email", "phone", "anonymous_id"])
    .describe("identifier types from most to least trusted"),
  /** Values that never identify anyone (compared case-insensitively, trimmed), beyond the built-in ones. */
  blocked: z
    .array(z.string().max(256))
    .max(1000)
    .default(() => [])
    .describe(`values that never identify anyone, beyond ${DEFAULT_BLOCKED.map((b) => `"${b}"`).join(", ")}`),
  /** Trait keys (identify traits, context.traits) that carry identifiers: key -> identifier type. */
  traitKeys: z
    .record(z.string().min(1).max(256), identifierType)
    .default(() => ({ email: "email", phone: "phone" }))
    .describe("trait keys that carry identifiers: trait key -> identifier type"),
  /** Visitor stitching from device signals: suggestions only, off by default. */
  stitching: z
    .strictObject({
      enabled: z.boolean(),
      windowMinutes: z.number().int().min(1).max(10_080).default(STITCHING_DEFAULT.windowMinutes),
    })
    .default(() => ({ ...STITCHING_DEFAULT }))
    .describe("suggest links between profiles seen with the same IP and user agent within the window"),
});
export type IdentityRules = z.infer<typeof identityRulesSchema>;

export const DEFAULT_RULES: IdentityRules = identityRulesSchema.parse({});

/**
 * Stored rules over the defaults. Limits and trait keys merge key by key (a workspace names only
 * what it changes; a default limit is lifted with null); the other fields replace the default.
 */
export function withDefaults(rules: Partial<IdentityRules> | null | undefined): IdentityRules {
  return {
    limits: { ...DEFAULT_RULES.limits, ...(rules?.limits ?? {}) },
    priority: rules?.priority ?? DEFAULT_RULES.priority,
    blocked: rules?.blocked ?? DEFAULT_RULES.blocked,
    traitKeys: { ...DEFAULT_RULES.traitKeys, ...(rules?.traitKeys ?? {}) },
    stitching: { ...DEFAULT_RULES.stitching, ...(rules?.stitching ?? {}) },
  };
}

export function rank(rules: IdentityRules, type: string): number {
  const i = rules.priority.indexOf(type);
  return i === -1 ? rules.priority.length : i;
}

export function limitOf(rules: IdentityRules, type: string): number | null {
  return type in rules.limits ? rules.limits[type]! : null;
}

/** Per type, the most identifiers one profile may hold (null: unlimited). */
export type LimitOf = (type: string) => number | null;

/**
 * The first limit that one profile holding both sets of identifiers would break, if any:
 * `[type, count, limit]`. Used wherever two profiles might become one.
 */
export function brokenLimit(
  limit: LimitOf,
  a: Readonly<Record<string, number>>,
  b: Readonly<Record<string, number>>,
): [type: string, count: number, limit: number] | undefined {
  const union: Record<string, number> = { ...a };
  for (const [type, n] of Object.entries(b)) union[type] = (union[type] ?? 0) + n;
  for (const [type, n] of Object.entries(union)) {
    const max = limit(type);
    if (max !== null && n > max) return [type, n, max];
  }
  return undefined;
}

export function isBlocked(rules: IdentityRules, value: string): boolean {
  const v = value.trim().toLowerCase();
  return DEFAULT_BLOCKED.includes(v) || rules.blocked.some((b) => b.trim().toLowerCase() === v);
}
