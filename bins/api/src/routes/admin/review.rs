//! The review queue (审核): list, counts, detail, the unmasked ID number (audited), the photo,
//! approve, reject, bulk decisions.

// utoipa's `params(SomeQuery)` expansion names the type with a path the lint calls needless.
#![allow(unused_qualifications)]

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use baoming_domain::ids::{PeriodId, RegionId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{Event, Reason, State, Tab, Tag};
use baoming_domain::{IdKind, IdNumber};
use baoming_store::registrations::{self, Applied, EventRecord};
use baoming_store::review::{self, Filter};
use baoming_store::{StoreError, audit, photos};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{READERS, REVIEWERS};
use crate::error::{ApiError, ErrorBody, FieldProblem};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

/// Filters and paging of the queue.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    /// Period id.
    pub period_id: Option<String>,
    /// Region id.
    pub region_id: Option<String>,
    /// State code.
    pub state: Option<String>,
    /// Submitted at or after (RFC 3339).
    pub submitted_from: Option<DateTime<Utc>>,
    /// Submitted before (RFC 3339).
    pub submitted_to: Option<DateTime<Utc>>,
    /// Employer contains.
    pub employer: Option<String>,
    /// Name contains.
    pub name: Option<String>,
    /// Mobile phone (exact).
    pub phone: Option<String>,
    /// Document kind of `id_number` (default `resident_id`).
    pub id_kind: Option<String>,
    /// Exact ID number (matched through the blind index, never stored in clear).
    pub id_number: Option<String>,
    /// Page, from 1.
    pub page: Option<i64>,
    /// Rows per page, 1–200 (default 50).
    pub per_page: Option<i64>,
}

/// A row of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueItem {
    /// Registration id.
    pub id: String,
    /// State code.
    pub state: String,
    /// Tag text.
    pub tag_label: String,
    /// Flag for staff (`transfer_overdue`, `refund_failed`).
    pub flag: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Gender.
    pub gender: Option<String>,
    /// ID number, masked.
    pub id_number_masked: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// Period id.
    pub period_id: String,
    /// Region id.
    pub region_id: String,
    /// Exam type id.
    pub exam_type_id: String,
    /// Subjects (names with specialties).
    pub subjects: Vec<String>,
    /// Fee in fen.
    pub fee_fen: i64,
    /// Submitted at.
    pub submitted_at: DateTime<Utc>,
}

/// A page of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuePage {
    /// Matching rows in all.
    pub total: i64,
    /// This page.
    pub page: i64,
    /// Page size.
    pub per_page: i64,
    /// Rows, oldest submission first.
    pub items: Vec<QueueItem>,
}

pub(crate) fn item(row: &review::Row) -> QueueItem {
    let r = &row.registration;
    let p = &row.participant.profile;
    QueueItem {
        id: r.id.to_string(),
        state: r.status.state.as_str().into(),
        tag_label: Tag::of(r.status.state).label_zh(Tab::PendingReview).into(),
        flag: r.status.flag.map(|f| f.as_str().to_owned()),
        name: p.identity.name.as_ref().map(|n| n.as_str().to_owned()),
        gender: p.identity.gender.map(|g| g.as_str().to_owned()),
        id_number_masked: p.identity.id_number.as_ref().map(IdNumber::masked),
        phone: p.phone.as_ref().map(|x| x.as_str().to_owned()),
        employer: p.employer.clone(),
        period_id: r.period.to_string(),
        region_id: r.region.to_string(),
        exam_type_id: r.exam_type.to_string(),
        subjects: r
            .subjects
            .iter()
            .map(|s| match &s.specialty {
                Some(sp) => format!("{}（{sp}）", s.name),
                None => s.name.clone(),
            })
            .collect(),
        fee_fen: r.fee.fen(),
        submitted_at: r.submitted_at,
    }
}

pub(crate) fn parse_filter(q: QueueQuery) -> Result<Filter, ApiError> {
    let mut problems = Vec::new();
    let mut bad = |field: &str, message: &str| {
        problems.push(FieldProblem {
            field: field.into(),
            code: "invalid".into(),
            message: message.into(),
        });
    };
    let period = q.period_id.as_deref().map(PeriodId::parse).transpose().unwrap_or_else(|_| {
        bad("period_id", "期次编号不正确");
        None
    });
    let region = q.region_id.as_deref().map(RegionId::parse).transpose().unwrap_or_else(|_| {
        bad("region_id", "地区编号不正确");
        None
    });
    let state = q.state.as_deref().map(State::parse).transpose().unwrap_or_else(|_| {
        bad("state", "状态不正确");
        None
    });
    let id_number = match q.id_number.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(raw) => {
            let kind = q.id_kind.as_deref().map_or(Ok(IdKind::ResidentId), IdKind::parse);
            match kind.and_then(|kind| IdNumber::parse(kind, raw, Utc::now().date_naive())) {
                Ok(number) => Some(number),
                Err(e) => {
                    bad("id_number", &e.to_string());
                    None
                }
            }
        }
    };
    let phone = match q.phone.as_deref().filter(|s| !s.trim().is_empty()) {
        None => None,
        Some(raw) => match baoming_domain::MobilePhone::parse(raw) {
            Ok(phone) => Some(phone.as_str().to_owned()),
            Err(e) => {
                bad("phone", &e.to_string());
                None
            }
        },
    };
    if !problems.is_empty() {
        return Err(ApiError::fields(problems));
    }
    Ok(Filter {
        period,
        region,
        state,
        submitted_from: q.submitted_from,
        submitted_to: q.submitted_to,
        employer: q.employer,
        name: q.name,
        phone,
        id_number,
        page: q.page.unwrap_or(1),
        per_page: q.per_page.unwrap_or(50),
    })
}

/// The review queue with filters, sorted by submit time.
#[utoipa::path(
    get,
    path = "/api/v1/admin/registrations",
    tag = "back office",
    params(QueueQuery),
    responses((status = 200, body = QueuePage), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: reviewer, finance, admin."
)]
pub async fn list(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(READERS)?;
    let filter = parse_filter(query.into_inner())?;
    let cipher = state.cipher.clone();
    let (page_no, per_page) = (filter.page.max(1), filter.per_page.clamp(1, 200));
    let page = state.db(move |conn| review::list(conn, &cipher, &filter)).await?;
    Ok(HttpResponse::Ok().json(QueuePage {
        total: page.total,
        page: page_no,
        per_page,
        items: page.rows.iter().map(item).collect(),
    }))
}

/// Registrations per state.
#[derive(Debug, Serialize, ToSchema)]
pub struct StateCount {
    /// State code.
    pub state: String,
    /// How many.
    pub count: i64,
}

/// Counts per state (of a period, or of all).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct CountsQuery {
    /// Period id.
    pub period_id: Option<String>,
}

/// Counts of registrations per state.
#[utoipa::path(
    get,
    path = "/api/v1/admin/registrations/counts",
    tag = "back office",
    params(CountsQuery),
    responses(
        (status = 200, body = Vec<StateCount>),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 422, description = "`period_id` is not a period id (`validation_failed`)", body = ErrorBody),
    ),
    description = "Roles: reviewer, finance, admin."
)]
pub async fn counts(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<CountsQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(READERS)?;
    let period = query
        .period_id
        .as_deref()
        .map(PeriodId::parse)
        .transpose()
        .map_err(|_| ApiError::field("period_id", "invalid", "期次编号不正确"))?;
    let counts = state.db(move |conn| review::counts(conn, period)).await?;
    Ok(HttpResponse::Ok().json(
        counts
            .into_iter()
            .map(|(s, n)| StateCount { state: s.as_str().into(), count: n })
            .collect::<Vec<_>>(),
    ))
}

/// An event of the history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// Actor kind.
    pub actor: String,
    /// Participant or staff id.
    pub actor_ref: Option<String>,
    /// Event.
    pub event: String,
    /// From state.
    pub from: Option<String>,
    /// To state.
    pub to: String,
    /// Reason or note.
    pub reason: Option<String>,
}

/// A registration in full, for review.
#[derive(Debug, Serialize, ToSchema)]
pub struct Detail {
    /// The queue row (masked ID).
    pub registration: QueueItem,
    /// Document kind.
    pub id_kind: Option<String>,
    /// Education.
    pub education: Option<String>,
    /// Job title.
    pub job_title: Option<String>,
    /// Invoice title snapshot.
    #[schema(value_type = Option<Object>)]
    pub invoice: Option<baoming_invoicing::InvoiceSnapshot>,
    /// Joint-invoice remark.
    pub joint_invoice_remark: Option<String>,
    /// Rejection reason.
    pub rejection_reason: Option<String>,
    /// Photo id (GET …/photo).
    pub photo_id: Option<String>,
    /// The event history, oldest first.
    pub history: Vec<HistoryEntry>,
}

fn history(events: Vec<EventRecord>) -> Vec<HistoryEntry> {
    events
        .into_iter()
        .map(|e| HistoryEntry {
            at: e.at,
            actor: e.actor.as_str().into(),
            actor_ref: e.actor_ref,
            event: e.event.as_str().into(),
            from: e.from.map(|s| s.as_str().to_owned()),
            to: e.to.state.as_str().into(),
            reason: e.reason,
        })
        .collect()
}

/// One registration with its history (ID number masked).
#[utoipa::path(
    get,
    path = "/api/v1/admin/registrations/{id}",
    tag = "back office",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = Detail), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    description = "Roles: reviewer, finance, admin."
)]
pub async fn detail(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(READERS)?;
    let id: RegistrationId = path_id(&id)?;
    let cipher = state.cipher.clone();
    let detail = state
        .db(move |conn| {
            let registration = registrations::get(conn, id)?;
            let participant =
                baoming_store::participants::get(conn, &cipher, registration.participant)?;
            let events = registrations::history(conn, id)?;
            let p = participant.profile.clone();
            let row = review::Row { registration: registration.clone(), participant };
            Ok::<_, StoreError>(Detail {
                registration: item(&row),
                id_kind: p.identity.id_number.as_ref().map(|n| n.kind().as_str().to_owned()),
                education: p.education,
                job_title: p.job_title,
                invoice: registration.invoice_snapshot,
                joint_invoice_remark: registration.joint_invoice_remark,
                rejection_reason: registration.rejection_reason,
                photo_id: registration.photo.map(|x| x.to_string()),
                history: history(events),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// The unmasked ID number.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdNumberView {
    /// Document kind.
    pub id_kind: String,
    /// The full number.
    pub id_number: String,
}

/// The unmasked ID number of a registration's participant; every view is audit-logged.
#[utoipa::path(
    get,
    path = "/api/v1/admin/registrations/{id}/id-number",
    tag = "back office",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = IdNumberView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    description = "Roles: reviewer, admin. Audited as view_id_number."
)]
pub async fn id_number(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(REVIEWERS)?;
    let id: RegistrationId = path_id(&id)?;
    let cipher = state.cipher.clone();
    let actor = me.audit_actor(role);
    let view = state
        .db(move |conn| {
            let registration = registrations::get(conn, id)?;
            let participant =
                baoming_store::participants::get(conn, &cipher, registration.participant)?;
            let number = participant
                .profile
                .identity
                .id_number
                .ok_or(StoreError::NotFound { entity: "id number" })?;
            audit::record(
                conn,
                &audit::Entry {
                    actor,
                    action: "view_id_number".into(),
                    target_kind: Some("participant".into()),
                    target_id: Some(participant.id.to_string()),
                    summary: Some(serde_json::json!({ "registration": id.to_string() })),
                },
                Utc::now(),
            )?;
            Ok::<_, StoreError>(IdNumberView {
                id_kind: number.kind().as_str().into(),
                id_number: number.expose().into(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(view))
}

/// The registration's normalised photo.
#[utoipa::path(
    get,
    path = "/api/v1/admin/registrations/{id}/photo",
    tag = "back office",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, content_type = "image/jpeg", body = crate::openapi::Binary), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    description = "Roles: reviewer, finance, admin."
)]
pub async fn photo(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(READERS)?;
    let id: RegistrationId = path_id(&id)?;
    let photo = state
        .db(move |conn| {
            let registration = registrations::get(conn, id)?;
            let photo = registration.photo.ok_or(StoreError::NotFound { entity: "photo" })?;
            photos::get(conn, photo)
        })
        .await?;
    crate::routes::photos::normalized_jpeg(&state, photo, "private, no-store").await
}

/// A rejection: a reason typed by the reviewer, or one of the period's templates.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RejectBody {
    /// Why (shown to the participant).
    pub reason: Option<String>,
    /// Index of one of the period's rejection templates (instead of `reason`).
    pub template: Option<usize>,
}

fn reason(raw: &str) -> Result<Reason, ApiError> {
    Reason::parse(raw).map_err(|e| ApiError::field("reason", "invalid_reason", e.to_string()))
}

async fn decide(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: &str,
    event: Event,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(REVIEWERS)?;
    let id: RegistrationId = path_id(id)?;
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let applied = state.write(move |conn| review::decide(conn, id, &event, &ctx, &actor)).await?;
    Ok(HttpResponse::Ok().json(outcome(&applied)))
}

/// The state after a decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionView {
    /// Registration id.
    pub id: String,
    /// State now.
    pub state: String,
    /// Whether this call changed it.
    pub changed: bool,
}

pub(crate) fn outcome(applied: &Applied) -> DecisionView {
    let r = applied.registration();
    DecisionView {
        id: r.id.to_string(),
        state: r.status.state.as_str().into(),
        changed: matches!(applied, Applied::Moved { .. }),
    }
}

/// Approves a registration: a seat of its region is taken atomically ("full" is 409
/// `region_full`); a concurrent decision answers 409 naming the new state.
#[utoipa::path(
    post,
    path = "/api/v1/admin/registrations/{id}/approve",
    tag = "back office",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = DecisionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    description = "Roles: reviewer, admin. Needs X-CSRF-Token."
)]
pub async fn approve(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    decide(state, me, &id, Event::Approve).await
}

/// Rejects a registration with a reason.
#[utoipa::path(
    post,
    path = "/api/v1/admin/registrations/{id}/reject",
    tag = "back office",
    params(("id" = String, Path, description = "registration id")),
    request_body = RejectBody,
    responses((status = 200, body = DecisionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: reviewer, admin. Needs X-CSRF-Token."
)]
pub async fn reject(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<RejectBody>,
) -> Result<HttpResponse, ApiError> {
    me.require(REVIEWERS)?;
    let text = match (body.reason.as_deref(), body.template) {
        (Some(text), None) => text.to_owned(),
        (None, Some(index)) => {
            let registration: RegistrationId = path_id(&id)?;
            let templates = state
                .db(move |conn| {
                    let period = registrations::get(conn, registration)?.period;
                    baoming_store::periods::rejection_templates(conn, period)
                })
                .await?;
            templates.get(index).cloned().ok_or_else(|| {
                ApiError::field("template", "unknown_template", "驳回原因模板不存在")
            })?
        }
        _ => {
            return Err(ApiError::field(
                "reason",
                "invalid_reason",
                "请填写驳回原因或选择一个模板",
            ));
        }
    };
    decide(state, me, &id, Event::Reject { reason: reason(&text)? }).await
}

/// A bulk decision.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// `approve` or `reject`.
    pub action: String,
    /// Registration ids (1–500).
    pub ids: Vec<String>,
    /// The reason, for `reject`.
    pub reason: Option<String>,
}

/// The result of one id.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    /// The id as given.
    pub id: String,
    /// Whether it was applied.
    pub ok: bool,
    /// State now (when known).
    pub state: Option<String>,
    /// Error code, when refused.
    pub code: Option<String>,
    /// Error message, when refused.
    pub message: Option<String>,
}

/// The per-id results of a bulk decision.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    /// How many were applied.
    pub applied: usize,
    /// How many were refused.
    pub refused: usize,
    /// One result per id, in the order given.
    pub results: Vec<BulkResult>,
}

/// Approves or rejects up to 500 registrations, each on its own (a full region or a wrong
/// state refuses that id only), with a result per id.
#[utoipa::path(
    post,
    path = "/api/v1/admin/registrations/bulk",
    tag = "back office",
    request_body = BulkBody,
    responses((status = 200, body = BulkResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: reviewer, admin. Needs X-CSRF-Token."
)]
pub async fn bulk(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Json<BulkBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(REVIEWERS)?;
    let body = body.into_inner();
    if body.ids.is_empty() || body.ids.len() > 500 {
        return Err(ApiError::field("ids", "invalid_count", "一次可处理 1 至 500 条报名"));
    }
    let event = match body.action.as_str() {
        "approve" => Event::Approve,
        "reject" => Event::Reject { reason: reason(body.reason.as_deref().unwrap_or_default())? },
        _ => {
            return Err(ApiError::field(
                "action",
                "invalid_action",
                "操作只能是 approve 或 reject",
            ));
        }
    };
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let ids = body.ids;
    let items = state
        .db(move |conn| Ok::<_, StoreError>(review::bulk(conn, &ids, &event, &ctx, &actor)))
        .await?;
    Ok(HttpResponse::Ok().json(bulk_response(items)))
}

/// The per-id results of a bulk decision.
pub(crate) fn bulk_response(items: Vec<review::BulkItem>) -> BulkResponse {
    let results: Vec<BulkResult> = items
        .into_iter()
        .map(|item| match item.result {
            Ok(applied) => {
                let view = outcome(&applied);
                BulkResult {
                    id: item.id,
                    ok: view.changed,
                    state: Some(view.state),
                    code: None,
                    message: None,
                }
            }
            Err(e) => {
                let state = match &e {
                    StoreError::Transition(t) => t.state.map(|s| s.as_str().to_owned()),
                    StoreError::Conflict { current } => Some(current.as_str().to_owned()),
                    _ => None,
                };
                let api = ApiError::from(e);
                BulkResult {
                    id: item.id,
                    ok: false,
                    state,
                    code: Some(api.code().to_owned()),
                    message: Some(api.message().to_owned()),
                }
            }
        })
        .collect();
    let applied = results.iter().filter(|r| r.ok).count();
    BulkResponse { applied, refused: results.len() - applied, results }
}
