import { useEffect, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { api, type Page as ApiPage } from "../../api.ts";
import {
  Ago,
  Card,
  CopyButton,
  EmptyState,
  ErrorBox,
  JsonView,
  Loaded,
  Page,
  Table,
  Time,
} from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import {
  EVENT_TYPES,
  EventWho,
  TypeBadge,
  eventPreview,
  eventTitle,
  type StoredEvent,
} from "./event-summary.tsx";
import { RejectedTab } from "./rejected.tsx";
import "./events.css";

const PAGE = 50;
const FILTERS = ["type", "event", "userId", "anonymousId"] as const;
type Filter = (typeof FILTERS)[number];

/** The events debugger: the live stream with filters and each event's JSON; the rejected messages. */
export default function EventsPage() {
  const [params, setParams] = useSearchParams();
  const tab = params.get("tab") === "rejected" ? "rejected" : "live";
  const selectTab = (t: "live" | "rejected") =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (t === "rejected") next.set("tab", "rejected");
        else next.delete("tab");
        return next;
      },
      { replace: true },
    );
  return (
    <Page
      title="Events"
      subtitle="What your sources send, as it arrives: newest on top, refreshed every second."
    >
      <div className="tabs" role="tablist" aria-label="Events">
        <button
          type="button"
          role="tab"
          id="tab-live"
          aria-controls="panel-live"
          aria-selected={tab === "live"}
          onClick={() => selectTab("live")}
        >
          Live stream
        </button>
        <button
          type="button"
          role="tab"
          id="tab-rejected"
          aria-controls="panel-rejected"
          aria-selected={tab === "rejected"}
          onClick={() => selectTab("rejected")}
        >
          Rejected
        </button>
      </div>
      {tab === "live" ? (
        <div role="tabpanel" id="panel-live" aria-labelledby="tab-live">
          <LiveStream />
        </div>
      ) : (
        <div role="tabpanel" id="panel-rejected" aria-labelledby="tab-rejected">
          <RejectedTab />
        </div>
      )}
    </Page>
  );
}

/** Text filters are typed into local state and reach the URL (and the API) after a short pause. */
function useFilters() {
  const [params, setParams] = useSearchParams();
  const applied = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? ""])) as Record<Filter, string>;
  const [draft, setDraft] = useState(applied);
  const appliedKey = JSON.stringify(applied);
  const draftKey = JSON.stringify(draft);
  // The address changed from outside (a link, the navigation): show the filters it holds.
  useEffect(() => {
    setDraft((d) => (FILTERS.every((f) => d[f].trim() === applied[f]) ? d : applied));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [appliedKey]);
  useEffect(() => {
    if (draftKey === appliedKey) return;
    const t = setTimeout(() => {
      setParams(
        (p) => {
          const next = new URLSearchParams(p);
          for (const f of FILTERS) {
            const v = draft[f].trim();
            if (v) next.set(f, v);
            else next.delete(f);
          }
          return next;
        },
        { replace: true },
      );
    }, 300);
    return () => clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [draftKey]);
  return {
    applied,
    draft,
    set: (f: Filter, v: string) => setDraft((d) => ({ ...d, [f]: v })),
    clear: () => setDraft({ type: "", event: "", userId: "", anonymousId: "" }),
    any: FILTERS.some((f) => applied[f] !== "" || draft[f] !== ""),
  };
}

function LiveStream() {
  const filters = useFilters();
  const [paused, setPaused] = useState(false);
  const [limit, setLimit] = useState(PAGE);
  const [selected, setSelected] = useState<StoredEvent | null>(null);
  const { applied } = filters;
  const state = useLoad(
    () =>
      api<ApiPage<StoredEvent>>("/api/v1/events", {
        query: {
          limit,
          type: applied.type,
          event: applied.event,
          userId: applied.userId,
          anonymousId: applied.anonymousId,
        },
      }),
    [limit, applied.type, applied.event, applied.userId, applied.anonymousId],
    paused ? undefined : 1000,
  );
  const fresh = useFreshRows(state.data?.items, JSON.stringify([limit, applied]));

  return (
    <div className="events-stack">
      <div className="toolbar events-toolbar">
        <label className="field">
          <span>Type</span>
          <select value={filters.draft.type} onChange={(e) => filters.set("type", e.target.value)}>
            <option value="">All types</option>
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          <span>Event name</span>
          <input
            value={filters.draft.event}
            placeholder="Order Completed"
            onChange={(e) => filters.set("event", e.target.value)}
          />
        </label>
        <label className="field">
          <span>User ID</span>
          <input value={filters.draft.userId} onChange={(e) => filters.set("userId", e.target.value)} />
        </label>
        <label className="field">
          <span>Anonymous ID</span>
          <input
            value={filters.draft.anonymousId}
            onChange={(e) => filters.set("anonymousId", e.target.value)}
          />
        </label>
        {filters.any ? (
          <button type="button" className="btn" onClick={filters.clear}>
            Clear filters
          </button>
        ) : null}
        <div className="events-live">
          <span className={`live-dot ${paused ? "paused" : ""}`} aria-hidden="true" />
          <span className="muted small" role="status">
            {paused ? "Paused" : "Live"}
          </span>
          <button type="button" className="btn" aria-pressed={paused} onClick={() => setPaused((p) => !p)}>
            {paused ? "Resume" : "Pause"}
          </button>
        </div>
      </div>
      <div className="events-layout">
        <div className="events-main">
          {state.error && state.data ? <ErrorBox error={state.error} onRetry={state.reload} /> : null}
          <Card className="events-card">
            <Loaded state={state}>
              {(page) =>
                page.items.length === 0 ? (
                  filters.any ? (
                    <EmptyState title="No events match these filters">
                      <p>Events are matched exactly: check the spelling of the event name and ids.</p>
                    </EmptyState>
                  ) : (
                    <EmptyState title="No events yet">
                      <p>
                        Send a first event with any Segment SDK or a curl call; the{" "}
                        <Link to="/">overview</Link> has snippets with your write key. It shows up here within
                        a second.
                      </p>
                    </EmptyState>
                  )
                ) : (
                  <>
                    <Table columns={["Received", "Type", "Event", "User", "Details"]} testId="event-stream">
                      {page.items.map((e) => (
                        <tr
                          key={e.seq}
                          className={`clickable ${selected?.seq === e.seq ? "selected" : ""} ${fresh.has(e.seq) ? "fresh" : ""}`}
                          onClick={() => setSelected(e)}
                        >
                          <td className="nowrap">
                            <Ago value={e.receivedAt ?? e.timestamp} />
                          </td>
                          <td>
                            <TypeBadge type={e.type} />
                          </td>
                          <td className="nowrap">
                            <button
                              type="button"
                              className="link-button"
                              aria-label={`${eventTitle(e)} (${e.type}, #${e.seq})`}
                              onClick={(ev) => {
                                ev.stopPropagation();
                                setSelected(e);
                              }}
                            >
                              {eventTitle(e)}
                            </button>
                          </td>
                          <td className="events-who">
                            <EventWho event={e} />
                          </td>
                          <td className="muted events-preview">{eventPreview(e)}</td>
                        </tr>
                      ))}
                    </Table>
                    <div className="events-footer muted small">
                      <span>
                        Showing the newest {page.items.length.toLocaleString()} event
                        {page.items.length === 1 ? "" : "s"}
                        {filters.any ? " matching the filters" : ""}.
                      </span>
                      {page.nextCursor && limit < 1000 ? (
                        <button
                          type="button"
                          className="btn btn-small"
                          onClick={() => setLimit((l) => l + PAGE * 2)}
                        >
                          Show more
                        </button>
                      ) : null}
                    </div>
                  </>
                )
              }
            </Loaded>
          </Card>
        </div>
        <EventDetail event={selected} onClose={() => setSelected(null)} />
      </div>
    </div>
  );
}

/** Rows that arrived with the latest poll (not on the first load), to flash them briefly. */
function useFreshRows(items: StoredEvent[] | undefined, query: string): Set<number> {
  const seen = useRef<number | null>(null);
  const [fresh, setFresh] = useState<Set<number>>(new Set());
  useEffect(() => {
    // Another query starts over: what it shows first is not news.
    seen.current = null;
    setFresh(new Set());
  }, [query]);
  useEffect(() => {
    if (!items) return;
    const max = items.reduce((m, e) => Math.max(m, e.seq), 0);
    const before = seen.current;
    seen.current = Math.max(before ?? 0, max);
    if (before === null) return;
    const arrived = items.filter((e) => e.seq > before).map((e) => e.seq);
    if (arrived.length) setFresh(new Set(arrived));
  }, [items]);
  return fresh;
}

function EventDetail(props: { event: StoredEvent | null; onClose: () => void }) {
  const e = props.event;
  if (!e)
    return (
      <aside className="events-detail" aria-label="Event details">
        <Card>
          <p className="muted events-detail-hint">
            Select an event to see its full JSON: properties, traits, context and the times it was sent and
            received.
          </p>
        </Card>
      </aside>
    );
  return (
    <aside className="events-detail" aria-label="Event details">
      <Card
        title={eventTitle(e)}
        actions={
          <div className="row">
            <CopyButton value={JSON.stringify(e, null, 2)} label="Copy JSON" />
            <button
              type="button"
              className="btn btn-small"
              onClick={props.onClose}
              aria-label="Close details"
            >
              Close
            </button>
          </div>
        }
      >
        <dl className="event-facts">
          <dt>Type</dt>
          <dd>
            <TypeBadge type={e.type} />
          </dd>
          <dt>Timestamp</dt>
          <dd>
            <Time value={e.timestamp} />
          </dd>
          {e.receivedAt ? (
            <>
              <dt>Received</dt>
              <dd>
                <Time value={e.receivedAt} />
              </dd>
            </>
          ) : null}
          {e.userId ? (
            <>
              <dt>User ID</dt>
              <dd>
                <Link to={`/profiles?q=${encodeURIComponent(e.userId)}`} className="mono">
                  {e.userId}
                </Link>
              </dd>
            </>
          ) : null}
          {e.anonymousId ? (
            <>
              <dt>Anonymous ID</dt>
              <dd>
                <Link to={`/profiles?q=${encodeURIComponent(e.anonymousId)}`} className="mono">
                  {e.anonymousId}
                </Link>
              </dd>
            </>
          ) : null}
          <dt>Message ID</dt>
          <dd className="mono">{e.messageId}</dd>
        </dl>
        <JsonView value={e} maxHeight={520} />
      </Card>
    </aside>
  );
}
