import { Pool } from "undici";

/**
 * Two HTTP loads for the pipeline and profile benchmarks (loopback only):
 * - `runPaced`, open-loop: requests leave on a fixed schedule whatever the answers do, so a slow
 *   server gets a queue, not a gentler load; latency counts from the scheduled send time.
 * - `runReads`, GETs, closed-loop (each client sends its next request when the last one is answered)
 *   or open-loop at a rate, as `runPaced`.
 */

const REQUEST_TIMEOUT_MS = 30_000;

function assertLoopback(origin: string): void {
  if (!["127.0.0.1", "localhost", "[::1]"].includes(new URL(origin).hostname)) {
    throw new Error(`the benchmark only sends to loopback addresses (got ${origin})`);
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface PacedOptions {
  origin: string;
  path: string;
  headers: Record<string, string>;
  requestsPerSecond: number;
  seconds: number;
  /** Requests not yet answered beyond which a scheduled request is skipped (and counted). */
  maxInFlight: number;
  /** The body of the `n`-th request. */
  nextBody: (n: number) => { body: string; events: number };
  /** Called with each 200 answer, when it arrives. */
  onAcknowledged?: (n: number, at: number) => void;
}

export interface PacedResult {
  seconds: number;
  sent: number;
  ok: number;
  events: number;
  /** Scheduled requests not sent because `maxInFlight` were waiting: the server fell behind. */
  skipped: number;
  /** From the scheduled send time to the answer, ms, sorted. */
  latencies: Float64Array;
  failures: Record<string, number>;
}

export async function runPaced(o: PacedOptions): Promise<PacedResult> {
  assertLoopback(o.origin);
  const pool = new Pool(o.origin, {
    connections: o.maxInFlight,
    pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  const headers = { "content-type": "application/json", ...o.headers };
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const inFlight = new Set<Promise<void>>();
  let sent = 0;
  let ok = 0;
  let events = 0;
  let skipped = 0;
  const interval = 1000 / o.requestsPerSecond;
  const started = performance.now();
  const total = Math.round(o.seconds * o.requestsPerSecond);
  for (let n = 0; n < total; n++) {
    const due = started + n * interval;
    const wait = due - performance.now();
    if (wait > 0.5) await sleep(wait);
    if (inFlight.size >= o.maxInFlight) {
      skipped++;
      continue;
    }
    const { body, events: count } = o.nextBody(n);
    sent++;
    const p = (async () => {
      try {
        const res = await pool.request({ method: "POST", path: o.path, headers, body });
        await res.body.text();
        const at = performance.now();
        latencies.push(at - due);
        if (res.statusCode !== 200) {
          failures[`HTTP ${res.statusCode}`] = (failures[`HTTP ${res.statusCode}`] ?? 0) + 1;
          return;
        }
        ok++;
        events += count;
        o.onAcknowledged?.(n, at);
      } catch (err) {
        const why = (err as { code?: string }).code ?? (err as Error).message;
        failures[why] = (failures[why] ?? 0) + 1;
      }
    })();
    inFlight.add(p);
    void p.finally(() => inFlight.delete(p));
  }
  await Promise.all(inFlight);
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return {
    seconds,
    sent,
    ok,
    events,
    skipped,
    latencies: Float64Array.from(latencies).sort(),
    failures,
  };
}

export interface ReadOptions {
  origin: string;
  headers: Record<string, string>;
  /** Closed loop: the clients. Open loop (`perSecond` set): the most requests waiting at once. */
  clients: number;
  /** Open loop: requests leave at this rate whatever the answers, latency from the scheduled time. */
  perSecond?: number | undefined;
  seconds: number;
  /** The path of the next request, and a check of its answer (false: a wrong answer, counted). */
  next: () => { path: string; check: (body: unknown) => boolean };
}

export interface ReadResult {
  seconds: number;
  requests: number;
  ok: number;
  /** 200 answers whose body was not the profile asked for. */
  wrong: number;
  latencies: Float64Array;
  failures: Record<string, number>;
  /** Open loop: scheduled reads not sent because `clients` were waiting (the server fell behind). */
  skipped: number;
}

export async function runReads(o: ReadOptions): Promise<ReadResult> {
  assertLoopback(o.origin);
  const pool = new Pool(o.origin, {
    connections: o.clients,
    pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  let requests = 0;
  let ok = 0;
  let wrong = 0;
  let skipped = 0;
  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  /** One read, timed from `t0` (its scheduled time, open loop); false when it failed to connect. */
  const read = async (t0: number): Promise<boolean> => {
    const { path, check } = o.next();
    requests++;
    try {
      const res = await pool.request({ method: "GET", path, headers: o.headers });
      const text = await res.body.text();
      latencies.push(performance.now() - t0);
      if (res.statusCode !== 200) {
        failures[`HTTP ${res.statusCode}`] = (failures[`HTTP ${res.statusCode}`] ?? 0) + 1;
        return true;
      }
      ok++;
      if (!check(JSON.parse(text))) wrong++;
      return true;
    } catch (err) {
      const why = (err as { code?: string }).code ?? (err as Error).message;
      failures[why] = (failures[why] ?? 0) + 1;
      return false;
    }
  };
  if (o.perSecond) {
    const inFlight = new Set<Promise<unknown>>();
    const interval = 1000 / o.perSecond;
    for (let n = 0; started + n * interval < deadline; n++) {
      const due = started + n * interval;
      const wait = due - performance.now();
      if (wait > 0.5) await sleep(wait);
      if (inFlight.size >= o.clients) {
        skipped++;
        continue;
      }
      const p = read(due);
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
    }
    await Promise.all(inFlight);
  } else {
    const client = async () => {
      while (performance.now() < deadline) {
        if (!(await read(performance.now()))) await sleep(10); // a refused connection must not spin
      }
    };
    await Promise.all(Array.from({ length: o.clients }, client));
  }
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return { seconds, requests, ok, wrong, latencies: Float64Array.from(latencies).sort(), failures, skipped };
}
