//! The jobs table: work for the worker, enqueued in the same transaction as its cause.
//!
//! Claiming, retries and the worker itself come with the worker; this module owns the typed
//! job kinds and enqueueing, so every transition that schedules work writes it atomically.

use baoming_domain::ids::{JobId, OrderId, RefundId, RegistrationId};
use baoming_domain::lifecycle::State;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::schema::jobs;
use crate::sql;

/// A job with its payload.
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
}

/// What a participant is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// Approved: pay now.
    Approved,
    /// Rejected, with the reason.
    Rejected,
    /// The payment was confirmed.
    Paid,
    /// Closed by the clock (deadline passed or the sitting ended).
    Closed,
}

impl Notice {
    /// The notice a status change sends, if any.
    pub fn for_change(event: baoming_domain::lifecycle::EventKind, to: State) -> Option<Notice> {
        use baoming_domain::lifecycle::EventKind as E;
        match (event, to) {
            (E::Approve, State::AwaitingPayment) => Some(Notice::Approved),
            (E::Reject, State::Rejected) => Some(Notice::Rejected),
            (E::ConfirmPayment, State::Paid) => Some(Notice::Paid),
            (E::PaymentDeadlinePassed | E::SittingEnded, State::Closed) => Some(Notice::Closed),
            _ => None,
        }
    }
}

impl Job {
    /// The kind's stable name.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::CloseProviderOrder { .. } => "close_provider_order",
            Job::Refund { .. } => "refund",
            Job::QueryOrder { .. } => "query_order",
            Job::Notify { .. } => "notify",
        }
    }

    /// How often the worker tries before parking the job as failed.
    pub fn max_attempts(&self) -> i32 {
        match self {
            Job::CloseProviderOrder { .. } => 10,
            Job::Refund { .. } => 20,
            Job::QueryOrder { .. } => 10,
            Job::Notify { .. } => 8,
        }
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
        }
    }
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
pub fn enqueue(
    conn: &mut DbConnection,
    job: &Job,
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
            jobs::unique_key.eq(job.unique_key()),
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

/// Every job not yet failed, oldest first.
pub fn pending(conn: &mut DbConnection) -> Result<Vec<JobRow>, StoreError> {
    jobs::table
        .filter(jobs::failed_at.is_null())
        .order((jobs::run_at, jobs::id))
        .select((jobs::id, jobs::payload, jobs::run_at, jobs::attempts))
        .load::<(String, String, chrono::NaiveDateTime, i32)>(conn)?
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
