-- Every applied event rewrites its profile's row. Room left in each page lets an update that changes
-- no indexed column (a track event: counts, last seen; an identify that sets a trait to its value)
-- stay on its page as a HOT update, with no new entry in the primary key or the traits GIN index.
-- Applies to pages written from now on.
ALTER TABLE profiles SET (fillfactor = 80);
