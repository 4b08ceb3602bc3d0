import { generateKeyPairSync, randomBytes, verify } from "node:crypto";
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

/** A service account's key file, as the Google Cloud console gives it. */
export interface ServiceAccountKey {
  type: "service_account";
  project_id: string;
  private_key_id: string;
  private_key: string;
  client_email: string;
  client_id: string;
  auth_uri: string;
  token_uri: string;
}

/**
 * A stand-in for FCM's HTTP v1 send API (a paid Google service), as a real HTTP server on 127.0.0.1
 * that checks what the real one checks: POST /v1/projects/{id}/messages:send, a Bearer access token,
 * a JSON body with exactly one of token/topic/condition, string data values. Errors come in Google's
 * shape, with the FCM error code in `details`. It also plays Google's token endpoint (POST /token)
 * for its service account: the JWT bearer grant, the assertion checked against the account's public
 * key, issuer, audience, scope and lifetime, as Google checks them.
 */
export interface FakeFcm {
  /** The origin to configure as the channel's `baseUrl`. */
  url: string;
  projectId: string;
  accessToken: string;
  /** A key file for this project's service account, whose token_uri is this server's /token. */
  serviceAccount: ServiceAccountKey;
  /** Access tokens issued to the service account so far. */
  tokensIssued: number;
  /** Every issued token stops working (as one does when it expires): sends with it answer 401. */
  expireIssuedTokens(): void;
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
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const clientEmail = `waymark-push@${projectId}.iam.gserviceaccount.com`;
  const issued = new Set<string>();
  let tokensIssued = 0;
  let tokenUri = "";

  /** Google's token endpoint for the JWT bearer grant; errors in its OAuth shape. */
  const grant = (raw: string, res: http.ServerResponse): void => {
    const refuse = (error: string, description: string) => {
      res.writeHead(400, { "content-type": "application/json; charset=utf-8" });
      res.end(JSON.stringify({ error, error_description: description }));
    };
    const form = new URLSearchParams(raw);
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:jwt-bearer") {
      return refuse("unsupported_grant_type", "Invalid grant_type: " + (form.get("grant_type") ?? ""));
    }
    const parts = (form.get("assertion") ?? "").split(".");
    if (parts.length !== 3)
      return refuse("invalid_request", "Invalid JWT: Token must be a short-lived token");
    const [header, claims, signature] = parts as [string, string, string];
    const json = (part: string) =>
      JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
    if (json(header).alg !== "RS256") return refuse("invalid_grant", "Invalid JWT: unsupported alg");
    const signed = verify(
      "RSA-SHA256",
      Buffer.from(`${header}.${claims}`),
      publicKey,
      Buffer.from(signature, "base64url"),
    );
    if (!signed) return refuse("invalid_grant", "Invalid JWT Signature.");
    const c = json(claims);
    const now = Math.floor(Date.now() / 1000);
    if (c.iss !== clientEmail) return refuse("invalid_grant", "Invalid JWT: issuer");
    if (c.aud !== tokenUri) return refuse("invalid_grant", "Invalid JWT: audience");
    if (
      typeof c.scope !== "string" ||
      !c.scope.split(" ").includes("https://www.googleapis.com/auth/firebase.messaging")
    )
      return refuse("invalid_scope", "Invalid OAuth scope or ID token audience provided.");
    if (
      typeof c.iat !== "number" ||
      typeof c.exp !== "number" ||
      c.exp - c.iat > 3600 ||
      c.exp < now ||
      c.iat > now + 60
    )
      return refuse(
        "invalid_grant",
        "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.",
      );
    const token = `ya29.c.${randomBytes(24).toString("base64url")}`;
    issued.add(token);
    tokensIssued++;
    res.writeHead(200, { "content-type": "application/json; charset=utf-8" });
    res.end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: "Bearer" }));
  };

  const handle: FakeHandler = (req, raw, res, failure) => {
    if (failure === 429) return googleError(res, 429, "Quota exceeded.", { errorCode: "QUOTA_EXCEEDED" });
    if (failure === 503)
      return googleError(res, 503, "The service is unavailable.", { errorCode: "UNAVAILABLE" });
    if (failure !== undefined)
      return googleError(res, failure, "Internal error encountered.", { errorCode: "INTERNAL" });
    if (req.url === "/token" && req.method === "POST") return grant(raw, res);
    const match = /^\/v1\/projects\/([^/]+)\/messages:send$/.exec(req.url ?? "");
    if (!match) return googleError(res, 404, `The requested URL ${req.url} was not found on this server.`);
    if (req.method !== "POST") return googleError(res, 404, `Method ${req.method} not found.`);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    if (bearer !== accessToken && !(bearer && issued.has(bearer))) {
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
  tokenUri = `${server.url}/token`;
  return {
    url: server.url,
    projectId,
    accessToken,
    serviceAccount: {
      type: "service_account",
      project_id: projectId,
      private_key_id: randomBytes(20).toString("hex"),
      private_key: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      client_email: clientEmail,
      client_id: String(100_000_000_000_000_000_000n + BigInt(randomBytes(4).readUInt32BE())),
      auth_uri: "https://accounts.google.com/o/oauth2/auth",
      token_uri: tokenUri,
    },
    get tokensIssued() {
      return tokensIssued;
    },
    expireIssuedTokens: () => issued.clear(),
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
