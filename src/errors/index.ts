/**
 * The named errors every context throws. Each carries its HTTP status and whether a retry can help;
 * `server/errors.ts` is the one place that maps them to responses.
 */
export abstract class WaymarkError extends Error {
  abstract readonly status: number;
  abstract readonly code: string;
  /** True when the same request may succeed later (the client should retry). */
  readonly retryable: boolean = false;
}

/** The input broke a rule; `message` names the field and the rule. */
export class ValidationError extends WaymarkError {
  readonly status = 400;
  readonly code = "validation_error";
  constructor(
    message: string,
    readonly details: ReadonlyArray<{ path: string; message: string }> = [],
  ) {
    super(message);
  }
}

/** A request body over a size limit. */
export class PayloadTooLargeError extends WaymarkError {
  readonly status = 413;
  readonly code = "payload_too_large";
}

/** Missing or unknown credentials. */
export class UnauthorizedError extends WaymarkError {
  readonly status = 401;
  readonly code = "unauthorized";
}

export class NotFoundError extends WaymarkError {
  readonly status = 404;
  readonly code = "not_found";
}

export class ConflictError extends WaymarkError {
  readonly status = 409;
  readonly code = "conflict";
}

/** The service cannot take the request now (shutting down, database unreachable); retrying helps. */
export class UnavailableError extends WaymarkError {
  readonly status = 503;
  readonly code = "unavailable";
  override readonly retryable = true;
}
