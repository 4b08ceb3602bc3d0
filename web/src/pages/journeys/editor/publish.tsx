import { useMemo, useRef, useState } from "react";
import { api, ApiError } from "../../../api.ts";
import { DialogActions } from "../../../ui/components.tsx";
import { normalized } from "../core.ts";
import type { Definition, JourneyDetail, Violation } from "../types.ts";
import { diffLines, hunks } from "./diff.ts";

const text = (def: Definition) => JSON.stringify(normalized(def), null, 2);

/** Publish, after a look at what changes: the draft against the published version, line by line. */
export function PublishButton(props: {
  journey: JourneyDetail;
  draft: Definition;
  violations: Violation[];
  /** Saves unsaved changes first; false stops the publish. */
  beforePublish: () => Promise<boolean>;
  onPublished: () => void;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const published = props.journey.versions[0];
  const next = (published?.version ?? 0) + 1;

  const diff = useMemo(() => {
    if (!open) return undefined;
    const lines = published
      ? diffLines(text(published.definition), text(props.draft))
      : diffLines("", text(props.draft)).filter((l) => l.op === "+");
    return {
      shown: published ? hunks(lines) : lines,
      added: lines.filter((l) => l.op === "+").length,
      removed: lines.filter((l) => l.op === "-").length,
    };
  }, [open, published, props.draft]);

  const publish = async () => {
    setBusy(true);
    setError(undefined);
    try {
      if (!(await props.beforePublish())) return;
      await api(`/api/v1/journeys/${encodeURIComponent(props.journey.key)}/publish`, { method: "POST" });
      dialog.current?.close();
      props.onPublished();
    } catch (e) {
      if (e instanceof ApiError && e.status === 422) {
        const body = e.body as { violations?: Violation[] };
        setError(
          new Error(
            `${e.message}: ${(body.violations ?? []).map((v) => `${v.path}: ${v.message}`).join("; ")}`,
          ),
        );
      } else setError(e);
    } finally {
      setBusy(false);
    }
  };

  const blocked = props.violations.length > 0;
  return (
    <>
      <button
        type="button"
        className="btn btn-primary"
        onClick={() => {
          setError(undefined);
          setOpen(true);
          dialog.current?.showModal();
        }}
      >
        Publish…
      </button>
      <dialog
        ref={dialog}
        className="dialog dialog-wide"
        aria-label={`Publish version ${next}`}
        onClose={() => setOpen(false)}
      >
        <h2>Publish version {next}</h2>
        <div className="dialog-body stack">
          {blocked ? (
            <div className="error-box" role="alert">
              The draft has {props.violations.length} problem{props.violations.length === 1 ? "" : "s"}: fix{" "}
              {props.violations.length === 1 ? "it" : "them"} before publishing (they are listed under the
              map).
            </div>
          ) : null}
          <p className="muted">
            {published
              ? `What changes against v${published.version}, which runs now. People already in the journey stay on the version they entered with; new entries get v${next}.`
              : "This is the first version: the whole definition is new. Once published, people enter when the trigger happens."}
          </p>
          {diff ? (
            diff.added + diff.removed === 0 ? (
              <p>
                <strong>No changes</strong> against v{published?.version}: publishing makes an identical
                version.
              </p>
            ) : (
              <>
                <p className="small">
                  <span className="diff-count add">+{diff.added}</span>{" "}
                  <span className="diff-count del">−{diff.removed}</span> lines
                </p>
                <div className="diff" role="region" aria-label="Changes" tabIndex={0}>
                  {diff.shown.map((l, i) =>
                    l === null ? (
                      <div key={i} className="gap">
                        ⋯
                      </div>
                    ) : (
                      <div key={i} className={l.op === "+" ? "add" : l.op === "-" ? "del" : ""}>
                        {l.op === " " ? "  " : `${l.op} `}
                        {l.text}
                      </div>
                    ),
                  )}
                </div>
              </>
            )
          ) : null}
        </div>
        <DialogActions dialog={dialog} error={error}>
          <button
            type="button"
            className="btn btn-primary"
            disabled={busy || blocked}
            onClick={() => void publish()}
          >
            Publish v{next}
          </button>
        </DialogActions>
      </dialog>
    </>
  );
}
