import type { Pool } from "pg";
import { NotFoundError, UnavailableError } from "../errors/index.ts";
import { waitForPipeline } from "../pipeline/index.ts";
import { lookupProfileId } from "../profiles/index.ts";

/** How long a send waits for the pipeline to apply the events accepted before it. */
export const SEND_PIPELINE_WAIT_MS = 5_000;

/**
 * The person a send (or a template preview) names. One not known yet may be in an event accepted a
 * moment before (an identify, then the send): the lookup waits for the pipeline to apply what the log held when the
 * send came, then looks again. NotFoundError when nobody has the id after that; UnavailableError
 * (503, retry) when the pipeline did not get there in SEND_PIPELINE_WAIT_MS.
 */
export async function lookupRecipient(pool: Pool, workspaceId: string, key: string): Promise<string> {
  try {
    return await lookupProfileId(pool, workspaceId, key);
  } catch (err) {
    if (!(err instanceof NotFoundError)) throw err;
    const wait = await waitForPipeline(pool, workspaceId, { timeoutMs: SEND_PIPELINE_WAIT_MS });
    if (!wait.waited) throw err;
    if (!wait.caughtUp)
      throw new UnavailableError(
        `${err.message} yet: ${wait.behind === 1 ? "1 event" : `${wait.behind} events`} accepted before ` +
          `this request ${wait.behind === 1 ? "is" : "are"} not applied yet ` +
          `(waited ${SEND_PIPELINE_WAIT_MS / 1000} s); retry`,
      );
    return lookupProfileId(pool, workspaceId, key);
  }
}
