import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * Answers one request to a fake provider. `raw` is the whole request body as text; `failure` is the
 * status queued by failNext for this request, if any (the fake answers it in its provider's shape).
 */
export type FakeHandler = (
  req: http.IncomingMessage,
  raw: string,
  res: http.ServerResponse,
  failure: number | undefined,
) => void;

/** The plumbing of a fake provider (fake-fcm.ts, fake-twilio.ts): a real HTTP server on a local address. */
export interface FakeHttpServer {
  /** The origin, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every request, answered as the provider would or not. */
  readonly requests: number;
  readonly connections: number;
  /** Hands `status` as the failure of each of the next `times` requests. */
  failNext(status: number, times?: number): void;
  /** Forgets any failure queued. */
  clearFailures(): void;
  /** Closes the server and any connection still open. */
  close(): Promise<void>;
}

/** Starts a server on `host`, port 0, that reads each request's body and passes it to `handle`. */
export async function startFakeHttpServer(host: string, handle: FakeHandler): Promise<FakeHttpServer> {
  const failures: number[] = [];
  let requests = 0;
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      requests += 1;
      handle(req, Buffer.concat(chunks).toString("utf8"), res, failures.shift());
    });
  });
  server.on("connection", () => (connections += 1));
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    get requests() {
      return requests;
    },
    get connections() {
      return connections;
    },
    failNext(status, times = 1) {
      for (let i = 0; i < times; i++) failures.push(status);
    },
    clearFailures() {
      failures.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
