import { describe, expect, it } from "vitest";
import { TABLE_LIMITS, parseCsvRows, parseJsonRows, summarizeProblems, type ParsedTable } from "./parse.ts";

const rulesOf = (parsed: ParsedTable) =>
  parsed.ok ? [] : parsed.problems.map((p) => [p.row, p.column, p.rule]);

describe("CSV uploads", () => {
  it("trim header names but keep values as written, strings all", () => {
    expect(parseCsvRows(" sku , price\nA1, 9.50\n", "sku")).toEqual({
      ok: true,
      keyColumn: "sku",
      rows: [{ sku: "A1", price: " 9.50" }],
    });
  });

  it("a header with no rows is an empty table", () => {
    expect(parseCsvRows("sku,name\n", "sku")).toEqual({ ok: true, keyColumn: "sku", rows: [] });
  });

  it("refuse an empty file, a blank or repeated column name, and rows of the wrong width", () => {
    expect(rulesOf(parseCsvRows("", "sku"))).toEqual([[null, null, "header_required"]]);
    expect(rulesOf(parseCsvRows("sku,,name,name\n", "sku"))).toEqual([
      [null, null, "header_empty"],
      [null, "name", "header_duplicate"],
    ]);
    expect(rulesOf(parseCsvRows("sku,name\nA1\nB2,Hat,extra\n", "sku"))).toEqual([
      [1, null, "column_count"],
      [2, null, "column_count"],
    ]);
  });

  it("refuse more rows than a table holds, without reading past the limit", () => {
    const csv = "sku\n" + Array.from({ length: TABLE_LIMITS.rows + 5 }, (_, i) => `k${i}`).join("\n");
    const parsed = parseCsvRows(csv, "sku");
    expect(rulesOf(parsed)).toEqual([[null, null, "too_many_rows"]]);
  });
});

describe("JSON uploads", () => {
  it("accept string and number keys and any JSON values", () => {
    const rows = [
      { id: 1, tags: ["a"] },
      { id: "2", nested: { deep: true } },
    ];
    expect(parseJsonRows("id", rows)).toEqual({ ok: true, keyColumn: "id", rows });
  });

  it("refuse a key that is not a string or number, blank, too long, or the same as another's", () => {
    const parsed = parseJsonRows("id", [
      { id: null },
      { id: true },
      { id: "  " },
      { id: "x".repeat(TABLE_LIMITS.keyChars + 1) },
      { id: 7 },
      { id: "7" },
      [],
    ]);
    expect(rulesOf(parsed)).toEqual([
      [1, "id", "key_type"],
      [2, "id", "key_type"],
      [3, "id", "key_empty"],
      [4, "id", "key_too_long"],
      [6, "id", "key_duplicate"],
      [7, null, "row_not_object"],
    ]);
  });

  it("refuse text PostgreSQL cannot store and values nested too deep", () => {
    let deep: unknown = "bottom";
    for (let i = 0; i < TABLE_LIMITS.depth + 1; i++) deep = [deep];
    const parsed = parseJsonRows("id", [
      { id: "a", note: "nul \u0000 here" },
      { id: "b", bad: { ["\ud800"]: 1 } },
      { id: "c", deep },
    ]);
    expect(rulesOf(parsed)).toEqual([
      [1, "note", "value_invalid"],
      [2, "bad", "value_invalid"],
      [3, "deep", "value_invalid"],
    ]);
  });

  it("report the first problems and count them all", () => {
    const rows = Array.from({ length: 250 }, () => ({ id: "same" }));
    const parsed = parseJsonRows("id", rows);
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.problems).toHaveLength(TABLE_LIMITS.problems);
    expect(parsed.total).toBe(249);
    expect(summarizeProblems(parsed.problems, parsed.total)).toBe(
      'row 2, column id: duplicate key "same" (first in row 1) (and 248 more problems)',
    );
  });
});
