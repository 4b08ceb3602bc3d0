/** Segment's HTTP API limits, which Waymark keeps so SDK behaviour is the same. */
export const LIMITS = {
  /** One event, as JSON. */
  eventBytes: 32 * 1024,
  /** One request body (after gzip decompression). */
  requestBytes: 500 * 1024,
  /** Events in one batch request. */
  batchEvents: 2500,
  /** Nesting of objects and arrays inside one event. PostgreSQL's jsonb parser recurses. */
  depth: 64,
} as const;
