import type { Pool } from "pg";
import type { OutboundClient } from "../outbound/index.ts";
import type { VersionCache } from "./definitions.ts";
import { dispatchOutbox } from "./outbox.ts";
import { runDueSchedule } from "./schedule.ts";
import { fireDueTimers } from "./timers.ts";

export interface JourneyWorkerOptions {
  versions: VersionCache;
  outbound: OutboundClient;
  now?: () => Date;
  /** How often the loops look for due timers and effects when idle (ms). */
  pollMs?: number;
  /** Instances advanced per timer transaction. */
  timerBatch?: number;
  /** Effects claimed per dispatch round (they run concurrently). */
  outboxBatch?: number;
  /** How long a claimed effect is reserved before a crash hands it to another run. */
  leaseMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * The journey runtime's background work in a worker process: the timer loop (due waits and hold
 * timeouts), the outbox dispatcher and the scheduler of scheduled triggers. They poll; any number of
 * processes may run them.
 */
export class JourneyWorker {
  private running = false;
  private loops: Promise<void>[] = [];
  private readonly now: () => Date;
  private readonly wakers = new Set<() => void>();

  constructor(
    private readonly pool: Pool,
    private readonly options: JourneyWorkerOptions,
  ) {
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = [
      this.loop(() => this.timersOnce()),
      this.loop(() => this.outboxOnce()),
      this.loop(() => this.schedulesOnce()),
    ];
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers) wake();
    await Promise.all(this.loops);
  }

  /** One timer round: advances up to a batch of due instances. */
  timersOnce(): Promise<number> {
    return fireDueTimers(this.pool, this.options.versions, this.now(), this.options.timerBatch ?? 500);
  }

  /** One scheduler round: runs one due scheduled trigger (1 when it ran one, else 0). */
  async schedulesOnce(): Promise<number> {
    const triggered = await runDueSchedule(this.pool, this.options.versions, this.now());
    return triggered === undefined ? 0 : 1;
  }

  /** One dispatch round: carries out up to a batch of due effects. */
  outboxOnce(): Promise<number> {
    return dispatchOutbox(
      this.pool,
      {
        outbound: this.options.outbound,
        versions: this.options.versions,
        leaseMs: this.options.leaseMs ?? 60_000,
      },
      this.now(),
      this.options.outboxBatch ?? 32,
    );
  }

  private async loop(round: () => Promise<number>): Promise<void> {
    while (this.running) {
      let done = 0;
      try {
        done = await round();
      } catch (err) {
        this.options.onError?.(err);
      }
      if (done > 0) continue;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.wakers.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, this.options.pollMs ?? 200);
        this.wakers.add(wake);
      });
    }
  }
}
