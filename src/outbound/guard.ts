import type { LookupAddress } from "node:dns";
import { isIP, type LookupFunction } from "node:net";
import { checkDestination, type AllowList } from "./core/address.ts";

/** Raised inside the connector when a resolved address is refused; turned into a `refused` result. */
export class RefusedDestinationError extends Error {
  readonly code = "WAYMARK_OUTBOUND_REFUSED";
}

/**
 * Wraps a resolver so every address it returns for a name passes `checkDestination` before the
 * socket connects to it. Checking here, at connect time, rather than resolving beforehand, means
 * the address judged is the address connected to: a name that resolves to a private address, or
 * re-resolves to one (DNS rebinding), is caught. One refused address refuses the whole name, so a
 * public address cannot smuggle in a private sibling for happy eyeballs to pick.
 */
export function guardLookup(allow: AllowList, resolve: LookupFunction): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, found, family) => {
      if (err) return callback(err, "");
      const addresses: LookupAddress[] = Array.isArray(found)
        ? found
        : [{ address: found, family: family ?? (isIP(found) || 4) }];
      if (addresses.length === 0) {
        return callback(
          Object.assign(new Error(`no address found for ${hostname}`), { code: "ENOTFOUND" }),
          "",
        );
      }
      for (const { address } of addresses) {
        const check = checkDestination(hostname, address, allow);
        if (!check.ok) return callback(new RefusedDestinationError(check.reason), "");
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
}

/** The first error in a chain (cause, AggregateError members) that satisfies `test`. */
export function findError(err: unknown, test: (e: Error) => boolean, depth = 0): Error | undefined {
  if (!(err instanceof Error) || depth > 5) return undefined;
  if (test(err)) return err;
  const nested = [err.cause, ...(err instanceof AggregateError ? err.errors : [])];
  for (const inner of nested) {
    const hit = findError(inner, test, depth + 1);
    if (hit) return hit;
  }
  return undefined;
}

export function errorCode(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}
