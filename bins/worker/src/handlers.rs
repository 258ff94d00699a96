//! What each kind of job does.
//!
//! A handler runs a claimed job and records its completion itself: one that changes our
//! database does it in the same write transaction as [`jobs::complete_in`] where it can, so the
//! change and the completion commit together. Every handler is idempotent: a worker can die
//! after the work and before the commit of the completion, and the job then runs again.
//!
//! The match in [`run`] is exhaustive on purpose: a new kind of job does not compile until it
//! has a handler.

use baoming_store::jobs::{self, Claimed, Job};
use baoming_store::{DbConnection, StoreError, clock};
use chrono::{DateTime, Utc};

/// Why a job did not complete.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The job cannot be done now: recorded as the attempt's error, retried after its backoff,
    /// parked as failed after its last attempt.
    #[error("{0}")]
    Failed(String),
    /// The database failed (the lease lost included: [`StoreError::LeaseLost`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the handlers call out to: WeChat Pay, the WeChat message API, the templates, and the
/// runtime their async clients run on (handlers themselves run on blocking threads).
#[derive(Debug, Clone)]
pub struct Services {
    /// WeChat Pay (orders, refunds, bills).
    pub pay: baoming_runtime::pay::Pay,
    /// The mini-program API (subscribe messages).
    pub wechat: baoming_wechat::WechatClient,
    /// Subscribe-message templates.
    pub templates: baoming_runtime::config::Templates,
    /// Runs the clients' futures.
    pub runtime: tokio::runtime::Handle,
    /// How long before a processing refund is asked about again.
    pub refund_recheck: chrono::Duration,
    /// Admission tickets: fonts, keys, storage (the file storage the retention job deletes
    /// from too).
    pub tickets: crate::tickets::TicketServices,
    /// The retention policy, `None` when `retention.enabled` is false.
    pub retention: Option<baoming_store::privacy::Policy>,
}

/// Runs a claimed job and, when it succeeds, marks it completed (or snoozes it when there is
/// nothing to do yet).
pub fn run(
    conn: &mut DbConnection,
    claimed: &Claimed,
    services: &Services,
) -> Result<(), JobError> {
    let job = claimed.job.as_ref().map_err(|e| {
        JobError::Failed(format!("payload of kind {} does not decode: {e}", claimed.kind))
    })?;
    match job {
        Job::ClockSweep { slot } => clock_sweep(conn, claimed, *slot),
        Job::CloseProviderOrder { registration } => {
            crate::payments::close_order(conn, claimed, *registration, services)
        }
        Job::QueryOrder { order } => crate::payments::query_order(conn, claimed, *order, services),
        Job::Refund { refund } => crate::payments::refund(conn, claimed, *refund, services),
        Job::Notify { registration, notice, version } => {
            crate::notices::send(conn, claimed, *registration, *notice, *version, services)
        }
        Job::Reconcile { .. } => crate::reconcile::run(conn, claimed, services),
        Job::Retention { slot } => crate::retention::run(conn, claimed, *slot, services),
        Job::RenderTickets { period, registrations, .. } => {
            crate::tickets::render(conn, claimed, *period, registrations, services)
        }
        Job::TicketNotice { registration } => crate::notices::send(
            conn,
            claimed,
            *registration,
            jobs::Notice::TicketPublished,
            // Not a status change: no event-log version to read a reason from.
            0,
            services,
        ),
    }
}

/// The clock's due events (payment deadlines, ended sittings), applied at the time the job
/// runs (a late run still applies everything due). Each registration changes in its own
/// transaction and the state machine refuses a second change, so a sweep that runs twice
/// (a crash before the completion was committed) changes nothing more: the completion is a
/// separate, last transaction.
fn clock_sweep(
    conn: &mut DbConnection,
    claimed: &Claimed,
    slot: DateTime<Utc>,
) -> Result<(), JobError> {
    let request_id = format!("job:{}", claimed.id);
    let report = clock::sweep(conn, Utc::now(), Some(&request_id))?;
    if report != clock::SweepReport::default() {
        tracing::info!(
            %slot,
            moved = report.moved,
            unchanged = report.unchanged,
            skipped = report.skipped,
            "clock sweep"
        );
    }
    jobs::complete(conn, claimed, Utc::now())?;
    Ok(())
}
