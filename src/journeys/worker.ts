import type { Notification, Pool, PoolClient } from "pg";
import type { OutboundClient } from "../outbound/index.ts";
import type { VersionCache } from "./definitions.ts";
import { carryOut, claimEffects } from "./outbox.ts";
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
  /** Effects carried out at once (default 32). */
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
  private readonly wakers = new Map<string, () => void>();
  /** LISTENs for new effects (`waymark_outbox`), so the dispatcher starts at once, not at its next poll. */
  private listener: PoolClient | undefined;
  /** Effects being carried out now (the dispatcher's slots in use). */
  private inflight = 0;
  private readonly carrying = new Set<Promise<void>>();
  /** Loops notified while busy: they go round again instead of sleeping. */
  private readonly pending = new Set<string>();

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
      this.loop("timers", () => this.timersOnce()),
      this.loop("outbox", () => this.outboxOnce()),
      this.loop("schedules", () => this.schedulesOnce()),
    ];
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers.values()) wake();
    await Promise.all(this.loops);
    await Promise.all(this.carrying);
    this.listener?.release(true);
    this.listener = undefined;
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

  /**
   * One dispatch round: claims as many due effects as there are free slots and starts them without
   * waiting for the others, so one slow receiver holds one slot, not the whole dispatcher. Returns how
   * many it started.
   */
  async outboxOnce(): Promise<number> {
    const free = (this.options.outboxBatch ?? 32) - this.inflight;
    const rows = await claimEffects(this.pool, this.now(), free, this.options.leaseMs ?? 60_000);
    for (const row of rows) {
      this.inflight += 1;
      const options = { outbound: this.options.outbound, versions: this.options.versions };
      const done = carryOut(this.pool, options, row, this.now())
        .catch((err: unknown) => this.options.onError?.(err))
        .finally(() => {
          this.inflight -= 1;
          this.carrying.delete(done);
          const wake = this.wakers.get("outbox");
          if (wake) wake();
          else this.pending.add("outbox");
        });
      this.carrying.add(done);
    }
    return rows.length;
  }

  /** Opens the LISTEN connection when it is not open (again after a lost connection). */
  private async listen(): Promise<void> {
    if (this.listener || !this.running) return;
    const client = await this.pool.connect();
    client.on("error", (err) => {
      this.options.onError?.(err);
      if (this.listener === client) this.listener = undefined;
      client.release(true);
    });
    client.on("notification", (n: Notification) => {
      if (n.channel !== "waymark_outbox") return;
      const wake = this.wakers.get("outbox");
      if (wake) wake();
      else this.pending.add("outbox");
    });
    await client.query("LISTEN waymark_outbox");
    this.listener = client;
  }

  private async loop(name: string, round: () => Promise<number>): Promise<void> {
    while (this.running) {
      let done = 0;
      try {
        if (name === "outbox") await this.listen();
        done = await round();
      } catch (err) {
        this.options.onError?.(err);
      }
      if (done > 0 || this.pending.delete(name)) continue;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.wakers.delete(name);
          resolve();
        };
        const timer = setTimeout(wake, this.options.pollMs ?? 200);
        this.wakers.set(name, wake);
      });
    }
  }
}
