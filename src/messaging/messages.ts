import type { Pool } from "pg";
import { withTx } from "../db/index.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors/index.ts";
import { appendForPerson } from "../journeys/index.ts";

/** A message as the message log shows it. */
export interface MessageView {
  id: string;
  profileId: string | null;
  channel: string;
  template: string;
  templateVersion: number | null;
  topic: string | null;
  transactional: boolean;
  journey: string | null;
  instanceId: string | null;
  step: string | null;
  to: string | null;
  subject: string | null;
  status: string;
  reason: string | null;
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
  sentAt: string | null;
  openedAt: string | null;
  clickedAt: string | null;
}

interface Row {
  id: string;
  profile_id: string | null;
  channel: string;
  template_key: string;
  template_version: number | null;
  topic: string | null;
  transactional: boolean;
  journey_key: string | null;
  instance_id: string | null;
  step: string | null;
  to_address: string | null;
  subject: string | null;
  status: string;
  reason: string | null;
  attempts: number;
  next_attempt_at: Date;
  created_at: Date;
  sent_at: Date | null;
  opened_at: Date | null;
  clicked_at: Date | null;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);
const view = (r: Row): MessageView => ({
  id: r.id,
  profileId: r.profile_id,
  channel: r.channel,
  template: r.template_key,
  templateVersion: r.template_version,
  topic: r.topic,
  transactional: r.transactional,
  journey: r.journey_key,
  instanceId: r.instance_id,
  step: r.step,
  to: r.to_address,
  subject: r.subject,
  status: r.status,
  reason: r.reason,
  attempts: r.attempts,
  nextAttemptAt: r.status === "queued" ? r.next_attempt_at.toISOString() : null,
  createdAt: r.created_at.toISOString(),
  sentAt: iso(r.sent_at),
  openedAt: iso(r.opened_at),
  clickedAt: iso(r.clicked_at),
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The message log, newest first, filtered by person, journey and status. */
export async function listMessages(
  pool: Pool,
  workspaceId: string,
  filter: { profileId?: string; journey?: string; status?: string; limit: number; cursor?: string },
): Promise<{ items: MessageView[]; nextCursor: string | null }> {
  for (const [name, value] of [
    ["profileId", filter.profileId],
    ["cursor", filter.cursor],
  ] as const) {
    if (value !== undefined && !UUID.test(value)) throw new ValidationError(`${name} must be an id (UUID)`);
  }
  const { rows } = await pool.query<Row>(
    `SELECT * FROM messages WHERE workspace_id = $1
       AND ($2::uuid IS NULL OR profile_id = $2) AND ($3::text IS NULL OR journey_key = $3)
       AND ($4::text IS NULL OR status = $4)
       AND ($5::uuid IS NULL OR (created_at, id) < (SELECT created_at, id FROM messages WHERE id = $5))
     ORDER BY created_at DESC, id DESC LIMIT $6`,
    [
      workspaceId,
      filter.profileId ?? null,
      filter.journey ?? null,
      filter.status ?? null,
      filter.cursor ?? null,
      filter.limit + 1,
    ],
  );
  const items = rows.slice(0, filter.limit).map(view);
  return { items, nextCursor: rows.length > filter.limit ? items.at(-1)!.id : null };
}

export async function getMessage(pool: Pool, workspaceId: string, id: string): Promise<MessageView> {
  if (!UUID.test(id)) throw new NotFoundError(`no message ${id}`);
  const { rows } = await pool.query<Row>("SELECT * FROM messages WHERE workspace_id = $1 AND id = $2", [
    workspaceId,
    id,
  ]);
  if (!rows[0]) throw new NotFoundError(`no message ${id}`);
  return view(rows[0]);
}

/**
 * Queues a failed, bounced or skipped message again, now, with a fresh retry window (its consent is
 * decided again: a suppressed address still stops it). A sent or queued message cannot be retried.
 */
export async function retryMessage(
  pool: Pool,
  workspaceId: string,
  id: string,
  now: Date,
): Promise<MessageView> {
  const current = await getMessage(pool, workspaceId, id);
  if (!["failed", "bounced", "skipped"].includes(current.status)) {
    throw new ConflictError(
      `message ${id} is ${current.status}; only failed, bounced or skipped messages are retried`,
    );
  }
  const { rows } = await pool.query<Row>(
    `UPDATE messages SET status = 'queued', reason = NULL, attempts = 0, next_attempt_at = $3, created_at = $3,
       updated_at = $3
     WHERE workspace_id = $1 AND id = $2 AND status IN ('failed', 'bounced', 'skipped') RETURNING *`,
    [workspaceId, id, now],
  );
  if (!rows[0]) throw new ConflictError(`message ${id} changed meanwhile; read it again`);
  await pool.query("SELECT pg_notify('waymark_messages', '')");
  return view(rows[0]);
}

/**
 * Records an open or a click of a message and appends it as an event of the person
 * (`Email Opened`, `Email Link Clicked`), once per message (opens) or per message and link (clicks),
 * so a journey can branch on it. Returns false when the message no longer exists (erased).
 */
export async function recordEngagement(
  pool: Pool,
  workspaceId: string,
  messageId: string,
  engagement: { kind: "opened" } | { kind: "clicked"; url: string },
  now: Date,
): Promise<boolean> {
  return withTx(pool, async (tx) => {
    const column = engagement.kind === "opened" ? "opened_at" : "clicked_at";
    const { rows } = await tx.query<Row>(
      `UPDATE messages SET ${column} = coalesce(${column}, $3), updated_at = $3
       WHERE workspace_id = $1 AND id = $2 RETURNING *`,
      [workspaceId, messageId, now],
    );
    const m = rows[0];
    if (!m) return false;
    if (!m.profile_id) return true;
    const channel = m.channel === "sms" ? "SMS" : m.channel === "push" ? "Push" : "Email";
    const event = engagement.kind === "opened" ? `${channel} Opened` : `${channel} Link Clicked`;
    try {
      await appendForPerson(
        tx,
        workspaceId,
        { profileId: m.profile_id },
        {
          type: "track",
          event,
          messageId:
            engagement.kind === "opened"
              ? `message:${m.id}:opened`
              : `message:${m.id}:clicked:${engagement.url}`.slice(0, 500),
          properties: {
            messageId: m.id,
            channel: m.channel,
            template: m.template_key,
            journey: m.journey_key,
            step: m.step,
            instanceId: m.instance_id,
            ...(engagement.kind === "clicked" ? { url: engagement.url } : {}),
          },
        },
        now,
      );
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    return true;
  });
}
