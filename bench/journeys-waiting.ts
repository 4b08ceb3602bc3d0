import path from "node:path";
import type pg from "pg";
import { anonymousPeople, cloneInstances, WAIT_JOURNEY, type Templates } from "./journeys-data.ts";
import { readRssMb, watchUsage, type Usage } from "./proc-stats.ts";
import { startWaymarkWorker, stopChild, type WaymarkServer } from "./processes.ts";

/**
 * A million waiting instances (issue 5, benchmark 2): what they take on disk, and what a worker
 * process (`waymark start --role worker`: the event pipeline, the timer loop, the outbox dispatcher
 * and the scheduler) holds in memory after running its loops beside them. The baseline is the same
 * worker, for as long, on the same database before the instances were added.
 */

export interface JourneySession {
  server: WaymarkServer;
  db: pg.Client;
  workspaceId: string;
  templates: Templates;
  /** A folder of the run's own, for the workers' data dirs. */
  tmp: string;
  nodeArgs: string[];
  log: (line: string) => void;
}

export interface WorkerRun {
  /** Instances in journey_instances while it ran. */
  instances: number;
  seconds: number;
  /** VmRSS once its banner was printed, at the end, and the highest seen (sampled every second). */
  rssStartMb: number;
  rssEndMb: number;
  usage: Usage;
}

export interface WaitingResult {
  instances: number;
  insertSeconds: number;
  settleSeconds: number;
  /** pg_total_relation_size and its parts, bytes. */
  disk: {
    total: number;
    heap: number;
    toast: number;
    indexes: number;
    byIndex: Array<{ name: string; bytes: number }>;
  };
  /** Rows in the table when measured (the clones, the templates and nothing else yet). */
  rows: number;
  /** The baseline of the disk: one instance as JSON text (row_to_json), its state jsonb as stored (pg_column_size). */
  jsonBytes: number;
  stateStoredBytes: number;
  idle: WorkerRun;
  loaded: WorkerRun;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitingScenario(
  s: JourneySession,
  o: { instances: number; workerSeconds: number },
): Promise<WaitingResult> {
  s.log(`waiting: the worker on the database without them, ${o.workerSeconds} s`);
  const idle = await runWorker(s, "worker-idle", o.workerSeconds);

  s.log(`waiting: cloning ${o.instances.toLocaleString("en-US")} instances of ${WAIT_JOURNEY} with SQL`);
  let lastLog = performance.now();
  const insertSeconds = await cloneInstances(s.db, {
    template: s.templates[WAIT_JOURNEY]!,
    journey: WAIT_JOURNEY,
    count: o.instances,
    people: anonymousPeople,
    // Entered within the last day, so due within the 30th day from now: all far in the future.
    times: `SELECT now() - make_interval(secs => g % 86400) AS entered_at,
                   now() - make_interval(secs => g % 86400) + interval '30 days' AS due_at`,
    onProgress: (done) => {
      if (performance.now() - lastLog < 10_000) return;
      lastLog = performance.now();
      s.log(`  ${done.toLocaleString("en-US")} instances`);
    },
  });
  s.log(`waiting: inserted in ${insertSeconds.toFixed(1)} s; vacuum (analyze) and checkpoint`);
  const settleStarted = performance.now();
  await s.db.query("VACUUM (ANALYZE) journey_instances");
  await s.db.query("CHECKPOINT");
  const settleSeconds = (performance.now() - settleStarted) / 1000;

  const { rows: size } = await s.db.query<{
    total: number;
    heap: number;
    table: number;
    indexes: number;
    rows: number;
  }>(
    `SELECT pg_total_relation_size('journey_instances')::float8 AS total,
            pg_relation_size('journey_instances')::float8 AS heap,
            pg_table_size('journey_instances')::float8 AS table,
            pg_indexes_size('journey_instances')::float8 AS indexes,
            (SELECT count(*) FROM journey_instances)::float8 AS rows`,
  );
  const { rows: indexes } = await s.db.query<{ name: string; bytes: number }>(
    `SELECT c.relname AS name, pg_relation_size(c.oid)::float8 AS bytes
     FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
     WHERE x.indrelid = 'journey_instances'::regclass ORDER BY bytes DESC`,
  );
  const { rows: json } = await s.db.query<{ json: number; state: number }>(
    `SELECT avg(octet_length(row_to_json(i)::text))::float8 AS json, avg(pg_column_size(i.state))::float8 AS state
     FROM (SELECT * FROM journey_instances WHERE journey_key = $1 LIMIT 10000) i`,
    [WAIT_JOURNEY],
  );
  const z = size[0]!;

  s.log(`waiting: the worker beside ${z.rows.toLocaleString("en-US")} instances, ${o.workerSeconds} s`);
  const loaded = await runWorker(s, "worker-loaded", o.workerSeconds);
  return {
    instances: o.instances,
    insertSeconds,
    settleSeconds,
    disk: {
      total: z.total,
      heap: z.heap,
      toast: z.table - z.heap,
      indexes: z.indexes,
      byIndex: indexes,
    },
    rows: z.rows,
    jsonBytes: json[0]!.json,
    stateStoredBytes: json[0]!.state,
    idle,
    loaded,
  };
}

/** A `--role worker` process on the server's database for `seconds`, then stopped. */
async function runWorker(s: JourneySession, name: string, seconds: number): Promise<WorkerRun> {
  const { rows } = await s.db.query<{ n: number }>("SELECT count(*)::float8 AS n FROM journey_instances");
  const worker = await startWaymarkWorker(path.join(s.tmp, name), s.server.databaseUrl, {
    nodeArgs: s.nodeArgs,
  });
  try {
    const rssStartMb = readRssMb(worker.pid);
    const watch = watchUsage({ serverPid: worker.pid, postmasterPid: s.server.postmasterPid }, 1000);
    const started = performance.now();
    await sleep(seconds * 1000);
    const rssEndMb = readRssMb(worker.pid);
    const usage = watch.stop();
    return {
      instances: rows[0]!.n,
      seconds: (performance.now() - started) / 1000,
      rssStartMb,
      rssEndMb,
      usage,
    };
  } finally {
    await stopChild(worker.pid);
  }
}
