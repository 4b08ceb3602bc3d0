import { connect, isIP, type LookupFunction, type Socket } from "node:net";
import { checkDestination, type AllowList } from "./core/address.ts";
import { RefusedDestinationError, errorCode, findError, guardLookup } from "./guard.ts";

/**
 * A guarded TCP connection, or why there is none. The kinds are those of an HTTP call that got no
 * response; `invalid_url` here means a host or port that cannot be connected to as given.
 */
export type ConnectResult =
  | { ok: true; socket: Socket }
  | { ok: false; kind: "refused" | "timeout" | "network" | "invalid_url"; reason: string };

export interface ConnectOptions {
  host: string;
  port: number;
  allow: AllowList;
  lookup: LookupFunction;
  timeoutMs: number;
}

/**
 * Opens a TCP connection for a protocol other than HTTP (SMTP) under the same destination guard as
 * outbound HTTP: an IP literal is checked before connecting, a host name on every address it resolves
 * to, at connect time, and the socket connects to the address that was checked (no second lookup a
 * rebinding name could answer differently). Resolves with the connected socket; failures are values.
 */
export function connectGuarded(o: ConnectOptions): Promise<ConnectResult> {
  const host = o.host.replace(/^\[(.*)\]$/, "$1");
  const where = `${o.host}:${o.port}`;
  if (host === "" || !Number.isInteger(o.port) || o.port < 1 || o.port > 65535) {
    return Promise.resolve({ ok: false, kind: "invalid_url", reason: `invalid destination ${where}` });
  }
  if (isIP(host)) {
    const check = checkDestination(host, host, o.allow);
    if (!check.ok) return Promise.resolve({ ok: false, kind: "refused", reason: check.reason });
  }
  return new Promise((resolve) => {
    const socket = connect({ host, port: o.port, lookup: guardLookup(o.allow, o.lookup) });
    const done = (result: ConnectResult) => {
      clearTimeout(timer);
      socket.removeListener("error", onError);
      if (!result.ok) socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(
      () =>
        done({
          ok: false,
          kind: "timeout",
          reason: `timeout: no connection to ${where} within ${o.timeoutMs} ms`,
        }),
      o.timeoutMs,
    );
    const onError = (err: Error) => {
      const refused = findError(err, (e) => e instanceof RefusedDestinationError);
      if (refused) return done({ ok: false, kind: "refused", reason: refused.message });
      const code = errorCode(err);
      const detail = code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
      done({ ok: false, kind: "network", reason: `network error reaching ${where}: ${detail}` });
    };
    socket.once("error", onError);
    socket.once("connect", () => done({ ok: true, socket }));
  });
}
