import { randomBytes } from "node:crypto";
import type http from "node:http";
import { startFakeHttpServer, type FakeHandler } from "./fake-http.ts";

/** One message the fake accepted. */
export interface TwilioMessage {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  body: string;
  /** The `Idempotency-Key` request header, if any. */
  idempotencyKey: string | undefined;
}

/**
 * A stand-in for Twilio's Messages API (Twilio is paid), as a real HTTP server on 127.0.0.1 that
 * checks what the real one checks: HTTP Basic with the account SID and auth token, the account in the
 * path, POST, form encoding, To/From/Body, an E.164 To. It answers Twilio's magic test numbers as
 * Twilio's test credentials do: +15005550001 invalid number (21211), +15005550004 blocked (21610),
 * +15005550009 not a mobile number (21614).
 */
export interface FakeTwilio {
  /** The origin to configure as the channel's `baseUrl`. */
  url: string;
  accountSid: string;
  authToken: string;
  /** Accepted messages, in order. */
  messages: TwilioMessage[];
  /** Every request, accepted or not. */
  requests: number;
  connections: number;
  /** Answers the next `times` requests with 429 (Twilio's 20429) or a 500/503. */
  failNext(status: 429 | 500 | 503, times?: number): void;
  /** Forgets what was received and any failure queued (unregistered tokens stay). */
  reset(): void;
  close(): Promise<void>;
}

const MAGIC_NUMBERS: Record<string, { code: number; message: string }> = {
  "+15005550001": { code: 21211, message: "The 'To' number +15005550001 is not a valid phone number." },
  "+15005550004": { code: 21610, message: "Attempt to send to unsubscribed recipient" },
  "+15005550009": { code: 21614, message: "'To' number is not a valid mobile number" },
};

function twilioError(res: http.ServerResponse, status: number, code: number, message: string): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify({ code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status }));
}

export async function startFakeTwilio(
  options: { host?: string; accountSid?: string; authToken?: string } = {},
): Promise<FakeTwilio> {
  const accountSid = options.accountSid ?? `AC${randomBytes(16).toString("hex")}`;
  const authToken = options.authToken ?? randomBytes(16).toString("hex");
  const messages: TwilioMessage[] = [];

  const handle: FakeHandler = (req, raw, res, failure) => {
    if (failure === 429) return twilioError(res, 429, 20429, "Too Many Requests");
    if (failure !== undefined) return twilioError(res, failure, 20500, "Internal Server Error");
    const expected = `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString("base64")}`;
    if (req.headers.authorization !== expected) return twilioError(res, 401, 20003, "Authenticate");
    const match = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url ?? "");
    if (!match) return twilioError(res, 404, 20404, `The requested resource ${req.url} was not found`);
    if (decodeURIComponent(match[1]!) !== accountSid) return twilioError(res, 401, 20003, "Authenticate");
    if (req.method !== "POST") return twilioError(res, 405, 20004, "Method not allowed");
    if (!(req.headers["content-type"] ?? "").startsWith("application/x-www-form-urlencoded")) {
      return twilioError(res, 400, 20001, "Content-Type must be application/x-www-form-urlencoded");
    }
    const form = new URLSearchParams(raw);
    const to = form.get("To");
    const from = form.get("From");
    const body = form.get("Body");
    if (!to) return twilioError(res, 400, 21604, "A 'To' phone number is required.");
    if (!from) return twilioError(res, 400, 21603, "A 'From' phone number is required.");
    if (!body) return twilioError(res, 400, 21602, "Message body is required.");
    if (!/^\+[1-9]\d{1,14}$/.test(to)) {
      return twilioError(res, 400, 21211, `The 'To' number ${to} is not a valid phone number.`);
    }
    const magic = MAGIC_NUMBERS[to];
    if (magic) return twilioError(res, 400, magic.code, magic.message);
    const sid = `SM${randomBytes(16).toString("hex")}`;
    const idempotency = req.headers["idempotency-key"];
    messages.push({
      sid,
      accountSid,
      to,
      from,
      body,
      idempotencyKey: typeof idempotency === "string" ? idempotency : undefined,
    });
    res.writeHead(201, { "content-type": "application/json; charset=utf-8" });
    res.end(
      JSON.stringify({
        sid,
        account_sid: accountSid,
        to,
        from,
        body,
        status: "queued",
        num_segments: "1",
        direction: "outbound-api",
        api_version: "2010-04-01",
        date_created: new Date().toUTCString(),
        uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
      }),
    );
  };

  const server = await startFakeHttpServer(options.host ?? "127.0.0.1", handle);
  return {
    url: server.url,
    accountSid,
    authToken,
    messages,
    get requests() {
      return server.requests;
    },
    get connections() {
      return server.connections;
    },
    failNext: server.failNext,
    reset() {
      messages.length = 0;
      server.clearFailures();
    },
    close: server.close,
  };
}
