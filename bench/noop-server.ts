import Fastify from "fastify";

/**
 * The second baseline: a bare Fastify server that parses the JSON body and answers `{}` (a GET too). What the
 * tracking API costs beyond this is Waymark's own work (validation, the write path, PostgreSQL).
 * Prints `listening on <url>` on stdout once ready; stops on SIGTERM.
 */
const app = Fastify({ logger: false, bodyLimit: 1024 * 1024 });
app.post("/*", async () => ({}));
app.get("/*", async () => ({}));
const url = await app.listen({ port: 0, host: "127.0.0.1" });
process.stdout.write(`listening on ${url}\n`);
process.on("SIGTERM", () => void app.close().then(() => process.exit(0)));
