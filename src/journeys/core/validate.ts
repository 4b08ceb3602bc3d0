import { isTimeZone } from "./calendar.ts";
import { conditionPaths } from "./conditions.ts";
import { checkCron } from "./cron.ts";
import { journeyDefinitionSchema, type JourneyDefinition, type Step } from "./definition.ts";
import { edgesOf, isWaitingStep } from "./graph.ts";
import { checkTemplate, checkValue } from "./template.ts";

/** One rule a journey definition breaks: where (a dotted path into the definition) and what. */
export interface Violation {
  path: string;
  message: string;
}

export interface ValidateOptions {
  /** The workspace's data tables; when given, a lookup into any other table is a violation. */
  tables?: readonly string[];
  /**
   * The workspace's message templates, key to channel; when given, a message step naming another
   * template, or one of another channel, is a violation.
   */
  templates?: ReadonlyMap<string, string>;
  /** The workspace's topics; when given, a message step naming another topic is a violation. */
  topics?: readonly string[];
}

/** Context names the engine fills itself. */
const RESERVED_CONTEXT = new Set(["trigger", "events"]);

/**
 * Every rule the definition breaks, shared by the API, the CLI and the editor: the schema's rules
 * first; when the shape is right, the rules of the whole journey (unknown `next`, unreachable steps,
 * cycles without a wait, bad templates, unknown tables, time zones, clashing context names).
 */
export function validateJourney(input: unknown, options: ValidateOptions = {}): Violation[] {
  const parsed = journeyDefinitionSchema.safeParse(input);
  if (!parsed.success) {
    return parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join("."),
      message: issue.message,
    }));
  }
  return journeyRules(parsed.data, options);
}

/** The rules that need the whole (schema-valid) definition. */
export function journeyRules(def: JourneyDefinition, options: ValidateOptions = {}): Violation[] {
  const out: Violation[] = [];
  const at = (path: string, message: string) => out.push({ path, message });
  const index = new Map<string, number>();
  def.steps.forEach((step, i) => {
    if (index.has(step.id)) at(`steps.${i}.id`, `duplicate step id "${step.id}"`);
    else index.set(step.id, i);
  });

  // Unknown targets.
  def.steps.forEach((step, i) => {
    for (const edge of edgesOf(def, step)) {
      if (edge.to !== undefined && !index.has(edge.to)) {
        at(`steps.${i}`, `step "${step.id}" (${edge.label}) goes to unknown step "${edge.to}"`);
      }
    }
    const branches = step.hold_until?.events ?? [];
    const seen = new Set<string>();
    branches.forEach((b, j) => {
      if (seen.has(b.id)) at(`steps.${i}.hold_until.events.${j}.id`, `duplicate branch id "${b.id}"`);
      seen.add(b.id);
    });
    const variants = new Set<string>();
    (step.split?.variants ?? []).forEach((v, j) => {
      if (variants.has(v.name)) at(`steps.${i}.split.variants.${j}.name`, `duplicate variant "${v.name}"`);
      variants.add(v.name);
    });
  });

  // Unreachable steps (from the first).
  const reached = new Set<string>();
  const stack = [def.steps[0]!.id];
  while (stack.length) {
    const id = stack.pop()!;
    if (reached.has(id) || !index.has(id)) continue;
    reached.add(id);
    for (const e of edgesOf(def, def.steps[index.get(id)!]!)) if (e.to) stack.push(e.to);
  }
  def.steps.forEach((step, i) => {
    if (!reached.has(step.id)) at(`steps.${i}`, `step "${step.id}" is unreachable from the first step`);
  });

  // A cycle that never waits would run forever at once. With a duplicate id the graph is ambiguous
  // (a step followed by its namesake looks like a loop), so only the duplicate is reported.
  const cycle = index.size === def.steps.length ? cycleWithoutWait(def, index) : undefined;
  if (cycle) {
    at(`steps.${index.get(cycle[0]!)!}`, `steps ${cycle.join(" -> ")} form a cycle without a wait`);
  }

  // Templates.
  const template = (path: string, value: string | undefined) => {
    if (value === undefined) return;
    const problem = checkTemplate(value);
    if (problem) at(path, `bad template: ${problem}`);
  };
  const templates = (path: string, value: unknown) => {
    for (const p of checkValue(value)) at(p.path ? `${path}.${p.path}` : path, `bad template: ${p.message}`);
  };
  template("entry.key", def.entry.key);
  for (const [name, c] of Object.entries(def.context.collections)) {
    template(`context.collections.${name}.id`, c.id);
    template(`context.collections.${name}.value`, c.value);
  }
  for (const [name, l] of Object.entries(def.context.lookups)) {
    template(`context.lookups.${name}.key`, l.key);
    if (options.tables && !options.tables.includes(l.table)) {
      at(
        `context.lookups.${name}.table`,
        `unknown table "${l.table}"; upload it with PUT /api/v1/tables/${l.table}`,
      );
    }
  }
  def.steps.forEach((step, i) => stepTemplates(step, `steps.${i}`, template, templates, at));

  // What message steps send: a template of their channel, a topic that exists.
  def.steps.forEach((step, i) => {
    const m = step.message;
    if (!m) return;
    const channel = options.templates?.get(m.template);
    if (options.templates && channel === undefined) {
      at(
        `steps.${i}.message.template`,
        `unknown template "${m.template}"; create it with PUT /api/v1/templates/${m.template}`,
      );
    } else if (channel !== undefined && channel !== m.channel) {
      at(
        `steps.${i}.message.template`,
        `template "${m.template}" is ${channel === "email" ? "an" : "a"} ${channel} template, not ${m.channel}`,
      );
    }
    if (m.topic !== undefined && options.topics && !options.topics.includes(m.topic)) {
      at(
        `steps.${i}.message.topic`,
        `unknown topic "${m.topic}"; create it with PUT /api/v1/topics/${m.topic}`,
      );
    }
  });

  // Time zones.
  const zone = (path: string, tz: string | undefined) => {
    if (tz !== undefined && !isTimeZone(tz))
      at(path, `unknown time zone "${tz}" (use an IANA name such as Europe/Berlin)`);
  };
  zone("timeZone", def.timeZone);
  zone("trigger.schedule.timeZone", def.trigger.schedule?.timeZone);
  def.steps.forEach((step, i) => zone(`steps.${i}.wait.timeZone`, step.wait?.timeZone));

  // Context names.
  const owners = new Map<string, string>();
  const claim = (name: string, path: string) => {
    if (RESERVED_CONTEXT.has(name)) at(path, `"${name}" is reserved in context`);
    else if (owners.has(name)) at(path, `context name "${name}" is already used by ${owners.get(name)}`);
    else owners.set(name, path);
  };
  for (const name of Object.keys(def.context.collections)) claim(name, `context.collections.${name}`);
  for (const name of Object.keys(def.context.lookups)) claim(name, `context.lookups.${name}`);
  def.steps.forEach((step, i) => {
    if (step.webhook?.saveAs) claim(step.webhook.saveAs, `steps.${i}.webhook.saveAs`);
  });

  // A scheduled trigger has no event: its condition reads the profile only.
  if (def.trigger.schedule) {
    const problem = checkCron(def.trigger.schedule.cron);
    if (problem) at("trigger.schedule.cron", `bad cron expression: ${problem}`);
    for (const p of def.trigger.where ? conditionPaths(def.trigger.where) : []) {
      if (!p.startsWith("profile.")) {
        at(
          "trigger.where",
          `a scheduled trigger has no event: the condition may read only profile.* (not ${p})`,
        );
      }
    }
  }
  return out;
}

function stepTemplates(
  step: Step,
  path: string,
  template: (path: string, value: string | undefined) => void,
  templates: (path: string, value: unknown) => void,
  bad: (path: string, message: string) => void,
): void {
  if (step.wait) template(`${path}.wait.until`, step.wait.until);
  if (step.webhook) {
    template(`${path}.webhook.url`, step.webhook.url);
    templates(`${path}.webhook.headers`, step.webhook.headers);
    templates(`${path}.webhook.body`, step.webhook.body);
    const url = step.webhook.url.trim();
    if (!/^https?:\/\//i.test(url) && !url.startsWith("{{")) {
      bad(`${path}.webhook.url`, "must be an http:// or https:// URL");
    }
  }
  if (step.update_profile) templates(`${path}.update_profile.traits`, step.update_profile.traits);
}

/** A cycle through steps none of which waits, as a list of step ids, or undefined. */
function cycleWithoutWait(def: JourneyDefinition, index: Map<string, number>): string[] | undefined {
  const state = new Map<string, "open" | "done">();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const step = def.steps[index.get(id)!];
    if (!step || isWaitingStep(step) || state.get(id) === "done") return undefined;
    if (state.get(id) === "open") return [...path.slice(path.indexOf(id)), id];
    state.set(id, "open");
    path.push(id);
    for (const e of edgesOf(def, step)) {
      if (e.to === undefined || !index.has(e.to)) continue;
      const found = visit(e.to);
      if (found) return found;
    }
    path.pop();
    state.set(id, "done");
    return undefined;
  };
  for (const step of def.steps) {
    const found = visit(step.id);
    if (found) return found;
  }
  return undefined;
}
