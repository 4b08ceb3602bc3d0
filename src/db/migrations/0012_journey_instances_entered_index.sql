-- A journey's instances newest entry first (GET /api/v1/journeys/:key/instances). Instance ids are
-- random UUIDs, so the id order of journey_instances_journey_idx is no time order.
CREATE INDEX journey_instances_entered_idx ON journey_instances (workspace_id, journey_key, entered_at, id);
