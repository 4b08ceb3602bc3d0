import { z } from "zod";

/**
 * The Segment message, declared once: validation of incoming events, the TypeScript types and the
 * OpenAPI description of the tracking routes all come from these schemas.
 */

export const MESSAGE_TYPES = ["identify", "track", "page", "screen", "group", "alias"] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

/**
 * Types Waymark writes to the log itself and the tracking API never accepts: `merge` asks stage one
 * to merge two profiles (a confirmed stitching suggestion, see identity/core/merge.ts).
 */
export const INTERNAL_TYPES = ["merge"] as const;
export type InternalType = (typeof INTERNAL_TYPES)[number];
/** Every type an event in the log may have. */
export const STORED_TYPES = [...MESSAGE_TYPES, ...INTERNAL_TYPES] as const;

const ISO_8601 =
  /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/** An ISO 8601 date or date-time; a time without a zone is read as UTC. */
export const isoDateTime = z
  .string()
  .refine(
    (s) => ISO_8601.test(s) && !/^0000/.test(s) && Number.isFinite(Date.parse(s)),
    "must be an ISO 8601 date-time",
  );

/** Identifiers may be strings or numbers (SDKs send both); they are stored as strings. */
const identifier = z.union([z.string(), z.number().finite()]);
const jsonObject = z.record(z.string(), z.unknown());

const common = {
  messageId: z.string().min(1).max(256).optional(),
  userId: identifier.nullish(),
  anonymousId: identifier.nullish(),
  timestamp: isoDateTime.nullish(),
  originalTimestamp: isoDateTime.nullish(),
  sentAt: isoDateTime.nullish(),
  context: jsonObject.nullish(),
  integrations: jsonObject.nullish(),
};

export const identifySchema = z.looseObject({
  ...common,
  type: z.literal("identify"),
  traits: jsonObject.nullish(),
});
export const trackSchema = z.looseObject({
  ...common,
  type: z.literal("track"),
  event: z.string().trim().min(1),
  properties: jsonObject.nullish(),
});
export const pageSchema = z.looseObject({
  ...common,
  type: z.literal("page"),
  name: z.string().nullish(),
  category: z.string().nullish(),
  properties: jsonObject.nullish(),
});
export const screenSchema = z.looseObject({
  ...common,
  type: z.literal("screen"),
  name: z.string().nullish(),
  category: z.string().nullish(),
  properties: jsonObject.nullish(),
});
export const groupSchema = z.looseObject({
  ...common,
  type: z.literal("group"),
  groupId: identifier,
  traits: jsonObject.nullish(),
});
export const aliasSchema = z.looseObject({
  ...common,
  type: z.literal("alias"),
  previousId: identifier,
  userId: identifier,
});

export const messageSchemas = {
  identify: identifySchema,
  track: trackSchema,
  page: pageSchema,
  screen: screenSchema,
  group: groupSchema,
  alias: aliasSchema,
} as const satisfies Record<MessageType, z.ZodType>;

export const messageSchema = z.discriminatedUnion("type", [
  identifySchema,
  trackSchema,
  pageSchema,
  screenSchema,
  groupSchema,
  aliasSchema,
]);
export type IncomingMessage = z.infer<typeof messageSchema>;

export const batchSchema = z.looseObject({
  batch: z.array(messageSchema).max(2500),
  context: jsonObject.optional(),
  integrations: jsonObject.optional(),
  sentAt: isoDateTime.optional(),
  writeKey: z.string().optional(),
});

/** The answer of every tracking route. */
export const trackResponseSchema = z.object({
  success: z.literal(true),
  accepted: z.number().int().describe("messages stored (duplicates of stored messages included)"),
  rejected: z.number().int().describe("messages refused and kept as dead letters"),
  duplicates: z.number().int().describe("accepted messages whose messageId was already stored"),
  suppressed: z
    .number()
    .int()
    .describe(
      "messages dropped unstored because they carry an erased person's identifier (not counted as accepted; " +
        "an invalid one is still reported in rejected and errors, but not kept as a dead letter)",
    ),
  errors: z.array(
    z.object({ index: z.number().int(), messageId: z.string().nullable(), reason: z.string() }),
  ),
});
export type TrackResponse = z.infer<typeof trackResponseSchema>;

/** An event as stored and read back: Segment's shape with the normalised timestamps. */
export const storedEventSchema = z.looseObject({
  messageId: z.string(),
  type: z.enum(STORED_TYPES),
  userId: z.string().nullish(),
  anonymousId: z.string().nullish(),
  event: z.string().optional(),
  properties: jsonObject.optional(),
  traits: jsonObject.optional(),
  context: jsonObject.optional(),
  integrations: jsonObject.optional(),
  timestamp: z.string(),
  originalTimestamp: z.string().optional(),
  sentAt: z.string().optional(),
  receivedAt: z.string(),
  seq: z.number().int().describe("the event's position in the workspace's log"),
});
export type StoredEvent = z.infer<typeof storedEventSchema>;
