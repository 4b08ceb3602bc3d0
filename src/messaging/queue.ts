import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import { withTx } from "../db/index.ts";
import { NotFoundError, ValidationError } from "../errors/index.ts";
import { lookupRecipient } from "./recipient.ts";
import { getTemplate } from "./templates.ts";

/** A message as the journey engine's `message` effect describes it (outbox payload). */
interface MessageEffect {
  kind: "message";
  key: string;
  step: string;
  channel: string;
  template: string;
  topic: string | null;
  transactional: boolean;
  data: { event: unknown; context: unknown };
  profileId: string;
}

/**
 * Takes the journeys' queued `message` effects from the outbox into the message log (`messages`,
 * status queued), in one transaction: the outbox row is done once its message exists, and the
 * effect's key stays the message's idempotency key, so a repeat adds nothing. Returns how many.
 */
export async function acceptJourneyMessages(pool: Pool, now: Date, limit: number): Promise<number> {
  return withTx(pool, async (tx) => {
    const { rows } = await tx.query<{
      id: string;
      workspace_id: string;
      key: string;
      instance_id: string | null;
      journey_key: string | null;
      payload: MessageEffect;
    }>(
      `SELECT id, workspace_id, key, instance_id, journey_key, payload FROM outbox
       WHERE kind = 'message' AND status = 'pending' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    if (rows.length === 0) return 0;
    await tx.query(
      `INSERT INTO messages (id, workspace_id, idempotency_key, profile_id, channel, template_key, topic,
         transactional, journey_key, instance_id, step, data, status, next_attempt_at, created_at, updated_at)
       SELECT x.id, x.workspace_id, x.key, x.profile_id, x.channel, x.template, x.topic, x.transactional,
         x.journey, x.instance, x.step, x.data, 'queued', $2, $2, $2
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, workspace_id uuid, key text, profile_id uuid, channel text,
         template text, topic text, transactional boolean, journey text, instance uuid, step text, data jsonb)
       ON CONFLICT (workspace_id, idempotency_key) DO NOTHING`,
      [
        JSON.stringify(
          rows.map((r) => ({
            id: randomUUID(),
            workspace_id: r.workspace_id,
            key: r.key,
            profile_id: r.payload.profileId,
            channel: r.payload.channel,
            template: r.payload.template,
            topic: r.payload.topic,
            transactional: r.payload.transactional,
            journey: r.journey_key,
            instance: r.instance_id,
            step: r.payload.step,
            data: r.payload.data,
          })),
        ),
        now,
      ],
    );
    await tx.query(`UPDATE outbox SET status = 'done', updated_at = $2 WHERE id = ANY($1::bigint[])`, [
      rows.map((r) => r.id),
      now,
    ]);
    await tx.query("SELECT pg_notify('waymark_messages', '')");
    return rows.length;
  });
}

/** A send API request: a template to a person (by userId, email or profileId) with data. */
export interface SendRequest {
  template: string;
  to: { userId?: string | undefined; email?: string | undefined; profileId?: string | undefined };
  data?: Record<string, unknown> | undefined;
  /** Makes a retried call idempotent (default: a new id). */
  messageId?: string | undefined;
  /** Default true: a transactional message skips topics, caps and quiet hours, never suppression. */
  transactional?: boolean | undefined;
  topic?: string | undefined;
}

/**
 * `POST /api/v1/send`: queues one message. The person is looked up by the id given; an email that
 * belongs to nobody is sent to as given (no profile). Returns the message id and whether it is new.
 */
export async function enqueueSend(
  pool: Pool,
  workspaceId: string,
  request: SendRequest,
  now: Date,
): Promise<{ id: string; duplicate: boolean }> {
  const template = await getTemplate(pool, workspaceId, request.template);
  const { userId, email, profileId } = request.to;
  let profile: string | null = null;
  const key = userId ?? profileId ?? email;
  if (!key) throw new ValidationError("to: one of userId, email or profileId is required");
  try {
    profile = await lookupRecipient(pool, workspaceId, key);
  } catch (err) {
    if (!(err instanceof NotFoundError) || !email || userId || profileId) throw err;
  }
  const id = randomUUID();
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO messages (id, workspace_id, idempotency_key, profile_id, channel, template_key, topic,
       transactional, data, to_address, status, next_attempt_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'queued', $11, $11, $11)
     ON CONFLICT (workspace_id, idempotency_key) DO NOTHING RETURNING id`,
    [
      id,
      workspaceId,
      request.messageId ? `send:${request.messageId}` : `send:${id}`,
      profile,
      template.channel,
      request.template,
      request.topic ?? null,
      request.transactional ?? true,
      JSON.stringify({ data: request.data ?? {}, event: null, context: {} }),
      email ?? null,
      now,
    ],
  );
  if (rows[0]) {
    await pool.query("SELECT pg_notify('waymark_messages', '')");
    return { id: rows[0].id, duplicate: false };
  }
  const existing = await pool.query<{ id: string }>(
    "SELECT id FROM messages WHERE workspace_id = $1 AND idempotency_key = $2",
    [workspaceId, `send:${request.messageId}`],
  );
  return { id: existing.rows[0]!.id, duplicate: true };
}
