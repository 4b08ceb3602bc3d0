import { request } from "undici";

/**
 * The server's event pipeline (identity resolution, then profiles) consumes the log in the same
 * process and database as ingestion. Its progress, from the admin API, shows how much of the
 * ingested load it kept up with, and lets the benchmark wait for it to drain between scenarios so
 * that one scenario's backlog is not processed during the next one.
 */

export interface PipelineProgress {
  /** Last seq the resolve unit has resolved. */
  resolvedSeq: number;
  /** Events not fully processed: not yet resolved, or resolved and queued for a profile partition. */
  waiting: number;
}

interface Unit {
  unit: string;
  appliedSeq: number;
  lagEvents: number;
}

export async function readPipeline(url: string, adminToken: string): Promise<PipelineProgress> {
  const res = await request(`${url}/api/v1/pipeline`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET /api/v1/pipeline: HTTP ${res.statusCode} ${text}`);
  const { units } = JSON.parse(text) as { units: Unit[] };
  return {
    resolvedSeq: units.find((u) => u.unit === "resolve")?.appliedSeq ?? 0,
    waiting: units.reduce((n, u) => n + u.lagEvents, 0),
  };
}

/** Polls until nothing waits or `limitSeconds` pass; returns the seconds it took, or null if it did not. */
export async function waitForDrain(
  url: string,
  adminToken: string,
  limitSeconds: number,
): Promise<number | null> {
  const started = performance.now();
  while ((performance.now() - started) / 1000 < limitSeconds) {
    if ((await readPipeline(url, adminToken)).waiting === 0) return (performance.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}
