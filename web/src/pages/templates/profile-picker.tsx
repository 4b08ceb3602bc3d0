import { useEffect, useId, useState } from "react";
import { api, type Page } from "../../api.ts";
import { ErrorBox } from "../../ui/components.tsx";
import { displayName, identitiesOf, type Profile } from "../profiles/model.ts";

/** The person a preview and a test send are for. */
export interface PickedProfile {
  id: string;
  name: string;
  /** Their email or user id, to tell two people of the same name apart. */
  detail: string;
}

const STORAGE_KEY = "waymark.templates.previewProfile";

/** The person picked last in this tab: previews of other templates start with them. */
export function rememberedProfile(): PickedProfile | null {
  try {
    const v = JSON.parse(sessionStorage.getItem(STORAGE_KEY) ?? "null") as PickedProfile | null;
    return v && typeof v.id === "string" ? v : null;
  } catch {
    return null;
  }
}

function remember(p: PickedProfile | null): void {
  if (p) sessionStorage.setItem(STORAGE_KEY, JSON.stringify(p));
  else sessionStorage.removeItem(STORAGE_KEY);
}

function pickedOf(p: Profile): PickedProfile {
  const email = typeof p.traits.email === "string" ? p.traits.email : identitiesOf(p, "email")[0];
  const userId = identitiesOf(p, "user_id")[0];
  const name = displayName(p);
  const detail = [email, userId].filter((x) => x && x !== name).join(" · ");
  return { id: p.id, name, detail: detail || p.id };
}

/**
 * Search profiles by any identifier or trait (GET /api/v1/profiles?query=) and pick one. Shows the
 * picked person with a Change button; with an empty search, the most recent profiles.
 */
export function ProfilePicker(props: {
  value: PickedProfile | null;
  onChange: (p: PickedProfile | null) => void;
  label?: string;
}) {
  const [editing, setEditing] = useState(props.value === null);
  const [query, setQuery] = useState("");
  const [results, setResults] = useState<PickedProfile[]>();
  const [error, setError] = useState<unknown>();
  const inputId = useId();
  const listId = useId();

  useEffect(() => {
    if (!editing) return;
    let stale = false;
    // Waits for a pause in typing; an answer to an older query is dropped.
    const timer = setTimeout(() => {
      api<Page<Profile>>("/api/v1/profiles", { query: { query: query.trim(), limit: 6 } }).then(
        (page) => {
          if (stale) return;
          setResults(page.items.map(pickedOf));
          setError(undefined);
        },
        (e: unknown) => {
          if (!stale) setError(e);
        },
      );
    }, 250);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [query, editing]);

  const pick = (p: PickedProfile) => {
    remember(p);
    props.onChange(p);
    setEditing(false);
    setQuery("");
  };

  if (!editing && props.value) {
    return (
      <div className="picked-profile" role="group" aria-label={props.label ?? "Preview as"}>
        <span className="muted small">{props.label ?? "Preview as"}</span>
        <span className="avatar" aria-hidden="true">
          {props.value.name.slice(0, 1).toUpperCase()}
        </span>
        <span className="picked-name">
          <a href={`/profiles/${props.value.id}`} target="_blank" rel="noreferrer">
            {props.value.name}
          </a>
          <span className="muted small">{props.value.detail}</span>
        </span>
        <button type="button" className="btn btn-small" onClick={() => setEditing(true)}>
          Change person
        </button>
      </div>
    );
  }
  return (
    <div className="profile-picker">
      <label className="field" htmlFor={inputId}>
        <span>{props.label ?? "Preview as"}</span>
      </label>
      <div className="row">
        <input
          id={inputId}
          type="search"
          className="grow"
          placeholder="Search people by name, email, user id or any trait"
          value={query}
          autoComplete="off"
          aria-controls={listId}
          onChange={(e) => setQuery(e.target.value)}
        />
        {props.value ? (
          <button type="button" className="btn btn-small" onClick={() => setEditing(false)}>
            Cancel
          </button>
        ) : null}
      </div>
      {error ? <ErrorBox error={error} /> : null}
      <ul id={listId} className="profile-results" aria-label="Matching people">
        {results === undefined ? null : results.length === 0 ? (
          <li className="muted small">
            {query.trim()
              ? `Nobody matches “${query.trim()}”.`
              : "No profiles yet: identify someone (POST /v1/identify) to preview with their traits."}
          </li>
        ) : (
          results.map((p) => (
            <li key={p.id}>
              <button type="button" className="profile-result" onClick={() => pick(p)}>
                <span className="avatar" aria-hidden="true">
                  {p.name.slice(0, 1).toUpperCase()}
                </span>
                <span className="picked-name">
                  <strong>{p.name}</strong>
                  <span className="muted small">{p.detail}</span>
                </span>
              </button>
            </li>
          ))
        )}
      </ul>
    </div>
  );
}
