import type { PoolClient } from "pg";

/** One event as the apply stages see it: resolved to its profile. */
export interface AppliedEvent {
  workspaceId: string;
  seq: number;
  profileId: string;
  /** Profiles this event merged into profileId; their earlier events are already applied. */
  merged: string[];
  receivedAt: Date;
  message: Record<string, unknown>;
}

/**
 * A module that consumes the resolved event stream (profiles now; audiences and journeys later).
 * `apply` runs inside the transaction that marks the events applied, so its effects happen exactly
 * once. Events arrive in seq order per profile; a batch may mix profiles of one partition.
 */
export interface PipelineStage {
  name: string;
  apply(tx: PoolClient, events: AppliedEvent[]): Promise<void>;
}
