import { useEffect, useRef, useState, type ReactNode, type RefObject } from "react";
import { ApiError } from "../api.ts";

/** A page: title, optional subtitle and actions on the right, then the content. */
export function Page(props: {
  title: ReactNode;
  subtitle?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
}) {
  return (
    <section className="page">
      <header className="page-header">
        <div>
          <h1>{props.title}</h1>
          {props.subtitle ? <p className="muted">{props.subtitle}</p> : null}
        </div>
        {props.actions ? <div className="actions">{props.actions}</div> : null}
      </header>
      {props.children}
    </section>
  );
}

export function Card(props: {
  title?: ReactNode;
  actions?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <div className={`card ${props.className ?? ""}`}>
      {props.title || props.actions ? (
        <div className="card-header">
          {props.title ? <h2>{props.title}</h2> : <span />}
          {props.actions}
        </div>
      ) : null}
      {props.children}
    </div>
  );
}

/** A headline number with its label. */
export function Stat(props: { label: string; value: ReactNode; hint?: ReactNode; testId?: string }) {
  return (
    <div className="stat" data-testid={props.testId}>
      <div className="stat-label">{props.label}</div>
      <div className="stat-value">{props.value}</div>
      {props.hint ? <div className="stat-hint muted">{props.hint}</div> : null}
    </div>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <div className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {props.label ?? "Loading…"}
    </div>
  );
}

/** An error as the user should read it: the server's message, and what to try. */
export function ErrorBox(props: { error: unknown; onRetry?: () => void }) {
  const e = props.error;
  const message = e instanceof Error ? e.message : String(e);
  const status = e instanceof ApiError ? ` (${e.status})` : "";
  return (
    <div className="error-box" role="alert">
      <strong>Something went wrong{status}.</strong> {message}
      {props.onRetry ? (
        <button type="button" className="btn btn-small" onClick={props.onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/** What to do when there is nothing yet. */
export function EmptyState(props: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="empty">
      <h3>{props.title}</h3>
      {props.children}
      {props.action ? <div className="empty-action">{props.action}</div> : null}
    </div>
  );
}

/** Shows loading / error / empty for a loaded value, else renders it. */
export function Loaded<T>(props: {
  state: { data: T | undefined; error: Error | undefined; reload: () => void };
  children: (data: T) => ReactNode;
}) {
  const { data, error, reload } = props.state;
  if (error && data === undefined) return <ErrorBox error={error} onRetry={reload} />;
  if (data === undefined) return <Loading />;
  return <>{props.children(data)}</>;
}

export function Badge(props: { tone?: "ok" | "warn" | "bad" | "info" | "neutral"; children: ReactNode }) {
  return <span className={`badge badge-${props.tone ?? "neutral"}`}>{props.children}</span>;
}

const STATUS_TONES: Record<string, "ok" | "warn" | "bad" | "info" | "neutral"> = {
  published: "ok",
  active: "info",
  sent: "ok",
  completed: "ok",
  draft: "neutral",
  paused: "warn",
  queued: "neutral",
  skipped: "warn",
  held_out: "warn",
  exited: "neutral",
  archived: "neutral",
  failed: "bad",
  bounced: "bad",
};
export function StatusBadge(props: { status: string }) {
  return <Badge tone={STATUS_TONES[props.status] ?? "neutral"}>{props.status.replace("_", " ")}</Badge>;
}

export function CopyButton(props: { value: string; label?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="btn btn-small"
      onClick={() => {
        void navigator.clipboard?.writeText(props.value).then(
          () => setCopied(true),
          () => setCopied(false),
        );
        setTimeout(() => setCopied(false), 1500);
      }}
    >
      {copied ? "Copied" : (props.label ?? "Copy")}
    </button>
  );
}

/** JSON, pretty-printed and scrollable. */
export function JsonView(props: { value: unknown; maxHeight?: number }) {
  return (
    <pre className="json" style={{ maxHeight: props.maxHeight ?? 480 }}>
      {JSON.stringify(props.value, null, 2)}
    </pre>
  );
}

/** A dialog's foot: the error of its last try, if any, then Cancel (closes it) and its own buttons. */
export function DialogActions(props: {
  dialog: RefObject<HTMLDialogElement | null>;
  error?: unknown;
  children: ReactNode;
}) {
  return (
    <>
      {props.error ? <ErrorBox error={props.error} /> : null}
      <div className="dialog-actions">
        <button type="button" className="btn" onClick={() => props.dialog.current?.close()}>
          Cancel
        </button>
        {props.children}
      </div>
    </>
  );
}

/** A button that asks before it acts, in a real dialog (focus trapped, Escape cancels). */
export function ConfirmButton(props: {
  label: string;
  title: string;
  body: ReactNode;
  confirmLabel?: string;
  danger?: boolean;
  /** A small button, for rows of a table. */
  small?: boolean;
  onConfirm: () => Promise<unknown> | void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  return (
    <>
      <button
        type="button"
        className={`btn ${props.danger ? "btn-danger" : ""} ${props.small ? "btn-small" : ""}`}
        onClick={() => {
          setError(undefined);
          dialog.current?.showModal();
        }}
      >
        {props.label}
      </button>
      <dialog ref={dialog} className="dialog" aria-label={props.title}>
        <h2>{props.title}</h2>
        <div className="dialog-body">{props.body}</div>
        <DialogActions dialog={dialog} error={error}>
          <button
            type="button"
            className={`btn ${props.danger ? "btn-danger" : "btn-primary"}`}
            disabled={busy}
            onClick={async () => {
              setBusy(true);
              try {
                await props.onConfirm();
                dialog.current?.close();
              } catch (e) {
                setError(e);
              } finally {
                setBusy(false);
              }
            }}
          >
            {props.confirmLabel ?? props.label}
          </button>
        </DialogActions>
      </dialog>
    </>
  );
}

/** A table with a header row; rows are given as children (<tr>). */
export function Table(props: { columns: ReactNode[]; children: ReactNode; testId?: string }) {
  return (
    <div className="table-wrap">
      <table className="table" data-testid={props.testId}>
        <thead>
          <tr>
            {props.columns.map((c, i) => (
              <th key={i} scope="col">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

/** Date and time in the viewer's locale, with the ISO value on hover. */
export function Time(props: { value: string | null | undefined }) {
  if (!props.value) return <span className="muted">–</span>;
  const d = new Date(props.value);
  return (
    <time dateTime={props.value} title={props.value}>
      {d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" })}
    </time>
  );
}

/** "12 s ago" that keeps itself current. */
export function Ago(props: { value: string }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 5000);
    return () => clearInterval(t);
  }, []);
  const s = Math.max(0, Math.round((Date.now() - new Date(props.value).getTime()) / 1000));
  const text =
    s < 60
      ? `${s} s ago`
      : s < 3600
        ? `${Math.round(s / 60)} min ago`
        : s < 86400
          ? `${Math.round(s / 3600)} h ago`
          : `${Math.round(s / 86400)} d ago`;
  return (
    <time dateTime={props.value} title={new Date(props.value).toLocaleString()}>
      {text}
    </time>
  );
}

export function formatNumber(n: number | null | undefined): string {
  return n === null || n === undefined ? "–" : n.toLocaleString();
}
