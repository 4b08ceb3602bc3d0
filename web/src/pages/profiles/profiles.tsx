import { useEffect, useState } from "react";
import { Link, useLocation, useNavigate, useSearchParams } from "react-router";
import { api, type Page as ApiPage } from "../../api.ts";
import { Ago, Card, EmptyState, ErrorBox, Loaded, Page, Table, formatNumber } from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import { displayName, identitiesOf, type Profile } from "./model.ts";
import "./profiles.css";

/** Where the search looks: anywhere (identifiers and traits, partial) or one identifier, exactly. */
const MODES = {
  query: "Identifiers and traits",
  email: "Email (exact)",
  userId: "User ID (exact)",
  anonymousId: "Anonymous ID (exact)",
} as const;
type Mode = keyof typeof MODES;

/** Search people by any identifier or trait; the list links to each profile. */
export default function ProfilesPage() {
  const [params, setParams] = useSearchParams();
  const location = useLocation();
  const navigate = useNavigate();
  const q = params.get("q") ?? "";
  const mode: Mode = (params.get("by") as Mode | null) ?? "query";
  const [draft, setDraft] = useState(q);
  const [cursors, setCursors] = useState<string[]>([]);
  const erased = (location.state as { erased?: string } | null)?.erased;

  // The address changed from outside (a link, the navigation): show what is searched.
  useEffect(() => {
    setDraft((d) => (d.trim() === q ? d : q));
  }, [q]);
  // Typing searches after a short pause; the search lives in the address (back, reload, links).
  useEffect(() => {
    if (draft.trim() === q) return;
    const t = setTimeout(() => {
      setParams(
        (p) => {
          const next = new URLSearchParams(p);
          if (draft.trim()) next.set("q", draft.trim());
          else next.delete("q");
          return next;
        },
        { replace: true },
      );
    }, 300);
    return () => clearTimeout(t);
  }, [draft, q, setParams]);
  useEffect(() => setCursors([]), [q, mode]);

  const cursor = cursors.at(-1);
  const state = useLoad(
    () =>
      api<ApiPage<Profile>>("/api/v1/profiles", {
        query: { limit: 25, cursor, ...(q ? { [mode]: q } : {}) },
      }),
    [q, mode, cursor],
  );

  return (
    <Page
      title="Profiles"
      subtitle="Every person Waymark knows, unified across devices and ids. Search by any identifier or trait."
    >
      {erased ? (
        <div className="notice" role="status">
          Profile <strong>{erased}</strong> was erased: their events, identities and journey instances are
          gone, and their identifiers are suppressed.
          <button
            type="button"
            className="btn btn-small"
            onClick={() => navigate(".", { replace: true, state: null })}
          >
            Dismiss
          </button>
        </div>
      ) : null}
      <form
        className="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setParams((p) => {
            const next = new URLSearchParams(p);
            if (draft.trim()) next.set("q", draft.trim());
            else next.delete("q");
            return next;
          });
        }}
      >
        <label className="field profiles-search">
          <span>Search profiles</span>
          <input
            type="search"
            value={draft}
            placeholder="ada@example.com, user-42, plan pro, Berlin…"
            onChange={(e) => setDraft(e.target.value)}
          />
        </label>
        <label className="field">
          <span>Search in</span>
          <select
            value={mode}
            onChange={(e) =>
              setParams(
                (p) => {
                  const next = new URLSearchParams(p);
                  if (e.target.value === "query") next.delete("by");
                  else next.set("by", e.target.value);
                  return next;
                },
                { replace: true },
              )
            }
          >
            {Object.entries(MODES).map(([value, label]) => (
              <option key={value} value={value}>
                {label}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="btn btn-primary">
          Search
        </button>
      </form>
      {state.error && state.data ? <ErrorBox error={state.error} onRetry={state.reload} /> : null}
      <Card className="profiles-card">
        <Loaded state={state}>
          {(page) =>
            page.items.length === 0 ? (
              q ? (
                <EmptyState title={`No profile matches “${q}”`}>
                  <p>
                    {mode === "query"
                      ? "The search looks for the text inside identifiers and trait values."
                      : `${MODES[mode]} matches the whole value; try "Identifiers and traits" for part of it.`}
                  </p>
                </EmptyState>
              ) : (
                <EmptyState title="No profiles yet">
                  <p>
                    A profile appears with a person's first event. See the <Link to="/">overview</Link> for
                    how to send one, or watch them arrive in the <Link to="/events">events debugger</Link>.
                  </p>
                </EmptyState>
              )
            ) : (
              <>
                <Table columns={["Person", "User ID", "Email", "Last seen", "Events"]} testId="profile-list">
                  {page.items.map((p) => (
                    <tr key={p.id} className="clickable" onClick={() => navigate(`/profiles/${p.id}`)}>
                      <td>
                        <Link to={`/profiles/${p.id}`} onClick={(e) => e.stopPropagation()}>
                          {displayName(p)}
                        </Link>
                        <div className="muted small mono">{p.id}</div>
                      </td>
                      <td className="mono">
                        {identitiesOf(p, "user_id").join(", ") || <span className="muted">–</span>}
                      </td>
                      <td>{identitiesOf(p, "email").join(", ") || <span className="muted">–</span>}</td>
                      <td className="nowrap">
                        {p.lastSeen ? <Ago value={p.lastSeen} /> : <span className="muted">–</span>}
                      </td>
                      <td className="num">{formatNumber(p.eventCount)}</td>
                    </tr>
                  ))}
                </Table>
                {cursors.length > 0 || page.nextCursor ? (
                  <div className="profiles-pager">
                    <button
                      type="button"
                      className="btn btn-small"
                      disabled={cursors.length === 0}
                      onClick={() => setCursors((c) => c.slice(0, -1))}
                    >
                      Previous
                    </button>
                    <span className="muted small">Page {cursors.length + 1}</span>
                    <button
                      type="button"
                      className="btn btn-small"
                      disabled={!page.nextCursor}
                      onClick={() => page.nextCursor && setCursors((c) => [...c, page.nextCursor!])}
                    >
                      Next
                    </button>
                  </div>
                ) : null}
              </>
            )
          }
        </Loaded>
      </Card>
    </Page>
  );
}
