import type { Pool, PoolClient } from "pg";
import { withTx } from "../db/index.ts";
import { NotFoundError } from "../errors/index.ts";
import { rowKey, type TableRow } from "./core/parse.ts";

type Queryable = Pick<PoolClient, "query">;

/** A data table as listed: its name, key column, size and last upload. */
export interface TableInfo {
  name: string;
  /** The column whose value identifies a row. */
  keyColumn: string;
  rowCount: number;
  /** When the table was last uploaded (ISO 8601). */
  updatedAt: string;
}

/** One lookup of a row: which table, which key. */
export interface RowLookup {
  table: string;
  key: string;
}

/** Rows per INSERT: keeps each statement's parameters a few MB at most. */
const BATCH = 5_000;

interface TableRecord {
  name: string;
  key_column: string;
  row_count: number;
  updated_at: Date;
}

const toInfo = (r: TableRecord): TableInfo => ({
  name: r.name,
  keyColumn: r.key_column,
  rowCount: r.row_count,
  updatedAt: r.updated_at.toISOString(),
});

/**
 * Replaces a table's rows (creating the table if need be) in one transaction: readers see the old
 * rows or the new ones, never a mix. `rows` must have passed parseJsonRows or parseCsvRows. Two uploads
 * of the same table take turns on the table's row lock; the last to commit wins.
 */
export async function replaceTable(
  pool: Pool,
  workspaceId: string,
  name: string,
  keyColumn: string,
  rows: readonly TableRow[],
  now: Date = new Date(),
): Promise<TableInfo> {
  return withTx(pool, async (client) => {
    const { rows: saved } = await client.query<TableRecord>(
      `INSERT INTO data_tables (workspace_id, name, key_column, row_count, updated_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (workspace_id, name) DO UPDATE
         SET key_column = excluded.key_column, row_count = excluded.row_count, updated_at = excluded.updated_at
       RETURNING name, key_column, row_count, updated_at`,
      [workspaceId, name, keyColumn, rows.length, now],
    );
    await client.query("DELETE FROM data_table_rows WHERE workspace_id = $1 AND table_name = $2", [
      workspaceId,
      name,
    ]);
    for (let i = 0; i < rows.length; i += BATCH) {
      const batch = rows.slice(i, i + BATCH);
      // Rows go as JSON text and are cast in SQL: a jsonb[] literal would need its own escaping.
      await client.query(
        `INSERT INTO data_table_rows (workspace_id, table_name, key, row)
         SELECT $1, $2, t.key, t.row::jsonb FROM unnest($3::text[], $4::text[]) AS t(key, row)`,
        [workspaceId, name, batch.map((r) => rowKey(r, keyColumn)), batch.map((r) => JSON.stringify(r))],
      );
    }
    return toInfo(saved[0]!);
  });
}

/** One row by key; NotFoundError names whether the table or the row is missing. */
export async function getRow(
  db: Queryable,
  workspaceId: string,
  name: string,
  key: string,
): Promise<TableRow> {
  const { rows } = await db.query<{ row: TableRow | null }>(
    `SELECT r.row FROM data_tables t
     LEFT JOIN data_table_rows r ON r.workspace_id = t.workspace_id AND r.table_name = t.name AND r.key = $3
     WHERE t.workspace_id = $1 AND t.name = $2`,
    [workspaceId, name, key],
  );
  if (!rows[0]) throw new NotFoundError(`no data table ${name}: upload it with PUT /api/v1/tables/${name}`);
  if (!rows[0].row) throw new NotFoundError(`data table ${name} has no row with key ${JSON.stringify(key)}`);
  return rows[0].row;
}

/** The map key of a row in getRows' answer. */
export function lookupKey(table: string, key: string): string {
  return `${table}\u0000${key}`;
}

/**
 * Many rows of any tables in one query, for the journey runtime (inside its transaction). Answers
 * `lookupKey(table, key)` → row for the rows found; a missing table or key is simply absent.
 */
export async function getRows(
  db: Queryable,
  workspaceId: string,
  lookups: readonly RowLookup[],
): Promise<Map<string, TableRow>> {
  const found = new Map<string, TableRow>();
  if (lookups.length === 0) return found;
  const { rows } = await db.query<{ table_name: string; key: string; row: TableRow }>(
    `SELECT r.table_name, r.key, r.row
     FROM (SELECT DISTINCT * FROM unnest($2::text[], $3::text[]) AS l(table_name, key)) l
     JOIN data_table_rows r ON r.workspace_id = $1 AND r.table_name = l.table_name AND r.key = l.key`,
    [workspaceId, lookups.map((l) => l.table), lookups.map((l) => l.key)],
  );
  for (const r of rows) found.set(lookupKey(r.table_name, r.key), r.row);
  return found;
}

/** The workspace's data tables by name. */
export async function listTables(db: Queryable, workspaceId: string): Promise<TableInfo[]> {
  const { rows } = await db.query<TableRecord>(
    `SELECT name, key_column, row_count, updated_at FROM data_tables WHERE workspace_id = $1 ORDER BY name`,
    [workspaceId],
  );
  return rows.map(toInfo);
}

/** Deletes a table and its rows; answers what it was, or NotFoundError. */
export async function deleteTable(db: Queryable, workspaceId: string, name: string): Promise<TableInfo> {
  const { rows } = await db.query<TableRecord>(
    `DELETE FROM data_tables WHERE workspace_id = $1 AND name = $2
     RETURNING name, key_column, row_count, updated_at`,
    [workspaceId, name],
  );
  if (!rows[0]) throw new NotFoundError(`no data table ${name}`);
  return toInfo(rows[0]);
}
