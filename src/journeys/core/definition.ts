import { z } from "zod";
import { conditionSchema } from "./conditions.ts";
import { durationSchema } from "./duration.ts";

/**
 * The journey definition: declared once here, and from it come the TypeScript types, the API's
 * validation and OpenAPI, the CLI's YAML checks and (later) the editor's forms. Structural rules live
 * here; rules that need the whole definition (unknown `next`, unreachable steps, cycles) live in
 * validate.ts.
 */

const STEP_ID = /^[A-Za-z][A-Za-z0-9_-]{0,63}$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

const stepId = z
  .string()
  .regex(STEP_ID, "must be a step id: a letter, then letters, digits, _ or - (at most 64)");
const eventName = z.string().min(1, "must name an event").max(200);
/** A Liquid template; a string that is exactly one `{{ ... }}` keeps the value's type. */
const template = z.string().max(10_000);
const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const timeOfDay = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, "must be a time of day HH:MM (24 h)");
const signedDuration = z.string().refine((s) => durationSchema.safeParse(s.replace(/^-/, "")).success, {
  message: "must be a duration such as 30s, 5m, 1h, 7d or ISO 8601, optionally negative (-1d)",
});

/** Exactly one of `keys` is present on the object: the kind of a trigger, a wait or a step. */
function exactlyOne(keys: readonly string[], what: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const present = keys.filter((k) => value[k] !== undefined);
    if (present.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          present.length === 0
            ? `${what} needs one of: ${keys.join(", ")}`
            : `${what} takes only one of ${present.join(", ")}`,
      });
    }
  };
}

/** Fields that mean something only beside another: alone the engine would ignore them without a word. */
function onlyWith(pairs: ReadonlyArray<readonly [field: string, needs: string]>) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    for (const [field, needs] of pairs) {
      const v = value[field];
      if ((Array.isArray(v) ? v.length > 0 : v !== undefined) && value[needs] === undefined) {
        ctx.addIssue({
          code: "custom",
          path: [field],
          message: `${field} works only with ${needs}; without it, it would be ignored`,
        });
      }
    }
  };
}

export const eventFilterSchema = z.strictObject({
  event: eventName.describe("the event name (track `event`)"),
  where: conditionSchema.optional().describe("a condition the event must also meet"),
});

export const triggerSchema = z
  .strictObject({
    event: eventName.optional().describe("enter when this event arrives"),
    where: conditionSchema.optional().describe("a condition on the event and profile"),
    api: z.literal(true).optional().describe("enter only through POST /api/v1/journeys/:key/trigger"),
    schedule: z
      .strictObject({
        cron: z.string().min(9).max(100).describe("5-field cron, e.g. `0 9 * * 1`"),
        timeZone: z.string().optional(),
      })
      .optional()
      .describe("enter every profile meeting `where` at each tick"),
  })
  .superRefine(exactlyOne(["event", "api", "schedule"], "trigger"));

export const entrySchema = z.strictObject({
  key: template.optional().describe("one live instance per key value; several per person"),
  reentry: z.enum(["never", "after_exit", "always"]).default("after_exit"),
  cooldown: durationSchema.optional().describe("after an exit, no re-entry with the same key for this long"),
  maxPerProfile: z.number().int().min(1).max(1_000_000).optional(),
  holdout: z.number().min(0).max(0.99).default(0).describe("share kept as a control group"),
});

export const collectionSchema = z.strictObject({
  id: template.describe("the item's identity, e.g. {{ event.properties.product_id }}"),
  upsert: z.array(eventName).min(1),
  remove: z.array(eventName).default([]),
  value: template.optional().describe("the item stored (default: the event's properties)"),
  max: z.number().int().min(1).max(1000).default(100),
});

export const lookupSchema = z.strictObject({
  table: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, "must be a table name"),
  key: template,
});

export const waitSchema = z
  .strictObject({
    duration: durationSchema.optional(),
    until: template.optional().describe("a date from data, e.g. {{ profile.traits.trial_ends_at }}"),
    offset: signedDuration.optional().describe("added to `until`, e.g. -1d"),
    timeOfDay: timeOfDay.optional().describe("the next HH:MM in the profile's time zone"),
    weekdays: z.array(z.enum(WEEKDAYS)).min(1).optional(),
    timeZone: z.string().optional().describe("used when the profile has none (default: the journey's)"),
  })
  .superRefine(exactlyOne(["duration", "until", "timeOfDay"], "wait"))
  .superRefine(
    onlyWith([
      ["offset", "until"],
      ["weekdays", "timeOfDay"],
      ["timeZone", "timeOfDay"],
    ]),
  );

export const holdBranchSchema = z.strictObject({
  id: z.string().regex(NAME, "must be a name: letters, digits and _"),
  event: eventName,
  where: conditionSchema.optional(),
  next: stepId.optional(),
});

export const holdUntilSchema = z
  .strictObject({
    events: z.array(holdBranchSchema).min(1),
    timeout: durationSchema.optional(),
    resetOn: z.array(eventName).default([]).describe("events that restart the timeout"),
    onTimeout: stepId.optional().describe("default: the next step in order"),
    keep: z.number().int().min(1).max(100).default(10).describe("matched events kept per branch"),
  })
  .superRefine(
    onlyWith([
      ["resetOn", "timeout"],
      ["onTimeout", "timeout"],
    ]),
  );

export const branchSchema = z.strictObject({
  cases: z.array(z.strictObject({ when: conditionSchema, next: stepId })).min(1),
  else: stepId.optional().describe("default: the next step in order"),
});

export const splitSchema = z.strictObject({
  name: z.string().max(100).optional().describe("the experiment's name in analytics"),
  variants: z
    .array(
      z.strictObject({
        name: z.string().regex(NAME, "must be a name: letters, digits and _"),
        weight: z.number().positive().max(1_000_000),
        next: stepId.optional(),
      }),
    )
    .min(2),
});

export const webhookSchema = z.strictObject({
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE"]).default("POST"),
  url: template,
  headers: z.record(z.string(), template).default({}),
  body: z.unknown().optional().describe("JSON; every string in it is a template"),
  saveAs: z
    .string()
    .regex(NAME, "must be a name: letters, digits and _")
    .optional()
    .describe("wait for the response and keep it in context under this name"),
});

export const messageSchema = z.strictObject({
  channel: z.enum(["email", "sms", "push", "webhook"]),
  template: z.string().min(1).max(200),
  topic: z.string().max(100).optional(),
  transactional: z.boolean().default(false),
});

export const STEP_KINDS = [
  "wait",
  "hold_until",
  "branch",
  "split",
  "webhook",
  "message",
  "update_profile",
  "exit",
] as const;
export type StepKind = (typeof STEP_KINDS)[number];

export const stepSchema = z
  .strictObject({
    id: stepId,
    name: z.string().max(200).optional(),
    next: stepId.optional().describe("the step after this one (default: the next in order)"),
    wait: waitSchema.optional(),
    hold_until: holdUntilSchema.optional(),
    branch: branchSchema.optional(),
    split: splitSchema.optional(),
    webhook: webhookSchema.optional(),
    message: messageSchema.optional(),
    update_profile: z.strictObject({ traits: z.record(z.string(), z.unknown()) }).optional(),
    exit: z.strictObject({ reason: z.string().max(200).optional() }).optional(),
  })
  .superRefine(exactlyOne(STEP_KINDS, "step"));

export const journeyDefinitionSchema = z.strictObject({
  key: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,99}$/, "must be lowercase letters, digits, - or _ (at most 100)"),
  name: z.string().min(1).max(200),
  description: z.string().max(2000).optional(),
  timeZone: z.string().default("UTC").describe("for time-of-day waits when the profile has no time zone"),
  trigger: triggerSchema,
  entry: entrySchema.default({ reentry: "after_exit", holdout: 0 }),
  context: z
    .strictObject({
      collections: z.record(z.string().regex(NAME, "must be a name"), collectionSchema).default({}),
      lookups: z.record(z.string().regex(NAME, "must be a name"), lookupSchema).default({}),
    })
    .default({ collections: {}, lookups: {} }),
  exits: z.array(eventFilterSchema).default([]).describe("events that end an instance at once"),
  goal: eventFilterSchema
    .extend({
      within: durationSchema.optional().describe("counted from entry"),
      exit: z.boolean().default(false).describe("leave the journey when the goal is reached"),
    })
    .optional(),
  steps: z.array(stepSchema).min(1, "a journey needs at least one step").max(500),
});

/** A journey definition as written (defaults not yet applied). */
export type JourneyInput = z.input<typeof journeyDefinitionSchema>;
/** A parsed journey definition, defaults applied: what versions store and the engine runs. */
export type JourneyDefinition = z.output<typeof journeyDefinitionSchema>;
export type Step = JourneyDefinition["steps"][number];
export type Trigger = JourneyDefinition["trigger"];

/** The kind of a parsed step (exactly one kind key is present). */
export function stepKind(step: Step): StepKind {
  for (const kind of STEP_KINDS) if (step[kind] !== undefined) return kind;
  throw new Error(`step ${step.id} has no kind`);
}
