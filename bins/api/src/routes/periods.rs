//! Training periods (期次) a participant can pick from, and the fee of a choice.

use actix_web::{HttpResponse, web};
use baoming_domain::ids::{ExamTypeId, PeriodId, TypedId};
use baoming_domain::period::SubjectChoice;
use baoming_store::periods::{self, PeriodDetail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::path_id;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A region and its seats.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionView {
    /// Id.
    pub id: String,
    /// Two-digit code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Seats in all.
    pub capacity: u32,
    /// Seats not yet taken by approved registrations.
    pub seats_left: u32,
}

/// A subject and its exam time.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectView {
    /// Id (for edits in the back office).
    pub id: String,
    /// Code (sent back in a registration).
    pub code: String,
    /// Name.
    pub name: String,
    /// Specialties to choose from (empty: none).
    pub specialties: Vec<String>,
    /// Exam start.
    pub exam_starts_at: DateTime<Utc>,
    /// Exam end.
    pub exam_ends_at: DateTime<Utc>,
}

/// A price of an exam type.
#[derive(Debug, Serialize, ToSchema)]
pub struct PriceView {
    /// Number of subjects.
    pub subjects: u8,
    /// Fee in fen.
    pub fee_fen: i64,
    /// Fee in yuan, two decimals.
    pub fee_yuan: String,
}

/// An exam type (考试类型).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExamTypeView {
    /// Id.
    pub id: String,
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
    /// Prices by number of subjects.
    pub prices: Vec<PriceView>,
}

/// A venue (考点).
#[derive(Debug, Serialize, ToSchema)]
pub struct VenueView {
    /// Id (for edits in the back office).
    pub id: String,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// The region whose participants check in here (none: everyone of the period).
    pub region_id: Option<String>,
    /// A check-in here needs the phone's position (`wx.getLocation({type: 'gcj02'})`).
    pub needs_position: bool,
}

/// A period with everything the registration form needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct PeriodView {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The exam it belongs to.
    pub exam_name: String,
    /// Registration is open right now.
    pub registration_open: bool,
    /// Registration window start.
    pub registration_opens: DateTime<Utc>,
    /// Registration window end.
    pub registration_closes: DateTime<Utc>,
    /// Payment deadline.
    pub payment_deadline: DateTime<Utc>,
    /// Check-in window start.
    pub checkin_opens: DateTime<Utc>,
    /// Check-in window end.
    pub checkin_closes: DateTime<Utc>,
    /// End of the sitting.
    pub exam_ends: DateTime<Utc>,
    /// Regions.
    pub regions: Vec<RegionView>,
    /// Subjects.
    pub subjects: Vec<SubjectView>,
    /// Exam types.
    pub exam_types: Vec<ExamTypeView>,
    /// Venues.
    pub venues: Vec<VenueView>,
}

impl PeriodView {
    /// The view of a period at `now`.
    pub fn new(p: &PeriodDetail, now: DateTime<Utc>) -> Self {
        let s = &p.schedule;
        PeriodView {
            id: p.id.to_string(),
            name: p.name.clone(),
            exam_name: p.exam_name.clone(),
            registration_open: s.registration_open(now),
            registration_opens: s.registration_opens(),
            registration_closes: s.registration_closes(),
            payment_deadline: s.payment_deadline(),
            checkin_opens: s.checkin_opens(),
            checkin_closes: s.checkin_closes(),
            exam_ends: s.exam_ends(),
            regions: p
                .regions
                .iter()
                .map(|r| RegionView {
                    id: r.id.to_string(),
                    code: r.code.clone(),
                    name: r.name.clone(),
                    capacity: r.capacity,
                    seats_left: r.capacity.saturating_sub(r.seats_taken),
                })
                .collect(),
            subjects: p
                .subjects
                .iter()
                .map(|s| SubjectView {
                    id: s.id.to_string(),
                    code: s.offer.code.clone(),
                    name: s.offer.name.clone(),
                    specialties: s.offer.specialties.clone(),
                    exam_starts_at: s.exam_starts_at,
                    exam_ends_at: s.exam_ends_at,
                })
                .collect(),
            exam_types: p
                .exam_types
                .iter()
                .map(|e| ExamTypeView {
                    id: e.id.to_string(),
                    code: e.code.clone(),
                    name: e.name.clone(),
                    subject_codes: e.rule.subject_codes.clone(),
                    min_subjects: e.rule.min_subjects,
                    max_subjects: e.rule.max_subjects,
                    prices: e
                        .prices
                        .iter()
                        .map(|(n, price)| PriceView {
                            subjects: *n,
                            fee_fen: price.fen(),
                            fee_yuan: price.to_yuan_string(),
                        })
                        .collect(),
                })
                .collect(),
            venues: p
                .venues
                .iter()
                .map(|v| VenueView {
                    id: v.id.to_string(),
                    name: v.name.clone(),
                    address: v.address.clone(),
                    region_id: v.region.map(|r| r.to_string()),
                    needs_position: v.geofence.is_some(),
                })
                .collect(),
        }
    }
}

/// Periods whose registration is open now or opens later.
#[utoipa::path(
    get,
    path = "/api/v1/periods",
    tag = "periods",
    responses((status = 200, body = Vec<PeriodView>))
)]
pub async fn list(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let now = Utc::now();
    let periods = state.db(move |conn| periods::open_periods(conn, now)).await?;
    Ok(HttpResponse::Ok().json(periods.iter().map(|p| PeriodView::new(p, now)).collect::<Vec<_>>()))
}

/// One period.
#[utoipa::path(
    get,
    path = "/api/v1/periods/{id}",
    tag = "periods",
    params(("id" = String, Path, description = "period id")),
    responses((status = 200, body = PeriodView), (status = 404, body = ErrorBody))
)]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: PeriodId = path_id(&id)?;
    let period = state.db(move |conn| periods::detail(conn, id)).await?;
    // A closed period is gone for participants.
    if period.closed {
        return Err(ApiError::not_found());
    }
    Ok(HttpResponse::Ok().json(PeriodView::new(&period, Utc::now())))
}

/// A choice to price.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// Exam type id.
    pub exam_type_id: String,
    /// Subjects with specialties.
    pub subjects: Vec<SubjectChoiceBody>,
}

/// A subject as chosen.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectChoiceBody {
    /// Subject code.
    pub code: String,
    /// Specialty, for subjects that have them.
    pub specialty: Option<String>,
}

impl From<SubjectChoiceBody> for SubjectChoice {
    fn from(b: SubjectChoiceBody) -> Self {
        SubjectChoice { code: b.code, specialty: b.specialty }
    }
}

/// The fee of a choice.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuoteResponse {
    /// Fee in fen.
    pub fee_fen: i64,
    /// Fee in yuan.
    pub fee_yuan: String,
}

/// The fee of a choice of exam type and subjects (checked like a registration would be).
#[utoipa::path(
    post,
    path = "/api/v1/periods/{id}/quote",
    tag = "periods",
    params(("id" = String, Path, description = "period id")),
    request_body = QuoteRequest,
    responses(
        (status = 200, body = QuoteResponse),
        (status = 404, body = ErrorBody),
        (status = 422, description = "exam type or subjects not offered", body = ErrorBody)
    )
)]
pub async fn quote(
    state: web::Data<AppState>,
    id: web::Path<String>,
    body: web::Json<QuoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let period: PeriodId = path_id(&id)?;
    let body = body.into_inner();
    let exam_type = ExamTypeId::parse(&body.exam_type_id)
        .map_err(|_| ApiError::field("exam_type_id", "invalid_choice", "考试类型不存在"))?;
    let subjects: Vec<SubjectChoice> = body.subjects.into_iter().map(Into::into).collect();
    let fee = state
        .db(move |conn| {
            if periods::detail(conn, period)?.closed {
                return Err(ApiError::not_found());
            }
            periods::quote(conn, period, exam_type, &subjects).map_err(ApiError::from)
        })
        .await?
        .map_err(|choice| {
            ApiError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_choice",
                choice.to_string(),
            )
        })?;
    Ok(HttpResponse::Ok()
        .json(QuoteResponse { fee_fen: fee.fen(), fee_yuan: fee.to_yuan_string() }))
}
