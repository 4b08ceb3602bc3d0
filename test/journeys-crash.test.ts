import { afterAll, describe, expect, it } from "vitest";
import { adminCaller, connectEmbedded, lapTimer, until } from "./support/cli-server.ts";
import {
  cleanUpProcesses,
  createDataDir,
  readCredentials,
  startCli,
  track,
  withServer,
} from "./support/process.ts";
import { startReceiver, type Received, type Receiver } from "./support/receiver.ts";

const USERS = 10_000;
const BATCH = 500;
/** The outbox lease of the server under test: how soon after the restart an in-flight effect is retried. */
const LEASE_MS = 3_000;
const JOURNEY = "welcome";

let receiver: Receiver | undefined;
afterAll(async () => {
  await cleanUpProcesses();
  await receiver?.close();
});

/**
 * The wait after signing up. Entering 10,000 people takes the pipeline about 15 s on a 2-core machine,
 * so a shorter wait would see most of them finish before the last one enters; with 20 s every
 * instance is waiting when the timers start firing.
 */
const WAIT = "20s";

/** Signed up, wait, one webhook carrying the instance and the person, done. */
function welcomeJourney(hook: string) {
  return {
    key: JOURNEY,
    name: "Welcome",
    trigger: { event: "Signed Up" },
    steps: [
      { id: "pause", wait: { duration: WAIT } },
      {
        id: "hello",
        webhook: {
          url: `${hook}/hooks/welcome`,
          body: {
            instanceId: "{{ instance.id }}",
            profileId: "{{ profile.id }}",
            userId: "{{ event.userId }}",
          },
        },
      },
      { id: "done", exit: {} },
    ],
  };
}

const webhookId = (r: Received) => String(r.headers["webhook-id"]);

describe("kill -9 while 10,000 instances wait on timers that are firing", () => {
  it("after restart each advances exactly once, and every webhook id reaches the receiver", async () => {
    const lap = lapTimer("journeys-crash");
    receiver = await startReceiver("127.0.0.1");
    const dataDir = await createDataDir();
    const args = ["--port", "0", "--data-dir", dataDir];
    const options = {
      env: {
        WAYMARK_OUTBOUND_ALLOW: "127.0.0.1",
        WAYMARK_OUTBOX_LEASE_MS: String(LEASE_MS),
        WAYMARK_LOG_LEVEL: "warn",
      },
      timeoutMs: 60_000,
    };

    const first = await startCli(args, options);
    lap("first server up");
    const { writeKey, adminToken } = await readCredentials(dataDir);
    const call = adminCaller(first.url, adminToken);
    const put = await call("PUT", `/api/v1/journeys/${JOURNEY}`, welcomeJourney(receiver.url));
    expect(put.violations).toEqual([]);
    await call("POST", `/api/v1/journeys/${JOURNEY}/publish`);

    // 10,000 people sign up, in batches of 500, two requests at a time.
    const batches = Array.from({ length: USERS / BATCH }, (_, b) =>
      Array.from({ length: BATCH }, (_, n) => {
        const user = b * BATCH + n;
        return { type: "track", userId: `user-${user}`, event: "Signed Up", messageId: `signup-${user}` };
      }),
    );
    const sender = async () => {
      for (let batch = batches.shift(); batch; batch = batches.shift()) {
        const res = await track(first.url, writeKey, "/v1/batch", { batch });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { accepted: number }).accepted).toBe(BATCH);
      }
    };
    await Promise.all([sender(), sender()]);
    lap("10,000 events accepted");

    let stats: { totals?: Record<string, number> } = {};
    await until(
      "all 10,000 instances to enter",
      60_000,
      async () => {
        stats = await call("GET", `/api/v1/journeys/${JOURNEY}/stats`);
        return stats.totals?.entered === USERS;
      },
      { progress: () => `stats: ${JSON.stringify(stats.totals)}`, everyMs: 500 },
    );
    lap(`all entered (${JSON.stringify(stats.totals)})`);
    await until("the first webhooks", 30_000, () => receiver!.received.length >= 50, {
      progress: () => `received ${receiver!.received.length}`,
      everyMs: 10,
    });

    const killedAt = Date.now();
    first.kill("SIGKILL");
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    lap(`killed with ${receiver.received.length} webhook requests received`);

    // What the crash left behind, read from the orphaned PostgreSQL (the next start shuts it down).
    const orphan = await connectEmbedded(dataDir);
    const atKill = await orphan.query<{
      active: string;
      completed: string;
      pending: string;
      claimed: string;
    }>(
      `SELECT (SELECT count(*) FROM journey_instances WHERE status = 'active') AS active,
              (SELECT count(*) FROM journey_instances WHERE status = 'completed') AS completed,
              (SELECT count(*) FROM outbox WHERE status = 'pending') AS pending,
              (SELECT count(*) FROM outbox WHERE status = 'pending' AND attempts > 0) AS claimed`,
    );
    await orphan.end();
    console.log(`[journeys-crash] at the kill: ${JSON.stringify(atKill.rows[0])}`);
    // The scenario: timers were firing, some instances still waited and some effects were not sent yet.
    expect(Number(atKill.rows[0]!.active)).toBeGreaterThan(0);
    expect(Number(atKill.rows[0]!.completed)).toBeGreaterThan(0);

    // Every request received until now came from the first server (late bytes of the kill included).
    const restartedAt = Date.now();
    const fromFirst = receiver.received.length;

    await withServer(
      args,
      async (second) => {
        lap("second server up");
        const db = await connectEmbedded(dataDir);
        try {
          let progress = { active: 0, completed: 0, pending: 0, ids: 0 };
          await until(
            "every instance completed, every effect done and every webhook id received",
            45_000,
            async () => {
              const { rows } = await db.query<{ active: string; completed: string; pending: string }>(
                `SELECT (SELECT count(*) FROM journey_instances WHERE status = 'active') AS active,
                        (SELECT count(*) FROM journey_instances WHERE status = 'completed') AS completed,
                        (SELECT count(*) FROM outbox WHERE status = 'pending') AS pending`,
              );
              progress = {
                active: Number(rows[0]!.active),
                completed: Number(rows[0]!.completed),
                pending: Number(rows[0]!.pending),
                ids: new Set(receiver!.received.map(webhookId)).size,
              };
              return progress.completed === USERS && progress.pending === 0 && progress.ids === USERS;
            },
            {
              progress: () =>
                `progress: ${JSON.stringify(progress)}; server stderr: ${second.stderr().slice(-2000)}`,
              everyMs: 250,
            },
          );
          lap("all completed and delivered");

          // Exactly 10,000 instances, one per person, each completed.
          const instances = await db.query<{ status: string; n: string; people: string }>(
            "SELECT status, count(*) AS n, count(DISTINCT profile_id) AS people FROM journey_instances GROUP BY status",
          );
          expect(instances.rows).toEqual([{ status: "completed", n: String(USERS), people: String(USERS) }]);

          // Each advanced exactly once past its wait and queued its webhook once, which was sent once.
          const timelines = await db.query<{
            instance_id: string;
            waited: string;
            queued: string;
            sent: string;
          }>(
            `SELECT instance_id,
                    count(*) FILTER (WHERE kind = 'waited') AS waited,
                    count(*) FILTER (WHERE kind = 'webhook_queued') AS queued,
                    count(*) FILTER (WHERE kind = 'webhook_sent') AS sent
             FROM journey_audit GROUP BY instance_id`,
          );
          expect(timelines.rows).toHaveLength(USERS);
          const odd = timelines.rows.filter((r) => r.waited !== "1" || r.queued !== "1" || r.sent !== "1");
          expect(
            odd.slice(0, 5),
            `${odd.length} instances whose timeline is not one waited, queued, sent`,
          ).toEqual([]);

          // One outbox row per instance, done.
          const outbox = await db.query<{ key: string; instance_id: string; status: string }>(
            "SELECT key, instance_id, status FROM outbox",
          );
          expect(outbox.rows).toHaveLength(USERS);
          expect(new Set(outbox.rows.map((r) => r.instance_id)).size).toBe(USERS);
          expect(outbox.rows.filter((r) => r.status !== "done")).toEqual([]);

          // The receiver got every webhook id, with the body of its instance, and nothing else.
          const instanceOf = new Map(outbox.rows.map((r) => [r.key, r.instance_id]));
          const byId = new Map<string, Received[]>();
          for (const r of receiver!.received) byId.set(webhookId(r), [...(byId.get(webhookId(r)) ?? []), r]);
          expect([...byId.keys()].filter((id) => !instanceOf.has(id))).toEqual([]);
          expect(byId.size).toBe(USERS);
          const wrongBody = receiver!.received.filter(
            (r) => (r.body as { instanceId?: string }).instanceId !== instanceOf.get(webhookId(r)),
          );
          expect(wrongBody.slice(0, 3)).toEqual([]);
          const people = new Set(receiver!.received.map((r) => (r.body as { userId: string }).userId));
          expect(people.size).toBe(USERS);

          // At least once: an id seen twice was in flight at the kill (received in the lease before
          // it, its outcome not committed), and its repeat came after the restart with the same id.
          const repeats = [...byId].filter(([, seen]) => seen.length > 1);
          console.log(
            `[journeys-crash] ${receiver!.received.length} webhook requests for ${byId.size} ids: ` +
              `${repeats.length} repeated (in flight at the kill); ${fromFirst} received from the first server`,
          );
          const outOfWindow = repeats
            .map(([id, seen]) => ({
              id,
              times: seen.length,
              sinceKill: seen[0]!.at - killedAt,
              beforeRestart: seen[0]!.at <= restartedAt,
              repeatAfterRestart: seen[1]!.at >= restartedAt,
              sameBody: JSON.stringify(seen[1]!.body) === JSON.stringify(seen[0]!.body),
            }))
            .filter(
              (r) =>
                r.times !== 2 ||
                r.sinceKill < -LEASE_MS ||
                !r.beforeRestart ||
                !r.repeatAfterRestart ||
                !r.sameBody,
            );
          expect(outOfWindow).toEqual([]);
        } finally {
          await db.end();
        }
      },
      options,
    );
    lap("second server stopped");
  }, 120_000);
});
