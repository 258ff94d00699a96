//! Check-in at the venue (扫码报到): the participant scans the venue's QR code in the
//! mini-program (`wx.scanCode({onlyFromCamera: true})`) and posts what it read, with the
//! phone's position when the venue has a geofence. docs/checkin.md has the page's side.

use actix_web::{HttpRequest, HttpResponse, web};
use baoming_domain::checkin::Position;
use baoming_domain::ids::RegistrationId;
use baoming_store::checkin::{self, CheckedIn, Scan};
use baoming_store::registrations::{self, Ctx, Who};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::path_id;
use super::views::{RegistrationView, one_view};
use crate::auth::CurrentParticipant;
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::Action;
use crate::state::AppState;

/// What the mini-program read off the venue's QR code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInBody {
    /// The text of the scanned code (`res.result` of `wx.scanCode`; for a mini-program code,
    /// its `scene`).
    pub code: String,
    /// The phone's latitude (GCJ-02, `wx.getLocation({type: 'gcj02'})`): needed at a venue
    /// with a geofence (`needs_position` in the period's venues).
    pub latitude: Option<f64>,
    /// The phone's longitude (GCJ-02).
    pub longitude: Option<f64>,
}

/// The answer to a check-in.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInAnswer {
    /// It was checked in before: nothing changed.
    pub already_checked_in: bool,
    /// What to show (报到成功 / 您已报到).
    pub message: String,
    /// The registration now (已报到).
    pub registration: RegistrationView,
}

/// Answers a check-in with the registration's view.
pub(crate) fn answer(
    conn: &mut baoming_store::DbConnection,
    state_periods: &crate::period_cache::PeriodCache,
    done: CheckedIn,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CheckInAnswer, ApiError> {
    let message = if done.already { "您已报到，无需重复扫码" } else { "报到成功" };
    Ok(CheckInAnswer {
        already_checked_in: done.already,
        message: message.into(),
        registration: one_view(conn, state_periods, done.registration, now)?,
    })
}

/// Checks in by the venue's code (扫码报到): a paid registration (or one whose refund was
/// refused) inside the period's check-in window, with a current code of a venue of the
/// registration's region, from inside its geofence → 已报到. Checked in before: 200 with
/// `already_checked_in` and nothing changed.
#[utoipa::path(
    post,
    path = "/api/v1/registrations/{id}/check-in",
    tag = "check-in",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    request_body = CheckInBody,
    responses(
        (status = 200, body = CheckInAnswer),
        (status = 400, description = "a malformed position", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not paid, a refund requested, outside the check-in window", body = ErrorBody),
        (status = 422, description = "the code: not a venue code, expired, another region's venue, outside the venue's area, no position", body = ErrorBody),
        (status = 429, description = "too many calls: `rate_limited`, see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn check_in(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentParticipant,
    id: web::Path<String>,
    body: web::Json<CheckInBody>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    state.limits.check(Action::CheckIn, Some(&me.id), &req)?;
    let body = body.into_inner();
    let position = match (body.latitude, body.longitude) {
        (Some(lat), Some(lon)) => Some(Position::new(lat, lon).map_err(|e| {
            ApiError::bad_request("bad_position", format!("位置信息不正确（{e}）"))
        })?),
        (None, None) => None,
        _ => return Err(ApiError::bad_request("bad_position", "请同时提供纬度和经度")),
    };
    let scan = Scan { code: body.code, position };
    let now = state.now();
    let ctx = Ctx { who: Who::Participant(me.id), now, request_id: Some(me.request_id.clone()) };
    let cache = state.periods.clone();
    let answer = state
        .write(move |conn| {
            let current = registrations::get_for_participant(conn, id, me.id)?;
            let period = cache.get(conn, current.period)?;
            let done = checkin::check_in_with_code(conn, &period, current, &scan, &ctx)
                .map_err(|e| crate::error::checkin_error(e, &period.schedule))?;
            answer(conn, &cache, done, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(answer))
}
