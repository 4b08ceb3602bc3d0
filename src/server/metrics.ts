import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

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
