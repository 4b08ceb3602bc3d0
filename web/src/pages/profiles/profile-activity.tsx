import { Link } from "react-router";
import { api, type Page as ApiPage } from "../../api.ts";
import { Badge, Card, EmptyState, Loaded, StatusBadge, Table, Time } from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import type { InstanceView as InstanceItem } from "../../../../src/journeys/index.ts";
import type { MessageView as MessageItem, Subscription } from "../../../../src/messaging/index.ts";

const none = <span className="muted">–</span>;

/** The person's journey instances in every journey, newest entry first, each linking to its timeline. */
export function InstancesTab(props: { profileId: string }) {
  const state = useLoad(
    () =>
      Promise.all([
        api<ApiPage<InstanceItem>>("/api/v1/instances", {
          query: { profileId: props.profileId, limit: 100 },
        }),
        api<{ items: Array<{ key: string; name: string }> }>("/api/v1/journeys").catch(() => ({ items: [] })),
      ]),
    [props.profileId],
    5000,
  );
  return (
    <Card className="profile-table-card">
      <Loaded state={state}>
        {([instances, journeys]) => {
          const names = new Map(journeys.items.map((j) => [j.key, j.name]));
          if (instances.items.length === 0)
            return (
              <EmptyState title="Not in any journey">
                <p>
                  When one of their events triggers a <Link to="/journeys">journey</Link>, the instance shows
                  here with the step it is on.
                </p>
              </EmptyState>
            );
          return (
            <Table
              columns={["Journey", "Status", "Step", "Entered", "Ended", "Instance"]}
              testId="profile-instances"
            >
              {instances.items.map((i) => (
                <tr key={i.id}>
                  <td>
                    <Link to={`/journeys/${encodeURIComponent(i.journey)}`}>
                      {names.get(i.journey) ?? i.journey}
                    </Link>
                    <div className="muted small">version {i.version}</div>
                  </td>
                  <td>
                    <StatusBadge status={i.status} />
                    {i.goalReachedAt ? (
                      <>
                        {" "}
                        <Badge tone="ok">goal reached</Badge>
                      </>
                    ) : null}
                  </td>
                  <td>
                    {i.currentStep ? <span className="mono">{i.currentStep}</span> : none}
                    {i.dueAt && i.status === "active" ? (
                      <div className="muted small">
                        until <Time value={i.dueAt} />
                      </div>
                    ) : null}
                  </td>
                  <td className="nowrap">
                    <Time value={i.enteredAt} />
                  </td>
                  <td>
                    {i.endedAt ? <Time value={i.endedAt} /> : none}
                    {i.endReason ? <div className="muted small">{i.endReason}</div> : null}
                  </td>
                  <td>
                    <Link
                      to={`/instances/${i.id}`}
                      aria-label={`Open instance of ${names.get(i.journey) ?? i.journey}`}
                    >
                      Open timeline
                    </Link>
                  </td>
                </tr>
              ))}
            </Table>
          );
        }}
      </Loaded>
    </Card>
  );
}

/** Every message to the person, newest first: what, where, and when not sent, why. */
export function MessagesTab(props: { profileId: string }) {
  const state = useLoad(
    () =>
      api<ApiPage<MessageItem>>("/api/v1/messages", { query: { profileId: props.profileId, limit: 100 } }),
    [props.profileId],
    5000,
  );
  return (
    <Card className="profile-table-card">
      <Loaded state={state}>
        {(page) =>
          page.items.length === 0 ? (
            <EmptyState title="No messages">
              <p>
                Emails, SMS, push notifications and webhooks sent to this person, by journeys or the send API.
              </p>
            </EmptyState>
          ) : (
            <Table
              columns={["Created", "Channel", "Template", "To", "Status", "From"]}
              testId="profile-messages"
            >
              {page.items.map((m) => (
                <tr key={m.id}>
                  <td className="nowrap">
                    <Time value={m.createdAt} />
                  </td>
                  <td>{m.channel}</td>
                  <td>
                    <Link to={`/templates/${encodeURIComponent(m.template)}`}>{m.template}</Link>
                    {m.subject ? <div className="muted small">{m.subject}</div> : null}
                  </td>
                  <td className="mono small">{m.to ?? none}</td>
                  <td>
                    <StatusBadge status={m.status} />
                    {m.reason ? <div className="muted small">{m.reason}</div> : null}
                    {m.openedAt ? <div className="muted small">opened</div> : null}
                  </td>
                  <td>
                    {m.journey ? (
                      <>
                        <Link to={`/journeys/${encodeURIComponent(m.journey)}`}>{m.journey}</Link>
                        {m.instanceId ? (
                          <div className="small">
                            <Link to={`/instances/${m.instanceId}`}>step {m.step ?? "?"}</Link>
                          </div>
                        ) : null}
                      </>
                    ) : (
                      <span className="muted">
                        {m.transactional ? "send API (transactional)" : "send API"}
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </Table>
          )
        }
      </Loaded>
    </Card>
  );
}

/** The person's explicit choices per topic and channel. */
export function SubscriptionsTab(props: { profileId: string }) {
  const state = useLoad(
    () => api<Subscription[]>(`/api/v1/profiles/${props.profileId}/subscriptions`),
    [props.profileId],
  );
  return (
    <Card className="profile-table-card">
      <Loaded state={state}>
        {(items) =>
          items.length === 0 ? (
            <EmptyState title="No choices recorded">
              <p>
                They have not subscribed to or unsubscribed from any topic; each topic's default applies. See
                topics in <Link to="/settings">settings</Link>.
              </p>
            </EmptyState>
          ) : (
            <Table
              columns={["Topic", "Channel", "Status", "Source", "Updated"]}
              testId="profile-subscriptions"
            >
              {items.map((s) => (
                <tr key={`${s.topic}:${s.channel}`}>
                  <td>{s.topic === "*" ? <em>All topics</em> : <span className="mono">{s.topic}</span>}</td>
                  <td>{s.channel === "*" ? <em>every channel</em> : s.channel}</td>
                  <td>
                    <Badge tone={s.status === "subscribed" ? "ok" : "warn"}>{s.status}</Badge>
                  </td>
                  <td className="muted">{s.source.replace(/_/g, " ")}</td>
                  <td className="nowrap">
                    <Time value={s.updatedAt} />
                  </td>
                </tr>
              ))}
            </Table>
          )
        }
      </Loaded>
    </Card>
  );
}
