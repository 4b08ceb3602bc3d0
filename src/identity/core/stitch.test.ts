import { describe, expect, it } from "vitest";
import { deviceOf, planStitches, stitchScore, type DeviceEvent } from "./stitch.ts";

const MIN = 60_000;
const device = { ip: "203.0.113.7", userAgent: "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0" };
const event = (seq: number, profileId: string, at: number, signal = "S"): DeviceEvent => ({
  seq,
  profileId,
  signal,
  at,
  device,
});
const always = () => true;

describe("visitor stitching from device signals", () => {
  it("needs both an IP and a user agent", () => {
    expect(deviceOf({ context: { ip: "203.0.113.7" } })).toBeUndefined();
    expect(deviceOf({ context: { ip: "203.0.113.7", userAgent: " UA " } })).toEqual({
      ip: "203.0.113.7",
      userAgent: "UA",
    });
  });

  it("suggests linking two visitors seen on one device within the window, the first seen surviving", () => {
    const { suggestions, sightings } = planStitches(
      [event(1, "A", 0), event(2, "B", 5 * MIN)],
      [],
      30 * MIN,
      always,
    );
    expect(suggestions).toEqual([
      {
        profileId: "A",
        otherProfileId: "B",
        score: stitchScore(5 * MIN, 30 * MIN),
        signals: { ...device, gapSeconds: 300, seq: 1, otherSeq: 2 },
      },
    ]);
    expect(sightings.map((s) => s.profileId)).toEqual(["A", "B"]);
  });

  it("scores 1 at the same moment, falling to 0.5 at the edge of the window", () => {
    expect(stitchScore(0, 30 * MIN)).toBe(1);
    expect(stitchScore(15 * MIN, 30 * MIN)).toBe(0.75);
    expect(stitchScore(30 * MIN, 30 * MIN)).toBe(0.5);
  });

  it("suggests nothing past the window, on another device, or for one profile", () => {
    const far = planStitches([event(1, "A", 0), event(2, "B", 31 * MIN)], [], 30 * MIN, always);
    const other = planStitches([event(1, "A", 0), event(2, "B", MIN, "T")], [], 30 * MIN, always);
    const same = planStitches([event(1, "A", 0), event(2, "A", MIN)], [], 30 * MIN, always);
    expect([far, other, same].map((p) => p.suggestions)).toEqual([[], [], []]);
  });

  it("uses sightings stored by earlier batches", () => {
    const { suggestions } = planStitches(
      [event(9, "B", 10 * MIN)],
      [{ signal: "S", profileId: "A", at: 0, seq: 3 }],
      30 * MIN,
      always,
    );
    expect(suggestions).toMatchObject([
      { profileId: "A", otherProfileId: "B", signals: { seq: 3, otherSeq: 9 } },
    ]);
  });

  it("suggests no pair the limits would refuse to merge", () => {
    const { suggestions } = planStitches([event(1, "A", 0), event(2, "B", MIN)], [], 30 * MIN, () => false);
    expect(suggestions).toEqual([]);
  });

  it("makes one suggestion per pair, with the best score", () => {
    const { suggestions } = planStitches(
      [event(1, "A", 0), event(2, "B", 20 * MIN), event(3, "A", 21 * MIN), event(4, "B", 21 * MIN)],
      [],
      30 * MIN,
      always,
    );
    expect(suggestions).toHaveLength(1);
    expect(suggestions[0]).toMatchObject({ profileId: "A", otherProfileId: "B", score: 1 });
  });
});
