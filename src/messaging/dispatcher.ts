import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { appendForProfiles, insertJourneyAudit } from "../journeys/index.ts";
import type { ChannelRegistry } from "./channels/registry.ts";
import type { OutgoingMessage, SendResult } from "./core/channel.ts";
import { trackEmailHtml } from "./core/tracking.ts";
import { suppress } from "./consent.ts";
import { decideMessages } from "./decide.ts";
import { linkUrls, signToken } from "./links.ts";
import { getTemplate } from "./templates.ts";
import { renderMessage } from "./core/render.ts";

/** Retries stop this long after the message was queued; it then fails with its last reason. */
export const MESSAGE_RETRY_WINDOW_MS = 4 * 3_600_000;

/** A claimed `messages` row. */
export interface MessageRow {
  id: string;
  workspace_id: string;
  idempotency_key: string;
  profile_id: string | null;
  channel: "email" | "sms" | "push" | "webhook";
  template_key: string;
  template_version: number | null;
  topic: string | null;
  transactional: boolean;
  journey_key: string | null;
  instance_id: string | null;
  step: string | null;
  data: { data?: Record<string, unknown>; event?: unknown; context?: Record<string, unknown> };
  to_address: string | null;
  attempts: number;
  created_at: Date;
}

export interface DispatcherDeps {
  /** Groups outcome writes (the worker's); without one, each outcome has its own transaction. */
  writer?: RecordWriter;
  channels: ChannelRegistry;
  /** Base of the links in messages (unsubscribe, preferences, open pixel, click redirect). */
  publicUrl: string;
  random?: () => number;
  /** Templates and secrets read in the last few seconds (the worker's). */
  cache: DispatcherCache;
}

/** Claims queued messages that are due, reserving them for `leaseMs` (a crash hands them on). */
export async function claimMessages(
  pool: Pool,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<MessageRow[]> {
  if (limit <= 0) return [];
  const { rows } = await pool.query<MessageRow>(
    `UPDATE messages m SET attempts = m.attempts + 1, next_attempt_at = $2, sent_at = NULL, updated_at = $1
     FROM (SELECT id FROM messages WHERE status = 'queued' AND next_attempt_at <= $1
           ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) c
     WHERE m.id = c.id RETURNING m.*`,
    [now, new Date(now.getTime() + leaseMs), limit],
  );
  return rows;
}

export type Outcome =
  | { status: "sent"; providerMessageId: string | null; to: string; subject: string | null; version: number }
  | { status: "skipped"; reason: string }
  | { status: "delayed"; until: Date; reason: string }
  | { status: "retry"; at: Date; reason: string }
  | { status: "failed" | "bounced"; reason: string; to: string | null };

/** Exponential backoff with jitter: about 10 s, 20 s, 40 s ... capped at one hour. */
function backoffMs(attempts: number, random: number): number {
  return Math.round(Math.min(10_000 * 2 ** Math.max(0, attempts - 1), 3_600_000) * (0.75 + random * 0.5));
}

/** A claimed message decided "send", with what sending it needs. */
export interface ReadyMessage {
  row: MessageRow;
  template: Awaited<ReturnType<typeof getTemplate>>;
  traits: Record<string, unknown>;
  to: string;
}

/**
 * Decides a claimed batch at once: templates (cached), the people's traits in one query, and the
 * consent decision of each workspace's messages in one transaction (decide.ts). Each message comes
 * back either with its outcome (skipped, delayed, or a retry when loading failed) or ready to send.
 */
export async function prepareMessages(
  pool: Pool,
  deps: DispatcherDeps,
  rows: MessageRow[],
  now: Date,
): Promise<Array<{ row: MessageRow; outcome: Outcome } | ReadyMessage>> {
  const out = new Array<{ row: MessageRow; outcome: Outcome } | ReadyMessage>(rows.length);
  const fail = (i: number, err: unknown) => {
    out[i] = { row: rows[i]!, outcome: retryOrFail(rows[i]!, now, (err as Error).message, deps) };
  };
  let people: Map<string, Record<string, unknown>>;
  try {
    people = await traitsOf(pool, rows);
  } catch (err) {
    rows.forEach((_, i) => fail(i, err));
    return out;
  }
  const candidates: Array<{ i: number; ready: ReadyMessage }> = [];
  await Promise.all(
    rows.map(async (row, i) => {
      try {
        // The latest version of a template is re-read at most every 5 s per worker.
        const template = await deps.cache.get(
          `template:${row.workspace_id}:${row.template_key}:${row.template_version ?? ""}`,
          () => getTemplate(pool, row.workspace_id, row.template_key, row.template_version ?? undefined),
        );
        const traits = (row.profile_id && people.get(row.profile_id)) || {};
        const to = addressOf(row, traits, template.content as Record<string, unknown>);
        if (!to) out[i] = { row, outcome: { status: "skipped", reason: `no_address:${row.channel}` } };
        else candidates.push({ i, ready: { row, template, traits, to } });
      } catch (err) {
        fail(i, err);
      }
    }),
  );
  candidates.sort((a, b) => a.i - b.i);
  const byWorkspace = new Map<string, typeof candidates>();
  for (const c of candidates) {
    const list = byWorkspace.get(c.ready.row.workspace_id);
    if (list) list.push(c);
    else byWorkspace.set(c.ready.row.workspace_id, [c]);
  }
  for (const [workspaceId, group] of byWorkspace) {
    try {
      const decisions = await decideMessages(
        pool,
        workspaceId,
        group.map(({ ready: { row, to } }) => ({
          id: row.id,
          workspaceId,
          profileId: row.profile_id,
          channel: row.channel,
          to,
          topic: row.topic,
          transactional: row.transactional,
          journey: row.journey_key,
        })),
        now,
      );
      group.forEach(({ i, ready }, k) => {
        const d = decisions[k]!;
        out[i] =
          d.action === "send"
            ? ready
            : d.action === "skip"
              ? { row: ready.row, outcome: { status: "skipped", reason: d.reason } }
              : { row: ready.row, outcome: { status: "delayed", until: d.until, reason: d.reason } };
      });
    } catch (err) {
      for (const { i } of group) fail(i, err);
    }
  }
  return out;
}

/** The people's traits, by the profile ids the messages carry. */
async function traitsOf(pool: Pool, rows: MessageRow[]): Promise<Map<string, Record<string, unknown>>> {
  const byWorkspace = new Map<string, Set<string>>();
  for (const r of rows) {
    if (!r.profile_id) continue;
    const ids = byWorkspace.get(r.workspace_id) ?? new Set<string>();
    byWorkspace.set(r.workspace_id, ids.add(r.profile_id));
  }
  const traits = new Map<string, Record<string, unknown>>();
  // By the primary key (workspace_id, id), once per workspace in the batch (nearly always one).
  for (const [workspaceId, ids] of byWorkspace) {
    const { rows: found } = await pool.query<{ id: string; traits: Record<string, unknown> }>(
      "SELECT id, traits FROM profiles WHERE workspace_id = $1 AND id = ANY($2::uuid[])",
      [workspaceId, [...ids]],
    );
    for (const r of found) traits.set(r.id, r.traits);
  }
  return traits;
}

/**
 * Renders and sends one message decided "send", then records the outcome: in the message log, on
 * the journey instance's timeline, and (for a delivery, a bounce) as an event of the person.
 */
export async function sendMessage(
  pool: Pool,
  deps: DispatcherDeps,
  ready: ReadyMessage,
  now: Date,
  /** Called once the provider answered and only the outcome remains to be written. */
  sent?: () => void,
): Promise<void> {
  let outcome: Outcome;
  try {
    outcome = await send(pool, deps, ready, now);
  } catch (err) {
    outcome = retryOrFail(ready.row, now, (err as Error).message, deps);
  }
  sent?.();
  await recordOutcome(pool, deps, ready.row, outcome, now);
}

/** Records an outcome, through the worker's grouped writer when there is one. */
export function recordOutcome(
  pool: Pool,
  deps: DispatcherDeps,
  row: MessageRow,
  outcome: Outcome,
  now: Date,
): Promise<void> {
  return deps.writer ? deps.writer.write(row, outcome, now) : record(pool, row, outcome, now);
}

function retryOrFail(row: MessageRow, now: Date, reason: string, deps: DispatcherDeps): Outcome {
  if (now.getTime() - row.created_at.getTime() >= MESSAGE_RETRY_WINDOW_MS) {
    return {
      status: "failed",
      reason: `gave up after ${row.attempts} attempts: ${reason}`,
      to: row.to_address,
    };
  }
  return {
    status: "retry",
    at: new Date(now.getTime() + backoffMs(row.attempts, (deps.random ?? Math.random)())),
    reason,
  };
}

async function send(pool: Pool, deps: DispatcherDeps, ready: ReadyMessage, now: Date): Promise<Outcome> {
  const { row, template, traits, to } = ready;
  const secret = await deps.cache.get(`secret:${row.workspace_id}`, () =>
    workspaceSecret(pool, row.workspace_id),
  );
  const token = signToken(secret, {
    w: row.workspace_id,
    p: row.profile_id,
    c: row.channel,
    t: row.topic,
    m: row.id,
  });
  const base = deps.publicUrl.replace(/\/+$/, "");
  const links = linkUrls(base, token);
  const rendered = await renderMessage(
    template.content,
    {
      profile: { id: row.profile_id, traits },
      event: row.data.event ?? {},
      context: row.data.context ?? {},
      journey: { key: row.journey_key, step: row.step, instanceId: row.instance_id },
      data: row.data.data ?? {},
    },
    links,
  );

  const channel = await deps.channels.get(row.workspace_id, row.channel);
  if (!channel) return { status: "failed", reason: `channel ${row.channel} is not configured`, to };
  const message: OutgoingMessage = {
    id: row.id,
    idempotencyKey: row.idempotency_key,
    channel: row.channel,
    to,
  };
  let subject: string | null = null;
  switch (rendered.channel) {
    case "email":
      subject = rendered.subject;
      message.subject = rendered.subject;
      message.text = rendered.text;
      message.html = trackEmailHtml(rendered.html, {
        click: (target) => `${base}/c/${signToken(secret, { w: row.workspace_id, m: row.id, u: target })}`,
        open: `${base}/o/${signToken(secret, { w: row.workspace_id, m: row.id })}`,
      });
      // RFC 8058 one-click unsubscribe; a receipt (transactional) has nothing to unsubscribe from.
      if (!row.transactional) {
        message.headers = {
          "List-Unsubscribe": `<${links.unsubscribeUrl}>`,
          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        };
      }
      break;
    case "sms":
      message.body = rendered.body;
      break;
    case "push":
      subject = rendered.title;
      message.title = rendered.title;
      message.body = rendered.body;
      if (rendered.data) message.data = rendered.data;
      break;
    case "webhook":
      message.data = rendered.data;
      break;
    default: {
      const never: never = rendered;
      throw new Error(`unknown rendered channel ${JSON.stringify(never)}`);
    }
  }
  const result: SendResult = await channel.send(message);
  if (result.ok) {
    return {
      status: "sent",
      providerMessageId: result.providerMessageId ?? null,
      to,
      subject,
      version: template.version,
    };
  }
  if (result.permanent) {
    return { status: result.bounce ? "bounced" : "failed", reason: result.reason, to };
  }
  if (result.retryAfterMs !== undefined) {
    return { status: "retry", at: new Date(now.getTime() + result.retryAfterMs), reason: result.reason };
  }
  return retryOrFail(row, now, result.reason, deps);
}

/** The address a message goes to: as given, else from the profile's traits. */
function addressOf(
  row: MessageRow,
  traits: Record<string, unknown>,
  content: Record<string, unknown>,
): string | null {
  if (row.to_address) return row.to_address;
  const str = (v: unknown) => (typeof v === "string" && v.trim() !== "" ? v.trim() : null);
  switch (row.channel) {
    case "email":
      return str(traits.email);
    case "sms":
      return str(traits.phone);
    case "push":
      return str(traits.pushToken) ?? str(traits.push_token);
    case "webhook":
      return str(row.data.data?.url) ?? str(content.url);
    default:
      return null;
  }
}

/**
 * What the dispatcher re-reads for every message (templates, the workspace secret), kept a few seconds:
 * one per worker, like the ChannelRegistry, so two workers in one process (tests) share nothing.
 */
export class DispatcherCache {
  private readonly entries = new Map<string, { at: number; value: Promise<unknown> }>();
  constructor(private readonly ttlMs = 5_000) {}

  get<T>(key: string, load: () => Promise<T>): Promise<T> {
    const hit = this.entries.get(key);
    if (hit && performance.now() - hit.at < this.ttlMs) return hit.value as Promise<T>;
    if (this.entries.size > 10_000) this.entries.clear();
    const value = load();
    this.entries.set(key, { at: performance.now(), value });
    value.catch(() => this.entries.delete(key));
    return value;
  }
}

async function workspaceSecret(pool: Pool, workspaceId: string): Promise<string> {
  const { rows } = await pool.query<{ webhook_secret: string }>(
    "SELECT webhook_secret FROM workspaces WHERE id = $1",
    [workspaceId],
  );
  return rows[0]!.webhook_secret;
}

const EVENT_NAMES: Record<string, Record<string, string>> = {
  email: {
    sent: "Email Delivered",
    bounced: "Email Bounced",
    failed: "Email Failed",
    skipped: "Email Skipped",
  },
  sms: { sent: "SMS Delivered", bounced: "SMS Bounced", failed: "SMS Failed", skipped: "SMS Skipped" },
  push: { sent: "Push Delivered", bounced: "Push Bounced", failed: "Push Failed", skipped: "Push Skipped" },
  webhook: {
    sent: "Webhook Delivered",
    bounced: "Webhook Failed",
    failed: "Webhook Failed",
    skipped: "Webhook Skipped",
  },
};

/** Writes the outcome in a transaction of its own. */
function record(pool: Pool, row: MessageRow, outcome: Outcome, now: Date): Promise<void> {
  return withTx(pool, (tx) => recordAll(tx, [{ row, outcome, now }]));
}

/**
 * Groups outcomes: while one transaction writes, the outcomes arriving meanwhile wait and go together
 * in the next. Each outcome appends an event under the workspace's sequence lock, so one transaction
 * per message made them commit one after another (the messaging benchmark's main wait). Each outcome
 * has a savepoint of its own: one that fails is rolled back alone and its message is tried again
 * after its lease, the others commit.
 */
export class RecordWriter {
  private queue: Array<{ row: MessageRow; outcome: Outcome; now: Date; done: (err?: unknown) => void }> = [];
  private flushing: Promise<void> | undefined;

  constructor(private readonly pool: Pool) {}

  write(row: MessageRow, outcome: Outcome, now: Date): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ row, outcome, now, done: (err) => (err ? reject(err) : resolve()) });
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 200);
      try {
        // One statement per kind of write for the whole group.
        await withTx(this.pool, (tx) => recordAll(tx, batch));
        for (const b of batch) b.done();
        continue;
      } catch {
        // One outcome the database refuses must not fail the others: again, one by one.
      }
      const failed = new Map<number, unknown>();
      try {
        await withTx(this.pool, async (tx) => {
          for (const [n, b] of batch.entries()) {
            await tx.query("SAVEPOINT outcome");
            try {
              await recordAll(tx, [b]);
              await tx.query("RELEASE SAVEPOINT outcome");
            } catch (err) {
              await tx.query("ROLLBACK TO SAVEPOINT outcome");
              failed.set(n, err);
            }
          }
        });
        batch.forEach((b, n) => b.done(failed.get(n)));
      } catch (err) {
        for (const b of batch) b.done(err);
      }
    }
  }
}

/**
 * Writes outcomes: each message row (only while our claim holds), the journeys' timelines, and the
 * events of the people, with one statement per kind for the whole group.
 */
async function recordAll(
  tx: PoolClient,
  items: Array<{ row: MessageRow; outcome: Outcome; now: Date }>,
): Promise<void> {
  const col = <T>(f: (i: (typeof items)[number]) => T) => items.map(f);
  const { rows: updated } = await tx.query<{ id: string }>(
    `UPDATE messages m SET
         status = CASE WHEN o.status IN ('retry', 'delayed') THEN 'queued' ELSE o.status END,
         reason = o.reason, next_attempt_at = coalesce(o.next_at, m.next_attempt_at),
         provider_message_id = coalesce(o.provider_id, m.provider_message_id),
         to_address = coalesce(o.to_addr, m.to_address), subject = coalesce(o.subject, m.subject),
         template_version = coalesce(o.version, m.template_version),
         sent_at = CASE WHEN o.status = 'sent' THEN o.at ELSE NULL END, updated_at = o.at
       FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[],
                   $8::text[], $9::int[], $10::timestamptz[])
         AS o(id, attempts, status, reason, next_at, provider_id, to_addr, subject, version, at)
       WHERE m.id = o.id AND m.status = 'queued' AND m.attempts = o.attempts
       RETURNING m.id`,
    [
      col((i) => i.row.id),
      col((i) => i.row.attempts),
      col((i) => i.outcome.status),
      col((i) => ("reason" in i.outcome ? i.outcome.reason : null)),
      col((i) =>
        i.outcome.status === "retry" ? i.outcome.at : i.outcome.status === "delayed" ? i.outcome.until : null,
      ),
      col((i) => (i.outcome.status === "sent" ? i.outcome.providerMessageId : null)),
      col((i) => ("to" in i.outcome ? i.outcome.to : null)),
      col((i) => (i.outcome.status === "sent" ? i.outcome.subject : null)),
      col((i) => (i.outcome.status === "sent" ? i.outcome.version : null)),
      col((i) => i.now),
    ],
  );
  // Claimed again meanwhile (our lease ran out): the other run's outcome counts.
  const ours = new Set(updated.map((r) => r.id));
  const recorded = items.filter((i) => ours.has(i.row.id));
  const audits = new Map<string, Parameters<typeof insertJourneyAudit>[2]>();
  const events = new Map<string, Parameters<typeof appendForProfiles>[2]>();
  let latest = new Map<string, Date>();
  for (const { row, outcome, now } of recorded) {
    if (outcome.status === "bounced" && outcome.to) {
      await suppress(tx, row.workspace_id, row.channel, outcome.to, "hard_bounce", outcome.reason);
    }
    if (row.instance_id && row.journey_key && outcome.status !== "retry") {
      const kind =
        outcome.status === "sent"
          ? "message_sent"
          : outcome.status === "delayed"
            ? "message_delayed"
            : outcome.status === "skipped"
              ? "message_skipped"
              : "message_failed";
      const reason =
        outcome.status === "sent"
          ? `${row.channel} ${row.template_key} to ${row.channel === "email" ? "the person's address" : row.channel}`
          : outcome.reason;
      push(audits, row.workspace_id, {
        at: now.toISOString(),
        kind,
        step: row.step,
        reason,
        data: { messageId: row.id },
        instance: row.instance_id,
        journey: row.journey_key,
      });
    }
    // The outcome as an event of the person, in the same transaction: journeys branch on it and
    // analytics count it, exactly once.
    const name = EVENT_NAMES[row.channel]?.[outcome.status];
    if (name && row.profile_id) {
      push(events, row.workspace_id, {
        profileId: row.profile_id,
        message: {
          type: "track",
          event: name,
          messageId: `message:${row.id}:${outcome.status}`,
          properties: {
            messageId: row.id,
            channel: row.channel,
            template: row.template_key,
            journey: row.journey_key,
            step: row.step,
            instanceId: row.instance_id,
            ...("reason" in outcome ? { reason: outcome.reason } : {}),
          },
        },
      });
      const seen = latest.get(row.workspace_id);
      if (!seen || now > seen) latest = latest.set(row.workspace_id, now);
    }
  }
  for (const [workspaceId, entries] of audits) await insertJourneyAudit(tx, workspaceId, entries);
  for (const [workspaceId, list] of events)
    await appendForProfiles(tx, workspaceId, list, latest.get(workspaceId)!);
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
