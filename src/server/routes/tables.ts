import type { FastifyError, FastifyInstance, FastifySchemaCompiler } from "fastify";
import { validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  TABLE_LIMITS,
  TABLE_NAME,
  deleteTable,
  getRow,
  listTables,
  parseCsvRows,
  parseJsonRows,
  replaceTable,
  summarizeProblems,
} from "../../tables/index.ts";
import type { ServerDeps } from "../context.ts";
import { errorHandler } from "../errors.ts";

/** An upload of up to TABLE_LIMITS.rows rows does not fit the app's 1 MB default. */
const UPLOAD_BYTES = 32 * 1024 * 1024;

const tableInfoSchema = z.object({
  name: z.string(),
  keyColumn: z.string().describe("the column whose value identifies a row"),
  rowCount: z.number().int(),
  updatedAt: z.string().describe("when the table was last uploaded"),
});

const jsonUpload = z
  .object({
    key: z.string().min(1).describe("the column whose value identifies a row (unique, non-empty)"),
    rows: z
      .array(z.record(z.string(), z.unknown()))
      .describe(`the rows, at most ${TABLE_LIMITS.rows}; each an object of column names to JSON values`),
  })
  .describe("a JSON upload (content-type application/json)");

const csvUpload = z
  .string()
  .describe(
    "a CSV upload (content-type text/csv): the first line names the columns; values stay strings; " +
      "the key column is given with ?key=",
  );

const problemSchema = z.object({
  row: z.number().int().nullable().describe("the data row, counted from 1 (a CSV's header is not a row)"),
  line: z.number().int().optional().describe("CSV: the line of the file the row ends on"),
  column: z.string().nullable(),
  rule: z.string().describe("which rule was broken, e.g. key_duplicate, key_column_missing"),
  message: z.string(),
});

const errorSchema = z.object({
  error: z.string(),
  message: z.string(),
  problems: z
    .array(problemSchema)
    .optional()
    .describe(`for a refused upload: what was wrong, the first ${TABLE_LIMITS.problems} problems`),
  problemCount: z.number().int().optional().describe("for a refused upload: how many problems in all"),
});

const nameParams = z.object({
  name: z
    .string()
    .regex(
      TABLE_NAME,
      "a table name is lower case letters, digits and _, starts with a letter, at most 63 characters",
    )
    .describe("the table's name, e.g. products"),
});

/**
 * The body is JSON (`{ key, rows }`) or CSV text. One zod union would answer a bad JSON body with
 * "Invalid input"; checking CSV text as is and JSON against its own schema names the field instead.
 */
const uploadValidator: FastifySchemaCompiler<unknown> = (route) => {
  if (route.httpPart !== "body") return validatorCompiler(route as Parameters<typeof validatorCompiler>[0]);
  const json = validatorCompiler({ ...route, schema: jsonUpload });
  return (data: unknown) => (typeof data === "string" ? { value: data } : json(data));
};

/** Data tables: lookup tables journeys read by key (admin token). */
export async function tableRoutes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  // Its own scope, so the CSV parser and the upload error handler apply to these routes only.
  await app.register(async (scope) => {
    scope.addContentTypeParser("text/csv", { parseAs: "string" }, (_req, body, done) => done(null, body));
    scope.setErrorHandler((err: FastifyError, req, reply) => {
      if (err.code !== "FST_ERR_CTP_BODY_TOO_LARGE") return errorHandler(err, req, reply);
      void reply.code(413).send({
        error: "payload_too_large",
        message: `an upload is at most ${UPLOAD_BYTES / 1024 / 1024} MB: split the table or trim its columns`,
      });
    });
    await routes(scope, deps);
  });
}

async function routes(app: FastifyInstance, deps: ServerDeps): Promise<void> {
  const r = app.withTypeProvider<ZodTypeProvider>();
  const now = deps.now ?? (() => new Date());
  const common = { tags: ["tables"], security: [{ adminToken: [] }] };

  r.put(
    "/api/v1/tables/:name",
    {
      bodyLimit: UPLOAD_BYTES,
      validatorCompiler: uploadValidator,
      schema: {
        ...common,
        summary: "Create or replace a data table",
        description:
          "Replaces every row in one transaction (rows not in the upload are gone). Send JSON " +
          "`{ key, rows }`, or CSV with content-type text/csv and the key column as `?key=`. Each row " +
          `needs a unique, non-empty key of at most ${TABLE_LIMITS.keyChars} characters; a table holds ` +
          `at most ${TABLE_LIMITS.rows} rows. A refused upload answers 400 with every problem (row, ` +
          "column, rule) and stores nothing.",
        consumes: ["application/json", "text/csv"],
        params: nameParams,
        querystring: z.strictObject({
          key: z.string().optional().describe("CSV: the key column (JSON names it in the body)"),
        }),
        body: z.union([jsonUpload, csvUpload]),
        response: { 200: tableInfoSchema, 400: errorSchema },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const isCsv = req.headers["content-type"]?.toLowerCase().startsWith("text/csv") ?? false;
      if (typeof body === "string" && !isCsv) {
        return reply.code(400).send({
          error: "validation_error",
          message: "send JSON { key, rows }, or CSV with content-type text/csv",
        });
      }
      const parsed =
        typeof body === "string" ? parseCsvRows(body, req.query.key) : parseJsonRows(body.key, body.rows);
      if (!parsed.ok) {
        return reply.code(400).send({
          error: "validation_error",
          message: summarizeProblems(parsed.problems, parsed.total),
          problems: parsed.problems,
          problemCount: parsed.total,
        });
      }
      return replaceTable(deps.pool, req.workspace.id, req.params.name, parsed.keyColumn, parsed.rows, now());
    },
  );

  r.get(
    "/api/v1/tables",
    {
      schema: {
        ...common,
        summary: "The workspace's data tables, by name",
        response: { 200: z.object({ items: z.array(tableInfoSchema) }) },
      },
    },
    async (req) => ({ items: await listTables(deps.pool, req.workspace.id) }),
  );

  r.get(
    "/api/v1/tables/:name/rows/:key",
    {
      schema: {
        ...common,
        summary: "One row of a data table, by key",
        params: nameParams.extend({
          key: z.string().min(1).max(TABLE_LIMITS.keyChars).describe("the row's key (URL-encoded)"),
        }),
        response: {
          200: z.object({
            table: z.string(),
            key: z.string(),
            row: z.record(z.string(), z.unknown()).describe("the row as uploaded, key column included"),
          }),
          404: errorSchema.describe("no such table, or no row with that key"),
        },
      },
    },
    async (req) => {
      const { name, key } = req.params;
      return { table: name, key, row: await getRow(deps.pool, req.workspace.id, name, key) };
    },
  );

  r.delete(
    "/api/v1/tables/:name",
    {
      schema: {
        ...common,
        summary: "Delete a data table and its rows",
        description: "Answers the table as it was.",
        params: nameParams,
        response: { 200: tableInfoSchema, 404: errorSchema },
      },
    },
    async (req) => deleteTable(deps.pool, req.workspace.id, req.params.name),
  );
}
