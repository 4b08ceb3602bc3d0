import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";

/**
 * The messaging benchmarks' receivers, in a process of their own (started by messaging-receivers.ts
 * with an IPC channel), so that what receiving costs is not charged to the benchmark process that
 * sends the load: a webhook receiver (node:http on 127.0.0.1, answers 200 `{}` at once) and an SMTP
 * server (smtp-server, no TLS, no AUTH, no mailparser: it reads the header block for the Subject and
 * throws the rest of the message away, as cheap as an SMTP receiver gets).
 *
 * Each arrival is keyed (a webhook by its JSON body's `seq`, a mail by its Subject) and timed with
 * `performance.timeOrigin + performance.now()`: epoch milliseconds, the clock the benchmark process
 * reads the same way. Prints `http <url>` and `smtp <port>` on stdout once both listen; exits when the
 * benchmark goes away (its IPC channel closes), whichever way it went.
 */

interface Tally {
  /** First arrival by key, epoch ms. */
  arrived: Map<string, number>;
  repeats: number;
  /** Arrivals without a key (not the benchmark's). */
  unkeyed: number;
  first: number;
  last: number;
}

const tally = (): Tally => ({ arrived: new Map(), repeats: 0, unkeyed: 0, first: NaN, last: NaN });
const tallies = { http: tally(), smtp: tally() };
const clock = () => performance.timeOrigin + performance.now();

function note(t: Tally, key: string | undefined): void {
  const at = clock();
  if (Number.isNaN(t.first)) t.first = at;
  t.last = at;
  if (key === undefined) t.unkeyed++;
  else if (t.arrived.has(key)) t.repeats++;
  else t.arrived.set(key, at);
}

const web = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    let key: string | undefined;
    try {
      const seq = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { seq?: unknown }).seq;
      if (typeof seq === "string" || typeof seq === "number") key = String(seq);
    } catch {
      // not one of ours
    }
    note(tallies.http, key);
    res.writeHead(200, { "content-type": "application/json" }).end("{}");
  });
});
web.keepAliveTimeout = 120_000;

/** The Subject header of a raw header block (unfolded), if any. */
function subjectOf(head: string): string | undefined {
  const m = /^subject:[ \t]*(.*(?:\r\n[ \t].*)*)/im.exec(head);
  return m ? m[1]!.replace(/\r\n[ \t]+/g, " ").trim() : undefined;
}

const smtp = new SMTPServer({
  logger: false,
  disabledCommands: ["STARTTLS", "AUTH"],
  authOptional: true,
  disableReverseLookup: true,
  closeTimeout: 1_000,
  onData(stream, _session, callback) {
    let head = "";
    let done = false;
    stream.on("data", (c: Buffer) => {
      if (done) return;
      head += c.toString("latin1");
      const end = head.indexOf("\r\n\r\n");
      if (end >= 0) {
        head = head.slice(0, end);
        done = true;
      } else if (head.length > 64 * 1024) done = true;
    });
    stream.on("end", () => {
      note(tallies.smtp, subjectOf(head));
      callback();
    });
  },
});
// A client that resets its connection (a process stopped mid-conversation) is not our failure.
smtp.on("error", () => undefined);

/** What the benchmark asks over IPC. */
type Request =
  | { id: number; cmd: "reset" }
  | { id: number; cmd: "stats" }
  | { id: number; cmd: "arrivals"; receiver: "http" | "smtp"; prefix: string };

process.on("message", (raw) => {
  const req = raw as Request;
  const reply = (body: unknown) => process.send?.({ id: req.id, body });
  switch (req.cmd) {
    case "reset":
      tallies.http = tally();
      tallies.smtp = tally();
      return reply({});
    case "stats": {
      const view = (t: Tally) => ({
        keyed: t.arrived.size,
        repeats: t.repeats,
        unkeyed: t.unkeyed,
        first: t.first,
        last: t.last,
      });
      return reply({ http: view(tallies.http), smtp: view(tallies.smtp) });
    }
    case "arrivals": {
      const list: Array<[string, number]> = [];
      for (const [key, at] of tallies[req.receiver].arrived)
        if (key.startsWith(req.prefix)) list.push([key, at]);
      return reply(list);
    }
    default: {
      const never: never = req;
      throw new Error(`unknown request ${JSON.stringify(never)}`);
    }
  }
});
process.on("disconnect", () => process.exit(0));

await new Promise<void>((resolve) => web.listen(0, "127.0.0.1", resolve));
await new Promise<void>((resolve) => smtp.listen(0, "127.0.0.1", () => resolve()));
const webPort = (web.address() as AddressInfo).port;
const smtpPort = (smtp.server.address() as AddressInfo).port;
process.stdout.write(`http http://127.0.0.1:${webPort}\nsmtp ${smtpPort}\n`);
