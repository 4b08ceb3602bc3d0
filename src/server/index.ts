export { buildApp } from "./app.ts";
export { createMetrics, observeWrites, type Metrics } from "./metrics.ts";
export type { ServerDeps } from "./context.ts";
