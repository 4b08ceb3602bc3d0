/**
 * The channel port: one interface every provider implements (SMTP, Twilio, FCM, webhooks), and one
 * contract suite (test/support/channel-contract.ts) every adapter passes.
 */

export const CHANNELS = ["email", "sms", "push", "webhook"] as const;
export type ChannelKind = (typeof CHANNELS)[number];

/** A message rendered and addressed, ready for a provider. */
export interface OutgoingMessage {
  /** Waymark's message id (messages.id). */
  id: string;
  /** Stable across retries: the email's Message-ID, the webhook-id, the provider's idempotency key. */
  idempotencyKey: string;
  channel: ChannelKind;
  /** Email address, E.164 phone number, push device token, or webhook URL. */
  to: string;
  /** Email. */
  subject?: string;
  html?: string;
  text?: string;
  /** Extra headers (email: List-Unsubscribe ...; webhook: custom headers). */
  headers?: Record<string, string>;
  /** SMS text, or a push notification's body. */
  body?: string;
  /** Push. */
  title?: string;
  /** Push data payload, or a webhook's JSON body. */
  data?: Record<string, unknown>;
}

/**
 * What a provider answered. A permanent failure is not retried; a bounce also suppresses the address.
 * `retryAfterMs` asks for the next try that much later instead of the usual backoff (rate limits).
 */
export type SendResult =
  | { ok: true; providerMessageId?: string }
  | { ok: false; permanent: boolean; bounce?: boolean; reason: string; retryAfterMs?: number };

/** One provider of one channel. */
export interface Channel {
  readonly kind: ChannelKind;
  readonly provider: string;
  send(message: OutgoingMessage): Promise<SendResult>;
  close(): Promise<void>;
}
