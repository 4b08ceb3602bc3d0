import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useBlocker, useParams, useSearchParams } from "react-router";
import { ApiError, api } from "../../api.ts";
import { Ago, Badge, Card, EmptyState, ErrorBox, Loaded, Page } from "../../ui/components.tsx";
import { useAction, useLoad } from "../../ui/hooks.ts";
import { ContentEditor, goToProblem, type FieldRefs } from "./content-editor.tsx";
import {
  CHANNEL_LABELS,
  TEMPLATE_CHANNELS,
  contentOf,
  draftOf,
  problemOf,
  starterDraft,
  type Draft,
  type FieldProblem,
  type TemplateChannel,
} from "./draft.ts";
import { PreviewView, ProblemBox, usePreview } from "./preview.tsx";
import { ProfilePicker, rememberedProfile, type PickedProfile } from "./profile-picker.tsx";
import { SendTest } from "./send-test.tsx";
import "./templates.css";
import type { describeTemplate } from "../../../../src/messaging/index.ts";

/** A template version as GET /api/v1/templates/:key answers. */
type TemplateDetail = Awaited<ReturnType<typeof describeTemplate>>;

/** Parses the optional sample JSON typed under the preview (`event`, `data`). */
function sampleOf(
  text: string,
  name: string,
): { value: Record<string, unknown> | undefined; error: string | undefined } {
  if (text.trim() === "") return { value: undefined, error: undefined };
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v === "object" && v !== null && !Array.isArray(v))
      return { value: v as Record<string, unknown>, error: undefined };
    return { value: undefined, error: `${name} must be a JSON object` };
  } catch (e) {
    return { value: undefined, error: `${name} is not valid JSON (${e instanceof Error ? e.message : e})` };
  }
}

function Editor(props: {
  templateKey: string;
  detail: TemplateDetail | null;
  channel: TemplateChannel;
  onVersion: (v: number | undefined) => void;
  onSaved: () => void;
}) {
  const { detail, templateKey } = props;
  const initial = useMemo(
    () => (detail ? draftOf(detail.content) : starterDraft(props.channel)),
    [detail, props.channel],
  );
  const [draft, setDraft] = useState<Draft>(initial);
  const [saved, setSaved] = useState<{ draft: Draft; version: number; createdAt: string } | undefined>(
    detail ? { draft: initial, version: detail.version, createdAt: detail.createdAt } : undefined,
  );
  const [versions, setVersions] = useState(detail?.versions ?? []);
  const latest = versions[0]?.version;
  const [profile, setProfile] = useState<PickedProfile | null>(rememberedProfile);
  const [eventText, setEventText] = useState("");
  const [dataText, setDataText] = useState("");
  const refs: FieldRefs = useRef({});

  const dirty = !saved || JSON.stringify(saved.draft) !== JSON.stringify(draft);
  /** Edited since it was opened or saved: what leaving the page would lose. */
  const changed = JSON.stringify(saved?.draft ?? initial) !== JSON.stringify(draft);
  const converted = contentOf(draft);
  const event = sampleOf(eventText, "event");
  const data = sampleOf(dataText, "data");
  const preview = usePreview({
    content: converted.ok ? converted.content : undefined,
    localProblem: converted.ok ? undefined : converted.problem,
    profileId: profile?.id,
    event: event.value,
    data: data.value,
  });

  const save = useAction(async () => {
    if (!converted.ok) throw new Error(`${converted.problem.path} ${converted.problem.message}`);
    return api<{ version: number; createdAt: string }>(`/api/v1/templates/${templateKey}`, {
      method: "PUT",
      body: converted.content,
    });
  });
  const saveProblem: FieldProblem | undefined =
    save.error instanceof ApiError && save.error.status === 400
      ? problemOf(draft.channel, save.error.message)
      : !converted.ok
        ? converted.problem
        : undefined;
  const problem =
    saveProblem ??
    (preview.kind === "problem" ? preview.problem : undefined) ??
    (converted.ok ? undefined : converted.problem);

  const doSave = async () => {
    const stored = await save.run();
    if (!stored) return;
    setSaved({ draft, version: stored.version, createdAt: stored.createdAt });
    setVersions((vs) => [{ version: stored.version, createdAt: stored.createdAt }, ...vs]);
    props.onSaved();
  };

  // Ctrl/Cmd+S saves; unsaved changes are not lost to a closed tab or a link without asking.
  const saveRef = useRef(doSave);
  saveRef.current = doSave;
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.ctrlKey || e.metaKey) && e.key === "s") {
        e.preventDefault();
        void saveRef.current();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
  useEffect(() => {
    if (!changed) return;
    const onBeforeUnload = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => window.removeEventListener("beforeunload", onBeforeUnload);
  }, [changed]);
  const blocker = useBlocker(
    ({ currentLocation, nextLocation }) => changed && currentLocation.pathname !== nextLocation.pathname,
  );
  useEffect(() => {
    if (blocker.state !== "blocked") return;
    if (window.confirm("Leave this template? Your unsaved changes will be lost.")) blocker.proceed();
    else blocker.reset();
  }, [blocker]);

  const viewing = detail && latest !== undefined && detail.version !== latest ? detail.version : undefined;
  return (
    <Page
      title={<span className="template-key">{templateKey}</span>}
      subtitle={
        <span className="row">
          <Badge tone="info">{CHANNEL_LABELS[draft.channel]}</Badge>
          {saved ? (
            <span>
              {viewing ? `Version ${viewing} of ${latest}` : `Version ${saved.version}`}, saved{" "}
              <Ago value={saved.createdAt} />
            </span>
          ) : (
            <span>New template: not saved yet</span>
          )}
          {dirty && saved ? <Badge tone="warn">Unsaved changes</Badge> : null}
        </span>
      }
      actions={
        <>
          {versions.length > 0 ? (
            <label className="version-select">
              <span className="muted small">Version</span>
              <select
                value={viewing ?? latest}
                onChange={(e) => {
                  const v = Number(e.target.value);
                  if (changed && !window.confirm("Open another version? Your unsaved changes will be lost."))
                    return;
                  props.onVersion(v === latest ? undefined : v);
                }}
              >
                {versions.map((v) => (
                  <option key={v.version} value={v.version}>
                    v{v.version}
                    {v.version === latest ? " (latest)" : ""} ·{" "}
                    {new Date(v.createdAt).toLocaleString(undefined, {
                      month: "short",
                      day: "numeric",
                      hour: "numeric",
                      minute: "2-digit",
                    })}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
          <span className="save-status" role="status">
            {save.result && !dirty ? `Saved version ${save.result.version}.` : ""}
          </span>
          <button
            type="button"
            className="btn btn-primary"
            disabled={save.busy || (!dirty && saved !== undefined)}
            onClick={() => void doSave()}
            title="Ctrl+S"
          >
            {save.busy ? "Saving…" : saved ? `Save as v${(latest ?? 0) + 1}` : "Save v1"}
          </button>
        </>
      }
    >
      {viewing ? (
        <div className="version-notice" role="note">
          You are looking at version {viewing}. Saving stores it as version {(latest ?? 0) + 1};{" "}
          <button type="button" className="link-button" onClick={() => props.onVersion(undefined)}>
            open the latest
          </button>
          .
        </div>
      ) : null}
      {save.error && !(save.error instanceof ApiError && save.error.status === 400) ? (
        <ErrorBox error={save.error} />
      ) : null}
      {save.error && saveProblem ? (
        <div className="save-problem">
          <strong>Not saved.</strong>{" "}
          <ProblemBox problem={saveProblem} onGoTo={(p) => goToProblem(refs, p)} />
        </div>
      ) : null}
      <div className="template-layout">
        <Card title="Content">
          <ContentEditor
            draft={draft}
            onChange={(d) => {
              setDraft(d);
              if (save.error) save.reset();
            }}
            problem={problem}
            refs={refs}
          />
        </Card>
        <div className="template-side">
          <Card
            title="Preview"
            className="preview-card"
            actions={
              <span className="muted small" role="status" aria-live="polite">
                {preview.kind === "rendering"
                  ? "Rendering…"
                  : preview.kind === "rendered"
                    ? "Rendered by the server"
                    : preview.kind === "problem"
                      ? "Render error"
                      : ""}
              </span>
            }
          >
            <ProfilePicker value={profile} onChange={setProfile} />
            <details className="sample-data">
              <summary>Sample event and data</summary>
              <div className="grid grid-2">
                <label className="field">
                  <span>event (JSON)</span>
                  <textarea
                    rows={4}
                    value={eventText}
                    placeholder='{ "event": "Order Completed", "properties": { "total": 42 } }'
                    onChange={(e) => setEventText(e.target.value)}
                    aria-invalid={event.error ? true : undefined}
                  />
                  {event.error ? <small className="field-error">{event.error}</small> : null}
                </label>
                <label className="field">
                  <span>data (JSON)</span>
                  <textarea
                    rows={4}
                    value={dataText}
                    placeholder='{ "code": "WELCOME10" }'
                    onChange={(e) => setDataText(e.target.value)}
                    aria-invalid={data.error ? true : undefined}
                  />
                  {data.error ? <small className="field-error">{data.error}</small> : null}
                </label>
              </div>
              <p className="muted small">
                What <code>event</code> and <code>data</code> hold in the preview; a test send passes{" "}
                <code>data</code> along.
              </p>
            </details>
            <PreviewView state={preview} onGoTo={(p) => goToProblem(refs, p)} />
          </Card>
          <SendTest
            templateKey={templateKey}
            channel={draft.channel}
            savedVersion={latest}
            dirty={dirty}
            profile={profile}
            data={data.value}
          />
        </div>
      </div>
    </Page>
  );
}

/** /templates/:key: the editor with a live, server-rendered preview; ?channel= for a new template. */
export default function TemplatePage() {
  const key = useParams().key ?? "";
  const [params, setParams] = useSearchParams();
  const versionParam = params.get("version");
  const channelParam = params.get("channel");
  const channelInUrl = TEMPLATE_CHANNELS.find((c) => c === channelParam);
  // The channel of a new template outlives ?channel=, which its first save drops from the address.
  const [created, setCreated] = useState<{ key: string; channel: TemplateChannel }>();
  const newChannel = channelInUrl ?? (created?.key === key ? created.channel : undefined);
  const state = useLoad(async () => {
    // A new template (?channel= from the list's dialog) is looked up in the list: no 404 to log.
    if (newChannel && !versionParam) {
      const { items } = await api<{ items: Array<{ key: string }> }>("/api/v1/templates");
      if (!items.some((t) => t.key === key)) return null;
    }
    try {
      return await api<TemplateDetail>(`/api/v1/templates/${encodeURIComponent(key)}`, {
        query: { version: versionParam },
      });
    } catch (e) {
      if (e instanceof ApiError && e.status === 404 && !versionParam) return null;
      throw e;
    }
  }, [key, versionParam]);
  return (
    <Loaded state={state}>
      {(detail) =>
        detail === null && !newChannel ? (
          <Page title={<span className="template-key">{key}</span>}>
            <Card>
              <EmptyState
                title={`No template ${key}`}
                action={
                  <Link className="btn btn-primary" to="/templates">
                    Back to templates
                  </Link>
                }
              >
                <p>It may have been named differently. Create it with New template on the templates page.</p>
              </EmptyState>
            </Card>
          </Page>
        ) : (
          <Editor
            key={`${key}:${detail?.version ?? "new"}`}
            templateKey={key}
            detail={detail}
            channel={detail?.channel ?? newChannel!}
            onVersion={(v) => setParams(v === undefined ? {} : { version: String(v) })}
            onSaved={() => {
              // The template exists now: drop ?channel= and ?version= (the editor shows the latest).
              if (newChannel) setCreated({ key, channel: newChannel });
              if (channelParam || versionParam) setParams({}, { replace: true });
            }}
          />
        )
      }
    </Loaded>
  );
}
