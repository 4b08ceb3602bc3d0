import { CsvError, parse } from "csv-parse/sync";

/** What one upload may hold. */
export const TABLE_LIMITS = {
  /** Rows in one table. */
  rows: 100_000,
  /** Characters in one key. */
  keyChars: 512,
  /** Problems reported for one upload; the summary still counts them all. */
  problems: 100,
  /** Nesting of objects and arrays in one value: PostgreSQL's jsonb parser recurses. */
  depth: 64,
} as const;

/** A data table's name: lower case, starts with a letter, at most 63 characters (a SQL identifier). */
export const TABLE_NAME = /^[a-z][a-z0-9_]{0,62}$/;

/** One row of a data table: column name to value (CSV values are strings; JSON values as sent). */
export type TableRow = Record<string, unknown>;

export type ProblemRule =
  | "header_required"
  | "header_empty"
  | "header_duplicate"
  | "key_column_required"
  | "key_column_missing"
  | "key_missing"
  | "key_type"
  | "key_empty"
  | "key_too_long"
  | "key_duplicate"
  | "row_not_object"
  | "column_count"
  | "value_invalid"
  | "too_many_rows"
  | "csv_syntax";

/** Something wrong with an upload, naming where (row and column) and which rule it broke. */
export interface TableProblem {
  /** The data row, counted from 1 (a CSV's header line is not a row); null for the whole upload. */
  row: number | null;
  /** CSV only: the line of the file the row ends on (a quoted value may span lines). */
  line?: number;
  /** The column concerned, when there is one. */
  column: string | null;
  rule: ProblemRule;
  /** What was wrong and what to do, with the row and column spelled out. */
  message: string;
}

/** An upload checked: rows ready to store, or every problem found. */
export type ParsedTable =
  | { ok: true; keyColumn: string; rows: TableRow[] }
  | {
      ok: false;
      /** The first TABLE_LIMITS.problems problems. */
      problems: TableProblem[];
      /** How many problems there are in all. */
      total: number;
    };

/**
 * The key a row is stored under. Only meaningful for a row that passed the checks here: its key is a
 * string, or a JSON number (stored as its decimal text, so `42` is looked up as "42").
 */
export function rowKey(row: TableRow, keyColumn: string): string {
  return String(row[keyColumn]);
}

/** Checks JSON rows (`{ key, rows }` as uploaded): objects, each with a unique, non-empty key. */
export function parseJsonRows(keyColumn: string, rows: readonly unknown[]): ParsedTable {
  const problems = new Problems();
  if (!keyColumn.trim()) {
    problems.add({
      row: null,
      column: null,
      rule: "key_column_required",
      message: "key is required: name the column that identifies each row",
    });
    return problems.result();
  }
  if (rows.length > TABLE_LIMITS.rows) return tooManyRows(rows.length);
  const keys = new KeyChecker(keyColumn, problems);
  rows.forEach((row, i) => {
    if (typeof row !== "object" || row === null || Array.isArray(row)) {
      problems.add({
        row: i + 1,
        column: null,
        rule: "row_not_object",
        message: `row ${i + 1}: must be an object of column names to values`,
      });
      return;
    }
    keys.check(row as TableRow, i + 1);
    checkValues(row as TableRow, i + 1, problems);
  });
  return problems.any() ? problems.result() : { ok: true, keyColumn, rows: rows as TableRow[] };
}

/**
 * Parses a CSV upload: the first line names the columns, every later line is a row whose values stay
 * strings. Empty lines are skipped; a byte order mark is ignored; header names are trimmed.
 */
export function parseCsvRows(csv: string, keyColumn: string | undefined): ParsedTable {
  const problems = new Problems();
  if (keyColumn === undefined || !keyColumn.trim()) {
    problems.add({
      row: null,
      column: null,
      rule: "key_column_required",
      message: "the key column is required for a CSV upload: name it with ?key=<column> (--key in the CLI)",
    });
    return problems.result();
  }
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(csv, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
      // The header, the row limit, and one more to tell that the limit was passed.
      to: TABLE_LIMITS.rows + 2,
    }) as unknown as typeof records;
  } catch (err) {
    if (!(err instanceof CsvError)) throw err;
    const line = (err as CsvError & { lines?: number }).lines;
    problems.add({
      row: null,
      ...(line ? { line } : {}),
      column: null,
      rule: "csv_syntax",
      message: `the CSV cannot be read: ${err.message}`,
    });
    return problems.result();
  }

  const [header, ...body] = records;
  if (!header) {
    problems.add({
      row: null,
      column: null,
      rule: "header_required",
      message: "the CSV is empty: its first line must name the columns (e.g. sku,name,price)",
    });
    return problems.result();
  }
  if (body.length > TABLE_LIMITS.rows) return tooManyRows(body.length, "or more");

  const columns = header.record.map((c) => c.trim());
  const seen = new Set<string>();
  columns.forEach((column, i) => {
    if (!column) {
      problems.add({
        row: null,
        line: header.info.lines,
        column: null,
        rule: "header_empty",
        message: `header: column ${i + 1} has no name`,
      });
    } else if (seen.has(column)) {
      problems.add({
        row: null,
        line: header.info.lines,
        column,
        rule: "header_duplicate",
        message: `header: column ${column} appears more than once`,
      });
    }
    seen.add(column);
  });
  if (!seen.has(keyColumn)) {
    problems.add({
      row: null,
      line: header.info.lines,
      column: keyColumn,
      rule: "key_column_missing",
      message: `header: the key column ${keyColumn} is not in the header (columns: ${columns.join(", ")})`,
    });
  }
  if (problems.any()) return problems.result();

  const keys = new KeyChecker(keyColumn, problems);
  const rows = body.map(({ record, info }, i) => {
    const row: TableRow = {};
    columns.forEach((column, c) => (row[column] = record[c] ?? ""));
    if (record.length !== columns.length) {
      problems.add({
        row: i + 1,
        line: info.lines,
        column: null,
        rule: "column_count",
        message: `row ${i + 1} (line ${info.lines}): has ${record.length} values, the header has ${columns.length} columns`,
      });
    }
    keys.check(row, i + 1, info.lines);
    checkValues(row, i + 1, problems, info.lines);
    return row;
  });
  return problems.any() ? problems.result() : { ok: true, keyColumn, rows };
}

/** One line for an error message: the first problem and how many there are. */
export function summarizeProblems(problems: readonly TableProblem[], total = problems.length): string {
  const first = problems[0]?.message ?? "the upload is invalid";
  return total > 1 ? `${first} (and ${total - 1} more ${total === 2 ? "problem" : "problems"})` : first;
}

/**
 * Values PostgreSQL cannot store in jsonb: a NUL character or an unpaired surrogate in any string (keys
 * included), or nesting deeper than TABLE_LIMITS.depth. One problem per column at most.
 */
function checkValues(row: TableRow, n: number, problems: Problems, line?: number): void {
  const where = line === undefined ? `row ${n}` : `row ${n} (line ${line})`;
  for (const [column, value] of Object.entries(row)) {
    const fault = !storableText(column) ? "text" : faultIn(value, 1);
    if (!fault) continue;
    problems.add({
      row: n,
      ...(line === undefined ? {} : { line }),
      column,
      rule: "value_invalid",
      message:
        fault === "text"
          ? `${where}, column ${column}: the text holds a NUL character or an unpaired surrogate, which cannot be stored`
          : `${where}, column ${column}: the value is nested deeper than ${TABLE_LIMITS.depth} levels`,
    });
  }
}

function faultIn(value: unknown, depth: number): "text" | "depth" | null {
  if (typeof value === "string") return storableText(value) ? null : "text";
  if (typeof value !== "object" || value === null) return null;
  if (depth > TABLE_LIMITS.depth) return "depth";
  for (const [k, v] of Object.entries(value)) {
    if (!storableText(k)) return "text";
    const fault = faultIn(v, depth + 1);
    if (fault) return fault;
  }
  return null;
}

const storableText = (s: string) => !s.includes("\u0000") && s.isWellFormed();

function tooManyRows(count: number, more = ""): ParsedTable {
  const problems = new Problems();
  problems.add({
    row: null,
    column: null,
    rule: "too_many_rows",
    message: `${count}${more ? ` ${more}` : ""} rows: a table holds at most ${TABLE_LIMITS.rows} rows`,
  });
  return problems.result();
}

class Problems {
  private readonly list: TableProblem[] = [];
  private total = 0;

  add(problem: TableProblem): void {
    this.total++;
    if (this.list.length < TABLE_LIMITS.problems) this.list.push(problem);
  }

  any(): boolean {
    return this.total > 0;
  }

  result(): ParsedTable {
    return { ok: false, problems: this.list, total: this.total };
  }
}

/** The key rules: present, a string (or JSON number), not blank, not too long, unique. */
class KeyChecker {
  /** Key to the row it was first seen in. */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly column: string,
    private readonly problems: Problems,
  ) {}

  check(row: TableRow, n: number, line?: number): void {
    const where = line === undefined ? `row ${n}` : `row ${n} (line ${line})`;
    const add = (rule: ProblemRule, message: string) =>
      this.problems.add({
        row: n,
        ...(line === undefined ? {} : { line }),
        column: this.column,
        rule,
        message: `${where}, column ${this.column}: ${message}`,
      });
    const value = row[this.column];
    if (value === undefined) return add("key_missing", "the key column is missing");
    if (typeof value !== "string" && typeof value !== "number") {
      return add(
        "key_type",
        `the key must be a string or a number (got ${value === null ? "null" : typeof value})`,
      );
    }
    const key = rowKey(row, this.column);
    if (!key.trim()) return add("key_empty", "the key is empty; every row needs one");
    if (key.length > TABLE_LIMITS.keyChars) {
      return add("key_too_long", `the key is ${key.length} characters; at most ${TABLE_LIMITS.keyChars}`);
    }
    const first = this.seen.get(key);
    if (first !== undefined) {
      return add("key_duplicate", `duplicate key ${JSON.stringify(key)} (first in row ${first})`);
    }
    this.seen.set(key, n);
  }
}
