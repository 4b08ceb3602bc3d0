-- Messaging: channels (provider settings), versioned templates, topics and subscriptions, the
-- suppression list, the delivery policy, and the message log (which is also messaging's outbox).

-- The workspace's Standard Webhooks secret (whsec_...): signs outgoing webhooks and Waymark's links.
ALTER TABLE workspaces ADD COLUMN webhook_secret text NOT NULL DEFAULT
  'whsec_' || encode(decode(replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''), 'hex'), 'base64');

-- One provider per channel and workspace; `config` holds its secrets and is never returned as is.
CREATE TABLE channels (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- email | sms | push | webhook
  channel text NOT NULL,
  -- smtp | twilio | fcm | webhook
  provider text NOT NULL,
  config jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, channel)
);

CREATE TABLE templates (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key text NOT NULL,
  channel text NOT NULL,
  latest_version int NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, key)
);

-- Every PUT of a template is a new immutable version; a message records the version it used.
CREATE TABLE template_versions (
  workspace_id uuid NOT NULL,
  template_key text NOT NULL,
  version int NOT NULL,
  content jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, template_key, version),
  FOREIGN KEY (workspace_id, template_key) REFERENCES templates (workspace_id, key) ON DELETE CASCADE
);

CREATE TABLE topics (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  key text NOT NULL,
  name text NOT NULL,
  channels text[] NOT NULL,
  -- opt_in: only people who subscribed get it; opt_out: everyone until they unsubscribe
  default_mode text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, key)
);

-- A person's explicit choices. topic '*' with a channel is the global unsubscribe of that channel.
CREATE TABLE subscriptions (
  workspace_id uuid NOT NULL,
  profile_id uuid NOT NULL,
  topic text NOT NULL,
  -- a channel, or '*' for every channel of the topic
  channel text NOT NULL,
  -- subscribed | unsubscribed
  status text NOT NULL,
  -- api | identify | one_click | preference_page | ...
  source text NOT NULL,
  updated_at timestamptz NOT NULL,
  PRIMARY KEY (workspace_id, profile_id, topic, channel)
);

-- Addresses never to message again, stored hashed (sha256 of the normalised address), so an erased
-- person's address is not kept in the clear.
CREATE TABLE message_suppressions (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  channel text NOT NULL,
  address_hash text NOT NULL,
  -- hard_bounce | complaint | manual | erased
  reason text NOT NULL,
  detail text,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (workspace_id, channel, address_hash)
);

CREATE TABLE delivery_policies (
  workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  policy jsonb NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- The message log, and messaging's outbox: a row is queued, then sent, skipped (with why) or failed;
-- delivery outcomes (delivered, bounced, opened, clicked) update it and enter the event log.
CREATE TABLE messages (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- the journey effect's key, or the send API's; also the basis of the email's Message-ID
  idempotency_key text NOT NULL,
  profile_id uuid,
  channel text NOT NULL,
  template_key text NOT NULL,
  template_version int,
  topic text,
  transactional boolean NOT NULL DEFAULT false,
  journey_key text,
  instance_id uuid,
  step text,
  -- what the template renders with: event, context, send API data, explicit recipient
  data jsonb NOT NULL,
  to_address text,
  -- queued | sent | delivered | skipped | failed | bounced
  status text NOT NULL,
  -- why it was skipped or failed: unsubscribed:promotions, capped:email 3/1d, suppressed:bounce, ...
  reason text,
  attempts int NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL,
  provider_message_id text,
  subject text,
  created_at timestamptz NOT NULL,
  sent_at timestamptz,
  opened_at timestamptz,
  clicked_at timestamptz,
  updated_at timestamptz NOT NULL,
  UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX messages_due_idx ON messages (next_attempt_at) WHERE status = 'queued';
-- The message log by person (and frequency caps: what was sent to them lately).
CREATE INDEX messages_profile_idx ON messages (workspace_id, profile_id, sent_at);
CREATE INDEX messages_journey_idx ON messages (workspace_id, journey_key, created_at);
