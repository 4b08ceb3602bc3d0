import { useState, type FormEvent } from "react";
import { api } from "../../api.ts";
import { Ago, Badge, Card, ErrorBox, Loaded } from "../../ui/components.tsx";
import { useAction, useLoad } from "../../ui/hooks.ts";

/** A channel as GET /api/v1/channels answers it: secrets come back as "***". */
interface ChannelView {
  channel: ChannelKind;
  provider: string;
  config: Record<string, unknown>;
  updatedAt: string | null;
}
type ChannelKind = "email" | "sms" | "push" | "webhook";

/** What PUT /api/v1/channels/:channel takes for a secret it should keep as stored. */
const KEEP_SECRET = "***";

/** One input of a provider's form; `path` is where it sits in the config (`auth.pass`). */
interface FieldSpec {
  path: string;
  label: string;
  /** `keyfile`: a JSON key file pasted whole; write-only like a secret (its private key comes back "***"). */
  kind: "text" | "number" | "checkbox" | "secret" | "keyfile";
  required?: boolean;
  hint?: string;
  placeholder?: string;
}

/** The providers' settings, as src/messaging/channels/{smtp,twilio,fcm}.ts declare them. */
const FORMS: Record<
  Exclude<ChannelKind, "webhook">,
  { provider: string; title: string; noun: string; fields: FieldSpec[] }
> = {
  email: {
    provider: "smtp",
    noun: "email",
    title: "Email · SMTP",
    fields: [
      { path: "host", label: "SMTP host", kind: "text", required: true, placeholder: "smtp.example.com" },
      {
        path: "port",
        label: "Port",
        kind: "number",
        required: true,
        hint: "587 (STARTTLS), 465 (TLS) or 25",
      },
      {
        path: "secure",
        label: "Implicit TLS (port 465)",
        kind: "checkbox",
        hint: "Off: STARTTLS when the server offers it",
      },
      { path: "auth.user", label: "User name", kind: "text", hint: "Leave empty for a relay without AUTH" },
      { path: "auth.pass", label: "Password", kind: "secret" },
      {
        path: "from",
        label: "From",
        kind: "text",
        required: true,
        placeholder: "Acme <news@acme.example>",
      },
      { path: "maxPerSecond", label: "Max messages per second", kind: "number" },
    ],
  },
  sms: {
    provider: "twilio",
    noun: "SMS",
    title: "SMS · Twilio",
    fields: [
      {
        path: "accountSid",
        label: "Account SID",
        kind: "text",
        required: true,
        placeholder: "AC…",
        hint: "AC followed by 32 hex digits, from the Twilio console",
      },
      { path: "authToken", label: "Auth token", kind: "secret", required: true },
      {
        path: "from",
        label: "From",
        kind: "text",
        required: true,
        placeholder: "+15005550006",
        hint: "A number in E.164 or an alphanumeric sender id",
      },
      { path: "baseUrl", label: "API base URL", kind: "text", placeholder: "https://api.twilio.com" },
      { path: "maxPerSecond", label: "Max messages per second", kind: "number" },
    ],
  },
  push: {
    provider: "fcm",
    noun: "push",
    title: "Push · Firebase Cloud Messaging",
    fields: [
      {
        path: "serviceAccount",
        label: "Service account key (JSON)",
        kind: "keyfile",
        hint: "The key file of a service account with the Firebase Cloud Messaging API Admin role; Waymark renews its access tokens",
      },
      {
        path: "projectId",
        label: "Firebase project id",
        kind: "text",
        hint: "Defaults to the key file's project_id",
      },
      {
        path: "accessToken",
        label: "Access token",
        kind: "secret",
        hint: "Instead of a key file: an OAuth 2 token with the firebase.messaging scope; replace it before it expires",
      },
      {
        path: "baseUrl",
        label: "API base URL",
        kind: "text",
        placeholder: "https://fcm.googleapis.com",
      },
      { path: "maxPerSecond", label: "Max messages per second", kind: "number" },
    ],
  },
};

function valueAt(config: Record<string, unknown> | undefined, path: string): unknown {
  let node: unknown = config;
  for (const step of path.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[step];
  }
  return node;
}

function setAt(config: Record<string, unknown>, path: string, value: unknown): void {
  const steps = path.split(".");
  let node = config;
  for (const step of steps.slice(0, -1)) {
    node[step] ??= {};
    node = node[step] as Record<string, unknown>;
  }
  node[steps.at(-1)!] = value;
}

type FormValues = Record<string, string | boolean>;

function initialValues(fields: FieldSpec[], stored: ChannelView | undefined): FormValues {
  const values: FormValues = {};
  for (const f of fields) {
    const v = valueAt(stored?.config, f.path);
    if (f.kind === "checkbox") values[f.path] = v === true;
    // A stored secret is never shown: the field starts empty and "***" keeps it.
    else if (f.kind === "secret" || f.kind === "keyfile") values[f.path] = "";
    else values[f.path] = v === undefined || v === null ? (f.path === "port" ? "587" : "") : String(v);
  }
  return values;
}

/** The PUT body: empty optional fields left out, numbers as numbers, empty secrets kept as stored. */
function configOf(
  provider: string,
  fields: FieldSpec[],
  values: FormValues,
  stored: ChannelView | undefined,
): Record<string, unknown> {
  const config: Record<string, unknown> = { provider };
  for (const f of fields) {
    const v = values[f.path];
    if (f.kind === "checkbox") setAt(config, f.path, v === true);
    else if (f.kind === "secret") {
      const typed = String(v ?? "");
      if (typed !== "") setAt(config, f.path, typed);
      else if (valueAt(stored?.config, f.path) !== undefined) setAt(config, f.path, KEEP_SECRET);
    } else if (f.kind === "keyfile") {
      const typed = String(v ?? "").trim();
      // Kept as stored when nothing is pasted: its private key comes back as "***", which keeps it.
      const keyFile = typed !== "" ? parseKeyFile(f.label, typed) : valueAt(stored?.config, f.path);
      if (keyFile !== undefined) setAt(config, f.path, keyFile);
    } else if (String(v ?? "").trim() !== "") {
      setAt(config, f.path, f.kind === "number" ? Number(v) : String(v).trim());
    }
  }
  // SMTP AUTH is all or nothing: no user name means a relay without AUTH.
  if (provider === "smtp" && valueAt(config, "auth.user") === undefined) delete config.auth;
  // FCM signs in one way: what was typed now replaces the other, stored way.
  if (provider === "fcm") {
    if (String(values.serviceAccount ?? "").trim() !== "") delete config.accessToken;
    else if (String(values.accessToken ?? "") !== "") delete config.serviceAccount;
  }
  return config;
}

/** A pasted key file; an Error naming the field when it is not a JSON object. */
function parseKeyFile(label: string, text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new Error(`${label}: not JSON (${(e as Error).message})`, { cause: e });
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${label}: not a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function ChannelForm(props: { channel: Exclude<ChannelKind, "webhook">; stored: ChannelView | undefined }) {
  const form = FORMS[props.channel];
  const [stored, setStored] = useState(props.stored);
  const [values, setValues] = useState<FormValues>(() => initialValues(form.fields, props.stored));
  // The body is built inside the action, so a key file that does not parse shows as its error.
  const save = useAction(async (typed: FormValues) =>
    api<ChannelView>(`/api/v1/channels/${props.channel}`, {
      method: "PUT",
      body: configOf(form.provider, form.fields, typed, stored),
    }),
  );
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const view = await save.run(values);
    if (view) {
      setStored(view);
      setValues(initialValues(form.fields, view));
    }
  };
  const id = (path: string) => `channel-${props.channel}-${path.replace(".", "-")}`;
  return (
    <Card
      title={form.title}
      actions={
        stored ? (
          <span className="row">
            {stored.updatedAt ? (
              <span className="muted small">
                updated <Ago value={stored.updatedAt} />
              </span>
            ) : null}
            <Badge tone="ok">Configured</Badge>
          </span>
        ) : (
          <Badge tone="neutral">Not configured</Badge>
        )
      }
    >
      <form className="settings-form" onSubmit={onSubmit} aria-label={`${props.channel} channel`}>
        {form.fields.map((f) => {
          const secretSet =
            (f.kind === "secret" || f.kind === "keyfile") && valueAt(stored?.config, f.path) !== undefined;
          if (f.kind === "checkbox") {
            return (
              <label key={f.path} className="check">
                <input
                  type="checkbox"
                  checked={values[f.path] === true}
                  onChange={(e) => setValues({ ...values, [f.path]: e.target.checked })}
                />
                <span>
                  {f.label}
                  {f.hint ? <span className="muted small"> · {f.hint}</span> : null}
                </span>
              </label>
            );
          }
          return (
            <div key={f.path} className="field">
              <label htmlFor={id(f.path)} className="field-label">
                {f.label}
                {!f.required && f.kind !== "secret" ? <span className="muted small"> (optional)</span> : null}
                {secretSet ? <Badge tone="ok">set</Badge> : null}
              </label>
              {f.kind === "keyfile" ? (
                <textarea
                  id={id(f.path)}
                  rows={4}
                  spellCheck={false}
                  placeholder={
                    secretSet
                      ? "Stored; paste a new key file to replace it"
                      : '{"type": "service_account", ...}'
                  }
                  value={String(values[f.path] ?? "")}
                  onChange={(e) => setValues({ ...values, [f.path]: e.target.value })}
                  aria-describedby={f.hint ? `${id(f.path)}-hint` : undefined}
                />
              ) : (
                <input
                  id={id(f.path)}
                  type={f.kind === "secret" ? "password" : f.kind === "number" ? "number" : "text"}
                  autoComplete={f.kind === "secret" ? "new-password" : "off"}
                  required={f.required === true && !secretSet}
                  placeholder={secretSet ? "Stored; type a new one to replace it" : f.placeholder}
                  value={String(values[f.path] ?? "")}
                  onChange={(e) => setValues({ ...values, [f.path]: e.target.value })}
                  aria-describedby={f.hint ? `${id(f.path)}-hint` : undefined}
                />
              )}
              {f.hint ? (
                <div id={`${id(f.path)}-hint`} className="muted small">
                  {f.hint}
                </div>
              ) : null}
            </div>
          );
        })}
        {save.error ? <ErrorBox error={save.error} /> : null}
        <div className="form-actions">
          <button type="submit" className="btn btn-primary" disabled={save.busy}>
            {save.busy ? "Saving…" : `Save ${form.noun} channel`}
          </button>
          <span className="muted small" role="status">
            {save.result ? "Saved. Messages from now on use these settings." : null}
          </span>
        </div>
      </form>
    </Card>
  );
}

/** The four channels: a provider form each; the webhook channel needs no settings. */
export function ChannelsSection() {
  const state = useLoad(() => api<{ items: ChannelView[] }>("/api/v1/channels"), []);
  return (
    <Loaded state={state}>
      {({ items }) => {
        const of = (c: ChannelKind) => items.find((i) => i.channel === c && i.updatedAt !== null);
        return (
          <div className="grid grid-2 channels">
            <ChannelForm channel="email" stored={of("email")} />
            <ChannelForm channel="sms" stored={of("sms")} />
            <ChannelForm channel="push" stored={of("push")} />
            <Card title="Webhook" actions={<Badge tone="ok">Ready</Badge>}>
              <p className="settings-lead">
                Webhook messages need no settings. Each call is signed with the workspace&apos;s webhook
                secret (see <strong>Keys</strong>), following Standard Webhooks, so the receiver can check it
                came from Waymark.
              </p>
              <p className="muted small">
                Outbound addresses are limited by the server&apos;s <code>WAYMARK_OUTBOUND_ALLOW</code> list.
              </p>
            </Card>
          </div>
        );
      }}
    </Loaded>
  );
}
