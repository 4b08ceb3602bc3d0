import { expect } from "vitest";

/** The JSON body of an answer, after expecting its status (the body is shown when the status is off). */
export async function json<T>(res: Response | Promise<Response>, status = 200): Promise<T> {
  const r = await res;
  const body = await r.text();
  expect(r.status, body).toBe(status);
  return JSON.parse(body) as T;
}

/** Request options for a JSON body: spread into fetch's init (`{ method: "PUT", ...jsonBody(x) }`). */
export function jsonBody(body: unknown): { headers: Record<string, string>; body: string } {
  return { headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}
