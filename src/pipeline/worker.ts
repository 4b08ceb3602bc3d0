import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Notification, Pool, PoolClient } from "pg";
import { ALL_UNITS, RESOLVE_UNIT, applyUnit, fairShare } from "./core/partition.ts";
import { Leases } from "./leases.ts";
import { runApply } from "./run-apply.ts";
import { runResolve } from "./run-resolve.ts";
import { QUEUE_VACUUM_EVERY_EVENTS, QUEUE_VACUUM_MIN_MS, vacuumQueue } from "./queue-vacuum.ts";
import type { PipelineStage } from "./stage.ts";

export interface PipelineOptions {
  stages: PipelineStage[];
  /** Lease lifetime: a dead worker's units are taken over within about this long (plus a refresh). */
  leaseMs?: number;
  /**
   * Idle wait between polls of the log. Commits that append events or queue them notify the
   * workers (LISTEN/NOTIFY), so this is only the fallback when a notification is missed.
   */
  pollMs?: number;
  batchSize?: number;
  /**
   * After a wake-up, or a batch that found only a trickle, the resolve unit waits this long before
   * its next batch so that events arriving one by one are resolved tens at a time (less per-batch
   * cost), at the price of that much latency. The apply partitions do not gather: their events come
   * in chunks already, one per resolve batch, and waiting would only add to the lag; they wait this
   * long only before retrying merges held for other partitions.
   */
  gatherMs?: number;
  /** Vacuum the queue after this many events queued (see queue-vacuum.ts)... */
  queueVacuumEvents?: number;
  /** ...and at most this often (ms). */
  queueVacuumMinMs?: number;
  onError?: (err: unknown) => void;
  /** After each committed apply batch: how many events one stage applied (for metrics). */
  onApplied?: (stage: string, events: number) => void;
}

/**
 * When a unit runs its next batch: at once, after gathering (`gatherMs`: a trickle of events is
 * resolved tens at a time, merges waiting for other partitions are retried), or when woken.
 */
type Next = "now" | "gather" | "idle";

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The longest wait between retries of a unit whose batches keep failing. */
const MAX_BACKOFF_MS = 5_000;

/**
 * One process's share of the pipeline: holds leases on units (the resolve unit and apply partitions)
 * and runs each unit it holds in its own loop until stopped. Any number of workers share the units;
 * each takes its fair share.
 *
 * The leases are refreshed on their own timer, every quarter of their lifetime, whatever the units
 * are doing, so a long batch never lets a lease lapse and a dead worker's units are taken over within
 * the lifetime plus one refresh. A unit's loop runs only while this worker holds the unit and its
 * last renewal is younger than the lease lifetime (a worker cut off from the database stops working
 * what it can no longer be sure it holds). Correctness does not rest on leases alone: each batch locks
 * what it consumes, so two workers that briefly both think they hold a unit apply each event once.
 */
export class PipelineWorker {
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly leases: Leases;
  private readonly leaseMs: number;
  /** Units held at the last refresh. */
  private held = new Set<string>();
  /** performance.now() until which `held` is trusted: the start of the renewal plus the lifetime. */
  private heldUntil = 0;
  /** The running loop of each unit. */
  private readonly loops = new Map<string, Promise<void>>();
  /** Wakes a sleeping loop early (by unit; "refresh" for the lease loop). */
  private readonly wakers = new Map<string, () => void>();
  private running = false;
  private refresher: Promise<void> | undefined;
  /** Units woken while they were busy: they run again before sleeping (no lost wake-up). */
  private readonly pending = new Set<string>();
  /** The connection LISTENing for new events and queued work (re-opened by the refresh loop). */
  private listener: PoolClient | undefined;
  /** Events this worker queued since its last vacuum of the queue, the time of it, and one running. */
  private queuedSinceVacuum = 0;
  private lastVacuum = performance.now();
  private vacuum: Promise<void> | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly options: PipelineOptions,
  ) {
    this.leaseMs = options.leaseMs ?? 6000;
    this.leases = new Leases(pool, this.owner, this.leaseMs);
  }

  /** Units this worker holds now. */
  get units(): readonly string[] {
    return [...this.held].filter((u) => this.holds(u)).sort();
  }

  /** Starts taking leases and working units (again, after a stop() has resolved). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.refresher = this.refreshLoop();
  }

  /** Lets every unit finish its batch in flight, then gives the leases back. */
  async stop(): Promise<void> {
    this.running = false;
    for (const wake of [...this.wakers.values()]) wake();
    await this.refresher;
    await Promise.all([...this.loops.values()]);
    await this.vacuum;
    this.closeListener();
    this.held = new Set();
    this.heldUntil = 0;
    await this.leases.release().catch((err: unknown) => this.options.onError?.(err));
  }

  private holds(unit: string): boolean {
    return this.held.has(unit) && performance.now() < this.heldUntil;
  }

  private async refreshLoop(): Promise<void> {
    while (this.running) {
      try {
        await this.listen();
        await this.refresh();
      } catch (err) {
        this.options.onError?.(err);
      }
      if (this.running) await this.sleep("refresh", this.leaseMs / 4);
    }
  }

  /** Heartbeat, renew, and move toward the fair share: give up extra units, or take free ones. */
  private async refresh(): Promise<void> {
    const started = performance.now();
    const share = fairShare(ALL_UNITS.length, await this.leases.heartbeat());
    const renewed = await this.leases.renew();
    if (!this.running) return;
    if (renewed.length > share) {
      // Stop working the extra units first, and only then give them up: the next holder never
      // overlaps a batch of ours.
      const extra = renewed.slice(share);
      this.hold(renewed.slice(0, share), started);
      for (const unit of extra) this.wakers.get(unit)?.();
      await Promise.all(extra.map((unit) => this.loops.get(unit)));
      await this.leases.drop(extra);
    } else {
      const taken = await this.leases.take(share - renewed.length);
      this.hold([...renewed, ...taken], started);
    }
  }

  /** Opens the LISTEN connection when it is not open: notifications wake the idle loops at once. */
  private async listen(): Promise<void> {
    if (this.listener) return;
    const client = await this.pool.connect();
    const drop = () => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.release(true);
    };
    client.on("error", (err) => {
      this.options.onError?.(err);
      drop();
    });
    client.on("notification", (n: Notification) => this.notified(n));
    try {
      await client.query("LISTEN waymark_log");
      await client.query("LISTEN waymark_queue");
    } catch (err) {
      client.release(true);
      throw err;
    }
    this.listener = client;
    // Anything that arrived while not listening is found by one round of every loop.
    for (const [key, wake] of [...this.wakers]) if (key !== "refresh") wake();
  }

  private notified(n: Notification): void {
    if (n.channel === "waymark_log") this.wake(RESOLVE_UNIT);
    if (n.channel === "waymark_queue") {
      for (const p of (n.payload ?? "").split(",")) if (p !== "") this.wake(`apply:${p}`);
    }
  }

  /** Wakes a unit's loop now if it sleeps, or marks it to run again if it is busy. */
  private wake(unit: string): void {
    const waker = this.wakers.get(unit);
    if (waker) waker();
    else this.pending.add(unit);
  }

  private closeListener(): void {
    const client = this.listener;
    this.listener = undefined;
    client?.release(true);
  }

  private hold(units: string[], renewedAt: number): void {
    this.held = new Set(units);
    this.heldUntil = renewedAt + this.leaseMs;
    for (const unit of units) this.ensureLoop(unit);
  }

  private ensureLoop(unit: string): void {
    if (!this.running || this.loops.has(unit) || !this.holds(unit)) return;
    const loop = this.work(unit).finally(() => {
      this.loops.delete(unit);
      // Held again while the loop was on its way out.
      this.ensureLoop(unit);
    });
    this.loops.set(unit, loop);
  }

  /**
   * One unit's loop: batches back to back while there is work, sleeps until woken (or the poll) when
   * idle, backs off on errors.
   */
  private async work(unit: string): Promise<void> {
    const pollMs = this.options.pollMs ?? 1000;
    const gatherMs = this.options.gatherMs ?? 50;
    let failures = 0;
    while (this.running && this.holds(unit)) {
      let next: Next = "now";
      try {
        next = await this.runBatch(unit);
        failures = 0;
      } catch (err) {
        failures++;
        this.options.onError?.(err);
      }
      if (!this.running) return;
      if (failures > 0) await this.sleep(unit, Math.min(MAX_BACKOFF_MS, pollMs * 2 ** failures));
      else if (next === "idle") {
        if (!this.pending.delete(unit)) {
          await this.sleep(unit, pollMs);
          // Woken by the first of a trickle of events: let more of them arrive first.
          if (unit === RESOLVE_UNIT) await delay(gatherMs);
        }
      } else if (next === "gather") await delay(gatherMs);
    }
  }

  /** Runs one batch of `unit`; says when to run the next. */
  private async runBatch(unit: string): Promise<Next> {
    const batch = this.options.batchSize ?? 1000;
    if (unit === RESOLVE_UNIT) {
      // The commit's NOTIFY wakes the partitions that got events, here and in every other worker, once
      // each. Waking them here as well made each one run a second, empty batch (three round trips)
      // when the notification came in while it was busy. Only without a listening connection (it is
      // being re-opened) are they woken here, so they need not wait for their poll.
      const resolved = await runResolve(this.pool, batch, (partitions) => {
        if (this.listener) return;
        for (const p of partitions) if (this.held.has(applyUnit(p))) this.wake(applyUnit(p));
      });
      this.queuedSinceVacuum += resolved;
      this.maybeVacuum();
      if (resolved === 0) return "idle";
      return resolved < batch / 4 ? "gather" : "now";
    }
    const { stages, onApplied } = this.options;
    const result = await runApply(this.pool, Number(unit.split(":")[1]), stages, batch);
    if (result.applied > 0 && onApplied) for (const stage of stages) onApplied(stage.name, result.applied);
    // A partition's events come in chunks, one per resolve batch, which wakes it: a short batch means
    // the queue is empty until the next wake-up. Merges waiting for other partitions are retried soon
    // after a batch that moved others on; when all of them waited, at the next wake-up (or poll), not
    // every 50 ms (each try takes them out of the queue and puts them back).
    if (result.full) return "now";
    return result.waiting > 0 && result.taken > 0 ? "gather" : "idle";
  }

  /** Vacuums the queue in the background once enough events went through it (see queue-vacuum.ts). */
  private maybeVacuum(): void {
    if (this.vacuum || this.queuedSinceVacuum < (this.options.queueVacuumEvents ?? QUEUE_VACUUM_EVERY_EVENTS))
      return;
    if (performance.now() - this.lastVacuum < (this.options.queueVacuumMinMs ?? QUEUE_VACUUM_MIN_MS)) return;
    this.queuedSinceVacuum = 0;
    this.lastVacuum = performance.now();
    this.vacuum = vacuumQueue(this.pool)
      .catch((err: unknown) => this.options.onError?.(err))
      .finally(() => (this.vacuum = undefined));
  }

  private sleep(key: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wakers.get(key) === done) this.wakers.delete(key);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.set(key, done);
    });
  }
}
