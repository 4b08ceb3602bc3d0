import { z } from "zod";

/** Identifier types Waymark knows; custom ones come from context.externalIds and configured trait keys. */
export const BUILTIN_TYPES = ["user_id", "anonymous_id", "email", "phone"] as const;

/**
 * A workspace's identity rules, declared once: the API validates with it, the resolver reads it.
 * Defaults follow Segment's: one user_id per profile, up to 5 emails, unlimited anonymous ids.
 */
export const identityRulesSchema = z.object({
  /** Most identifiers of a type one profile may hold (null: unlimited). */
  limits: z.record(z.string(), z.number().int().min(1).nullable()),
  /** Types from most to least trusted. Types not listed rank after these, in name order. */
  priority: z.array(z.string()),
  /** Values that never identify anyone (compared case-insensitively, trimmed). */
  blocked: z.array(z.string()),
  /** Trait keys (identify traits, context.traits) that carry identifiers: key -> identifier type. */
  traitKeys: z.record(z.string(), z.string()),
  /** Visitor stitching from device signals: suggestions only, off by default. */
  stitching: z
    .object({ enabled: z.boolean(), windowMinutes: z.number().int().min(1).max(10_080) })
    .default({ enabled: false, windowMinutes: 30 }),
});
export type IdentityRules = z.infer<typeof identityRulesSchema>;

export const DEFAULT_BLOCKED = ["null", "undefined", "0", "anonymous", "unknown", "", "none", "n/a", "nil"];

export const DEFAULT_RULES: IdentityRules = {
  limits: { user_id: 1, email: 5, phone: 5, anonymous_id: null },
  priority: ["user_id", "email", "phone", "anonymous_id"],
  blocked: [],
  traitKeys: { email: "email", phone: "phone" },
  stitching: { enabled: false, windowMinutes: 30 },
};

/** Stored rules over the defaults (limits and trait keys merge key by key). */
export function withDefaults(rules: Partial<IdentityRules> | null | undefined): IdentityRules {
  return {
    limits: { ...DEFAULT_RULES.limits, ...(rules?.limits ?? {}) },
    priority: rules?.priority ?? DEFAULT_RULES.priority,
    blocked: rules?.blocked ?? DEFAULT_RULES.blocked,
    traitKeys: { ...DEFAULT_RULES.traitKeys, ...(rules?.traitKeys ?? {}) },
    stitching: rules?.stitching ?? DEFAULT_RULES.stitching,
  };
}

export function rank(rules: IdentityRules, type: string): number {
  const i = rules.priority.indexOf(type);
  return i === -1 ? rules.priority.length : i;
}

export function limitOf(rules: IdentityRules, type: string): number | null {
  return type in rules.limits ? rules.limits[type]! : null;
}

export function isBlocked(rules: IdentityRules, value: string): boolean {
  const v = value.trim().toLowerCase();
  return DEFAULT_BLOCKED.includes(v) || rules.blocked.some((b) => b.trim().toLowerCase() === v);
}
