import { useRef, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router";
import { api } from "../../api.ts";
import {
  Ago,
  Badge,
  Card,
  DialogActions,
  EmptyState,
  Loaded,
  Page,
  Table,
  Time,
} from "../../ui/components.tsx";
import { useLoad } from "../../ui/hooks.ts";
import {
  CHANNEL_LABELS,
  TEMPLATE_CHANNELS,
  TEMPLATE_KEY_HINT,
  TEMPLATE_KEY_PATTERN,
  type TemplateChannel,
} from "./draft.ts";
import "./templates.css";
import type { TemplateSummary } from "../../../../src/messaging/index.ts";

const CHANNEL_ABOUT: Record<TemplateChannel, string> = {
  email: "Subject, HTML or MJML, and a text part",
  sms: "A text message, up to 1,600 characters",
  push: "A title, a body and a data payload",
  webhook: "A JSON body posted to your endpoint",
};

/** Picks a key and a channel, then opens the editor on the new (unsaved) template. */
function NewTemplateDialog(props: { existing: string[] }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const navigate = useNavigate();
  const [key, setKey] = useState("");
  const [channel, setChannel] = useState<TemplateChannel>("email");
  const taken = props.existing.includes(key.trim());
  const onSubmit = (e: FormEvent) => {
    e.preventDefault();
    if (taken) return;
    dialog.current?.close();
    void navigate(`/templates/${encodeURIComponent(key.trim())}?channel=${channel}`);
  };
  return (
    <>
      <button type="button" className="btn btn-primary" onClick={() => dialog.current?.showModal()}>
        New template
      </button>
      <dialog ref={dialog} className="dialog" aria-label="New template">
        <form onSubmit={onSubmit} className="new-template">
          <h2>New template</h2>
          <label className="field">
            <span>Key</span>
            <input
              required
              autoFocus
              pattern={TEMPLATE_KEY_PATTERN}
              title={TEMPLATE_KEY_HINT}
              placeholder="welcome-email"
              value={key}
              onChange={(e) => setKey(e.target.value.toLowerCase())}
              aria-invalid={taken}
            />
            <small className={taken ? "field-error" : "muted"}>
              {taken
                ? "A template with this key exists: open it from the list."
                : `Journeys and the send API name it by this key: ${TEMPLATE_KEY_HINT}.`}
            </small>
          </label>
          <fieldset className="channel-choices">
            <legend>Channel</legend>
            {TEMPLATE_CHANNELS.map((c) => (
              <label key={c} className={`channel-choice ${channel === c ? "chosen" : ""}`}>
                <input
                  type="radio"
                  name="new-template-channel"
                  value={c}
                  checked={channel === c}
                  onChange={() => setChannel(c)}
                />
                <span>
                  <strong>{CHANNEL_LABELS[c]}</strong>
                  <span className="muted small">{CHANNEL_ABOUT[c]}</span>
                </span>
              </label>
            ))}
          </fieldset>
          <p className="muted small">The channel is fixed once the template is saved.</p>
          <DialogActions dialog={dialog}>
            <button type="submit" className="btn btn-primary" disabled={taken}>
              Open the editor
            </button>
          </DialogActions>
        </form>
      </dialog>
    </>
  );
}

/** The workspace's message templates. */
export default function TemplatesPage() {
  const state = useLoad(() => api<{ items: TemplateSummary[] }>("/api/v1/templates"), []);
  const navigate = useNavigate();
  const existing = state.data?.items.map((t) => t.key) ?? [];
  return (
    <Page
      title="Templates"
      subtitle="The messages journeys and the send API send: email, SMS, push and webhooks. Every save is a new version."
      actions={<NewTemplateDialog existing={existing} />}
    >
      <Card>
        <Loaded state={state}>
          {({ items }) =>
            items.length === 0 ? (
              <EmptyState title="No templates yet">
                <p>
                  Create one with <strong>New template</strong>, preview it for a real person as you type,
                  then send it from a journey&apos;s message step or with the send API:
                </p>
                <pre className="json">{`POST /api/v1/send
{ "template": "welcome-email", "to": { "userId": "user-1" } }`}</pre>
              </EmptyState>
            ) : (
              <Table columns={["Key", "Channel", "Latest version", "Updated", "Created"]} testId="templates">
                {items.map((t) => (
                  <tr
                    key={t.key}
                    className="clickable"
                    onClick={(e) => {
                      if (!(e.target as HTMLElement).closest("a")) void navigate(`/templates/${t.key}`);
                    }}
                  >
                    <td>
                      <Link to={`/templates/${t.key}`} className="mono">
                        {t.key}
                      </Link>
                    </td>
                    <td>
                      <Badge tone="info">{CHANNEL_LABELS[t.channel]}</Badge>
                    </td>
                    <td>v{t.latestVersion}</td>
                    <td>
                      <Ago value={t.updatedAt} />
                    </td>
                    <td>
                      <Time value={t.createdAt} />
                    </td>
                  </tr>
                ))}
              </Table>
            )
          }
        </Loaded>
      </Card>
    </Page>
  );
}
