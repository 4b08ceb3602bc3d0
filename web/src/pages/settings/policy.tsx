import { useState, type FormEvent } from "react";
import { api } from "../../api.ts";
import { Card, ErrorBox, Loaded } from "../../ui/components.tsx";
import { useAction, useLoad } from "../../ui/hooks.ts";
import type { DeliveryPolicy } from "../../../../src/messaging/index.ts";

const POLICY_CHANNELS = ["email", "sms", "push"] as const;
type PolicyChannel = (typeof POLICY_CHANNELS)[number];

/** The form's state: numbers as typed, quiet hours kept while switched off. */
interface Draft {
  caps: Array<{ channel: PolicyChannel | "*"; limit: string; per: string }>;
  quiet: boolean;
  quietHours: { start: string; end: string; mode: "delay" | "drop"; channels: PolicyChannel[] };
  priorities: Array<{ journey: string; priority: string }>;
}

function draftOf(p: DeliveryPolicy): Draft {
  return {
    caps: p.caps.map((c) => ({ ...c, limit: String(c.limit) })),
    quiet: p.quietHours !== undefined,
    quietHours: {
      start: p.quietHours?.start ?? "21:00",
      end: p.quietHours?.end ?? "08:00",
      mode: p.quietHours?.mode ?? "delay",
      channels: p.quietHours?.channels ?? [...POLICY_CHANNELS],
    },
    priorities: Object.entries(p.priorities).map(([journey, priority]) => ({
      journey,
      priority: String(priority),
    })),
  };
}

function policyOf(d: Draft): DeliveryPolicy {
  const allChannels = d.quietHours.channels.length === POLICY_CHANNELS.length;
  return {
    caps: d.caps.map((c) => ({ channel: c.channel, limit: Number(c.limit), per: c.per.trim() })),
    ...(d.quiet
      ? {
          quietHours: {
            start: d.quietHours.start,
            end: d.quietHours.end,
            mode: d.quietHours.mode,
            ...(allChannels ? {} : { channels: d.quietHours.channels }),
          },
        }
      : {}),
    priorities: Object.fromEntries(
      d.priorities.filter((p) => p.journey.trim() !== "").map((p) => [p.journey.trim(), Number(p.priority)]),
    ),
  };
}

const CHANNEL_LABEL: Record<PolicyChannel | "*", string> = {
  email: "Email",
  sms: "SMS",
  push: "Push",
  "*": "Email, SMS and push together",
};

function PolicyForm(props: { policy: DeliveryPolicy; journeys: string[] }) {
  const [draft, setDraft] = useState(() => draftOf(props.policy));
  const save = useAction(async (policy: DeliveryPolicy) =>
    api<DeliveryPolicy>("/api/v1/policies/delivery", { method: "PUT", body: policy }),
  );
  const onSubmit = async (e: FormEvent) => {
    e.preventDefault();
    const saved = await save.run(policyOf(draft));
    if (saved) setDraft(draftOf(saved));
  };
  const setCap = (i: number, patch: Partial<Draft["caps"][number]>) =>
    setDraft({ ...draft, caps: draft.caps.map((c, j) => (j === i ? { ...c, ...patch } : c)) });
  const setPriority = (i: number, patch: Partial<Draft["priorities"][number]>) =>
    setDraft({ ...draft, priorities: draft.priorities.map((p, j) => (j === i ? { ...p, ...patch } : p)) });
  const q = draft.quietHours;
  return (
    <form className="grid" onSubmit={onSubmit} aria-label="Delivery policy">
      <Card
        title="Frequency caps"
        actions={
          <button
            type="button"
            className="btn btn-small"
            onClick={() =>
              setDraft({ ...draft, caps: [...draft.caps, { channel: "email", limit: "3", per: "7d" }] })
            }
          >
            Add cap
          </button>
        }
      >
        <p className="muted settings-lead">
          At most <em>limit</em> messages per person in a window. Whole days or weeks (<code>1d</code>,{" "}
          <code>7d</code>, <code>2w</code>) count calendar days in the person&apos;s time zone; hours or less
          (<code>24h</code>) is a rolling window. Transactional messages are never capped.
        </p>
        {draft.caps.length === 0 ? (
          <p className="empty-inline">No caps: people get every message their topics allow.</p>
        ) : (
          <div className="policy-rows">
            {draft.caps.map((c, i) => (
              <div key={i} className="policy-row" role="group" aria-label={`Cap ${i + 1}`}>
                <label className="field">
                  <span>Channel</span>
                  <select
                    value={c.channel}
                    onChange={(e) => setCap(i, { channel: e.target.value as PolicyChannel | "*" })}
                  >
                    {(["email", "sms", "push", "*"] as const).map((ch) => (
                      <option key={ch} value={ch}>
                        {CHANNEL_LABEL[ch]}
                      </option>
                    ))}
                  </select>
                </label>
                <label className="field">
                  <span>Limit</span>
                  <input
                    type="number"
                    min={0}
                    step={1}
                    required
                    value={c.limit}
                    onChange={(e) => setCap(i, { limit: e.target.value })}
                  />
                </label>
                <label className="field">
                  <span>Per</span>
                  <input
                    required
                    value={c.per}
                    placeholder="7d"
                    onChange={(e) => setCap(i, { per: e.target.value })}
                  />
                </label>
                <button
                  type="button"
                  className="btn btn-small btn-ghost policy-remove"
                  aria-label={`Remove cap ${i + 1}`}
                  onClick={() => setDraft({ ...draft, caps: draft.caps.filter((_, j) => j !== i) })}
                >
                  Remove
                </button>
              </div>
            ))}
          </div>
        )}
      </Card>

      <Card title="Quiet hours">
        <label className="check">
          <input
            type="checkbox"
            checked={draft.quiet}
            onChange={(e) => setDraft({ ...draft, quiet: e.target.checked })}
          />
          <span>Hold messages during quiet hours, in each person&apos;s time zone</span>
        </label>
        {draft.quiet ? (
          <div className="quiet-hours">
            <label className="field">
              <span>From</span>
              <input
                type="time"
                required
                value={q.start}
                onChange={(e) => setDraft({ ...draft, quietHours: { ...q, start: e.target.value } })}
              />
            </label>
            <label className="field">
              <span>Until</span>
              <input
                type="time"
                required
                value={q.end}
                onChange={(e) => setDraft({ ...draft, quietHours: { ...q, end: e.target.value } })}
              />
            </label>
            <fieldset className="choices choices-stacked">
              <legend>A message due in quiet hours is</legend>
              {(["delay", "drop"] as const).map((mode) => (
                <label key={mode} className="check">
                  <input
                    type="radio"
                    name="quiet-mode"
                    checked={q.mode === mode}
                    onChange={() => setDraft({ ...draft, quietHours: { ...q, mode } })}
                  />
                  <span>{mode === "delay" ? "sent when they end" : "skipped"}</span>
                </label>
              ))}
            </fieldset>
            <fieldset className="choices">
              <legend>Channels</legend>
              {POLICY_CHANNELS.map((ch) => (
                <label key={ch} className="check">
                  <input
                    type="checkbox"
                    checked={q.channels.includes(ch)}
                    onChange={(e) =>
                      setDraft({
                        ...draft,
                        quietHours: {
                          ...q,
                          channels: e.target.checked
                            ? POLICY_CHANNELS.filter((x) => x === ch || q.channels.includes(x))
                            : q.channels.filter((x) => x !== ch),
                        },
                      })
                    }
                  />
                  <span>{CHANNEL_LABEL[ch]}</span>
                </label>
              ))}
            </fieldset>
          </div>
        ) : null}
      </Card>

      <Card
        title="Journey priorities"
        actions={
          <button
            type="button"
            className="btn btn-small"
            onClick={() =>
              setDraft({ ...draft, priorities: [...draft.priorities, { journey: "", priority: "1" }] })
            }
          >
            Add priority
          </button>
        }
      >
        <p className="muted settings-lead">
          When a cap leaves fewer slots than a person&apos;s due messages, higher-priority journeys go first.
          Journeys not listed have priority 0.
        </p>
        {draft.priorities.length === 0 ? (
          <p className="empty-inline">Every journey has priority 0.</p>
        ) : (
          <div className="policy-rows">
            {draft.priorities.map((p, i) => (
              <div key={i} className="policy-row" role="group" aria-label={`Priority ${i + 1}`}>
                <label className="field">
                  <span>Journey</span>
                  <input
                    required
                    list="policy-journeys"
                    value={p.journey}
                    placeholder="journey key"
                    onChange={(e) => setPriority(i, { journey: e.target.value })}
                  />
                </label>
                <label className="field">
                  <span>Priority</span>
                  <input
                    type="number"
                    required
                    step="any"
                    value={p.priority}
                    onChange={(e) => setPriority(i, { priority: e.target.value })}
                  />
                </label>
                <button
                  type="button"
                  className="btn btn-small btn-ghost policy-remove"
                  aria-label={`Remove priority ${i + 1}`}
                  onClick={() =>
                    setDraft({ ...draft, priorities: draft.priorities.filter((_, j) => j !== i) })
                  }
                >
                  Remove
                </button>
              </div>
            ))}
          </div>
        )}
        <datalist id="policy-journeys">
          {props.journeys.map((k) => (
            <option key={k} value={k} />
          ))}
        </datalist>
      </Card>

      {save.error ? <ErrorBox error={save.error} /> : null}
      <div className="form-actions">
        <button type="submit" className="btn btn-primary" disabled={save.busy}>
          {save.busy ? "Saving…" : "Save delivery policy"}
        </button>
        <span className="muted small" role="status">
          {save.result ? "Saved. It applies to messages from now on." : null}
        </span>
      </div>
    </form>
  );
}

/** The delivery policy: frequency caps, quiet hours and journey priorities, saved as one. */
export function PolicySection() {
  const state = useLoad(async () => {
    const [policy, journeys] = await Promise.all([
      api<DeliveryPolicy>("/api/v1/policies/delivery"),
      api<{ items: Array<{ key: string }> }>("/api/v1/journeys").catch(() => ({ items: [] })),
    ]);
    return { policy, journeys: journeys.items.map((j) => j.key) };
  }, []);
  return <Loaded state={state}>{(d) => <PolicyForm policy={d.policy} journeys={d.journeys} />}</Loaded>;
}
