import type { Pool } from "pg";
import { PollingLoops } from "../db/index.ts";
import {
  DispatcherCache,
  RecordWriter,
  claimMessages,
  prepareMessages,
  recordOutcome,
  sendMessage,
  type DispatcherDeps,
} from "./dispatcher.ts";
import { acceptJourneyMessages } from "./queue.ts";

/** Messages sent at most while their outcomes wait to be written. */
const MAX_RECORDING = 512;

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
  /** Messages sent whose outcomes wait for the record writer (they hold no slot). */
  private recording = 0;
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

  /** Messages claimed by this worker whose outcome is not yet written (0 when it holds no claim). */
  get busy(): number {
    return this.inflight + this.recording;
  }

  /** Takes the journeys' message effects waiting in the outbox into the message log. */
  acceptOnce(): Promise<number> {
    return acceptJourneyMessages(this.pool, this.now(), 500);
  }

  /**
   * Claims as many due messages as there are free slots, decides them as one batch, and starts
   * sending those decided "send" (a slot each). While some are in flight it waits for a few slots to
   * free up before claiming again, so batches stay large enough to share their queries.
   */
  async sendOnce(): Promise<number> {
    const concurrency = this.options.concurrency ?? 32;
    const free = concurrency - this.inflight;
    if (this.inflight > 0 && free < Math.min(8, Math.ceil(concurrency / 4))) return 0;
    // A slot is free again once the provider answered; the outcome is written in a group meanwhile.
    // Bounded, so a stalled writer stops the claims rather than the memory.
    if (this.recording >= MAX_RECORDING) return 0;
    const now = this.now();
    const rows = await claimMessages(this.pool, now, free, this.options.leaseMs ?? 60_000);
    if (rows.length === 0) return 0;
    this.inflight += rows.length;
    const prepared = await prepareMessages(this.pool, this.deps, rows, now).catch((err: unknown) => {
      this.inflight -= rows.length;
      throw err;
    });
    for (const p of prepared) {
      let sent = false;
      const toRecording = () => {
        if (sent) return;
        sent = true;
        this.inflight -= 1;
        this.recording += 1;
        this.loops.wake("send");
      };
      const work =
        "outcome" in p
          ? (toRecording(), recordOutcome(this.pool, this.deps, p.row, p.outcome, now))
          : sendMessage(this.pool, this.deps, p, this.now(), toRecording);
      this.loops.track(
        work.finally(() => {
          if (sent) this.recording -= 1;
          else this.inflight -= 1;
          this.loops.wake("send");
        }),
      );
    }
    return rows.length;
  }
}
