import type { AddressInfo } from "node:net";
import { simpleParser, type AddressObject } from "mailparser";
import { SMTPServer } from "smtp-server";

/** One mail the server accepted, parsed. */
export interface ReceivedMail {
  /** The SMTP envelope. */
  envelope: { from: string; to: string[] };
  subject: string | undefined;
  /** The From header's first address. */
  from: { name: string; address: string } | undefined;
  /** The To header's addresses. */
  to: string[];
  html: string | undefined;
  text: string | undefined;
  /** Header values by lower-case name, as sent (unfolded; the last one of a repeated header). */
  headers: Record<string, string>;
  /** The Message-ID header, with its angle brackets. */
  messageId: string | undefined;
}

/** A real SMTP server on loopback (smtp-server, parsed with mailparser) that records what it gets. */
export interface TestSmtpServer {
  host: string;
  port: number;
  /** Accepted mails, in order. */
  mails: ReceivedMail[];
  /** Connections opened to it. */
  connections: number;
  /**
   * Answers RCPT TO for this address with `code` (550: no such mailbox, a bounce; 451: try later).
   * `undefined` accepts it again.
   */
  reject(address: string, code: 550 | 551 | 553 | 451 | 452 | undefined): void;
  /** Resolves when `n` mails have arrived (fails after `ms`). */
  waitFor(n: number, ms?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  const list = field === undefined ? [] : Array.isArray(field) ? field : [field];
  return list.flatMap((a) => a.value.map((v) => v.address ?? ""));
}

/**
 * Starts the server on a random port of `host` (default 127.0.0.1; a loopback address only). `auth`
 * makes it require SMTP AUTH with that user and password (in the clear: the test has no TLS
 * certificate; the wire never leaves the machine).
 */
export async function startSmtpServer(
  options: { auth?: { user: string; pass: string }; host?: string } = {},
): Promise<TestSmtpServer> {
  const host = options.host ?? "127.0.0.1";
  if (!host.startsWith("127.")) throw new Error(`the test SMTP server listens on loopback only, not ${host}`);
  const mails: ReceivedMail[] = [];
  const rejections = new Map<string, number>();
  let connections = 0;
  const server = new SMTPServer({
    logger: false,
    // Clients still connected when the test closes the server are cut off after this.
    closeTimeout: 1_000,
    disabledCommands: ["STARTTLS", ...(options.auth ? [] : ["AUTH"])],
    authOptional: !options.auth,
    allowInsecureAuth: true,
    onConnect(_session, callback) {
      connections += 1;
      callback();
    },
    onAuth(auth, _session, callback) {
      if (options.auth && auth.username === options.auth.user && auth.password === options.auth.pass) {
        return callback(null, { user: auth.username });
      }
      callback(Object.assign(new Error("Invalid username or password"), { responseCode: 535 }));
    },
    onRcptTo(address, _session, callback) {
      const code = rejections.get(address.address.toLowerCase());
      if (code === undefined) return callback();
      const text = code >= 500 ? "No such user here" : "Mailbox temporarily unavailable, try again later";
      callback(Object.assign(new Error(text), { responseCode: code }));
    },
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          const headers: Record<string, string> = {};
          for (const { key, line } of parsed.headerLines) {
            headers[key.toLowerCase()] = line
              .slice(line.indexOf(":") + 1)
              .replace(/\r?\n[ \t]+/g, " ")
              .trim();
          }
          const from = parsed.from?.value[0];
          mails.push({
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            subject: parsed.subject,
            from: from ? { name: from.name, address: from.address ?? "" } : undefined,
            to: addresses(parsed.to),
            html: parsed.html === false ? undefined : parsed.html,
            text: parsed.text,
            headers,
            messageId: parsed.messageId,
          });
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  const { port } = server.server.address() as AddressInfo;
  return {
    host,
    port,
    mails,
    get connections() {
      return connections;
    },
    reject(address, code) {
      if (code === undefined) rejections.delete(address.toLowerCase());
      else rejections.set(address.toLowerCase(), code);
    },
    async waitFor(n, ms = 5_000) {
      const until = Date.now() + ms;
      while (mails.length < n) {
        if (Date.now() > until) throw new Error(`smtp server got ${mails.length} of ${n} mails in ${ms} ms`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return mails;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
