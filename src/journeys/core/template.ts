import {
  Context,
  Liquid,
  LiquidError,
  Value,
  toValueSync,
  type FS,
  type FilterImplOptions,
  type Template,
} from "liquidjs";

/** liquidjs's filter function (its `this` carries the render context); the package does not export it. */
type FilterHandler = Extract<FilterImplOptions, (...args: never[]) => unknown>;

/**
 * Liquid templates in journey definitions (webhook bodies, profile updates, message variables),
 * rendered synchronously by the pure engine from `{ event, profile, context, instance }`, and in
 * message templates (messaging adds its own tags and HTML escaping through createTemplateEngine).
 *
 * Templates come from journey authors, so the engine is locked down: no file access, bounded parse
 * size, render time, memory and output, unknown filters are errors, and nothing reads the clock or
 * draws random numbers (that would break replay): `"now" | date` and `sample` are refused.
 */

/** Longest template accepted, in characters. */
export const MAX_TEMPLATE_LENGTH = 100_000;
/** Longest rendered output, in characters. */
export const MAX_OUTPUT_LENGTH = 1_000_000;

/** A file system that has no files: `include`, `render` and `layout` can never read the disk. */
const noFiles: FS = {
  exists: async () => false,
  existsSync: () => false,
  readFile: async (file) => Promise.reject(new Error(`no files are available to templates (${file})`)),
  readFileSync: (file) => {
    throw new Error(`no files are available to templates (${file})`);
  },
  resolve: (_dir, file) => file,
  contains: async () => false,
  containsSync: () => false,
};

/** A template that does not parse or does not render; the message names the problem and its line. */
export class TemplateError extends Error {
  override name = "TemplateError";
  /** Which part of a larger template failed (`subject`, `mjml`, `body.items.0`), when known. */
  readonly field: string | undefined;
  constructor(
    /** What went wrong, without the position. */
    readonly problem: string,
    /** 1-based line of the template where it went wrong, when known. */
    readonly line?: number,
    /** 1-based column, when known. */
    readonly column?: number,
    options?: { cause?: unknown; field?: string },
  ) {
    const at =
      line === undefined
        ? problem
        : `line ${line}${column === undefined ? "" : `, column ${column}`}: ${problem}`;
    super(options?.field === undefined ? at : `${options.field}: ${at}`, options);
    this.field = options?.field;
  }
}

/**
 * A tag without arguments whose output depends only on the render's scope, e.g. messaging's
 * `{% unsubscribe_url %}`. It reads what it needs from the scope object given to renderTemplate (a
 * symbol key keeps it out of reach of template code). An escaping engine escapes what it returns.
 */
export type ValueTag = (scope: Readonly<Record<string | symbol, unknown>>) => string;

/** What a template engine adds to the journeys' locked-down defaults. */
export interface TemplateEngineOptions {
  /** Extra tags by name. */
  tags?: Record<string, ValueTag>;
  /**
   * `"escape"`: every `{{ output }}` is HTML-escaped (`| raw` opts out), for templates whose output is
   * HTML. Default: output as it is.
   */
  outputEscape?: "escape";
  /** How many parsed templates to keep (default 1000); fewer for engines of large templates. */
  cacheSize?: number;
}

/** Rendering and checking with one configured Liquid instance. */
export interface TemplateEngine {
  /**
   * A template rendered with `scope`. A template that is exactly one `{{ expression }}` gives the
   * expression's value as it is (an array stays an array, a missing value is undefined); any other
   * renders to a string. Throws TemplateError.
   */
  renderTemplate(template: string, scope: Record<string | symbol, unknown>): unknown;
  /** A template rendered to a string, whatever its shape (`{{ list }}` joins the list). Throws TemplateError. */
  renderText(template: string, scope: Record<string | symbol, unknown>): string;
  /** A value with every string in it rendered as a template (object keys are left as they are). */
  renderValue(value: unknown, scope: Record<string | symbol, unknown>): unknown;
  /** Why a template does not parse (`line 2, column 1: tag {% if %} not closed`), or undefined when it does. */
  checkTemplate(template: string): string | undefined;
  /** Every string of a value that does not parse, with where it is (`body.items.0`) and why. */
  checkValue(value: unknown): Array<{ path: string; message: string }>;
}

/** `{{ expression }}` and nothing else but whitespace: its value keeps its type. */
const SINGLE_EXPRESSION = /^(\s*)\{\{-?([\s\S]*?)-?\}\}\s*$/;

/** A Liquid instance with the journeys' safety settings, plus `options`. */
function createLiquid(options: TemplateEngineOptions): Liquid {
  const liquid = new Liquid({
    fs: noFiles,
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    parseLimit: MAX_TEMPLATE_LENGTH,
    renderLimit: 50,
    memoryLimit: 10_000_000,
    // Dates render the same on every machine: UTC and a fixed locale, not the host's.
    timezoneOffset: 0,
    locale: "en-US",
    ...(options.outputEscape ? { outputEscape: options.outputEscape } : {}),
  });

  // Partials would come from files, and there are none: say so when the template is checked.
  for (const tag of ["include", "render", "layout"]) delete liquid.tags[tag];
  // `sample` shuffles with Math.random.
  delete liquid.filters.sample;
  // Date filters read the clock for "now" and "today".
  for (const name of [
    "date",
    "date_to_xmlschema",
    "date_to_rfc822",
    "date_to_string",
    "date_to_long_string",
  ]) {
    const builtin = liquid.filters[name];
    if (typeof builtin !== "function") continue;
    liquid.registerFilter(
      name,
      function (this: ThisParameterType<FilterHandler>, value: unknown, ...args: unknown[]) {
        if (value === "now" || value === "today") {
          throw new Error(
            `"${value}" is not available in journey templates: use a time from the event or context`,
          );
        }
        return builtin.call(this, value, ...args);
      },
    );
  }
  const escaping = options.outputEscape !== undefined;
  for (const [name, tag] of Object.entries(options.tags ?? {})) {
    liquid.registerTag(name, {
      parse(token) {
        if (token.args.trim() !== "") throw new Error(`{% ${name} %} takes no arguments`);
      },
      render(ctx: Context) {
        const value = tag(ctx.environments as Record<string | symbol, unknown>);
        return escaping ? escapeHtml(value) : value;
      },
    });
  }
  return liquid;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A template engine with the journeys' limits and refusals (no files, no clock, no randomness),
 * plus extra tags or HTML escaping. Journeys use the default one through the functions below.
 */
export function createTemplateEngine(options: TemplateEngineOptions = {}): TemplateEngine {
  const liquid = createLiquid(options);
  /** Parsed templates by source: the same few templates render for every instance of a journey. */
  const parsed = new Map<string, Template[]>();

  const parse = (template: string): Template[] => {
    const cached = parsed.get(template);
    if (cached) return cached;
    const templates = liquid.parse(template);
    if (parsed.size >= (options.cacheSize ?? 1000)) parsed.clear();
    parsed.set(template, templates);
    return templates;
  };

  // A lone expression is parsed once too (evalValueSync parses it on every call: a quarter of advance).
  const values = new Map<string, Value>();
  const evalValue = (expression: string, scope: Record<string | symbol, unknown>): unknown => {
    let value = values.get(expression);
    if (!value) {
      value = new Value(expression, liquid);
      if (values.size >= (options.cacheSize ?? 1000)) values.clear();
      values.set(expression, value);
    }
    return toValueSync(value.value(new Context(scope, liquid.options, {}, { liquid })));
  };

  const renderText = (template: string, scope: Record<string | symbol, unknown>): string => {
    const templates = withPosition(() => parse(template));
    return limitOutput(withPosition(() => liquid.renderSync(templates, scope) as string));
  };

  const renderTemplate = (template: string, scope: Record<string | symbol, unknown>): unknown => {
    const templates = withPosition(() => parse(template));
    const single = singleExpression(template);
    if (single) {
      const value = withPosition(() => evalValue(single.expression, scope), single.line);
      if (typeof value === "string") limitOutput(value);
      return value;
    }
    return limitOutput(withPosition(() => liquid.renderSync(templates, scope) as string));
  };

  const renderValue = (value: unknown, scope: Record<string | symbol, unknown>): unknown => {
    if (typeof value === "string") return renderTemplate(value, scope);
    if (Array.isArray(value)) return value.map((item) => renderValue(item, scope));
    if (isPlainObject(value)) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderValue(item, scope)]));
    }
    return value;
  };

  const checkTemplate = (template: string): string | undefined => {
    try {
      withPosition(() => parse(template));
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };

  const checkValue = (value: unknown): Array<{ path: string; message: string }> => {
    const problems: Array<{ path: string; message: string }> = [];
    const visit = (v: unknown, path: string[]): void => {
      if (typeof v === "string") {
        const message = checkTemplate(v);
        if (message !== undefined) problems.push({ path: path.join("."), message });
      } else if (Array.isArray(v)) {
        v.forEach((item, i) => visit(item, [...path, String(i)]));
      } else if (isPlainObject(v)) {
        for (const [key, item] of Object.entries(v)) visit(item, [...path, key]);
      }
    };
    visit(value, []);
    return problems;
  };

  return { renderTemplate, renderText, renderValue, checkTemplate, checkValue };
}

function singleExpression(template: string): { expression: string; line: number } | undefined {
  const match = SINGLE_EXPRESSION.exec(template);
  if (!match) return undefined;
  const [, before, expression] = match;
  // `{{ a }} and {{ b }}` also matches the pattern, with `}}` inside: that is a text template.
  if (/\{\{|\}\}|\{%|%\}/.test(expression!)) return undefined;
  return { expression: expression!, line: 1 + (before!.match(/\n/g)?.length ?? 0) };
}

function limitOutput(output: string): string {
  if (output.length > MAX_OUTPUT_LENGTH) {
    throw new TemplateError(`output is longer than ${MAX_OUTPUT_LENGTH} characters (${output.length})`);
  }
  return output;
}

/** Runs liquidjs and turns what it throws into a TemplateError with the position it names. */
function withPosition<T>(run: () => T, fallbackLine?: number): T {
  try {
    return run();
  } catch (error) {
    if (error instanceof TemplateError) throw error;
    if (LiquidError.is(error)) {
      const [line, column] = error.token?.getPosition() ?? [fallbackLine, undefined];
      const problem = (error.originalError?.message ?? error.message).replace(/, line:\d+, col:\d+$/, "");
      throw new TemplateError(problem, line, column, { cause: error });
    }
    throw new TemplateError(error instanceof Error ? error.message : String(error), fallbackLine, undefined, {
      cause: error,
    });
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** The journeys' engine: no extra tags, no escaping. */
const journeys = createTemplateEngine();

/**
 * A template rendered with `scope`. A template that is exactly one `{{ expression }}` gives the
 * expression's value as it is (an array stays an array, a missing value is undefined); any other
 * renders to a string. Throws TemplateError.
 */
export function renderTemplate(template: string, scope: Record<string, unknown>): unknown {
  return journeys.renderTemplate(template, scope);
}

/** A value with every string in it rendered as a template (object keys are left as they are). */
export function renderValue(value: unknown, scope: Record<string, unknown>): unknown {
  return journeys.renderValue(value, scope);
}

/** Why a template does not parse (`line 2, column 1: tag {% if %} not closed`), or undefined when it does. */
export function checkTemplate(template: string): string | undefined {
  return journeys.checkTemplate(template);
}

/** Every string of a value that does not parse, with where it is (`body.items.0`) and why. */
export function checkValue(value: unknown): Array<{ path: string; message: string }> {
  return journeys.checkValue(value);
}
