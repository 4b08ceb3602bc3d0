import { useRef, useState } from "react";
import { Link, useNavigate } from "react-router";
import { api } from "../../api.ts";
import {
  Ago,
  Card,
  EmptyState,
  DialogActions,
  Loaded,
  Page,
  StatusBadge,
  Table,
  formatNumber,
} from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import type { JourneySummary } from "./types.ts";
import "./journeys.css";

const YAML_EXAMPLE = `key: welcome
name: Welcome series
trigger:
  event: Signed Up
steps:
  - id: wait_a_day
    wait:
      duration: 1d
  - id: send_welcome
    message:
      channel: email
      template: welcome`;

/** The journeys of the workspace: status, published version and how many people are in each now. */
export default function JourneysPage() {
  const state = useLoad(() => api<{ items: JourneySummary[] }>("/api/v1/journeys"), [], 5000);
  return (
    <Page
      title="Journeys"
      subtitle="Automated paths people take after an event: waits, branches, messages and webhooks."
      actions={<NewJourneyButton />}
    >
      <Loaded state={state}>
        {({ items }) =>
          items.length === 0 ? (
            <Card>
              <EmptyState title="No journeys yet" action={<NewJourneyButton primary={false} />}>
                <p>
                  Create one here with <strong>New journey</strong>: it starts as a draft you build on the
                  map, then publish.
                </p>
                <p>Or keep the definition as YAML in your repository and apply it with the CLI:</p>
                <pre className="json">{`cat > welcome.yaml <<'YAML'\n${YAML_EXAMPLE}\nYAML\n\nnpx waymark journeys apply -f welcome.yaml\nnpx waymark journeys publish welcome`}</pre>
              </EmptyState>
            </Card>
          ) : (
            <Card>
              <Table
                testId="journeys"
                columns={["Journey", "Status", "Published", "In journey now", "Draft saved"]}
              >
                {items.map((j) => (
                  <tr key={j.key}>
                    <td>
                      <Link to={`/journeys/${encodeURIComponent(j.key)}`} className="journey-link">
                        {j.name}
                      </Link>
                      <div className="muted small mono">{j.key}</div>
                    </td>
                    <td>
                      <StatusBadge status={j.status} />
                    </td>
                    <td>
                      {j.publishedVersion === null ? (
                        <span className="muted">never published</span>
                      ) : (
                        `v${j.publishedVersion}`
                      )}
                    </td>
                    <td className="num" data-testid={`active-${j.key}`}>
                      {formatNumber(j.activeInstances)}
                    </td>
                    <td>
                      <Ago value={j.draftUpdatedAt} />
                    </td>
                  </tr>
                ))}
              </Table>
            </Card>
          )
        }
      </Loaded>
    </Page>
  );
}

/** A key from a name: "Cart reminder!" → "cart-reminder". */
function keyOf(name: string): string {
  return name
    .toLowerCase()
    .normalize("NFKD")
    .replace(/[^a-z0-9_]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 100);
}

/** Asks for a name (and key), saves a minimal valid draft and opens it in the editor. */
function NewJourneyButton(props: { primary?: boolean }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [key, setKey] = useState("");
  const [keyEdited, setKeyEdited] = useState(false);
  const [event, setEvent] = useState("Signed Up");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const effectiveKey = keyEdited ? key : keyOf(name);

  const create = async () => {
    setBusy(true);
    setError(undefined);
    try {
      // A draft is saved with PUT, which would replace an existing journey's draft: refuse a taken key.
      const { items } = await api<{ items: JourneySummary[] }>("/api/v1/journeys");
      if (items.some((j) => j.key === effectiveKey))
        throw new Error(`a journey with the key "${effectiveKey}" exists already; choose another key`);
      await api(`/api/v1/journeys/${encodeURIComponent(effectiveKey)}`, {
        method: "PUT",
        body: {
          key: effectiveKey,
          name: name.trim(),
          trigger: { event: event.trim() },
          steps: [{ id: "wait_a_day", wait: { duration: "1d" } }],
        },
      });
      dialog.current?.close();
      void navigate(`/journeys/${encodeURIComponent(effectiveKey)}?edit=1`);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <button
        type="button"
        className={`btn ${props.primary === false ? "" : "btn-primary"}`}
        onClick={() => {
          setError(undefined);
          dialog.current?.showModal();
        }}
      >
        New journey
      </button>
      <dialog ref={dialog} className="dialog" aria-label="New journey">
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <h2>New journey</h2>
          <div className="dialog-body stack">
            <p className="muted">
              The journey starts as a draft with one step. Build it on the map, then publish it: only a
              published journey lets people in.
            </p>
            <label className="field">
              <span>Name</span>
              <input
                required
                maxLength={200}
                value={name}
                onChange={(e) => setName(e.target.value)}
                placeholder="Cart reminder"
                autoFocus
              />
            </label>
            <label className="field">
              <span>Key</span>
              <input
                required
                pattern="[a-z0-9][a-z0-9_\-]{0,99}"
                title="lowercase letters, digits, - or _"
                value={effectiveKey}
                onChange={(e) => {
                  setKeyEdited(true);
                  setKey(e.target.value);
                }}
                className="mono"
              />
            </label>
            <label className="field">
              <span>Starts when this event arrives</span>
              <input required maxLength={200} value={event} onChange={(e) => setEvent(e.target.value)} />
            </label>
          </div>
          <DialogActions dialog={dialog} error={error}>
            <button type="submit" className="btn btn-primary" disabled={busy || !effectiveKey}>
              Create draft
            </button>
          </DialogActions>
        </form>
      </dialog>
    </>
  );
}
