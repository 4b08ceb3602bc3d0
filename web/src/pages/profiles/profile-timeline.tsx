import { Fragment, useState } from "react";
import { api, type Page as ApiPage } from "../../api.ts";
import { Card, EmptyState, ErrorBox, JsonView, Loaded, Table, Time } from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import { TypeBadge, eventPreview, eventTitle, type StoredEvent } from "../events/event-summary.tsx";

const PAGE = 25;

/** The person's events across all their ids, newest first; older pages on demand; each row opens its JSON. */
export function TimelineTab(props: { profileId: string }) {
  const path = `/api/v1/profiles/${props.profileId}/events`;
  const first = useLoad(() => api<ApiPage<StoredEvent>>(path, { query: { limit: PAGE } }), [path], 5000);
  const [older, setOlder] = useState<{ items: StoredEvent[]; nextCursor: string | null } | null>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  const [olderError, setOlderError] = useState<unknown>();
  const [open, setOpen] = useState<number | null>(null);

  return (
    <Card className="profile-table-card">
      <Loaded state={first}>
        {(page) => {
          const seen = new Set(page.items.map((e) => e.seq));
          const items = [...page.items, ...(older?.items.filter((e) => !seen.has(e.seq)) ?? [])];
          const cursor = older ? older.nextCursor : page.nextCursor;
          if (items.length === 0)
            return (
              <EmptyState title="No events">
                <p>Events carrying any of this person's ids appear here.</p>
              </EmptyState>
            );
          return (
            <>
              <Table columns={["Time", "Type", "Event", "Details"]} testId="profile-timeline">
                {items.map((e) => (
                  <Fragment key={e.seq}>
                    <tr
                      className={`clickable ${open === e.seq ? "selected" : ""}`}
                      onClick={() => setOpen(open === e.seq ? null : e.seq)}
                    >
                      <td className="nowrap">
                        <Time value={e.timestamp} />
                      </td>
                      <td>
                        <TypeBadge type={e.type} />
                      </td>
                      <td className="nowrap">
                        <button
                          type="button"
                          className="link-button"
                          aria-expanded={open === e.seq}
                          onClick={(ev) => {
                            ev.stopPropagation();
                            setOpen(open === e.seq ? null : e.seq);
                          }}
                        >
                          {eventTitle(e)}
                        </button>
                      </td>
                      <td className="muted profile-preview">{eventPreview(e)}</td>
                    </tr>
                    {open === e.seq ? (
                      <tr className="json-row">
                        <td colSpan={4}>
                          <JsonView value={e} maxHeight={360} />
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                ))}
              </Table>
              {olderError ? <ErrorBox error={olderError} /> : null}
              {cursor ? (
                <div className="profiles-pager">
                  <button
                    type="button"
                    className="btn btn-small"
                    disabled={loadingOlder}
                    onClick={async () => {
                      setLoadingOlder(true);
                      setOlderError(undefined);
                      try {
                        const next = await api<ApiPage<StoredEvent>>(path, {
                          query: { limit: PAGE, cursor },
                        });
                        setOlder((o) => ({
                          items: [...(o?.items ?? []), ...next.items],
                          nextCursor: next.nextCursor,
                        }));
                      } catch (err) {
                        setOlderError(err);
                      } finally {
                        setLoadingOlder(false);
                      }
                    }}
                  >
                    {loadingOlder ? "Loading…" : "Load older events"}
                  </button>
                </div>
              ) : null}
            </>
          );
        }}
      </Loaded>
    </Card>
  );
}
