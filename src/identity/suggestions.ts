import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { ConflictError, NotFoundError } from "../errors/index.ts";
import {
  appendEvents,
  decodeCursor,
  encodeCursor,
  ensurePartitions,
  type EventRow,
  type Page,
} from "../ingest/index.ts";
import { MERGE_EVENT, mergeMessage } from "./core/merge.ts";

export const SUGGESTION_STATUSES = ["suggested", "confirmed", "dismissed"] as const;
export type SuggestionStatus = (typeof SUGGESTION_STATUSES)[number];

/** A suggested link between two profiles from device signals, as the API shows it. */
export interface StitchSuggestion {
  id: number;
  /** The profile seen with the device first; it survives a confirmed merge. */
  profileId: string;
  otherProfileId: string;
  score: number;
  /** What linked them: IP, user agent, time apart, the two events. */
  signals: Record<string, unknown>;
  status: SuggestionStatus;
  createdAt: string;
  decidedAt: string | null;
  /** For a confirmed suggestion: the seq of the merge event; its outcome is decided in seq order. */
  mergeEventSeq: number | null;
}

interface Row {
  id: number;
  profile_id: string;
  other_profile_id: string;
  score: number;
  signals: Record<string, unknown>;
  status: SuggestionStatus;
  created_at: Date;
  decided_at: Date | null;
  merge_event_seq: number | null;
}

const COLUMNS =
  "id, profile_id, other_profile_id, score, signals, status, created_at, decided_at, merge_event_seq";

/** The workspace's suggestions, newest first, optionally of one status. */
export async function listSuggestions(
  pool: Pool,
  workspaceId: string,
  filter: { status?: SuggestionStatus | undefined },
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<StitchSuggestion>> {
  const before = decodeCursor(page.cursor);
  const { rows } = await pool.query<Row>(
    `SELECT ${COLUMNS} FROM stitch_suggestions
     WHERE workspace_id = $1 AND ($2::text IS NULL OR status = $2) AND ($3::bigint IS NULL OR id < $3)
     ORDER BY id DESC LIMIT $4`,
    [workspaceId, filter.status ?? null, before, page.limit + 1],
  );
  const items = rows.slice(0, page.limit).map(fromRow);
  return { items, nextCursor: rows.length > page.limit ? encodeCursor(items.at(-1)!.id) : null };
}

/**
 * Confirms a suggestion: appends an internal merge event to the log in the same transaction that
 * marks it confirmed, so the merge happens in stage one in seq order (after everything either person
 * did before it), with the limits applied like any merge; a refusal is recorded as a decision of
 * that event. Confirming twice answers the same; a dismissed suggestion cannot be confirmed.
 */
export async function confirmSuggestion(
  pool: Pool,
  workspaceId: string,
  id: number,
  now: Date,
): Promise<StitchSuggestion> {
  try {
    return await withTx(pool, (tx) => confirmIn(tx, workspaceId, id, now));
  } catch (err) {
    // The month's partition of the log is missing (upkeep has not run): create it, try once more.
    if ((err as { code?: string }).code !== "23514") throw err;
    await ensurePartitions(pool, now, 1);
    return withTx(pool, (tx) => confirmIn(tx, workspaceId, id, now));
  }
}

async function confirmIn(tx: PoolClient, workspaceId: string, id: number, now: Date) {
  const current = await lockSuggestion(tx, workspaceId, id);
  if (current.status === "confirmed") return fromRow(current);
  if (current.status === "dismissed") {
    throw new ConflictError(`suggestion ${id} was dismissed; a dismissed suggestion cannot be confirmed`);
  }
  const message = mergeMessage(
    {
      messageId: `merge:suggestion:${id}`,
      into: current.profile_id,
      from: current.other_profile_id,
      cause: `stitching suggestion ${id} confirmed`,
      suggestionId: id,
    },
    now,
  );
  const event: EventRow = {
    messageId: String(message.messageId),
    type: MERGE_EVENT,
    userId: null,
    anonymousId: null,
    event: null,
    timestamp: String(message.timestamp),
    receivedAt: String(message.receivedAt),
    message,
  };
  await appendEvents(tx, { workspaceId, events: [event] });
  // Still holding the workspace's sequence row: its last seq is the merge event's.
  const { rows } = await tx.query<Row>(
    `UPDATE stitch_suggestions SET status = 'confirmed', decided_at = $3,
       merge_event_seq = (SELECT last_seq FROM event_sequences WHERE workspace_id = $1)
     WHERE workspace_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
    [workspaceId, id, now],
  );
  return fromRow(rows[0]!);
}

/** Dismisses a suggestion: it stays recorded, and the pair is not suggested again. */
export async function dismissSuggestion(
  pool: Pool,
  workspaceId: string,
  id: number,
  now: Date,
): Promise<StitchSuggestion> {
  return withTx(pool, async (tx) => {
    const current = await lockSuggestion(tx, workspaceId, id);
    if (current.status === "dismissed") return fromRow(current);
    if (current.status === "confirmed") {
      throw new ConflictError(
        `suggestion ${id} was confirmed and its merge is in the log; it cannot be dismissed`,
      );
    }
    const { rows } = await tx.query<Row>(
      `UPDATE stitch_suggestions SET status = 'dismissed', decided_at = $3
       WHERE workspace_id = $1 AND id = $2 RETURNING ${COLUMNS}`,
      [workspaceId, id, now],
    );
    return fromRow(rows[0]!);
  });
}

async function lockSuggestion(tx: PoolClient, workspaceId: string, id: number): Promise<Row> {
  const { rows } = await tx.query<Row>(
    `SELECT ${COLUMNS} FROM stitch_suggestions WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
    [workspaceId, id],
  );
  if (!rows[0]) throw new NotFoundError(`no suggestion ${id}`);
  return rows[0];
}

function fromRow(r: Row): StitchSuggestion {
  return {
    id: Number(r.id),
    profileId: r.profile_id,
    otherProfileId: r.other_profile_id,
    score: Math.round(r.score * 100) / 100,
    signals: r.signals,
    status: r.status,
    createdAt: r.created_at.toISOString(),
    decidedAt: r.decided_at?.toISOString() ?? null,
    mergeEventSeq: r.merge_event_seq === null ? null : Number(r.merge_event_seq),
  };
}
