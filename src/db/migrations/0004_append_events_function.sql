-- Appends one workspace's events to the log in a single round trip (the writer's hot path):
-- claims the messageIds (a repeat, in the log or in this same batch, is a duplicate), takes the
-- workspace's sequence row lock as late as possible, numbers the new events gap-free in input order
-- and inserts them. Returns, per input event, whether it was new. The caller's transaction (or the
-- statement's own) holds the sequence lock until commit, so commit order is seq order.
CREATE FUNCTION append_events(p_workspace uuid, p_events jsonb) RETURNS boolean[]
LANGUAGE plpgsql AS $$
DECLARE
  claimed text[];
  fresh_count int;
  last bigint;
  result boolean[];
BEGIN
  -- Sorted, so two writers claiming overlapping ids lock them in the same order.
  WITH ids AS (
    SELECT DISTINCT e->>'messageId' AS id FROM jsonb_array_elements(p_events) AS x(e) ORDER BY 1
  ), ins AS (
    INSERT INTO event_message_ids (workspace_id, message_id)
    SELECT p_workspace, id FROM ids
    ON CONFLICT DO NOTHING
    RETURNING message_id
  )
  SELECT coalesce(array_agg(message_id), '{}') INTO claimed FROM ins;

  -- The first occurrence of each claimed id is new; everything else is a duplicate.
  SELECT array_agg(is_new ORDER BY ord), count(*) FILTER (WHERE is_new)
  INTO result, fresh_count
  FROM (
    SELECT ord, (e->>'messageId') = ANY (claimed) AND ord = min(ord) OVER (PARTITION BY e->>'messageId') AS is_new
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)
  ) AS input;

  IF fresh_count > 0 THEN
    UPDATE event_sequences SET last_seq = last_seq + fresh_count
    WHERE workspace_id = p_workspace RETURNING last_seq INTO last;
    INSERT INTO events (workspace_id, seq, message_id, type, user_id, anonymous_id, event, "timestamp", received_at, message)
    SELECT p_workspace, last - fresh_count + row_number() OVER (ORDER BY ord),
           e->>'messageId', e->>'type', e->>'userId', e->>'anonymousId', e->>'event',
           (e->>'timestamp')::timestamptz, (e->>'receivedAt')::timestamptz, e
    FROM jsonb_array_elements(p_events) WITH ORDINALITY AS x(e, ord)
    WHERE result[ord];
  END IF;

  RETURN coalesce(result, '{}');
END;
$$;
