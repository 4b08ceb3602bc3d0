import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRows, lookupKey } from "../src/tables/index.ts";
import { startTestServer, type TestServer } from "./support/server.ts";

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ now: () => new Date("2026-03-01T12:00:00Z") });
});
afterAll(async () => {
  await server.close();
});

interface Problem {
  row: number | null;
  line?: number;
  column: string | null;
  rule: string;
  message: string;
}

async function json<T>(res: Response | Promise<Response>, status = 200): Promise<T> {
  const r = await res;
  const body = await r.text();
  expect(r.status, body).toBe(status);
  return JSON.parse(body) as T;
}

const putJson = (name: string, body: unknown) =>
  server.admin(`/api/v1/tables/${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });

const putCsv = (name: string, csv: string, key?: string) =>
  server.admin(`/api/v1/tables/${name}${key === undefined ? "" : `?key=${encodeURIComponent(key)}`}`, {
    method: "PUT",
    headers: { "content-type": "text/csv; charset=utf-8" },
    body: csv,
  });

const row = (name: string, key: string) =>
  server.admin(`/api/v1/tables/${name}/rows/${encodeURIComponent(key)}`);

describe("a marketer uploads the product catalogue as JSON", () => {
  it("answers the table's summary and serves each row by key, values as sent", async () => {
    const info = await json(
      putJson("products", {
        key: "sku",
        rows: [
          { sku: "A1", name: "Socks", price: 9.5, tags: ["wool"] },
          { sku: "B2", name: "Hat", price: 20, onSale: true },
        ],
      }),
    );
    expect(info).toEqual({
      name: "products",
      keyColumn: "sku",
      rowCount: 2,
      updatedAt: "2026-03-01T12:00:00.000Z",
    });
    expect(await json(row("products", "A1"))).toEqual({
      table: "products",
      key: "A1",
      row: { sku: "A1", name: "Socks", price: 9.5, tags: ["wool"] },
    });
  });

  it("lists the table", async () => {
    const { items } = await json<{ items: unknown[] }>(server.admin("/api/v1/tables"));
    expect(items).toContainEqual({
      name: "products",
      keyColumn: "sku",
      rowCount: 2,
      updatedAt: "2026-03-01T12:00:00.000Z",
    });
  });

  it("looks up numeric keys by their decimal text, and keys with a slash", async () => {
    await json(
      putJson("stores", {
        key: "id",
        rows: [
          { id: 42, city: "Lyon" },
          { id: "eu/paris", city: "Paris" },
        ],
      }),
    );
    expect((await json<{ row: unknown }>(row("stores", "42"))).row).toEqual({ id: 42, city: "Lyon" });
    expect((await json<{ row: unknown }>(row("stores", "eu/paris"))).row).toEqual({
      id: "eu/paris",
      city: "Paris",
    });
  });

  it("lets the journey runtime read many rows of several tables in one query", async () => {
    const client = await server.db.pool.connect();
    try {
      const found = await getRows(client, server.keys.workspaceId, [
        { table: "products", key: "A1" },
        { table: "products", key: "A1" },
        { table: "products", key: "nope" },
        { table: "stores", key: "42" },
        { table: "missing", key: "A1" },
      ]);
      expect([...found.keys()].sort()).toEqual([lookupKey("products", "A1"), lookupKey("stores", "42")]);
      expect(found.get(lookupKey("stores", "42"))).toEqual({ id: 42, city: "Lyon" });
      expect(await getRows(client, server.keys.workspaceId, [])).toEqual(new Map());
    } finally {
      client.release();
    }
  });
});

describe("an export from a spreadsheet is uploaded as CSV", () => {
  const csv =
    "\uFEFFsku,name,description\r\n" +
    'C3,"Scarf, red","Warm, soft and ""long"""\r\n' +
    'D4,Gloves,"two lines:\nleft and right"\r\n';

  it("keeps quoted commas, quotes and line breaks, with every value a string", async () => {
    expect(await json(putCsv("catalogue", csv, "sku"))).toMatchObject({ name: "catalogue", rowCount: 2 });
    expect((await json<{ row: unknown }>(row("catalogue", "C3"))).row).toEqual({
      sku: "C3",
      name: "Scarf, red",
      description: 'Warm, soft and "long"',
    });
    expect((await json<{ row: unknown }>(row("catalogue", "D4"))).row).toEqual({
      sku: "D4",
      name: "Gloves",
      description: "two lines:\nleft and right",
    });
  });

  it("replacing the table removes the rows not in the new upload", async () => {
    expect(await json(putCsv("catalogue", "sku,name\nD4,Mittens\nE5,Boots\n", "sku"))).toMatchObject({
      rowCount: 2,
    });
    expect((await json<{ row: unknown }>(row("catalogue", "D4"))).row).toEqual({
      sku: "D4",
      name: "Mittens",
    });
    expect((await json<{ row: unknown }>(row("catalogue", "E5"))).row).toEqual({ sku: "E5", name: "Boots" });
    const gone = await json<{ message: string }>(row("catalogue", "C3"), 404);
    expect(gone.message).toBe('data table catalogue has no row with key "C3"');
  });
});

describe("a bad upload is refused whole, naming the row and column", () => {
  it("a CSV whose header lacks the key column", async () => {
    const body = await json<{ error: string; message: string; problems: Problem[] }>(
      putCsv("bad_csv", "id,name\nA1,Socks\n", "sku"),
      400,
    );
    expect(body.error).toBe("validation_error");
    expect(body.message).toBe("header: the key column sku is not in the header (columns: id, name)");
    expect(body.problems).toEqual([
      { row: null, line: 1, column: "sku", rule: "key_column_missing", message: body.message },
    ]);
  });

  it("a CSV with a duplicate key and an empty key", async () => {
    const body = await json<{ message: string; problems: Problem[]; problemCount: number }>(
      putCsv("bad_csv", "sku,name\nA1,Socks\nB2,Hat\nA1,Scarf\n,Gloves\n", "sku"),
      400,
    );
    expect(body.problems).toEqual([
      {
        row: 3,
        line: 4,
        column: "sku",
        rule: "key_duplicate",
        message: 'row 3 (line 4), column sku: duplicate key "A1" (first in row 1)',
      },
      {
        row: 4,
        line: 5,
        column: "sku",
        rule: "key_empty",
        message: "row 4 (line 5), column sku: the key is empty; every row needs one",
      },
    ]);
    expect(body.problemCount).toBe(2);
    expect(body.message).toBe(
      'row 3 (line 4), column sku: duplicate key "A1" (first in row 1) (and 1 more problem)',
    );
  });

  it("a CSV without ?key", async () => {
    const body = await json<{ problems: Problem[] }>(putCsv("bad_csv", "sku\nA1\n"), 400);
    expect(body.problems[0]?.rule).toBe("key_column_required");
  });

  it("a CSV with an unclosed quote", async () => {
    const body = await json<{ problems: Problem[] }>(putCsv("bad_csv", 'sku,name\nA1,"Socks\n', "sku"), 400);
    expect(body.problems[0]).toMatchObject({ rule: "csv_syntax", line: 2 });
  });

  it("JSON rows missing the key or repeating it", async () => {
    const body = await json<{ problems: Problem[] }>(
      putJson("bad_json", { key: "sku", rows: [{ sku: "A1" }, { name: "no key" }, { sku: "A1" }] }),
      400,
    );
    expect(body.problems.map((p) => [p.row, p.column, p.rule])).toEqual([
      [2, "sku", "key_missing"],
      [3, "sku", "key_duplicate"],
    ]);
  });

  it("a JSON body without its key names the field", async () => {
    const body = await json<{ message: string }>(putJson("bad_json", { rows: [] }), 400);
    expect(body.message).toMatch(/^body\.key: /);
  });

  it("a table name that is not lower case letters, digits and _", async () => {
    const body = await json<{ message: string }>(putJson("Bad-Name", { key: "k", rows: [] }), 400);
    expect(body.message).toMatch(/^params\.name: a table name is lower case/);
  });

  it("stores nothing", async () => {
    await json(row("bad_csv", "A1"), 404);
    await json(row("bad_json", "A1"), 404);
  });
});

describe("without the admin token", () => {
  it("every table route answers 401", async () => {
    for (const [method, path] of [
      ["GET", "/api/v1/tables"],
      ["PUT", "/api/v1/tables/products"],
      ["GET", "/api/v1/tables/products/rows/A1"],
      ["DELETE", "/api/v1/tables/products"],
    ] as const) {
      const res = await fetch(server.url + path, {
        method,
        headers: { "content-type": "text/csv" },
        ...(method === "PUT" ? { body: "sku\nA1\n" } : {}),
      });
      expect(res.status, `${method} ${path}`).toBe(401);
    }
  });
});

describe("missing tables and rows", () => {
  it("a row of a table never uploaded: 404 saying how to upload it", async () => {
    const body = await json<{ error: string; message: string }>(row("nowhere", "A1"), 404);
    expect(body).toEqual({
      error: "not_found",
      message: "no data table nowhere: upload it with PUT /api/v1/tables/nowhere",
    });
  });

  it("deleting a table removes it and its rows; deleting it again is a 404", async () => {
    await json(putJson("short_lived", { key: "k", rows: [{ k: "x" }] }));
    expect(await json(server.admin("/api/v1/tables/short_lived", { method: "DELETE" }))).toMatchObject({
      name: "short_lived",
      rowCount: 1,
    });
    await json(row("short_lived", "x"), 404);
    const again = await json<{ message: string }>(
      server.admin("/api/v1/tables/short_lived", { method: "DELETE" }),
      404,
    );
    expect(again.message).toBe("no data table short_lived");
    const { rows } = await server.db.pool.query(
      "SELECT count(*)::int AS n FROM data_table_rows WHERE table_name = 'short_lived'",
    );
    expect(rows[0].n).toBe(0);
  });
});

describe("the OpenAPI description", () => {
  it("documents the upload's JSON and CSV bodies", async () => {
    const spec = await json<{ paths: Record<string, Record<string, { requestBody?: { content: object } }>> }>(
      fetch(`${server.url}/api/openapi.json`),
    );
    const put = spec.paths["/api/v1/tables/{name}"]?.put;
    expect(Object.keys(put?.requestBody?.content ?? {})).toEqual(["application/json", "text/csv"]);
    expect(spec.paths["/api/v1/tables/{name}/rows/{key}"]?.get).toBeDefined();
  });
});
