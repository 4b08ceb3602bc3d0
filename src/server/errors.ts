import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import { WaymarkError } from "../errors/index.ts";
import { LIMITS } from "../ingest/index.ts";

/** The body of every error response. */
export interface ErrorBody {
  error: string;
  message: string;
}

/** Connection-level PostgreSQL failures: the request may succeed later. */
const UNAVAILABLE = new Set(["ECONNREFUSED", "ECONNRESET", "57P01", "57P02", "57P03", "53300"]);

/** The one place that turns errors into responses. */
export function errorHandler(err: FastifyError, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toResponse(err);
  if (status >= 500) req.log.error({ err }, "request failed");
  // A 503 is temporary: say when to try again (SDKs and HTTP clients honour it).
  if (status === 503) void reply.header("retry-after", "1");
  void reply.code(status).send(body);
}

export function toResponse(err: FastifyError): { status: number; body: ErrorBody } {
  if (err instanceof WaymarkError)
    return { status: err.status, body: { error: err.code, message: err.message } };
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issue = err.validation[0];
    const field = [err.validationContext, ...(issue?.instancePath.split("/").filter(Boolean) ?? [])].join(
      ".",
    );
    return {
      status: 400,
      body: { error: "validation_error", message: `${field}: ${issue?.message ?? "invalid"}` },
    };
  }
  switch (err.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return {
        status: 413,
        body: {
          error: "payload_too_large",
          message: `request body is over the limit of ${LIMITS.requestBytes / 1024} KB`,
        },
      };
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { status: 400, body: { error: "validation_error", message: `malformed JSON: ${err.message}` } };
    case "Z_DATA_ERROR":
    case "Z_BUF_ERROR":
      return {
        status: 400,
        body: { error: "validation_error", message: `body is not valid gzip: ${err.message}` },
      };
  }
  if (UNAVAILABLE.has(err.code) || String(err.code ?? "").startsWith("08")) {
    return { status: 503, body: { error: "unavailable", message: "the database is unavailable; retry" } };
  }
  if (typeof err.statusCode === "number" && err.statusCode >= 400 && err.statusCode < 500) {
    return { status: err.statusCode, body: { error: err.code ?? "bad_request", message: err.message } };
  }
  return {
    status: 500,
    body: { error: "internal_error", message: "internal error; the request was not stored" },
  };
}
