import { expect } from "vitest";

/** The JSON body of an answer, after expecting its status (the body is shown when the status is off). */
export async function json<T>(res: Response | Promise<Response>, status = 200): Promise<T> {
  const r = await res;
  const body = await r.text();
  expect(r.status, body).toBe(status);
  return JSON.parse(body) as T;
}
