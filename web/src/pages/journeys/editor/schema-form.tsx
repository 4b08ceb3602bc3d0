import { useState, type ReactNode } from "react";

/** The part of JSON Schema the journey schema uses (GET /api/v1/journeys/schema, zod's output). */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  description?: string;
  default?: unknown;
  $ref?: string;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minItems?: number;
  maxLength?: number;
  additionalProperties?: boolean | JsonSchema;
}

/** What fields need beyond their schema: the step ids a reference may pick. */
export interface FormContext {
  stepIds: string[];
  /** The pattern of a step id in the schema: a string with it names a step, and gets a picker. */
  stepIdPattern: string | undefined;
}

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

const ACRONYMS: Record<string, string> = { url: "URL", api: "API", id: "ID" };

/** "onTimeout" → "On timeout", "hold_until" → "Hold until", "url" → "URL". */
export function humanize(name: string): string {
  const words = name
    .replace(/_/g, " ")
    .replace(/([a-z])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(" ")
    .map((w) => ACRONYMS[w] ?? w)
    .join(" ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const typeOf = (s: JsonSchema): string | undefined => (Array.isArray(s.type) ? s.type[0] : s.type);

/** A schema the generated fields cannot express well: conditions, free JSON, maps. */
function isComplex(s: JsonSchema): boolean {
  if (s.$ref || s.anyOf || s.oneOf) return true;
  const t = typeOf(s);
  if (t === undefined && !s.enum) return true;
  if (t === "object" && !s.properties) return true;
  if (t === "array" && s.items && isComplex(s.items) && typeOf(s.items) !== "object") return true;
  return false;
}

/** A new item for a list of objects: its required fields filled with something to edit. */
function newItem(s: JsonSchema, index: number): unknown {
  const t = typeOf(s);
  if (s.enum) return s.enum[0];
  if (t === "object" && s.properties) {
    const out: Raw = {};
    for (const k of s.required ?? []) {
      const p = s.properties[k]!;
      if (k === "id" || k === "name") out[k] = `${k === "id" ? "branch" : "variant"}_${index + 1}`;
      else out[k] = p.default ?? newItem(p, 0);
    }
    return out;
  }
  if (t === "number" || t === "integer") return 1;
  if (t === "boolean") return false;
  if (t === "array") return [];
  if (isComplex(s)) return {};
  return "";
}

function Hint(props: { schema: JsonSchema }) {
  const d = props.schema.description;
  const def = props.schema.default;
  const text = [
    d,
    def !== undefined && !isObject(def) && !Array.isArray(def) ? `default: ${String(def)}` : "",
  ]
    .filter(Boolean)
    .join(" · ");
  return text ? <small className="muted field-hint">{text}</small> : null;
}

export interface FieldProps {
  name: string;
  label?: string;
  schema: JsonSchema;
  value: unknown;
  required: boolean;
  /** undefined removes the field. */
  onChange: (value: unknown) => void;
  ctx: FormContext;
}

/** One field generated from its schema; objects and lists recurse, complex parts are JSON. */
export function SchemaField(props: FieldProps) {
  const { schema, value, required, onChange, ctx } = props;
  const label = props.label ?? humanize(props.name);
  const t = typeOf(schema);
  if (isComplex(schema)) return <JsonField {...props} label={label} />;
  if (schema.enum) {
    return (
      <label className="field">
        <span>{label}</span>
        <select
          value={value === undefined ? "" : String(value)}
          onChange={(e) => onChange(e.target.value === "" ? undefined : e.target.value)}
        >
          {!required || value === undefined ? (
            <option value="">
              {schema.default !== undefined ? `(default: ${String(schema.default)})` : "—"}
            </option>
          ) : null}
          {schema.enum.map((v) => (
            <option key={String(v)} value={String(v)}>
              {String(v)}
            </option>
          ))}
        </select>
        <Hint schema={{ ...schema, default: undefined }} />
      </label>
    );
  }
  if (t === "string" && ctx.stepIdPattern && schema.pattern === ctx.stepIdPattern) {
    const known = typeof value === "string" && value !== "" && !ctx.stepIds.includes(value);
    return (
      <label className="field">
        <span>{label}</span>
        <select
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value === "" ? (required ? "" : undefined) : e.target.value)}
        >
          <option value="">{required ? "Choose a step" : "(the next step in order)"}</option>
          {known ? <option value={value as string}>{`${String(value)} (no such step)`}</option> : null}
          {ctx.stepIds.map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
        </select>
        <Hint schema={schema} />
      </label>
    );
  }
  if (t === "string") {
    return (
      <label className="field">
        <span>{label}</span>
        <input
          type="text"
          value={typeof value === "string" ? value : ""}
          placeholder={typeof schema.default === "string" ? schema.default : undefined}
          onChange={(e) => onChange(e.target.value === "" && !required ? undefined : e.target.value)}
        />
        <Hint schema={{ ...schema, default: undefined }} />
      </label>
    );
  }
  if (t === "number" || t === "integer") {
    return (
      <label className="field">
        <span>{label}</span>
        <input
          type="number"
          value={typeof value === "number" ? value : ""}
          step={t === "integer" ? 1 : "any"}
          min={schema.minimum}
          max={schema.maximum}
          placeholder={typeof schema.default === "number" ? String(schema.default) : undefined}
          onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))}
        />
        <Hint schema={{ ...schema, default: undefined }} />
      </label>
    );
  }
  if (t === "boolean") {
    return (
      <label className="field field-check">
        <input
          type="checkbox"
          checked={value === true}
          onChange={(e) => onChange(e.target.checked ? true : schema.const === true ? undefined : false)}
        />
        <span>{label}</span>
        <Hint schema={schema} />
      </label>
    );
  }
  if (t === "array" && schema.items) {
    const items = schema.items;
    if (items.enum) return <EnumSetField {...props} label={label} />;
    if (typeOf(items) === "object") return <ObjectListField {...props} label={label} />;
    return <LinesField {...props} label={label} />;
  }
  if (t === "object" && schema.properties) {
    if (value === undefined && !required && schema.default === undefined) {
      return (
        <div className="field">
          <span>{label}</span>
          <div>
            <button type="button" className="btn btn-small" onClick={() => onChange(newItem(schema, 0))}>
              Add {label.toLowerCase()}
            </button>
          </div>
          <Hint schema={schema} />
        </div>
      );
    }
    return (
      <fieldset className="form-group">
        <legend>{label}</legend>
        <Hint schema={schema} />
        <ObjectFields
          schema={schema}
          value={isObject(value) ? value : {}}
          onChange={(v) => onChange(v)}
          ctx={ctx}
        />
        {!required && schema.default === undefined ? (
          <div>
            <button type="button" className="btn btn-small btn-ghost" onClick={() => onChange(undefined)}>
              Remove {label.toLowerCase()}
            </button>
          </div>
        ) : null}
      </fieldset>
    );
  }
  return <JsonField {...props} label={label} />;
}

/** The fields of an object schema, in the schema's order (skipping `omit`). */
export function ObjectFields(props: {
  schema: JsonSchema;
  value: Raw;
  onChange: (value: Raw) => void;
  ctx: FormContext;
  omit?: string[];
  /** Labels to use instead of the humanized property names. */
  labels?: Record<string, string>;
  /** Properties to show first, in this order. */
  first?: string[];
}): ReactNode {
  const { schema, value, onChange, ctx } = props;
  const rank = (k: string) => {
    const i = props.first?.indexOf(k) ?? -1;
    return i === -1 ? Infinity : i;
  };
  return Object.entries(schema.properties ?? {})
    .filter(([k]) => !props.omit?.includes(k))
    .sort(([a], [b]) => rank(a) - rank(b))
    .map(([k, s]) => (
      <SchemaField
        key={k}
        name={k}
        {...(props.labels?.[k] ? { label: props.labels[k] } : {})}
        schema={s}
        value={value[k]}
        required={schema.required?.includes(k) ?? false}
        ctx={ctx}
        onChange={(v) => {
          const next = { ...value };
          if (v === undefined) delete next[k];
          else next[k] = v;
          onChange(next);
        }}
      />
    ));
}

function ObjectListField(props: FieldProps & { label: string }) {
  const { schema, value, onChange, ctx, label } = props;
  const list = Array.isArray(value) ? value : [];
  const items = schema.items!;
  const min = schema.minItems ?? 0;
  const singular = label.replace(/s$/, "");
  return (
    <fieldset className="form-group">
      <legend>{label}</legend>
      <Hint schema={schema} />
      {list.map((item, i) => (
        <fieldset key={i} className="form-item">
          <legend>{`${singular} ${i + 1}`}</legend>
          <ObjectFields
            schema={items}
            value={isObject(item) ? item : {}}
            ctx={ctx}
            onChange={(v) => onChange(list.map((x, j) => (j === i ? v : x)))}
          />
          <div>
            <button
              type="button"
              className="btn btn-small btn-ghost"
              disabled={list.length <= min}
              onClick={() => {
                const next = list.filter((_, j) => j !== i);
                onChange(next.length === 0 && !props.required ? undefined : next);
              }}
            >
              Remove {singular.toLowerCase()} {i + 1}
            </button>
          </div>
        </fieldset>
      ))}
      <div>
        <button
          type="button"
          className="btn btn-small"
          onClick={() => onChange([...list, newItem(items, list.length)])}
        >
          Add {singular.toLowerCase()}
        </button>
      </div>
    </fieldset>
  );
}

function EnumSetField(props: FieldProps & { label: string }) {
  const { schema, value, onChange, label } = props;
  const chosen = Array.isArray(value) ? value : [];
  return (
    <fieldset className="form-group form-inline">
      <legend>{label}</legend>
      {(schema.items!.enum ?? []).map((v) => (
        <label key={String(v)} className="field-check">
          <input
            type="checkbox"
            checked={chosen.includes(v)}
            onChange={(e) => {
              const next = e.target.checked
                ? (schema.items!.enum ?? []).filter((x) => x === v || chosen.includes(x))
                : chosen.filter((x) => x !== v);
              onChange(next.length ? next : undefined);
            }}
          />
          <span>{String(v)}</span>
        </label>
      ))}
      <Hint schema={schema} />
    </fieldset>
  );
}

/**
 * Text that stands for a value (JSON, one item per line): edited freely, and reset only when the
 * value changes from outside (another field, an undo), not when it is the text's own parse.
 */
function useTextFor(value: unknown, format: (v: unknown) => string, parse: (t: string) => unknown) {
  const external = JSON.stringify(value ?? null);
  const [state, setState] = useState({ text: format(value), external });
  if (state.external !== external) {
    setState({ text: parsesTo(parse, state.text, external) ? state.text : format(value), external });
  }
  return [state.text, (text: string) => setState((s) => ({ ...s, text }))] as const;
}

function parsesTo(parse: (t: string) => unknown, text: string, json: string): boolean {
  try {
    return JSON.stringify(parse(text) ?? null) === json;
  } catch {
    return false;
  }
}

const formatLines = (v: unknown) => (Array.isArray(v) ? v.map(String).join("\n") : "");
const parseLines = (t: string) => {
  const lines = t
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.length ? lines : undefined;
};

function LinesField(props: FieldProps & { label: string }) {
  const { schema, value, onChange, label } = props;
  const [text, setText] = useTextFor(value, formatLines, parseLines);
  return (
    <label className="field">
      <span>{label}</span>
      <textarea
        rows={Math.max(2, text.split("\n").length)}
        value={text}
        onChange={(e) => {
          setText(e.target.value);
          const v = parseLines(e.target.value);
          onChange(v === undefined && props.required ? [] : v);
        }}
      />
      <small className="muted field-hint">
        One per line.{schema.description ? ` ${schema.description}` : ""}
      </small>
    </label>
  );
}

const formatJson = (v: unknown) => (v === undefined ? "" : JSON.stringify(v, null, 2));
const parseJson = (t: string): unknown => (t.trim() === "" ? undefined : JSON.parse(t));

/** Conditions, free-form JSON and maps: edited as JSON, applied while it parses. */
function JsonField(props: FieldProps & { label: string }) {
  const { schema, value, onChange, label, required } = props;
  const [text, setText] = useTextFor(value, formatJson, parseJson);
  const [bad, setBad] = useState<string>();
  const isCondition = schema.$ref !== undefined || (schema.anyOf?.length ?? 0) > 0;
  return (
    <label className="field">
      <span>
        {label} <span className="muted small">(JSON)</span>
      </span>
      <textarea
        rows={Math.min(12, Math.max(3, text.split("\n").length))}
        value={text}
        spellCheck={false}
        aria-invalid={bad ? true : undefined}
        onChange={(e) => {
          setText(e.target.value);
          try {
            const v = parseJson(e.target.value);
            setBad(undefined);
            onChange(v === undefined && required ? {} : v);
          } catch (err) {
            setBad(err instanceof Error ? err.message : String(err));
          }
        }}
      />
      {bad ? (
        <small className="field-error" role="alert">
          Not JSON yet: {bad}
        </small>
      ) : null}
      <small className="muted field-hint">
        {isCondition
          ? 'A condition: { "path": "event.properties.total", "op": "gte", "value": 50 }, or { "all": [...] }, { "any": [...] }, { "not": {...} }.'
          : (schema.description ?? "")}
      </small>
    </label>
  );
}
