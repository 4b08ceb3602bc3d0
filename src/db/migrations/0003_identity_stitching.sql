-- Identity API and visitor stitching (issue 4, section 2).

-- Device sightings for visitor stitching: per device signal (a SHA-256 of IP and user agent, so no
-- raw address is kept here), the profiles seen with it and when last. Written by stage one only when
-- the workspace turned stitching on; rows older than the window are pruned as signals come back.
CREATE TABLE device_sightings (
  workspace_id uuid NOT NULL,
  signal text NOT NULL,
  profile_id uuid NOT NULL,
  last_seen timestamptz NOT NULL,
  event_seq bigint NOT NULL,
  PRIMARY KEY (workspace_id, signal, profile_id)
);
CREATE INDEX device_sightings_profile_idx ON device_sightings (workspace_id, profile_id);

-- A confirmed suggestion is merged by an internal `merge` event in the log; this is its seq.
ALTER TABLE stitch_suggestions ADD COLUMN merge_event_seq bigint;
CREATE INDEX stitch_suggestions_status_idx ON stitch_suggestions (workspace_id, status, id);
CREATE INDEX stitch_suggestions_other_idx ON stitch_suggestions (workspace_id, other_profile_id);

-- Decisions are listed for either side of a refused merge.
CREATE INDEX identity_decisions_other_idx ON identity_decisions (workspace_id, other_profile_id)
  WHERE other_profile_id IS NOT NULL;
