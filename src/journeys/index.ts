export {
  journeyDefinitionSchema,
  stepSchema,
  triggerSchema,
  STEP_KINDS,
  stepKind,
  type JourneyDefinition,
  type JourneyInput,
  type Step,
  type StepKind,
} from "./core/definition.ts";
export { validateJourney, type Violation, type ValidateOptions } from "./core/validate.ts";
export { edgesOf, type Edge } from "./core/graph.ts";
export { advance, enter } from "./engine/advance.ts";
export type { Instance, Input, Effect, AuditEntry, JourneyVersion } from "./engine/types.ts";
export {
  JOURNEY_STATUSES,
  VersionCache,
  checkJourney,
  getJourney,
  listJourneys,
  publishJourney,
  saveDraft,
  setJourneyStatus,
  type JourneyListItem,
  type JourneyStatus,
  type JourneySummary,
} from "./definitions.ts";
export { journeyStage, type JourneyRuntimeOptions } from "./stage.ts";
export { JourneyWorker, type JourneyWorkerOptions } from "./worker.ts";
export {
  exitInstances,
  getInstance,
  journeyStats,
  listInstances,
  type InstanceFilter,
  type InstanceView,
} from "./read.ts";
export { triggerJourney, appendForPerson, appendForProfiles, type PersonRef } from "./trigger.ts";
export { insertAudit as insertJourneyAudit } from "./instances.ts";
