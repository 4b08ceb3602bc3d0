import { isTimeZone, nextTimeOfDay } from "../core/calendar.ts";
import { evaluateCondition } from "../core/conditions.ts";
import { stepKind, type JourneyDefinition, type Step } from "../core/definition.ts";
import { parseDuration } from "../core/duration.ts";
import { defaultNext } from "../core/graph.ts";
import { hashToUnit, pickWeighted } from "../core/hash.ts";
import { TemplateError, renderTemplate, renderValue } from "../core/template.ts";
import { updateCollections } from "./collections.ts";
import { eventName, matchesFilter, scopeOf } from "./entry.ts";
import type {
  AdvanceResult,
  AuditEntry,
  AuditKind,
  Effect,
  Input,
  Instance,
  JourneyVersion,
  Message,
  ProfileData,
  WebhookOutcome,
} from "./types.ts";

/** Steps run in one call before the engine stops an instance that never waits (a safety net). */
export const MAX_STEPS_PER_ADVANCE = 100;

/** What starting an instance needs: ids and time come in, like everything else. */
export interface EnterInput {
  instanceId: string;
  profile: ProfileData;
  key: string | null;
  /** The trigger event (for an API or scheduled entry: the message that stands for it). */
  event: Message;
  lookups: Record<string, unknown>;
  holdout: boolean;
}

/** Starts an instance: records the entry (or the holdout) and runs steps until one waits. Pure. */
export function enter(version: JourneyVersion, input: EnterInput, now: Date): AdvanceResult {
  const def = version.definition;
  const at = now.toISOString();
  const instance: Instance = {
    id: input.instanceId,
    journey: version.journey,
    version: version.version,
    profileId: input.profile.id,
    key: input.key,
    status: input.holdout ? "held_out" : "active",
    step: null,
    waiting: null,
    dueAt: null,
    context: { trigger: input.event, events: {}, ...input.lookups },
    enteredAt: at,
    endedAt: input.holdout ? at : null,
    endReason: input.holdout ? "holdout" : null,
    goalUntil: goalUntil(def, now),
    goalReachedAt: null,
    effectCount: 0,
  };
  const run = new Run(def, instance, input.profile, input.event, now);
  run.context = updateCollections(def, run.context, input.event, run.scope());
  if (input.holdout) {
    run.audit("held_out", null, "kept as control group: no steps run", { key: input.key });
    return run.result();
  }
  run.audit("entered", null, `triggered by ${eventName(input.event)}`, {
    key: input.key,
    messageId: input.event.messageId,
  });
  run.go(def.steps[0]!.id);
  return run.result();
}

/**
 * Moves an instance on one input: an event that reached it, its timer, a webhook's response, or an
 * exit request. Returns the new instance, the effects to commit with it, and the audit rows. Pure:
 * the same inputs give the same result (ids of effects count up from the instance's counter).
 */
export function advance(version: JourneyVersion, prior: Instance, input: Input, now: Date): AdvanceResult {
  const def = version.definition;
  const event = input.kind === "event" ? input.event : null;
  const profile = input.kind === "exit" ? null : input.profile;
  // A shallow copy is enough: a run only reassigns the instance's top-level fields, and context,
  // collections and kept events are replaced, never changed in place (a deep clone cost 5x advance).
  const run = new Run(def, { ...prior }, profile, event, now);
  if (input.kind !== "exit" && Object.keys(input.lookups).length > 0) {
    run.context = { ...run.context, ...input.lookups };
  }
  switch (input.kind) {
    case "exit":
      if (run.instance.status === "active") run.end("exited", input.reason);
      break;
    case "event":
      run.onEvent(input.event);
      break;
    case "timer":
      run.onTimer();
      break;
    case "webhook_result":
      run.onWebhookResult(input.effectKey, input.outcome);
      break;
    default: {
      const never: never = input;
      throw new Error(`unknown input ${JSON.stringify(never)}`);
    }
  }
  return run.result();
}

function goalUntil(def: JourneyDefinition, now: Date): string | null {
  const within = def.goal?.within ? parseDuration(def.goal.within) : undefined;
  return within === undefined ? null : new Date(now.getTime() + within).toISOString();
}

/** One call's working state: the instance being changed and what the call produced. */
class Run {
  readonly effects: Effect[] = [];
  readonly entries: AuditEntry[] = [];
  private readonly at: string;

  constructor(
    private readonly def: JourneyDefinition,
    readonly instance: Instance,
    private profile: ProfileData | null,
    private readonly event: Message | null,
    private readonly now: Date,
  ) {
    this.at = now.toISOString();
  }

  get context(): Record<string, unknown> {
    return this.instance.context;
  }
  set context(value: Record<string, unknown>) {
    this.instance.context = value;
  }

  scope(): Record<string, unknown> {
    return scopeOf(this.event, this.profile, this.instance.context, this.instance);
  }

  result(): AdvanceResult {
    return { instance: this.instance, effects: this.effects, audit: this.entries };
  }

  audit(kind: AuditKind, step: string | null, reason: string, data?: Record<string, unknown>): void {
    this.entries.push({ at: this.at, kind, step, reason, ...(data ? { data } : {}) });
  }

  end(status: "completed" | "exited", reason: string): void {
    const i = this.instance;
    i.status = status;
    i.waiting = null;
    i.dueAt = null;
    i.endedAt = this.at;
    i.endReason = reason;
    this.audit(status, i.step, reason);
  }

  private nextKey(): string {
    this.instance.effectCount += 1;
    return `${this.instance.id}:${this.instance.effectCount}`;
  }

  private step(id: string): Step {
    const step = this.def.steps.find((s) => s.id === id);
    if (!step) throw new Error(`journey ${this.instance.journey} has no step ${id}`);
    return step;
  }

  onEvent(event: Message): void {
    const i = this.instance;
    const goal = this.def.goal;
    const scope = this.scope();
    // A goal counts while the instance runs, or after it ended within the goal window.
    const goalOpen = i.status === "active" || (i.goalUntil !== null && i.goalUntil > this.at);
    if (goal && i.goalReachedAt === null && goalOpen && matchesFilter(goal, event, scope)) {
      if (i.goalUntil === null || i.goalUntil >= this.at) {
        i.goalReachedAt = this.at;
        this.audit("goal_reached", i.step, `${eventName(event)} reached the goal`, {
          messageId: event.messageId,
        });
        if (goal.exit && i.status === "active") this.end("exited", "goal reached");
      }
    }
    if (i.status !== "active") return;
    const exit = this.def.exits.find((e) => matchesFilter(e, event, scope));
    if (exit) {
      this.end("exited", `exit event ${exit.event}`);
      return;
    }
    this.context = updateCollections(this.def, this.context, event, scope);
    const waiting = i.waiting;
    if (waiting?.kind !== "hold" || !i.step) return;
    const hold = this.step(i.step).hold_until!;
    const name = eventName(event);
    const branch = hold.events.find((b) => matchesFilter(b, event, this.scope()));
    if (branch) {
      const events = (this.context.events ?? {}) as Record<string, unknown[]>;
      const kept = [...(events[branch.id] ?? []), event].slice(-hold.keep);
      this.context = { ...this.context, events: { ...events, [branch.id]: kept } };
      this.audit("event_matched", i.step, `${name} matched branch ${branch.id}`, {
        messageId: event.messageId,
      });
      this.go(branch.next ?? defaultNext(this.def, this.step(i.step)));
      return;
    }
    if (hold.timeout && hold.resetOn.includes(name)) {
      const ms = parseDuration(hold.timeout)!;
      i.dueAt = new Date(this.now.getTime() + ms).toISOString();
      this.audit("timer_reset", i.step, `${name} restarted the ${hold.timeout} timeout`, { until: i.dueAt });
    }
  }

  onTimer(): void {
    const i = this.instance;
    if (i.status !== "active" || !i.waiting || !i.step || i.dueAt === null) return;
    // A timer that fires early (a stale wake-up after a reset) changes nothing.
    if (i.dueAt > this.at) return;
    const step = this.step(i.step);
    if (i.waiting.kind === "wait") {
      this.audit("waited", step.id, `waited until ${i.waiting.until}`);
      this.go(defaultNext(this.def, step));
    } else if (i.waiting.kind === "hold") {
      const hold = step.hold_until!;
      this.audit(
        "timed_out",
        step.id,
        `no ${hold.events.map((b) => b.event).join(" or ")} within ${hold.timeout}`,
      );
      this.go(hold.onTimeout ?? defaultNext(this.def, step));
    }
  }

  onWebhookResult(effectKey: string, outcome: WebhookOutcome): void {
    const i = this.instance;
    if (i.status !== "active" || i.waiting?.kind !== "webhook" || i.waiting.effectKey !== effectKey) return;
    const { saveAs } = i.waiting;
    this.context = { ...this.context, [saveAs]: outcome };
    this.go(defaultNext(this.def, this.step(i.step!)));
  }

  /** Runs steps from `id` until one waits or the journey ends. */
  go(id: string | undefined): void {
    const i = this.instance;
    i.waiting = null;
    i.dueAt = null;
    let current: string | undefined | typeof WAIT = id;
    for (let n = 0; ; n++) {
      if (current === WAIT || i.status !== "active") return;
      if (current === undefined) {
        this.end("completed", "reached the end of the journey");
        return;
      }
      if (n >= MAX_STEPS_PER_ADVANCE) {
        this.end("exited", `ran ${MAX_STEPS_PER_ADVANCE} steps without waiting`);
        return;
      }
      const step = this.step(current);
      i.step = step.id;
      this.audit("step_started", step.id, stepKind(step));
      try {
        current = this.runStep(step);
      } catch (err) {
        if (!(err instanceof TemplateError)) throw err;
        this.audit("step_failed", step.id, err.message);
        this.end("exited", `step ${step.id} failed: ${err.message}`);
        return;
      }
    }
  }

  /** Runs one step; returns the next step id, undefined at the end, or WAIT when the instance parks. */
  private runStep(step: Step): string | undefined | typeof WAIT {
    const kind = stepKind(step);
    const after = defaultNext(this.def, step);
    const i = this.instance;
    switch (kind) {
      case "wait": {
        const until = this.waitUntil(step);
        if (until === undefined) {
          this.audit("waited", step.id, "the date to wait for is missing or not a date: not waiting");
          return after;
        }
        if (until.getTime() <= this.now.getTime()) {
          this.audit("waited", step.id, `${until.toISOString()} has passed: not waiting`);
          return after;
        }
        i.waiting = { kind: "wait", until: until.toISOString() };
        i.dueAt = until.toISOString();
        this.audit("waiting", step.id, `until ${i.dueAt}`, { until: i.dueAt });
        return WAIT;
      }
      case "hold_until": {
        const hold = step.hold_until!;
        i.waiting = { kind: "hold", since: this.at };
        i.dueAt = hold.timeout
          ? new Date(this.now.getTime() + parseDuration(hold.timeout)!).toISOString()
          : null;
        this.audit(
          "waiting",
          step.id,
          `for ${hold.events.map((b) => b.event).join(" or ")}${i.dueAt ? ` until ${i.dueAt}` : ""}`,
          { until: i.dueAt },
        );
        return WAIT;
      }
      case "branch": {
        const scope = this.scope();
        const cases = step.branch!.cases;
        for (let n = 0; n < cases.length; n++) {
          const { result, compared } = evaluateCondition(cases[n]!.when, scope);
          if (result) {
            this.audit("branch", step.id, `case ${n + 1} matched`, {
              case: n + 1,
              next: cases[n]!.next,
              compared,
            });
            return cases[n]!.next;
          }
        }
        const next = step.branch!.else ?? after;
        this.audit("branch", step.id, "no case matched: else", {
          case: "else",
          next,
          compared: cases.flatMap((c) => evaluateCondition(c.when, scope).compared),
        });
        return next;
      }
      case "split": {
        const split = step.split!;
        // Sticky per person: the same person lands in the same variant every time, also on replay.
        const seed = `${i.journey}:${step.id}:${i.profileId}`;
        const variant = pickWeighted(split.variants, seed);
        this.audit("split", step.id, `variant ${variant.name}`, {
          split: split.name ?? step.id,
          variant: variant.name,
          bucket: hashToUnit(seed),
        });
        return variant.next ?? after;
      }
      case "webhook": {
        const w = step.webhook!;
        const scope = this.scope();
        const url = String(renderTemplate(w.url, scope) ?? "");
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(w.headers))
          headers[name] = String(renderTemplate(value, scope) ?? "");
        const body = w.body === undefined ? undefined : JSON.stringify(renderValue(w.body, scope));
        if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) {
          headers["content-type"] = "application/json";
        }
        const key = this.nextKey();
        this.effects.push({
          kind: "webhook",
          key,
          step: step.id,
          request: { method: w.method, url, headers, body },
          saveAs: w.saveAs ?? null,
        });
        this.audit("webhook_queued", step.id, `${w.method} ${url}`, { webhookId: key });
        if (w.saveAs) {
          i.waiting = { kind: "webhook", effectKey: key, saveAs: w.saveAs };
          return WAIT;
        }
        return after;
      }
      case "message": {
        const m = step.message!;
        const key = this.nextKey();
        this.effects.push({
          kind: "message",
          key,
          step: step.id,
          channel: m.channel,
          template: m.template,
          topic: m.topic ?? null,
          transactional: m.transactional,
          data: {
            event: this.event ?? (this.context.trigger as Message | undefined) ?? null,
            context: this.context,
          },
        });
        this.audit("message_queued", step.id, `${m.channel} ${m.template}`, { messageKey: key });
        return after;
      }
      case "update_profile": {
        const traits = renderValue(step.update_profile!.traits, this.scope()) as Record<string, unknown>;
        const key = this.nextKey();
        this.effects.push({ kind: "update_profile", key, step: step.id, traits });
        // Later steps of this run see the new traits; the profile itself changes through the log.
        if (this.profile) this.profile = { ...this.profile, traits: { ...this.profile.traits, ...traits } };
        this.audit("profile_updated", step.id, `set ${Object.keys(traits).join(", ")}`, { traits });
        return after;
      }
      case "exit":
        this.end("completed", step.exit!.reason ?? `reached exit step ${step.id}`);
        return undefined;
      default: {
        const never: never = kind;
        throw new Error(`unknown step kind ${String(never)}`);
      }
    }
  }

  private waitUntil(step: Step): Date | undefined {
    const w = step.wait!;
    if (w.duration) return new Date(this.now.getTime() + parseDuration(w.duration)!);
    if (w.until !== undefined) {
      const value = renderTemplate(w.until, this.scope());
      const ms = typeof value === "number" ? value : parseDate(String(value ?? ""));
      if (!Number.isFinite(ms)) return undefined;
      const offset = w.offset
        ? (w.offset.startsWith("-") ? -1 : 1) * parseDuration(w.offset.replace(/^-/, ""))!
        : 0;
      return new Date(ms + offset);
    }
    // The profile's time zone comes from customer data: one that is not a real zone falls back.
    const own = this.profile?.timeZone;
    const timeZone = own && isTimeZone(own) ? own : (w.timeZone ?? this.def.timeZone);
    // Strictly after now: a wait reached at 09:00 itself (just woken from an earlier 09:00 wait by a
    // timer without delay, as in tests and the simulator) waits for the next 09:00, as it does when
    // the timer comes a moment late. Otherwise the outcome would hang on the timer's latency.
    return nextTimeOfDay(new Date(this.now.getTime() + 1), {
      time: w.timeOfDay!,
      timeZone,
      ...(w.weekdays ? { weekdays: w.weekdays } : {}),
    });
  }
}

const WAIT = Symbol("wait");

/** An ISO 8601 date and time without an offset (`2026-02-15T12:00:00`, also with a space). */
const DATE_TIME_WITHOUT_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * Milliseconds of a date from data; NaN when it is not one. Date.parse reads a date-time without an
 * offset in the server's time zone, so the same instance would wait differently on another machine:
 * read it as UTC, as Date.parse already does for a date alone and as templates render dates.
 */
function parseDate(text: string): number {
  return Date.parse(DATE_TIME_WITHOUT_OFFSET.test(text) ? `${text}Z` : text);
}
