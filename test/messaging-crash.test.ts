import { SMTPServer } from "smtp-server";
import { afterAll, describe, expect, it } from "vitest";
import { messageIdOf } from "../src/messaging/channels/smtp.ts";
import { adminCaller, connectEmbedded, lapTimer, until } from "./support/cli-server.ts";
import {
  cleanUpProcesses,
  createDataDir,
  readCredentials,
  startCli,
  track,
  withServer,
} from "./support/process.ts";
import { startSmtpServer, type ReceivedMail, type TestSmtpServer } from "./support/smtp.ts";

const PEOPLE = 3_000;
const BATCH = 500;
/** The dispatcher's lease in the server under test: how soon after the restart an in-flight send is retried. */
const LEASE_MS = 3_000;
/** The kill comes once this many mails have arrived, with most of the queue still to send. */
const KILL_AFTER = 600;
const JOURNEY = "receipt";

let smtp: TestSmtpServer | undefined;
afterAll(async () => {
  await cleanUpProcesses();
  await smtp?.close();
});

/**
 * When each mail arrived (ms since the epoch), index for index with `server.mails`. The test SMTP
 * server only keeps the mails; the arrival time is what tells a repeat after the restart from one
 * before the kill, so it is taken as each mail is recorded.
 */
function recordArrivals(server: TestSmtpServer): number[] {
  const arrivals: number[] = [];
  const push = server.mails.push.bind(server.mails);
  server.mails.push = (...mails: ReceivedMail[]) => {
    for (let i = 0; i < mails.length; i++) arrivals.push(Date.now());
    return push(...mails);
  };
  return arrivals;
}

/**
 * The test SMTP server, with its connection errors collected instead of thrown. A client killed in the
 * middle of a transaction resets its connections (ECONNRESET), which smtp-server emits as an `error`
 * event; test/support/smtp.ts has no listener for it, so it would be an uncaught exception in the test
 * run. A real MTA logs such a connection and carries on; this listener does the same.
 */
async function startSmtpServerKeepingErrors(errors: Error[]): Promise<TestSmtpServer> {
  const listen = Object.getOwnPropertyDescriptor(SMTPServer.prototype, "listen")!;
  Object.defineProperty(SMTPServer.prototype, "listen", {
    ...listen,
    value: function (this: SMTPServer, ...args: unknown[]) {
      this.on("error", (err: Error) => errors.push(err));
      return (listen.value as (...a: unknown[]) => unknown).apply(this, args);
    },
  });
  // startSmtpServer calls listen before its first await: the patch is undone before anything else runs.
  const starting = startSmtpServer();
  Object.defineProperty(SMTPServer.prototype, "listen", listen);
  return starting;
}

describe("kill -9 of the dispatcher mid-batch, while 3,000 receipts are going out by email", () => {
  it("after restart nothing is lost, each message is recorded sent once, and only a send in flight at the kill arrives again, with its Message-ID", async () => {
    const lap = lapTimer("messaging-crash");
    const connectionErrors: Error[] = [];
    smtp = await startSmtpServerKeepingErrors(connectionErrors);
    const arrivals = recordArrivals(smtp);
    const dataDir = await createDataDir();
    const args = ["--port", "0", "--data-dir", dataDir];
    const options = {
      env: {
        WAYMARK_MESSAGE_LEASE_MS: String(LEASE_MS),
        WAYMARK_LOG_LEVEL: "warn",
        // The SMTP server is on loopback, which the outbound guard refuses unless allowed.
        WAYMARK_OUTBOUND_ALLOW: "127.0.0.1",
      },
      timeoutMs: 60_000,
    };

    const first = await startCli(args, options);
    lap("first server up");
    const { writeKey, adminToken } = await readCredentials(dataDir);
    const call = adminCaller(first.url, adminToken, [200, 202]);
    await call("PUT", "/api/v1/channels/email", {
      provider: "smtp",
      host: smtp.host,
      port: smtp.port,
      secure: false,
      from: "Shop <shop@example.com>",
    });
    await call("PUT", "/api/v1/templates/receipt", {
      channel: "email",
      subject: "Receipt {{ event.properties.order }}",
      html: "<p>Thanks, {{ profile.traits.name }}: order {{ event.properties.order }} is on its way.</p>",
    });

    await call("PUT", `/api/v1/journeys/${JOURNEY}`, {
      key: JOURNEY,
      name: "Receipt",
      trigger: { event: "Order Placed" },
      steps: [{ id: "receipt", message: { channel: "email", template: "receipt", transactional: true } }],
    });
    await call("POST", `/api/v1/journeys/${JOURNEY}/publish`);

    // 3,000 people, each with an email address and an order, in batches of 500: 3,000 receipts.
    for (let b = 0; b < PEOPLE / BATCH; b++) {
      const batch = Array.from({ length: BATCH }, (_, n) => {
        const person = b * BATCH + n;
        return [
          {
            type: "identify",
            userId: `user-${person}`,
            traits: { email: `user-${person}@example.com`, name: `Person ${person}` },
            messageId: `identify-${person}`,
          },
          {
            type: "track",
            userId: `user-${person}`,
            event: "Order Placed",
            properties: { order: `A-${person}` },
            messageId: `order-${person}`,
          },
        ];
      }).flat();
      const res = await track(first.url, writeKey, "/v1/batch", { batch });
      expect(res.status).toBe(200);
    }
    lap(`6,000 events accepted, ${smtp.mails.length} mails arrived`);

    await until("mails to be arriving", 30_000, () => smtp!.mails.length >= KILL_AFTER, {
      progress: () => `received ${smtp!.mails.length}`,
      everyMs: 5,
    });
    const killedAt = Date.now();
    first.kill("SIGKILL");
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    lap(`killed with ${smtp.mails.length} mails received`);

    // What the crash left behind, read from the orphaned PostgreSQL (the next start shuts it down).
    const orphan = await connectEmbedded(dataDir);
    const atKill = await orphan.query<{ sent: string; queued: string; claimed: string; accepting: string }>(
      `SELECT count(*) FILTER (WHERE status = 'sent') AS sent,
              count(*) FILTER (WHERE status = 'queued') AS queued,
              count(*) FILTER (WHERE status = 'queued' AND attempts > 0) AS claimed,
              (SELECT count(*) FROM outbox WHERE kind = 'message' AND status = 'pending') AS accepting
       FROM messages`,
    );
    // Claimed (a send was started) and not recorded: these are the ones that may arrive twice.
    const inFlight = await orphan.query<{ idempotency_key: string; claimed_at: Date; lease_ends: Date }>(
      `SELECT idempotency_key, updated_at AS claimed_at, next_attempt_at AS lease_ends FROM messages
       WHERE status = 'queued' AND attempts > 0`,
    );
    await orphan.end();
    const left = atKill.rows[0]!;
    console.log(`[messaging-crash] at the kill: ${JSON.stringify(left)}`);
    // The scenario: sends were under way, some recorded as sent and many still to go.
    expect(Number(left.sent)).toBeGreaterThan(0);
    expect(Number(left.claimed)).toBeGreaterThan(0);
    expect(PEOPLE - Number(left.sent)).toBeGreaterThan(PEOPLE / 2);
    // Each was reserved for WAYMARK_MESSAGE_LEASE_MS from its claim.
    expect(new Set(inFlight.rows.map((r) => r.lease_ends.getTime() - r.claimed_at.getTime()))).toEqual(
      new Set([LEASE_MS]),
    );
    const mayRepeat = new Map(
      inFlight.rows.map((r) => [messageIdOf(r.idempotency_key), r.lease_ends.getTime()]),
    );

    // Every mail received until now came from the first server (late bytes of the kill included).
    const restartedAt = Date.now();
    const fromFirst = smtp.mails.length;

    await withServer(
      args,
      async (second) => {
        lap("second server up");
        const db = await connectEmbedded(dataDir);
        try {
          let progress = { sent: 0, ids: 0 };
          await until(
            "every message sent and every Message-ID received",
            60_000,
            async () => {
              const { rows } = await db.query<{ sent: string }>(
                "SELECT count(*) AS sent FROM messages WHERE status = 'sent'",
              );
              progress = {
                sent: Number(rows[0]!.sent),
                ids: new Set(smtp!.mails.map((m) => m.messageId)).size,
              };
              return progress.sent === PEOPLE && progress.ids === PEOPLE;
            },
            {
              progress: () =>
                `progress: ${JSON.stringify(progress)}; server stderr: ${second.stderr().slice(-2000)}`,
              everyMs: 100,
            },
          );
          lap("all sent and received");

          // One message per order, sent, to the person's address, with its Message-ID as the provider's id.
          const messages = await db.query<{
            idempotency_key: string;
            instance_id: string;
            status: string;
            provider_message_id: string | null;
            to_address: string | null;
            attempts: number;
            order: string;
          }>(
            `SELECT idempotency_key, instance_id, status, provider_message_id, to_address, attempts,
                    data -> 'event' -> 'properties' ->> 'order' AS order
             FROM messages`,
          );
          expect(messages.rows).toHaveLength(PEOPLE);
          expect(new Set(messages.rows.map((r) => r.order)).size).toBe(PEOPLE);
          expect(new Set(messages.rows.map((r) => r.instance_id)).size).toBe(PEOPLE);
          const odd = messages.rows.filter(
            (r) =>
              r.status !== "sent" ||
              r.provider_message_id !== messageIdOf(r.idempotency_key) ||
              r.to_address !== `user-${r.order.slice(2)}@example.com`,
          );
          expect(odd.slice(0, 5), `${odd.length} messages not sent as queued`).toEqual([]);

          // The outcome was recorded once: one Email Delivered event per message, and each instance's
          // timeline has its message queued once and sent once.
          const delivered = await db.query<{ message: string; n: string }>(
            `SELECT message -> 'properties' ->> 'messageId' AS message, count(*) AS n FROM events
             WHERE event = 'Email Delivered' GROUP BY 1`,
          );
          expect(delivered.rows).toHaveLength(PEOPLE);
          expect(delivered.rows.filter((r) => r.n !== "1")).toEqual([]);
          const timelines = await db.query<{ instance_id: string; queued: string; sent: string }>(
            `SELECT instance_id, count(*) FILTER (WHERE kind = 'message_queued') AS queued,
                    count(*) FILTER (WHERE kind = 'message_sent') AS sent
             FROM journey_audit GROUP BY instance_id`,
          );
          expect(timelines.rows).toHaveLength(PEOPLE);
          expect(timelines.rows.filter((r) => r.queued !== "1" || r.sent !== "1").slice(0, 5)).toEqual([]);

          // The SMTP server got every Message-ID, for the right person and order, and nothing else.
          const expected = new Map(messages.rows.map((r) => [messageIdOf(r.idempotency_key), r]));
          const byId = new Map<string, Array<{ mail: ReceivedMail; at: number }>>();
          smtp!.mails.forEach((mail, i) => {
            const id = mail.messageId ?? "(none)";
            byId.set(id, [...(byId.get(id) ?? []), { mail, at: arrivals[i]! }]);
          });
          expect([...byId.keys()].filter((id) => !expected.has(id))).toEqual([]);
          expect(byId.size).toBe(PEOPLE);
          const wrongMail = smtp!.mails.filter((m) => {
            const row = expected.get(m.messageId!)!;
            return m.to[0] !== row.to_address || m.subject !== `Receipt ${row.order}`;
          });
          expect(wrongMail.slice(0, 3).map((m) => m.messageId)).toEqual([]);

          // At least once: a Message-ID seen twice was in flight at the kill (claimed, received within
          // the lease before it, its outcome not committed), and its repeat came from the second server.
          const repeats = [...byId].filter(([, seen]) => seen.length > 1);
          console.log(
            `[messaging-crash] ${smtp!.mails.length} mails for ${byId.size} Message-IDs: ` +
              `${repeats.length} repeated (claimed and not recorded at the kill: ${mayRepeat.size}); ` +
              `${fromFirst} received from the first server; ` +
              `${connectionErrors.length} SMTP connections broken by the kill`,
          );
          const outOfWindow = repeats
            .map(([id, seen]) => ({
              id,
              times: seen.length,
              inFlightAtKill: mayRepeat.has(id),
              sinceKill: seen[0]!.at - killedAt,
              beforeRestart: seen[0]!.at <= restartedAt,
              repeatAfterRestart: seen[1]!.at >= restartedAt,
              repeatAfterLease: seen[1]!.at >= mayRepeat.get(id)!,
              sameMail:
                seen[1]!.mail.subject === seen[0]!.mail.subject &&
                seen[1]!.mail.to[0] === seen[0]!.mail.to[0],
            }))
            .filter(
              (r) =>
                r.times !== 2 ||
                !r.inFlightAtKill ||
                r.sinceKill < -LEASE_MS ||
                !r.beforeRestart ||
                !r.repeatAfterRestart ||
                !r.repeatAfterLease ||
                !r.sameMail,
            );
          expect(outOfWindow).toEqual([]);
          // Only what was in flight at the kill was claimed again: everything else went out once.
          const claimedAgain = messages.rows.filter((r) => r.attempts > 1);
          expect(
            claimedAgain.filter((r) => !mayRepeat.has(messageIdOf(r.idempotency_key))).slice(0, 5),
          ).toEqual([]);
        } finally {
          await db.end();
        }
      },
      options,
    );
    lap("second server stopped");
  }, 90_000);
});
