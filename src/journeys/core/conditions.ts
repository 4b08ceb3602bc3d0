import { z } from "zod";

/**
 * Conditions of branches, entry rules, exits and goals: a tree of `all` / `any` / `not` over leaves
 * that compare one value of the scope (`event.`, `profile.`, `context.`, `instance.`) with a literal.
 * Evaluation is pure and reports every leaf it compared, so the audit trail can say which branch was
 * taken and why.
 */

/** Every operator a leaf may use. */
export const OPERATORS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "nin",
  "contains",
  "exists",
  "startsWith",
  "matches",
] as const;
export type Operator = (typeof OPERATORS)[number];

/** A condition tree; a leaf compares the value at `path` with `value` using `op`. */
export type Condition =
  | { all: Condition[] }
  | { any: Condition[] }
  | { not: Condition }
  | { path: string; op: Operator; value?: unknown };

/** One leaf as evaluated, for the audit trail: what was compared with what, and the outcome. */
export interface Comparison {
  path: string;
  op: Operator;
  /** The leaf's value (for `exists`, the boolean it expects). */
  expected: unknown;
  /** The value found at `path`; undefined when missing. */
  actual: unknown;
  result: boolean;
}

/** The roots a path may start from: what the engine puts in the scope. */
export const PATH_ROOTS = ["event", "profile", "context", "instance"] as const;

/** Longest `matches` pattern accepted: long patterns are where catastrophic backtracking hides. */
export const MAX_PATTERN_LENGTH = 200;

const PATH = /^(?:event|profile|context|instance)(?:\.[^.\s]+)+$/;
const PATH_MESSAGE = "path must start with event., profile., context. or instance. and have no empty segment";
const SHAPE_MESSAGE =
  "a condition is { all: [...] }, { any: [...] }, { not: {...} } or { path, op, value } " +
  "with path, op and value only";

/** The objects' own errors: an unknown key is named, anything else gets the shape of a condition. */
const shapeError = (issue: { code?: string; keys?: string[] }) =>
  issue.code === "unrecognized_keys" && issue.keys
    ? `unknown key ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}: ${SHAPE_MESSAGE}`
    : SHAPE_MESSAGE;

const list = (key: "all" | "any") =>
  z.array(conditionSchemaRef(), { error: `${key} must be a list of conditions` });

const leafSchema = z
  .strictObject(
    {
      path: z.string({ error: PATH_MESSAGE }).refine((path) => PATH.test(path), {
        error: (issue) => `${PATH_MESSAGE} (got ${JSON.stringify(issue.input)})`,
      }),
      op: z.enum(OPERATORS, { error: `op must be one of ${OPERATORS.join(", ")}` }),
      value: z.unknown().optional(),
    },
    { error: shapeError },
  )
  .superRefine((leaf, ctx) => {
    const problem = valueProblem(leaf.op, leaf.value);
    if (problem) ctx.addIssue({ code: "custom", path: ["value"], message: problem, input: leaf.value });
  });

const branches = [
  z.strictObject(
    {
      get all() {
        return list("all");
      },
    },
    { error: shapeError },
  ),
  z.strictObject(
    {
      get any() {
        return list("any");
      },
    },
    { error: shapeError },
  ),
  z.strictObject(
    {
      get not() {
        return conditionSchemaRef();
      },
    },
    { error: shapeError },
  ),
  leafSchema,
] as const;

/**
 * A condition as written in a journey definition. Strict: unknown keys are refused, paths must start
 * from a scope root, and each operator's value is checked (a list for in/nin, a boolean for exists,
 * a compiling pattern of at most 200 characters for matches).
 */
export const conditionSchema: z.ZodType<Condition> = z.union(branches, {
  // zod reports a failed union as "Invalid input"; name the rule of the branch the author meant.
  error: (issue) => {
    if (issue.code !== "invalid_union") return undefined;
    const meant = intendedBranch(issue.input);
    const issues = meant === undefined ? undefined : issue.errors[meant];
    if (!issues || issues.length === 0) return SHAPE_MESSAGE;
    return issues.map(withPath).join("; ");
  },
});

/** A nested issue's message, led by its path unless the message starts by naming its field already. */
function withPath(issue: { path: PropertyKey[]; message: string }): string {
  const where = issue.path.map(String).join(".");
  return where === "" || issue.message.startsWith(where) ? issue.message : `${where}: ${issue.message}`;
}

function conditionSchemaRef(): z.ZodType<Condition> {
  return conditionSchema;
}

/** Which branch an object was meant to be, by its keys: its errors are the ones worth showing. */
function intendedBranch(input: unknown): number | undefined {
  if (!isPlainObject(input)) return undefined;
  if ("all" in input) return 0;
  if ("any" in input) return 1;
  if ("not" in input) return 2;
  if ("path" in input || "op" in input) return 3;
  return undefined;
}

/** What is wrong with a leaf's value for its operator, as a sentence; undefined when nothing is. */
function valueProblem(op: Operator, value: unknown): string | undefined {
  switch (op) {
    case "exists":
      return value === undefined || typeof value === "boolean"
        ? undefined
        : "value of exists must be true or false (or absent, meaning true)";
    case "in":
    case "nin":
      return Array.isArray(value) ? undefined : `value of ${op} must be a list`;
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return typeof value === "number" || typeof value === "string"
        ? undefined
        : `value of ${op} must be a number or a string (such as an ISO 8601 date)`;
    case "startsWith":
      return typeof value === "string" ? undefined : "value of startsWith must be a string";
    case "matches":
      return patternProblem(value);
    case "eq":
    case "neq":
    case "contains":
      return value === undefined ? `value is required with ${op}` : undefined;
    default:
      return assertNever(op);
  }
}

function patternProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return "value of matches must be a regular expression, as a string";
  if (value.length > MAX_PATTERN_LENGTH) {
    return `value of matches must be at most ${MAX_PATTERN_LENGTH} characters (got ${value.length})`;
  }
  try {
    new RegExp(value);
    return undefined;
  } catch (error) {
    return `value of matches is not a valid regular expression: ${(error as Error).message}`;
  }
}

/** The value at a dotted path (`event.properties.items.0.id`); undefined when any segment is missing. */
export function getPath(scope: unknown, path: string): unknown {
  let current = scope;
  for (const segment of path.split(".")) {
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (isPlainObject(current)) {
      // Own properties only: `profile.constructor` must not reach Object's prototype.
      if (!Object.hasOwn(current, segment)) return undefined;
      current = current[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

/** Whether a condition holds in a scope `{ event, profile, context, instance }`, with every leaf compared. */
export function evaluateCondition(
  condition: Condition,
  scope: Record<string, unknown>,
): { result: boolean; compared: Comparison[] } {
  const compared: Comparison[] = [];
  const result = evaluate(condition, scope, compared);
  return { result, compared };
}

function evaluate(condition: Condition, scope: Record<string, unknown>, compared: Comparison[]): boolean {
  // `every` and `some` stop at the first decisive leaf, so `compared` lists only what was evaluated.
  if ("all" in condition) return condition.all.every((c) => evaluate(c, scope, compared));
  if ("any" in condition) return condition.any.some((c) => evaluate(c, scope, compared));
  if ("not" in condition) return !evaluate(condition.not, scope, compared);
  const actual = getPath(scope, condition.path);
  const expected = condition.op === "exists" ? (condition.value ?? true) : condition.value;
  const result = compare(condition.op, actual, expected);
  compared.push({ path: condition.path, op: condition.op, expected, actual, result });
  return result;
}

/** One operator applied. Nothing coerces (`"5"` is not `5`); gt/lt order two numbers or two strings. */
function compare(op: Operator, actual: unknown, expected: unknown): boolean {
  switch (op) {
    case "exists":
      // null counts as absent: SDKs send `null` to clear a trait.
      return (actual !== undefined && actual !== null) === expected;
    case "neq":
      return actual === undefined || !deepEqual(actual, expected);
    case "nin":
      return actual === undefined || (Array.isArray(expected) && !expected.some((e) => deepEqual(actual, e)));
    default:
      break;
  }
  if (actual === undefined) return false;
  switch (op) {
    case "eq":
      return deepEqual(actual, expected);
    case "in":
      return Array.isArray(expected) && expected.some((e) => deepEqual(actual, e));
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return order(op, actual, expected);
    case "contains":
      if (Array.isArray(actual)) return actual.some((a) => deepEqual(a, expected));
      return typeof actual === "string" && typeof expected === "string" && actual.includes(expected);
    case "startsWith":
      return typeof actual === "string" && typeof expected === "string" && actual.startsWith(expected);
    case "matches": {
      if (typeof actual !== "string" || typeof expected !== "string") return false;
      const pattern = compilePattern(expected);
      return pattern !== undefined && pattern.test(actual);
    }
    default:
      return assertNever(op);
  }
}

function order(op: "gt" | "gte" | "lt" | "lte", a: unknown, b: unknown): boolean {
  const comparable =
    (typeof a === "number" && typeof b === "number") || (typeof a === "string" && typeof b === "string");
  if (!comparable) return false;
  const x = a as number | string;
  const y = b as number | string;
  switch (op) {
    case "gt":
      return x > y;
    case "gte":
      return x >= y;
    case "lt":
      return x < y;
    case "lte":
      return x <= y;
    default:
      return assertNever(op);
  }
}

/** Compiled patterns by source: the same journey evaluates the same few patterns for every event. */
const patterns = new Map<string, RegExp | undefined>();

function compilePattern(source: string): RegExp | undefined {
  if (patterns.has(source)) return patterns.get(source);
  if (patterns.size >= 1000) patterns.clear();
  let pattern: RegExp | undefined;
  try {
    pattern = source.length <= MAX_PATTERN_LENGTH ? new RegExp(source) : undefined;
  } catch {
    pattern = undefined;
  }
  patterns.set(source, pattern);
  return pattern;
}

/** Structural equality of JSON values: arrays by position, objects by their own keys. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a === "number" && typeof b === "number") return Number.isNaN(a) && Number.isNaN(b);
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const keys = Object.keys(a);
    return (
      keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]))
    );
  }
  return false;
}

/** Every path a condition reads, once each, in the order written: for validating a journey. */
export function conditionPaths(condition: Condition): string[] {
  const paths = new Set<string>();
  const visit = (c: Condition): void => {
    if ("all" in c) c.all.forEach(visit);
    else if ("any" in c) c.any.forEach(visit);
    else if ("not" in c) visit(c.not);
    else paths.add(c.path);
  };
  visit(condition);
  return [...paths];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function assertNever(value: never): never {
  throw new Error(`unexpected operator ${String(value)}`);
}
