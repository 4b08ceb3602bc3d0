import type { StepKind } from "../core.ts";
import { kindOf, stepsOf } from "../map/model.ts";
import type { Definition } from "../types.ts";

// Edits of a draft as pure functions: each returns a new definition and leaves the old one alone, so
// React sees the change and the validator runs on the result.

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

const BASE_IDS: Record<StepKind, string> = {
  wait: "wait",
  hold_until: "hold",
  branch: "branch",
  split: "split",
  webhook: "webhook",
  message: "message",
  update_profile: "update_profile",
  exit: "exit",
};

/** What a new step of each kind starts with: the smallest body the schema accepts. */
export function starterBody(kind: StepKind, following: string | undefined): unknown {
  switch (kind) {
    case "wait":
      return { duration: "1d" };
    case "hold_until":
      return { events: [{ id: "arrived", event: "Order Completed" }], timeout: "1d" };
    case "branch":
      return {
        cases: [{ when: { path: "profile.traits.plan", op: "eq", value: "pro" }, next: following ?? "" }],
      };
    case "split":
      return {
        variants: [
          { name: "a", weight: 1 },
          { name: "b", weight: 1 },
        ],
      };
    case "webhook":
      return { method: "POST", url: "https://example.com/hook" };
    case "message":
      return { channel: "email", template: "welcome" };
    case "update_profile":
      return { traits: { journey_stage: "reached" } };
    case "exit":
      return {};
    default: {
      const never: never = kind;
      throw new Error(`unknown step kind ${String(never)}`);
    }
  }
}

/** A step id not used yet: "wait", else "wait_2", "wait_3"... */
export function freshId(def: Definition, kind: StepKind): string {
  const used = new Set(stepsOf(def).map((s) => s.id));
  const base = BASE_IDS[kind];
  if (!used.has(base)) return base;
  for (let n = 2; ; n++) if (!used.has(`${base}_${n}`)) return `${base}_${n}`;
}

/** Inserts a new step after `after` (by id; at the end without one): it takes over `after`'s place in order. */
export function addStep(
  def: Definition,
  kind: StepKind,
  after?: string | null,
): { def: Definition; id: string } {
  const steps = stepsOf(def);
  const at = after ? steps.findIndex((s) => s.id === after) + 1 : steps.length;
  const index = at <= 0 ? steps.length : at;
  const id = freshId(def, kind);
  const following = typeof steps[index]?.id === "string" ? (steps[index]!.id as string) : undefined;
  const step = { id, [kind]: starterBody(kind, following) };
  return { def: { ...def, steps: [...steps.slice(0, index), step, ...steps.slice(index)] }, id };
}

/**
 * Calls `f` on every step id a step names; `f` returns the id to keep there, or undefined to drop an
 * optional one (a required one, a branch case's `next`, is then left as it was).
 */
function mapRefs(step: Raw, f: (id: string) => string | undefined): Raw {
  const out = structuredClone(step);
  const optional = (o: Raw, k: string) => {
    if (typeof o[k] !== "string") return;
    const v = f(o[k] as string);
    if (v === undefined) delete o[k];
    else o[k] = v;
  };
  const required = (o: Raw, k: string) => {
    if (typeof o[k] !== "string") return;
    const v = f(o[k] as string);
    if (v !== undefined) o[k] = v;
  };
  optional(out, "next");
  const branch = out.branch;
  if (isObject(branch)) {
    optional(branch, "else");
    if (Array.isArray(branch.cases)) for (const c of branch.cases) if (isObject(c)) required(c, "next");
  }
  const split = out.split;
  if (isObject(split) && Array.isArray(split.variants))
    for (const v of split.variants) if (isObject(v)) optional(v, "next");
  const hold = out.hold_until;
  if (isObject(hold)) {
    optional(hold, "onTimeout");
    if (Array.isArray(hold.events)) for (const e of hold.events) if (isObject(e)) optional(e, "next");
  }
  return out;
}

/** Removes a step; ways that named it fall back to the next step in order (a branch case keeps the name). */
export function deleteStep(def: Definition, id: string): Definition {
  const steps = stepsOf(def)
    .filter((s) => s.id !== id)
    .map((s) => mapRefs(s, (ref) => (ref === id ? undefined : ref)));
  return { ...def, steps };
}

/** Gives a step a new id, and every way that named the old one the new one. */
export function renameStep(def: Definition, from: string, to: string): Definition {
  if (from === to) return def;
  const steps = stepsOf(def).map((s) => {
    const renamed = mapRefs(s, (ref) => (ref === from ? to : ref));
    return s.id === from ? { ...renamed, id: to } : renamed;
  });
  return { ...def, steps };
}

/** Replaces one step (found by id) with `step`. */
export function replaceStep(def: Definition, id: string, step: Raw): Definition {
  return { ...def, steps: stepsOf(def).map((s) => (s.id === id ? step : s)) };
}

/** Makes a step another kind: its id, name and `next` stay, the body starts over. */
export function changeKind(def: Definition, id: string, kind: StepKind): Definition {
  const steps = stepsOf(def);
  const i = steps.findIndex((s) => s.id === id);
  const old = steps[i];
  if (!old) return def;
  const following = typeof steps[i + 1]?.id === "string" ? (steps[i + 1]!.id as string) : undefined;
  const step: Raw = { id: old.id };
  if (old.name !== undefined) step.name = old.name;
  if (old.next !== undefined) step.next = old.next;
  step[kind] = starterBody(kind, following);
  return replaceStep(def, id, step);
}

/**
 * Points a way out of `from` at step `to`: `output` is the edge's label on the map ("next", "case 2",
 * "else", "timeout", a hold branch id or a split variant name). Returns the definition unchanged when
 * the step has no such way out.
 */
export function connect(def: Definition, from: string, output: string, to: string): Definition {
  const steps = stepsOf(def);
  const old = steps.find((s) => s.id === from);
  if (!old) return def;
  const step = structuredClone(old);
  const kind = kindOf(step);
  const body = step[kind];
  const b = isObject(body) ? body : {};
  const inList = (items: unknown, key: string): boolean => {
    if (!Array.isArray(items)) return false;
    const item = items.find((x) => isObject(x) && x[key] === output);
    if (!isObject(item)) return false;
    item.next = to;
    return true;
  };
  let done = false;
  if (kind === "branch") {
    const m = /^case (\d+)$/.exec(output);
    const cases = Array.isArray(b.cases) ? b.cases : [];
    const c = m ? cases[Number(m[1]) - 1] : undefined;
    if (isObject(c)) {
      c.next = to;
      done = true;
    } else if (output === "else") {
      b.else = to;
      done = true;
    }
  } else if (kind === "split") {
    done = inList(b.variants, "name");
  } else if (kind === "hold_until") {
    if (output === "timeout") {
      b.onTimeout = to;
      done = true;
    } else done = inList(b.events, "id");
  } else if (output === "next" && kind !== "exit" && kind !== "unknown") {
    step.next = to;
    done = true;
  }
  return done ? replaceStep(def, from, step) : def;
}
