import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { UnitLag } from "../pipeline/index.ts";

/** The Prometheus metrics of one server (a registry per app, so tests can run several). */
export interface Metrics {
  registry: Registry;
  requests: Counter<"method" | "route" | "status">;
  requestSeconds: Histogram<"route">;
  eventsAccepted: Counter<"type">;
  eventsRejected: Counter<"reason">;
  eventsDuplicate: Counter;
  eventsSuppressed: Counter;
  writeBatchEvents: Histogram;
  writeBatchRequests: Histogram;
  writeSeconds: Histogram;
  /** Events the pipeline workers of this process applied, by stage. */
  pipelineApplied: Counter<"stage">;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "waymark_" });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: "waymark_http_requests_total",
      help: "HTTP requests answered, by route pattern and status",
      labelNames: ["method", "route", "status"],
      registers,
    }),
    requestSeconds: new Histogram({
      name: "waymark_http_request_duration_seconds",
      help: "Time from request to response, by route pattern",
      labelNames: ["route"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    eventsAccepted: new Counter({
      name: "waymark_events_accepted_total",
      help: "Events accepted by the tracking API (duplicates included), by type",
      labelNames: ["type"],
      registers,
    }),
    eventsRejected: new Counter({
      name: "waymark_events_rejected_total",
      help: "Messages refused by the tracking API and kept as dead letters, by reason",
      labelNames: ["reason"],
      registers,
    }),
    eventsDuplicate: new Counter({
      name: "waymark_events_duplicate_total",
      help: "Accepted events whose messageId was already stored",
      registers,
    }),
    eventsSuppressed: new Counter({
      name: "waymark_events_suppressed_total",
      help: "Messages dropped unstored because they carry an erased person's identifier",
      registers,
    }),
    writeBatchEvents: new Histogram({
      name: "waymark_write_batch_events",
      help: "Events per group-commit transaction",
      buckets: [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000],
      registers,
    }),
    writeBatchRequests: new Histogram({
      name: "waymark_write_batch_requests",
      help: "Requests per group-commit transaction",
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    writeSeconds: new Histogram({
      name: "waymark_write_duration_seconds",
      help: "Duration of one group-commit transaction",
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers,
    }),
    pipelineApplied: new Counter({
      name: "waymark_pipeline_applied_events_total",
      help: "Events applied by this process's pipeline workers, by stage",
      labelNames: ["stage"],
      registers,
    }),
  };
}

/** The EventWriter's `onFlush`, recording each group commit's size and duration. */
export function observeWrites(metrics: Metrics) {
  return ({ requests, events, seconds }: { requests: number; events: number; seconds: number }): void => {
    metrics.writeBatchEvents.observe(events);
    metrics.writeBatchRequests.observe(requests);
    metrics.writeSeconds.observe(seconds);
  };
}

/**
 * Pipeline lag per unit (resolve, apply:0..7), read from the database on each scrape: it is the
 * whole pipeline's, so any process (api or worker) can answer. One query serves both gauges; when it
 * fails or takes over 2 s the gauges keep their last values rather than failing the scrape.
 */
export function observePipelineLag(metrics: Metrics, read: () => Promise<UnitLag[]>): void {
  if (metrics.registry.getSingleMetric("waymark_pipeline_lag_events")) return;
  let inFlight: Promise<UnitLag[] | undefined> | undefined;
  // A database that does not answer must not hold the scrape (and the process's other metrics).
  const readWithin = (ms: number) =>
    Promise.race([
      read().catch(() => undefined),
      // An unref'd timer: it never holds the process open.
      new Promise<undefined>((resolve) =>
        AbortSignal.timeout(ms).addEventListener("abort", () => resolve(undefined)),
      ),
    ]);
  const scrape = () => (inFlight ??= readWithin(2_000).finally(() => (inFlight = undefined)));
  const registers = [metrics.registry];
  new Gauge({
    name: "waymark_pipeline_lag_events",
    help: "Events waiting for a pipeline unit, over all workspaces",
    labelNames: ["unit"],
    registers,
    async collect() {
      for (const u of (await scrape()) ?? []) this.set({ unit: u.unit }, u.events);
    },
  });
  new Gauge({
    name: "waymark_pipeline_lag_seconds",
    help: "Age of the oldest event waiting for a pipeline unit, in any workspace (0 when none wait)",
    labelNames: ["unit"],
    registers,
    async collect() {
      for (const u of (await scrape()) ?? []) this.set({ unit: u.unit }, u.seconds);
    },
  });
}
