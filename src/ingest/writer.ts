import type { Pool } from "pg";
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
  private flushing = false;
  private closed = false;
  private idle: Array<() => void> = [];
  private readonly maxEvents: number;

  constructor(
    private readonly pool: Pool,
    private readonly options: WriterOptions = {},
  ) {
    this.maxEvents = options.maxEventsPerFlush ?? 5000;
  }

  write(request: WriteRequest): Promise<WriteResult> {
    if (this.closed) return Promise.reject(new UnavailableError("the server is shutting down; retry"));
    return new Promise((resolve, reject) => {
      this.queue.push({ request, resolve, reject });
      if (!this.flushing) void this.flushLoop();
    });
  }

  /** Stops taking writes and resolves once every accepted write has been committed and answered. */
  async close(): Promise<void> {
    this.closed = true;
    if (!this.flushing && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const group = this.takeGroup();
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
    this.flushing = false;
    for (const resolve of this.idle.splice(0)) resolve();
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

  private commitOnce(requests: WriteRequest[]): Promise<WriteResult[]> {
    return withTx(this.pool, async (client) => {
      // Workspaces in a fixed order, so concurrent writers take sequence locks in the same order.
      const byWorkspace = new Map<string, { events: EventRow[]; owners: number[] }>();
      requests.forEach((r, i) => {
        const entry = byWorkspace.get(r.workspaceId) ?? { events: [], owners: [] };
        for (const e of r.events) {
          entry.events.push(e);
          entry.owners.push(i);
        }
        byWorkspace.set(r.workspaceId, entry);
      });
      const results = requests.map(() => ({ stored: 0, duplicates: 0 }));
      for (const workspaceId of [...byWorkspace.keys()].sort()) {
        const { events, owners } = byWorkspace.get(workspaceId)!;
        const isNew = await appendEvents(client, { workspaceId, events });
        isNew.forEach((fresh, j) => {
          const r = results[owners[j]!]!;
          if (fresh) r.stored++;
          else r.duplicates++;
        });
      }
      for (const r of requests) await storeRejections(client, r);
      return results;
    });
  }
}
