-- A partition takes its next batch with `WHERE partition = $1 ORDER BY workspace_id, seq LIMIT n`:
-- with the partition first in the key that is one range of the index, read in order, stopping after
-- n rows (with workspace_id first it was a skip scan or, on a table the planner judged small, a seq
-- scan and a sort of the whole queue, dead rows included).
ALTER TABLE pipeline_queue
  DROP CONSTRAINT pipeline_queue_pkey,
  ADD CONSTRAINT pipeline_queue_pkey PRIMARY KEY (partition, workspace_id, seq);
