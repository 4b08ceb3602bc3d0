import { useEffect, useState } from "react";
import { ApiError, api } from "../../api.ts";
import { EmptyState, ErrorBox, JsonView } from "../../ui/components.tsx";
import {
  problemOf,
  whereOf,
  type FieldProblem,
  type TemplateChannel,
  type TemplateContent,
} from "./draft.ts";

/** Exactly what would be sent, as POST /api/v1/templates/preview answers. */
export interface Rendered {
  channel: TemplateChannel;
  subject?: string;
  html?: string;
  text?: string;
  title?: string;
  body?: string;
  data?: Record<string, unknown>;
}

export type PreviewState =
  | { kind: "idle" }
  | { kind: "rendering"; last: Rendered | undefined }
  | { kind: "rendered"; rendered: Rendered }
  | { kind: "problem"; problem: FieldProblem; last: Rendered | undefined }
  | { kind: "failed"; error: unknown; last: Rendered | undefined };

const DEBOUNCE_MS = 400;

/**
 * Renders the draft on the server for the person as the user types: one request after a 400 ms
 * pause, answers to older drafts dropped. A template error becomes a problem on the field it names.
 */
export function usePreview(input: {
  content: TemplateContent | undefined;
  /** A draft that cannot be sent to the server (bad JSON in a field). */
  localProblem: FieldProblem | undefined;
  profileId: string | undefined;
  event: Record<string, unknown> | undefined;
  data: Record<string, unknown> | undefined;
}): PreviewState {
  const [state, setState] = useState<PreviewState>({ kind: "idle" });
  const key = JSON.stringify([input.content, input.localProblem, input.profileId, input.event, input.data]);
  useEffect(() => {
    const lastOf = (s: PreviewState) =>
      s.kind === "rendered" ? s.rendered : s.kind === "idle" ? undefined : s.last;
    if (input.localProblem) {
      setState((s) => ({ kind: "problem", problem: input.localProblem!, last: lastOf(s) }));
      return;
    }
    if (!input.content || !input.profileId) {
      setState({ kind: "idle" });
      return;
    }
    let stale = false;
    setState((s) => ({ kind: "rendering", last: lastOf(s) }));
    const channel = input.content.channel;
    const timer = setTimeout(() => {
      api<Rendered>("/api/v1/templates/preview", {
        method: "POST",
        body: {
          content: input.content,
          profileId: input.profileId,
          ...(input.event ? { event: input.event } : {}),
          ...(input.data ? { data: input.data } : {}),
        },
      }).then(
        (rendered) => {
          if (!stale) setState({ kind: "rendered", rendered });
        },
        (error: unknown) => {
          if (stale) return;
          setState((s) =>
            error instanceof ApiError && error.status === 400
              ? { kind: "problem", problem: problemOf(channel, error.message), last: lastOf(s) }
              : { kind: "failed", error, last: lastOf(s) },
          );
        },
      );
    }, DEBOUNCE_MS);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
    // `key` stands for every input: a new object with the same content must not render again.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  return state;
}

/** The server's render error, naming the field and the line. */
export function ProblemBox(props: { problem: FieldProblem; onGoTo?: (p: FieldProblem) => void }) {
  const p = props.problem;
  const where = whereOf(p);
  return (
    <div className="error-box render-error" role="alert">
      <strong>
        {p.path ? (
          <>
            Error in <code>{p.path}</code>
            {where ? `, ${where}` : ""}:
          </>
        ) : (
          "The template does not render:"
        )}
      </strong>{" "}
      <span>{p.message}</span>
      {p.field && props.onGoTo ? (
        <button type="button" className="btn btn-small" onClick={() => props.onGoTo!(p)}>
          Go to {where || p.path}
        </button>
      ) : null}
    </div>
  );
}

function smsSegments(body: string): number {
  // GSM-7 text fits 160 characters per message (153 when split); anything else UCS-2: 70 (67).
  // eslint-disable-next-line no-control-regex
  const gsm = /^[\x0A\x0D\x20-\x7E£¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà€]*$/.test(body);
  const [one, many] = gsm ? [160, 153] : [70, 67];
  return body.length <= one ? 1 : Math.ceil(body.length / many);
}

function RenderedView(props: { rendered: Rendered }) {
  const r = props.rendered;
  switch (r.channel) {
    case "email":
      return (
        <div className="rendered-email">
          <dl className="email-headers">
            <dt>Subject</dt>
            <dd data-testid="preview-subject">{r.subject}</dd>
          </dl>
          <iframe
            className="email-frame"
            title="Email preview"
            sandbox=""
            referrerPolicy="no-referrer"
            srcDoc={r.html ?? ""}
          />
          <details className="text-part">
            <summary>Plain-text part</summary>
            <pre data-testid="preview-text">{r.text}</pre>
          </details>
        </div>
      );
    case "sms":
      return (
        <div className="rendered-sms">
          <div className="sms-bubble" data-testid="preview-body">
            {r.body}
          </div>
          <div className="muted small">
            {r.body?.length ?? 0} characters · {smsSegments(r.body ?? "")} SMS
          </div>
        </div>
      );
    case "push":
      return (
        <div className="rendered-push">
          <div className="push-card">
            <div className="push-app muted small">Your app · now</div>
            <strong data-testid="preview-title">{r.title}</strong>
            <div data-testid="preview-body">{r.body}</div>
          </div>
          {r.data ? (
            <>
              <h3 className="preview-subhead">Data</h3>
              <JsonView value={r.data} maxHeight={240} />
            </>
          ) : null}
        </div>
      );
    case "webhook":
      return (
        <div>
          <h3 className="preview-subhead">JSON body</h3>
          <JsonView value={r.data ?? {}} maxHeight={520} />
        </div>
      );
  }
}

/** The preview area: what the server rendered, or why it could not. */
export function PreviewView(props: { state: PreviewState; onGoTo: (p: FieldProblem) => void }) {
  const s = props.state;
  if (s.kind === "idle") {
    return (
      <EmptyState title="Pick a person to preview">
        <p>The server renders the template with their traits, exactly as it would send it.</p>
      </EmptyState>
    );
  }
  const last = s.kind === "rendered" ? s.rendered : s.last;
  return (
    <div className="preview-body" aria-busy={s.kind === "rendering"}>
      {s.kind === "problem" ? <ProblemBox problem={s.problem} onGoTo={props.onGoTo} /> : null}
      {s.kind === "failed" ? <ErrorBox error={s.error} /> : null}
      {last ? (
        <div className={s.kind === "rendered" || s.kind === "rendering" ? "" : "preview-stale"}>
          <RenderedView rendered={last} />
        </div>
      ) : s.kind === "rendering" ? (
        <div className="muted">Rendering…</div>
      ) : null}
    </div>
  );
}
