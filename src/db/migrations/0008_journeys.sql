-- Journeys: drafts and immutable published versions, instances (one row per run, its timer a column),
-- the audit trail of every transition, and the outbox of effects (webhooks, messages, profile updates).

CREATE TABLE journeys (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key text NOT NULL,
  name text NOT NULL,
  -- draft (never published) | active | paused | archived
  status text NOT NULL DEFAULT 'draft',
  -- The draft as the user wrote it (may break rules; publish refuses it then).
  draft jsonb NOT NULL,
  draft_updated_at timestamptz NOT NULL DEFAULT now(),
  published_version int,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, key)
);

-- Never updated once written: instances stay on the version they entered with.
CREATE TABLE journey_versions (
  workspace_id uuid NOT NULL,
  journey_key text NOT NULL,
  version int NOT NULL,
  definition jsonb NOT NULL,
  published_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, journey_key, version),
  FOREIGN KEY (workspace_id, journey_key) REFERENCES journeys (workspace_id, key) ON DELETE CASCADE
);

CREATE TABLE journey_instances (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL,
  journey_key text NOT NULL,
  version int NOT NULL,
  profile_id uuid NOT NULL,
  key text,
  -- active | completed | exited | held_out
  status text NOT NULL,
  step text,
  -- The timer: when a wait ends or a hold times out. Waiting is a row with a due time.
  due_at timestamptz,
  goal_until timestamptz,
  entered_at timestamptz NOT NULL,
  ended_at timestamptz,
  -- waiting, context, goal and effect counter (the engine's Instance minus the columns above)
  state jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (workspace_id, journey_key) REFERENCES journeys (workspace_id, key) ON DELETE CASCADE
);
-- Instances of the people in a pipeline batch; entry history per person.
CREATE INDEX journey_instances_profile_idx ON journey_instances (workspace_id, profile_id, journey_key);
-- The timer loop's one query.
CREATE INDEX journey_instances_due_idx ON journey_instances (due_at) WHERE status = 'active' AND due_at IS NOT NULL;
-- Listing and counting a journey's instances.
CREATE INDEX journey_instances_journey_idx ON journey_instances (workspace_id, journey_key, status, id);

CREATE TABLE journey_audit (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id uuid NOT NULL,
  journey_key text NOT NULL,
  instance_id uuid NOT NULL,
  at timestamptz NOT NULL,
  kind text NOT NULL,
  step text,
  reason text NOT NULL,
  data jsonb
);
CREATE INDEX journey_audit_instance_idx ON journey_audit (instance_id, id);
CREATE INDEX journey_audit_stats_idx ON journey_audit (workspace_id, journey_key, kind, step);

-- Effects to carry out once: committed with the state change that caused them, dispatched later
-- with retries; `key` is the idempotency key (the webhook-id header, the event's messageId).
CREATE TABLE outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key text NOT NULL,
  -- webhook | message | update_profile
  kind text NOT NULL,
  instance_id uuid,
  journey_key text,
  step text,
  payload jsonb NOT NULL,
  -- pending | done | failed
  status text NOT NULL DEFAULT 'pending',
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  last_error text,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (workspace_id, key)
);
CREATE INDEX outbox_due_idx ON outbox (kind, next_attempt_at) WHERE status = 'pending';
CREATE INDEX outbox_instance_idx ON outbox (instance_id) WHERE instance_id IS NOT NULL;
