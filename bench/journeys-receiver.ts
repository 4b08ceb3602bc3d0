import http from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A webhook receiver on 127.0.0.1 in the benchmark process: answers 200 at once and notes, by the
 * `seq` field of each JSON body, when it arrived (performance.now(), the clock the sender uses).
 */
export interface Receiver {
  url: string;
  /** Arrival time by seq (the first arrival; repeats are counted apart). */
  arrived: Map<string, number>;
  repeats: number;
  requests: number;
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const arrived = new Map<string, number>();
  const r = { repeats: 0, requests: 0 };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = performance.now();
      r.requests++;
      try {
        const seq = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { seq?: unknown }).seq;
        if (typeof seq === "string" || typeof seq === "number") {
          if (arrived.has(String(seq))) r.repeats++;
          else arrived.set(String(seq), at);
        }
      } catch {
        // not one of ours
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    arrived,
    get repeats() {
      return r.repeats;
    },
    get requests() {
      return r.requests;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
