import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * The benchmark's side of messaging-receiver-process.ts: starts it (node bin/tsx.js, an IPC channel),
 * asks it for its tallies, stops it. The child exits by itself when this process goes away, so a
 * Ctrl-C or a crash of the benchmark does not leave it running.
 */

const ROOT = fileURLToPath(new URL("..", import.meta.url));

export interface TallyView {
  /** Distinct keys received. */
  keyed: number;
  /** Arrivals of a key already received. */
  repeats: number;
  unkeyed: number;
  /** First and last arrival, epoch ms (NaN before any). */
  first: number;
  last: number;
}

export interface Receivers {
  pid: number;
  /** Base URL of the webhook receiver, http://127.0.0.1:<port>. */
  httpUrl: string;
  smtpPort: number;
  reset(): Promise<void>;
  stats(): Promise<{ http: TallyView; smtp: TallyView }>;
  /** Arrival time (epoch ms) by key, for keys starting with `prefix`. */
  arrivals(receiver: "http" | "smtp", prefix: string): Promise<Map<string, number>>;
  close(): Promise<void>;
}

export async function startReceivers(timeoutMs = 30_000): Promise<Receivers> {
  const child: ChildProcess = spawn(process.execPath, ["bin/tsx.js", "bench/messaging-receiver-process.ts"], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe", "ipc"],
  });
  let stderr = "";
  child.stderr!.on("data", (c: Buffer) => (stderr = (stderr + c.toString("utf8")).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const { httpUrl, smtpPort } = await new Promise<{ httpUrl: string; smtpPort: number }>(
    (resolve, reject) => {
      let out = "";
      const timer = setTimeout(
        () => reject(new Error(`receivers not up within ${timeoutMs} ms: ${stderr}`)),
        timeoutMs,
      );
      child.stdout!.on("data", (c: Buffer) => {
        out += c.toString("utf8");
        const h = /^http (\S+)$/m.exec(out);
        const s = /^smtp (\d+)$/m.exec(out);
        if (h && s) {
          clearTimeout(timer);
          resolve({ httpUrl: h[1]!, smtpPort: Number(s[1]) });
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`receivers exited (code ${code}): ${stderr}`));
      });
    },
  );

  let nextId = 0;
  const pending = new Map<number, (body: unknown) => void>();
  child.on("message", (raw) => {
    const { id, body } = raw as { id: number; body: unknown };
    pending.get(id)?.(body);
    pending.delete(id);
  });
  const ask = <T>(req: Record<string, unknown>): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = nextId++;
      pending.set(id, (body) => resolve(body as T));
      child.send({ ...req, id }, (err) => {
        if (err) {
          pending.delete(id);
          reject(err);
        }
      });
    });

  return {
    pid: child.pid!,
    httpUrl,
    smtpPort,
    reset: () => ask<void>({ cmd: "reset" }),
    stats: () => ask({ cmd: "stats" }),
    arrivals: async (receiver, prefix) =>
      new Map(await ask<Array<[string, number]>>({ cmd: "arrivals", receiver, prefix })),
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.disconnect();
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
