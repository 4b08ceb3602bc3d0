import { useId, type ReactNode, type RefObject } from "react";
import { whereOf, type Draft, type FieldName, type FieldProblem } from "./draft.ts";

export type FieldRefs = RefObject<Partial<Record<FieldName, HTMLInputElement | HTMLTextAreaElement | null>>>;

/** Focuses the field a problem names and selects the line it names. */
export function goToProblem(refs: FieldRefs, p: FieldProblem): void {
  const el = p.field ? refs.current[p.field] : undefined;
  if (!el) return;
  el.focus();
  if (p.line === undefined) return;
  const lines = el.value.split("\n");
  const line = Math.min(p.line, lines.length) - 1;
  const start = lines.slice(0, line).reduce((n, l) => n + l.length + 1, 0);
  el.setSelectionRange(start, start + (lines[line]?.length ?? 0));
  if (el instanceof HTMLTextAreaElement) {
    // Scroll the selected line into view: the textarea does not do it for a programmatic selection.
    const lineHeight = parseFloat(getComputedStyle(el).lineHeight) || 18;
    el.scrollTop = Math.max(0, line * lineHeight - el.clientHeight / 3);
  }
}

function Field(props: {
  name: FieldName;
  label: string;
  hint?: ReactNode;
  problem: FieldProblem | undefined;
  refs: FieldRefs;
  value: string;
  onChange: (v: string) => void;
  multiline?: number;
  mono?: boolean;
  placeholder?: string;
  /** JSON fields: a button that pretty-prints what is typed. */
  json?: boolean;
}) {
  const id = useId();
  const bad = props.problem?.field === props.name ? props.problem : undefined;
  const common = {
    id,
    value: props.value,
    placeholder: props.placeholder,
    spellCheck: false,
    "aria-invalid": bad ? true : undefined,
    "aria-describedby": `${id}-hint ${id}-error`,
  } as const;
  return (
    <div className={`field editor-field ${bad ? "has-error" : ""}`}>
      <div className="row space-between">
        <label htmlFor={id}>{props.label}</label>
        {props.json ? (
          <button
            type="button"
            className="btn btn-small btn-ghost"
            aria-label={`Format ${props.label}`}
            onClick={() => {
              try {
                props.onChange(JSON.stringify(JSON.parse(props.value), null, 2));
              } catch {
                // Not JSON yet: the field's error already says so.
              }
            }}
          >
            Format
          </button>
        ) : null}
      </div>
      {props.multiline ? (
        <textarea
          {...common}
          ref={(el) => {
            props.refs.current[props.name] = el;
          }}
          rows={props.multiline}
          className={props.mono === false ? "prose" : ""}
          // Code keeps its lines as typed, so the line numbers of errors are the lines one sees.
          wrap={props.mono === false ? "soft" : "off"}
          onChange={(e) => props.onChange(e.target.value)}
        />
      ) : (
        <input
          {...common}
          ref={(el) => {
            props.refs.current[props.name] = el;
          }}
          onChange={(e) => props.onChange(e.target.value)}
        />
      )}
      {bad ? (
        <div id={`${id}-error`} className="field-error">
          {whereOf(bad) ? `${whereOf(bad)[0]!.toUpperCase()}${whereOf(bad).slice(1)}: ` : ""}
          {bad.message}
        </div>
      ) : (
        <span id={`${id}-error`} hidden />
      )}
      {props.hint ? (
        <div id={`${id}-hint`} className="muted small">
          {props.hint}
        </div>
      ) : null}
    </div>
  );
}

const LIQUID_HINT = (
  <>
    Liquid: <code>{"{{ profile.traits.firstName }}"}</code>, <code>{"{{ event.properties.total }}"}</code>,{" "}
    <code>{"{{ data.code }}"}</code>
  </>
);

/** The fields of a template, by channel: exactly what PUT /api/v1/templates/:key takes. */
export function ContentEditor(props: {
  draft: Draft;
  onChange: (d: Draft) => void;
  problem: FieldProblem | undefined;
  refs: FieldRefs;
}) {
  const { draft, problem, refs } = props;
  const common = { problem, refs };
  switch (draft.channel) {
    case "email":
      return (
        <div className="editor-fields">
          <Field
            {...common}
            name="subject"
            label="Subject"
            value={draft.subject}
            onChange={(subject) => props.onChange({ ...draft, subject })}
            hint={LIQUID_HINT}
          />
          <div className="field editor-field">
            <div className="row space-between">
              <span className="field-title" id="email-format-label">
                Body
              </span>
              <div className="segmented" role="radiogroup" aria-labelledby="email-format-label">
                {(["mjml", "html"] as const).map((f) => (
                  <label key={f} className={draft.format === f ? "on" : ""}>
                    <input
                      type="radio"
                      name="email-format"
                      checked={draft.format === f}
                      onChange={() => props.onChange({ ...draft, format: f })}
                    />
                    {f === "mjml" ? "MJML" : "HTML"}
                  </label>
                ))}
              </div>
            </div>
          </div>
          <Field
            {...common}
            name="markup"
            label={draft.format === "mjml" ? "MJML" : "HTML"}
            multiline={18}
            value={draft.markup}
            onChange={(markup) => props.onChange({ ...draft, markup })}
            hint={
              <>
                Outputs are HTML-escaped (<code>| raw</code> opts out). <code>{"{% unsubscribe_url %}"}</code>{" "}
                and <code>{"{% preferences_url %}"}</code> give the person&apos;s links.
              </>
            }
          />
          <Field
            {...common}
            name="text"
            label="Text part"
            multiline={5}
            mono={false}
            placeholder="Left empty, it is generated from the HTML."
            value={draft.text}
            onChange={(text) => props.onChange({ ...draft, text })}
          />
        </div>
      );
    case "sms":
      return (
        <div className="editor-fields">
          <Field
            {...common}
            name="body"
            label="Message"
            multiline={6}
            mono={false}
            value={draft.body}
            onChange={(body) => props.onChange({ ...draft, body })}
            hint={<>At most 1,600 characters once rendered. {LIQUID_HINT}</>}
          />
        </div>
      );
    case "push":
      return (
        <div className="editor-fields">
          <Field
            {...common}
            name="title"
            label="Title"
            value={draft.title}
            onChange={(title) => props.onChange({ ...draft, title })}
            hint={LIQUID_HINT}
          />
          <Field
            {...common}
            name="body"
            label="Body"
            multiline={4}
            mono={false}
            value={draft.body}
            onChange={(body) => props.onChange({ ...draft, body })}
          />
          <Field
            {...common}
            name="data"
            label="Data (JSON, optional)"
            json
            multiline={8}
            value={draft.data}
            placeholder='{ "screen": "cart", "cartId": "{{ event.properties.cartId }}" }'
            onChange={(data) => props.onChange({ ...draft, data })}
            hint="Its strings are templates; a string that is only {{ x }} keeps x's type. Title, body and data: 4 KB at most."
          />
        </div>
      );
    case "webhook":
      return (
        <div className="editor-fields">
          <Field
            {...common}
            name="body"
            label="JSON body"
            json
            multiline={16}
            value={draft.body}
            onChange={(body) => props.onChange({ ...draft, body })}
            hint="A JSON object whose strings are templates; a string that is only {{ x }} keeps x's type."
          />
        </div>
      );
  }
}
