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
  const { rows } = await pool.query<OutboxRow>(
    `UPDATE outbox o SET attempts = o.attempts + 1, next_attempt_at = $2, updated_at = $1
     FROM (SELECT id FROM outbox WHERE status = 'pending' AND kind = ANY($3) AND next_attempt_at <= $1
           ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) c
     WHERE o.id = c.id RETURNING o.*`,
    [now, new Date(now.getTime() + leaseMs), KINDS, limit],
  );
  return rows;
}

/** Carries out one claimed effect and records its outcome. */
export async function carryOut(
  pool: Pool,
  options: Pick<DispatchOptions, "outbound" | "versions" | "random">,
  row: OutboxRow,
  now: Date,
): Promise<void> {
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
      await finish(pool, options.versions, row, { status: "done" }, now);
    } catch (err) {
      await finish(pool, options.versions, row, { status: "failed", error: (err as Error).message }, now);
    }
    return;
  }
  if (effect.kind !== "webhook") return;
  // Signed per Standard Webhooks with the workspace's whsec_ secret, like the webhook channel.
  const { rows: secrets } = await pool.query<{ webhook_secret: string }>(
    "SELECT webhook_secret FROM workspaces WHERE id = $1",
    [row.workspace_id],
  );
  const signature = new Webhook(secrets[0]!.webhook_secret).sign(row.key, now, effect.request.body ?? "");
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
  const success = result.ok && result.status < 300;
  const reason = result.ok ? `HTTP ${result.status}` : result.reason;
  if (success) {
    await finish(
      pool,
      options.versions,
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
    await finish(pool, options.versions, row, { status: "retry", at, error: reason }, now, {
      kind: "webhook_retrying",
      reason: `${reason}; attempt ${row.attempts}, next at ${at.toISOString()}`,
      data: { webhookId: row.key, attempt: row.attempts },
    });
    return;
  }
  const outcome: WebhookOutcome = { ok: false, reason, ...(result.ok ? { status: result.status } : {}) };
  await finish(pool, options.versions, row, { status: "failed", error: reason, outcome }, now, {
    kind: "webhook_failed",
    reason: gone ? `${reason}: the receiver is gone, not retried` : reason,
    data: { webhookId: row.key, attempt: row.attempts },
  });
}

type Finish =
  | { status: "done"; outcome?: WebhookOutcome }
  | { status: "retry"; at: Date; error: string }
  | { status: "failed"; error: string; outcome?: WebhookOutcome };

/** Records an effect's outcome, its audit row, and feeds a waited-for response to the instance. */
async function finish(
  pool: Pool,
  versions: VersionCache,
  row: OutboxRow,
  f: Finish,
  now: Date,
  audit?: {
    kind: "webhook_sent" | "webhook_retrying" | "webhook_failed";
    reason: string;
    data: Record<string, unknown>;
  },
): Promise<void> {
  await withTx(pool, async (tx) => {
    // Only while the claim is still ours: after the lease ran out another run may have taken the
    // effect (attempts moved on), and its outcome is the one that counts.
    const { rowCount } = await tx.query(
      `UPDATE outbox SET status = $2, next_attempt_at = coalesce($3, next_attempt_at), last_error = $4, updated_at = $5
       WHERE id = $1 AND status = 'pending' AND attempts = $6`,
      [
        row.id,
        f.status === "retry" ? "pending" : f.status,
        f.status === "retry" ? f.at : null,
        "error" in f ? f.error : null,
        now,
        row.attempts,
      ],
    );
    // Gone meanwhile (erased with the person) or claimed again: nothing more to write.
    if (rowCount === 0) return;
    if (audit && row.instance_id && row.journey_key) {
      await insertAudit(tx, row.workspace_id, [
        {
          at: now.toISOString(),
          ...audit,
          step: row.step,
          instance: row.instance_id,
          journey: row.journey_key,
        },
      ]);
    }
    const outcome = f.status === "retry" ? undefined : f.outcome;
    const effect = row.payload;
    if (outcome && effect.kind === "webhook" && effect.saveAs && row.instance_id) {
      await resume(tx, versions, row, outcome, now);
    }
  });
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
