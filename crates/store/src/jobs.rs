//! The job queue: typed jobs in the `jobs` table, enqueued in the same transaction as the
//! change that causes them, claimed by workers under a lease, retried with backoff, parked as
//! failed after their last attempt, and the periodic schedules that enqueue jobs of their own.
//!
//! # Life of a job
//! 1. [`enqueue`] writes it (inside the transaction of its cause). A `unique_key` is taken for
//!    ever: completed rows are kept, so a second enqueue of the same work is refused
//!    ([`StoreError::Duplicate`]) even after the first has run.
//! 2. [`claim`] hands due jobs to a worker: `attempts + 1`, a lease (`locked_until`) and the
//!    worker's name (`locked_by`). On PostgreSQL one `UPDATE … WHERE id IN (SELECT … FOR UPDATE
//!    SKIP LOCKED)` statement, so several workers never get the same job; on SQLite the same
//!    inside a `BEGIN IMMEDIATE` transaction (one writer at a time). A job whose worker died is
//!    due again once its lease has expired.
//! 3. The handler runs; then [`complete_in`] (inside the handler's own write transaction when the
//!    handler writes to the database, so its effect and the completion commit together),
//!    [`complete`], or [`fail`]: retried later ([`Job::backoff`]) or, after `max_attempts`,
//!    parked as failed with its last error, listed by [`list_failed`] and re-run from the back
//!    office with [`rerun`]. [`release`] hands back a claimed job that was never started
//!    (graceful shutdown).
//!
//! A claimed job carries its lease token (`locked_by` and the attempt number): completing,
//! failing or releasing is a conditional update on the token, so a worker whose lease expired
//! and whose job was claimed again elsewhere cannot overwrite the newer attempt
//! ([`StoreError::LeaseLost`]). Handlers must be idempotent all the same: a worker may crash
//! after the external call and before its commit, and the job then runs again.
//!
//! # Periodic schedules
//! [`SCHEDULES`] declares what runs how often. [`tick_schedules`] keeps one row per schedule in
//! `schedules` (its next slot) and, when a slot is due, moves the row to the next slot after
//! now with a compare-and-set and enqueues the run keyed `{name}:{slot}` in the same
//! transaction: two workers ticking at once or a restart never double a run, and a worker that
//! was down for hours runs a missed schedule once, not once per missed slot.

use std::time::Duration;

use baoming_domain::ids::{JobId, OrderId, PeriodId, RefundId, RegistrationId};
pub use baoming_domain::lifecycle::Notice;
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::{DbConnection, MultiBackend, write_tx};
use crate::error::StoreError;
use crate::schema::{jobs, schedules};
use crate::sql;

/// A job with its payload.
///
/// The payload is stored as JSON (`{"kind": …, …}`) and holds ids only, never personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Close the registration's open WeChat order.
    CloseProviderOrder {
        /// Whose order.
        registration: RegistrationId,
    },
    /// Tell the participant by a WeChat subscribe message that their registration moved.
    Notify {
        /// Whose.
        registration: RegistrationId,
        /// What happened.
        notice: Notice,
        /// The registration's version after the change (one message per change).
        version: i32,
    },
    /// Ask WeChat about an order still unpaid here (a lost notification is recovered; an
    /// expired order is closed).
    QueryOrder {
        /// The order.
        order: OrderId,
    },
    /// Carry out a refund of the ledger at WeChat Pay (`out_refund_no` derived from its id,
    /// so a retry never refunds twice) and follow it to its end.
    Refund {
        /// The refund row.
        refund: RefundId,
    },
    /// Render a batch of a period's admission tickets (PNG and PDF) and record them with the
    /// job's completion ([`crate::tickets::record_renders`]); tickets already recorded are
    /// skipped, so each is rendered once.
    RenderTickets {
        /// The period.
        period: PeriodId,
        /// The tickets' registrations (at most [`crate::tickets::RENDER_BATCH`]).
        registrations: Vec<RegistrationId>,
        /// When the rendering was asked for (publication, a late assignment, a retry): part of
        /// the job's key.
        requested_at: DateTime<Utc>,
    },
    /// Tell the participant by a WeChat subscribe message that their admission ticket is ready
    /// (once per registration, ever).
    TicketNotice {
        /// Whose.
        registration: RegistrationId,
    },
    // --- Periodic jobs, enqueued by `tick_schedules` (see `SCHEDULES`). ---
    /// Reconcile yesterday's WeChat Pay trade bill with the ledger, once the bill is ready
    /// (after 10:00 Beijing time) and unless its report exists.
    Reconcile {
        /// The schedule's slot this run is for.
        slot: DateTime<Utc>,
    },
    /// Apply the clock's due events: payment deadlines and ended sittings
    /// ([`crate::clock::sweep`]).
    ClockSweep {
        /// The schedule's slot this run is for.
        slot: DateTime<Utc>,
    },
    /// Purge personal data the retention settings no longer keep ([`crate::privacy::run`]).
    Retention {
        /// The schedule's slot this run is for.
        slot: DateTime<Utc>,
    },
}

impl Job {
    /// The kind's stable name.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::CloseProviderOrder { .. } => "close_provider_order",
            Job::Refund { .. } => "refund",
            Job::QueryOrder { .. } => "query_order",
            Job::Notify { .. } => "notify",
            Job::ClockSweep { .. } => "clock_sweep",
            Job::Reconcile { .. } => "reconcile",
            Job::RenderTickets { .. } => "render_tickets",
            Job::TicketNotice { .. } => "ticket_notice",
            Job::Retention { .. } => "retention",
        }
    }

    /// How often the worker tries before parking the job as failed.
    pub fn max_attempts(&self) -> i32 {
        match self {
            Job::CloseProviderOrder { .. } => 10,
            Job::Refund { .. } => 20,
            Job::QueryOrder { .. } => 10,
            Job::Notify { .. } => 8,
            // The next slot runs the sweep again anyway.
            Job::ClockSweep { .. } => 5,
            Job::Reconcile { .. } => 5,
            Job::RenderTickets { .. } => 5,
            Job::TicketNotice { .. } => 8,
            Job::Retention { .. } => 3,
        }
    }

    /// How long to wait before attempt `attempt + 1` after attempt `attempt` (from 1) failed.
    ///
    /// Every kind uses [`default_backoff`] today; a kind that needs another policy matches
    /// here.
    pub fn backoff(&self, attempt: i32) -> Duration {
        default_backoff(attempt)
    }

    /// At most one job per key ever exists: an order is closed, a refund carried out, once.
    fn unique_key(&self) -> String {
        match self {
            Job::CloseProviderOrder { registration } => format!("{}:{registration}", self.kind()),
            Job::Refund { refund } => format!("{}:{refund}", self.kind()),
            Job::QueryOrder { order } => format!("{}:{order}", self.kind()),
            Job::Notify { registration, version, .. } => {
                format!("{}:{registration}:{version}", self.kind())
            }
            Job::ClockSweep { slot } | Job::Reconcile { slot } | Job::Retention { slot } => {
                format!("{}:{}", self.kind(), slot_text(*slot))
            }
            Job::RenderTickets { period, registrations, requested_at } => {
                let first = registrations.first().map(ToString::to_string).unwrap_or_default();
                format!(
                    "{}:{period}:{}:{first}",
                    self.kind(),
                    requested_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                )
            }
            Job::TicketNotice { registration } => format!("{}:{registration}", self.kind()),
        }
    }
}

/// The first retry waits this long ([`default_backoff`]).
pub const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// No retry waits longer than this, before jitter ([`default_backoff`]).
pub const BACKOFF_CAP: Duration = Duration::from_secs(60 * 60);
/// Each wait is spread by up to this fraction either way ([`default_backoff`]).
pub const BACKOFF_JITTER: f64 = 0.2;

/// The default retry policy: after attempt `n` (from 1) failed, wait
/// `min(10 s × 2^(n−1), 1 h)`, multiplied by a random factor in `[0.8, 1.2)` so that jobs
/// that failed together (an outage of WeChat Pay) do not all retry in the same second.
/// Attempt 1 → 8–12 s, 2 → 16–24 s, 3 → 32–48 s, … 10 and later → 48–72 min.
pub fn default_backoff(attempt: i32) -> Duration {
    backoff_with(attempt, random_unit())
}

/// [`default_backoff`] with the random draw given (`unit` in `[0, 1)`).
fn backoff_with(attempt: i32, unit: f64) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(0).min(20);
    let nominal = BACKOFF_BASE.saturating_mul(1 << doublings).min(BACKOFF_CAP);
    nominal.mul_f64(1.0 + BACKOFF_JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0))
}

/// A uniform draw in `[0, 1)` (the middle when the system has no randomness to give).
fn random_unit() -> f64 {
    getrandom::u32().map_or(0.5, |x| f64::from(x) / (f64::from(u32::MAX) + 1.0))
}

/// A schedule's slot as text (keys and logs): whole seconds, UTC.
fn slot_text(slot: DateTime<Utc>) -> String {
    slot.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRow {
    /// Id.
    pub id: JobId,
    /// The job.
    pub job: Job,
    /// When it is due.
    pub run_at: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: i32,
}

/// Enqueues a job (call it inside the transaction of the change that causes it).
///
/// [`StoreError::Duplicate`] when a job with the same key exists (pending, failed or done).
pub fn enqueue(
    conn: &mut DbConnection,
    job: &Job,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<JobId, StoreError> {
    enqueue_keyed(conn, job, &job.unique_key(), run_at, now)
}

fn enqueue_keyed(
    conn: &mut DbConnection,
    job: &Job,
    key: &str,
    run_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<JobId, StoreError> {
    let id: JobId = crate::new_id();
    let payload = serde_json::to_string(job).map_err(StoreError::corrupt)?;
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(sql::text(id)),
            jobs::kind.eq(job.kind()),
            jobs::payload.eq(payload),
            jobs::unique_key.eq(key),
            jobs::run_at.eq(sql::ts(run_at)),
            jobs::attempts.eq(0),
            jobs::max_attempts.eq(job.max_attempts()),
            jobs::created_at.eq(sql::ts(now)),
        ))
        .execute(conn)
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Duplicate { what: "job" }
            } else {
                e.into()
            }
        })?;
    Ok(id)
}

/// Every job neither done nor failed, oldest first.
pub fn pending(conn: &mut DbConnection) -> Result<Vec<JobRow>, StoreError> {
    jobs::table
        .filter(jobs::failed_at.is_null())
        .filter(jobs::completed_at.is_null())
        .order((jobs::run_at, jobs::id))
        .select((jobs::id, jobs::payload, jobs::run_at, jobs::attempts))
        .load::<(String, String, NaiveDateTime, i32)>(conn)?
        .into_iter()
        .map(|(id, payload, run_at, attempts)| {
            Ok(JobRow {
                id: sql::id(&id)?,
                job: serde_json::from_str(&payload).map_err(StoreError::corrupt)?,
                run_at: sql::utc(run_at),
                attempts,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Claiming, completing, failing

/// A job claimed by a worker, with its lease token.
#[derive(Debug, Clone, PartialEq)]
pub struct Claimed {
    /// Id.
    pub id: JobId,
    /// The stored kind.
    pub kind: String,
    /// The job, or why its payload does not decode (a kind this build does not know, e.g. one
    /// enqueued by a newer version during an upgrade): the worker fails it, to be retried.
    pub job: Result<Job, String>,
    /// This attempt (from 1).
    pub attempt: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// The worker that holds the lease (part of the token).
    pub worker: String,
    /// When the lease expires; after that another worker may claim the job.
    pub locked_until: DateTime<Utc>,
}

impl Claimed {
    /// Whether a failure of this attempt parks the job.
    pub fn is_last_attempt(&self) -> bool {
        self.attempt >= self.max_attempts
    }
}

/// The error parked jobs get when their last attempt's lease expired without an outcome.
pub const ABANDONED: &str = "the lease of the last attempt expired without an outcome (the worker stopped or crashed while running it)";

/// Claims up to `limit` due jobs for `worker` until `now + lease`, oldest first.
///
/// Due: neither done nor failed, `run_at <= now`, no live lease. First, jobs whose lease
/// expired on their last attempt (the worker died running them each time) are parked as
/// failed with [`ABANDONED`], so a job that kills its worker cannot loop for ever.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<Claimed>, StoreError> {
    if limit <= 0 {
        return Ok(Vec::new());
    }
    let until = now + lease;
    let mut rows = match conn {
        DbConnection::Pg(_) => {
            park_abandoned(conn, now)?;
            let DbConnection::Pg(pg) = conn else { unreachable!("matched above") };
            claim_pg(pg, worker, now, until, limit)?
        }
        // One write lock for both statements.
        DbConnection::Sqlite(_) => write_tx(conn, |conn| {
            park_abandoned(conn, now)?;
            claim_sqlite(conn, worker, now, until, limit)
        })?,
    };
    rows.sort_by(|a, b| (a.run_at, &a.id).cmp(&(b.run_at, &b.id)));
    rows.into_iter()
        .map(|row| {
            Ok(Claimed {
                id: sql::id(&row.id)?,
                job: serde_json::from_str(&row.payload).map_err(|e| e.to_string()),
                kind: row.kind,
                attempt: row.attempts,
                max_attempts: row.max_attempts,
                worker: worker.to_owned(),
                locked_until: until,
            })
        })
        .collect()
}

#[derive(QueryableByName, Queryable)]
struct ClaimRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    payload: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    max_attempts: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamp)]
    run_at: NaiveDateTime,
}

/// PostgreSQL: one statement; `SKIP LOCKED` lets concurrent workers take disjoint batches.
fn claim_pg(
    conn: &mut PgConnection,
    worker: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimRow>, StoreError> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    Ok(diesel::sql_query(
        "UPDATE jobs SET locked_until = $1, locked_by = $2, attempts = attempts + 1, \
             last_run_at = $3 \
         WHERE id IN ( \
             SELECT id FROM jobs \
             WHERE completed_at IS NULL AND failed_at IS NULL AND run_at <= $3 \
               AND (locked_until IS NULL OR locked_until <= $3) AND attempts < max_attempts \
             ORDER BY run_at, id LIMIT $4 FOR UPDATE SKIP LOCKED) \
         RETURNING id, kind, payload, attempts, max_attempts, run_at",
    )
    .bind::<Timestamp, _>(sql::ts(until))
    .bind::<Text, _>(worker)
    .bind::<Timestamp, _>(sql::ts(now))
    .bind::<BigInt, _>(limit)
    .load::<ClaimRow>(conn)?)
}

/// SQLite: select and lease inside `BEGIN IMMEDIATE` (no other writer in between).
fn claim_sqlite(
    conn: &mut DbConnection,
    worker: &str,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimRow>, StoreError> {
    let ids: Vec<String> = jobs::table
        .filter(jobs::completed_at.is_null())
        .filter(jobs::failed_at.is_null())
        .filter(jobs::run_at.le(sql::ts(now)))
        .filter(jobs::locked_until.is_null().or(jobs::locked_until.le(sql::ts(now))))
        .filter(jobs::attempts.lt(jobs::max_attempts))
        .order((jobs::run_at, jobs::id))
        .limit(limit)
        .select(jobs::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::update(jobs::table.filter(jobs::id.eq_any(&ids)))
        .set((
            jobs::locked_until.eq(Some(sql::ts(until))),
            jobs::locked_by.eq(Some(worker)),
            jobs::attempts.eq(jobs::attempts + 1),
            jobs::last_run_at.eq(Some(sql::ts(now))),
        ))
        .execute(conn)?;
    Ok(jobs::table
        .filter(jobs::id.eq_any(&ids))
        .select((
            jobs::id,
            jobs::kind,
            jobs::payload,
            jobs::attempts,
            jobs::max_attempts,
            jobs::run_at,
        ))
        .load::<ClaimRow>(conn)?)
}

/// Parks jobs whose last attempt's lease expired without an outcome.
fn park_abandoned(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<(), StoreError> {
    let parked = diesel::update(
        jobs::table
            .filter(jobs::completed_at.is_null())
            .filter(jobs::failed_at.is_null())
            .filter(jobs::locked_until.le(sql::ts(now)))
            .filter(jobs::attempts.ge(jobs::max_attempts)),
    )
    .set((
        jobs::failed_at.eq(Some(sql::ts(now))),
        jobs::locked_until.eq(None::<NaiveDateTime>),
        jobs::last_error.eq(Some(ABANDONED)),
    ))
    .execute(conn)?;
    if parked > 0 {
        tracing::warn!(parked, "jobs parked as failed: their last attempt was abandoned");
    }
    Ok(())
}

/// The rows a claimed job's token still owns: same id, worker and attempt, not finished.
macro_rules! owned_by {
    ($claimed:expr) => {
        jobs::table
            .filter(jobs::id.eq(sql::text($claimed.id)))
            .filter(jobs::locked_by.eq(&$claimed.worker))
            .filter(jobs::attempts.eq($claimed.attempt))
            .filter(jobs::completed_at.is_null())
            .filter(jobs::failed_at.is_null())
    };
}

fn lease_held(written: usize, claimed: &Claimed) -> Result<(), StoreError> {
    if written == 1 { Ok(()) } else { Err(StoreError::LeaseLost { job: claimed.id }) }
}

/// Marks a claimed job done, inside the caller's transaction: a handler that writes to the
/// database calls this in the same write transaction as its change, so the change and the
/// completion commit (or roll back) together. [`StoreError::LeaseLost`] when the lease was
/// lost (the job was claimed again elsewhere or released); the caller's transaction must then
/// roll back.
pub fn complete_in(
    conn: &mut DbConnection,
    claimed: &Claimed,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let written = diesel::update(owned_by!(claimed))
        .set((
            jobs::completed_at.eq(Some(sql::ts(now))),
            jobs::locked_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)?;
    lease_held(written, claimed)
}

/// Marks a claimed job done (its own write transaction); see [`complete_in`].
pub fn complete(
    conn: &mut DbConnection,
    claimed: &Claimed,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    write_tx(conn, |conn| complete_in(conn, claimed, now))
}

/// What [`fail`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failed {
    /// Due again at this time.
    Retry {
        /// The next attempt's time.
        at: DateTime<Utc>,
    },
    /// That was the last attempt: parked as failed, for the back office.
    Parked,
}

/// Longest `last_error` kept, in characters.
const MAX_ERROR_CHARS: usize = 2000;

/// Records a failed attempt: the job is due again after its backoff, or parked as failed
/// after its last attempt. The error is kept (shortened to 2000 characters); it must not hold
/// personal data.
pub fn fail(
    conn: &mut DbConnection,
    claimed: &Claimed,
    error: &str,
    now: DateTime<Utc>,
) -> Result<Failed, StoreError> {
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    write_tx(conn, |conn| {
        if claimed.is_last_attempt() {
            let written = diesel::update(owned_by!(claimed))
                .set((
                    jobs::failed_at.eq(Some(sql::ts(now))),
                    jobs::last_error.eq(Some(&error)),
                    jobs::locked_until.eq(None::<NaiveDateTime>),
                ))
                .execute(conn)?;
            lease_held(written, claimed)?;
            return Ok(Failed::Parked);
        }
        let wait = match &claimed.job {
            Ok(job) => job.backoff(claimed.attempt),
            Err(_) => default_backoff(claimed.attempt),
        };
        // Whole milliseconds: what is stored is what is returned, on both backends.
        let at = (now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::hours(1)))
            .trunc_subsecs(3);
        let written = diesel::update(owned_by!(claimed))
            .set((
                jobs::run_at.eq(sql::ts(at)),
                jobs::last_error.eq(Some(&error)),
                jobs::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        lease_held(written, claimed)?;
        Ok(Failed::Retry { at })
    })
}

/// The job ran and found nothing to do *yet* (an order still unpaid, a refund still
/// processing): due again at `run_at`, and the attempt does not count (it did not fail).
pub fn snooze(
    conn: &mut DbConnection,
    claimed: &Claimed,
    run_at: DateTime<Utc>,
) -> Result<(), StoreError> {
    write_tx(conn, |conn| {
        let written = diesel::update(owned_by!(claimed))
            .set((
                jobs::attempts.eq(jobs::attempts - 1),
                jobs::locked_until.eq(None::<NaiveDateTime>),
                jobs::run_at.eq(sql::ts(run_at)),
            ))
            .execute(conn)?;
        lease_held(written, claimed)
    })
}

/// Hands back a claimed job that was never started (graceful shutdown): due again at once,
/// and the attempt does not count.
pub fn release(conn: &mut DbConnection, claimed: &Claimed) -> Result<(), StoreError> {
    write_tx(conn, |conn| {
        let written = diesel::update(owned_by!(claimed))
            .set((
                jobs::attempts.eq(jobs::attempts - 1),
                jobs::locked_until.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        lease_held(written, claimed)
    })
}

// ---------------------------------------------------------------------------------------------
// Monitoring and the back office

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting for its time or for a worker.
    Pending,
    /// Claimed under a live lease.
    Running,
    /// Parked after its last attempt.
    Failed,
    /// Done.
    Completed,
}

impl JobState {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Running => "running",
            JobState::Failed => "failed",
            JobState::Completed => "completed",
        }
    }

    /// From the stable name.
    pub fn parse(text: &str) -> Option<Self> {
        [JobState::Pending, JobState::Running, JobState::Failed, JobState::Completed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A job as stored, for monitoring and the back office.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobInfo {
    /// Id.
    pub id: JobId,
    /// Kind.
    pub kind: String,
    /// The payload as stored (JSON; ids only).
    pub payload: String,
    /// Its unique key.
    pub unique_key: Option<String>,
    /// When it is (or was last) due.
    pub run_at: DateTime<Utc>,
    /// Attempts so far.
    pub attempts: i32,
    /// Attempts allowed.
    pub max_attempts: i32,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// The lease's end, while claimed.
    pub locked_until: Option<DateTime<Utc>>,
    /// The worker that claimed it last.
    pub locked_by: Option<String>,
    /// When it was last claimed.
    pub last_run_at: Option<DateTime<Utc>>,
    /// When it was parked as failed.
    pub failed_at: Option<DateTime<Utc>>,
    /// When it was done.
    pub completed_at: Option<DateTime<Utc>>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
}

impl JobInfo {
    /// Its state at `now`.
    pub fn state(&self, now: DateTime<Utc>) -> JobState {
        if self.completed_at.is_some() {
            JobState::Completed
        } else if self.failed_at.is_some() {
            JobState::Failed
        } else if self.locked_until.is_some_and(|until| until > now) {
            JobState::Running
        } else {
            JobState::Pending
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = jobs)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct InfoRow {
    id: String,
    kind: String,
    payload: String,
    unique_key: Option<String>,
    run_at: NaiveDateTime,
    attempts: i32,
    max_attempts: i32,
    last_error: Option<String>,
    locked_until: Option<NaiveDateTime>,
    locked_by: Option<String>,
    last_run_at: Option<NaiveDateTime>,
    failed_at: Option<NaiveDateTime>,
    completed_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

impl TryFrom<InfoRow> for JobInfo {
    type Error = StoreError;

    fn try_from(row: InfoRow) -> Result<Self, StoreError> {
        Ok(JobInfo {
            id: sql::id(&row.id)?,
            kind: row.kind,
            payload: row.payload,
            unique_key: row.unique_key,
            run_at: sql::utc(row.run_at),
            attempts: row.attempts,
            max_attempts: row.max_attempts,
            last_error: row.last_error,
            locked_until: row.locked_until.map(sql::utc),
            locked_by: row.locked_by,
            last_run_at: row.last_run_at.map(sql::utc),
            failed_at: row.failed_at.map(sql::utc),
            completed_at: row.completed_at.map(sql::utc),
            created_at: sql::utc(row.created_at),
        })
    }
}

/// One job.
pub fn get(conn: &mut DbConnection, id: JobId) -> Result<JobInfo, StoreError> {
    jobs::table
        .find(sql::text(id))
        .select(InfoRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "job" })?
        .try_into()
}

/// Up to `limit` (1–500) jobs in `state` at `now`: failed ones newest failure first, completed
/// ones newest first, pending ones by due time, running ones by lease end.
pub fn list(
    conn: &mut DbConnection,
    state: JobState,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<JobInfo>, StoreError> {
    let now = sql::ts(now);
    let mut query = jobs::table.select(InfoRow::as_select()).into_boxed::<MultiBackend>();
    query = match state {
        JobState::Failed => query
            .filter(jobs::failed_at.is_not_null())
            .order((jobs::failed_at.desc(), jobs::id.desc())),
        JobState::Completed => query
            .filter(jobs::completed_at.is_not_null())
            .order((jobs::completed_at.desc(), jobs::id.desc())),
        JobState::Running => query
            .filter(jobs::completed_at.is_null())
            .filter(jobs::failed_at.is_null())
            .filter(jobs::locked_until.gt(now))
            .order((jobs::locked_until, jobs::id)),
        JobState::Pending => query
            .filter(jobs::completed_at.is_null())
            .filter(jobs::failed_at.is_null())
            .filter(jobs::locked_until.is_null().or(jobs::locked_until.le(now)))
            .order((jobs::run_at, jobs::id)),
    };
    query.limit(limit.clamp(1, 500)).load(conn)?.into_iter().map(JobInfo::try_from).collect()
}

/// Up to `limit` failed jobs, newest failure first.
pub fn list_failed(conn: &mut DbConnection, limit: i64) -> Result<Vec<JobInfo>, StoreError> {
    // Whether a job failed does not depend on the time.
    list(conn, JobState::Failed, DateTime::UNIX_EPOCH, limit)
}

/// Runs a failed job again: due at `now` with its attempts reset (and its last error cleared).
/// `Ok(false)` when the job exists but is not failed; [`StoreError::NotFound`] when unknown.
pub fn rerun(conn: &mut DbConnection, id: JobId, now: DateTime<Utc>) -> Result<bool, StoreError> {
    write_tx(conn, |conn| {
        let written =
            diesel::update(jobs::table.find(sql::text(id)).filter(jobs::failed_at.is_not_null()))
                .set((
                    jobs::failed_at.eq(None::<NaiveDateTime>),
                    jobs::attempts.eq(0),
                    jobs::last_error.eq(None::<String>),
                    jobs::run_at.eq(sql::ts(now)),
                    jobs::locked_until.eq(None::<NaiveDateTime>),
                    jobs::locked_by.eq(None::<String>),
                ))
                .execute(conn)?;
        if written == 1 {
            return Ok(true);
        }
        get(conn, id).map(|_| false)
    })
}

/// How many jobs are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JobCounts {
    /// Waiting (for their time or a worker).
    pub pending: i64,
    /// Claimed under a live lease.
    pub running: i64,
    /// Parked after their last attempt.
    pub failed: i64,
    /// Done.
    pub completed: i64,
}

/// Jobs per state at `now` (monitoring).
pub fn counts(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<JobCounts, StoreError> {
    let now = sql::ts(now);
    let open =
        || jobs::table.filter(jobs::completed_at.is_null()).filter(jobs::failed_at.is_null());
    Ok(JobCounts {
        running: open().filter(jobs::locked_until.gt(now)).count().get_result(conn)?,
        pending: open()
            .filter(jobs::locked_until.is_null().or(jobs::locked_until.le(now)))
            .count()
            .get_result(conn)?,
        failed: jobs::table.filter(jobs::failed_at.is_not_null()).count().get_result(conn)?,
        completed: jobs::table.filter(jobs::completed_at.is_not_null()).count().get_result(conn)?,
    })
}

/// Deletes completed jobs of these kinds finished before `before` (periodic jobs, whose keys
/// need not stay taken for ever); returns how many. Never call it for kinds whose key guards
/// an external effect (refunds).
pub fn prune_completed(
    conn: &mut DbConnection,
    kinds: &[&str],
    before: DateTime<Utc>,
) -> Result<usize, StoreError> {
    Ok(diesel::delete(
        jobs::table.filter(jobs::kind.eq_any(kinds)).filter(jobs::completed_at.lt(sql::ts(before))),
    )
    .execute(conn)?)
}

// ---------------------------------------------------------------------------------------------
// Periodic schedules

/// A periodic job: what runs, how often.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Stable name (the `schedules` row and the prefix of each run's key).
    pub name: &'static str,
    /// Seconds between runs (slots are aligned to the first run).
    pub every_secs: i64,
    /// The job of the run for a slot.
    pub job: fn(DateTime<Utc>) -> Job,
}

/// The declared schedules.
pub const SCHEDULES: &[Schedule] = &[
    Schedule { name: "clock_sweep", every_secs: 60, job: |slot| Job::ClockSweep { slot } },
    // Hourly: a run before 10:00 Beijing time, or after the day's report exists, does nothing.
    Schedule { name: "reconcile", every_secs: 3600, job: |slot| Job::Reconcile { slot } },
    // Hourly: personal data past its retention (disabled by `retention.enabled = false`, the run
    // then does nothing).
    Schedule { name: "retention", every_secs: 3600, job: |slot| Job::Retention { slot } },
];

/// Kinds of the jobs that [`SCHEDULES`] enqueue (those [`prune_completed`] may delete).
pub fn scheduled_kinds() -> Vec<&'static str> {
    let mut kinds: Vec<&'static str> =
        SCHEDULES.iter().map(|s| (s.job)(DateTime::UNIX_EPOCH).kind()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
}

/// A run that a tick enqueued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticked {
    /// The schedule.
    pub schedule: &'static str,
    /// The slot run.
    pub slot: DateTime<Utc>,
    /// The job enqueued.
    pub job: JobId,
}

/// Ticks [`SCHEDULES`] at `now`; see [`tick`].
pub fn tick_schedules(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
) -> Result<Vec<Ticked>, StoreError> {
    tick(conn, SCHEDULES, now)
}

/// For each schedule: creates its row when missing (first run at `now`, whole seconds); when
/// its slot is due, moves the row to the first slot after `now` (`slot + k × every`) with a
/// compare-and-set and enqueues the run keyed `{name}:{slot}`, in one transaction. Call it
/// outside a transaction.
pub fn tick(
    conn: &mut DbConnection,
    schedules: &[Schedule],
    now: DateTime<Utc>,
) -> Result<Vec<Ticked>, StoreError> {
    let mut ticked = Vec::new();
    for schedule in schedules {
        if let Some(run) = tick_one(conn, schedule, now)? {
            ticked.push(run);
        }
    }
    Ok(ticked)
}

fn tick_one(
    conn: &mut DbConnection,
    schedule: &Schedule,
    now: DateTime<Utc>,
) -> Result<Option<Ticked>, StoreError> {
    let every = schedule.every_secs;
    let interval = i32::try_from(every)
        .ok()
        .filter(|&secs| secs > 0)
        .ok_or_else(|| StoreError::Config(format!("schedule {}: bad interval", schedule.name)))?;
    // Read first, outside a transaction: most ticks find nothing due and take no write lock.
    let stored = schedules::table
        .find(schedule.name)
        .select(schedules::next_run_at)
        .first::<NaiveDateTime>(conn)
        .optional()?;
    if stored.is_some_and(|next| sql::utc(next) > now) {
        return Ok(None);
    }
    if stored.is_none() {
        // A concurrent tick may insert it first: its unique violation is harmless (no
        // transaction is open here, so nothing else is rolled back).
        let inserted = diesel::insert_into(schedules::table)
            .values((
                schedules::name.eq(schedule.name),
                schedules::interval_secs.eq(interval),
                schedules::next_run_at.eq(sql::ts(now.trunc_subsecs(0))),
            ))
            .execute(conn);
        match inserted {
            Err(e) if !StoreError::is_unique_violation(&e) => return Err(e.into()),
            _ => {}
        }
    }
    write_tx(conn, |conn| {
        let stored: NaiveDateTime =
            schedules::table.find(schedule.name).select(schedules::next_run_at).first(conn)?;
        let slot = sql::utc(stored);
        if slot > now {
            return Ok(None);
        }
        let skipped = (now - slot).num_seconds() / every;
        let next = slot + chrono::Duration::seconds(every * (skipped + 1));
        let moved = diesel::update(
            schedules::table.find(schedule.name).filter(schedules::next_run_at.eq(stored)),
        )
        .set((
            schedules::next_run_at.eq(sql::ts(next)),
            schedules::last_run_at.eq(Some(sql::ts(now))),
            schedules::interval_secs.eq(interval),
        ))
        .execute(conn)?;
        if moved != 1 {
            // Another worker ticked this slot first.
            return Ok(None);
        }
        let job = (schedule.job)(slot);
        let key = format!("{}:{}", schedule.name, slot_text(slot));
        // A savepoint: a duplicate key (the row was recreated onto a slot already run) only
        // skips the run, the schedule still moves on.
        match write_tx(conn, |conn| enqueue_keyed(conn, &job, &key, now, now)) {
            Ok(id) => {
                if skipped > 0 {
                    tracing::info!(schedule = schedule.name, skipped, "missed slots run once");
                }
                Ok(Some(Ticked { schedule: schedule.name, slot, job: id }))
            }
            Err(StoreError::Duplicate { .. }) => {
                tracing::warn!(schedule = schedule.name, %key, "run already enqueued; skipped");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    })
}

/// A schedule's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// Name.
    pub name: String,
    /// Seconds between runs.
    pub interval_secs: i32,
    /// The next slot.
    pub next_run_at: DateTime<Utc>,
    /// When a run was last enqueued.
    pub last_run_at: Option<DateTime<Utc>>,
}

/// Every schedule's row (monitoring).
pub fn schedule_rows(conn: &mut DbConnection) -> Result<Vec<ScheduleRow>, StoreError> {
    Ok(schedules::table
        .order(schedules::name)
        .select((
            schedules::name,
            schedules::interval_secs,
            schedules::next_run_at,
            schedules::last_run_at,
        ))
        .load::<(String, i32, NaiveDateTime, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(name, interval_secs, next, last)| ScheduleRow {
            name,
            interval_secs,
            next_run_at: sql::utc(next),
            last_run_at: last.map(sql::utc),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_an_hour_with_jitter() {
        let mid = |attempt| backoff_with(attempt, 0.5);
        assert_eq!(mid(1), Duration::from_secs(10));
        assert_eq!(mid(2), Duration::from_secs(20));
        assert_eq!(mid(3), Duration::from_secs(40));
        assert_eq!(mid(9), Duration::from_secs(2560));
        assert_eq!(mid(10), BACKOFF_CAP);
        assert_eq!(mid(1000), BACKOFF_CAP);
        assert_eq!(mid(0), Duration::from_secs(10));
        assert_eq!(backoff_with(1, 0.0), Duration::from_secs(8));
        assert!(backoff_with(1, 0.999_999) < Duration::from_secs(12));
        assert_eq!(backoff_with(20, 0.0), Duration::from_secs(48 * 60));
        for attempt in 1..30 {
            let d = default_backoff(attempt);
            let nominal = mid(attempt);
            assert!(d >= nominal.mul_f64(0.8) && d <= nominal.mul_f64(1.2), "{attempt}: {d:?}");
        }
    }

    #[test]
    fn jobs_round_trip_through_their_payload() {
        let slot = DateTime::from_timestamp(1_777_968_000, 0).expect("slot");
        let sweep = Job::ClockSweep { slot };
        let json = serde_json::to_string(&sweep).expect("json");
        assert_eq!(json, r#"{"kind":"clock_sweep","slot":"2026-05-05T08:00:00Z"}"#);
        assert_eq!(serde_json::from_str::<Job>(&json).expect("parsed"), sweep);
        assert_eq!(sweep.unique_key(), "clock_sweep:2026-05-05T08:00:00Z");
        assert_eq!(scheduled_kinds(), vec!["clock_sweep", "reconcile", "retention"]);
        assert_eq!(JobState::parse("failed"), Some(JobState::Failed));
        assert_eq!(JobState::parse("nope"), None);
    }
}
