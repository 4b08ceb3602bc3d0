export { buildApp } from "./app.ts";
export { createMetrics, observePipelineLag, observeWrites, type Metrics } from "./metrics.ts";
export type { ServerDeps } from "./context.ts";
