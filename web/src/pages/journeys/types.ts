// The journey API's answers as the pages read them (see src/server/routes/journeys.ts).

export type JourneyStatus = "draft" | "active" | "paused" | "archived";

/** GET /api/v1/journeys items. */
export interface JourneySummary {
  key: string;
  name: string;
  status: JourneyStatus;
  publishedVersion: number | null;
  draftUpdatedAt: string;
  updatedAt: string;
  /** Instances running now; absent from servers older than the web app. */
  activeInstances?: number;
}

/** A definition as stored: the draft is whatever was saved, versions are parsed definitions. */
export type Definition = Record<string, unknown> & { steps?: unknown };

export interface Violation {
  path: string;
  message: string;
}

/** GET /api/v1/journeys/:key */
export interface JourneyDetail extends JourneySummary {
  draft: Definition;
  violations: Violation[];
  versions: Array<{ version: number; publishedAt: string; definition: Definition }>;
}

/** One step's numbers in GET /api/v1/journeys/:key/stats. */
export interface StepStats {
  step: string;
  entered: number;
  waiting: number;
  completed: number;
  ended: Record<string, number>;
}

export interface JourneyStats {
  journey: string;
  totals: {
    entered: number;
    active: number;
    completed: number;
    exited: number;
    heldOut: number;
    goalReached: number;
  };
  exitReasons: Record<string, number>;
  steps: StepStats[];
}

export type InstanceStatus = "active" | "completed" | "exited" | "held_out";

export interface Instance {
  id: string;
  journey: string;
  version: number;
  profileId: string;
  key: string | null;
  status: InstanceStatus;
  currentStep: string | null;
  dueAt: string | null;
  enteredAt: string;
  endedAt: string | null;
  endReason: string | null;
  goalReachedAt: string | null;
  context: Record<string, unknown>;
}

export interface TimelineEntry {
  at: string;
  kind: string;
  step: string | null;
  reason: string;
  data: Record<string, unknown> | null;
}

/** GET /api/v1/instances/:id */
export interface InstanceDetail extends Instance {
  timeline: TimelineEntry[];
}
