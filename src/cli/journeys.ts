import path from "node:path";
import type { Command } from "commander";
import YAML from "yaml";
import { validateJourney } from "../journeys/index.ts";
import {
  ApiClient,
  ApiError,
  cell,
  printJson,
  printTable,
  withApiFlags,
  type ApiFlags,
} from "./api-client.ts";
import { parseJsonFile, readInputFile } from "./input-file.ts";

/** One rule a definition breaks, as the API and validateJourney report it. */
interface Violation {
  path: string;
  message: string;
}

interface JourneySummary {
  key: string;
  name: string;
  status: string;
  draftVersion?: number | null;
  publishedVersion?: number | null;
  live?: number;
}

type FileFlags = ApiFlags & { file?: string };

/**
 * `waymark journeys ...`: `validate` checks a definition file locally; every other command goes
 * through the admin API (WAYMARK_URL and WAYMARK_TOKEN, or credentials.json in the data dir).
 */
export function journeyCommands(program: Command): void {
  const journeys = program
    .command("journeys")
    .description("validate, apply and publish journey definitions (YAML or JSON); inspect journeys");

  journeys
    .command("validate")
    .description("check a definition file without a server; prints each violation and exits 1 if any")
    .requiredOption("-f, --file <file>", "the definition (.yaml, .yml or .json)")
    .option("--json", "print { violations } as JSON")
    .action(async (flags: FileFlags) => {
      const definition = await readDefinition(flags.file!);
      const violations = validateJourney(definition);
      if (flags.json) printJson({ violations });
      else if (violations.length === 0) console.log(`${flags.file}: valid`);
      else printViolations(violations);
      if (violations.length > 0) process.exitCode = 1;
    });

  withApiFlags(
    journeys
      .command("apply")
      .description("save a definition file as the journey's draft (a draft with violations is saved too)")
      .requiredOption("-f, --file <file>", "the definition (.yaml, .yml or .json)"),
  ).action(async (flags: FileFlags) => {
    const api = await ApiClient.fromFlags(flags);
    const saved = await applyFile(api, flags.file!);
    if (flags.json) return printJson(saved);
    printSaved(saved);
  });

  withApiFlags(
    journeys
      .command("publish [key]")
      .description("publish the journey's draft as a new version; with -f, apply the file first")
      .option("-f, --file <file>", "a definition to apply, then publish"),
  ).action(async (key: string | undefined, flags: FileFlags) => {
    if ((key === undefined) === (flags.file === undefined)) {
      throw new Error(
        "name the journey to publish: `journeys publish <key>` or `journeys publish -f <file>`",
      );
    }
    const api = await ApiClient.fromFlags(flags);
    if (flags.file) {
      const saved = await applyFile(api, flags.file);
      if (saved.violations.length > 0) {
        if (flags.json) printJson(saved);
        else printSaved(saved);
        throw new Error(`${saved.journey.key} was not published: fix the violations above and publish again`);
      }
      key = saved.journey.key;
    }
    let published: { journey: JourneySummary; version: unknown; unchanged?: boolean };
    try {
      published = await api.request("POST", `/api/v1/journeys/${enc(key!)}/publish`, { json: {} });
    } catch (err) {
      // 422: the draft breaks rules; the answer lists them.
      if (err instanceof ApiError && Array.isArray(err.body.violations)) {
        if (flags.json) printJson(err.body);
        else printViolations(err.body.violations as Violation[]);
      }
      throw err;
    }
    if (flags.json) return printJson(published);
    console.log(
      published.unchanged
        ? `${published.journey.key}: unchanged; version ${versionNumber(published.version)} stays published`
        : `${published.journey.key}: published version ${versionNumber(published.version)}`,
    );
  });

  withApiFlags(journeys.command("list").description("the workspace's journeys")).action(
    async (flags: ApiFlags) => {
      const api = await ApiClient.fromFlags(flags);
      const { items } = await api.request<{ items: JourneySummary[] }>("GET", "/api/v1/journeys");
      if (flags.json) return printJson({ items });
      if (items.length === 0)
        return console.log("no journeys yet: `waymark journeys apply -f <file>` adds one");
      // `live` (running instances) when the API reports it.
      const live = items.some((j) => j.live !== undefined);
      printTable(
        ["KEY", "NAME", "STATUS", "PUBLISHED", ...(live ? ["LIVE"] : [])],
        items.map((j) => [
          j.key,
          j.name,
          j.status,
          cell(j.publishedVersion),
          ...(live ? [cell(j.live)] : []),
        ]),
      );
    },
  );

  withApiFlags(journeys.command("get <key>").description("a journey: status, draft and versions")).action(
    async (key: string, flags: ApiFlags) => {
      const api = await ApiClient.fromFlags(flags);
      const journey = await api.request<Record<string, unknown>>("GET", `/api/v1/journeys/${enc(key)}`);
      if (flags.json) return printJson(journey);
      printJourney(journey);
    },
  );

  withApiFlags(
    journeys.command("stats <key>").description("a journey's counts: entered, live, exited, per step"),
  ).action(async (key: string, flags: ApiFlags) => {
    const api = await ApiClient.fromFlags(flags);
    const stats = await api.request<unknown>("GET", `/api/v1/journeys/${enc(key)}/stats`);
    if (flags.json) return printJson(stats);
    process.stdout.write(YAML.stringify(stats));
  });

  withApiFlags(
    journeys
      .command("instances <key>")
      .description("a journey's instances, newest first")
      .option("--status <status>", "only instances in this status")
      .option("--user-id <userId>", "only this user's instances")
      .option("--profile-id <profileId>", "only this profile's instances")
      .option("--limit <n>", "at most this many")
      .option("--cursor <cursor>", "the next page: the cursor a previous page printed"),
  ).action(
    async (
      key: string,
      flags: ApiFlags & {
        status?: string;
        userId?: string;
        profileId?: string;
        limit?: string;
        cursor?: string;
      },
    ) => {
      const api = await ApiClient.fromFlags(flags);
      const query = new URLSearchParams();
      for (const name of ["status", "userId", "profileId", "limit", "cursor"] as const) {
        if (flags[name] !== undefined) query.set(name, flags[name]);
      }
      const qs = query.size ? `?${query}` : "";
      const page = await api.request<{ items: Array<Record<string, unknown>>; nextCursor: string | null }>(
        "GET",
        `/api/v1/journeys/${enc(key)}/instances${qs}`,
      );
      if (flags.json) return printJson(page);
      if (page.items.length === 0) console.log("no instances");
      else {
        printTable(
          ["ID", "STATUS", "PROFILE", "STEP", "VERSION", "ENTERED", "ENDED"],
          page.items.map((i) => [
            cell(i.id),
            cell(i.status),
            cell(i.profileId),
            cell(i.currentStep),
            cell(i.version),
            cell(i.enteredAt),
            cell(i.endReason ?? i.endedAt),
          ]),
        );
      }
      if (page.nextCursor) console.log(`more: --cursor ${page.nextCursor}`);
    },
  );

  for (const [verb, done] of [
    ["pause", "paused: no new entries, live instances wait"],
    ["resume", "resumed"],
  ] as const) {
    withApiFlags(
      journeys
        .command(`${verb} <key>`)
        .description(verb === "pause" ? "stop entries and hold live instances" : "resume a paused journey"),
    ).action(async (key: string, flags: ApiFlags) => {
      const api = await ApiClient.fromFlags(flags);
      const answer = await api.request<unknown>("POST", `/api/v1/journeys/${enc(key)}/${verb}`, { json: {} });
      if (flags.json) return printJson(answer);
      console.log(`${key}: ${done}`);
    });
  }

  withApiFlags(
    journeys
      .command("archive <key>")
      .description("archive a journey: no new entries; live instances finish unless --exit-instances")
      .option("--exit-instances", "end the live instances now"),
  ).action(async (key: string, flags: ApiFlags & { exitInstances?: boolean }) => {
    const api = await ApiClient.fromFlags(flags);
    const exitInstances = flags.exitInstances ?? false;
    const answer = await api.request<unknown>("POST", `/api/v1/journeys/${enc(key)}/archive`, {
      json: { exitInstances },
    });
    if (flags.json) return printJson(answer);
    console.log(`${key}: archived${exitInstances ? ", live instances exited" : ", live instances finish"}`);
  });
}

/**
 * A definition file as data: YAML for .yaml and .yml, JSON for .json. YAML is read as YAML 1.2 (so
 * `on` and `no` stay strings) and a repeated key is an error.
 */
export async function readDefinition(file: string): Promise<unknown> {
  const ext = path.extname(file).toLowerCase();
  if (![".yaml", ".yml", ".json"].includes(ext)) {
    throw new Error(`${file}: a definition is a .yaml, .yml or .json file`);
  }
  const text = await readInputFile(file);
  if (ext === ".json") return parseJsonFile(file, text);
  const doc = YAML.parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new Error(`${file}: not valid YAML:\n${doc.errors.map((e) => e.message).join("\n")}`);
  }
  return doc.toJS() as unknown;
}

async function applyFile(
  api: ApiClient,
  file: string,
): Promise<{ journey: JourneySummary; violations: Violation[] }> {
  const definition = await readDefinition(file);
  const key = (definition as { key?: unknown } | null)?.key;
  if (typeof key !== "string" || !key)
    throw new Error(`${file}: the definition needs a key (e.g. key: welcome)`);
  return api.request("PUT", `/api/v1/journeys/${enc(key)}`, { json: definition });
}

function printSaved(saved: { journey: JourneySummary; violations: Violation[] }): void {
  const { journey, violations } = saved;
  const draft = journey.draftVersion != null ? ` (draft ${journey.draftVersion})` : "";
  console.log(`${journey.key}: draft saved${draft}; status ${journey.status}`);
  if (violations.length > 0) {
    console.log(
      `${violations.length} ${violations.length === 1 ? "violation" : "violations"} (publishing is refused until fixed):`,
    );
    printViolations(violations);
  }
}

function printViolations(violations: readonly Violation[]): void {
  for (const v of violations) console.log(`${v.path || "(journey)"}: ${v.message}`);
}

function printJourney(j: Record<string, unknown>): void {
  console.log(`key:        ${cell(j.key)}`);
  console.log(`name:       ${cell(j.name)}`);
  console.log(`status:     ${cell(j.status)}`);
  if ("publishedVersion" in j) console.log(`published:  ${cell(j.publishedVersion)}`);
  console.log(`draft:      ${j.draft ? "yes" : "none"}`);
  const versions = Array.isArray(j.versions) ? (j.versions as Array<Record<string, unknown>>) : [];
  if (versions.length === 0) return console.log("versions:   none");
  console.log("versions:");
  printTable(
    ["VERSION", "PUBLISHED AT"],
    versions.map((v) => [cell(versionNumber(v)), cell(v.publishedAt ?? v.createdAt)]),
  );
}

/** A version as a number, whether the API answers the number or a version object. */
function versionNumber(version: unknown): unknown {
  if (typeof version === "object" && version !== null) {
    const v = version as Record<string, unknown>;
    return v.version ?? v.number ?? v.id;
  }
  return version;
}

const enc = encodeURIComponent;
