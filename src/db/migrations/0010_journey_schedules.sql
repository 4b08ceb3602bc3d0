-- Scheduled triggers: when a journey with `trigger.schedule` next enters the profiles meeting its
-- condition. Set at publish and after each run; the scheduler claims due journeys with SKIP LOCKED.
ALTER TABLE journeys ADD COLUMN next_run_at timestamptz;
CREATE INDEX journeys_next_run_idx ON journeys (next_run_at) WHERE status = 'active' AND next_run_at IS NOT NULL;
