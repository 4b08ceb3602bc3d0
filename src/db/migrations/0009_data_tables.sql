-- Data tables: lookup tables a workspace uploads (CSV or JSON) and journeys read by key, e.g. a
-- `products` table keyed by sku. An upload replaces the whole table in one transaction.
CREATE TABLE data_tables (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  key_column text NOT NULL,
  row_count int NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, name)
);

-- One row per key. The primary key is the lookup index: journeys read rows by (table, key) only.
CREATE TABLE data_table_rows (
  workspace_id uuid NOT NULL,
  table_name text NOT NULL,
  key text NOT NULL CHECK (length(key) BETWEEN 1 AND 512),
  row jsonb NOT NULL,
  PRIMARY KEY (workspace_id, table_name, key),
  FOREIGN KEY (workspace_id, table_name) REFERENCES data_tables (workspace_id, name) ON DELETE CASCADE
);
