import type { PoolClient } from "pg";
import type { AppliedEvent, PipelineStage } from "../pipeline/index.ts";
import { CONSENT_CHANNELS, topicKeySchema } from "./consent.ts";
import type { SubscriptionChoice } from "./core/policy.ts";

/**
 * Subscriptions set through identify traits: `traits.subscriptions` as
 * `{ "promotions": true, "product-updates": false }` (every channel of the topic) or
 * `{ "promotions": { "email": false, "sms": true } }` (per channel); topic `*` is the whole channel
 * (`{ "*": { "sms": false } }`). `true`/`"subscribed"` subscribe, `false`/`"unsubscribed"`
 * unsubscribe; anything else is ignored. Written with source `identify`; for each (topic, channel)
 * the call with the later timestamp wins, whatever the order of arrival, and a choice made later
 * through the API or a link is not overwritten by an older call.
 */
export function choicesFromTraits(value: unknown): SubscriptionChoice[] {
  if (!isObject(value)) return [];
  const out: SubscriptionChoice[] = [];
  for (const [topic, setting] of Object.entries(value)) {
    if (topic !== "*" && !topicKeySchema.safeParse(topic).success) continue;
    const status = statusOf(setting);
    if (status) {
      out.push({ topic, channel: "*", status });
      continue;
    }
    if (!isObject(setting)) continue;
    for (const [channel, perChannel] of Object.entries(setting)) {
      const s = statusOf(perChannel);
      if (s && (channel === "*" || (CONSENT_CHANNELS as readonly string[]).includes(channel))) {
        out.push({ topic, channel, status: s });
      }
    }
  }
  return out;
}

function statusOf(v: unknown): SubscriptionChoice["status"] | undefined {
  if (v === true || v === "subscribed") return "subscribed";
  if (v === false || v === "unsubscribed") return "unsubscribed";
  return undefined;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

interface Row extends SubscriptionChoice {
  w: string;
  p: string;
  at: string;
}

/**
 * The pipeline stage that writes subscriptions from identify traits, and moves a merged profile's
 * choices to the survivor (the later choice wins where both made one). Runs after the profile stage.
 */
export const subscriptionStage: PipelineStage = {
  name: "subscriptions",
  async apply(tx: PoolClient, events: AppliedEvent[]): Promise<void> {
    let pending = new Map<string, Row>();
    const flush = async () => {
      if (pending.size > 0) await writeRows(tx, [...pending.values()]);
      pending = new Map();
    };
    for (const e of events) {
      if (e.merged.length > 0) {
        // Choices written so far may be on a profile this event merges away: write them first.
        await flush();
        await moveChoices(tx, e.workspaceId, e.profileId, e.merged);
      }
      if (e.message.type !== "identify") continue;
      const traits = e.message.traits;
      const choices = choicesFromTraits(isObject(traits) ? traits.subscriptions : undefined);
      if (choices.length === 0) continue;
      const stamped = Date.parse(String(e.message.timestamp));
      const at = new Date(Number.isNaN(stamped) ? e.receivedAt.getTime() : stamped).toISOString();
      for (const c of choices) {
        const key = `${e.workspaceId}/${e.profileId}/${c.topic}\u0000${c.channel}`;
        const seen = pending.get(key);
        if (!seen || seen.at <= at) pending.set(key, { ...c, w: e.workspaceId, p: e.profileId, at });
      }
    }
    await flush();
  },
};

async function writeRows(tx: PoolClient, rows: Row[]): Promise<void> {
  await tx.query(
    `INSERT INTO subscriptions (workspace_id, profile_id, topic, channel, status, source, updated_at)
     SELECT w, p, topic, channel, status, 'identify', at
     FROM jsonb_to_recordset($1::jsonb) AS x(w uuid, p uuid, topic text, channel text, status text, at timestamptz)
     ON CONFLICT (workspace_id, profile_id, topic, channel) DO UPDATE
       SET status = excluded.status, source = excluded.source, updated_at = excluded.updated_at
       WHERE subscriptions.updated_at <= excluded.updated_at`,
    [JSON.stringify(rows)],
  );
}

async function moveChoices(
  tx: PoolClient,
  workspaceId: string,
  survivor: string,
  merged: string[],
): Promise<void> {
  await tx.query(
    `WITH moved AS (
       DELETE FROM subscriptions WHERE workspace_id = $1 AND profile_id = ANY($3::uuid[]) RETURNING *
     )
     INSERT INTO subscriptions (workspace_id, profile_id, topic, channel, status, source, updated_at)
     SELECT DISTINCT ON (topic, channel) workspace_id, $2, topic, channel, status, source, updated_at
     FROM moved ORDER BY topic, channel, updated_at DESC
     ON CONFLICT (workspace_id, profile_id, topic, channel) DO UPDATE
       SET status = excluded.status, source = excluded.source, updated_at = excluded.updated_at
       WHERE subscriptions.updated_at < excluded.updated_at`,
    [workspaceId, survivor, merged],
  );
}
