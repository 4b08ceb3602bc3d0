import { useMemo } from "react";
import { Link, useParams } from "react-router";
import { api, ApiError } from "../../api.ts";
import {
  Ago,
  Badge,
  Card,
  ConfirmButton,
  EmptyState,
  JsonView,
  Loaded,
  Loading,
  Page,
  StatusBadge,
  Time,
} from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import { JourneyMap } from "./map/journey-map.tsx";
import { KIND_LABELS, kindOf, stepsOf } from "./map/model.ts";
import { pathOf } from "./map/path.ts";
import type { Definition, InstanceDetail, JourneyDetail, TimelineEntry } from "./types.ts";
import "./journeys.css";

type Tone = "ok" | "warn" | "bad" | "info" | "neutral";

/** How each kind of timeline entry reads. */
const ENTRY: Record<string, [label: string, tone: Tone]> = {
  entered: ["Entered", "info"],
  held_out: ["Held out", "warn"],
  step_started: ["Step", "neutral"],
  waiting: ["Waiting", "warn"],
  waited: ["Waited", "neutral"],
  event_matched: ["Event arrived", "ok"],
  timer_reset: ["Timer restarted", "neutral"],
  timed_out: ["Timed out", "warn"],
  branch: ["Decision", "info"],
  split: ["Split", "info"],
  webhook_queued: ["Webhook queued", "neutral"],
  webhook_sent: ["Webhook sent", "ok"],
  webhook_retrying: ["Webhook retrying", "warn"],
  webhook_failed: ["Webhook failed", "bad"],
  message_queued: ["Message queued", "neutral"],
  message_sent: ["Message sent", "ok"],
  message_delayed: ["Message delayed", "warn"],
  message_skipped: ["Message skipped", "warn"],
  message_failed: ["Message failed", "bad"],
  profile_updated: ["Profile updated", "neutral"],
  goal_reached: ["Goal reached", "ok"],
  step_failed: ["Step failed", "bad"],
  completed: ["Completed", "ok"],
  exited: ["Exited", "neutral"],
};

interface Comparison {
  path: string;
  op: string;
  expected: unknown;
  actual: unknown;
  result: boolean;
}

const show = (v: unknown) => (v === undefined ? "(missing)" : JSON.stringify(v));

/** One instance: where it is, the map with the path it took, and its timeline with every reason. */
export default function InstancePage() {
  const { id = "" } = useParams();
  const instance = useLoad(
    () => api<InstanceDetail>(`/api/v1/instances/${encodeURIComponent(id)}`),
    [id],
    3000,
  );
  const journeyKey = instance.data?.journey;
  const journey = useLoad(
    () =>
      journeyKey
        ? api<JourneyDetail>(`/api/v1/journeys/${encodeURIComponent(journeyKey)}`)
        : Promise.resolve(undefined),
    [journeyKey],
  );
  const i = instance.data;
  return (
    <Page
      title={i ? `${journey.data?.name ?? i.journey}: one person's path` : "Instance"}
      subtitle={
        i ? (
          <span className="row">
            <StatusBadge status={i.status} />
            <span>
              of{" "}
              <Link to={`/journeys/${encodeURIComponent(i.journey)}`}>{journey.data?.name ?? i.journey}</Link>{" "}
              v{i.version}
            </span>
            <span>
              person <Link to={`/profiles/${i.profileId}`}>{i.profileId}</Link>
            </span>
          </span>
        ) : undefined
      }
      actions={
        i?.status === "active" ? (
          <ConfirmButton
            label="Exit this person"
            title="Exit the journey now?"
            body="The person leaves the journey at once: nothing more is sent to them from it. Their history stays."
            confirmLabel="Exit now"
            danger
            onConfirm={async () => {
              await api(`/api/v1/instances/${encodeURIComponent(id)}/exit`, { method: "POST" });
              instance.reload();
            }}
          />
        ) : undefined
      }
    >
      {instance.error instanceof ApiError && instance.error.status === 404 ? (
        <Card>
          <EmptyState
            title="There is no such instance"
            action={
              <Link className="btn" to="/journeys">
                Journeys
              </Link>
            }
          >
            <p>An instance is one person in one journey: open one from a step on a journey’s map.</p>
          </EmptyState>
        </Card>
      ) : (
        <Loaded state={instance}>
          {(data) => (
            <InstanceBody
              instance={data}
              definition={journey.data?.versions.find((v) => v.version === data.version)?.definition}
              loadingJourney={journey.data === undefined && !journey.error}
            />
          )}
        </Loaded>
      )}
    </Page>
  );
}

function InstanceBody(props: {
  instance: InstanceDetail;
  definition: Definition | undefined;
  loadingJourney: boolean;
}) {
  const { instance, definition } = props;
  const path = useMemo(() => pathOf(instance, instance.timeline), [instance]);
  const names = useMemo(() => {
    const m = new Map<string, string>();
    for (const s of definition ? stepsOf(definition) : []) {
      if (typeof s.id === "string")
        m.set(
          s.id,
          `${typeof s.name === "string" ? s.name : s.id} (${KIND_LABELS[kindOf(s)].toLowerCase()})`,
        );
    }
    return m;
  }, [definition]);
  return (
    <>
      <Card>
        <dl className="facts facts-wide">
          <dt>Entered</dt>
          <dd>
            <Time value={instance.enteredAt} />{" "}
            <span className="muted">
              (<Ago value={instance.enteredAt} />)
            </span>
          </dd>
          {instance.status === "active" ? (
            <>
              <dt>Now at</dt>
              <dd data-testid="now-at">
                {instance.currentStep ? (names.get(instance.currentStep) ?? instance.currentStep) : "–"}
                {instance.dueAt ? (
                  <>
                    {" "}
                    <span className="muted">until</span> <Time value={instance.dueAt} />
                  </>
                ) : null}
              </dd>
            </>
          ) : (
            <>
              <dt>Ended</dt>
              <dd data-testid="ended">
                <Time value={instance.endedAt} /> at {instance.currentStep ?? "entry"}: {instance.endReason}
              </dd>
            </>
          )}
          {instance.key ? (
            <>
              <dt>Entry key</dt>
              <dd className="mono">{instance.key}</dd>
            </>
          ) : null}
          {instance.goalReachedAt ? (
            <>
              <dt>Goal reached</dt>
              <dd>
                <Time value={instance.goalReachedAt} />
              </dd>
            </>
          ) : null}
        </dl>
      </Card>
      <div className="instance-layout">
        <div>
          {definition ? (
            <JourneyMap label="The path this person took" definition={definition} path={path} height={600} />
          ) : props.loadingJourney ? (
            <Loading label="Loading the map…" />
          ) : (
            <Card>
              <p className="muted">The journey's version {instance.version} could not be loaded.</p>
            </Card>
          )}
          <p className="muted small legend">
            <span className="legend-taken" aria-hidden="true" /> the way taken{" "}
            <span className="legend-current" aria-hidden="true" /> where the person is now
          </p>
        </div>
        <Card title="Timeline" className="timeline-card">
          <Timeline entries={instance.timeline} names={names} />
        </Card>
      </div>
      <Card title="Context">
        <p className="muted small">
          What the journey keeps for this person: the trigger event, events matched while holding, saved
          webhook responses.
        </p>
        <JsonView value={instance.context} maxHeight={360} />
      </Card>
    </>
  );
}

function Timeline(props: { entries: TimelineEntry[]; names: Map<string, string> }) {
  if (props.entries.length === 0) return <p className="muted">Nothing happened yet.</p>;
  return (
    <ol className="timeline" aria-label="Timeline">
      {props.entries.map((t, n) => {
        const [label, tone] = ENTRY[t.kind] ?? [t.kind, "neutral" as Tone];
        const compared = Array.isArray(t.data?.compared) ? (t.data.compared as Comparison[]) : undefined;
        const rest = t.data
          ? Object.fromEntries(Object.entries(t.data).filter(([k]) => k !== "compared"))
          : {};
        return (
          <li key={n}>
            <time dateTime={t.at} title={new Date(t.at).toLocaleString()}>
              {new Date(t.at).toLocaleTimeString()}
            </time>
            <div className="timeline-what">
              <div className="row">
                <Badge tone={tone}>{label}</Badge>
                {t.step ? <span className="muted small">{props.names.get(t.step) ?? t.step}</span> : null}
              </div>
              {t.kind === "step_started" ? null : <div className="timeline-reason">{t.reason}</div>}
              {compared && compared.length ? (
                <table className="compared" aria-label="Values compared">
                  <thead>
                    <tr>
                      <th scope="col">Value</th>
                      <th scope="col">Test</th>
                      <th scope="col">Found</th>
                      <th scope="col">Result</th>
                    </tr>
                  </thead>
                  <tbody>
                    {compared.map((c, k) => (
                      <tr key={k}>
                        <td className="mono">{c.path}</td>
                        <td className="mono">
                          {c.op} {show(c.expected)}
                        </td>
                        <td className="mono">{show(c.actual)}</td>
                        <td>{c.result ? "true" : "false"}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              ) : null}
              {Object.keys(rest).length ? (
                <details className="details-json">
                  <summary>Data</summary>
                  <JsonView value={rest} maxHeight={240} />
                </details>
              ) : null}
            </div>
          </li>
        );
      })}
    </ol>
  );
}
