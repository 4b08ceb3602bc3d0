import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { ConflictError, NotFoundError, ValidationError } from "../errors/index.ts";
import { appendEvents } from "../ingest/index.ts";
import type { Message } from "./engine/types.ts";

/** Who a call from Waymark itself is about: one of the ids, as the API takes them. */
export interface PersonRef {
  userId?: string | undefined;
  anonymousId?: string | undefined;
  profileId?: string | undefined;
}

/** The message that enters a person into one journey (API and scheduled triggers). */
export function triggerMessage(
  journey: string,
  messageId: string,
  properties: Record<string, unknown>,
): Message & { messageId: string } {
  return {
    type: "track",
    event: "Journey Triggered",
    messageId,
    properties: { journey, ...properties },
    waymark: { trigger: journey },
  };
}

/** The journey an API trigger message is for, or undefined for any other message. */
export function apiTriggerOf(message: Message): string | undefined {
  const w = message.waymark as { trigger?: unknown } | undefined;
  return typeof w?.trigger === "string" ? w.trigger : undefined;
}

/**
 * Appends a message Waymark writes itself (an API trigger, a journey's profile update) to the log,
 * addressed to the person by userId or anonymousId, so it is applied in order like any event of
 * theirs. A profileId is turned into one of the person's ids. `messageId` makes it idempotent: a
 * second append with the same id is a duplicate and ignored. Returns whether it was new.
 */
export async function appendForPerson(
  db: Pool | PoolClient,
  workspaceId: string,
  person: PersonRef,
  message: Message & { messageId: string },
  now: Date,
): Promise<boolean> {
  let { userId, anonymousId } = person;
  if (!userId && !anonymousId) {
    if (!person.profileId) throw new ValidationError("one of userId, anonymousId or profileId is required");
    const ids = await idsOfProfile(db, workspaceId, person.profileId);
    userId = ids.userId;
    anonymousId = ids.anonymousId;
  }
  const append = (client: PoolClient | Pool) =>
    appendEvents(client, { workspaceId, events: [eventOf(message, userId, anonymousId, now)] });
  const fresh = "release" in db ? await append(db) : await withTx(db, append);
  return fresh[0] ?? false;
}

/** A user id (preferred) or anonymous id of the profile, following merges to the survivor. */
async function idsOfProfile(
  db: Pool | PoolClient,
  workspaceId: string,
  profileId: string,
): Promise<{ userId?: string; anonymousId?: string }> {
  const ids = (await idsOfProfiles(db, workspaceId, [profileId])).get(profileId);
  if (!ids) throw new NotFoundError(`profile ${profileId} has no userId or anonymousId to address it by`);
  return ids;
}

/**
 * `idsOfProfile` for many profiles in one query; a profile with neither id is missing from the map.
 * The person's smallest user id, and their smallest anonymous id unless they have two user ids or
 * more (an event then carries the user id alone).
 */
async function idsOfProfiles(
  db: Pool | PoolClient,
  workspaceId: string,
  profileIds: string[],
): Promise<Map<string, { userId?: string; anonymousId?: string }>> {
  const { rows } = await db.query<{ input: string; type: string; value: string }>(
    `WITH RECURSIVE live(input, id) AS (
       SELECT p, p FROM unnest($2::uuid[]) AS p
       UNION SELECT live.input, m.survivor_id FROM profile_merges m JOIN live ON m.workspace_id = $1 AND m.merged_id = live.id
     )
     SELECT live.input, i.type, i.value FROM live
     JOIN identities i ON i.workspace_id = $1 AND i.profile_id = live.id AND i.type IN ('user_id', 'anonymous_id')
     ORDER BY live.input, i.type DESC, i.value`,
    [workspaceId, [...new Set(profileIds)]],
  );
  const found = new Map<string, Array<{ type: string; value: string }>>();
  for (const r of rows) {
    const list = found.get(r.input) ?? [];
    if (list.length < 2) list.push(r);
    found.set(r.input, list);
  }
  const out = new Map<string, { userId?: string; anonymousId?: string }>();
  for (const [input, two] of found) {
    const userId = two.find((r) => r.type === "user_id")?.value;
    const anonymousId = two.find((r) => r.type === "anonymous_id")?.value;
    out.set(input, { ...(userId ? { userId } : {}), ...(anonymousId ? { anonymousId } : {}) });
  }
  return out;
}

/**
 * `appendForPerson` for many messages about profiles, inside the caller's transaction: one query
 * for the people's ids and one append. A message whose profile has no userId or anonymousId (an
 * email-only send) cannot be addressed in the log and is left out. Returns which were new.
 */
export async function appendForProfiles(
  tx: PoolClient,
  workspaceId: string,
  items: Array<{ profileId: string; message: Message & { messageId: string } }>,
  now: Date,
): Promise<boolean[]> {
  if (items.length === 0) return [];
  const ids = await idsOfProfiles(
    tx,
    workspaceId,
    items.map((i) => i.profileId),
  );
  const events = items.flatMap((item) => {
    const person = ids.get(item.profileId);
    return person ? [eventOf(item.message, person.userId, person.anonymousId, now)] : [];
  });
  return appendEvents(tx, { workspaceId, events });
}

/** The log's row for a message Waymark writes itself about a person, stamped `now`. */
function eventOf(
  message: Message & { messageId: string },
  userId: string | undefined,
  anonymousId: string | undefined,
  now: Date,
): Parameters<typeof appendEvents>[1]["events"][number] {
  const at = now.toISOString();
  return {
    messageId: message.messageId,
    type: String(message.type),
    userId: userId ?? null,
    anonymousId: anonymousId ?? null,
    event: typeof message.event === "string" ? message.event : null,
    timestamp: at,
    receivedAt: at,
    message: {
      ...message,
      ...(userId ? { userId } : {}),
      ...(anonymousId ? { anonymousId } : {}),
      context: { library: { name: "waymark", version: "internal" }, ...((message.context as object) ?? {}) },
      timestamp: at,
      receivedAt: at,
    },
  } as Parameters<typeof appendEvents>[1]["events"][number];
}

/**
 * `POST /api/v1/journeys/:key/trigger`: appends a `Journey Triggered` track event for the person,
 * marked for this journey, so the entry happens in the pipeline in order with everything else the
 * person did (and the rules of entry apply). Returns the event's messageId.
 */
export async function triggerJourney(
  pool: Pool,
  workspaceId: string,
  journey: string,
  request: PersonRef & { properties?: Record<string, unknown>; messageId?: string },
  now: Date,
  newId: () => string,
): Promise<{ messageId: string; duplicate: boolean }> {
  const { rows } = await pool.query<{
    status: string;
    trigger: { api?: boolean; event?: string } | null;
  }>(
    `SELECT j.status, v.definition->'trigger' AS trigger FROM journeys j
     LEFT JOIN journey_versions v
       ON v.workspace_id = j.workspace_id AND v.journey_key = j.key AND v.version = j.published_version
     WHERE j.workspace_id = $1 AND j.key = $2`,
    [workspaceId, journey],
  );
  if (!rows[0]) throw new NotFoundError(`no journey ${journey}`);
  if (rows[0].status !== "active") {
    throw new ConflictError(
      `journey ${journey} is ${rows[0].status}; only an active journey can be triggered`,
    );
  }
  const trigger = rows[0].trigger;
  if (trigger?.api !== true) {
    const by = trigger?.event ? `the event "${trigger.event}"` : "its schedule";
    throw new ConflictError(
      `journey ${journey} starts on ${by}, not through the API; publish it with "trigger": { "api": true } to start it here`,
    );
  }
  const messageId = request.messageId ?? `trigger:${journey}:${newId()}`;
  const fresh = await appendForPerson(
    pool,
    workspaceId,
    request,
    triggerMessage(journey, messageId, request.properties ?? {}),
    now,
  );
  return { messageId, duplicate: !fresh };
}
