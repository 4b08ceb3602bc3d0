export { LIMITS } from "./core/limits.ts";
export {
  MESSAGE_TYPES,
  INTERNAL_TYPES,
  STORED_TYPES,
  messageSchema,
  messageSchemas,
  batchSchema,
  trackResponseSchema,
  storedEventSchema,
  type MessageType,
  type InternalType,
  type TrackResponse,
  type StoredEvent,
} from "./core/schema.ts";
export {
  parseJson,
  readMessage,
  readBatch,
  correctedTimestamp,
  type EventRow,
  type Rejection,
  type RejectCode,
  type ReadContext,
} from "./core/validate.ts";
export { EventWriter, type WriteRequest, type WriteResult } from "./writer.ts";
export { appendEvents, ensurePartitions } from "./store.ts";
export {
  listEvents,
  listRejected,
  encodeCursor,
  decodeCursor,
  type EventFilter,
  type Page,
  type RejectedEvent,
} from "./log.ts";
