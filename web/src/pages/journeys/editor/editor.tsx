import { useMemo, useState } from "react";
import { api } from "../../../api.ts";
import { Badge, Card, ConfirmButton, ErrorBox, Loaded, StatusBadge } from "../../../ui/components.tsx";
import { useLoad } from "../../../ui/hooks.ts";
import type { StepKind } from "../core.ts";
import { JourneyMap } from "../map/journey-map.tsx";
import { TRIGGER_ID, stepIndexOf, stepsOf } from "../map/model.ts";
import type { Definition, JourneyDetail, Violation } from "../types.ts";
import { addStep, connect } from "./edit.ts";
import { PublishButton } from "./publish.tsx";
import type { FormContext, JsonSchema } from "./schema-form.tsx";
import { JourneySettings, StepEditor, StepKindOptions } from "./step-editor.tsx";
import { validateJourney } from "./validate.ts";

export interface EditorProps {
  journey: JourneyDetail;
  selected: string | null;
  onSelect: (id: string | null) => void;
  /** The server has a new draft (saved) or version (published). */
  onSaved: () => void;
  onClose: () => void;
}

/** Which node a violation belongs to: its step, the trigger for the journey's own fields. */
function nodeOf(v: Violation, def: Definition): string {
  const i = stepIndexOf(v.path);
  const id = i === undefined ? undefined : stepsOf(def)[i]?.id;
  return typeof id === "string" ? id : TRIGGER_ID;
}

/**
 * The editor on the map: add steps, connect them by dragging a way out onto a step, configure each in
 * a form generated from the definition's JSON Schema, delete them; the shared validator runs on every
 * change. Save keeps the draft; publish shows the diff against the published version first.
 */
export default function JourneyEditor(props: EditorProps) {
  const { journey, selected, onSelect } = props;
  const schema = useLoad(() => api<JsonSchema>("/api/v1/journeys/schema"), []);
  const [draft, setDraft] = useState<Definition>(() => ({ ...journey.draft, key: journey.key }));
  const [saved, setSaved] = useState(() => JSON.stringify({ ...journey.draft, key: journey.key }));
  const [serverViolations, setServerViolations] = useState<Violation[]>(journey.violations);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>();
  const [addKind, setAddKind] = useState<StepKind>("wait");
  const dirty = JSON.stringify(draft) !== saved;

  // The shared validator, in the browser, on every change. The server also knows the workspace's
  // data tables: its answer to the last save adds what only it can check.
  const violations = useMemo(() => {
    const local = validateJourney(draft);
    const seen = new Set(local.map((v) => `${v.path}|${v.message}`));
    const extra = dirty ? [] : serverViolations.filter((v) => !seen.has(`${v.path}|${v.message}`));
    return [...local, ...extra];
  }, [draft, dirty, serverViolations]);
  const problems = useMemo(() => {
    const m = new Map<string, string[]>();
    for (const v of violations) {
      const id = nodeOf(v, draft);
      m.set(id, [...(m.get(id) ?? []), `${v.path ? `${v.path}: ` : ""}${v.message}`]);
    }
    return m;
  }, [violations, draft]);

  const stepIds = stepsOf(draft)
    .map((s) => s.id)
    .filter((id): id is string => typeof id === "string");

  const save = async (): Promise<boolean> => {
    setSaving(true);
    setError(undefined);
    try {
      const body = JSON.stringify(draft);
      const res = await api<{ violations: Violation[] }>(
        `/api/v1/journeys/${encodeURIComponent(journey.key)}`,
        {
          method: "PUT",
          body: draft,
        },
      );
      setSaved(body);
      setServerViolations(res.violations);
      props.onSaved();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setSaving(false);
    }
  };

  const add = () => {
    const after = selected && selected !== TRIGGER_ID && stepIds.includes(selected) ? selected : undefined;
    const { def, id } = addStep(draft, addKind, after ?? stepIds.at(-1));
    setDraft(def);
    onSelect(id);
  };

  const selectedStep =
    selected && selected !== TRIGGER_ID ? stepsOf(draft).find((s) => s.id === selected) : undefined;

  return (
    <Loaded state={schema}>
      {(jsonSchema) => {
        const stepSchema = jsonSchema.properties?.steps?.items;
        const ctx: FormContext = { stepIds, stepIdPattern: stepSchema?.properties?.id?.pattern };
        return (
          <>
            <Card className="editor-bar">
              <div className="editor-toolbar">
                <div className="row">
                  <label className="field">
                    <span>New step</span>
                    <select value={addKind} onChange={(e) => setAddKind(e.target.value as StepKind)}>
                      <StepKindOptions />
                    </select>
                  </label>
                  <button type="button" className="btn" onClick={add}>
                    Add step
                  </button>
                </div>
                <div className="row">
                  <span className="muted small" role="status" aria-live="polite">
                    {saving ? "Saving…" : dirty ? "Unsaved changes" : "Draft saved"}
                  </span>
                  <button
                    type="button"
                    className="btn"
                    disabled={!dirty || saving}
                    onClick={() => void save()}
                  >
                    Save draft
                  </button>
                  <PublishButton
                    journey={journey}
                    draft={draft}
                    violations={violations}
                    beforePublish={async () => (dirty ? save() : true)}
                    onPublished={props.onClose}
                  />
                  {dirty ? (
                    <ConfirmButton
                      label="Discard changes"
                      title="Discard your changes?"
                      body="The draft goes back to how it was last saved."
                      confirmLabel="Discard"
                      danger
                      onConfirm={props.onClose}
                    />
                  ) : (
                    <button type="button" className="btn" onClick={props.onClose}>
                      Close editor
                    </button>
                  )}
                </div>
              </div>
              <p className="muted small editor-hint">
                {selectedStep
                  ? `A new step goes after “${String(selectedStep.id)}”, the selected one.`
                  : "A new step goes after the last one."}{" "}
                Each step goes on to the next in order; drag a step’s bottom dot onto another step to send it
                elsewhere.
              </p>
              {error ? <ErrorBox error={error} /> : null}
            </Card>
            <div className="journey-layout">
              <JourneyMap
                label={`Editing ${journey.name}`}
                definition={draft}
                editable
                problems={problems}
                selected={selected}
                onSelect={onSelect}
                onConnect={(from, output, to) => setDraft((d) => connect(d, from, output, to))}
                height={640}
              />
              <aside className="side-panel" aria-label="Configure">
                {selected === TRIGGER_ID ? (
                  <JourneySettings
                    schema={jsonSchema}
                    draft={draft}
                    onChange={setDraft}
                    ctx={ctx}
                    problems={problems.get(TRIGGER_ID)}
                  />
                ) : selectedStep && stepSchema ? (
                  <StepEditor
                    key={String(selectedStep.id)}
                    stepSchema={stepSchema}
                    draft={draft}
                    step={selectedStep}
                    onChange={setDraft}
                    onSelect={onSelect}
                    ctx={ctx}
                    problems={problems.get(String(selectedStep.id))}
                  />
                ) : (
                  <Card title="Build the journey">
                    <div className="stack">
                      <p className="muted">
                        Select a step on the map to configure it, or the trigger to set what lets people in
                        and the journey’s rules.
                      </p>
                      <p className="muted">
                        Add steps with <b>Add step</b>; each goes on to the next one in order unless you
                        connect it elsewhere by dragging its bottom dot onto another step.
                      </p>
                    </div>
                  </Card>
                )}
              </aside>
            </div>
            <Card
              title={
                violations.length ? (
                  <span className="row">
                    Problems <Badge tone="bad">{violations.length}</Badge>
                  </span>
                ) : (
                  "Problems"
                )
              }
              actions={<StatusBadge status={journey.status} />}
            >
              {violations.length === 0 ? (
                <p className="ok-text" role="status">
                  No problems: the draft can be published.
                </p>
              ) : (
                <ul className="violations" aria-label="Problems">
                  {violations.map((v, n) => (
                    <li key={n}>
                      <button type="button" onClick={() => onSelect(nodeOf(v, draft))}>
                        {v.path ? <code>{v.path}</code> : null} {v.message}
                      </button>
                    </li>
                  ))}
                </ul>
              )}
            </Card>
          </>
        );
      }}
    </Loaded>
  );
}
