import { randomBytes } from "node:crypto";
import type http from "node:http";
import { startFakeHttpServer, type FakeHandler } from "./fake-http.ts";

/** One push the fake accepted. */
export interface FcmPush {
  /** projects/{projectId}/messages/{id} */
  name: string;
  token: string;
  notification: { title?: string; body?: string } | undefined;
  data: Record<string, string> | undefined;
}

/**
 * A stand-in for FCM's HTTP v1 send API (a paid Google service), as a real HTTP server on 127.0.0.1
 * that checks what the real one checks: POST /v1/projects/{id}/messages:send, a Bearer access token,
 * a JSON body with exactly one of token/topic/condition, string data values. Errors come in Google's
 * shape, with the FCM error code in `details`.
 */
export interface FakeFcm {
  /** The origin to configure as the channel's `baseUrl`. */
  url: string;
  projectId: string;
  accessToken: string;
  /** Accepted pushes, in order. */
  pushes: FcmPush[];
  requests: number;
  connections: number;
  /** The app was uninstalled: sends to this token answer 404 UNREGISTERED. */
  unregister(token: string): void;
  /** Answers the next `times` requests with 429 QUOTA_EXCEEDED, 500 INTERNAL or 503 UNAVAILABLE. */
  failNext(status: 429 | 500 | 503, times?: number): void;
  /** Forgets what was received and any failure queued (unregistered tokens stay). */
  reset(): void;
  close(): Promise<void>;
}

const STATUS_NAMES: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

function googleError(
  res: http.ServerResponse,
  status: number,
  message: string,
  extra: { errorCode?: string; field?: string } = {},
): void {
  const details: unknown[] = [];
  if (extra.errorCode) {
    details.push({
      "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
      errorCode: extra.errorCode,
    });
  }
  if (extra.field) {
    details.push({
      "@type": "type.googleapis.com/google.rpc.BadRequest",
      fieldViolations: [{ field: extra.field, description: message }],
    });
  }
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
  res.end(
    JSON.stringify({
      error: {
        code: status,
        message,
        status: STATUS_NAMES[status] ?? "UNKNOWN",
        ...(details.length ? { details } : {}),
      },
    }),
  );
}

/** What a registration token looks like: long, from base64url letters and a colon. */
const TOKEN = /^[\w-]+:[\w-]{20,}$|^[\w-]{100,}$/;

export async function startFakeFcm(
  options: { host?: string; projectId?: string; accessToken?: string } = {},
): Promise<FakeFcm> {
  const projectId = options.projectId ?? "waymark-test";
  const accessToken = options.accessToken ?? `ya29.${randomBytes(24).toString("base64url")}`;
  const pushes: FcmPush[] = [];
  const unregistered = new Set<string>();

  const handle: FakeHandler = (req, raw, res, failure) => {
    if (failure === 429) return googleError(res, 429, "Quota exceeded.", { errorCode: "QUOTA_EXCEEDED" });
    if (failure === 503)
      return googleError(res, 503, "The service is unavailable.", { errorCode: "UNAVAILABLE" });
    if (failure !== undefined)
      return googleError(res, failure, "Internal error encountered.", { errorCode: "INTERNAL" });
    const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? "");
    if (!match) return googleError(res, 404, `The requested URL ${req.url} was not found on this server.`);
    if (req.method !== "POST") return googleError(res, 404, `Method ${req.method} not found.`);
    if (req.headers.authorization !== `Bearer ${accessToken}`) {
      return googleError(
        res,
        401,
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        { errorCode: "THIRD_PARTY_AUTH_ERROR" },
      );
    }
    if (decodeURIComponent(match[1]!) !== projectId) {
      return googleError(res, 403, "Permission 'cloudmessaging.messages.create' denied on resource.");
    }
    let body: { message?: Record<string, unknown> };
    try {
      body = JSON.parse(raw) as typeof body;
    } catch {
      return googleError(res, 400, "Invalid JSON payload received.", { errorCode: "INVALID_ARGUMENT" });
    }
    const message = body.message;
    if (typeof message !== "object" || message === null) {
      return googleError(res, 400, "Request contains an invalid argument.", {
        errorCode: "INVALID_ARGUMENT",
        field: "message",
      });
    }
    const targets = ["token", "topic", "condition"].filter((t) => message[t] !== undefined);
    if (targets.length !== 1) {
      return googleError(res, 400, "Exactly one of token, topic or condition is required.", {
        errorCode: "INVALID_ARGUMENT",
        field: "message",
      });
    }
    const data = message.data as Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(data ?? {})) {
      if (typeof value !== "string") {
        return googleError(res, 400, `Invalid value at 'message.data[${key}].value' (TYPE_STRING)`, {
          errorCode: "INVALID_ARGUMENT",
          field: `message.data[${key}].value`,
        });
      }
    }
    const token = message.token;
    if (typeof token !== "string" || !TOKEN.test(token)) {
      return googleError(res, 400, "The registration token is not a valid FCM registration token", {
        errorCode: "INVALID_ARGUMENT",
        field: "message.token",
      });
    }
    if (unregistered.has(token)) {
      return googleError(res, 404, "Requested entity was not found.", { errorCode: "UNREGISTERED" });
    }
    const name = `projects/${projectId}/messages/0:${Date.now()}%${randomBytes(8).toString("hex")}`;
    pushes.push({
      name,
      token,
      notification: message.notification as FcmPush["notification"],
      data: data as Record<string, string> | undefined,
    });
    res.writeHead(200, { "content-type": "application/json; charset=UTF-8" });
    res.end(JSON.stringify({ name }));
  };

  const server = await startFakeHttpServer(options.host ?? "127.0.0.1", handle);
  return {
    url: server.url,
    projectId,
    accessToken,
    pushes,
    get requests() {
      return server.requests;
    },
    get connections() {
      return server.connections;
    },
    unregister: (token) => void unregistered.add(token),
    failNext: server.failNext,
    reset() {
      pushes.length = 0;
      server.clearFailures();
    },
    close: server.close,
  };
}
