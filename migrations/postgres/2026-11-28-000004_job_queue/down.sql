DROP TABLE schedules;
DROP INDEX jobs_completed;
DROP INDEX jobs_failed;
DROP INDEX jobs_due;
ALTER TABLE jobs DROP COLUMN completed_at;
ALTER TABLE jobs DROP COLUMN last_run_at;
ALTER TABLE jobs DROP COLUMN locked_by;
CREATE INDEX jobs_due ON jobs (run_at) WHERE failed_at IS NULL;
