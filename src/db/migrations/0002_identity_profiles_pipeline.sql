-- Identity graph, profiles and the ordered pipeline that builds them from the event log.

-- A person. A merged-away profile keeps its row with `merged_into` pointing at the survivor, so an old
-- id still resolves. Traits and derived fields are written by the profile stage of the pipeline.
CREATE TABLE profiles (
  workspace_id uuid NOT NULL,
  id uuid NOT NULL,
  merged_into uuid,
  traits jsonb NOT NULL DEFAULT '{}',
  -- Per trait, the timestamp of the call that set it: a later timestamp wins, whatever the order.
  trait_times jsonb NOT NULL DEFAULT '{}',
  first_seen timestamptz,
  last_seen timestamptz,
  last_ip text,
  location jsonb,
  timezone text,
  device jsonb,
  event_count bigint NOT NULL DEFAULT 0,
  counts jsonb NOT NULL DEFAULT '{}',
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX profiles_merged_into_idx ON profiles (workspace_id, merged_into) WHERE merged_into IS NOT NULL;
CREATE INDEX profiles_traits_idx ON profiles USING gin (traits jsonb_path_ops);

-- The identity graph: each identifier belongs to exactly one (live) profile.
CREATE TABLE identities (
  workspace_id uuid NOT NULL,
  type text NOT NULL,
  value text NOT NULL,
  profile_id uuid NOT NULL,
  first_seen timestamptz NOT NULL,
  event_seq bigint,
  PRIMARY KEY (workspace_id, type, value)
);
CREATE INDEX identities_profile_idx ON identities (workspace_id, profile_id);

-- Merges, with their cause ("identify", "alias", "shared email", ...).
CREATE TABLE profile_merges (
  workspace_id uuid NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  survivor_id uuid NOT NULL,
  merged_id uuid NOT NULL,
  cause text NOT NULL,
  event_seq bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX profile_merges_survivor_idx ON profile_merges (workspace_id, survivor_id);

-- Identity decisions that did not simply attach an identifier: a dropped identifier (limit), a
-- blocked value, a merge refused. Visible through the API.
CREATE TABLE identity_decisions (
  workspace_id uuid NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  event_seq bigint NOT NULL,
  profile_id uuid,
  kind text NOT NULL,
  identifier_type text NOT NULL,
  identifier_value text NOT NULL,
  other_profile_id uuid,
  reason text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, id)
);
CREATE INDEX identity_decisions_profile_idx ON identity_decisions (workspace_id, profile_id);

-- Per-workspace identity rules (limits, priority, blocked values, trait keys); defaults in code.
CREATE TABLE identity_rules (
  workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  rules jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Suggested links from device signals (visitor stitching); never merged on their own.
CREATE TABLE stitch_suggestions (
  workspace_id uuid NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  profile_id uuid NOT NULL,
  other_profile_id uuid NOT NULL,
  score real NOT NULL,
  signals jsonb NOT NULL,
  status text NOT NULL DEFAULT 'suggested',
  created_at timestamptz NOT NULL DEFAULT now(),
  decided_at timestamptz,
  PRIMARY KEY (workspace_id, id),
  UNIQUE (workspace_id, profile_id, other_profile_id)
);

-- Erased people's identifiers, hashed: later events carrying one are dropped and counted.
CREATE TABLE suppressed_identifiers (
  workspace_id uuid NOT NULL,
  hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, hash)
);
CREATE TABLE suppression_counts (
  workspace_id uuid PRIMARY KEY,
  dropped bigint NOT NULL DEFAULT 0
);

-- The erasure log: that an erasure happened, never whom it was about.
CREATE TABLE erasures (
  workspace_id uuid NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  requested_at timestamptz NOT NULL DEFAULT now(),
  counts jsonb NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

-- Pipeline. Stage one (resolve) reads each workspace's log in order, resolves identities and queues
-- each event for its profile's partition; stage two (apply) drains each partition in order through
-- the registered stages. Offsets commit in the same transaction as the effects.
CREATE TABLE pipeline_offsets (
  workspace_id uuid NOT NULL,
  unit text NOT NULL,
  seq bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, unit)
);

CREATE TABLE pipeline_queue (
  workspace_id uuid NOT NULL,
  partition int NOT NULL,
  seq bigint NOT NULL,
  profile_id uuid NOT NULL,
  -- Profiles merged into profile_id by this event (the profile stage absorbs them).
  merged uuid[] NOT NULL DEFAULT '{}',
  -- Wait until that partition has applied up to that seq (the merged profiles' earlier events).
  after_partition int,
  after_seq bigint,
  PRIMARY KEY (workspace_id, partition, seq)
);

-- Work units held by one process at a time; a lease not renewed expires and another process takes it.
CREATE TABLE pipeline_leases (
  unit text PRIMARY KEY,
  owner text NOT NULL,
  expires_at timestamptz NOT NULL
);

-- Live pipeline workers (heartbeats), so each takes its fair share of the units.
CREATE TABLE pipeline_workers (
  owner text PRIMARY KEY,
  expires_at timestamptz NOT NULL
);
