import { Pool } from "undici";

/**
 * A closed-loop HTTP load generator: `clients` loops, each on its own keep-alive connection, send a
 * request, wait for the answer, send the next, until the deadline. A loop finishes the request it has
 * in flight before it stops, so every request sent is answered (or failed) and counted: the events
 * acknowledged can then be checked against the rows stored.
 */

export interface LoadOptions {
  /** `http://127.0.0.1:PORT` (loopback only). */
  origin: string;
  path: string;
  clients: number;
  seconds: number;
  headers: Record<string, string>;
  /** The next request body and the number of events in it. */
  nextBody: () => { body: string; events: number };
}

export interface LoadResult {
  seconds: number;
  requests: number;
  /** Requests answered 200. */
  ok: number;
  /** Events the server acknowledged (`accepted` of its 200 answers; the events sent for a `{}` answer). */
  acknowledged: number;
  /** Events acknowledged as duplicates of stored ones (should be 0: every messageId is new). */
  duplicates: number;
  /** Request latencies in ms, sorted ascending. */
  latencies: Float64Array;
  /** Failures by HTTP status or error code. */
  failures: Record<string, number>;
}

const REQUEST_TIMEOUT_MS = 30_000;

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const origin = new URL(o.origin);
  if (!["127.0.0.1", "localhost", "[::1]"].includes(origin.hostname)) {
    throw new Error(`the benchmark only sends to loopback addresses (got ${o.origin})`);
  }
  const pool = new Pool(o.origin, {
    connections: o.clients,
    pipelining: 1,
    headersTimeout: REQUEST_TIMEOUT_MS,
    bodyTimeout: REQUEST_TIMEOUT_MS,
  });
  const headers = { "content-type": "application/json", ...o.headers };
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const fail = (why: string) => (failures[why] = (failures[why] ?? 0) + 1);
  let requests = 0;
  let ok = 0;
  let acknowledged = 0;
  let duplicates = 0;

  const started = performance.now();
  const deadline = started + o.seconds * 1000;
  const client = async () => {
    while (performance.now() < deadline) {
      const { body, events } = o.nextBody();
      const t0 = performance.now();
      requests++;
      try {
        const res = await pool.request({ method: "POST", path: o.path, headers, body });
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        if (res.statusCode !== 200) {
          fail(`HTTP ${res.statusCode}`);
          continue;
        }
        ok++;
        const answer = JSON.parse(text) as { accepted?: number; duplicates?: number };
        acknowledged += answer.accepted ?? events;
        duplicates += answer.duplicates ?? 0;
      } catch (err) {
        fail((err as { code?: string }).code ?? (err as Error).message);
        await new Promise((r) => setTimeout(r, 10)); // a refused connection must not spin
      }
    }
  };
  await Promise.all(Array.from({ length: o.clients }, client));
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  return {
    seconds,
    requests,
    ok,
    acknowledged,
    duplicates,
    latencies: Float64Array.from(latencies).sort(),
    failures,
  };
}

/** The q-quantile (0..1) of sorted values, nearest rank; NaN when empty. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
