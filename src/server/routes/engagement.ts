import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { recordEngagement, tokenWorkspace, verifyToken, webhookSecretOf } from "../../messaging/index.ts";
import type { ServerDeps } from "../context.ts";

/** A transparent 1x1 GIF. */
const PIXEL = Buffer.from("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7", "base64");

/** The message id (and link) a signed token carries, or undefined when it is not one of ours. */
async function readToken(deps: ServerDeps, token: string) {
  const workspaceId = tokenWorkspace(token);
  if (!workspaceId || !z.uuid().safeParse(workspaceId).success) return undefined;
  const secret = await webhookSecretOf(deps.pool, workspaceId).catch(() => undefined);
  if (!secret) return undefined;
  const payload = verifyToken<{ w: string; m: string; u?: string }>(secret, token);
  return payload && typeof payload.m === "string" ? payload : undefined;
}

/**
 * Open pixel and click redirect of emails (public: the links travel in the email). The click's
 * target is inside the signed token, so the redirect cannot be pointed anywhere else.
 */
export async function engagementRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const hidden = { schema: { hide: true } };
  app.get<{ Params: { token: string } }>("/o/:token", hidden, async (req, reply) => {
    const payload = await readToken(deps, req.params.token);
    if (payload) await recordEngagement(deps.pool, payload.w, payload.m, { kind: "opened" }, now());
    // The pixel either way: a mail client shows no broken image, and a forged token learns nothing.
    return reply.header("cache-control", "no-store").type("image/gif").send(PIXEL);
  });
  app.get<{ Params: { token: string } }>("/c/:token", hidden, async (req, reply) => {
    const payload = await readToken(deps, req.params.token);
    if (!payload || typeof payload.u !== "string" || !/^https?:\/\//i.test(payload.u)) {
      return reply.code(404).type("text/plain").send("This link is not valid.");
    }
    await recordEngagement(deps.pool, payload.w, payload.m, { kind: "clicked", url: payload.u }, now());
    return reply.code(302).header("location", payload.u).send();
  });
}
