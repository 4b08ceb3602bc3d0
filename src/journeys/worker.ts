import type { Pool } from "pg";
import { PollingLoops } from "../db/index.ts";
import type { OutboundClient } from "../outbound/index.ts";
import type { VersionCache } from "./definitions.ts";
import { OutcomeWriter, carryOut, claimEffects } from "./outbox.ts";
import { runDueSchedule } from "./schedule.ts";
import { fireDueTimers } from "./timers.ts";

/** Effects carried out at most while their outcomes wait to be written. */
const MAX_RECORDING = 512;

export interface JourneyWorkerOptions {
  versions: VersionCache;
  outbound: OutboundClient;
  now?: () => Date;
  /** How often the loops look for due timers and effects when idle (ms). */
  pollMs?: number;
  /** Instances advanced per timer transaction. */
  timerBatch?: number;
  /**
   * Timer rounds run at once (default 2). A round is one transaction (claim, profiles, advance,
   * write) whose time is mostly waiting on PostgreSQL; rounds claim with SKIP LOCKED, so two never
   * take the same instance and a second one works while the first waits.
   */
  timerLoops?: number;
  /** Effects carried out at once (default 32). */
  outboxBatch?: number;
  /** How long a claimed effect is reserved before a crash hands it to another run. */
  leaseMs?: number;
  onError?: (err: unknown) => void;
}

/**
 * The journey runtime's background work in a worker process: the timer loop (due waits and hold
 * timeouts), the outbox dispatcher (woken by NOTIFY waymark_outbox) and the scheduler of scheduled
 * triggers. Any number of processes may run them.
 */
export class JourneyWorker {
  private readonly loops: PollingLoops;
  private readonly now: () => Date;
  /** Effects being carried out now (the dispatcher's slots in use). */
  private inflight = 0;
  /** Effects carried out whose outcomes wait for the outcome writer (they hold no slot). */
  private recording = 0;
  private readonly writer: OutcomeWriter;

  constructor(
    private readonly pool: Pool,
    private readonly options: JourneyWorkerOptions,
  ) {
    this.now = options.now ?? (() => new Date());
    this.writer = new OutcomeWriter(pool, options.versions);
    this.loops = new PollingLoops(pool, {
      pollMs: options.pollMs ?? 200,
      wakeOn: { waymark_outbox: "outbox" },
      ...(options.onError ? { onError: options.onError } : {}),
    })
      .add("outbox", () => this.outboxOnce())
      .add("schedules", () => this.schedulesOnce());
    const timerLoops = Math.max(1, options.timerLoops ?? 2);
    for (let n = 0; n < timerLoops; n++)
      this.loops.add(n === 0 ? "timers" : `timers-${n + 1}`, () => this.timersOnce());
  }

  start(): void {
    this.loops.start();
  }

  stop(): Promise<void> {
    return this.loops.stop();
  }

  /** Effects claimed by this worker whose outcome is not yet written (0 when it holds no claim). */
  get busy(): number {
    return this.inflight + this.recording;
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
    const slots = this.options.outboxBatch ?? 32;
    const free = slots - this.inflight;
    // Claim when a few slots are free (or none is busy), not after every finished effect: each claim
    // is a committed UPDATE of its own.
    if (free < Math.min(8, slots) && this.inflight > 0) return 0;
    // A slot is free again once its request is answered; the outcome is written in a group with
    // others meanwhile (a slot held through that write left effects waiting to be claimed while the
    // database was busy). Bounded, so a stalled writer stops the claims rather than the memory.
    if (this.recording >= MAX_RECORDING) return 0;
    const rows = await claimEffects(this.pool, this.now(), free, this.options.leaseMs ?? 60_000);
    for (const row of rows) {
      this.inflight += 1;
      let sent = false;
      const done = () => {
        if (sent) return;
        sent = true;
        this.inflight -= 1;
        this.recording += 1;
        this.loops.wake("outbox");
      };
      const options = {
        outbound: this.options.outbound,
        versions: this.options.versions,
        writer: this.writer,
        done,
      };
      this.loops.track(
        carryOut(this.pool, options, row, this.now()).finally(() => {
          if (sent) this.recording -= 1;
          else this.inflight -= 1;
          this.loops.wake("outbox");
        }),
      );
    }
    return rows.length;
  }
}
