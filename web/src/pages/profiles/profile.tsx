import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError, api } from "../../api.ts";
import {
  Ago,
  Badge,
  Card,
  ConfirmButton,
  CopyButton,
  EmptyState,
  Loaded,
  Page,
  Stat,
  Time,
  formatNumber,
} from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import { displayName, identityLabel, traitText, type Profile } from "./model.ts";
import { InstancesTab, MessagesTab, SubscriptionsTab } from "./profile-activity.tsx";
import { TimelineTab } from "./profile-timeline.tsx";
import "./profiles.css";

const TABS = [
  ["timeline", "Event timeline"],
  ["journeys", "Journeys"],
  ["messages", "Messages"],
  ["subscriptions", "Subscriptions"],
] as const;
type Tab = (typeof TABS)[number][0];

/** One person: traits, identities, merges, and everything that happened to them; export and erase. */
export default function ProfilePage() {
  const { id = "" } = useParams();
  const state = useLoad(() => api<Profile>(`/api/v1/profiles/${encodeURIComponent(id)}`), [id]);
  if (state.error instanceof ApiError && state.error.status === 404)
    return (
      <Page title="Profile not found">
        <EmptyState title="No such profile">
          <p>
            <span className="mono">{id}</span> is not a profile of this workspace: it may have been erased.{" "}
            <Link to="/profiles">Search the profiles</Link>.
          </p>
        </EmptyState>
      </Page>
    );
  return (
    <Loaded state={state}>
      {(profile) => <ProfileView profile={profile} requestedId={id} reload={state.reload} />}
    </Loaded>
  );
}

function ProfileView(props: { profile: Profile; requestedId: string; reload: () => void }) {
  const p = props.profile;
  const navigate = useNavigate();
  const [tab, setTab] = useState<Tab>("timeline");
  const name = displayName(p);
  const traits = Object.entries(p.traits).sort(([a], [b]) => a.localeCompare(b));

  return (
    <Page
      title={name}
      subtitle={
        <>
          Profile <span className="mono">{p.id}</span> <CopyButton value={p.id} label="Copy id" />
        </>
      }
      actions={
        <>
          <ConfirmButton
            label="Export"
            title="Export this person's data"
            confirmLabel="Download JSON"
            body={
              <p>
                Everything Waymark stores about <strong>{name}</strong>: profiles, identities, merges, every
                event, refused messages that mention them and their journey instances, as one JSON file (right
                of access).
              </p>
            }
            onConfirm={async () => {
              const data = await api<unknown>(`/api/v1/profiles/${p.id}/export`);
              downloadJson(data, `waymark-profile-${p.id}.json`);
            }}
          />
          <ConfirmButton
            label="Erase"
            danger
            title="Erase this person?"
            confirmLabel="Erase permanently"
            body={
              <>
                <p>
                  This deletes <strong>{name}</strong>'s profile, identities, {formatNumber(p.eventCount)}{" "}
                  events, journey instances and messages in one step. It cannot be undone.
                </p>
                <p className="muted">
                  Their identifiers are added to the suppression list, so later events carrying them are
                  dropped. The erasure log keeps the counts only, never who.
                </p>
              </>
            }
            onConfirm={async () => {
              await api(`/api/v1/profiles/${p.id}`, { method: "DELETE" });
              navigate("/profiles", { state: { erased: name } });
            }}
          />
        </>
      }
    >
      <nav className="muted small" aria-label="Breadcrumb">
        <Link to="/profiles">Profiles</Link> / {name}
      </nav>
      {p.id !== props.requestedId ? (
        <div className="notice" role="status">
          <span className="mono">{props.requestedId}</span> was merged into this profile.
        </div>
      ) : null}

      <div className="grid grid-4">
        <Card>
          <Stat label="Events" value={formatNumber(p.eventCount)} testId="profile-events" />
        </Card>
        <Card>
          <Stat
            label="First seen"
            value={<span className="stat-date">{dateOf(p.firstSeen)}</span>}
            hint={p.firstSeen ? <Time value={p.firstSeen} /> : undefined}
          />
        </Card>
        <Card>
          <Stat
            label="Last seen"
            value={<span className="stat-date">{p.lastSeen ? <Ago value={p.lastSeen} /> : "–"}</span>}
            hint={p.lastSeen ? <Time value={p.lastSeen} /> : undefined}
          />
        </Card>
        <Card>
          <Stat
            label="Location"
            value={<span className="stat-date">{placeOf(p) ?? "–"}</span>}
            hint={p.timezone ? `Time zone ${p.timezone}` : "Time zone not known"}
          />
        </Card>
      </div>

      <div className="grid profile-facts">
        <Card title="Traits" className="profile-traits">
          {traits.length === 0 ? (
            <p className="muted">No traits yet: identify calls set them.</p>
          ) : (
            <dl className="kv" aria-label="Traits">
              {traits.map(([k, v]) => (
                <div key={k} className="kv-row">
                  <dt>{k}</dt>
                  <dd>{traitText(v)}</dd>
                </div>
              ))}
            </dl>
          )}
        </Card>
        <div className="profile-side">
          <Card title="Identities">
            <dl className="kv" aria-label="Identities">
              {p.identities.map((i) => (
                <div key={`${i.type}:${i.value}`} className="kv-row">
                  <dt>{identityLabel(i.type)}</dt>
                  <dd className="mono">{i.value}</dd>
                </div>
              ))}
            </dl>
          </Card>
          <Card title="Merges">
            {p.mergedFrom.length === 0 ? (
              <p className="muted profile-none">Not merged with another profile.</p>
            ) : (
              <ul className="merges" aria-label="Merges">
                {p.mergedFrom.map((m) => (
                  <li key={m.id}>
                    <span className="mono small">{m.id}</span> <Badge tone="info">{m.cause}</Badge>
                    <div className="muted small">
                      merged in <Time value={m.at} />
                    </div>
                  </li>
                ))}
              </ul>
            )}
            {p.identityDecisions > 0 ? (
              <p className="muted small profile-none">
                {formatNumber(p.identityDecisions)} identity decision{p.identityDecisions === 1 ? "" : "s"}{" "}
                about this person.
              </p>
            ) : null}
          </Card>
        </div>
      </div>

      <div>
        <div className="tabs" role="tablist" aria-label="Activity">
          {TABS.map(([key, label]) => (
            <button
              key={key}
              type="button"
              role="tab"
              id={`tab-${key}`}
              aria-controls={`panel-${key}`}
              aria-selected={tab === key}
              onClick={() => setTab(key)}
            >
              {label}
            </button>
          ))}
        </div>
        <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} className="profile-panel">
          {tab === "timeline" ? (
            <TimelineTab profileId={p.id} />
          ) : tab === "journeys" ? (
            <InstancesTab profileId={p.id} />
          ) : tab === "messages" ? (
            <MessagesTab profileId={p.id} />
          ) : (
            <SubscriptionsTab profileId={p.id} />
          )}
        </div>
      </div>
    </Page>
  );
}

/** The day, in the viewer's locale. */
function dateOf(iso: string | null): string {
  return iso ? new Date(iso).toLocaleDateString(undefined, { dateStyle: "medium" }) : "–";
}

/** "Berlin, Germany" from the last location seen, when there is one. */
function placeOf(p: Profile): string | undefined {
  const l = p.location ?? {};
  const parts = [l.city, l.region, l.country].filter((x): x is string => typeof x === "string" && x !== "");
  return parts.length ? parts.join(", ") : undefined;
}

/** Offers a value as a JSON file download (the export is built in the browser from the API's answer). */
function downloadJson(data: unknown, filename: string) {
  const url = URL.createObjectURL(new Blob([JSON.stringify(data, null, 2)], { type: "application/json" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
