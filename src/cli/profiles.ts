import type { Command } from "commander";
import { migrate, type Pool } from "../db/index.ts";
import { NotFoundError, ValidationError } from "../errors/index.ts";
import { erasePerson, getProfile, lookupProfileId } from "../profiles/index.ts";
import { listWorkspaces } from "../workspaces/index.ts";
import { readConfig, type ConfigFlags } from "./config.ts";
import { openDatabase } from "./database.ts";
import { createLogger } from "./start.ts";

type Flags = ConfigFlags & { workspace?: string };

/**
 * `waymark profiles get|erase`: the same services as the admin API, run against the database
 * directly (DATABASE_URL, or the embedded one in the data dir).
 */
export function profileCommands(program: Command, withDataDirFlag: (cmd: Command) => Command): void {
  const profiles = program.command("profiles").description("read and erase profiles");
  const withWorkspace = (cmd: Command) =>
    withDataDirFlag(cmd).option(
      "--workspace <id|name>",
      "the workspace, by id or name (default: the only one)",
    );

  withWorkspace(
    profiles
      .command("get <key>")
      .description("print a profile as JSON, found by profile id, then email, then userId"),
  ).action((key: string, flags: Flags) =>
    withWorkspaceDb(flags, async (pool, workspaceId) => {
      const id = await lookupProfileId(pool, workspaceId, key);
      console.log(JSON.stringify(await getProfile(pool, workspaceId, id), null, 2));
    }),
  );

  withWorkspace(
    profiles
      .command("erase <id>")
      .description(
        "erase a person (profile id) with everything stored about them, suppress their identifiers, " +
          "and print the counts; running servers drop their events within a few seconds",
      ),
  ).action((id: string, flags: Flags) =>
    withWorkspaceDb(flags, async (pool, workspaceId) => {
      // A server's in-memory suppression list is not ours to invalidate: it refreshes on its own.
      const erasure = await erasePerson(pool, { invalidate: () => undefined }, workspaceId, id, new Date());
      console.log(JSON.stringify(erasure, null, 2));
    }),
  );
}

async function withWorkspaceDb(
  flags: Flags,
  fn: (pool: Pool, workspaceId: string) => Promise<void>,
): Promise<void> {
  const config = readConfig(flags);
  const db = await openDatabase(config, createLogger(config.logLevel), 2);
  try {
    await migrate(db.pool);
    await fn(db.pool, await chooseWorkspace(db.pool, flags.workspace));
  } finally {
    await db.close();
  }
}

async function chooseWorkspace(pool: Pool, wanted: string | undefined): Promise<string> {
  const all = await listWorkspaces(pool);
  if (wanted !== undefined) {
    const found = all.find((w) => w.id === wanted || w.name === wanted);
    if (!found) throw new NotFoundError(`no workspace ${wanted} (see \`waymark workspaces list\`)`);
    return found.id;
  }
  if (all.length === 1) return all[0]!.id;
  if (all.length === 0)
    throw new NotFoundError("no workspace yet: start the server or `waymark workspaces create`");
  throw new ValidationError(
    `${all.length} workspaces: name one with --workspace <id or name> (${all.map((w) => `${w.name}: ${w.id}`).join(", ")})`,
  );
}
