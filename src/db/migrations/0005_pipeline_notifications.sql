-- Wake the pipeline instead of making it poll: a transaction that appends events (it moves its
-- workspace's sequence) notifies `waymark_log` on commit; the resolve unit notifies `waymark_queue`
-- with the partitions it queued for. PostgreSQL folds identical notifications of one transaction
-- into one, so a group commit sends a single one.
CREATE FUNCTION notify_event_log() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('waymark_log', '');
  RETURN NULL;
END;
$$;

CREATE TRIGGER event_sequences_notify
AFTER UPDATE OF last_seq ON event_sequences
FOR EACH ROW EXECUTE FUNCTION notify_event_log();

-- The merge wait now comes from pipeline_queue.merged (every partition merged from); these are unused.
ALTER TABLE pipeline_queue DROP COLUMN after_partition, DROP COLUMN after_seq;
