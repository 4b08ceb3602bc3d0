import path from "node:path";
import type { Command } from "commander";
import {
  ApiClient,
  ApiError,
  cell,
  printJson,
  printTable,
  withApiFlags,
  type ApiFlags,
  type RequestBody,
} from "./api-client.ts";
import { parseJsonFile, readInputFile } from "./input-file.ts";

interface TableInfo {
  name: string;
  keyColumn: string;
  rowCount: number;
  updatedAt: string;
}

/** `waymark tables put|get|list|delete`: data tables through the admin API. */
export function tableCommands(program: Command): void {
  const tables = program
    .command("tables")
    .description("upload and read data tables (lookup tables journeys read)");

  withApiFlags(
    tables
      .command("put <name>")
      .description("create or replace a data table from a CSV or JSON file")
      .requiredOption(
        "-f, --file <file>",
        "a .csv file (header line first), or a .json file: [rows] or { key, rows }",
      )
      .option("--key <column>", "the key column (required for CSV and for a JSON array of rows)"),
  ).action(async (name: string, flags: ApiFlags & { file?: string; key?: string }) => {
    const { body, key } = await readUpload(flags.file!, flags.key);
    const api = await ApiClient.fromFlags(flags);
    const route = `/api/v1/tables/${encodeURIComponent(name)}${key ? `?key=${encodeURIComponent(key)}` : ""}`;
    let info: TableInfo;
    try {
      info = await api.request<TableInfo>("PUT", route, body);
    } catch (err) {
      // 400: every problem, by row and column; the summary line comes from the thrown error.
      if (err instanceof ApiError && Array.isArray(err.body.problems)) {
        if (flags.json) printJson(err.body);
        else for (const p of err.body.problems as Array<{ message: string }>) console.log(p.message);
      }
      throw err;
    }
    if (flags.json) return printJson(info);
    console.log(
      `${info.name}: ${info.rowCount} ${info.rowCount === 1 ? "row" : "rows"}, key ${info.keyColumn}`,
    );
  });

  withApiFlags(tables.command("get <name> <key>").description("print one row, by key")).action(
    async (name: string, key: string, flags: ApiFlags) => {
      const api = await ApiClient.fromFlags(flags);
      const answer = await api.request<{ row: Record<string, unknown> }>(
        "GET",
        `/api/v1/tables/${encodeURIComponent(name)}/rows/${encodeURIComponent(key)}`,
      );
      if (flags.json) return printJson(answer);
      for (const [column, value] of Object.entries(answer.row)) {
        console.log(`${column}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
      }
    },
  );

  withApiFlags(tables.command("list").description("the workspace's data tables")).action(
    async (flags: ApiFlags) => {
      const api = await ApiClient.fromFlags(flags);
      const { items } = await api.request<{ items: TableInfo[] }>("GET", "/api/v1/tables");
      if (flags.json) return printJson({ items });
      if (items.length === 0)
        return console.log("no data tables yet: `waymark tables put <name> -f <file>` adds one");
      printTable(
        ["NAME", "KEY", "ROWS", "UPDATED"],
        items.map((t) => [t.name, t.keyColumn, cell(t.rowCount), t.updatedAt]),
      );
    },
  );

  withApiFlags(tables.command("delete <name>").description("delete a data table and its rows")).action(
    async (name: string, flags: ApiFlags) => {
      const api = await ApiClient.fromFlags(flags);
      const info = await api.request<TableInfo>("DELETE", `/api/v1/tables/${encodeURIComponent(name)}`);
      if (flags.json) return printJson(info);
      console.log(`${info.name}: deleted (${info.rowCount} rows)`);
    },
  );
}

/** The request for an upload file: CSV text with ?key=, or JSON `{ key, rows }`. */
async function readUpload(
  file: string,
  key: string | undefined,
): Promise<{ body: RequestBody; key?: string }> {
  const ext = path.extname(file).toLowerCase();
  if (ext !== ".csv" && ext !== ".json") throw new Error(`${file}: upload a .csv or .json file`);
  const text = await readInputFile(file);
  if (ext === ".csv") {
    if (!key) throw new Error("name the key column of a CSV file with --key <column>");
    return { body: { csv: text }, key };
  }
  const data = parseJsonFile(file, text);
  if (Array.isArray(data)) {
    if (!key) throw new Error(`${file} is an array of rows: name the key column with --key <column>`);
    return { body: { json: { key, rows: data } } };
  }
  const upload = data as { key?: unknown; rows?: unknown } | null;
  if (typeof upload !== "object" || upload === null || !Array.isArray(upload.rows)) {
    throw new Error(`${file}: expected an array of rows, or { "key": "<column>", "rows": [...] }`);
  }
  return { body: { json: { ...upload, key: key ?? upload.key } } };
}
