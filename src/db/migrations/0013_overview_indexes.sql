-- Counts over time for the overview (GET /api/v1/overview).

-- Events by arrival: the overview counts a workspace's events per bucket of received_at. The daily
-- partitions already narrow that to a day or two; a BRIN index narrows it to the window's pages at
-- almost no cost per insert (a B-tree here would be one more index entry for every event written, on
-- the path whose throughput we promise). received_at follows the insert order closely (it is taken
-- just before the group commit), which is what BRIN needs. At large volumes the overview wants
-- rollups; counting stays proportional to the events in the window.
CREATE INDEX events_received_at_brin ON events USING brin (received_at);

-- Messages by outcome time: a decided message's updated_at is when it was sent, skipped or failed
-- (or later, for an open or a click), so the overview's window starts with a range of this index.
CREATE INDEX messages_updated_at_idx ON messages (workspace_id, updated_at);
