import { STEP_KINDS, edgesOf, type JourneyDefinition, type Step, type StepKind } from "../core.ts";
import type { Definition } from "../types.ts";

/** The node before the first step: what lets people in. */
export const TRIGGER_ID = "__trigger";
/** Where ways out that name no step lead: the journey ends there. */
export const END_ID = "__end";

export type NodeKind = StepKind | "trigger" | "end" | "unknown";

/** A box on the map. */
export interface MapNode {
  id: string;
  kind: NodeKind;
  /** The step's name, else its id. */
  title: string;
  /** One line on what the step does ("for Order Completed, 1h timeout"). */
  summary: string;
  /** The labels of its ways out, in order: the node's source handles. */
  outputs: string[];
  /** Its index in `steps` (-1 for the trigger and the end). */
  index: number;
}

/** An arrow on the map: `label` is what takes this way ("next", "case 1", "timeout", a branch id). */
export interface MapEdge {
  id: string;
  from: string;
  to: string;
  label: string;
}

export interface MapGraph {
  nodes: MapNode[];
  edges: MapEdge[];
}

export const KIND_LABELS: Record<NodeKind, string> = {
  trigger: "Trigger",
  end: "End",
  unknown: "Step",
  wait: "Wait",
  hold_until: "Hold until",
  branch: "Branch",
  split: "Split",
  webhook: "Webhook",
  message: "Message",
  update_profile: "Update profile",
  exit: "Exit",
};

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const list = (v: unknown): Raw[] => (Array.isArray(v) ? v.filter(isObject) : []);

/** The steps of a definition as saved (a draft may be malformed: anything not an object is skipped). */
export function stepsOf(def: Definition): Raw[] {
  return list(def.steps);
}

/** The kind of a step as written: its first kind key, or "unknown". */
export function kindOf(step: Raw): StepKind | "unknown" {
  for (const k of STEP_KINDS) if (step[k] !== undefined) return k;
  return "unknown";
}

/** The trigger's title and line: what lets people in. */
function triggerText(trigger: unknown): { title: string; summary: string } {
  if (!isObject(trigger)) return { title: "No trigger yet", summary: "choose what lets people in" };
  const where = trigger.where ? ", if the condition holds" : "";
  if (str(trigger.event))
    return { title: str(trigger.event)!, summary: `enters when this event arrives${where}` };
  if (trigger.api) return { title: "API call", summary: "enters through POST …/trigger" };
  if (isObject(trigger.schedule))
    return { title: `Schedule ${str(trigger.schedule.cron) ?? ""}`, summary: `enters at each tick${where}` };
  return { title: "No trigger yet", summary: "choose what lets people in" };
}

/** One line on what a step does. */
export function summaryOf(step: Raw): string {
  const kind = kindOf(step);
  const body = step[kind];
  const b = isObject(body) ? body : {};
  switch (kind) {
    case "wait":
      if (str(b.duration)) return `for ${str(b.duration)}`;
      if (str(b.until)) return `until ${str(b.until)}${str(b.offset) ? ` ${str(b.offset)}` : ""}`;
      if (str(b.timeOfDay))
        return `until ${str(b.timeOfDay)}${Array.isArray(b.weekdays) ? ` on ${b.weekdays.join(", ")}` : ""}`;
      return "";
    case "hold_until": {
      const events = list(b.events)
        .map((e) => str(e.event))
        .filter(Boolean)
        .join(" or ");
      return `for ${events || "an event"}${str(b.timeout) ? `, ${str(b.timeout)} timeout` : ""}`;
    }
    case "branch": {
      const n = list(b.cases).length;
      return `${n} case${n === 1 ? "" : "s"}, else`;
    }
    case "split":
      return list(b.variants)
        .map((v) => `${str(v.name) ?? "?"} ${typeof v.weight === "number" ? v.weight : "?"}`)
        .join(" / ");
    case "webhook":
      return `${str(b.method) ?? "POST"} ${str(b.url) ?? ""}`;
    case "message":
      return `${str(b.channel) ?? "?"}: ${str(b.template) ?? "?"}`;
    case "update_profile":
      return isObject(b.traits) ? `set ${Object.keys(b.traits).join(", ") || "nothing"}` : "";
    case "exit":
      return str(b.reason) ?? "ends the journey";
    case "unknown":
      return "choose what this step does";
    default: {
      const never: never = kind;
      return String(never);
    }
  }
}

/**
 * The map of a definition, also of a draft that does not parse: the ways out come from the core's
 * `edgesOf` (the same graph the validator and the engine use); a step too malformed for it has none,
 * and a way to an unknown step is left out (the validator names it).
 */
export function graphOf(def: Definition): MapGraph {
  const steps = stepsOf(def);
  const ids = new Set(steps.map((s) => str(s.id)).filter((id): id is string => id !== undefined));
  const nodes: MapNode[] = [
    {
      id: TRIGGER_ID,
      kind: "trigger",
      ...triggerText(def.trigger),
      outputs: steps.length ? ["start"] : [],
      index: -1,
    },
  ];
  const edges: MapEdge[] = [];
  const seen = new Set<string>();
  // edgesOf reads `steps` only for the order and ids, so the raw definition serves.
  const asDef = { ...def, steps } as unknown as JourneyDefinition;
  let toEnd = false;
  steps.forEach((step, index) => {
    const id = str(step.id);
    if (id === undefined || seen.has(id)) return;
    seen.add(id);
    let ways: Array<{ to: string | undefined; label: string }> = [];
    if (kindOf(step) !== "unknown") {
      try {
        ways = edgesOf(asDef, step as unknown as Step);
      } catch {
        ways = [];
      }
    }
    const outputs: string[] = [];
    for (const w of ways) {
      if (outputs.includes(w.label)) continue;
      outputs.push(w.label);
      if (w.to === undefined) toEnd = true;
      else if (!ids.has(w.to)) continue;
      edges.push({ id: `${id}:${w.label}`, from: id, to: w.to ?? END_ID, label: w.label });
    }
    nodes.push({
      id,
      kind: kindOf(step),
      title: str(step.name) || id,
      summary: summaryOf(step),
      outputs,
      index,
    });
  });
  const first = str(steps[0]?.id);
  if (first !== undefined)
    edges.unshift({ id: `${TRIGGER_ID}:start`, from: TRIGGER_ID, to: first, label: "" });
  if (toEnd) nodes.push({ id: END_ID, kind: "end", title: "End", summary: "", outputs: [], index: -1 });
  return { nodes, edges };
}

/** The step index a violation's path points into ("steps.3.wait.duration" → 3), else undefined. */
export function stepIndexOf(path: string): number | undefined {
  const m = /^steps\.(\d+)(?:\.|$)/.exec(path);
  return m ? Number(m[1]) : undefined;
}
