import { useEffect, useState } from "react";
import { Link } from "react-router";
import { api, type Page as ApiPage } from "../../api.ts";
import { useSession } from "../../session.tsx";
import { Card, ErrorBox, Loaded, Page, Stat, formatNumber } from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import { EventsChart, MessagesChart } from "./charts.tsx";
import { GetStarted } from "./get-started.tsx";
import "./overview.css";

import type { Overview } from "../../../../src/analytics/index.ts";

/** The workspace at a glance, refreshed every 10 s; an empty workspace gets the snippets to start. */
export default function OverviewPage() {
  const { workspace } = useSession();
  // While the workspace waits for its first event, look more often so the dashboard follows it quickly.
  const [waiting, setWaiting] = useState(false);
  const state = useLoad(
    async () => {
      const [overview, latest] = await Promise.all([
        api<Overview>("/api/v1/overview", { query: { hours: 24 } }),
        // The window may be quiet while the log is not: "no events yet" means none ever.
        api<ApiPage<unknown>>("/api/v1/events", { query: { limit: 1 } }),
      ]);
      return { overview, empty: latest.items.length === 0 };
    },
    [],
    waiting ? 3000 : 10_000,
  );
  const empty = state.data?.empty;
  useEffect(() => setWaiting(empty === true), [empty]);
  return (
    <Page
      title="Overview"
      subtitle={`Workspace ${workspace?.name ?? ""} at a glance, refreshed every 10 seconds.`}
    >
      {state.error && state.data ? <ErrorBox error={state.error} onRetry={state.reload} /> : null}
      <Loaded state={state}>
        {({ overview, empty }) =>
          empty ? <GetStarted writeKey={workspace?.writeKey ?? ""} /> : <Dashboard o={overview} />
        }
      </Loaded>
    </Page>
  );
}

function Dashboard(props: { o: Overview }) {
  const { o } = props;
  const { journeys, today } = o;
  const rate = eventsPerMinute(o);
  return (
    <>
      <div className="grid overview-stats">
        <Card>
          <Stat
            label="Events / min"
            value={formatRate(rate.perMinute)}
            hint={`over the last ${rate.minutes} min · ${formatNumber(today.events)} today`}
            testId="stat-events-per-minute"
          />
        </Card>
        <Card>
          <Stat
            label="Events today"
            value={formatNumber(today.events)}
            hint="since 00:00 UTC"
            testId="stat-events-today"
          />
        </Card>
        <Card>
          <Stat
            label="Live instances"
            value={formatNumber(o.liveInstances)}
            hint={
              <Link to="/journeys">
                {journeys.active} active journey{journeys.active === 1 ? "" : "s"}
                {journeys.paused ? `, ${journeys.paused} paused` : ""}
              </Link>
            }
            testId="stat-live-instances"
          />
        </Card>
        <Card>
          <Stat
            label="Messages sent today"
            value={formatNumber(today.messagesSent)}
            hint={today.messagesFailed ? `${formatNumber(today.messagesFailed)} failed` : "none failed"}
            testId="stat-messages-sent"
          />
        </Card>
        <Card>
          <Stat
            label="Skipped today"
            value={formatNumber(today.messagesSkipped)}
            hint="consent, caps, quiet hours, no address"
            testId="stat-messages-skipped"
          />
        </Card>
        <Card className={o.pipelineLagSeconds > 60 ? "stat-warn" : ""}>
          <Stat
            label="Pipeline lag"
            value={formatLag(o.pipelineLagSeconds)}
            hint={o.pipelineLagSeconds > 60 ? "events wait to reach profiles and journeys" : "caught up"}
            testId="stat-pipeline-lag"
          />
        </Card>
      </div>
      <div className="grid grid-2">
        <Card title="Events, last 24 hours" actions={<Link to="/events">Open the debugger</Link>}>
          <EventsChart items={o.eventsPerMinute.items} bucketSeconds={o.eventsPerMinute.bucketSeconds} />
        </Card>
        <Card title="Messages per hour, last 24 hours">
          {o.messagesPerHour.items.some((i) => i.sent + i.skipped + i.failed > 0) ? (
            <MessagesChart items={o.messagesPerHour.items} />
          ) : (
            <div className="chart-empty">
              <p>No messages in the last 24 hours.</p>
              <p className="muted">
                Journeys send them from their message steps; <Link to="/templates">templates</Link> hold what
                they say.
              </p>
            </div>
          )}
        </Card>
      </div>
    </>
  );
}

/**
 * The rate over the last full bucket and the one still filling (5 to 10 minutes at the 24 h window's
 * 5-minute buckets): steadier than the filling bucket alone, still recent.
 */
function eventsPerMinute(o: Overview): { perMinute: number; minutes: number } {
  const items = o.eventsPerMinute.items;
  const recent = items.slice(-2);
  if (recent.length === 0) return { perMinute: 0, minutes: 0 };
  const since = new Date(recent[0]!.at).getTime();
  const minutes = Math.max(1, (new Date(o.generatedAt).getTime() - since) / 60_000);
  const count = recent.reduce((n, i) => n + i.count, 0);
  return { perMinute: count / minutes, minutes: Math.round(minutes) };
}

function formatRate(n: number): string {
  if (n === 0) return "0";
  if (n < 10) return n.toLocaleString(undefined, { maximumFractionDigits: 1, minimumFractionDigits: 1 });
  return Math.round(n).toLocaleString();
}

function formatLag(seconds: number): string {
  if (seconds < 1) return seconds === 0 ? "0 s" : "< 1 s";
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}
