-- Workspaces: one tenant each, with its public write key and a hashed admin token.
CREATE TABLE workspaces (
  id uuid PRIMARY KEY,
  name text NOT NULL,
  write_key text NOT NULL UNIQUE,
  admin_token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- The per-workspace event sequence. The row is updated inside the transaction that inserts the events,
-- so its lock orders writers: a higher seq never commits before a lower one, and a consumer reading
-- "seq > offset" can never skip an event that commits late.
CREATE TABLE event_sequences (
  workspace_id uuid PRIMARY KEY REFERENCES workspaces (id) ON DELETE CASCADE,
  last_seq bigint NOT NULL DEFAULT 0
);

-- The append-only event log, partitioned by month of arrival. `message` is the event in Segment's
-- shape as stored (normalised timestamps, everything else as sent); the columns beside it are copies
-- for indexing and filtering.
CREATE TABLE events (
  workspace_id uuid NOT NULL,
  seq bigint NOT NULL,
  message_id text NOT NULL,
  type text NOT NULL,
  user_id text,
  anonymous_id text,
  event text,
  "timestamp" timestamptz NOT NULL,
  received_at timestamptz NOT NULL,
  message jsonb NOT NULL,
  PRIMARY KEY (workspace_id, seq, received_at)
) PARTITION BY RANGE (received_at);

CREATE INDEX events_user_id_idx ON events (workspace_id, user_id, seq) WHERE user_id IS NOT NULL;
CREATE INDEX events_anonymous_id_idx ON events (workspace_id, anonymous_id, seq) WHERE anonymous_id IS NOT NULL;

-- Deduplication by messageId. A unique key on the partitioned log would have to include the partition
-- key, so it could not stop a retry arriving in another month; this small table can.
CREATE TABLE event_message_ids (
  workspace_id uuid NOT NULL,
  message_id text NOT NULL,
  PRIMARY KEY (workspace_id, message_id)
);

-- Dead letters: every message that was refused, with the reason and the raw body as received.
CREATE TABLE rejected_events (
  workspace_id uuid NOT NULL,
  id bigint GENERATED ALWAYS AS IDENTITY,
  received_at timestamptz NOT NULL,
  route text NOT NULL,
  reason_code text NOT NULL,
  reason text NOT NULL,
  message_id text,
  raw bytea NOT NULL,
  PRIMARY KEY (workspace_id, id)
);

-- Creates the monthly partitions of `events` covering [from_month, from_month + months). Safe to call
-- from several processes at once.
CREATE FUNCTION ensure_event_partitions(from_month date, months int) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  m date;
  name text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('waymark.event_partitions'));
  FOR i IN 0 .. months - 1 LOOP
    m := (date_trunc('month', from_month) + make_interval(months => i))::date;
    name := format('events_%s', to_char(m, 'YYYY_MM'));
    IF to_regclass(name) IS NULL THEN
      EXECUTE format(
        'CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
        name, m::timestamptz, (m + interval '1 month')::timestamptz);
    END IF;
  END LOOP;
END;
$$;
