import type { Instance, TimelineEntry } from "../types.ts";
import type { MapPath } from "./journey-map.tsx";
import { END_ID, TRIGGER_ID } from "./model.ts";

/**
 * The path an instance took, read from its timeline: each `step_started` is a step visited, and the
 * way from the step before is the one its decision names (a hold branch matched, a timeout, a branch
 * case, a split variant; else "next"). Edge ids are `from:label`, as on the map.
 */
export function pathOf(instance: Instance, timeline: TimelineEntry[]): MapPath {
  const steps = new Set<string>();
  const edges = new Set<string>();
  let current: string | null = null;
  let way = "next";
  for (const t of timeline) {
    switch (t.kind) {
      case "entered":
        steps.add(TRIGGER_ID);
        break;
      case "step_started":
        if (!t.step) break;
        edges.add(current === null ? `${TRIGGER_ID}:start` : `${current}:${way}`);
        current = t.step;
        way = "next";
        steps.add(current);
        break;
      case "event_matched": {
        const m = /matched branch (\S+)$/.exec(t.reason);
        if (m) way = m[1]!;
        break;
      }
      case "timed_out":
        way = "timeout";
        break;
      case "branch":
        way = t.data?.case === "else" ? "else" : `case ${String(t.data?.case)}`;
        break;
      case "split":
        if (typeof t.data?.variant === "string") way = t.data.variant;
        break;
      case "completed":
        // Past the last step (not at an exit step): the way out led to the end.
        if (current !== null && t.reason === "reached the end of the journey") {
          edges.add(`${current}:${way}`);
          steps.add(END_ID);
        }
        break;
      default:
        break;
    }
  }
  return { steps, edges, current: instance.status === "active" ? instance.currentStep : null };
}
