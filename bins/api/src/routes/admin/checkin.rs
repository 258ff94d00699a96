//! Check-in staff (role `checkin`, or admin): the venue display's rotating code, checking a
//! person in by hand after finding them, and the live counts.

// utoipa's `IntoParams` expansion names the query types by path.
#![allow(unused_qualifications)]

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use baoming_checkin::qr;
use baoming_domain::checkin::DisplayedCode;
use baoming_domain::ids::{PeriodId, RegistrationId, TypedId, VenueId};
use baoming_store::checkin::{self, Candidate, Count};
use baoming_store::periods::{self, PeriodDetail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{ADMINS, CHECKIN};
use crate::error::{ApiError, ErrorBody};
use crate::routes::checkin::{CheckInAnswer, answer};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

/// The venue's code now, for the display at the venue (it polls; the code turns every
/// `slice_secs`).
#[derive(Debug, Serialize, ToSchema)]
pub struct VenueCodeView {
    /// The venue.
    pub venue_id: String,
    /// Its name (large on the display).
    pub venue_name: String,
    /// Its number in the period.
    pub venue_number: u16,
    /// The code: what the QR code holds (≤ 32 characters of `[A-Za-z0-9_-]`, so it also fits
    /// a mini-program code's `scene`).
    pub code: String,
    /// The QR code as SVG (quiet zone included).
    pub svg: String,
    /// Seconds until the next code (fetch again then).
    pub seconds_until_turn: u32,
    /// When the next code starts.
    pub turns_at: DateTime<Utc>,
    /// The code is accepted until (the end of the next slice).
    pub valid_until: DateTime<Utc>,
    /// How long a code is shown.
    pub slice_secs: u32,
    /// The server's time (the display shows it; a screen with a wrong clock still shows the
    /// right code, as the server derives it).
    pub server_time: DateTime<Utc>,
}

/// The venue and its period, for staff who may see it.
async fn venue_and_period(
    state: &AppState,
    venue: VenueId,
) -> Result<std::sync::Arc<PeriodDetail>, ApiError> {
    let cache = state.periods.clone();
    state
        .db(move |conn| {
            let period = periods::venue_period(conn, venue)?;
            Ok::<_, ApiError>(cache.get(conn, period)?)
        })
        .await
}

fn displayed(
    period: &PeriodDetail,
    venue: VenueId,
    now: DateTime<Utc>,
) -> Result<(DisplayedCode, String), ApiError> {
    let v = period.venue(venue).ok_or_else(ApiError::not_found)?;
    let shown = period.checkin_key().rotating(v.number, now).map_err(|e| ApiError::internal(&e))?;
    Ok((shown, v.name.clone()))
}

/// The venue's current check-in code, with its QR code as SVG and the seconds until it turns
/// (the venue display polls this).
#[utoipa::path(
    get,
    path = "/api/v1/admin/venues/{id}/code",
    tag = "check-in",
    params(("id" = String, Path, description = "venue id")),
    responses(
        (status = 200, body = VenueCodeView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: checkin, admin."
)]
pub async fn venue_code(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(CHECKIN)?;
    let venue: VenueId = path_id(&id)?;
    let period = venue_and_period(&state, venue).await?;
    let now = state.now();
    let (shown, venue_name) = displayed(&period, venue, now)?;
    let svg = qr::svg(&shown.token, qr::Ecc::Medium).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(VenueCodeView {
        venue_id: venue.to_string(),
        venue_name,
        venue_number: shown.venue.get(),
        code: shown.token,
        svg,
        seconds_until_turn: shown.seconds_until_turn,
        turns_at: shown.turns_at,
        valid_until: shown.expires_at,
        slice_secs: period.checkin_slice.secs(),
        server_time: now,
    }))
}

/// Image options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PngQuery {
    /// Pixels per QR module (1–40, default 12).
    pub scale: Option<u32>,
}

/// The venue's current code as a PNG QR code (a display that shows an image).
#[utoipa::path(
    get,
    path = "/api/v1/admin/venues/{id}/code.png",
    tag = "check-in",
    params(("id" = String, Path, description = "venue id"), PngQuery),
    responses(
        (status = 200, content_type = "image/png", body = crate::openapi::Binary),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: checkin, admin."
)]
pub async fn venue_code_png(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    query: web::Query<PngQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(CHECKIN)?;
    let venue: VenueId = path_id(&id)?;
    let scale = query.scale.unwrap_or(12);
    if !(1..=40).contains(&scale) {
        return Err(ApiError::bad_request("bad_scale", "scale 应在 1 到 40 之间"));
    }
    let period = venue_and_period(&state, venue).await?;
    let (shown, _) = displayed(&period, venue, state.now())?;
    let png = qr::png(&shown.token, qr::Ecc::Medium, scale).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/png"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Seconds-Until-Turn", shown.seconds_until_turn.to_string()))
        .body(png))
}

/// The venue's current code as an SVG QR code.
#[utoipa::path(
    get,
    path = "/api/v1/admin/venues/{id}/code.svg",
    tag = "check-in",
    params(("id" = String, Path, description = "venue id")),
    responses(
        (status = 200, content_type = "image/svg+xml", body = String),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: checkin, admin."
)]
pub async fn venue_code_svg(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(CHECKIN)?;
    let venue: VenueId = path_id(&id)?;
    let period = venue_and_period(&state, venue).await?;
    let (shown, _) = displayed(&period, venue, state.now())?;
    let svg = qr::svg(&shown.token, qr::Ecc::Medium).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header(("X-Seconds-Until-Turn", shown.seconds_until_turn.to_string()))
        .body(svg))
}

/// A venue's printed fallback code.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaticCodeView {
    /// The venue.
    pub venue_id: String,
    /// Its name.
    pub venue_name: String,
    /// Whether check-ins with it are accepted now (the venue's `static_code` setting).
    pub enabled: bool,
    /// The code (it never changes; a new period secret would be needed to revoke it).
    pub code: String,
    /// Its QR code as SVG, to print.
    pub svg: String,
}

/// The venue's printed static code (a fallback for when the display fails; accepted only
/// while the venue's `static_code` setting is on, and recorded as `static`).
#[utoipa::path(
    get,
    path = "/api/v1/admin/venues/{id}/static-code",
    tag = "check-in",
    params(("id" = String, Path, description = "venue id")),
    responses(
        (status = 200, body = StaticCodeView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn static_code(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(ADMINS)?;
    let venue: VenueId = path_id(&id)?;
    let period = venue_and_period(&state, venue).await?;
    let v = period.venue(venue).ok_or_else(ApiError::not_found)?;
    let code = period.checkin_key().static_code(v.number);
    let svg = qr::svg(&code, qr::Ecc::Quartile).map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().json(StaticCodeView {
        venue_id: venue.to_string(),
        venue_name: v.name.clone(),
        enabled: v.static_code,
        code,
        svg,
    }))
}

/// Counts of one region or venue.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountView {
    /// Who may check in or has (paid, refund refused, checked in).
    pub expected: u64,
    /// Checked in.
    pub checked_in: u64,
    /// Expected and not checked in yet.
    pub not_yet: u64,
    /// Of those checked in: with the printed static code.
    pub by_static_code: u64,
    /// Of those checked in: by staff.
    pub by_staff: u64,
}

impl From<&Count> for CountView {
    fn from(c: &Count) -> Self {
        CountView {
            expected: c.expected,
            checked_in: c.checked_in,
            not_yet: c.not_yet(),
            by_static_code: c.by_static_code,
            by_staff: c.by_staff,
        }
    }
}

/// A region's counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegionCountView {
    /// Region id.
    pub region_id: String,
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Counts.
    #[serde(flatten)]
    pub count: CountView,
}

/// A venue's counts: its region's expected (every region's for a venue that serves all), and
/// who checked in there.
#[derive(Debug, Serialize, ToSchema)]
pub struct VenueCountView {
    /// Venue id.
    pub venue_id: String,
    /// Name.
    pub name: String,
    /// Counts.
    #[serde(flatten)]
    pub count: CountView,
}

/// The live check-in counts of a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct CountsView {
    /// The period.
    pub period_id: String,
    /// The whole period.
    pub total: CountView,
    /// Per region.
    pub regions: Vec<RegionCountView>,
    /// Per venue.
    pub venues: Vec<VenueCountView>,
    /// When counted.
    pub counted_at: DateTime<Utc>,
}

/// Live check-in counts per region and venue (expected, checked in, not yet), as they are now
/// (the display and the desk poll it).
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods/{id}/check-in/counts",
    tag = "check-in",
    params(("id" = String, Path, description = "period id")),
    responses(
        (status = 200, body = CountsView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: checkin, admin."
)]
pub async fn counts(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(CHECKIN)?;
    let period: PeriodId = path_id(&id)?;
    let cache = state.periods.clone();
    let (detail, counts) = state
        .db(move |conn| {
            let detail = cache.get(conn, period)?;
            let counts = checkin::counts(conn, &detail)?;
            Ok::<_, ApiError>((detail, counts))
        })
        .await?;
    let regions = counts
        .regions
        .iter()
        .filter_map(|(id, count)| {
            let region = detail.regions.iter().find(|r| r.id == *id)?;
            Some(RegionCountView {
                region_id: id.to_string(),
                code: region.code.clone(),
                name: region.name.clone(),
                count: count.into(),
            })
        })
        .collect();
    let venues = counts
        .venues
        .iter()
        .filter_map(|(id, count)| {
            let venue = detail.venue(*id)?;
            Some(VenueCountView {
                venue_id: id.to_string(),
                name: venue.name.clone(),
                count: count.into(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(CountsView {
        period_id: period.to_string(),
        total: (&counts.total).into(),
        regions,
        venues,
        counted_at: state.now(),
    }))
}

/// Whom to find.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// A name (or part of it), a phone number, or the last characters of the ID number.
    pub q: String,
}

/// A person found at the desk.
#[derive(Debug, Serialize, ToSchema)]
pub struct CandidateView {
    /// Registration id (check in with it).
    pub registration_id: String,
    /// Region id.
    pub region_id: String,
    /// State code.
    pub state: String,
    /// State, as the participant reads it.
    pub state_label: String,
    /// Name.
    pub name: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// The ID number's last characters (`****002X`).
    pub id_number_tail: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// When checked in, if so.
    pub checked_in_at: Option<DateTime<Utc>>,
    /// How (`rotating`, `static`, `staff`), if checked in.
    pub proof: Option<String>,
}

impl From<Candidate> for CandidateView {
    fn from(c: Candidate) -> Self {
        CandidateView {
            registration_id: c.registration.to_string(),
            region_id: c.region.to_string(),
            state: c.state.as_str().into(),
            state_label: c.state.label_zh().into(),
            name: c.name,
            phone: c.phone,
            id_number_tail: c.id_tail.map(|t| format!("****{t}")),
            employer: c.employer,
            checked_in_at: c.checked_in_at,
            proof: c.proof.map(|p| p.as_str().into()),
        }
    }
}

/// Finds people of a period at the check-in desk: by name (contains), phone, or the last
/// characters of the ID number (at most 50; paid, refund refused or requested, checked in).
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods/{id}/check-in/search",
    tag = "check-in",
    params(("id" = String, Path, description = "period id"), SearchQuery),
    responses(
        (status = 200, body = Vec<CandidateView>),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: checkin, admin."
)]
pub async fn search(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    query: web::Query<SearchQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(CHECKIN)?;
    let period: PeriodId = path_id(&id)?;
    let q = query.into_inner().q;
    if q.trim().chars().count() > 50 {
        return Err(ApiError::bad_request("bad_query", "查询内容过长"));
    }
    let found = state
        .db(move |conn| {
            periods::schedule(conn, period)?;
            checkin::search(conn, period, &q, 50)
        })
        .await?;
    Ok(HttpResponse::Ok().json(found.into_iter().map(CandidateView::from).collect::<Vec<_>>()))
}

/// Staff's check-in.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffCheckInBody {
    /// The venue where the person is checked in (a venue of the registration's period).
    pub venue_id: Option<String>,
}

/// Checks a person in by hand (`proof = staff`, audited): a paid registration (or one whose
/// refund was refused) inside the check-in window. Checked in before: 200 with
/// `already_checked_in` and nothing changed.
#[utoipa::path(
    post,
    path = "/api/v1/admin/registrations/{id}/check-in",
    tag = "check-in",
    params(("id" = String, Path, description = "registration id")),
    request_body = StaffCheckInBody,
    responses(
        (status = 200, body = CheckInAnswer),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not paid, a refund requested, outside the check-in window", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    description = "Roles: checkin, admin."
)]
pub async fn check_in(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: Option<web::Json<StaffCheckInBody>>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(CHECKIN)?;
    let id: RegistrationId = path_id(&id)?;
    let venue = match body.and_then(|b| b.into_inner().venue_id) {
        Some(raw) => Some(
            VenueId::parse(&raw)
                .map_err(|_| ApiError::field("venue_id", "invalid_id", "考点编号不正确"))?,
        ),
        None => None,
    };
    let now = state.now();
    let ctx = baoming_store::registrations::Ctx { now, ..me.ctx(role) };
    let actor = me.audit_actor(role);
    let cache = state.periods.clone();
    let answer = state
        .write(move |conn| {
            let registration = baoming_store::registrations::get(conn, id)?;
            let period = cache.get(conn, registration.period)?;
            let done =
                checkin::check_in_by_staff(conn, id, venue, &ctx, &actor).map_err(|e| match e {
                    checkin::CheckinError::Store(baoming_store::StoreError::NotFound {
                        entity: "venue",
                    }) => ApiError::field("venue_id", "unknown_venue", "该考点不属于本期次"),
                    other => crate::error::checkin_error(other, &period.schedule),
                })?;
            answer(conn, &cache, done, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
