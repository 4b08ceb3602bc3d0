import type { Notification, Pool, PoolClient } from "pg";

export interface LoopsOptions {
  /** How often an idle loop looks for work (ms). */
  pollMs: number;
  /** NOTIFY channel → the loop it wakes (e.g. `waymark_outbox` → `outbox`). */
  wakeOn?: Record<string, string>;
  onError?: (err: unknown) => void;
}

/**
 * Background loops that poll PostgreSQL for work: each runs its round again at once while it finds
 * work, sleeps `pollMs` when idle, and is woken early by a NOTIFY on its channel. Work started
 * without being awaited (`track`) is awaited on `stop`. The timer loop, the outboxes and the
 * scheduler run on it.
 */
export class PollingLoops {
  private running = false;
  private readonly rounds = new Map<string, () => Promise<number>>();
  private loops: Promise<void>[] = [];
  private readonly wakers = new Map<string, () => void>();
  /** Loops woken while busy: they go round again instead of sleeping. */
  private readonly pending = new Set<string>();
  private readonly tracked = new Set<Promise<unknown>>();
  private listener: PoolClient | undefined;
  private listening: Promise<void> | undefined;
  private releaseListener: (() => void) | undefined;

  constructor(
    private readonly pool: Pool,
    private readonly options: LoopsOptions,
  ) {}

  /** Adds a loop; `round` returns how much work it found (0: sleep). */
  add(name: string, round: () => Promise<number>): this {
    this.rounds.set(name, round);
    return this;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = [...this.rounds].map(([name, round]) => this.loop(name, round));
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const wake of this.wakers.values()) wake();
    await Promise.all(this.loops);
    await Promise.all(this.tracked);
    await this.listening?.catch(() => undefined);
    this.releaseListener?.();
  }

  /** Wakes a loop now if it sleeps, or makes it go round again if it is busy. */
  wake(name: string): void {
    const wake = this.wakers.get(name);
    if (wake) wake();
    else this.pending.add(name);
  }

  /** Work a round started without awaiting it: awaited on stop; errors go to onError. */
  track(work: Promise<unknown>): void {
    const done = work
      .catch((err: unknown) => this.options.onError?.(err))
      .finally(() => this.tracked.delete(done));
    this.tracked.add(done);
  }

  /** Opens the LISTEN connection when it is not open (again after a lost connection); once for all loops. */
  private listen(): Promise<void> {
    const channels = Object.keys(this.options.wakeOn ?? {});
    if (this.listener || !this.running || channels.length === 0) return Promise.resolve();
    this.listening ??= this.openListener(channels).finally(() => (this.listening = undefined));
    return this.listening;
  }

  private async openListener(channels: string[]): Promise<void> {
    const client = await this.pool.connect();
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (this.listener === client) this.listener = undefined;
      client.release(true);
    };
    // A connection lost (or terminated at shutdown) errors after stop may have released it: once only.
    client.on("error", (err) => {
      if (!released) this.options.onError?.(err);
      release();
    });
    this.releaseListener = release;
    client.on("notification", (n: Notification) => {
      const name = this.options.wakeOn?.[n.channel];
      if (name) this.wake(name);
    });
    try {
      for (const channel of channels) await client.query(`LISTEN ${channel}`);
    } catch (err) {
      release();
      throw err;
    }
    this.listener = client;
  }

  private async loop(name: string, round: () => Promise<number>): Promise<void> {
    while (this.running) {
      let found = 0;
      try {
        await this.listen();
        found = await round();
      } catch (err) {
        this.options.onError?.(err);
      }
      if (found > 0 || this.pending.delete(name)) continue;
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.wakers.delete(name);
          resolve();
        };
        const timer = setTimeout(wake, this.options.pollMs);
        this.wakers.set(name, wake);
      });
    }
  }
}
