import type { Pool, PoolClient } from "pg";
import { Webhook } from "standardwebhooks";
import { withTx } from "../db/index.ts";
import type { OutboundClient, OutboundResult } from "../outbound/index.ts";
import { advance } from "./engine/advance.ts";
import type { Effect, WebhookOutcome } from "./engine/types.ts";
import type { VersionCache } from "./definitions.ts";
import { insertAudit, instanceOf, loadProfiles, saveResults, type InstanceRow } from "./instances.ts";
import { appendForPerson } from "./trigger.ts";

/** Effect kinds this dispatcher carries out (messages are delivered by the messaging module). */
const KINDS = ["webhook", "update_profile"];
/** Retries stop this long after the effect was created; the effect is then failed with its reason. */
export const RETRY_WINDOW_MS = 4 * 3_600_000;

/** A claimed `outbox` row. */
export interface OutboxRow {
  id: string;
  workspace_id: string;
  key: string;
  kind: string;
  instance_id: string | null;
  journey_key: string | null;
  step: string | null;
  payload: Effect & { profileId: string };
  attempts: number;
  created_at: Date;
  /** The workspace's whsec_ secret, which signs its webhooks. */
  secret: string;
}

export interface DispatchOptions {
  outbound: OutboundClient;
  versions: VersionCache;
  /** How long a claimed effect is reserved; after a crash it is tried again once this passes. */
  leaseMs: number;
  /** Random in [0, 1) for backoff jitter. */
  random?: () => number;
}

/** Exponential backoff with jitter: about 5 s, 10 s, 20 s ... capped at one hour. */
export function backoffMs(attempts: number, random: number): number {
  const base = Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
  return Math.round(base * (0.75 + random * 0.5));
}

/** Whether a failed call may succeed when tried again. */
function retryable(result: OutboundResult): boolean {
  if (result.ok) return result.status >= 500 || result.status === 408 || result.status === 429;
  return result.kind === "timeout" || result.kind === "network";
}

/**
 * Claims due effects (`SKIP LOCKED`, reserved for `leaseMs` so a crash hands them to a later run),
 * carries them out, and records each outcome; a webhook the instance waits for (saveAs) advances the
 * instance in the same transaction as the outcome. Each call carries the effect's key as `webhook-id`,
 * the same on every retry, so receivers can drop a repeat. Returns how many effects were tried.
 */
export async function dispatchOutbox(
  pool: Pool,
  options: DispatchOptions,
  now: Date,
  limit: number,
): Promise<number> {
  const rows = await claimEffects(pool, now, limit, options.leaseMs);
  await Promise.all(rows.map((row) => carryOut(pool, options, row, now)));
  return rows.length;
}

/** Claims up to `limit` due effects, reserving each for `leaseMs` (a crash hands it on after that). */
export async function claimEffects(
  pool: Pool,
  now: Date,
  limit: number,
  leaseMs: number,
): Promise<OutboxRow[]> {
  if (limit <= 0) return [];
  // One index range per kind (outbox_due_idx is (kind, next_attempt_at)): `kind = ANY(...)` with
  // ORDER BY read and sorted every due effect, which slowed each claim as a backlog grew. The
  // workspace's signing secret comes along, not one query per webhook.
  const { rows } = await pool.query<OutboxRow>(
    `UPDATE outbox o SET attempts = o.attempts + 1, next_attempt_at = $2, updated_at = $1
     FROM (SELECT x.id FROM unnest($3::text[]) AS k(kind)
           CROSS JOIN LATERAL (SELECT id, next_attempt_at FROM outbox
                               WHERE status = 'pending' AND kind = k.kind AND next_attempt_at <= $1
                               ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) x
           ORDER BY x.next_attempt_at LIMIT $4) c
     WHERE o.id = c.id
     RETURNING o.*, (SELECT w.webhook_secret FROM workspaces w WHERE w.id = o.workspace_id) AS secret`,
    [now, new Date(now.getTime() + leaseMs), KINDS, limit],
  );
  return rows;
}

/** Carries out one claimed effect and records its outcome. */
export async function carryOut(
  pool: Pool,
  options: Pick<DispatchOptions, "outbound" | "versions" | "random"> & {
    writer?: OutcomeWriter;
    /** Called once the effect's own work is done and only its outcome remains to be written. */
    done?: () => void;
  },
  row: OutboxRow,
  now: Date,
): Promise<void> {
  const ctx = { pool, versions: options.versions, writer: options.writer };
  const effect = row.payload;
  if (effect.kind === "update_profile") {
    try {
      await appendForPerson(
        pool,
        row.workspace_id,
        { profileId: effect.profileId },
        {
          type: "identify",
          messageId: row.key,
          traits: effect.traits,
          context: { journey: { key: row.journey_key, instanceId: row.instance_id, step: row.step } },
        },
        now,
      );
      options.done?.();
      await finish(ctx, row, { status: "done" }, now);
    } catch (err) {
      options.done?.();
      await finish(ctx, row, { status: "failed", error: (err as Error).message }, now);
    }
    return;
  }
  if (effect.kind !== "webhook") return;
  // Signed per Standard Webhooks with the workspace's whsec_ secret, like the webhook channel.
  const signature = new Webhook(row.secret).sign(row.key, now, effect.request.body ?? "");
  const result = await options.outbound.request({
    method: effect.request.method,
    url: effect.request.url,
    headers: {
      ...effect.request.headers,
      "webhook-id": row.key,
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": signature,
    },
    ...(effect.request.body !== undefined ? { body: effect.request.body } : {}),
  });
  options.done?.();
  const success = result.ok && result.status < 300;
  const reason = result.ok ? `HTTP ${result.status}` : result.reason;
  if (success) {
    await finish(
      ctx,
      row,
      { status: "done", outcome: { ok: true, status: result.status, body: result.body } },
      now,
      {
        kind: "webhook_sent",
        reason: `${reason} in ${result.durationMs} ms`,
        data: { webhookId: row.key, status: result.status, attempt: row.attempts },
      },
    );
    return;
  }
  const gone = result.ok && result.status === 410;
  if (!gone && retryable(result) && now.getTime() - row.created_at.getTime() < RETRY_WINDOW_MS) {
    const at = new Date(now.getTime() + backoffMs(row.attempts, (options.random ?? Math.random)()));
    await finish(ctx, row, { status: "retry", at, error: reason }, now, {
      kind: "webhook_retrying",
      reason: `${reason}; attempt ${row.attempts}, next at ${at.toISOString()}`,
      data: { webhookId: row.key, attempt: row.attempts },
    });
    return;
  }
  const outcome: WebhookOutcome = { ok: false, reason, ...(result.ok ? { status: result.status } : {}) };
  await finish(ctx, row, { status: "failed", error: reason, outcome }, now, {
    kind: "webhook_failed",
    reason: gone ? `${reason}: the receiver is gone, not retried` : reason,
    data: { webhookId: row.key, attempt: row.attempts },
  });
}

type Finish =
  | { status: "done"; outcome?: WebhookOutcome }
  | { status: "retry"; at: Date; error: string }
  | { status: "failed"; error: string; outcome?: WebhookOutcome };

type Audit = {
  kind: "webhook_sent" | "webhook_retrying" | "webhook_failed";
  reason: string;
  data: Record<string, unknown>;
};

/** One outcome to record. */
export interface OutcomeItem {
  row: OutboxRow;
  f: Finish;
  now: Date;
  audit: Audit | undefined;
}

/** Records an effect's outcome (directly, or through the options' batching writer). */
function finish(
  ctx: { pool: Pool; versions: VersionCache; writer: OutcomeWriter | undefined },
  row: OutboxRow,
  f: Finish,
  now: Date,
  audit?: Audit,
): Promise<void> {
  const item = { row, f, now, audit };
  return ctx.writer ? ctx.writer.write(item) : writeOutcomes(ctx.pool, ctx.versions, [item]);
}

/**
 * Records outcomes in one transaction: each effect's status (only while the claim is still ours:
 * after the lease ran out another run may have taken it, attempts moved on, and its outcome is the one
 * that counts), their audit rows, and the waited-for responses fed to their instances.
 */
export async function writeOutcomes(pool: Pool, versions: VersionCache, items: OutcomeItem[]): Promise<void> {
  if (items.length === 0) return;
  await withTx(pool, async (tx) => {
    const { rows } = await tx.query<{ id: string }>(
      `UPDATE outbox o SET status = x.status, next_attempt_at = coalesce(x.at, o.next_attempt_at),
         last_error = x.error, updated_at = x.now
       FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[], $6::int[])
         AS x(id, status, at, error, now, attempts)
       WHERE o.id = x.id AND o.status = 'pending' AND o.attempts = x.attempts
       RETURNING o.id`,
      [
        items.map((i) => i.row.id),
        items.map((i) => (i.f.status === "retry" ? "pending" : i.f.status)),
        items.map((i) => (i.f.status === "retry" ? i.f.at : null)),
        items.map((i) => ("error" in i.f ? i.f.error : null)),
        items.map((i) => i.now),
        items.map((i) => i.row.attempts),
      ],
    );
    // Gone meanwhile (erased with the person) or claimed again: nothing more to write for those.
    const ours = new Set(rows.map((r) => String(r.id)));
    const kept = items.filter((i) => ours.has(String(i.row.id)));
    const byWorkspace = new Map<string, OutcomeItem[]>();
    for (const i of kept)
      byWorkspace.set(i.row.workspace_id, [...(byWorkspace.get(i.row.workspace_id) ?? []), i]);
    for (const [workspaceId, list] of byWorkspace) {
      await insertAudit(
        tx,
        workspaceId,
        list
          .filter((i) => i.audit && i.row.instance_id && i.row.journey_key)
          .map((i) => ({
            at: i.now.toISOString(),
            ...i.audit!,
            step: i.row.step,
            instance: i.row.instance_id!,
            journey: i.row.journey_key!,
          })),
      );
    }
    for (const i of kept) {
      const outcome = i.f.status === "retry" ? undefined : i.f.outcome;
      const effect = i.row.payload;
      if (outcome && effect.kind === "webhook" && effect.saveAs && i.row.instance_id) {
        await resume(tx, versions, i.row, outcome, i.now);
      }
    }
  });
}

/**
 * Groups outcomes: while one transaction writes, the outcomes arriving meanwhile wait and go
 * together in the next (one transaction per effect kept PostgreSQL busy at ~1,000 effects/s).
 */
export class OutcomeWriter {
  private queue: Array<{ item: OutcomeItem; done: (err?: unknown) => void }> = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly versions: VersionCache,
  ) {}

  write(item: OutcomeItem): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ item, done: (err) => (err ? reject(err) : resolve()) });
      this.flushing ??= this.flush().finally(() => (this.flushing = undefined));
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, 500);
      try {
        await writeOutcomes(
          this.pool,
          this.versions,
          batch.map((b) => b.item),
        );
        for (const b of batch) b.done();
      } catch (err) {
        for (const b of batch) b.done(err);
      }
    }
  }
}

/** Advances the instance that waited for this webhook's response. */
async function resume(
  tx: PoolClient,
  versions: VersionCache,
  row: OutboxRow,
  outcome: WebhookOutcome,
  now: Date,
) {
  const { rows } = await tx.query<InstanceRow>("SELECT * FROM journey_instances WHERE id = $1 FOR UPDATE", [
    row.instance_id,
  ]);
  const r = rows[0];
  if (!r) return;
  const version = await versions.get(tx, r.workspace_id, r.journey_key, r.version);
  const profiles = await loadProfiles(tx, r.workspace_id, [r.profile_id]);
  const profile = profiles.get(r.profile_id) ?? { id: r.profile_id, traits: {} };
  const result = advance(
    version,
    instanceOf(r),
    { kind: "webhook_result", effectKey: row.key, outcome, profile, lookups: {} },
    now,
  );
  await saveResults(tx, r.workspace_id, [result], now);
}
