import { decodeCursor, encodeCursor } from "../ingest/index.ts";
import type { ErasureCounts } from "./erase.ts";
import type { Queryable } from "./read.ts";

/** The erasure log of a workspace: when each erasure happened and what it removed, never whom. */
export interface ErasureLog {
  items: Array<{ id: number; erasedAt: string; counts: ErasureCounts }>;
  nextCursor: string | null;
  /** Messages dropped at ingest since, because they carried a suppressed identifier. */
  suppressedMessages: number;
}

/** The workspace's erasures, newest first. */
export async function listErasures(
  db: Queryable,
  workspaceId: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<ErasureLog> {
  const before = decodeCursor(page.cursor);
  const [log, dropped] = await Promise.all([
    db.query<{ id: number; requested_at: Date; counts: ErasureCounts }>(
      `SELECT id, requested_at, counts FROM erasures
       WHERE workspace_id = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
      [workspaceId, before, page.limit + 1],
    ),
    db.query<{ dropped: number }>("SELECT dropped FROM suppression_counts WHERE workspace_id = $1", [
      workspaceId,
    ]),
  ]);
  const rows = log.rows;
  return {
    items: rows
      .slice(0, page.limit)
      .map((r) => ({ id: r.id, erasedAt: r.requested_at.toISOString(), counts: r.counts })),
    nextCursor: rows.length > page.limit ? encodeCursor(rows[page.limit - 1]!.id) : null,
    suppressedMessages: dropped.rows[0]?.dropped ?? 0,
  };
}
