//! The job queue (admin): jobs by state (failed ones by default) and re-running a failed job.

// utoipa's `params(SomeQuery)` expansion names the type with a path the lint calls needless.
#![allow(unused_qualifications)]

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use baoming_domain::ids::JobId;
use baoming_store::jobs::{self, JobInfo, JobState};
use baoming_store::{StoreError, audit};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ADMINS;
use crate::error::{ApiError, ErrorBody};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

/// Which jobs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    /// `failed` (default), `pending`, `running` or `completed`.
    pub state: Option<String>,
    /// Most rows, 1–500 (default 100).
    pub limit: Option<i64>,
}

/// A job of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    /// Job id.
    pub id: String,
    /// Kind (`clock_sweep`, `close_provider_order`, `query_order`, `refund`, `notify`, `reconcile`).
    pub kind: String,
    /// `pending`, `running`, `failed` or `completed`.
    pub state: String,
    /// The payload (ids only).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Attempts made.
    pub attempts: i32,
    /// Attempts allowed before it is parked as failed.
    pub max_attempts: i32,
    /// The last attempt's error.
    pub last_error: Option<String>,
    /// When it is (or was last) due.
    pub run_at: DateTime<Utc>,
    /// When it was enqueued.
    pub created_at: DateTime<Utc>,
    /// When it was parked as failed.
    pub failed_at: Option<DateTime<Utc>>,
    /// When it was done.
    pub completed_at: Option<DateTime<Utc>>,
    /// The worker that claimed it last.
    pub locked_by: Option<String>,
}

fn view(job: JobInfo, now: DateTime<Utc>) -> JobView {
    JobView {
        id: job.id.to_string(),
        state: job.state(now).as_str().into(),
        payload: serde_json::from_str(&job.payload).unwrap_or(serde_json::Value::Null),
        kind: job.kind,
        attempts: job.attempts,
        max_attempts: job.max_attempts,
        last_error: job.last_error,
        run_at: job.run_at,
        created_at: job.created_at,
        failed_at: job.failed_at,
        completed_at: job.completed_at,
        locked_by: job.locked_by,
    }
}

/// Jobs of the queue in one state: failed ones (the default, newest failure first) to be
/// looked at and re-run, or pending, running or completed ones.
#[utoipa::path(
    get,
    path = "/api/v1/admin/jobs",
    tag = "back office",
    params(JobsQuery),
    responses((status = 200, body = Vec<JobView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: admin."
)]
pub async fn list(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<JobsQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(ADMINS)?;
    let q = query.into_inner();
    let wanted = match q.state.as_deref() {
        None => JobState::Failed,
        Some(raw) => JobState::parse(raw).ok_or_else(|| {
            ApiError::field("state", "invalid", "状态应为 failed、pending、running 或 completed")
        })?,
    };
    let limit = q.limit.unwrap_or(100);
    let now = Utc::now();
    let found = state.db(move |conn| jobs::list(conn, wanted, now, limit)).await?;
    Ok(HttpResponse::Ok().json(found.into_iter().map(|j| view(j, now)).collect::<Vec<_>>()))
}

/// Runs a failed job again: due at once, attempts and last error reset. Only failed jobs
/// (409 `job_not_failed` otherwise).
#[utoipa::path(
    post,
    path = "/api/v1/admin/jobs/{id}/rerun",
    tag = "back office",
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    description = "Roles: admin. Needs X-CSRF-Token. Audited as job_rerun."
)]
pub async fn rerun(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let id: JobId = path_id(&id)?;
    let job = rerun_job(&state, &me, role, id).await?;
    Ok(HttpResponse::Ok().json(view(job, Utc::now())))
}

/// Runs a failed job again, audited (the JSON API and the console).
pub(crate) async fn rerun_job(
    state: &AppState,
    me: &CurrentStaff,
    role: baoming_accounts::Role,
    id: JobId,
) -> Result<JobInfo, ApiError> {
    let actor = me.audit_actor(role);
    let now = Utc::now();
    let rerun = state
        .db(move |conn| {
            baoming_store::write_tx(conn, |conn| {
                let before = jobs::get(conn, id)?;
                if !jobs::rerun(conn, id, now)? {
                    return Ok(None);
                }
                audit::record(
                    conn,
                    &audit::Entry {
                        actor,
                        action: "job_rerun".into(),
                        target_kind: Some("job".into()),
                        target_id: Some(id.to_string()),
                        summary: Some(serde_json::json!({
                            "kind": before.kind,
                            "attempts": before.attempts,
                            "last_error": before.last_error,
                        })),
                    },
                    now,
                )?;
                Ok::<_, StoreError>(Some(jobs::get(conn, id)?))
            })
        })
        .await?;
    rerun.ok_or_else(|| {
        ApiError::new(StatusCode::CONFLICT, "job_not_failed", "只有失败的任务可以重新运行")
    })
}
