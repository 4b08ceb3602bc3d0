import type { Pool } from "pg";
import { PollingLoops } from "../db/index.ts";
import {
  DispatcherCache,
  RecordWriter,
  claimMessages,
  deliverMessage,
  type DispatcherDeps,
} from "./dispatcher.ts";
import { acceptJourneyMessages } from "./queue.ts";

export interface MessagingWorkerOptions extends Omit<DispatcherDeps, "cache" | "writer"> {
  now?: () => Date;
  pollMs?: number;
  /** Messages sent at once (default 32). */
  concurrency?: number;
  /** How long a claimed message is reserved before a crash hands it on (default 60 s). */
  leaseMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * Messaging's background work: takes journeys' message effects into the message log, and sends
 * queued messages (a slot each, so a slow provider holds one slot, not the dispatcher).
 */
export class MessagingWorker {
  private readonly loops: PollingLoops;
  private readonly now: () => Date;
  private inflight = 0;
  private readonly deps: DispatcherDeps;

  constructor(
    private readonly pool: Pool,
    private readonly options: MessagingWorkerOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.deps = { ...options, writer: new RecordWriter(pool), cache: new DispatcherCache() };
    this.loops = new PollingLoops(pool, {
      pollMs: options.pollMs ?? 200,
      wakeOn: { waymark_outbox: "accept", waymark_messages: "send" },
      ...(options.onError ? { onError: options.onError } : {}),
    })
      .add("accept", () => this.acceptOnce())
      .add("send", () => this.sendOnce());
  }

  start(): void {
    this.loops.start();
  }

  stop(): Promise<void> {
    return this.loops.stop();
  }

  /** Takes the journeys' message effects waiting in the outbox into the message log. */
  acceptOnce(): Promise<number> {
    return acceptJourneyMessages(this.pool, this.now(), 500);
  }

  /** Claims as many due messages as there are free slots and starts sending them. */
  async sendOnce(): Promise<number> {
    const free = (this.options.concurrency ?? 32) - this.inflight;
    const rows = await claimMessages(this.pool, this.now(), free, this.options.leaseMs ?? 60_000);
    for (const row of rows) {
      this.inflight += 1;
      this.loops.track(
        deliverMessage(this.pool, this.deps, row, this.now()).finally(() => {
          this.inflight -= 1;
          this.loops.wake("send");
        }),
      );
    }
    return rows.length;
  }
}
