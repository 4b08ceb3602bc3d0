import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { UnavailableError } from "../errors/index.ts";
import type { EventRow, Rejection } from "./core/validate.ts";
import { appendEvents, ensurePartitions, storeRejections } from "./store.ts";

/** One request's worth of messages: stored together or not at all. */
export interface WriteRequest {
  workspaceId: string;
  route: string;
  receivedAt: Date;
  events: EventRow[];
  rejections: Rejection[];
}

export interface WriteResult {
  /** Events appended to the log. */
  stored: number;
  /** Events whose messageId was already stored: accepted, not stored again. */
  duplicates: number;
}

export interface WriterOptions {
  /** Events per transaction before a flush stops taking more requests. */
  maxEventsPerFlush?: number;
  /**
   * Transactions in flight at once. Two let one transaction be prepared and sent while the other
   * waits for its commit (fsync); per workspace they still commit in sequence order.
   */
  maxConcurrentFlushes?: number;
  /** Called after each commit, for metrics. */
  onFlush?: (stats: { requests: number; events: number; seconds: number }) => void;
}

interface Pending {
  request: WriteRequest;
  resolve: (r: WriteResult) => void;
  reject: (e: unknown) => void;
}

/**
 * Group commit: requests that arrive while a transaction is in flight wait for the next one, which
 * takes them all. Each request is answered only after the commit that holds its events, so `200`
 * means committed, and single-event traffic shares transactions (and fsyncs) instead of paying one each.
 */
export class EventWriter {
  private queue: Pending[] = [];
  private inFlight = 0;
  private closed = false;
  private idle: Array<() => void> = [];
  private readonly maxEvents: number;
  private readonly maxConcurrent: number;

  constructor(
    private readonly pool: Pool,
    private readonly options: WriterOptions = {},
  ) {
    this.maxEvents = options.maxEventsPerFlush ?? 5000;
    this.maxConcurrent = options.maxConcurrentFlushes ?? 2;
  }

  write(request: WriteRequest): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new UnavailableError("the server is shutting down; retry"));
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      this.pump();
    });
  }

  /** Stops taking writes and resolves once every accepted write has been committed and answered. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.inFlight === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  /** Starts transactions for what is queued, up to the concurrency limit. */
  private pump(): void {
    while (this.inFlight < this.maxConcurrent && this.queue.length > 0) {
      const group = this.takeGroup();
      this.inFlight++;
      void this.flush(group).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0)
          for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async flush(group: Pending[]): Promise<void> {
    const started = performance.now();
    try {
      const results = await this.commit(group.map((p) => p.request));
      group.forEach((p, i) => p.resolve(results[i]!));
    } catch {
      // One request the database refuses must not fail the others: retry each on its own.
      await Promise.all(group.map((p) => this.commit([p.request]).then(([r]) => p.resolve(r!), p.reject)));
    }
    this.options.onFlush?.({
      requests: group.length,
      events: group.reduce((n, p) => n + p.request.events.length, 0),
      seconds: (performance.now() - started) / 1000,
    });
  }

  private takeGroup(): Pending[] {
    let events = 0;
    let count = 0;
    while (count < this.queue.length) {
      const size = this.queue[count]!.request.events.length + this.queue[count]!.request.rejections.length;
      if (count > 0 && events + size > this.maxEvents) break;
      events += size;
      count++;
    }
    return this.queue.splice(0, count);
  }

  private async commit(requests: WriteRequest[]): Promise<WriteResult[]> {
    try {
      return await this.commitOnce(requests);
    } catch (err) {
      // A month's partition is missing (upkeep has not run yet): create those and try once more.
      if ((err as { code?: string }).code !== "23514") throw err;
      const months = new Set(requests.map((r) => r.receivedAt.toISOString().slice(0, 7)));
      for (const month of months) await ensurePartitions(this.pool, new Date(`${month}-01T00:00:00Z`), 1);
      return this.commitOnce(requests);
    }
  }

  private async commitOnce(requests: WriteRequest[]): Promise<WriteResult[]> {
    // The common case, one workspace and nothing refused, is one statement in its own transaction.
    const workspaces = new Set(requests.map((r) => r.workspaceId));
    if (workspaces.size === 1 && requests.every((r) => r.rejections.length === 0)) {
      return this.tally(requests, await this.appendAll(this.pool, requests));
    }
    return withTx(this.pool, async (client) => {
      const results = this.tally(requests, await this.appendAll(client, requests));
      for (const r of requests) await storeRejections(client, r);
      return results;
    });
  }

  /** Appends each workspace's events (workspaces in a fixed order, so writers lock in one order). */
  private async appendAll(
    db: Pick<PoolClient, "query">,
    requests: WriteRequest[],
  ): Promise<Array<{ owner: number; fresh: boolean }>> {
    const byWorkspace = new Map<string, { events: EventRow[]; owners: number[] }>();
    requests.forEach((r, i) => {
      const entry = byWorkspace.get(r.workspaceId) ?? { events: [], owners: [] };
      for (const e of r.events) {
        entry.events.push(e);
        entry.owners.push(i);
      }
      byWorkspace.set(r.workspaceId, entry);
    });
    const outcome: Array<{ owner: number; fresh: boolean }> = [];
    for (const workspaceId of [...byWorkspace.keys()].sort()) {
      const { events, owners } = byWorkspace.get(workspaceId)!;
      const isNew = await appendEvents(db, { workspaceId, events });
      isNew.forEach((fresh, j) => outcome.push({ owner: owners[j]!, fresh }));
    }
    return outcome;
  }

  private tally(requests: WriteRequest[], outcome: Array<{ owner: number; fresh: boolean }>): WriteResult[] {
    const results = requests.map(() => ({ stored: 0, duplicates: 0 }));
    for (const { owner, fresh } of outcome) {
      if (fresh) results[owner]!.stored++;
      else results[owner]!.duplicates++;
    }
    return results;
  }
}
