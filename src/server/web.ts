import fastifyStatic from "@fastify/static";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** Where `npm run build` (also run by `npm install`) puts the web app. */
export const DEFAULT_WEB_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../web/dist");

/** Paths that belong to the API or the tracking and link routes: never answered with the app. */
const NOT_THE_APP = /^\/(api|v1|c|o|p|u|metrics|health|ready)(\/|$|\?)/;

/**
 * Serves the web app: its files under `/`, and index.html for every other GET a browser makes for a
 * page (deep links such as /journeys/abandoned-cart), so the app's router takes over. Returns the
 * handler for paths nothing else answers.
 */
export async function webRoutes(
  app: FastifyInstance,
  webRoot: string,
): Promise<(req: FastifyRequest, reply: FastifyReply) => boolean> {
  const index = path.join(webRoot, "index.html");
  if (!existsSync(index)) {
    app.get("/", { schema: { hide: true } }, async (_req, reply) =>
      reply
        .code(503)
        .type("text/html; charset=utf-8")
        .send(
          "<!doctype html><title>Waymark</title><p>The web app is not built. Run <code>npm run build</code> " +
            "(<code>npm install</code> does it too) and restart the server. The API is at " +
            '<a href="/api/docs">/api/docs</a>.</p>',
        ),
    );
    return () => false;
  }
  const html = readFileSync(index);
  await app.register(fastifyStatic, {
    root: webRoot,
    prefix: "/",
    index: false,
    wildcard: false,
    // Built assets carry a content hash in their name: cache them for good.
    setHeaders(res, file) {
      if (file.includes(`${path.sep}assets${path.sep}`))
        res.header("cache-control", "public, max-age=31536000, immutable");
    },
  });
  const sendApp = (reply: FastifyReply) =>
    reply.code(200).type("text/html; charset=utf-8").header("cache-control", "no-cache").send(html);
  app.get("/", { schema: { hide: true } }, async (_req, reply) => sendApp(reply));
  return (req, reply) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    if (NOT_THE_APP.test(req.url) || req.url.startsWith("/assets/")) return false;
    if (!(req.headers.accept ?? "").includes("text/html")) return false;
    void sendApp(reply);
    return true;
  };
}
