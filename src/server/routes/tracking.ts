import { randomUUID } from "node:crypto";
import { createGunzip, createInflate } from "node:zlib";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { UnauthorizedError, ValidationError } from "../../errors/index.ts";
import {
  LIMITS,
  MESSAGE_TYPES,
  batchSchema,
  messageSchemas,
  parseJson,
  readBatch,
  readMessage,
  trackResponseSchema,
  type EventRow,
  type MessageType,
  type Rejection,
  type TrackResponse,
} from "../../ingest/index.ts";
import type { RouteDeps } from "../context.ts";
import { segmentSettings } from "./settings.ts";

const SHORT: Record<MessageType, string> = {
  identify: "i",
  track: "t",
  page: "p",
  screen: "s",
  group: "g",
  alias: "a",
};

/**
 * The Segment HTTP tracking API. Bodies are read here, not by Fastify, so that a malformed body is
 * still kept as a dead letter and answered with our own error.
 */
export async function trackingRoutes(app: FastifyInstance, deps: RouteDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const r = app.withTypeProvider<ZodTypeProvider>();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: LIMITS.requestBytes }, (_req, body, done) =>
    done(null, body),
  );
  app.addHook("preParsing", async (req, _reply, payload) => {
    const encoding = req.headers["content-encoding"]?.toLowerCase();
    if (!encoding || encoding === "identity") return payload;
    const decoder = encoding === "gzip" ? createGunzip() : encoding === "deflate" ? createInflate() : null;
    if (!decoder)
      throw new ValidationError(`Content-Encoding ${encoding} is not supported (use gzip or none)`);
    // Fastify's body limit then counts decompressed bytes, which also stops gzip bombs.
    const out = payload.pipe(decoder) as typeof decoder & { receivedEncodedLength?: number };
    payload.on(
      "data",
      (chunk: Buffer) => (out.receivedEncodedLength = (out.receivedEncodedLength ?? 0) + chunk.length),
    );
    return out;
  });
  // Browsers send from any site: CORS is open on the tracking routes (and only there).
  app.addHook("onRequest", async (req, reply) => {
    const origin = req.headers.origin;
    void reply.header("access-control-allow-origin", origin ?? "*");
    if (origin) void reply.header("vary", "Origin");
    void reply.header("access-control-allow-credentials", "true");
  });
  app.options("/v1/*", { schema: { hide: true } }, async (req, reply) => {
    void reply
      .header("access-control-allow-methods", "GET, POST, OPTIONS")
      .header(
        "access-control-allow-headers",
        req.headers["access-control-request-headers"] ?? "authorization, content-type, content-encoding",
      )
      .header("access-control-max-age", "86400")
      .code(204)
      .send();
  });

  const response = {
    200: trackResponseSchema,
    400: z.object({ error: z.string(), message: z.string() }),
    401: z.object({ error: z.string(), message: z.string() }),
  };
  const passThrough = () => (data: unknown) => ({ value: data });
  // The hot path answers with plain JSON.stringify; the response schemas still document it.
  const plainJson = () => (data: unknown) => JSON.stringify(data);

  for (const type of MESSAGE_TYPES) {
    const handler = (req: FastifyRequest, reply: FastifyReply) => ingest(req, reply, type);
    const schema = {
      tags: ["tracking"],
      summary: `Record a ${type} call`,
      description: `Segment's /v1/${type}. Auth: HTTP Basic with the write key as user name, or writeKey in the body.`,
      body: messageSchemas[type].extend({
        type: z.literal(type).optional(),
        writeKey: z.string().optional(),
      }),
      response,
      security: [{ writeKey: [] }],
    };
    r.post(`/v1/${type}`, { schema, validatorCompiler: passThrough, serializerCompiler: plainJson }, handler);
    r.post(
      `/v1/${SHORT[type]}`,
      { schema: { ...schema, hide: true }, validatorCompiler: passThrough, serializerCompiler: plainJson },
      handler,
    );
  }
  const batch = {
    tags: ["tracking"],
    summary: "Record up to 2,500 calls at once",
    description:
      "Valid messages are stored and invalid ones kept as dead letters; the answer is 200 with both counts, " +
      "so SDKs do not resend the good ones.",
    body: batchSchema,
    response,
    security: [{ writeKey: [] }],
  };
  for (const url of ["/v1/batch", "/v1/import", "/v1/b"]) {
    r.post(
      url,
      {
        schema: { ...batch, hide: url !== "/v1/batch" },
        validatorCompiler: passThrough,
        serializerCompiler: plainJson,
      },
      (req, reply) => ingest(req, reply, "batch"),
    );
  }
  r.get(
    "/v1/projects/:writeKey/settings",
    {
      schema: {
        tags: ["tracking"],
        summary: "Settings for @segment/analytics-next (cdnURL pointed at Waymark)",
        params: z.object({ writeKey: z.string() }),
      },
    },
    async (req, reply) => {
      const workspace = await deps.workspaces.byWriteKey(req.params.writeKey);
      if (!workspace) throw new UnauthorizedError("unknown write key");
      return reply.send(segmentSettings(req.params.writeKey, `${req.protocol}://${req.host}`));
    },
  );

  async function ingest(
    req: FastifyRequest,
    reply: FastifyReply,
    kind: MessageType | "batch",
  ): Promise<void> {
    const receivedAt = now();
    const headerKey = writeKeyFromBasic(req.headers.authorization);
    const text = Buffer.isBuffer(req.body) ? req.body.toString("utf8") : "";
    const parsed = parseJson(text);
    const writeKey = headerKey ?? (parsed.ok ? bodyWriteKey(parsed.value) : undefined);
    if (!writeKey) {
      throw new UnauthorizedError(
        "write key required: send it as the HTTP Basic user name (Authorization: Basic base64(writeKey:)) or as writeKey in the body",
      );
    }
    const workspace = await deps.workspaces.byWriteKey(writeKey);
    if (!workspace) throw new UnauthorizedError("unknown write key");

    const write = async (events: EventRow[], rejections: Rejection[]) => {
      for (const rej of rejections) deps.metrics.eventsRejected.inc({ reason: rej.code });
      // An erased person's messages are dropped here, answered 200 all the same (a retry would only
      // be dropped again).
      const kept = await deps.suppression.screen(workspace.id, events, rejections);
      if (kept.suppressed > 0) deps.metrics.eventsSuppressed.inc(kept.suppressed);
      const nothing = kept.events.length === 0 && kept.rejections.length === 0;
      const stored = nothing
        ? { stored: 0, duplicates: 0 }
        : await deps.writer.write({
            workspaceId: workspace.id,
            route: kind,
            receivedAt,
            events: kept.events,
            rejections: kept.rejections,
          });
      return { ...stored, accepted: kept.events, suppressed: kept.suppressed };
    };
    const refuse = async (rejection: Omit<Rejection, "raw" | "index">) => {
      await write([], [{ ...rejection, index: 0, raw: text }]);
      throw new ValidationError(rejection.reason);
    };

    if (!parsed.ok) return refuse({ code: "malformed_json", reason: parsed.reason, messageId: null });
    const ctx = {
      receivedAt,
      newMessageId: randomUUID,
      ip: req.ip,
      bodyBytes: Buffer.isBuffer(req.body) ? req.body.length : 0,
    };
    let events: EventRow[];
    let rejections: Rejection[];
    if (kind === "batch") {
      const result = readBatch(parsed.value, ctx);
      if (!result.ok) return refuse({ code: "invalid_batch", reason: result.reason, messageId: null });
      ({ events, rejections } = result);
    } else {
      const result = readMessage(kind, parsed.value, ctx);
      if (!result.ok) {
        // The dead letter keeps the body as it came, not the message as read (with its type added).
        await write([], [{ ...result.rejection, raw: text }]);
        throw new ValidationError(result.rejection.reason);
      }
      events = [result.event];
      rejections = [];
    }
    const stored = await write(events, rejections);
    const byType = new Map<string, number>();
    for (const e of stored.accepted) byType.set(e.type, (byType.get(e.type) ?? 0) + 1);
    for (const [type, n] of byType) deps.metrics.eventsAccepted.inc({ type }, n);
    if (stored.duplicates > 0) deps.metrics.eventsDuplicate.inc(stored.duplicates);
    const body: TrackResponse = {
      success: true,
      accepted: stored.accepted.length,
      rejected: rejections.length,
      duplicates: stored.duplicates,
      suppressed: stored.suppressed,
      errors: rejections.map((x) => ({ index: x.index, messageId: x.messageId, reason: x.reason })),
    };
    return reply.send(body);
  }
}

/** `Authorization: Basic base64(writeKey:)`; returns undefined when absent or not Basic. */
function writeKeyFromBasic(header: string | undefined): string | undefined {
  if (!header?.toLowerCase().startsWith("basic ")) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), "base64").toString("utf8");
  const user = decoded.split(":")[0];
  return user ? user : undefined;
}

function bodyWriteKey(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const key = (body as { writeKey?: unknown }).writeKey;
  return typeof key === "string" && key !== "" ? key : undefined;
}
