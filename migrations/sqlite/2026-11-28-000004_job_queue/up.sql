-- The job queue: leases, completion, and the persisted periodic schedules (SQLite). Keep in
-- step with ../../postgres/ and crates/store/src/schema.rs.
--
-- Completed jobs are kept (with completed_at): a unique_key stays taken for ever, so work keyed
-- by it (a refund per out_refund_no) is enqueued at most once even after it has run.

ALTER TABLE jobs ADD COLUMN locked_by TEXT;
ALTER TABLE jobs ADD COLUMN last_run_at TIMESTAMP;
ALTER TABLE jobs ADD COLUMN completed_at TIMESTAMP;

DROP INDEX jobs_due;
CREATE INDEX jobs_due ON jobs (run_at, id) WHERE completed_at IS NULL AND failed_at IS NULL;
CREATE INDEX jobs_failed ON jobs (failed_at) WHERE failed_at IS NOT NULL;
CREATE INDEX jobs_completed ON jobs (kind, completed_at) WHERE completed_at IS NOT NULL;

-- One row per declared schedule (crates/store/src/jobs.rs, SCHEDULES): when it runs next.
-- A tick moves next_run_at with a compare-and-set and enqueues the run in the same
-- transaction, so two workers (or a restart) neither skip nor double a run.
CREATE TABLE schedules (
    name            TEXT PRIMARY KEY,
    interval_secs   INTEGER NOT NULL CHECK (interval_secs > 0),
    next_run_at     TIMESTAMP NOT NULL,
    last_run_at     TIMESTAMP
);
