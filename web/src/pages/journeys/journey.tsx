import { lazy, Suspense, useMemo } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { api, ApiError } from "../../api.ts";
import {
  Ago,
  Badge,
  Card,
  EmptyState,
  ErrorBox,
  Loaded,
  Loading,
  Page,
  Stat,
  StatusBadge,
  formatNumber,
} from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import { normalized } from "./core.ts";
import { JourneyMap } from "./map/journey-map.tsx";
import { StepPanel } from "./step-panel.tsx";
import type { JourneyDetail, JourneyStats } from "./types.ts";
import "./journeys.css";

// The editor (forms, the validator with its template engine) loads only when editing starts.
const JourneyEditor = lazy(() => import("./editor/editor.tsx"));

/** A journey: its map with live numbers (click a step for its people), and the editor on the same map. */
export default function JourneyPage() {
  const { key = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const editing = params.get("edit") === "1";
  const selected = params.get("step");
  const journey = useLoad(() => api<JourneyDetail>(`/api/v1/journeys/${encodeURIComponent(key)}`), [key]);

  const setEditing = (on: boolean) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (on) next.set("edit", "1");
        else next.delete("edit");
        return next;
      },
      { replace: false },
    );
  const select = (id: string | null) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (id) next.set("step", id);
        else next.delete("step");
        return next;
      },
      { replace: true },
    );

  const data = journey.data;
  return (
    <Page
      title={data?.name ?? key}
      subtitle={
        data ? (
          <span className="row">
            <span className="mono">{data.key}</span>
            <StatusBadge status={data.status} />
            {data.versions[0] ? (
              <span>
                v{data.versions[0].version} published <Ago value={data.versions[0].publishedAt} />
              </span>
            ) : (
              <span>not published yet</span>
            )}
          </span>
        ) : undefined
      }
      actions={
        data && editing ? (
          <StatusActions journey={data} onChanged={journey.reload} />
        ) : data ? (
          <>
            <Link className="btn btn-ghost" to="/journeys">
              All journeys
            </Link>
            <StatusActions journey={data} onChanged={journey.reload} />
            <button
              type="button"
              className={`btn ${data.publishedVersion === null ? "btn-primary" : ""}`}
              onClick={() => setEditing(true)}
            >
              Edit journey
            </button>
          </>
        ) : undefined
      }
    >
      {journey.error instanceof ApiError && journey.error.status === 404 ? (
        <Card>
          <EmptyState
            title={`There is no journey “${key}”`}
            action={
              <Link className="btn" to="/journeys">
                All journeys
              </Link>
            }
          >
            <p>Its key may be spelled differently: the list has every journey of this workspace.</p>
          </EmptyState>
        </Card>
      ) : (
        <Loaded state={journey}>
          {(j) =>
            editing ? (
              <Suspense fallback={<Loading label="Opening the editor…" />}>
                <JourneyEditor
                  journey={j}
                  selected={selected}
                  onSelect={select}
                  onSaved={journey.reload}
                  onClose={() => {
                    journey.reload();
                    setEditing(false);
                  }}
                />
              </Suspense>
            ) : (
              <JourneyView
                journey={j}
                selected={selected}
                onSelect={select}
                onEdit={() => setEditing(true)}
              />
            )
          }
        </Loaded>
      )}
    </Page>
  );
}

/** Pause or resume, for a journey that runs. */
function StatusActions(props: { journey: JourneyDetail; onChanged: () => void }) {
  const { status, key } = props.journey;
  if (status !== "active" && status !== "paused") return null;
  const action = status === "active" ? "pause" : "resume";
  return (
    <StatusButton
      label={action === "pause" ? "Pause" : "Resume"}
      run={() => api(`/api/v1/journeys/${encodeURIComponent(key)}/${action}`, { method: "POST" })}
      onDone={props.onChanged}
    />
  );
}

function StatusButton(props: { label: string; run: () => Promise<unknown>; onDone: () => void }) {
  return (
    <button
      type="button"
      className="btn"
      onClick={async (e) => {
        const button = e.currentTarget;
        button.disabled = true;
        try {
          await props.run();
          props.onDone();
        } finally {
          button.disabled = false;
        }
      }}
    >
      {props.label}
    </button>
  );
}

function JourneyView(props: {
  journey: JourneyDetail;
  selected: string | null;
  onSelect: (id: string | null) => void;
  onEdit: () => void;
}) {
  const { journey } = props;
  const published = journey.versions[0];
  const definition = published?.definition ?? journey.draft;
  const stats = useLoad(
    () => api<JourneyStats>(`/api/v1/journeys/${encodeURIComponent(journey.key)}/stats`),
    [journey.key],
    3000,
  );
  const byStep = useMemo(
    () => (stats.data ? new Map(stats.data.steps.map((s) => [s.step, s])) : undefined),
    [stats.data],
  );
  const unpublished = useMemo(
    () =>
      published !== undefined &&
      JSON.stringify(normalized(journey.draft)) !== JSON.stringify(normalized(published.definition)),
    [journey.draft, published],
  );
  const totals = stats.data?.totals;
  const hasGoal = definition.goal !== undefined;

  return (
    <>
      {!published ? (
        <div className="notice" role="note">
          <strong>This journey is a draft.</strong> Nobody enters it until it is published.{" "}
          <button type="button" className="btn btn-small btn-primary" onClick={props.onEdit}>
            Open the editor
          </button>
        </div>
      ) : unpublished ? (
        <div className="notice" role="note">
          The draft has changes that are not published: the map shows v{published.version}, what runs now.{" "}
          <button type="button" className="btn btn-small" onClick={props.onEdit}>
            Review the draft
          </button>
        </div>
      ) : null}
      {journey.status === "paused" ? (
        <div className="notice notice-warn" role="note">
          Paused: nobody new enters and timers hold until it is resumed; events still reach people in it.
        </div>
      ) : null}
      <div className={`grid ${hasGoal ? "grid-5" : "grid-4"}`} aria-label="Totals">
        <Card>
          <Stat label="Entered" value={formatNumber(totals?.entered)} testId="total-entered" />
        </Card>
        <Card>
          <Stat label="In journey now" value={formatNumber(totals?.active)} testId="total-active" />
        </Card>
        <Card>
          <Stat label="Completed" value={formatNumber(totals?.completed)} testId="total-completed" />
        </Card>
        <Card>
          <Stat
            label="Exited early"
            value={formatNumber(totals?.exited)}
            hint={totals?.heldOut ? `${formatNumber(totals.heldOut)} held out` : undefined}
          />
        </Card>
        {hasGoal ? (
          <Card>
            <Stat label="Reached the goal" value={formatNumber(totals?.goalReached)} />
          </Card>
        ) : null}
      </div>
      {stats.error && !stats.data ? <ErrorBox error={stats.error} onRetry={stats.reload} /> : null}
      <div className="journey-layout">
        <JourneyMap
          label={`Map of ${journey.name}`}
          definition={definition}
          stats={byStep}
          entered={totals?.entered}
          selected={props.selected}
          onSelect={props.onSelect}
          height={640}
        />
        <aside className="side-panel" aria-label="Step details">
          {props.selected ? (
            <StepPanel
              journey={journey}
              definition={definition}
              step={props.selected}
              stats={byStep?.get(props.selected)}
              onClose={() => props.onSelect(null)}
            />
          ) : (
            <Card title="Steps and people">
              <p className="muted">
                Each box is a step with its numbers: <b>entered</b> (all time), <b>waiting</b> there now, and{" "}
                <b>exited</b> (moved on or ended there). They refresh every 3 seconds.
              </p>
              <p className="muted">
                Click a step to see who is there, and open their path through the journey.
              </p>
              {published ? (
                <Badge tone="info">showing v{published.version}</Badge>
              ) : (
                <Badge>showing the draft</Badge>
              )}
            </Card>
          )}
        </aside>
      </div>
    </>
  );
}
