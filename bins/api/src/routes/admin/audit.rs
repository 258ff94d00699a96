//! The audit log (admin).

// utoipa's `params(SomeQuery)` expansion names the type with a path the lint calls needless.
#![allow(unused_qualifications)]

use actix_web::{HttpResponse, web};
use baoming_domain::ids::{StaffId, TypedId};
use baoming_store::audit;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ADMINS;
use crate::error::{ApiError, ErrorBody};
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Staff user id.
    pub staff_id: Option<String>,
    /// Action (`login`, `login_failed`, `approve`, `view_id_number`, …).
    pub action: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// From (RFC 3339, inclusive).
    pub since: Option<DateTime<Utc>>,
    /// Until (RFC 3339, exclusive).
    pub until: Option<DateTime<Utc>>,
    /// Page size, 1–500 (default 100).
    pub limit: Option<i64>,
    /// Rows to skip.
    pub offset: Option<i64>,
}

/// An entry of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Staff id.
    pub staff_id: Option<String>,
    /// Login name.
    pub username: Option<String>,
    /// Role acted in.
    pub role: Option<String>,
    /// Action.
    pub action: String,
    /// Target kind.
    pub target_kind: Option<String>,
    /// Target id.
    pub target_id: Option<String>,
    /// Before/after summary.
    #[schema(value_type = Option<Object>)]
    pub summary: Option<serde_json::Value>,
    /// Request id.
    pub request_id: Option<String>,
    /// Client IP.
    pub client_ip: Option<String>,
}

/// The audit log, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/audit",
    tag = "back office",
    params(AuditQuery),
    responses((status = 200, body = Vec<AuditEntry>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: admin."
)]
pub async fn list(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(ADMINS)?;
    let q = query.into_inner();
    let staff = q
        .staff_id
        .as_deref()
        .map(StaffId::parse)
        .transpose()
        .map_err(|_| ApiError::field("staff_id", "invalid", "员工编号不正确"))?;
    let filter = audit::Filter {
        staff,
        action: q.action,
        target_id: q.target_id,
        since: q.since,
        until: q.until,
        limit: q.limit.unwrap_or(100),
        offset: q.offset.unwrap_or(0),
    };
    let records = state.db(move |conn| audit::list(conn, &filter)).await?;
    Ok(HttpResponse::Ok().json(
        records
            .into_iter()
            .map(|r| AuditEntry {
                at: r.at,
                staff_id: r.staff_id,
                username: r.username,
                role: r.role,
                action: r.action,
                target_kind: r.target_kind,
                target_id: r.target_id,
                summary: r.summary,
                request_id: r.request_id,
                client_ip: r.client_ip,
            })
            .collect::<Vec<_>>(),
    ))
}
