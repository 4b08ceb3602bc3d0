import type { Comparison } from "../core/conditions.ts";
import type { JourneyDefinition } from "../core/definition.ts";

/** A published, immutable version of a journey: what instances run on. */
export interface JourneyVersion {
  journey: string;
  version: number;
  definition: JourneyDefinition;
}

/** A Segment message as stored in the log (track, identify, ...). */
export type Message = Record<string, unknown>;

/** What the engine knows of the person an instance belongs to. */
export interface ProfileData {
  id: string;
  traits: Record<string, unknown>;
  /** IANA time zone from the profile's context, when known. */
  timeZone?: string | null;
}

export type InstanceStatus = "active" | "completed" | "exited" | "held_out";

/** Why an active instance is parked. */
export type Waiting =
  | { kind: "wait"; until: string }
  | { kind: "hold"; since: string }
  | { kind: "webhook"; effectKey: string; saveAs: string };

/** One run of a journey for one person (and one entry key). Plain data: stored as is. */
export interface Instance {
  id: string;
  journey: string;
  version: number;
  profileId: string;
  /** The entry key's value; null for a journey without a key. */
  key: string | null;
  status: InstanceStatus;
  /** The step the instance is at (waiting or last run); null before the first step. */
  step: string | null;
  waiting: Waiting | null;
  /** When a timer should wake it (a wait's end, a hold's timeout); null when none. */
  dueAt: string | null;
  /** trigger, collections, lookups, hold-until events, webhook responses. */
  context: Record<string, unknown>;
  enteredAt: string;
  endedAt: string | null;
  endReason: string | null;
  /** Until when a goal event still counts (set at entry from goal.within). */
  goalUntil: string | null;
  goalReachedAt: string | null;
  /** Effects emitted so far; numbers each effect's idempotency key. */
  effectCount: number;
}

/** The result of a webhook the instance waited for (saveAs). */
export type WebhookOutcome =
  { ok: true; status: number; body: unknown } | { ok: false; reason: string; status?: number };

/** What moves an instance. */
export type Input =
  | { kind: "event"; event: Message; profile: ProfileData; lookups: Record<string, unknown> }
  | { kind: "timer"; profile: ProfileData; lookups: Record<string, unknown> }
  | {
      kind: "webhook_result";
      effectKey: string;
      outcome: WebhookOutcome;
      profile: ProfileData;
      lookups: Record<string, unknown>;
    }
  | { kind: "exit"; reason: string };

/** An HTTP request the outbox will make. */
export interface WebhookRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string | undefined;
}

/** Something to happen outside the instance, once: written to the outbox with its key. */
export type Effect =
  | { kind: "webhook"; key: string; step: string; request: WebhookRequest; saveAs: string | null }
  | {
      kind: "message";
      key: string;
      step: string;
      channel: string;
      template: string;
      topic: string | null;
      transactional: boolean;
      /** What the template renders with, as it was when the step ran. */
      data: { event: Message | null; context: Record<string, unknown> };
    }
  | { kind: "update_profile"; key: string; step: string; traits: Record<string, unknown> };

export type AuditKind =
  | "entered"
  | "held_out"
  | "step_started"
  | "waiting"
  | "waited"
  | "event_matched"
  | "timer_reset"
  | "timed_out"
  | "branch"
  | "split"
  | "webhook_queued"
  | "webhook_sent"
  | "webhook_retrying"
  | "webhook_failed"
  | "message_queued"
  | "message_sent"
  | "message_delayed"
  | "message_skipped"
  | "message_failed"
  | "profile_updated"
  | "goal_reached"
  | "step_failed"
  | "completed"
  | "exited";

/** One row of an instance's timeline: what happened, where, why, with the data that decided it. */
export interface AuditEntry {
  at: string;
  kind: AuditKind;
  step: string | null;
  reason: string;
  data?: Record<string, unknown>;
}

export interface AdvanceResult {
  instance: Instance;
  effects: Effect[];
  audit: AuditEntry[];
}

export type { Comparison };
