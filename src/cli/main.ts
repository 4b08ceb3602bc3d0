import { Command } from "commander";
import { migrate } from "../db/index.ts";
import { createWorkspace, listWorkspaces } from "../workspaces/index.ts";
import { readConfig, type ConfigFlags } from "./config.ts";
import { openDatabase } from "./database.ts";
import { createLogger, startServer } from "./start.ts";

const program = new Command("waymark").description(
  "Customer journey orchestration: Segment-compatible event collection, profiles and journeys.",
);

const withServerFlags = (cmd: Command) =>
  cmd
    .option("--port <port>", "HTTP port (env WAYMARK_PORT, default 8080)")
    .option("--host <host>", "address to listen on (env WAYMARK_HOST, default 127.0.0.1)")
    .option(
      "--data-dir <dir>",
      "where the embedded PostgreSQL and credentials.json live (env WAYMARK_DATA_DIR, default ./.waymark)",
    );

withServerFlags(
  program
    .command("start")
    .description("start the server (and the embedded PostgreSQL unless DATABASE_URL is set)"),
)
  .option("--role <role>", "all | api | worker (env WAYMARK_ROLE, default all)")
  .action(async (flags: ConfigFlags) => {
    const config = readConfig(flags);
    const log = createLogger(config.logLevel);
    // Signals are handled from the first moment, not once started: the embedded PostgreSQL runs in
    // its own process group, so a SIGTERM or Ctrl-C that killed us during start (initdb, migrations)
    // left it running. A signal during start stops the server as soon as it is up.
    const starting = startServer(config, log);
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info({ signal }, "shutting down");
      // The promise: exit within 10 s even if something hangs.
      setTimeout(() => {
        log.error("shutdown took over 9 s; exiting");
        process.exit(1);
      }, 9_000).unref();
      starting
        .then((server) => server.stop())
        .then(
          () => process.exit(0),
          (err) => {
            log.error({ err }, "shutdown failed");
            process.exit(1);
          },
        );
    };
    process.on("SIGTERM", () => shutdown("SIGTERM"));
    process.on("SIGINT", () => shutdown("SIGINT"));
    await starting;
  });

withServerFlags(program.command("migrate").description("apply pending database migrations and exit")).action(
  async (flags: ConfigFlags) => {
    const config = readConfig(flags);
    const db = await openDatabase(config, createLogger(config.logLevel), 2);
    try {
      const applied = await migrate(db.pool);
      console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
    } finally {
      await db.close();
    }
  },
);

const workspaces = program.command("workspaces").description("manage workspaces");
withServerFlags(
  workspaces.command("create <name>").description("create a workspace and print its keys"),
).action(async (name: string, flags: ConfigFlags) => {
  const config = readConfig(flags);
  const db = await openDatabase(config, createLogger(config.logLevel), 2);
  try {
    await migrate(db.pool);
    const keys = await createWorkspace(db.pool, name);
    console.log(JSON.stringify(keys, null, 2));
  } finally {
    await db.close();
  }
});
withServerFlags(workspaces.command("list").description("list workspaces and their write keys")).action(
  async (flags: ConfigFlags) => {
    const config = readConfig(flags);
    const db = await openDatabase(config, createLogger(config.logLevel), 2);
    try {
      await migrate(db.pool);
      for (const w of await listWorkspaces(db.pool))
        console.log(`${w.id}  ${w.name}  writeKey=${w.writeKey}`);
    } finally {
      await db.close();
    }
  },
);

program.parseAsync().catch((err: Error) => {
  console.error(`waymark: ${err.message}`);
  process.exit(1);
});
