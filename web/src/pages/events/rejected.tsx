import { useState } from "react";
import { api, type Page as ApiPage } from "../../api.ts";
import {
  Ago,
  Badge,
  Card,
  CopyButton,
  EmptyState,
  JsonView,
  Loaded,
  Table,
  Time,
} from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import type { RejectedEvent as Rejected } from "../../../../src/ingest/index.ts";

/** The raw body as JSON when it parses, else as the text received. */
function rawBody(raw: string): { json: unknown } | { text: string } {
  try {
    return { json: JSON.parse(raw) };
  } catch {
    return { text: raw };
  }
}

/** The dead letters: what was refused, when, on which route, and why. */
export function RejectedTab() {
  const [limit, setLimit] = useState(50);
  const [selected, setSelected] = useState<Rejected | null>(null);
  const state = useLoad(
    () => api<ApiPage<Rejected>>("/api/v1/events/rejected", { query: { limit } }),
    [limit],
    5000,
  );
  return (
    <div className="events-stack">
      <p className="muted events-intro">
        Messages the tracking API refused with a 4xx answer, kept with the reason so you can fix the sender.
        Nothing here reached profiles or journeys.
      </p>
      <div className="events-layout">
        <div className="events-main">
          <Card className="events-card">
            <Loaded state={state}>
              {(page) =>
                page.items.length === 0 ? (
                  <EmptyState title="No rejected messages">
                    <p>
                      Every message your sources sent was valid. Refused ones appear here with their reason.
                    </p>
                  </EmptyState>
                ) : (
                  <>
                    <Table columns={["Received", "Route", "Reason", "Message ID"]} testId="rejected-list">
                      {page.items.map((r) => (
                        <tr
                          key={r.id}
                          className={`clickable ${selected?.id === r.id ? "selected" : ""}`}
                          onClick={() => setSelected(r)}
                        >
                          <td className="nowrap">
                            <Ago value={r.receivedAt} />
                          </td>
                          <td className="mono nowrap">{r.route}</td>
                          <td>
                            <button
                              type="button"
                              className="link-button"
                              onClick={(ev) => {
                                ev.stopPropagation();
                                setSelected(r);
                              }}
                            >
                              {r.reason}
                            </button>{" "}
                            <Badge tone="bad">{r.reasonCode}</Badge>
                          </td>
                          <td className="mono small">{r.messageId ?? <span className="muted">–</span>}</td>
                        </tr>
                      ))}
                    </Table>
                    {page.nextCursor && limit < 1000 ? (
                      <div className="events-footer">
                        <button
                          type="button"
                          className="btn btn-small"
                          onClick={() => setLimit((l) => l + 100)}
                        >
                          Show more
                        </button>
                      </div>
                    ) : null}
                  </>
                )
              }
            </Loaded>
          </Card>
        </div>
        <aside className="events-detail" aria-label="Rejected message">
          {selected ? (
            <RejectedDetail item={selected} onClose={() => setSelected(null)} />
          ) : (
            <Card>
              <p className="muted events-detail-hint">
                Select a rejected message to see the body as it was received.
              </p>
            </Card>
          )}
        </aside>
      </div>
    </div>
  );
}

function RejectedDetail(props: { item: Rejected; onClose: () => void }) {
  const r = props.item;
  const body = rawBody(r.raw);
  return (
    <Card
      title="Rejected message"
      actions={
        <div className="row">
          <CopyButton value={r.raw} label="Copy body" />
          <button type="button" className="btn btn-small" onClick={props.onClose} aria-label="Close details">
            Close
          </button>
        </div>
      }
    >
      <div className="error-box rejected-reason">
        <strong>{r.reasonCode}</strong> {r.reason}
      </div>
      <dl className="event-facts">
        <dt>Received</dt>
        <dd>
          <Time value={r.receivedAt} />
        </dd>
        <dt>Route</dt>
        <dd className="mono">{r.route}</dd>
        {r.messageId ? (
          <>
            <dt>Message ID</dt>
            <dd className="mono">{r.messageId}</dd>
          </>
        ) : null}
      </dl>
      {"json" in body ? (
        <JsonView value={body.json} maxHeight={460} />
      ) : (
        <pre className="json" style={{ maxHeight: 460 }}>
          {body.text || "(empty body)"}
        </pre>
      )}
    </Card>
  );
}
