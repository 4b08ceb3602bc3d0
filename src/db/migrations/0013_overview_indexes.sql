-- Counts over time for the overview (GET /api/v1/overview).

-- Events by arrival: the overview counts a workspace's events per bucket of received_at (the primary
-- key leads with seq, which is not in arrival order: receivedAt is taken before the group commit).
CREATE INDEX events_received_at_idx ON events (workspace_id, received_at);

-- Messages by outcome time: a decided message's updated_at is when it was sent, skipped or failed
-- (or later, for an open or a click), so the overview's window starts with a range of this index.
CREATE INDEX messages_updated_at_idx ON messages (workspace_id, updated_at);
