import fc from "fast-check";
import { MESSAGE_TYPES } from "../../src/ingest/index.ts";

// Strings made of any UTF-16 code units: NUL, lone surrogates and all.
export const anyText = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
});
const anyId = fc.oneof(anyText, fc.integer(), fc.double(), fc.constant(null), fc.constant(""), fc.object());
const anyTime = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  anyText,
  fc.integer(),
  fc.constant("0000-01-01T00:00:00Z"),
);
/** Segment-like messages with every field possibly wrong in every way. */
export const messageArbitrary = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...MESSAGE_TYPES), anyText),
    userId: anyId,
    anonymousId: anyId,
    previousId: anyId,
    groupId: anyId,
    event: fc.oneof(anyText, fc.integer()),
    messageId: fc.oneof(anyText, fc.integer()),
    properties: fc.oneof(fc.jsonValue(), fc.dictionary(anyText, fc.jsonValue())),
    traits: fc.jsonValue(),
    context: fc.jsonValue(),
    timestamp: anyTime,
    originalTimestamp: anyTime,
    sentAt: anyTime,
  },
  { requiredKeys: [] },
);
