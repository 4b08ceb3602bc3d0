import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import { credentialsPath, type Credentials } from "./credentials.ts";

/** Flags every command that talks to the admin API takes. */
export interface ApiFlags {
  dataDir?: string;
  json?: boolean;
}

/** Where the admin API is and the token it takes. */
export interface ApiTarget {
  url: string;
  token: string;
}

/** Adds `--data-dir` and `--json` to a command that talks to the admin API. */
export function withApiFlags(cmd: Command): Command {
  return cmd
    .option(
      "--data-dir <dir>",
      "where credentials.json is, when WAYMARK_URL and WAYMARK_TOKEN are not set (env WAYMARK_DATA_DIR, default ./.waymark)",
    )
    .option("--json", "print the API's answer as JSON");
}

/**
 * The API URL and admin token: WAYMARK_URL and WAYMARK_TOKEN when set, else `apiUrl` and `adminToken`
 * from `<data-dir>/credentials.json` (written by the server's first start).
 */
export async function resolveApiTarget(
  flags: ApiFlags,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ApiTarget> {
  let url = env.WAYMARK_URL?.trim() || undefined;
  let token = env.WAYMARK_TOKEN?.trim() || undefined;
  if (!url || !token) {
    const file = credentialsPath(path.resolve(flags.dataDir ?? env.WAYMARK_DATA_DIR ?? ".waymark"));
    if (!existsSync(file)) {
      throw new Error(
        `no API to talk to: set WAYMARK_URL and WAYMARK_TOKEN (the admin token), or point --data-dir at ` +
          `the folder with credentials.json (${file} does not exist)`,
      );
    }
    let credentials: Partial<Credentials>;
    try {
      credentials = JSON.parse(await readFile(file, "utf8")) as Partial<Credentials>;
    } catch (err) {
      throw new Error(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    url ??= credentials.apiUrl;
    token ??= credentials.adminToken;
    if (!url || !token)
      throw new Error(`${file} has no apiUrl or adminToken: set WAYMARK_URL and WAYMARK_TOKEN`);
  }
  return { url: url.replace(/\/+$/, ""), token };
}

/** An error answer from the API: its status and JSON body (`{ error, message, ... }`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { error?: string; message?: string; [field: string]: unknown },
  ) {
    super(body.message ?? `HTTP ${status}`);
  }
}

/** What a request sends: JSON, or CSV text. */
export type RequestBody = { json: unknown } | { csv: string };

/** A small admin API client: Bearer token, JSON answers, errors as ApiError with the server's message. */
export class ApiClient {
  constructor(private readonly target: ApiTarget) {}

  static async fromFlags(flags: ApiFlags): Promise<ApiClient> {
    return new ApiClient(await resolveApiTarget(flags));
  }

  async request<T>(method: string, route: string, body?: RequestBody): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.target.token}` };
    let payload: string | undefined;
    if (body && "json" in body) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers["content-type"] = "text/csv; charset=utf-8";
      payload = body.csv;
    }
    let res: Response;
    try {
      res = await fetch(this.target.url + route, {
        method,
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        signal: AbortSignal.timeout(120_000),
      });
    } catch (err) {
      const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
      throw new Error(
        `cannot reach the Waymark API at ${this.target.url}: ${cause?.code ?? cause?.message ?? (err as Error).message} ` +
          "(is the server running? WAYMARK_URL or apiUrl in credentials.json says where)",
        { cause: err },
      );
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const errorBody =
        typeof parsed === "object" && parsed !== null
          ? (parsed as ApiError["body"])
          : { message: `${method} ${route}: HTTP ${res.status} ${text.slice(0, 200)}`.trim() };
      throw new ApiError(res.status, errorBody);
    }
    return parsed as T;
  }
}

/** Prints rows as left-aligned columns under a header (what `list` commands show by default). */
export function printTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  for (const r of rows) console.log(line(r));
}

/** A value as one table cell: "-" for none, JSON for anything not a string or number. */
export function cell(value: unknown): string {
  if (value === undefined || value === null || value === "") return "-";
  return typeof value === "string" || typeof value === "number" || typeof value === "boolean"
    ? String(value)
    : JSON.stringify(value);
}

/** What `--json` prints: the value, indented. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
