import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Pool } from "pg";
import { ALL_UNITS, RESOLVE_UNIT, fairShare } from "./core/partition.ts";
import { Leases } from "./leases.ts";
import { runApply } from "./run-apply.ts";
import { runResolve } from "./run-resolve.ts";
import type { PipelineStage } from "./stage.ts";

export interface PipelineOptions {
  stages: PipelineStage[];
  /** Lease lifetime: a dead worker's units are taken over within about this long (plus a refresh). */
  leaseMs?: number;
  /** Idle wait between polls of the log. */
  pollMs?: number;
  batchSize?: number;
  onError?: (err: unknown) => void;
}

/**
 * One process's share of the pipeline: holds leases on units (the resolve unit and apply partitions),
 * and runs them until stopped. Any number of workers share the units; each takes its fair share.
 */
export class PipelineWorker {
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly leases: Leases;
  private held: string[] = [];
  private running = false;
  private loop: Promise<void> | undefined;
  private lastRefresh = 0;
  private wake: (() => void) | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly options: PipelineOptions,
  ) {
    this.leases = new Leases(pool, this.owner, options.leaseMs ?? 6000);
  }

  /** Units this worker holds now. */
  get units(): readonly string[] {
    return this.held;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Finishes the batch in flight, then gives the leases back. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await this.leases.release().catch(() => undefined);
    this.held = [];
  }

  private async run(): Promise<void> {
    const lease = this.options.leaseMs ?? 6000;
    const batch = this.options.batchSize ?? 1000;
    while (this.running) {
      let worked = 0;
      try {
        if (Date.now() - this.lastRefresh > lease / 4) {
          this.held = await this.leases.refresh((workers) => fairShare(ALL_UNITS.length, workers));
          this.lastRefresh = Date.now();
        }
        // Resolve first, so the partitions have this round's events to apply.
        if (this.held.includes(RESOLVE_UNIT)) worked += await runResolve(this.pool, batch);
        const partitions = this.held.filter((u) => u !== RESOLVE_UNIT).map((u) => Number(u.split(":")[1]));
        const applied = await Promise.all(
          partitions.map((p) => runApply(this.pool, p, this.options.stages, batch)),
        );
        worked += applied.reduce((a, b) => a + b, 0);
      } catch (err) {
        this.options.onError?.(err);
      }
      if (worked === 0 && this.running) await this.sleep(this.options.pollMs ?? 50);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
