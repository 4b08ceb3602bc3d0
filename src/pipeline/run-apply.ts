import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { applyUnit, mergedElsewhere } from "./core/partition.ts";
import type { AppliedEvent, PipelineStage } from "./stage.ts";

/** What one apply batch did. */
export interface ApplyResult {
  /** Queue rows consumed (0: nothing ready). */
  taken: number;
  /** Events handed to the stages (fewer than taken when some were erased from the log meanwhile). */
  applied: number;
  /** Queued events held back: merges waiting for other partitions, and the later events they hold. */
  waiting: number;
  /** The queue held a whole batch: there may be more behind it. */
  full: boolean;
}

/**
 * Stage two for one partition: takes the next queued events in seq order out of the queue (deleted
 * at once: a second holder waits for this transaction and then finds them gone), holds back an event
 * whose merged profiles' partitions have not caught up (put back in the queue), and runs every stage
 * on the rest, in one transaction.
 */
export async function runApply(
  pool: Pool,
  partition: number,
  stages: PipelineStage[],
  batchSize: number,
): Promise<ApplyResult> {
  return withTx(pool, async (tx) => {
    // Deleting is the lock: one write per row, where locking them (FOR UPDATE) and deleting them once
    // applied was two, and a statement more. The rows are found in the key's order (partition first)
    // and deleted by their position (a TID scan).
    const { rows: taken } = await tx.query<QueuedRow>({
      name: "pipeline-apply-take",
      text: `DELETE FROM pipeline_queue WHERE ctid = ANY(ARRAY(
               SELECT ctid FROM pipeline_queue WHERE partition = $1 ORDER BY workspace_id, seq LIMIT $2))
             RETURNING workspace_id, seq, profile_id, merged`,
      values: [partition, batchSize],
    });
    const rows = taken.sort((a, b) =>
      a.workspace_id === b.workspace_id ? a.seq - b.seq : a.workspace_id < b.workspace_id ? -1 : 1,
    );
    if (rows.length === 0) return { taken: 0, applied: 0, waiting: 0, full: false };
    // A merge waits until the profiles it merges, queued in other partitions, have nothing left below
    // its seq (their earlier events, and the merges that fed them, transitively: each of those waited
    // in turn). Those rows are read committed: a batch applying them elsewhere counts as pending until
    // it commits. A waiting event holds back the later events of its own profile (and of any event
    // merging that profile) in this batch; other people's events go ahead.
    const pending = await pendingMerges(tx, partition, rows);
    const ready: typeof rows = [];
    const blocked = new Set<string>();
    const key = (workspaceId: string, profileId: string) => `${workspaceId}/${profileId}`;
    rows.forEach((row, n) => {
      const mine = [row.profile_id, ...row.merged].map((p) => key(row.workspace_id, p));
      const wait = pending.has(n) || mine.some((k) => blocked.has(k));
      if (wait) for (const k of mine) blocked.add(k);
      else ready.push(row);
    });
    const waiting = rows.length - ready.length;
    const full = rows.length === batchSize;
    if (waiting > 0) {
      const going = new Set(ready);
      await putBack(
        tx,
        partition,
        rows.filter((r) => !going.has(r)),
      );
    }
    if (ready.length === 0) return { taken: 0, applied: 0, waiting, full };

    // One statement per workspace (a batch nearly always holds one): `seq = ANY` reads the batch's
    // events in one pass over each log partition's index, and a partition's events are one in eight
    // of a stretch of the log, so they share leaf and heap pages (a join on unnest descends the index
    // of every log partition once per event: eight times the pages).
    const messages: Array<{
      workspace_id: string;
      seq: number;
      received_at: Date;
      message: Record<string, unknown>;
    }> = [];
    for (const [workspaceId, seqs] of seqsByWorkspace(ready)) {
      const { rows: found } = await tx.query<(typeof messages)[number]>({
        name: "pipeline-apply-events",
        text: `SELECT workspace_id, seq, received_at, message FROM events
               WHERE workspace_id = $1 AND seq = ANY($2::bigint[])`,
        values: [workspaceId, seqs],
      });
      messages.push(...found);
    }
    const byKey = new Map(messages.map((m) => [`${m.workspace_id}/${m.seq}`, m]));
    const events: AppliedEvent[] = [];
    for (const r of ready) {
      const m = byKey.get(`${r.workspace_id}/${r.seq}`);
      // An event erased from the log after it was queued has nothing left to apply.
      if (!m) continue;
      events.push({
        workspaceId: r.workspace_id,
        seq: r.seq,
        profileId: r.profile_id,
        merged: r.merged,
        receivedAt: m.received_at,
        message: m.message,
      });
    }
    for (const stage of stages) await stage.apply(tx, events);

    const last = new Map<string, number>();
    for (const r of ready) last.set(r.workspace_id, r.seq);
    await tx.query({
      name: "pipeline-apply-offsets",
      text: `INSERT INTO pipeline_offsets (workspace_id, unit, seq)
             SELECT w, $1, s FROM unnest($2::uuid[], $3::bigint[]) AS x(w, s)
             ON CONFLICT (workspace_id, unit) DO UPDATE SET seq = excluded.seq, updated_at = now()`,
      values: [applyUnit(partition), [...last.keys()], [...last.values()]],
    });
    return { taken: ready.length, applied: events.length, waiting, full };
  });
}

/** The seqs of the rows, per workspace, in the rows' order. */
function seqsByWorkspace(rows: ReadonlyArray<{ workspace_id: string; seq: number }>): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const r of rows) {
    const list = out.get(r.workspace_id);
    if (list) list.push(r.seq);
    else out.set(r.workspace_id, [r.seq]);
  }
  return out;
}

interface QueuedRow {
  workspace_id: string;
  seq: number;
  profile_id: string;
  merged: string[];
}

/**
 * The rows (by index) that merge a profile of another partition which still has events queued below
 * the merge's seq: one statement for the whole batch.
 */
async function pendingMerges(tx: PoolClient, partition: number, rows: QueuedRow[]): Promise<Set<number>> {
  const asks: Array<{ n: number; workspaceId: string; seq: number; profileId: string }> = [];
  rows.forEach((row, n) => {
    for (const profileId of mergedElsewhere(partition, row.merged))
      asks.push({ n, workspaceId: row.workspace_id, seq: row.seq, profileId });
  });
  if (asks.length === 0) return new Set();
  const { rows: found } = await tx.query<{ n: number }>({
    name: "pipeline-apply-pending",
    text: `SELECT DISTINCT x.n FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::int[]) AS x(w, seq, profile_id, n)
           WHERE EXISTS (SELECT 1 FROM pipeline_queue q
                         WHERE q.workspace_id = x.w AND q.profile_id = x.profile_id AND q.seq < x.seq)`,
    values: [
      asks.map((a) => a.workspaceId),
      asks.map((a) => a.seq),
      asks.map((a) => a.profileId),
      asks.map((a) => a.n),
    ],
  });
  return new Set(found.map((r) => r.n));
}

/** Returns held-back rows to the queue, as they were. */
async function putBack(tx: PoolClient, partition: number, rows: QueuedRow[]): Promise<void> {
  await tx.query(
    `INSERT INTO pipeline_queue (workspace_id, partition, seq, profile_id, merged)
     SELECT w, $1, s, p, ARRAY(SELECT jsonb_array_elements_text(m))::uuid[]
     FROM unnest($2::uuid[], $3::bigint[], $4::uuid[], $5::jsonb[]) AS x(w, s, p, m)`,
    [
      partition,
      rows.map((r) => r.workspace_id),
      rows.map((r) => r.seq),
      rows.map((r) => r.profile_id),
      rows.map((r) => JSON.stringify(r.merged)),
    ],
  );
}
