import { Link } from "react-router";
import { api, type Page as ApiPage } from "../../api.ts";
import { Ago, Card, EmptyState, ErrorBox, Loading, StatusBadge, formatNumber } from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import { END_ID, KIND_LABELS, TRIGGER_ID, graphOf } from "./map/model.ts";
import type { Definition, Instance, JourneyDetail, StepStats } from "./types.ts";

const LIMIT = 200;

/** The side panel of a clicked step: what it does, its numbers, and the people at it, newest first. */
export function StepPanel(props: {
  journey: JourneyDetail;
  definition: Definition;
  step: string;
  stats: StepStats | undefined;
  onClose: () => void;
}) {
  const { journey, step, stats } = props;
  const node = graphOf(props.definition).nodes.find((n) => n.id === step);
  const isTrigger = step === TRIGGER_ID;
  const instances = useLoad(
    () =>
      api<ApiPage<Instance>>(`/api/v1/journeys/${encodeURIComponent(journey.key)}/instances`, {
        query: { limit: LIMIT, ...(isTrigger ? {} : { step }) },
      }),
    [journey.key, step],
    3000,
  );
  if (!node || step === END_ID) {
    return (
      <Card title="Step">
        <p className="muted">The published version has no step “{step}”.</p>
      </Card>
    );
  }
  const items = instances.data?.items ?? [];
  const ended = Object.entries(stats?.ended ?? {});
  return (
    <Card
      title={
        <span>
          <span className="muted small kind-label">{KIND_LABELS[node.kind]}</span>
          <br />
          {node.title}
        </span>
      }
      actions={
        <button
          type="button"
          className="btn btn-small btn-ghost"
          onClick={props.onClose}
          aria-label="Close step"
        >
          Close
        </button>
      }
    >
      <div className="stack">
        {node.summary ? <p className="muted step-summary">{node.summary}</p> : null}
        {!isTrigger ? (
          <dl className="step-numbers">
            <div>
              <dt>Entered</dt>
              <dd>{formatNumber(stats?.entered ?? 0)}</dd>
            </div>
            <div>
              <dt>Waiting now</dt>
              <dd data-testid="panel-waiting">{formatNumber(stats?.waiting ?? 0)}</dd>
            </div>
            <div>
              <dt>Moved on</dt>
              <dd>{formatNumber(stats?.completed ?? 0)}</dd>
            </div>
          </dl>
        ) : null}
        {ended.length ? (
          <div>
            <h3>Ended here</h3>
            <ul className="plain-list">
              {ended.map(([reason, n]) => (
                <li key={reason}>
                  <b>{formatNumber(n)}</b> {reason}
                </li>
              ))}
            </ul>
          </div>
        ) : null}
        <div>
          <h3>{isTrigger ? "Latest entries" : "People at this step"}</h3>
          {instances.error && !instances.data ? (
            <ErrorBox error={instances.error} onRetry={instances.reload} />
          ) : !instances.data ? (
            <Loading />
          ) : items.length === 0 ? (
            <EmptyState title={isTrigger ? "Nobody entered yet" : "Nobody is here"}>
              <p className="small">
                {isTrigger
                  ? "People enter when the trigger happens; send the event to try it."
                  : "People who reach or end at this step are listed here."}
              </p>
            </EmptyState>
          ) : (
            <ul
              className="instance-list"
              aria-label={isTrigger ? "Latest entries" : `People at ${node.title}`}
            >
              {items.map((i) => (
                <li key={i.id}>
                  <Link to={`/instances/${i.id}`} aria-label={`Instance of ${i.profileId}`}>
                    <span className="mono">{i.key ?? i.profileId.slice(0, 8)}</span>
                  </Link>
                  <StatusBadge status={i.status} />
                  <span className="muted small">
                    {isTrigger && i.currentStep ? `at ${i.currentStep}, ` : ""}entered{" "}
                    <Ago value={i.enteredAt} />
                  </span>
                </li>
              ))}
            </ul>
          )}
          {instances.data?.nextCursor ? <p className="muted small">The newest {LIMIT} are listed.</p> : null}
        </div>
      </div>
    </Card>
  );
}
