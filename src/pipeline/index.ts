export { PipelineWorker, type PipelineOptions } from "./worker.ts";
export type { PipelineStage, AppliedEvent } from "./stage.ts";
export { pipelineStatus, pipelineLag, type UnitStatus, type UnitLag } from "./status.ts";
export { PARTITIONS, ALL_UNITS, RESOLVE_UNIT, partitionOf } from "./core/partition.ts";
export { runResolve } from "./run-resolve.ts";
export { runApply, type ApplyResult } from "./run-apply.ts";
export { waitForPipeline } from "./applied.ts";
