-- The queue is all churn: each event is inserted once and deleted once. Autovacuum it by dead rows
-- alone (not a share of a table that is nearly empty when caught up), without the cost-based pauses,
-- and never truncate it (that lock stops the partitions). The resolving worker also vacuums it every
-- 50,000 events (src/pipeline/queue-vacuum.ts), since autovacuum visits a database at most once per
-- autovacuum_naptime.
ALTER TABLE pipeline_queue SET (
  autovacuum_vacuum_scale_factor = 0,
  autovacuum_vacuum_threshold = 20000,
  autovacuum_vacuum_cost_delay = 0,
  vacuum_truncate = false
);
