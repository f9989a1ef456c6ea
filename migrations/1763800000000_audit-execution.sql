-- Up Migration

-- A workflow id can be promoted again after a run ended (e.g. resubmitted after a rejection).
-- Each execution's events are appended to the same hash chain; execution_id tells which rows an
-- execution archived, so a retried archive appends nothing twice. NULL for rows archived before.
ALTER TABLE audit_events ADD COLUMN execution_id text;
CREATE INDEX audit_events_by_execution ON audit_events (promotion_id, execution_id);

-- Down Migration
DROP INDEX audit_events_by_execution;
ALTER TABLE audit_events DROP COLUMN execution_id;
