import { useState, type FormEvent } from "react";
import { api } from "../../api.ts";
import {
  Ago,
  Badge,
  Card,
  ConfirmButton,
  EmptyState,
  ErrorBox,
  Loaded,
  Table,
} from "../../ui/components.tsx";
import { useAction, useLoad } from "../../ui/hooks.ts";
import type { Topic } from "../../../../src/messaging/index.ts";

const TOPIC_CHANNELS = ["email", "sms", "push"] as const;
type TopicChannel = (typeof TOPIC_CHANNELS)[number];

const EMPTY = {
  key: "",
  name: "",
  channels: ["email"] as TopicChannel[],
  default: "opt_in" as Topic["default"],
};

function TopicForm(props: { editing: Topic | undefined; onSaved: (t: Topic) => void; onCancel: () => void }) {
  const [draft, setDraft] = useState(props.editing ?? EMPTY);
  const save = useAction(async () =>
    api<Topic>(`/api/v1/topics/${encodeURIComponent(draft.key.trim())}`, {
      method: "PUT",
      body: { name: draft.name, channels: draft.channels, default: draft.default },
    }),
  );
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const saved = await save.run();
    if (saved) {
      props.onSaved(saved);
      if (!props.editing) setDraft(EMPTY);
    }
  };
  const toggle = (c: TopicChannel, on: boolean) =>
    setDraft({
      ...draft,
      channels: on
        ? TOPIC_CHANNELS.filter((x) => x === c || draft.channels.includes(x))
        : draft.channels.filter((x) => x !== c),
    });
  return (
    <Card title={props.editing ? `Edit topic ${props.editing.key}` : "New topic"}>
      <form
        className="settings-form"
        onSubmit={onSubmit}
        aria-label={props.editing ? "Edit topic" : "New topic"}
      >
        <label className="field">
          <span>Key</span>
          <input
            required
            disabled={props.editing !== undefined}
            pattern="[A-Za-z0-9][A-Za-z0-9_.:\-]{0,99}"
            title="1-100 letters, digits, _ . : or -, starting with a letter or digit"
            placeholder="newsletter"
            value={draft.key}
            onChange={(e) => setDraft({ ...draft, key: e.target.value })}
          />
        </label>
        <label className="field">
          <span>Name</span>
          <input
            required
            placeholder="Product news"
            value={draft.name}
            onChange={(e) => setDraft({ ...draft, name: e.target.value })}
          />
          <small className="muted">What people see on the preference page.</small>
        </label>
        <fieldset className="choices">
          <legend>Channels</legend>
          {TOPIC_CHANNELS.map((c) => (
            <label key={c} className="check">
              <input
                type="checkbox"
                checked={draft.channels.includes(c)}
                onChange={(e) => toggle(c, e.target.checked)}
              />
              <span>{c === "sms" ? "SMS" : c[0]!.toUpperCase() + c.slice(1)}</span>
            </label>
          ))}
        </fieldset>
        <fieldset className="choices choices-stacked">
          <legend>Who gets it</legend>
          <label className="check">
            <input
              type="radio"
              name="topic-default"
              checked={draft.default === "opt_in"}
              onChange={() => setDraft({ ...draft, default: "opt_in" })}
            />
            <span>
              Opt-in <span className="muted small">· only people who subscribed</span>
            </span>
          </label>
          <label className="check">
            <input
              type="radio"
              name="topic-default"
              checked={draft.default === "opt_out"}
              onChange={() => setDraft({ ...draft, default: "opt_out" })}
            />
            <span>
              Opt-out <span className="muted small">· everyone until they unsubscribe</span>
            </span>
          </label>
        </fieldset>
        {save.error ? <ErrorBox error={save.error} /> : null}
        <div className="form-actions">
          <button
            type="submit"
            className="btn btn-primary"
            disabled={save.busy || draft.channels.length === 0}
          >
            {props.editing ? "Save topic" : "Create topic"}
          </button>
          {props.editing ? (
            <button type="button" className="btn" onClick={props.onCancel}>
              Cancel
            </button>
          ) : null}
          {draft.channels.length === 0 ? (
            <span className="muted small">Pick at least one channel.</span>
          ) : null}
        </div>
      </form>
    </Card>
  );
}

/** Topics: what people subscribe to, per channel. */
export function TopicsSection() {
  const state = useLoad(() => api<{ items: Topic[] }>("/api/v1/topics"), []);
  const [editing, setEditing] = useState<Topic>();
  const [notice, setNotice] = useState("");
  return (
    <div className="grid settings-split">
      <Card title="Topics">
        <Loaded state={state}>
          {({ items }) =>
            items.length === 0 ? (
              <EmptyState title="No topics yet">
                <p>
                  Topics are what people subscribe to (a newsletter, product news). Messages sent with a topic
                  go only to people it allows. Create one with the form.
                </p>
              </EmptyState>
            ) : (
              <div className="topics-table">
                <Table columns={["Key", "Name", "Channels", "Default", "Updated", ""]} testId="topics">
                  {items.map((t) => (
                    <tr key={t.key} className={editing?.key === t.key ? "selected" : ""}>
                      <td className="mono">{t.key}</td>
                      <td>{t.name}</td>
                      <td>
                        <div className="row">
                          {t.channels.map((c) => (
                            <Badge key={c} tone="info">
                              {c}
                            </Badge>
                          ))}
                        </div>
                      </td>
                      <td>{t.default === "opt_in" ? "opt-in" : "opt-out"}</td>
                      <td>
                        <Ago value={t.updatedAt} />
                      </td>
                      <td>
                        <div className="row row-end">
                          <button
                            type="button"
                            className="btn btn-small"
                            aria-label={`Edit ${t.key}`}
                            onClick={() => setEditing(t)}
                          >
                            Edit
                          </button>
                          <ConfirmButton
                            label="Delete"
                            title={`Delete topic ${t.key}?`}
                            body={
                              <p>
                                Messages can no longer be sent with <strong>{t.key}</strong>. People&apos;s
                                choices about it are kept, and hold again if you create it again.
                              </p>
                            }
                            danger
                            small
                            onConfirm={async () => {
                              await api(`/api/v1/topics/${encodeURIComponent(t.key)}`, { method: "DELETE" });
                              if (editing?.key === t.key) setEditing(undefined);
                              setNotice(`Deleted topic ${t.key}.`);
                              state.reload();
                            }}
                          />
                        </div>
                      </td>
                    </tr>
                  ))}
                </Table>
              </div>
            )
          }
        </Loaded>
        <p className="muted small" role="status">
          {notice}
        </p>
      </Card>
      <TopicForm
        key={editing?.key ?? "new"}
        editing={editing}
        onSaved={(t) => {
          setNotice(`Saved topic ${t.key}.`);
          setEditing(undefined);
          state.reload();
        }}
        onCancel={() => setEditing(undefined)}
      />
    </div>
  );
}
