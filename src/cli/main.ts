import os from "node:os";
import { Command } from "commander";
import { migrate, type Pool } from "../db/index.ts";
import { createWorkspace, listWorkspaces } from "../workspaces/index.ts";
import { readConfig, type ConfigFlags } from "./config.ts";
import { openDatabase } from "./database.ts";
import { journeyCommands } from "./journeys.ts";
import { profileCommands } from "./profiles.ts";
import { createLogger, startServer } from "./start.ts";
import { tableCommands } from "./tables.ts";

const program = new Command("waymark").description(
  "Customer journey orchestration: Segment-compatible event collection, profiles and journeys.",
);

/** The flag of every command that opens the database: where it lives. */
const withDataDirFlag = (cmd: Command) =>
  cmd.option(
    "--data-dir <dir>",
    "where the embedded PostgreSQL and credentials.json live (env WAYMARK_DATA_DIR, default ./.waymark)",
  );

withDataDirFlag(
  program
    .command("start")
    .description("start the server (and the embedded PostgreSQL unless DATABASE_URL is set)"),
)
  .option("--port <port>", "HTTP port (env WAYMARK_PORT, default 8080)")
  .option("--host <host>", "address to listen on (env WAYMARK_HOST, default 127.0.0.1)")
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

/**
 * Runs a one-shot command on the database. A SIGINT or SIGTERM meanwhile lets it finish and close the
 * database before exiting with the signal's code: an embedded PostgreSQL it started runs in its own
 * process group and would otherwise outlive it. The command takes a second or two; a second signal
 * exits at once.
 */
async function onDatabase(flags: ConfigFlags, run: (pool: Pool) => Promise<void>): Promise<void> {
  let signals = 0;
  const interrupted = (signal: NodeJS.Signals) => {
    process.exitCode = 128 + os.constants.signals[signal];
    if (++signals > 1) process.exit();
  };
  process.on("SIGINT", interrupted).on("SIGTERM", interrupted);
  const config = readConfig(flags);
  const db = await openDatabase(config, createLogger(config.logLevel), 2);
  try {
    await run(db.pool);
  } finally {
    await db.close();
  }
}

withDataDirFlag(program.command("migrate").description("apply pending database migrations and exit")).action(
  (flags: ConfigFlags) =>
    onDatabase(flags, async (pool) => {
      const applied = await migrate(pool);
      console.log(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
    }),
);

const workspaces = program.command("workspaces").description("manage workspaces");
withDataDirFlag(
  workspaces.command("create <name>").description("create a workspace and print its keys"),
).action((name: string, flags: ConfigFlags) =>
  onDatabase(flags, async (pool) => {
    await migrate(pool);
    const keys = await createWorkspace(pool, name);
    console.log(JSON.stringify(keys, null, 2));
  }),
);
withDataDirFlag(workspaces.command("list").description("list workspaces and their write keys")).action(
  (flags: ConfigFlags) =>
    onDatabase(flags, async (pool) => {
      await migrate(pool);
      for (const w of await listWorkspaces(pool)) console.log(`${w.id}  ${w.name}  writeKey=${w.writeKey}`);
    }),
);

profileCommands(program, withDataDirFlag);
journeyCommands(program);
tableCommands(program);

program.parseAsync().catch((err: Error) => {
  console.error(`waymark: ${err.message}`);
  process.exit(1);
});
