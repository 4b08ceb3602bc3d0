import { useState } from "react";
import { Card, ConfirmButton } from "../../../ui/components.tsx";
import { STEP_KINDS, type StepKind } from "../core.ts";
import { KIND_LABELS, kindOf, summaryOf } from "../map/model.ts";
import type { Definition } from "../types.ts";
import { changeKind, deleteStep, renameStep, replaceStep } from "./edit.ts";
import { ObjectFields, SchemaField, type FormContext, type JsonSchema } from "./schema-form.tsx";

type Raw = Record<string, unknown>;
const isObject = (v: unknown): v is Raw => typeof v === "object" && v !== null && !Array.isArray(v);

function Problems(props: { problems: string[] | undefined }) {
  if (!props.problems?.length) return null;
  return (
    <ul className="violations step-problems" aria-label="Problems here">
      {props.problems.map((p) => (
        <li key={p}>
          <code>{p}</code>
        </li>
      ))}
    </ul>
  );
}

/** The form of one step: id, name, what it does (its kind's fields from the schema), where it goes next. */
export function StepEditor(props: {
  stepSchema: JsonSchema;
  draft: Definition;
  step: Raw;
  onChange: (def: Definition) => void;
  onSelect: (id: string | null) => void;
  ctx: FormContext;
  problems: string[] | undefined;
}) {
  const { stepSchema, draft, step, ctx } = props;
  const id = String(step.id ?? "");
  const [idText, setIdText] = useState(id);
  const kind = kindOf(step);
  const kindSchema = kind === "unknown" ? undefined : stepSchema.properties?.[kind];
  const pattern = ctx.stepIdPattern ? new RegExp(ctx.stepIdPattern) : undefined;
  const idProblem =
    idText === id
      ? undefined
      : pattern && !pattern.test(idText)
        ? "a letter, then letters, digits, _ or - (at most 64)"
        : ctx.stepIds.includes(idText)
          ? `another step is called “${idText}”`
          : undefined;
  const commitId = () => {
    if (idText === id || idProblem) return;
    props.onChange(renameStep(draft, id, idText));
    props.onSelect(idText);
  };
  const update = (next: Raw) => props.onChange(replaceStep(draft, id, next));
  const title = typeof step.name === "string" && step.name ? step.name : id;

  return (
    <Card
      title={
        <span>
          <span className="muted small kind-label">{kind === "unknown" ? "Step" : KIND_LABELS[kind]}</span>
          <br />
          {title}
        </span>
      }
      actions={
        <button type="button" className="btn btn-small btn-ghost" onClick={() => props.onSelect(null)}>
          Close
        </button>
      }
    >
      <form className="stack step-form" aria-label={`Step ${id}`} onSubmit={(e) => e.preventDefault()}>
        <Problems problems={props.problems} />
        <p className="muted small">{summaryOf(step)}</p>
        <label className="field">
          <span>Step id</span>
          <input
            className="mono"
            value={idText}
            onChange={(e) => setIdText(e.target.value)}
            onBlur={commitId}
            onKeyDown={(e) => {
              if (e.key === "Enter") commitId();
            }}
            aria-invalid={idProblem ? true : undefined}
          />
          {idProblem ? (
            <small className="field-error">{idProblem}</small>
          ) : (
            <small className="muted field-hint">Renaming it updates every way that leads here.</small>
          )}
        </label>
        <label className="field">
          <span>Name</span>
          <input
            value={typeof step.name === "string" ? step.name : ""}
            maxLength={200}
            placeholder="shown on the map instead of the id"
            onChange={(e) => {
              const next = { ...step };
              if (e.target.value) next.name = e.target.value;
              else delete next.name;
              update(next);
            }}
          />
        </label>
        <label className="field">
          <span>What it does</span>
          <select
            value={kind === "unknown" ? "" : kind}
            onChange={(e) => props.onChange(changeKind(draft, id, e.target.value as StepKind))}
          >
            {kind === "unknown" ? <option value="">Choose…</option> : null}
            <StepKindOptions />
          </select>
        </label>
        {kindSchema && kind !== "unknown" ? (
          <fieldset className="form-group">
            <legend>{KIND_LABELS[kind]}</legend>
            <ObjectFields
              schema={kindSchema}
              value={isObject(step[kind]) ? (step[kind] as Raw) : {}}
              ctx={ctx}
              onChange={(v) => update({ ...step, [kind]: v })}
            />
          </fieldset>
        ) : null}
        {kind !== "exit" && stepSchema.properties?.next ? (
          <SchemaField
            name="next"
            label="Then go to"
            schema={stepSchema.properties.next}
            value={step.next}
            required={false}
            ctx={{ ...ctx, stepIds: ctx.stepIds.filter((s) => s !== id) }}
            onChange={(v) => {
              const next = { ...step };
              if (v === undefined) delete next.next;
              else next.next = v;
              update(next);
            }}
          />
        ) : null}
        <div>
          <ConfirmButton
            label="Delete step"
            title={`Delete step “${id}”?`}
            body="Ways that led to it go on to the next step in order instead (a branch case keeps the name: pick another step for it)."
            confirmLabel="Delete"
            danger
            onConfirm={() => {
              props.onChange(deleteStep(draft, id));
              props.onSelect(null);
            }}
          />
        </div>
      </form>
    </Card>
  );
}

/** The journey's own fields (not its steps): name, trigger, entry rules, exits, goal, context. */
export function JourneySettings(props: {
  schema: JsonSchema;
  draft: Definition;
  onChange: (def: Definition) => void;
  ctx: FormContext;
  problems: string[] | undefined;
}) {
  return (
    <Card
      title={
        <span>
          <span className="muted small kind-label">Trigger and rules</span>
          <br />
          {typeof props.draft.name === "string" ? props.draft.name : "Journey"}
        </span>
      }
    >
      <form className="stack" aria-label="Trigger and rules" onSubmit={(e) => e.preventDefault()}>
        <Problems problems={props.problems} />
        <ObjectFields
          schema={props.schema}
          value={props.draft}
          omit={["key", "steps"]}
          first={["name", "trigger"]}
          labels={{ exits: "Exit events", timeZone: "Time zone" }}
          ctx={props.ctx}
          onChange={(v) => props.onChange(v as Definition)}
        />
      </form>
    </Card>
  );
}

/** One option per kind of step, labelled as on the map. */
export function StepKindOptions() {
  return STEP_KINDS.map((k) => (
    <option key={k} value={k}>
      {KIND_LABELS[k]}
    </option>
  ));
}
