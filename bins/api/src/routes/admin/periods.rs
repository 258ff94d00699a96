//! Period management (admin): create, edit, close; everyone in the back office may list.

use actix_web::{HttpResponse, web};
use baoming_domain::Money;
use baoming_domain::ids::{ExamTypeId, PeriodId, RegionId, SubjectId, TypedId, VenueId};
use baoming_domain::period::{
    ExamTypeRule, Geofence, Plan, PlanExamType, PlanRegion, PlanSubject, PlanVenue, Schedule,
    ScheduleInput, SliceLength, SubjectOffer,
};
use baoming_store::periods::{self, PlanError};
use baoming_store::{StoreError, audit};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ADMINS, READERS};
use crate::error::{ApiError, ErrorBody, FieldProblem};
use crate::routes::path_id;
use crate::routes::periods::PeriodView;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

/// A region of the period form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegionBody {
    /// Existing region id (omit for a new region).
    pub id: Option<String>,
    /// Two-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Seats (never below the seats already taken).
    pub capacity: u32,
}

/// A subject of the period form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectBody {
    /// Existing subject id (omit for a new subject).
    pub id: Option<String>,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Specialties (empty: none).
    #[serde(default)]
    pub specialties: Vec<String>,
    /// Exam start.
    pub exam_starts_at: DateTime<Utc>,
    /// Exam end.
    pub exam_ends_at: DateTime<Utc>,
}

/// A price of the period form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceBody {
    /// Number of subjects.
    pub subjects: u8,
    /// Fee in yuan, e.g. `"1280.00"`.
    pub fee_yuan: String,
}

/// An exam type of the period form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExamTypeBody {
    /// Existing exam type id (omit for a new one).
    pub id: Option<String>,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Subject codes one may take under it.
    pub subject_codes: Vec<String>,
    /// Fewest subjects.
    pub min_subjects: u8,
    /// Most subjects.
    pub max_subjects: u8,
    /// One price per allowed number of subjects.
    pub prices: Vec<PriceBody>,
}

/// A venue of the period form.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VenueBody {
    /// Existing venue id (omit for a new one).
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// The code of the region whose participants check in here (omit: every participant).
    pub region_code: Option<String>,
    /// Accept the venue's printed static code (a fallback when the screen fails; off by
    /// default; check-ins with it are recorded as `static`).
    #[serde(default)]
    pub static_code: bool,
    /// Check-ins must be made from within this circle.
    pub geofence: Option<GeofenceBody>,
}

/// A venue's geofence: GCJ-02 coordinates (as the Tencent map and `wx.getLocation` give them)
/// and a radius.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GeofenceBody {
    /// Latitude, degrees (GCJ-02).
    pub latitude: f64,
    /// Longitude, degrees (GCJ-02).
    pub longitude: f64,
    /// Radius in metres (10–5000).
    pub radius_m: u32,
}

/// A whole period (create, or replace on edit: rows with an id are updated, rows without are
/// added, existing rows left out are deleted unless registrations refer to them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeriodBody {
    /// Name.
    pub name: String,
    /// The exam it belongs to.
    pub exam_name: String,
    /// Registration opens.
    pub registration_opens: DateTime<Utc>,
    /// Registration closes.
    pub registration_closes: DateTime<Utc>,
    /// Payment deadline (default: registration close).
    pub payment_deadline: Option<DateTime<Utc>>,
    /// Check-in opens.
    pub checkin_opens: DateTime<Utc>,
    /// Check-in closes.
    pub checkin_closes: DateTime<Utc>,
    /// The sitting ends.
    pub exam_ends: DateTime<Utc>,
    /// Regions.
    pub regions: Vec<RegionBody>,
    /// Subjects.
    pub subjects: Vec<SubjectBody>,
    /// Exam types.
    pub exam_types: Vec<ExamTypeBody>,
    /// Venues.
    #[serde(default)]
    pub venues: Vec<VenueBody>,
    /// Ready-made rejection reasons.
    #[serde(default)]
    pub rejection_templates: Vec<String>,
    /// How often the venues' check-in codes turn, in seconds (5–300; default 15).
    pub checkin_slice_secs: Option<u32>,
}

/// A period as the back office sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminPeriodView {
    /// The period.
    pub period: PeriodView,
    /// Closed (hidden from participants).
    pub closed: bool,
    /// Ready-made rejection reasons.
    pub rejection_templates: Vec<String>,
    /// How often the venues' check-in codes turn, in seconds.
    pub checkin_slice_secs: u32,
    /// The venues' check-in settings.
    pub venues: Vec<AdminVenueView>,
}

/// A venue's check-in settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminVenueView {
    /// Id.
    pub id: String,
    /// Its number in the period (in its codes; the site of ticket numbers).
    pub number: u16,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// The code of the region whose participants check in here (none: everyone).
    pub region_code: Option<String>,
    /// The printed static code is accepted.
    pub static_code: bool,
    /// The geofence, if any.
    pub geofence: Option<GeofenceBody>,
}

fn problem(field: String, message: impl Into<String>) -> FieldProblem {
    FieldProblem { field, code: "invalid".into(), message: message.into() }
}

fn id<T: TypedId>(
    raw: &Option<String>,
    field: String,
    problems: &mut Vec<FieldProblem>,
) -> Option<T> {
    let raw = raw.as_deref()?;
    T::parse(raw).map_err(|_| problems.push(problem(field, "编号不正确"))).ok()
}

/// Parses the form into the domain's plan and checks it: one problem per field.
fn plan(body: PeriodBody) -> Result<Plan, ApiError> {
    let mut problems = Vec::new();
    let schedule = Schedule::new(ScheduleInput {
        registration_opens: body.registration_opens,
        registration_closes: body.registration_closes,
        payment_deadline: body.payment_deadline,
        checkin_opens: body.checkin_opens,
        checkin_closes: body.checkin_closes,
        exam_ends: body.exam_ends,
    })
    .map_err(|e| problems.push(problem("schedule".into(), e.to_string())))
    .ok();
    let regions = (body.regions.into_iter().enumerate())
        .map(|(i, r)| PlanRegion {
            id: id::<RegionId>(&r.id, format!("regions[{i}].id"), &mut problems),
            code: r.code,
            name: r.name,
            capacity: r.capacity,
        })
        .collect();
    let subjects = (body.subjects.into_iter().enumerate())
        .map(|(i, s)| PlanSubject {
            id: id::<SubjectId>(&s.id, format!("subjects[{i}].id"), &mut problems),
            offer: SubjectOffer { code: s.code, name: s.name, specialties: s.specialties },
            exam_starts_at: s.exam_starts_at,
            exam_ends_at: s.exam_ends_at,
        })
        .collect();
    let exam_types = (body.exam_types.into_iter().enumerate())
        .map(|(i, e)| {
            let prices = (e.prices.into_iter().enumerate())
                .filter_map(|(j, p)| match Money::parse_yuan(&p.fee_yuan) {
                    Ok(fee) => Some((p.subjects, fee)),
                    Err(err) => {
                        problems.push(problem(
                            format!("exam_types[{i}].prices[{j}].fee_yuan"),
                            err.to_string(),
                        ));
                        None
                    }
                })
                .collect();
            PlanExamType {
                id: id::<ExamTypeId>(&e.id, format!("exam_types[{i}].id"), &mut problems),
                code: e.code,
                name: e.name,
                rule: ExamTypeRule {
                    subject_codes: e.subject_codes,
                    min_subjects: e.min_subjects,
                    max_subjects: e.max_subjects,
                },
                prices,
            }
        })
        .collect();
    let venues = (body.venues.into_iter().enumerate())
        .map(|(i, v)| PlanVenue {
            id: id::<VenueId>(&v.id, format!("venues[{i}].id"), &mut problems),
            name: v.name,
            address: v.address,
            region_code: v.region_code.map(|code| code.trim().to_owned()),
            static_code: v.static_code,
            geofence: v.geofence.and_then(|g| {
                Geofence::new(g.latitude, g.longitude, g.radius_m)
                    .map_err(|e| {
                        problems.push(problem(format!("venues[{i}].geofence"), e.to_string()))
                    })
                    .ok()
            }),
        })
        .collect();
    let checkin_slice = match body.checkin_slice_secs {
        None => SliceLength::DEFAULT,
        Some(secs) => SliceLength::new(secs).unwrap_or_else(|e| {
            problems.push(problem("checkin_slice_secs".into(), e.to_string()));
            SliceLength::DEFAULT
        }),
    };
    let Some(schedule) = schedule else { return Err(ApiError::fields(problems)) };
    let plan = Plan {
        name: body.name,
        exam_name: body.exam_name,
        schedule,
        regions,
        subjects,
        exam_types,
        venues,
        rejection_templates: body.rejection_templates,
        checkin_slice,
    };
    if let Err(found) = plan.check() {
        problems.extend(found.into_iter().map(|p| problem(p.field, p.message)));
    }
    if problems.is_empty() { Ok(plan) } else { Err(ApiError::fields(problems)) }
}

/// The back office's view of a period.
pub(crate) fn view(
    conn: &mut baoming_store::DbConnection,
    id: PeriodId,
) -> Result<AdminPeriodView, StoreError> {
    let detail = periods::detail(conn, id)?;
    admin_view(conn, &detail)
}

pub(crate) fn admin_view(
    conn: &mut baoming_store::DbConnection,
    detail: &periods::PeriodDetail,
) -> Result<AdminPeriodView, StoreError> {
    Ok(AdminPeriodView {
        period: PeriodView::new(detail, Utc::now()),
        closed: detail.closed,
        rejection_templates: periods::rejection_templates(conn, detail.id)?,
        checkin_slice_secs: detail.checkin_slice.secs(),
        venues: detail
            .venues
            .iter()
            .map(|v| AdminVenueView {
                id: v.id.to_string(),
                number: v.number.get(),
                name: v.name.clone(),
                address: v.address.clone(),
                region_code: v.region.and_then(|region| {
                    detail.regions.iter().find(|r| r.id == region).map(|r| r.code.clone())
                }),
                static_code: v.static_code,
                geofence: v.geofence.map(|g| GeofenceBody {
                    latitude: g.centre().lat(),
                    longitude: g.centre().lon(),
                    radius_m: g.radius_m(),
                }),
            })
            .collect(),
    })
}

fn audited(
    actor: audit::Actor,
    action: &str,
    id: PeriodId,
    summary: serde_json::Value,
) -> audit::Entry {
    audit::Entry {
        actor,
        action: action.into(),
        target_kind: Some("period".into()),
        target_id: Some(id.to_string()),
        summary: Some(summary),
    }
}

fn brief(plan: &Plan) -> serde_json::Value {
    serde_json::json!({
        "name": plan.name,
        "registration": [plan.schedule.registration_opens(), plan.schedule.registration_closes()],
        "regions": plan.regions.iter().map(|r| format!("{}:{}", r.code, r.capacity)).collect::<Vec<_>>(),
        "subjects": plan.subjects.iter().map(|s| s.offer.code.clone()).collect::<Vec<_>>(),
        "exam_types": plan.exam_types.iter().map(|e| e.code.clone()).collect::<Vec<_>>(),
    })
}

/// Every period (closed ones included), newest first.
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods",
    tag = "back office",
    responses((status = 200, body = Vec<AdminPeriodView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    description = "Roles: reviewer, finance, admin."
)]
pub async fn list(state: web::Data<AppState>, me: CurrentStaff) -> Result<HttpResponse, ApiError> {
    me.require(READERS)?;
    let views = state
        .db(|conn| {
            periods::all(conn)?
                .iter()
                .map(|detail| admin_view(conn, detail))
                .collect::<Result<Vec<_>, StoreError>>()
        })
        .await?;
    Ok(HttpResponse::Ok().json(views))
}

/// Creates a period with its regions, subjects, exam types, prices, venues and templates.
#[utoipa::path(
    post,
    path = "/api/v1/admin/periods",
    tag = "back office",
    request_body = PeriodBody,
    responses((status = 201, body = AdminPeriodView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: admin. Needs X-CSRF-Token."
)]
pub async fn create(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Json<PeriodBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let view = create_period(&state, &me, role, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(view))
}

/// Creates a period, audited (the JSON API and the console).
pub(crate) async fn create_period(
    state: &AppState,
    me: &CurrentStaff,
    role: baoming_accounts::Role,
    body: PeriodBody,
) -> Result<AdminPeriodView, ApiError> {
    let plan = plan(body)?;
    let actor = me.audit_actor(role);
    state
        .db(move |conn| {
            let now = Utc::now();
            let created = baoming_store::write_tx(conn, |conn| {
                let created = periods::create(conn, &plan, now)?;
                let summary = serde_json::json!({ "after": brief(&plan) });
                audit::record(conn, &audited(actor, "period_create", created.id, summary), now)?;
                Ok::<_, PlanError>(created)
            })?;
            view(conn, created.id).map_err(ApiError::from)
        })
        .await
}

/// Edits a period (see the form's description): 409 when a region would drop below its seats
/// taken or when something registrations refer to would be deleted.
#[utoipa::path(
    put,
    path = "/api/v1/admin/periods/{id}",
    tag = "back office",
    params(("id" = String, Path, description = "period id")),
    request_body = PeriodBody,
    responses((status = 200, body = AdminPeriodView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: admin. Needs X-CSRF-Token."
)]
pub async fn update(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<PeriodBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let id: PeriodId = path_id(&id)?;
    let view = update_period(&state, &me, role, id, body.into_inner()).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Edits a period, audited (the JSON API and the console).
pub(crate) async fn update_period(
    state: &AppState,
    me: &CurrentStaff,
    role: baoming_accounts::Role,
    id: PeriodId,
    body: PeriodBody,
) -> Result<AdminPeriodView, ApiError> {
    let plan = plan(body)?;
    let actor = me.audit_actor(role);
    state.periods.forget(id);
    let view = state
        .db(move |conn| {
            let now = Utc::now();
            let before = view(conn, id)?;
            let summary = serde_json::json!({
                "before": { "name": before.period.name, "regions": before.period.regions.iter().map(|r| format!("{}:{}", r.code, r.capacity)).collect::<Vec<_>>() },
                "after": brief(&plan),
            });
            // The edit and its audit entry commit together.
            baoming_store::write_tx(conn, |conn| {
                periods::update(conn, id, &plan, now)?;
                audit::record(conn, &audited(actor, "period_update", id, summary), now)?;
                Ok::<_, PlanError>(())
            })
            ?;
            view(conn, id).map_err(ApiError::from)
        })
        .await?;
    state.periods.forget(id);
    Ok(view)
}

/// Closes a period (it disappears from the mini-program's list).
#[utoipa::path(
    post,
    path = "/api/v1/admin/periods/{id}/close",
    tag = "back office",
    params(("id" = String, Path, description = "period id")),
    responses((status = 200, body = AdminPeriodView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    description = "Roles: admin. Needs X-CSRF-Token."
)]
pub async fn close(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let id: PeriodId = path_id(&id)?;
    Ok(HttpResponse::Ok().json(close_period(&state, &me, role, id).await?))
}

/// Closes a period, audited (the JSON API and the console).
pub(crate) async fn close_period(
    state: &AppState,
    me: &CurrentStaff,
    role: baoming_accounts::Role,
    id: PeriodId,
) -> Result<AdminPeriodView, ApiError> {
    let actor = me.audit_actor(role);
    let view = state
        .db(move |conn| {
            let now = Utc::now();
            baoming_store::write_tx(conn, |conn| {
                if periods::close(conn, id, now)? {
                    audit::record(
                        conn,
                        &audited(actor, "period_close", id, serde_json::json!({})),
                        now,
                    )?;
                }
                Ok::<_, StoreError>(())
            })?;
            view(conn, id)
        })
        .await?;
    state.periods.forget(id);
    Ok(view)
}
