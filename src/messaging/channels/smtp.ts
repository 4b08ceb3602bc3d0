import { createHash } from "node:crypto";
import type { Socket } from "node:net";
import { createTransport } from "nodemailer";
import { z } from "zod";
import type { OutboundClient } from "../../outbound/index.ts";
import type { Channel, OutgoingMessage, SendResult } from "../core/channel.ts";
import { closedFailure } from "./outbound-result.ts";

/** An email channel's settings: an SMTP server (a relay, or a provider's SMTP endpoint). */
/**
 * Connections per email channel when its config does not say. Each mail takes several round trips
 * (MAIL, RCPT, DATA), each waiting for a busy event loop, so throughput is about connections over a
 * mail's time: with 5 the dispatcher fell behind 100 receipts/s beside the journey engine's work
 * (event to email p99 7 s), with 10 it caught up after bursts (1.5 s), with 16 it kept up (0.75-0.93 s)
 * (messaging benchmark, issue 6).
 */
export const SMTP_MAX_CONNECTIONS = 16;

export const smtpConfigSchema = z.strictObject({
  maxPerSecond: z.number().positive().max(100_000).optional().describe("the provider's send rate limit"),
  provider: z.literal("smtp"),
  host: z.string().min(1).describe("the SMTP server's host name or address"),
  port: z.number().int().min(1).max(65535).describe("587 (STARTTLS), 465 (TLS) or 25"),
  secure: z
    .boolean()
    .optional()
    .describe("true: TLS from the first byte; false: STARTTLS when offered. Default: true on port 465 only"),
  auth: z
    .strictObject({ user: z.string().min(1), pass: z.string().min(1).describe("secret") })
    .optional()
    .describe("SMTP AUTH; left out for a relay that trusts the sender's address"),
  from: z.string().min(3).describe('the From header: "Acme <news@acme.example>" or news@acme.example'),
  maxConnections: z
    .number()
    .int()
    .min(1)
    .max(100)
    .optional()
    .describe(
      `SMTP connections open at once (default ${SMTP_MAX_CONNECTIONS}); lower for a relay that limits them`,
    ),
});
export type SmtpConfig = z.infer<typeof smtpConfigSchema>;

/** How long an SMTP conversation may take; a stalled server fails the send as retryable. */
export interface SmtpTimeouts {
  /** Connecting (DNS, TCP, TLS); default 10 000 ms. */
  connectionMs?: number;
  /** The server's greeting after connecting; default 10 000 ms. */
  greetingMs?: number;
  /** Inactivity on an open connection; default 30 000 ms. */
  socketMs?: number;
}

/** Recipient rejections that mean the address does not exist (or never will accept): bounces. */
const BOUNCE_CODES = new Set([550, 551, 553]);
/** Characters of `id-left` (RFC 5322 dot-atom-text) kept as they are; `.` and `=` are escaped. */
const MESSAGE_ID_SAFE = /[A-Za-z0-9!#$%&'*+/?^_`{|}~-]/;
const MAX_ID_LEFT = 200;

/**
 * The Message-ID an idempotency key is sent with: `<key@waymark>`, the key's characters that are not
 * allowed there written as `=XX` (its UTF-8 bytes in hex). The mapping is one-to-one, so two keys never
 * share a Message-ID: receivers such as Gmail drop a second message with the same one, which is what
 * makes a retried send harmless, and would also drop a different message that collided. A key whose
 * escaped form is very long is replaced by its SHA-256.
 */
export function messageIdOf(idempotencyKey: string): string {
  let left = "";
  for (const char of idempotencyKey) {
    if (MESSAGE_ID_SAFE.test(char)) left += char;
    else
      for (const byte of Buffer.from(char, "utf8"))
        left += `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  if (left.length > MAX_ID_LEFT || left.length === 0) {
    left = `sha256-${createHash("sha256").update(idempotencyKey).digest("hex")}`;
  }
  return `<${left}@waymark>`;
}

/** The nodemailer error fields read here. */
interface SmtpError extends Error {
  code?: string;
  responseCode?: number;
  command?: string;
  response?: string;
}

/** The code of the error a refused or impossible connection fails the send with. */
const OUTBOUND_FAILED = "WAYMARK_OUTBOUND";

/** What an SMTP failure means for the message. */
export function describeSmtpFailure(err: unknown): SendResult & { ok: false } {
  const e = (err instanceof Error ? err : new Error(String(err))) as SmtpError & { permanent?: boolean };
  // The outbound guard refused the server's address (or it cannot be connected to as given): no retry
  // will change that, and nothing was sent.
  if (e.code === OUTBOUND_FAILED)
    return { ok: false, permanent: e.permanent ?? false, reason: `smtp: ${e.message}` };
  const code = e.responseCode;
  const reply = e.response ? `: ${e.response}` : e.message ? `: ${e.message}` : "";
  if (code === undefined) {
    // No reply from the server: connection refused or dropped, DNS, TLS, a timeout. The message may
    // have reached nobody, or (a drop after DATA) the server; the Message-ID makes a retry safe.
    return { ok: false, permanent: false, reason: `smtp ${e.code ?? "error"}${reply}` };
  }
  const step = e.command ? ` on ${e.command}` : "";
  if (code >= 500) {
    const bounce = e.command === "RCPT TO" && BOUNCE_CODES.has(code);
    return {
      ok: false,
      permanent: true,
      ...(bounce ? { bounce } : {}),
      reason: `smtp ${code}${step}${reply}`,
    };
  }
  return { ok: false, permanent: false, reason: `smtp ${code}${step}${reply}` };
}

/**
 * The email channel over SMTP (nodemailer), with a pool of up to `maxConnections` connections kept open
 * between sends (the config's, else the option's, else SMTP_MAX_CONNECTIONS). The Message-ID comes from
 * the idempotency key, so a retry after a lost reply is the same message to the receiver. Extra headers
 * (List-Unsubscribe ...) are sent as given. Every connection is opened by `outbound`, under the guard
 * of all outgoing calls: a relay on a private or loopback address needs WAYMARK_OUTBOUND_ALLOW (TLS,
 * on port 465 or after STARTTLS, still checks the certificate against `host`).
 */
export function createSmtpChannel(
  config: SmtpConfig,
  options: { outbound: OutboundClient; maxConnections?: number; timeouts?: SmtpTimeouts },
): Channel {
  const { outbound } = options;
  const connectionMs = options.timeouts?.connectionMs ?? 10_000;
  const transport = createTransport({
    pool: true,
    getSocket: (
      _options: unknown,
      callback: (err: Error | null, socket?: { connection: Socket }) => void,
    ) => {
      outbound.connect(config.host, config.port, connectionMs).then(
        (r) => {
          if (r.ok) return callback(null, { connection: r.socket });
          const permanent = r.kind === "refused" || r.kind === "invalid_url";
          callback(Object.assign(new Error(r.reason), { code: OUTBOUND_FAILED, permanent }));
        },
        (err: unknown) => callback(err instanceof Error ? err : new Error(String(err))),
      );
    },
    host: config.host,
    port: config.port,
    secure: config.secure ?? config.port === 465,
    ...(config.auth ? { auth: { user: config.auth.user, pass: config.auth.pass } } : {}),
    maxConnections: config.maxConnections ?? options.maxConnections ?? SMTP_MAX_CONNECTIONS,
    connectionTimeout: connectionMs,
    greetingTimeout: options.timeouts?.greetingMs ?? 10_000,
    socketTimeout: options.timeouts?.socketMs ?? 30_000,
    dnsTimeout: connectionMs,
  });
  const inFlight = new Set<Promise<unknown>>();
  let closed = false;

  async function send(message: OutgoingMessage): Promise<SendResult> {
    if (closed) return closedFailure("smtp");
    const sending = transport.sendMail({
      from: config.from,
      to: message.to,
      subject: message.subject ?? "",
      ...(message.html !== undefined ? { html: message.html } : {}),
      ...(message.text !== undefined ? { text: message.text } : {}),
      messageId: messageIdOf(message.idempotencyKey),
      ...(message.headers ? { headers: message.headers } : {}),
    });
    inFlight.add(sending);
    try {
      // One recipient: its rejection fails the whole send (EENVELOPE), so a resolved send was accepted.
      const info = await sending;
      return { ok: true, providerMessageId: info.messageId };
    } catch (err) {
      return describeSmtpFailure(err);
    } finally {
      inFlight.delete(sending);
    }
  }

  return {
    kind: "email",
    provider: "smtp",
    send,
    async close() {
      closed = true;
      // Sends in flight finish first: closing the pool under them would fail a message the server
      // may already have taken.
      await Promise.allSettled([...inFlight]);
      transport.close();
    },
  };
}
