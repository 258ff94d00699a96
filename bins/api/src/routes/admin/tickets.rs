//! Admission tickets in the back office: the period's ticket settings, seat assignment (a dry
//! run, then the commit with its seed recorded and audited), publication, the list of tickets
//! and of those that failed to render, the seat plan as .xlsx (admin), and each room's sign-in
//! sheet (考场签到表) as PDF (admin and check-in staff).

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use baoming_domain::ids::{PeriodId, RegistrationId, VenueId};
use baoming_exports::seat_plan::{SeatPlanRow, SeatPlanWriter};
use baoming_runtime::tickets::{blank_photo, room_sheet, spell_out};
use baoming_store::audit;
use baoming_store::tickets::{
    self, AssignOptions, RenderState, RoomLayout, Seats, SettingsChange, Ticket, TicketPlan, Unmet,
};
use baoming_tickets::{NumberScheme, RenderError, SheetRow, render_room_sheet_pdf};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ADMINS, CHECKIN};
use crate::error::{ApiError, ErrorBody};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

// ---------------------------------------------------------------------------------------------
// Settings

/// A venue's rooms.
#[derive(Debug, Serialize, ToSchema)]
pub struct VenueRoomsView {
    /// The venue.
    pub venue_id: String,
    /// Its number (the site of ticket numbers).
    pub number: u32,
    /// Name.
    pub name: String,
    /// Seats per room (default 30).
    pub room_capacity: u32,
    /// Seats per row (default 5).
    pub room_columns: u32,
}

/// A period's ticket settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketSettingsView {
    /// The period.
    pub period_id: String,
    /// The ticket-number pattern (default `{yy}{region:2}{site:2}{room:2}{seat:2}`; see
    /// docs/tickets.md).
    pub number_scheme: String,
    /// When the tickets were published (null: not yet).
    pub published_at: Option<DateTime<Utc>>,
    /// The venues' rooms.
    pub venues: Vec<VenueRoomsView>,
}

impl From<tickets::Settings> for TicketSettingsView {
    fn from(s: tickets::Settings) -> Self {
        TicketSettingsView {
            period_id: s.period.to_string(),
            number_scheme: s.scheme.pattern().to_owned(),
            published_at: s.published_at,
            venues: s
                .venues
                .into_iter()
                .map(|v| VenueRoomsView {
                    venue_id: v.venue.to_string(),
                    number: v.number,
                    name: v.name,
                    room_capacity: v.layout.capacity(),
                    room_columns: v.layout.columns(),
                })
                .collect(),
        }
    }
}

/// A venue's room layout to set.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VenueRoomsBody {
    /// The venue (of this period).
    pub venue_id: String,
    /// Seats per room (1–999).
    pub room_capacity: u32,
    /// Seats per row (1–999).
    pub room_columns: u32,
}

/// A change of the ticket settings (what is left out stays).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketSettingsBody {
    /// A new ticket-number pattern.
    pub number_scheme: Option<String>,
    /// New room layouts.
    #[serde(default)]
    pub venues: Vec<VenueRoomsBody>,
}

/// The period's ticket settings: the number scheme, whether published, each venue's rooms.
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods/{id}/tickets/settings",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    responses(
        (status = 200, body = TicketSettingsView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn settings(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(ADMINS)?;
    let period: PeriodId = path_id(&id)?;
    let settings = state.db(move |conn| tickets::settings(conn, period)).await?;
    Ok(HttpResponse::Ok().json(TicketSettingsView::from(settings)))
}

/// Changes the ticket settings (audited). Refused once the tickets are published. Existing
/// tickets keep their numbers and rooms: a new number scheme applies to a forced
/// re-assignment, a new room layout to rooms planned from now on.
#[utoipa::path(
    put,
    path = "/api/v1/admin/periods/{id}/tickets/settings",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    request_body = TicketSettingsBody,
    responses(
        (status = 200, body = TicketSettingsView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "tickets_published", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn update_settings(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<TicketSettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let period: PeriodId = path_id(&id)?;
    let body = body.into_inner();
    let scheme = body
        .number_scheme
        .as_deref()
        .map(|p| {
            NumberScheme::parse(p.trim())
                .map_err(|e| ApiError::field("number_scheme", e.code(), e.to_string()))
        })
        .transpose()?;
    let mut rooms = Vec::with_capacity(body.venues.len());
    for (i, v) in body.venues.iter().enumerate() {
        let venue: VenueId = v.venue_id.parse().map_err(|_| {
            ApiError::field(&format!("venues[{i}].venue_id"), "invalid_id", "考点编号不正确")
        })?;
        let layout = RoomLayout::new(v.room_capacity, v.room_columns).map_err(|e| {
            ApiError::field(&format!("venues[{i}].room_capacity"), e.code(), e.to_string())
        })?;
        rooms.push((venue, layout));
    }
    let change = SettingsChange { scheme, rooms };
    let (actor, now) = (me.audit_actor(role), state.now());
    let settings =
        state.db(move |conn| tickets::update_settings(conn, period, &change, &actor, now)).await?;
    Ok(HttpResponse::Ok().json(TicketSettingsView::from(settings)))
}

// ---------------------------------------------------------------------------------------------
// Planning and assigning

/// How to assign seats.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignBody {
    /// The plan's seed, a decimal 64-bit number as a string (a dry run's `seed`, to commit the
    /// plan it showed); omitted: a random one.
    pub seed: Option<String>,
    /// Re-plan everybody and replace the period's tickets (refused once published). Without
    /// it, existing tickets stay and only registrations without one are seated.
    #[serde(default)]
    pub force: bool,
    /// Rooms to open at each site beyond the minimum (0–50; more rooms keep employers further
    /// apart).
    #[serde(default)]
    pub extra_rooms: u32,
}

/// One seat of a room's map.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatView {
    /// Seat number.
    pub seat: u32,
    /// Ticket number.
    pub ticket_number: String,
    /// The registration.
    pub registration_id: String,
    /// The participant's name.
    pub name: Option<String>,
    /// An existing ticket that stays.
    pub kept: bool,
}

/// A room of the plan with its seat map.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomView {
    /// The venue.
    pub venue_id: String,
    /// Its name.
    pub venue_name: String,
    /// Site (the venue's number).
    pub site: u32,
    /// Room.
    pub room: u32,
    /// Seats in the room.
    pub capacity: u32,
    /// Seats per row.
    pub columns: u32,
    /// Seats taken.
    pub occupied: u32,
    /// A room of existing tickets.
    pub kept: bool,
    /// The seat map: one array per row (front first), one entry per column; null for an empty
    /// seat.
    pub rows: Vec<Vec<Option<SeatView>>>,
}

/// A constraint the plan does not meet.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnmetView {
    /// `same_room` (several people of one employer in a room: more of them than rooms) or
    /// `adjacent` (two of one employer side by side or one behind the other).
    pub kind: String,
    /// Site.
    pub site: u32,
    /// Room.
    pub room: u32,
    /// The employer.
    pub employer: String,
    /// The registrations concerned.
    pub registration_ids: Vec<String>,
    /// The two seats (`adjacent`).
    pub seats: Option<[u32; 2]>,
    /// What it means, for staff.
    pub message: String,
}

/// A seat plan: a dry run's proposal or what a commit wrote.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanView {
    /// The period.
    pub period_id: String,
    /// Whether it was written (a commit) or only shown (a dry run).
    pub committed: bool,
    /// The seed of the new seats (decimal; commit with it to write this very plan).
    pub seed: String,
    /// The seating algorithm's version.
    pub algorithm: u32,
    /// The number scheme.
    pub number_scheme: String,
    /// Tickets after the commit.
    pub tickets: usize,
    /// Existing tickets kept.
    pub kept: usize,
    /// New tickets.
    pub created: usize,
    /// Existing tickets replaced (force).
    pub replaced: usize,
    /// Rooms with their seat maps.
    pub rooms: Vec<RoomView>,
    /// Constraints not met (empty: all met).
    pub unmet: Vec<UnmetView>,
}

fn parse_assign(body: Option<web::Json<AssignBody>>) -> Result<AssignOptions, ApiError> {
    assign_options(body.map(web::Json::into_inner).unwrap_or_default())
}

/// The assignment's options from the JSON body or the console's form.
pub(crate) fn assign_options(body: AssignBody) -> Result<AssignOptions, ApiError> {
    let seed = match body.seed.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => text.parse::<u64>().map_err(|_| {
            ApiError::field("seed", "invalid_seed", "随机种子应为十进制整数（字符串）")
        })?,
        None => {
            let mut bytes = [0u8; 8];
            getrandom::fill(&mut bytes).map_err(|e| ApiError::internal(&e))?;
            u64::from_le_bytes(bytes)
        }
    };
    if body.extra_rooms > 50 {
        return Err(ApiError::field("extra_rooms", "invalid", "额外考场数应在 0 到 50 之间"));
    }
    Ok(AssignOptions { seed, force: body.force, extra_rooms: body.extra_rooms })
}

fn unmet_view(u: &Unmet) -> UnmetView {
    match u {
        Unmet::SameRoom { site, room, employer, keys } => UnmetView {
            kind: "same_room".into(),
            site: *site,
            room: *room,
            employer: employer.clone(),
            registration_ids: keys.clone(),
            seats: None,
            message: format!(
                "同一单位（{employer}）有 {} 人在第 {site} 考点第 {room} 考场（该单位人数多于考场数）",
                keys.len()
            ),
        },
        Unmet::Adjacent { site, room, employer, seats, keys } => UnmetView {
            kind: "adjacent".into(),
            site: *site,
            room: *room,
            employer: employer.clone(),
            registration_ids: vec![keys.0.clone(), keys.1.clone()],
            seats: Some([seats.0, seats.1]),
            message: format!(
                "同一单位（{employer}）的两人座位相邻：第 {site} 考点第 {room} 考场 {} 号与 {} 号",
                seats.0, seats.1
            ),
        },
    }
}

fn plan_view(
    plan: &TicketPlan,
    committed: bool,
    venue_names: &HashMap<VenueId, String>,
    names: &HashMap<RegistrationId, Option<String>>,
) -> PlanView {
    let rooms = plan
        .rooms
        .iter()
        .map(|room| {
            let columns = room.layout.columns();
            let mut rows: Vec<Vec<Option<SeatView>>> = (0..room.layout.rows())
                .map(|r| {
                    let in_row = (room.layout.capacity() - r * columns).min(columns);
                    (0..in_row).map(|_| None).collect()
                })
                .collect();
            for t in plan.tickets.iter().filter(|t| t.site == room.site && t.room == room.room) {
                let (r, c) = (t.row as usize - 1, t.column as usize - 1);
                if let Some(cell) = rows.get_mut(r).and_then(|row| row.get_mut(c)) {
                    *cell = Some(SeatView {
                        seat: t.seat,
                        ticket_number: t.number.clone(),
                        registration_id: t.registration.to_string(),
                        name: names.get(&t.registration).cloned().flatten(),
                        kept: t.kept,
                    });
                }
            }
            RoomView {
                venue_id: room.venue.to_string(),
                venue_name: venue_names.get(&room.venue).cloned().unwrap_or_default(),
                site: room.site,
                room: room.room,
                capacity: room.layout.capacity(),
                columns,
                occupied: room.occupied,
                kept: room.kept,
                rows,
            }
        })
        .collect();
    PlanView {
        period_id: plan.period.to_string(),
        committed,
        seed: plan.seed.to_string(),
        algorithm: plan.algorithm,
        number_scheme: plan.scheme.clone(),
        tickets: plan.tickets.len(),
        kept: plan.kept,
        created: plan.created,
        replaced: plan.replaced,
        rooms,
        unmet: plan.unmet.iter().map(unmet_view).collect(),
    }
}

/// Plans (dry run) or commits, and answers the plan's view.
async fn plan_or_assign(
    state: &AppState,
    me: &CurrentStaff,
    raw: &str,
    body: Option<web::Json<AssignBody>>,
    commit: bool,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let period: PeriodId = path_id(raw)?;
    let options = parse_assign(body)?;
    let view = plan_in(state, period, options, commit.then(|| (me.audit_actor(role), state.now())))
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// A dry run (`commit` is `None`) or a commit by `actor` at a time: the plan's view (the JSON
/// route's and the console's).
pub(crate) async fn plan_in(
    state: &AppState,
    period: PeriodId,
    options: AssignOptions,
    commit: Option<(audit::Actor, DateTime<Utc>)>,
) -> Result<PlanView, ApiError> {
    let cache = state.periods.clone();
    state
        .db(move |conn| {
            let committed = commit.is_some();
            let plan = match &commit {
                Some((actor, now)) => tickets::assign(conn, period, &options, actor, *now)?,
                None => tickets::plan(conn, period, &options)?,
            };
            let detail = cache.get(conn, period)?;
            let venue_names = detail.venues.iter().map(|v| (v.id, v.name.clone())).collect();
            let ids: Vec<RegistrationId> = plan.tickets.iter().map(|t| t.registration).collect();
            let names = tickets::names_of(conn, &ids)?;
            Ok::<_, ApiError>(plan_view(&plan, committed, &venue_names, &names))
        })
        .await
}

/// A dry run of the seat assignment: the rooms with their seat maps, each ticket's number
/// and the constraints the plan does not meet, for the period's checked-in registrations
/// (existing tickets stay unless `force`). Nothing is written; commit with the answer's
/// `seed` to write this plan.
#[utoipa::path(
    post,
    path = "/api/v1/admin/periods/{id}/tickets/plan",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    request_body = AssignBody,
    responses(
        (status = 200, body = PlanView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "tickets_published (force), ticket_scheme_changed", body = ErrorBody),
        (status = 422, description = "a bad seed, a region without a venue, a number that does not fit the scheme", body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn plan(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: Option<web::Json<AssignBody>>,
) -> Result<HttpResponse, ApiError> {
    plan_or_assign(&state, &me, &id, body, false).await
}

/// Commits a seat assignment: the plan of the dry run with the same seed (and the same
/// checked-in registrations), written with its seed and audited (`ticket_assign`). Existing
/// tickets stay unless `force` (refused once published); after publication the new tickets
/// are rendered by the worker and their participants told.
#[utoipa::path(
    post,
    path = "/api/v1/admin/periods/{id}/tickets/assign",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    request_body = AssignBody,
    responses(
        (status = 200, body = PlanView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "tickets_published (force), ticket_scheme_changed, duplicate", body = ErrorBody),
        (status = 422, body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn assign(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: Option<web::Json<AssignBody>>,
) -> Result<HttpResponse, ApiError> {
    plan_or_assign(&state, &me, &id, body, true).await
}

/// What publishing did.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublishView {
    /// The period.
    pub period_id: String,
    /// When the tickets were published.
    pub published_at: DateTime<Utc>,
    /// They had been published before: nothing changed.
    pub already: bool,
    /// Tickets of the period.
    pub tickets: usize,
    /// Render jobs enqueued.
    pub render_jobs: usize,
}

/// Publishes the period's tickets (audited): participants see them from now on, and the
/// worker renders them (PNG and PDF) and tells each participant by a subscribe message.
/// Published before: 200 with `already` and nothing changed.
#[utoipa::path(
    post,
    path = "/api/v1/admin/periods/{id}/tickets/publish",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    responses(
        (status = 200, body = PublishView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "tickets_not_assigned", body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn publish(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let period: PeriodId = path_id(&id)?;
    let (actor, now) = (me.audit_actor(role), state.now());
    let done = state.db(move |conn| tickets::publish(conn, period, &actor, now)).await?;
    Ok(HttpResponse::Ok().json(PublishView {
        period_id: period.to_string(),
        published_at: done.at,
        already: done.already,
        tickets: done.tickets,
        render_jobs: done.jobs,
    }))
}

// ---------------------------------------------------------------------------------------------
// Lists

/// A ticket in the back office.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTicketView {
    /// The registration.
    pub registration_id: String,
    /// Ticket number.
    pub ticket_number: String,
    /// Name.
    pub name: Option<String>,
    /// The venue.
    pub venue_id: String,
    /// Site.
    pub site: u32,
    /// Room.
    pub room: u32,
    /// Seat.
    pub seat: u32,
    /// Row.
    pub row: u32,
    /// Column.
    pub column: u32,
    /// The plan's seed (decimal).
    pub seed: String,
    /// When assigned.
    pub assigned_at: DateTime<Utc>,
    /// `pending`, `rendered`, `failed`.
    pub render: String,
    /// When rendered.
    pub rendered_at: Option<DateTime<Utc>>,
    /// Why rendering failed.
    pub render_error: Option<String>,
}

pub(crate) fn admin_view(t: &Ticket, name: Option<String>) -> AdminTicketView {
    let (render, rendered_at, render_error) = match &t.render {
        RenderState::Pending => ("pending", None, None),
        RenderState::Rendered { at, .. } => ("rendered", Some(*at), None),
        RenderState::Failed(f) => ("failed", None, Some(f.message.clone())),
    };
    AdminTicketView {
        registration_id: t.registration.to_string(),
        ticket_number: t.number.clone(),
        name,
        venue_id: t.venue.to_string(),
        site: t.site,
        room: t.room,
        seat: t.seat,
        row: t.row,
        column: t.column,
        seed: t.seed.to_string(),
        assigned_at: t.assigned_at,
        render: render.into(),
        rendered_at,
        render_error,
    }
}

/// The period's tickets, by site, room and seat, with their rendering state.
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods/{id}/tickets",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    responses(
        (status = 200, body = Vec<AdminTicketView>),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: checkin, admin."
)]
pub async fn list(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(CHECKIN)?;
    let period: PeriodId = path_id(&id)?;
    let list = state
        .db(move |conn| {
            tickets::settings(conn, period)?;
            let list = tickets::list(conn, period)?;
            let ids: Vec<RegistrationId> = list.iter().map(|t| t.registration).collect();
            let names = tickets::names_of(conn, &ids)?;
            Ok::<_, ApiError>(
                list.iter()
                    .map(|t| admin_view(t, names.get(&t.registration).cloned().flatten()))
                    .collect::<Vec<_>>(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// A ticket that could not be rendered.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailedTicketView {
    /// The registration.
    pub registration_id: String,
    /// Ticket number.
    pub ticket_number: String,
    /// Name as stored.
    pub name: Option<String>,
    /// Site.
    pub site: u32,
    /// Room.
    pub room: u32,
    /// Seat.
    pub seat: u32,
    /// Stable code: `ticket_missing_glyphs`, `ticket_photo_missing`, `ticket_bad_photo`, ….
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// The characters no configured font has, each with its code point (`U+2A6D6`).
    pub missing_characters: Vec<MissingCharacter>,
    /// When.
    pub failed_at: DateTime<Utc>,
}

/// A character no configured font can draw.
#[derive(Debug, Serialize, ToSchema)]
pub struct MissingCharacter {
    /// The character.
    pub character: String,
    /// Its code point, `U+XXXX`.
    pub code_point: String,
}

/// The period's tickets that failed to render, with the reason — for a character no
/// configured font has, the characters named — so staff can fix the cause (configure a
/// fallback font, correct the name, replace the photo) and render them again.
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods/{id}/tickets/failed",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    responses(
        (status = 200, body = Vec<FailedTicketView>),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn failed(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(ADMINS)?;
    let period: PeriodId = path_id(&id)?;
    let failed = state
        .db(move |conn| {
            tickets::settings(conn, period)?;
            tickets::failed(conn, period)
        })
        .await?;
    Ok(HttpResponse::Ok().json(failed_views(failed)))
}

/// The failed tickets as staff read them.
pub(crate) fn failed_views(failed: Vec<tickets::FailedRender>) -> Vec<FailedTicketView> {
    failed
        .into_iter()
        .map(|f| FailedTicketView {
            registration_id: f.ticket.registration.to_string(),
            ticket_number: f.ticket.number.clone(),
            name: f.name,
            site: f.ticket.site,
            room: f.ticket.room,
            seat: f.ticket.seat,
            code: f.failure.code,
            message: f.failure.message,
            missing_characters: f
                .failure
                .missing
                .iter()
                .map(|c| MissingCharacter {
                    character: c.to_string(),
                    code_point: format!("U+{:04X}", u32::from(*c)),
                })
                .collect(),
            failed_at: f.failure.at,
        })
        .collect()
}

/// How many failed tickets are rendered again.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryView {
    /// Tickets whose failure was cleared (rendered again once published).
    pub tickets: usize,
}

/// Renders the period's failed tickets again, after their cause was fixed (audited).
#[utoipa::path(
    post,
    path = "/api/v1/admin/periods/{id}/tickets/retry-failed",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    responses(
        (status = 200, body = RetryView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn retry_failed(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let period: PeriodId = path_id(&id)?;
    let (actor, now) = (me.audit_actor(role), state.now());
    let tickets = state.db(move |conn| tickets::retry_failed(conn, period, &actor, now)).await?;
    Ok(HttpResponse::Ok().json(RetryView { tickets }))
}

// ---------------------------------------------------------------------------------------------
// The seat plan and the room sheets

/// The whole seat plan as an .xlsx workbook (考场编排表): one row per ticket by site, room and
/// seat, with masked ID numbers (audited as `ticket_seat_plan_export`).
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods/{id}/tickets/seat-plan.xlsx",
    tag = "tickets",
    params(("id" = String, Path, description = "period id")),
    responses(
        (status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = crate::openapi::Binary),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: admin."
)]
pub async fn seat_plan(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let period: PeriodId = path_id(&id)?;
    let (cipher, actor, now, cache) =
        (state.cipher.clone(), me.audit_actor(role), state.now(), state.periods.clone());
    let bytes = state
        .db(move |conn| {
            let detail = cache.get(conn, period)?;
            let seated = tickets::seated(conn, &cipher, Seats::Period(period))?;
            let mut writer = SeatPlanWriter::new(&format!("{} 考场编排表", detail.name))
                .map_err(|e| ApiError::internal(&e))?;
            for s in &seated {
                let t = &s.ticket;
                writer
                    .push(&SeatPlanRow {
                        site: t.site.to_string(),
                        site_name: detail
                            .venue(t.venue)
                            .map(|v| v.name.clone())
                            .unwrap_or_default(),
                        room: t.room.to_string(),
                        seat: t.seat.to_string(),
                        row: t.row.to_string(),
                        column: t.column.to_string(),
                        ticket_number: t.number.clone(),
                        name: s.name.clone().unwrap_or_default(),
                        gender: s.gender.map(|g| g.label_zh().to_owned()).unwrap_or_default(),
                        id_number: s.masked_id.clone().unwrap_or_default(),
                        employer: s.employer.clone().unwrap_or_default(),
                        region: detail
                            .regions
                            .iter()
                            .find(|r| r.id == s.region)
                            .map(|r| r.name.clone())
                            .unwrap_or_default(),
                    })
                    .map_err(|e| ApiError::internal(&e))?;
            }
            audit::record(
                conn,
                &audit::Entry {
                    actor,
                    action: "ticket_seat_plan_export".into(),
                    target_kind: Some("period".into()),
                    target_id: Some(period.to_string()),
                    summary: Some(serde_json::json!({ "rows": writer.rows() })),
                },
                now,
            )?;
            writer.finish().map_err(|e| ApiError::internal(&e))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"seat-plan-{period}.xlsx\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

/// A room's sign-in sheet (考场签到表) as an A4 PDF: seat, ticket number, name, masked ID,
/// photo and an empty signature column, 15 rows a page. A name with a character no configured
/// font has is printed with the character spelled out as `〔U+XXXX〕` (never dropped), and the
/// characters are listed in the `X-Missing-Glyphs` header.
#[utoipa::path(
    get,
    path = "/api/v1/admin/venues/{id}/rooms/{room}/sign-in-sheet.pdf",
    tag = "tickets",
    params(
        ("id" = String, Path, description = "venue id"),
        ("room" = u32, Path, description = "room number")
    ),
    responses(
        (status = 200, content_type = "application/pdf", body = crate::openapi::Binary),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, description = "no such venue, or nobody seated in the room", body = ErrorBody),
        (status = 503, description = "ticket_fonts_unavailable", body = ErrorBody)
    ),
    description = "Roles: checkin, admin."
)]
pub async fn sign_in_sheet(
    state: web::Data<AppState>,
    me: CurrentStaff,
    path: web::Path<(String, u32)>,
) -> Result<HttpResponse, ApiError> {
    me.require(CHECKIN)?;
    let (raw, room) = path.into_inner();
    let venue: VenueId = path_id(&raw)?;
    let (cipher, cache, now) = (state.cipher.clone(), state.periods.clone(), state.now());
    let (seated, period_name, site_name, published_at) = state
        .db(move |conn| {
            let period = baoming_store::periods::venue_period(conn, venue)?;
            let detail = cache.get(conn, period)?;
            let site = detail.venue(venue).ok_or_else(ApiError::not_found)?.name.clone();
            let published_at = tickets::settings(conn, period)?.published_at;
            let seated = tickets::seated(conn, &cipher, Seats::Room { venue, room })?;
            Ok::<_, ApiError>((seated, detail.name.clone(), site, published_at))
        })
        .await?;
    if seated.is_empty() {
        return Err(ApiError::not_found());
    }
    let (storage, fonts) = (state.photos.clone(), state.tickets.fonts.clone());
    let (pdf, missing) = web::block(move || {
        let fonts = fonts
            .get()
            .map_err(|e| ApiError::unavailable("ticket_fonts_unavailable", e.to_string()))?;
        let mut rows = Vec::with_capacity(seated.len());
        for s in &seated {
            let photo = match &s.photo_key {
                Some(key) => match storage.get(key) {
                    Ok(bytes) => bytes,
                    Err(baoming_photos::storage::StorageError::NotFound { .. }) => blank_photo(),
                    Err(e) => return Err(ApiError::internal(&e)),
                },
                None => blank_photo(),
            };
            rows.push(SheetRow {
                seat: s.ticket.seat,
                ticket_number: s.ticket.number.clone(),
                name: s.name.clone().unwrap_or_default(),
                masked_id: s.masked_id.clone().unwrap_or_default(),
                photo_jpeg: photo,
            });
        }
        let issued = published_at.unwrap_or(now);
        let sheet = room_sheet(&period_name, &site_name, room, rows, Some(issued));
        match render_room_sheet_pdf(&fonts, &sheet) {
            Ok(pdf) => Ok((pdf, Vec::new())),
            Err(RenderError::MissingGlyphs { chars }) => {
                let mut spelled = sheet;
                for row in &mut spelled.rows {
                    row.name = spell_out(&row.name, &chars);
                }
                spelled.site_name = spell_out(&spelled.site_name, &chars);
                spelled.title = spell_out(&spelled.title, &chars);
                let pdf = render_room_sheet_pdf(&fonts, &spelled).map_err(|e| {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())
                })?;
                Ok((pdf, chars))
            }
            Err(e) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.code(), e.to_string())),
        }
    })
    .await??;
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, "application/pdf"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"sign-in-sheet-{venue}-{room}.pdf\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if !missing.is_empty() {
        let list: Vec<String> =
            missing.iter().map(|c| format!("U+{:04X}", u32::from(*c))).collect();
        res.insert_header(("X-Missing-Glyphs", list.join(",")));
    }
    Ok(res.body(pdf))
}
