//! The jobs table: work for the worker, enqueued in the same transaction as its cause.
//!
//! Claiming, retries and the worker itself come with the worker; this module owns the typed
//! job kinds and enqueueing, so every transition that schedules work writes it atomically.

use baoming_domain::ids::{JobId, RegistrationId};
use baoming_domain::lifecycle::Effect;
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
    /// Start the WeChat refund of the registration (`out_refund_no` derived from it).
    StartProviderRefund {
        /// Whose payment.
        registration: RegistrationId,
    },
}

impl Job {
    /// The job a transition's effect schedules.
    pub fn for_effect(effect: Effect, registration: RegistrationId) -> Job {
        match effect {
            Effect::CloseProviderOrder => Job::CloseProviderOrder { registration },
            Effect::StartProviderRefund => Job::StartProviderRefund { registration },
        }
    }

    /// The kind's stable name.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::CloseProviderOrder { .. } => "close_provider_order",
            Job::StartProviderRefund { .. } => "start_provider_refund",
        }
    }

    /// How often the worker tries before parking the job as failed.
    pub fn max_attempts(&self) -> i32 {
        match self {
            Job::CloseProviderOrder { .. } => 10,
            Job::StartProviderRefund { .. } => 20,
        }
    }

    /// At most one job per key ever exists: a refund is started once per registration.
    fn unique_key(&self) -> String {
        match self {
            Job::CloseProviderOrder { registration }
            | Job::StartProviderRefund { registration } => {
                format!("{}:{registration}", self.kind())
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
