-- A merge waits only for the queued events of the profiles it merges (not for whole partitions):
-- find them by profile.
CREATE INDEX pipeline_queue_profile_idx ON pipeline_queue (workspace_id, profile_id, seq);
