export {
  TABLE_LIMITS,
  TABLE_NAME,
  parseCsvRows,
  parseJsonRows,
  rowKey,
  summarizeProblems,
  type ParsedTable,
  type ProblemRule,
  type TableProblem,
  type TableRow,
} from "./core/parse.ts";
export {
  deleteTable,
  getRow,
  getRows,
  listTables,
  lookupKey,
  replaceTable,
  type RowLookup,
  type TableInfo,
} from "./store.ts";
