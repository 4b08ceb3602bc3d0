import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { anyText, messageArbitrary } from "../../../test/support/arbitraries.ts";
import { MESSAGE_TYPES } from "./schema.ts";
import { correctedTimestamp, parseJson, readBatch, readMessage, type ReadContext } from "./validate.ts";

const receivedAt = new Date("2026-03-01T12:00:00.000Z");
let ids = 0;
const ctx: ReadContext = { receivedAt, newMessageId: () => `generated-${ids++}`, ip: "203.0.113.9" };

describe("clock skew correction", () => {
  it("shifts the device time by the device's own send delay", () => {
    expect(correctedTimestamp(receivedAt, "2001-01-01T00:00:00.000Z", "2001-01-01T00:00:02.000Z")).toBe(
      "2026-03-01T11:59:58.000Z",
    );
  });
  it("keeps the device time when there is no sentAt, and uses receivedAt when there is no time at all", () => {
    expect(correctedTimestamp(receivedAt, "2001-01-01T00:00:00.000Z")).toBe("2001-01-01T00:00:00.000Z");
    expect(correctedTimestamp(receivedAt)).toBe(receivedAt.toISOString());
  });
  it("falls back to the device time when the correction would leave the storable range", () => {
    expect(correctedTimestamp(receivedAt, "0001-01-01T00:00:00.000Z", "9999-01-01T00:00:00.000Z")).toBe(
      "0001-01-01T00:00:00.000Z",
    );
  });
});

describe("a message sent to a single-event route", () => {
  it("takes its type from the route, sets context.ip when absent and drops the writeKey", () => {
    const result = readMessage(
      "track",
      { type: "identify", userId: "u", event: "E", writeKey: "secret" },
      ctx,
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.event.type).toBe("track");
    expect(result.event.message).not.toHaveProperty("writeKey");
    expect(result.event.message.context).toEqual({ ip: "203.0.113.9" });
  });

  it("reads a zone-less date-time as UTC", () => {
    const result = readMessage("track", { userId: "u", event: "E", timestamp: "2024-02-03T04:05:06" }, ctx);
    expect(result.ok && result.event.timestamp).toBe("2024-02-03T04:05:06.000Z");
  });

  it("refuses text PostgreSQL cannot store, naming the rule", () => {
    const lone = readMessage("track", { userId: "u", event: "\ud800" }, ctx);
    expect(!lone.ok && lone.rejection.reason).toBe(
      "track: text must be valid Unicode (it has an unpaired surrogate)",
    );
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    const nested = readMessage("track", { userId: "u", event: "E", properties: { deep } }, ctx);
    expect(!nested.ok && nested.rejection.reason).toBe("track: nested deeper than 64 levels");
  });
});

describe("parseJson", () => {
  it("turns parse errors into a sentence", () => {
    const result = parseJson("{");
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/^malformed JSON: /);
  });
});

describe("fuzzing the validator", () => {
  it("never throws; every message is either accepted or rejected with a reason", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(messageArbitrary, fc.jsonValue()), { maxLength: 20 }), (batch) => {
        const result = readBatch({ batch }, ctx);
        expect(result.ok).toBe(true);
        if (!result.ok) return;
        expect(result.events.length + result.rejections.length).toBe(batch.length);
        for (const r of result.rejections) expect(r.reason.length).toBeGreaterThan(0);
        for (const e of result.events) {
          if (e.type !== "alias") expect(e.userId !== null || e.anonymousId !== null).toBe(true);
          expect(Number.isFinite(Date.parse(e.timestamp))).toBe(true);
          // What we store survives a JSON round trip unchanged (nothing jsonb would refuse or alter).
          const json = JSON.stringify(e.message);
          expect(json.includes("\\u0000")).toBe(false);
          expect(JSON.parse(json)).toEqual(e.message);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("never throws on any body for any single-event route", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...MESSAGE_TYPES),
        fc.oneof(messageArbitrary, fc.jsonValue()),
        (type, body) => {
          const result = readMessage(type, body, ctx);
          if (!result.ok)
            expect(
              result.rejection.reason.startsWith(`${type}: `) || result.rejection.code === "not_an_object",
            ).toBe(true);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("never throws on arbitrary text handed to the JSON parser", () => {
    fc.assert(
      fc.property(anyText, (text) => void parseJson(text)),
      { numRuns: 500 },
    );
  });
});
