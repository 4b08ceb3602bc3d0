import { stepKind, type JourneyDefinition, type Step } from "./definition.ts";

/** One way out of a step: to another step, or out of the journey (`to` undefined: the journey ends). */
export interface Edge {
  from: string;
  to: string | undefined;
  /** What takes this way: "next", "case 1", "else", "timeout", a hold branch id, a split variant. */
  label: string;
}

/** The step after `step` in order when it names none (undefined after the last step). */
export function defaultNext(def: JourneyDefinition, step: Step): string | undefined {
  if (step.next) return step.next;
  const i = def.steps.findIndex((s) => s.id === step.id);
  return def.steps[i + 1]?.id;
}

/** Every way out of every step: the journey as a graph, for validation, the engine and the map. */
export function edgesOf(def: JourneyDefinition, step: Step): Edge[] {
  const after = defaultNext(def, step);
  const kind = stepKind(step);
  switch (kind) {
    case "exit":
      return [];
    case "branch":
      return [
        ...step.branch!.cases.map((c, i) => ({ from: step.id, to: c.next, label: `case ${i + 1}` })),
        { from: step.id, to: step.branch!.else ?? after, label: "else" },
      ];
    case "split":
      return step.split!.variants.map((v) => ({ from: step.id, to: v.next ?? after, label: v.name }));
    case "hold_until": {
      const h = step.hold_until!;
      const out: Edge[] = h.events.map((b) => ({ from: step.id, to: b.next ?? after, label: b.id }));
      if (h.timeout) out.push({ from: step.id, to: h.onTimeout ?? after, label: "timeout" });
      return out;
    }
    case "wait":
    case "webhook":
    case "message":
    case "update_profile":
      return [{ from: step.id, to: after, label: "next" }];
    default: {
      const never: never = kind;
      throw new Error(`unknown step kind ${String(never)}`);
    }
  }
}

/** Steps that park an instance until time passes or an event arrives. */
export function isWaitingStep(step: Step): boolean {
  return step.wait !== undefined || step.hold_until !== undefined;
}
