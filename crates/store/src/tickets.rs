//! Admission tickets (准考证): a period's ticket settings, seat assignment (a dry run, then a
//! commit with its seed recorded and audited), publication, the rows the worker renders and
//! what rendering made of them, and the lists staff read (per room, failed renders).
//!
//! The rules are `baoming-tickets`' ([`assign_seats`], [`NumberScheme`]); this module reads
//! the candidates, asks the crate and writes the answer. Tickets never change a registration's
//! state: a checked-in registration with a ticket stays checked in.
//!
//! # Who sits where
//!
//! The candidates are the period's `checked_in` registrations. Each sits at the venue (考点) it
//! checked in at; one checked in without a venue (by staff without one) sits at the venue
//! serving its region (a venue of that region first, else one serving every region; the
//! lowest number wins). The venue's number is the ticket number's site; its room layout
//! ([`Settings::venues`]) sizes its rooms. People of one employer are kept apart as the crate
//! documents; what it could not meet is reported ([`TicketPlan::unmet`]).
//!
//! # Re-assigning
//!
//! A commit keeps every existing ticket unless `force` is given: only registrations without a
//! ticket (late check-ins) are seated, by a plan of their own whose rooms are numbered after
//! the site's existing rooms, so nobody who has a ticket moves. `force` plans everybody afresh
//! and replaces the period's tickets; it is refused once the tickets are published. A commit
//! writes the tickets, the audit entry (seed, algorithm, scheme, counts) and — after
//! publication — the render jobs of the new tickets, in one transaction.
//!
//! # Rendering
//!
//! Publishing enqueues [`Job::RenderTickets`] per batch of [`RENDER_BATCH`] tickets. The
//! worker reads a batch's unrendered tickets ([`to_render`]), renders them outside any
//! transaction, and records the outcomes with the job's completion in one transaction
//! ([`record_renders`]): a rendered ticket is marked once (the update only matches an
//! unrendered, unfailed row) and gets its "ticket published" notice; a ticket that cannot be
//! rendered (a character no font has, an unreadable photo) keeps its error for staff
//! ([`failed`]) until [`retry_failed`] clears it and renders it again.

use std::collections::{BTreeMap, HashMap};

use baoming_domain::ids::{ParticipantId, PeriodId, RegionId, RegistrationId, VenueId};
use baoming_domain::lifecycle::State;
use baoming_domain::{Gender, IdNumber};
pub use baoming_tickets::number::{NumberError, NumberScheme, SeatFacts, TicketNumber};
pub use baoming_tickets::seating::{
    ALGORITHM_VERSION, Candidate, RoomLayout, SeatingConfig, SeatingError, Unmet, assign_seats,
};
use chrono::{DateTime, Datelike as _, FixedOffset, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::audit;
use crate::db::{DbConnection, MultiBackend, write_tx};
use crate::error::StoreError;
use crate::jobs::{self, Job};
use crate::participants;
use crate::periods::{self, PeriodDetail};
use crate::pii::PiiCipher;
use crate::schema::{participants as p, periods as pe, registrations as r, tickets as t, venues};
use crate::sql;

/// Tickets rendered by one render job.
pub const RENDER_BATCH: usize = 50;

/// Why a ticket operation was refused (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum TicketError {
    /// The period's tickets are published: they can no longer be re-planned with `force`, and
    /// the settings that made them no longer change.
    #[error("准考证已发布，不能重新编排或修改编排设置")]
    Published,
    /// Publishing a period that has no tickets.
    #[error("本期次还没有编排准考证，请先编排考场")]
    NothingAssigned,
    /// The number scheme changed since the existing tickets were numbered: a commit without
    /// `force` would mix two schemes.
    #[error("编号规则已修改，已有准考证仍按原规则编号；请选择“强制重新编排”")]
    SchemeChanged,
    /// A registration to seat has no venue: none checked in at, none serving its region.
    #[error("地区“{region}”没有考点，请先在期次中为其设置考点")]
    NoVenue {
        /// The region's name.
        region: String,
    },
    /// The number scheme does not parse, or a value does not fit it.
    #[error(transparent)]
    Number(#[from] NumberError),
    /// The seating crate refused (a bad room layout).
    #[error(transparent)]
    Seating(#[from] SeatingError),
    /// The data layer failed (or the period or a venue is not found).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl TicketError {
    /// Stable machine code (e.g. `tickets_published`).
    pub fn code(&self) -> &'static str {
        match self {
            TicketError::Published => "tickets_published",
            TicketError::NothingAssigned => "tickets_not_assigned",
            TicketError::SchemeChanged => "ticket_scheme_changed",
            TicketError::NoVenue { .. } => "ticket_no_venue",
            TicketError::Number(e) => e.code(),
            TicketError::Seating(e) => e.code(),
            TicketError::Store(_) => "store",
        }
    }
}

crate::error::wraps_store_error!(TicketError);

// ---------------------------------------------------------------------------------------------
// Settings

/// A venue's rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenueRooms {
    /// The venue.
    pub venue: VenueId,
    /// Its number in the period: the site of ticket numbers.
    pub number: u32,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
    /// The region it serves (`None`: every region).
    pub region: Option<RegionId>,
    /// Seats per room and per row.
    pub layout: RoomLayout,
}

/// A period's ticket settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The period.
    pub period: PeriodId,
    /// How ticket numbers are made.
    pub scheme: NumberScheme,
    /// When the tickets were published (`None`: not yet).
    pub published_at: Option<DateTime<Utc>>,
    /// The venues' rooms, by number.
    pub venues: Vec<VenueRooms>,
}

impl Settings {
    /// The rooms of a venue by its number.
    pub fn venue_by_number(&self, number: u32) -> Option<&VenueRooms> {
        self.venues.iter().find(|v| v.number == number)
    }

    /// The rooms of a venue.
    pub fn venue(&self, id: VenueId) -> Option<&VenueRooms> {
        self.venues.iter().find(|v| v.venue == id)
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = venues)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct VenueRoomsRow {
    id: String,
    number: i32,
    name: String,
    address: String,
    region_id: Option<String>,
    room_capacity: i32,
    room_columns: i32,
}

fn layout(capacity: i32, columns: i32) -> Result<RoomLayout, StoreError> {
    let capacity = u32::try_from(capacity).map_err(StoreError::corrupt)?;
    let columns = u32::try_from(columns).map_err(StoreError::corrupt)?;
    RoomLayout::new(capacity, columns).map_err(StoreError::corrupt)
}

/// A period's ticket settings.
pub fn settings(conn: &mut DbConnection, period: PeriodId) -> Result<Settings, StoreError> {
    let pid = sql::text(period);
    let (pattern, published) = pe::table
        .find(&pid)
        .select((pe::ticket_number_scheme, pe::tickets_published_at))
        .first::<(String, Option<NaiveDateTime>)>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "period" })?;
    let scheme = NumberScheme::parse(&pattern).map_err(StoreError::corrupt)?;
    let venues = venues::table
        .filter(venues::period_id.eq(&pid))
        .order(venues::number)
        .select(VenueRoomsRow::as_select())
        .load::<VenueRoomsRow>(conn)?
        .into_iter()
        .map(|row| {
            Ok(VenueRooms {
                venue: sql::id(&row.id)?,
                number: u32::try_from(row.number).map_err(StoreError::corrupt)?,
                name: row.name,
                address: row.address,
                region: row.region_id.as_deref().map(sql::id).transpose()?,
                layout: layout(row.room_capacity, row.room_columns)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Settings { period, scheme, published_at: published.map(sql::utc), venues })
}

/// A change of a period's ticket settings (what is `None` or not listed stays).
#[derive(Debug, Clone, Default)]
pub struct SettingsChange {
    /// A new number scheme.
    pub scheme: Option<NumberScheme>,
    /// New room layouts of venues of the period.
    pub rooms: Vec<(VenueId, RoomLayout)>,
}

/// Changes a period's ticket settings, audited (`ticket_settings`). Refused once the tickets
/// are published; a venue not of the period is not found. Existing tickets keep their
/// numbers and rooms: a new scheme applies to a forced re-assignment
/// ([`TicketError::SchemeChanged`] otherwise), a new layout to the rooms planned from now on.
pub fn update_settings(
    conn: &mut DbConnection,
    period: PeriodId,
    change: &SettingsChange,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<Settings, TicketError> {
    write_tx(conn, |conn| {
        lock_period(conn, period)?;
        let before = settings(conn, period)?;
        if before.published_at.is_some() {
            return Err(TicketError::Published);
        }
        let pid = sql::text(period);
        if let Some(scheme) = &change.scheme {
            diesel::update(pe::table.find(&pid))
                .set(pe::ticket_number_scheme.eq(scheme.pattern()))
                .execute(conn)?;
        }
        for (venue, layout) in &change.rooms {
            let written = diesel::update(
                venues::table.find(sql::text(*venue)).filter(venues::period_id.eq(&pid)),
            )
            .set((
                venues::room_capacity.eq(count(layout.capacity())?),
                venues::room_columns.eq(count(layout.columns())?),
            ))
            .execute(conn)?;
            if written != 1 {
                return Err(StoreError::NotFound { entity: "venue" }.into());
            }
        }
        let after = settings(conn, period)?;
        audit::record(
            conn,
            &audit::Entry {
                actor: actor.clone(),
                action: "ticket_settings".into(),
                target_kind: Some("period".into()),
                target_id: Some(period.to_string()),
                summary: Some(serde_json::json!({
                    "scheme": { "from": before.scheme.pattern(), "to": after.scheme.pattern() },
                    "rooms": change.rooms.iter().map(|(venue, layout)| serde_json::json!({
                        "venue": venue.to_string(),
                        "capacity": layout.capacity(),
                        "columns": layout.columns(),
                    })).collect::<Vec<_>>(),
                })),
            },
            now,
        )?;
        Ok(after)
    })
}

fn count(n: u32) -> Result<i32, StoreError> {
    i32::try_from(n).map_err(StoreError::corrupt)
}

/// Serialises ticket writes of one period (PostgreSQL locks the period's row; SQLite's write
/// transactions are serial anyway). Not found when the period does not exist.
fn lock_period(conn: &mut DbConnection, period: PeriodId) -> Result<(), StoreError> {
    let locked = diesel::update(pe::table.find(sql::text(period)))
        .set(pe::ticket_number_scheme.eq(pe::ticket_number_scheme))
        .execute(conn)?;
    if locked == 1 { Ok(()) } else { Err(StoreError::NotFound { entity: "period" }) }
}

// ---------------------------------------------------------------------------------------------
// Tickets as stored

/// A ticket as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ticket {
    /// Whose (one ticket per registration).
    pub registration: RegistrationId,
    /// The period.
    pub period: PeriodId,
    /// The ticket number (准考证号), unique in the period.
    pub number: String,
    /// The number scheme's pattern it was made with.
    pub scheme: String,
    /// The venue (考点).
    pub venue: VenueId,
    /// The venue's number (the site of the number).
    pub site: u32,
    /// Room (考场), from 1 at each site.
    pub room: u32,
    /// Seat (座号), from 1 in each room.
    pub seat: u32,
    /// The seat's row, front first.
    pub row: u32,
    /// The seat's column.
    pub column: u32,
    /// The seed of the plan that seated it.
    pub seed: u64,
    /// The seating algorithm's version.
    pub algorithm: u32,
    /// When it was assigned.
    pub assigned_at: DateTime<Utc>,
    /// What rendering made of it.
    pub render: RenderState,
}

/// Where a ticket's rendering stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderState {
    /// Not rendered yet (before publication, or its job has not run).
    Pending,
    /// Rendered: the files and the QR text.
    Rendered {
        /// When.
        at: DateTime<Utc>,
        /// Storage key of the PNG.
        png_key: String,
        /// Storage key of the PDF.
        pdf_key: String,
        /// The signed QR text.
        qr_text: String,
    },
    /// Rendering failed for a reason of this ticket; staff see it in [`failed`].
    Failed(RenderFailure),
}

/// Why a ticket could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderFailure {
    /// Stable code (`ticket_missing_glyphs`, `ticket_bad_photo`, …).
    pub code: String,
    /// The message for staff.
    pub message: String,
    /// The characters no configured font has, each once (for `ticket_missing_glyphs`).
    pub missing: Vec<char>,
    /// When.
    pub at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = t)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct TicketRow {
    registration_id: String,
    period_id: String,
    number: String,
    scheme: String,
    venue_id: String,
    site: i32,
    room: i32,
    seat: i32,
    seat_row: i32,
    seat_column: i32,
    plan_seed: String,
    plan_algorithm: i32,
    assigned_at: NaiveDateTime,
    qr_text: Option<String>,
    png_key: Option<String>,
    pdf_key: Option<String>,
    rendered_at: Option<NaiveDateTime>,
    render_error_code: Option<String>,
    render_error: Option<String>,
    render_missing: Option<String>,
    render_failed_at: Option<NaiveDateTime>,
}

fn unsigned(n: i32) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(StoreError::corrupt)
}

impl TryFrom<TicketRow> for Ticket {
    type Error = StoreError;

    fn try_from(row: TicketRow) -> Result<Self, StoreError> {
        let render = match (row.rendered_at, row.png_key, row.pdf_key, row.qr_text) {
            (Some(at), Some(png_key), Some(pdf_key), Some(qr_text)) => {
                RenderState::Rendered { at: sql::utc(at), png_key, pdf_key, qr_text }
            }
            (None, None, None, _) => match (row.render_error_code, row.render_error) {
                (Some(code), Some(message)) => RenderState::Failed(RenderFailure {
                    code,
                    message,
                    missing: row.render_missing.unwrap_or_default().chars().collect(),
                    at: row.render_failed_at.map_or(DateTime::UNIX_EPOCH, sql::utc),
                }),
                _ => RenderState::Pending,
            },
            _ => return Err(StoreError::corrupt("a ticket's render columns disagree")),
        };
        Ok(Ticket {
            registration: sql::id(&row.registration_id)?,
            period: sql::id(&row.period_id)?,
            number: row.number,
            scheme: row.scheme,
            venue: sql::id(&row.venue_id)?,
            site: unsigned(row.site)?,
            room: unsigned(row.room)?,
            seat: unsigned(row.seat)?,
            row: unsigned(row.seat_row)?,
            column: unsigned(row.seat_column)?,
            seed: row.plan_seed.parse().map_err(StoreError::corrupt)?,
            algorithm: unsigned(row.plan_algorithm)?,
            assigned_at: sql::utc(row.assigned_at),
            render,
        })
    }
}

/// A period's tickets, by site, room and seat.
pub fn list(conn: &mut DbConnection, period: PeriodId) -> Result<Vec<Ticket>, StoreError> {
    t::table
        .filter(t::period_id.eq(sql::text(period)))
        .order((t::site, t::room, t::seat))
        .select(TicketRow::as_select())
        .load::<TicketRow>(conn)?
        .into_iter()
        .map(Ticket::try_from)
        .collect()
}

/// A registration's ticket, if it has one (staff and system use: published or not).
pub fn get(
    conn: &mut DbConnection,
    registration: RegistrationId,
) -> Result<Option<Ticket>, StoreError> {
    t::table
        .find(sql::text(registration))
        .select(TicketRow::as_select())
        .first::<TicketRow>(conn)
        .optional()?
        .map(Ticket::try_from)
        .transpose()
}

/// A participant's own ticket once its period's tickets are published, with the time of
/// publication. Someone else's registration, no ticket, or not published yet: not found (the
/// caller never learns which).
pub fn published(
    conn: &mut DbConnection,
    registration: RegistrationId,
    participant: ParticipantId,
) -> Result<(Ticket, DateTime<Utc>), StoreError> {
    let found = t::table
        .inner_join(r::table)
        .inner_join(pe::table)
        .filter(t::registration_id.eq(sql::text(registration)))
        .filter(r::participant_id.eq(sql::text(participant)))
        .filter(pe::tickets_published_at.is_not_null())
        .select((TicketRow::as_select(), pe::tickets_published_at))
        .first::<(TicketRow, Option<NaiveDateTime>)>(conn)
        .optional()?;
    match found {
        Some((row, Some(at))) => Ok((row.try_into()?, sql::utc(at))),
        _ => Err(StoreError::NotFound { entity: "ticket" }),
    }
}

/// The published tickets among these registrations (for "My exams": which show the ticket
/// button), by registration.
pub fn published_among(
    conn: &mut DbConnection,
    registrations: &[RegistrationId],
) -> Result<HashMap<RegistrationId, Ticket>, StoreError> {
    let published = t::table.inner_join(pe::table).filter(pe::tickets_published_at.is_not_null());
    let rows = sql::rows_by_ids(
        conn,
        registrations,
        |conn, one| {
            Ok(crate::db::on_backend!(conn, c => published
                .filter(t::registration_id.eq(sql::text(*one)))
                .select(TicketRow::as_select())
                .load::<TicketRow>(c))?)
        },
        |conn, many| {
            Ok(published
                .filter(t::registration_id.eq_any(sql::texts(many)))
                .select(TicketRow::as_select())
                .load::<TicketRow>(conn)?)
        },
    )?;
    rows.into_iter()
        .map(|row| Ticket::try_from(row).map(|ticket| (ticket.registration, ticket)))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Planning and assigning

/// How to assign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssignOptions {
    /// The seed of the plan (the same seed and the same candidates give the same plan).
    pub seed: u64,
    /// Re-plan everybody and replace the period's tickets (refused once published).
    pub force: bool,
    /// Rooms to open at each site beyond the minimum (more rooms spread employers further).
    pub extra_rooms: u32,
}

/// One ticket of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTicket {
    /// Whose.
    pub registration: RegistrationId,
    /// The venue.
    pub venue: VenueId,
    /// Site (the venue's number).
    pub site: u32,
    /// Room.
    pub room: u32,
    /// Seat.
    pub seat: u32,
    /// Row of the seat.
    pub row: u32,
    /// Column of the seat.
    pub column: u32,
    /// The ticket number.
    pub number: String,
    /// An existing ticket that stays as it is.
    pub kept: bool,
}

/// A room of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedRoom {
    /// The venue.
    pub venue: VenueId,
    /// Site (the venue's number).
    pub site: u32,
    /// Room.
    pub room: u32,
    /// Its layout.
    pub layout: RoomLayout,
    /// Seats taken.
    pub occupied: u32,
    /// A room of existing tickets (kept as they are).
    pub kept: bool,
}

/// A seat plan: what a dry run shows and a commit writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPlan {
    /// The period.
    pub period: PeriodId,
    /// The seed of the new seats.
    pub seed: u64,
    /// The seating algorithm's version.
    pub algorithm: u32,
    /// The number scheme's pattern.
    pub scheme: String,
    /// Every ticket after the commit (kept and new), by site, room and seat.
    pub tickets: Vec<PlannedTicket>,
    /// Every room, by site and room.
    pub rooms: Vec<PlannedRoom>,
    /// Constraints the new seats do not meet (room numbers as in the plan; keys are
    /// registration ids, employers as the participants wrote them).
    pub unmet: Vec<Unmet>,
    /// Existing tickets kept.
    pub kept: usize,
    /// New tickets.
    pub created: usize,
    /// Existing tickets replaced (`force`).
    pub replaced: usize,
}

struct CandidateRow {
    registration: RegistrationId,
    region: RegionId,
    checkin_venue: Option<VenueId>,
    employer: Option<String>,
}

fn candidates(conn: &mut DbConnection, period: PeriodId) -> Result<Vec<CandidateRow>, StoreError> {
    r::table
        .inner_join(p::table)
        .filter(r::period_id.eq(sql::text(period)))
        .filter(r::state.eq(State::CheckedIn.as_str()))
        .order(r::id)
        .select((r::id, r::region_id, r::checkin_venue_id, p::employer))
        .load::<(String, String, Option<String>, Option<String>)>(conn)?
        .into_iter()
        .map(|(id, region, venue, employer)| {
            Ok(CandidateRow {
                registration: sql::id(&id)?,
                region: sql::id(&region)?,
                checkin_venue: venue.as_deref().map(sql::id).transpose()?,
                employer: employer_key(employer.as_deref()),
            })
        })
        .collect()
}

/// An employer as the seating compares it: trimmed, inner whitespace removed, `None` when
/// empty.
fn employer_key(employer: Option<&str>) -> Option<String> {
    let key: String = employer?.chars().filter(|c| !c.is_whitespace()).collect();
    (!key.is_empty()).then_some(key)
}

/// The venue a candidate sits at: where it checked in, else the venue serving its region.
fn venue_of<'a>(settings: &'a Settings, c: &CandidateRow) -> Option<&'a VenueRooms> {
    if let Some(venue) = c.checkin_venue.and_then(|v| settings.venue(v)) {
        return Some(venue);
    }
    settings
        .venues
        .iter()
        .find(|v| v.region == Some(c.region))
        .or_else(|| settings.venues.iter().find(|v| v.region.is_none()))
}

/// The exam year of a period: the year (Beijing time) its first subject is sat, or the end of
/// its check-in when it has no subjects.
pub fn exam_year(period: &PeriodDetail) -> u16 {
    let first = period
        .subjects
        .iter()
        .map(|s| s.exam_starts_at)
        .min()
        .unwrap_or_else(|| period.schedule.checkin_closes());
    let year = beijing(first).year();
    u16::try_from(year).unwrap_or(0)
}

/// A UTC instant as Beijing time (UTC+8, no DST).
pub fn beijing(at: DateTime<Utc>) -> NaiveDateTime {
    let tz = FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is valid"));
    at.with_timezone(&tz).naive_local()
}

/// The plan of `options` for the period as it is now, and the existing tickets it replaces
/// (force) or keeps.
fn compute(
    conn: &mut DbConnection,
    period: PeriodId,
    options: &AssignOptions,
) -> Result<(TicketPlan, Vec<Ticket>), TicketError> {
    let detail = periods::detail(conn, period)?;
    let settings = settings(conn, period)?;
    if options.force && settings.published_at.is_some() {
        return Err(TicketError::Published);
    }
    let existing = list(conn, period)?;
    if !options.force && existing.iter().any(|t| t.scheme != settings.scheme.pattern()) {
        return Err(TicketError::SchemeChanged);
    }
    let kept: Vec<&Ticket> = if options.force { vec![] } else { existing.iter().collect() };
    let has_ticket: std::collections::HashSet<RegistrationId> =
        kept.iter().map(|t| t.registration).collect();
    let everyone = candidates(conn, period)?;
    let newcomers: Vec<&CandidateRow> =
        everyone.iter().filter(|c| !has_ticket.contains(&c.registration)).collect();

    let mut seating =
        SeatingConfig { extra_rooms: options.extra_rooms, ..SeatingConfig::default() };
    for venue in &settings.venues {
        seating.site_layouts.insert(venue.number, venue.layout);
    }
    let mut by_key: HashMap<String, (&CandidateRow, &VenueRooms)> = HashMap::new();
    let mut input = Vec::with_capacity(newcomers.len());
    for c in &newcomers {
        let venue = venue_of(&settings, c).ok_or_else(|| TicketError::NoVenue {
            region: detail
                .regions
                .iter()
                .find(|r| r.id == c.region)
                .map_or_else(|| c.region.to_string(), |r| r.name.clone()),
        })?;
        let key = c.registration.to_string();
        input.push(Candidate {
            key: key.clone(),
            employer: c.employer.clone(),
            site: venue.number,
        });
        by_key.insert(key, (c, venue));
    }
    let plan = assign_seats(&input, &seating, options.seed)?;

    // New rooms are numbered after the rooms of the tickets kept at the same site.
    let mut offset: BTreeMap<u32, u32> = BTreeMap::new();
    for t in &kept {
        let o = offset.entry(t.site).or_insert(0);
        *o = (*o).max(t.room);
    }
    let shift = |site: u32, room: u32| room + offset.get(&site).copied().unwrap_or(0);
    let year = exam_year(&detail);
    let region_code = |region: RegionId| {
        detail.regions.iter().find(|r| r.id == region).map_or("", |r| r.code.as_str())
    };

    let mut tickets: Vec<PlannedTicket> = kept
        .iter()
        .map(|t| PlannedTicket {
            registration: t.registration,
            venue: t.venue,
            site: t.site,
            room: t.room,
            seat: t.seat,
            row: t.row,
            column: t.column,
            number: t.number.clone(),
            kept: true,
        })
        .collect();
    for seat in &plan.seats {
        let (c, venue) = by_key
            .get(&seat.key)
            .ok_or_else(|| StoreError::corrupt("the seat plan names an unknown candidate"))?;
        let room = shift(seat.site, seat.room);
        let number = settings.scheme.format(&SeatFacts {
            year,
            region: region_code(c.region),
            site: seat.site,
            room,
            seat: seat.seat,
        })?;
        tickets.push(PlannedTicket {
            registration: c.registration,
            venue: venue.venue,
            site: seat.site,
            room,
            seat: seat.seat,
            row: seat.row,
            column: seat.column,
            number: number.as_str().to_owned(),
            kept: false,
        });
    }
    tickets.sort_by_key(|t| (t.site, t.room, t.seat));

    let mut rooms: BTreeMap<(u32, u32), PlannedRoom> = BTreeMap::new();
    for t in &kept {
        let layout = settings.venue(t.venue).map_or_else(RoomLayout::default, |v| v.layout);
        rooms
            .entry((t.site, t.room))
            .or_insert(PlannedRoom {
                venue: t.venue,
                site: t.site,
                room: t.room,
                layout,
                occupied: 0,
                kept: true,
            })
            .occupied += 1;
    }
    for room in &plan.rooms {
        let venue = settings
            .venue_by_number(room.site)
            .ok_or_else(|| StoreError::corrupt("the seat plan names an unknown site"))?;
        let number = shift(room.site, room.room);
        rooms.insert(
            (room.site, number),
            PlannedRoom {
                venue: venue.venue,
                site: room.site,
                room: number,
                layout: room.layout,
                occupied: room.occupied,
                kept: false,
            },
        );
    }
    let unmet = plan
        .unmet
        .iter()
        .map(|u| match u.clone() {
            Unmet::SameRoom { site, room, employer, keys } => {
                Unmet::SameRoom { site, room: shift(site, room), employer, keys }
            }
            Unmet::Adjacent { site, room, employer, seats, keys } => {
                Unmet::Adjacent { site, room: shift(site, room), employer, seats, keys }
            }
        })
        .collect();
    let created = plan.seats.len();
    let result = TicketPlan {
        period,
        seed: options.seed,
        algorithm: plan.algorithm,
        scheme: settings.scheme.pattern().to_owned(),
        kept: kept.len(),
        created,
        replaced: if options.force { existing.len() } else { 0 },
        tickets,
        rooms: rooms.into_values().collect(),
        unmet,
    };
    Ok((result, existing))
}

/// The plan a commit with `options` would write now (rooms, seats, numbers, unmet
/// constraints): nothing is written.
pub fn plan(
    conn: &mut DbConnection,
    period: PeriodId,
    options: &AssignOptions,
) -> Result<TicketPlan, TicketError> {
    Ok(compute(conn, period, options)?.0)
}

#[derive(Insertable)]
#[diesel(table_name = t)]
struct NewTicket<'a> {
    registration_id: String,
    period_id: String,
    number: &'a str,
    scheme: &'a str,
    venue_id: String,
    site: i32,
    room: i32,
    seat: i32,
    seat_row: i32,
    seat_column: i32,
    plan_seed: String,
    plan_algorithm: i32,
    assigned_at: NaiveDateTime,
}

/// Commits a plan: computes it as [`plan`] does (inside the transaction), replaces the
/// period's tickets when `force`, inserts the new ones with the seed, records the audit entry
/// (`ticket_assign`: seed, algorithm, scheme, counts, unmet constraints) and, when the
/// period's tickets are published already, enqueues the render jobs of the new tickets — all
/// in one transaction.
pub fn assign(
    conn: &mut DbConnection,
    period: PeriodId,
    options: &AssignOptions,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<TicketPlan, TicketError> {
    let result = write_tx(conn, |conn| {
        lock_period(conn, period)?;
        let (plan, existing) = compute(conn, period, options)?;
        let pid = sql::text(period);
        if options.force && !existing.is_empty() {
            diesel::delete(t::table.filter(t::period_id.eq(&pid))).execute(conn)?;
        }
        let mut created = Vec::new();
        for ticket in plan.tickets.iter().filter(|t| !t.kept) {
            diesel::insert_into(t::table)
                .values(NewTicket {
                    registration_id: sql::text(ticket.registration),
                    period_id: pid.clone(),
                    number: &ticket.number,
                    scheme: &plan.scheme,
                    venue_id: sql::text(ticket.venue),
                    site: count(ticket.site)?,
                    room: count(ticket.room)?,
                    seat: count(ticket.seat)?,
                    seat_row: count(ticket.row)?,
                    seat_column: count(ticket.column)?,
                    plan_seed: plan.seed.to_string(),
                    plan_algorithm: count(plan.algorithm)?,
                    assigned_at: sql::ts(now),
                })
                .execute(conn)?;
            created.push(ticket.registration);
        }
        let published = settings(conn, period)?.published_at.is_some();
        let jobs = if published { enqueue_renders(conn, period, &created, now)? } else { 0 };
        audit::record(
            conn,
            &audit::Entry {
                actor: actor.clone(),
                action: "ticket_assign".into(),
                target_kind: Some("period".into()),
                target_id: Some(period.to_string()),
                summary: Some(serde_json::json!({
                    "seed": plan.seed.to_string(),
                    "algorithm": plan.algorithm,
                    "scheme": plan.scheme,
                    "force": options.force,
                    "extra_rooms": options.extra_rooms,
                    "kept": plan.kept,
                    "created": plan.created,
                    "replaced": plan.replaced,
                    "rooms": plan.rooms.len(),
                    "unmet": plan.unmet.len(),
                    "render_jobs": jobs,
                })),
            },
            now,
        )?;
        Ok(plan)
    });
    match result {
        Err(TicketError::Store(StoreError::Database(e))) if StoreError::is_unique_violation(&e) => {
            Err(StoreError::Duplicate { what: "ticket" }.into())
        }
        other => other,
    }
}

/// Enqueues render jobs for `registrations`, [`RENDER_BATCH`] per job: how many jobs.
fn enqueue_renders(
    conn: &mut DbConnection,
    period: PeriodId,
    registrations: &[RegistrationId],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut jobs_written = 0;
    for batch in registrations.chunks(RENDER_BATCH) {
        let job = Job::RenderTickets { period, registrations: batch.to_vec(), requested_at: now };
        jobs::enqueue(conn, &job, now, now)?;
        jobs_written += 1;
    }
    Ok(jobs_written)
}

// ---------------------------------------------------------------------------------------------
// Publishing

/// What [`publish`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// When the tickets were (or had been) published.
    pub at: DateTime<Utc>,
    /// They were published before: nothing changed.
    pub already: bool,
    /// Tickets of the period.
    pub tickets: usize,
    /// Render jobs enqueued.
    pub jobs: usize,
}

/// Publishes a period's tickets: participants see them from now on; every unrendered ticket
/// gets its render job (batches of [`RENDER_BATCH`]); audited (`ticket_publish`). Published
/// before: nothing changes. No tickets: [`TicketError::NothingAssigned`].
pub fn publish(
    conn: &mut DbConnection,
    period: PeriodId,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<Published, TicketError> {
    write_tx(conn, |conn| {
        lock_period(conn, period)?;
        let settings = settings(conn, period)?;
        let tickets = list(conn, period)?;
        if let Some(at) = settings.published_at {
            return Ok(Published { at, already: true, tickets: tickets.len(), jobs: 0 });
        }
        if tickets.is_empty() {
            return Err(TicketError::NothingAssigned);
        }
        diesel::update(pe::table.find(sql::text(period)))
            .set(pe::tickets_published_at.eq(Some(sql::ts(now))))
            .execute(conn)?;
        let pending: Vec<RegistrationId> = tickets
            .iter()
            .filter(|t| t.render == RenderState::Pending)
            .map(|t| t.registration)
            .collect();
        let jobs = enqueue_renders(conn, period, &pending, now)?;
        audit::record(
            conn,
            &audit::Entry {
                actor: actor.clone(),
                action: "ticket_publish".into(),
                target_kind: Some("period".into()),
                target_id: Some(period.to_string()),
                summary: Some(serde_json::json!({ "tickets": tickets.len(), "render_jobs": jobs })),
            },
            now,
        )?;
        Ok(Published { at: now, already: false, tickets: tickets.len(), jobs })
    })
}

// ---------------------------------------------------------------------------------------------
// Rendering

/// A subject as a ticket shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketSubject {
    /// The name, with the specialty in brackets when one was chosen.
    pub name: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
}

/// Everything a ticket's documents show, as plain values (read for the worker).
#[derive(Clone, PartialEq, Eq)]
pub struct RenderInput {
    /// The ticket.
    pub ticket: Ticket,
    /// The period's name.
    pub period_name: String,
    /// The exam's name.
    pub exam_name: String,
    /// When the tickets were published (the issue date), if they are.
    pub published_at: Option<DateTime<Utc>>,
    /// The venue's name.
    pub site_name: String,
    /// The venue's address.
    pub site_address: String,
    /// The participant's full name (`None`: the profile has none, which a checked-in
    /// registration cannot be).
    pub name: Option<String>,
    /// Gender.
    pub gender: Option<Gender>,
    /// The masked ID number.
    pub masked_id: Option<String>,
    /// The subjects with their times, in the period's order.
    pub subjects: Vec<TicketSubject>,
    /// Storage key of the normalised photo, if the registration has one.
    pub photo_key: Option<String>,
}

impl std::fmt::Debug for RenderInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderInput")
            .field("registration", &self.ticket.registration)
            .field("number", &self.ticket.number)
            .finish_non_exhaustive()
    }
}

/// The subjects of a registration with the period's times, in the period's order.
pub fn subjects_of(
    period: &PeriodDetail,
    chosen: &[baoming_domain::period::ChosenSubject],
) -> Vec<TicketSubject> {
    period
        .subjects
        .iter()
        .filter_map(|s| {
            let choice = chosen.iter().find(|c| c.code == s.offer.code)?;
            let name = match &choice.specialty {
                Some(specialty) => format!("{}（{specialty}）", s.offer.name),
                None => s.offer.name.clone(),
            };
            Some(TicketSubject { name, starts_at: s.exam_starts_at, ends_at: s.exam_ends_at })
        })
        .collect()
}

/// What the documents of these tickets show, for those not rendered and not failed (a job run
/// again after a crash skips what its first run recorded). In the order given.
pub fn to_render(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    period: PeriodId,
    registrations: &[RegistrationId],
) -> Result<Vec<RenderInput>, StoreError> {
    let ids: Vec<String> = registrations.iter().map(|id| sql::text(*id)).collect();
    let mut rows: HashMap<String, TicketRow> = t::table
        .filter(t::period_id.eq(sql::text(period)))
        .filter(t::registration_id.eq_any(&ids))
        .filter(t::rendered_at.is_null())
        .filter(t::render_error.is_null())
        .select(TicketRow::as_select())
        .load::<TicketRow>(conn)?
        .into_iter()
        .map(|row| (row.registration_id.clone(), row))
        .collect();
    let tickets: Vec<Ticket> = ids
        .iter()
        .filter_map(|id| rows.remove(id))
        .map(Ticket::try_from)
        .collect::<Result<_, _>>()?;
    if tickets.is_empty() {
        return Ok(vec![]);
    }
    let detail = periods::detail(conn, period)?;
    let published_at = settings(conn, period)?.published_at;
    let registrations = crate::registrations::get_many(
        conn,
        &tickets.iter().map(|t| t.registration).collect::<Vec<_>>(),
    )?;
    let by_id: HashMap<RegistrationId, &crate::registrations::Registration> =
        registrations.iter().map(|r| (r.id, r)).collect();
    let people = participants::get_many(
        conn,
        cipher,
        &registrations.iter().map(|r| r.participant).collect::<Vec<_>>(),
    )?;
    let mut out = Vec::with_capacity(tickets.len());
    for ticket in tickets {
        let registration = by_id
            .get(&ticket.registration)
            .ok_or(StoreError::NotFound { entity: "registration" })?;
        let person = people
            .get(&registration.participant)
            .ok_or(StoreError::NotFound { entity: "participant" })?;
        let venue = detail
            .venue(ticket.venue)
            .ok_or_else(|| StoreError::corrupt("a ticket's venue is not of its period"))?;
        let photo_key = match registration.photo {
            Some(photo) => Some(crate::photos::get(conn, photo)?.normalized_key),
            None => None,
        };
        let identity = &person.profile.identity;
        out.push(RenderInput {
            period_name: detail.name.clone(),
            exam_name: detail.exam_name.clone(),
            published_at,
            site_name: venue.name.clone(),
            site_address: venue.address.clone(),
            name: identity.name.as_ref().map(|n| n.as_str().to_owned()),
            gender: identity.gender,
            masked_id: identity.id_number.as_ref().map(IdNumber::masked),
            subjects: subjects_of(&detail, &registration.subjects),
            photo_key,
            ticket,
        });
    }
    Ok(out)
}

/// What rendering one ticket came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RenderOutcome {
    /// Rendered and stored.
    Rendered {
        /// Whose.
        registration: RegistrationId,
        /// Storage key of the PNG.
        png_key: String,
        /// Storage key of the PDF.
        pdf_key: String,
        /// The signed QR text.
        qr_text: String,
    },
    /// Not rendered, for a reason of this ticket (kept for staff).
    Failed {
        /// Whose.
        registration: RegistrationId,
        /// Stable code.
        code: String,
        /// The message for staff.
        message: String,
        /// The characters no font has (for `ticket_missing_glyphs`).
        missing: Vec<char>,
    },
}

/// What [`record_renders`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordedRenders {
    /// Tickets marked rendered (each got its notice job).
    pub rendered: usize,
    /// Tickets marked failed.
    pub failed: usize,
    /// Outcomes of tickets already recorded (a job run twice): not written again.
    pub skipped: usize,
}

/// The row of a ticket still to render (not rendered, not failed).
macro_rules! open_for_render {
    ($registration:expr) => {
        t::table
            .find(sql::text($registration))
            .filter(t::rendered_at.is_null())
            .filter(t::render_error.is_null())
    };
}

/// Records a render job's outcomes and completes the job, in one transaction: a rendered
/// ticket is marked (files and QR text) and gets its "ticket published" notice job; a failed
/// one keeps its reason. Only tickets still unrendered and unfailed are written, so a job that
/// runs again changes nothing twice.
pub fn record_renders(
    conn: &mut DbConnection,
    claimed: &jobs::Claimed,
    outcomes: &[RenderOutcome],
    now: DateTime<Utc>,
) -> Result<RecordedRenders, StoreError> {
    write_tx(conn, |conn| {
        let mut recorded = RecordedRenders::default();
        for outcome in outcomes {
            let (registration, written) = match outcome {
                RenderOutcome::Rendered { registration, png_key, pdf_key, qr_text } => {
                    let written = diesel::update(open_for_render!(*registration))
                        .set((
                            t::rendered_at.eq(Some(sql::ts(now))),
                            t::png_key.eq(Some(png_key)),
                            t::pdf_key.eq(Some(pdf_key)),
                            t::qr_text.eq(Some(qr_text)),
                        ))
                        .execute(conn)?;
                    if written == 1 {
                        recorded.rendered += 1;
                        let notice = Job::TicketNotice { registration: *registration };
                        // A savepoint: a notice already sent for this registration stays the
                        // only one.
                        match write_tx(conn, |conn| jobs::enqueue(conn, &notice, now, now)) {
                            Ok(_) | Err(StoreError::Duplicate { .. }) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    (*registration, written)
                }
                RenderOutcome::Failed { registration, code, message, missing } => {
                    let missing: String = missing.iter().collect();
                    let written = diesel::update(open_for_render!(*registration))
                        .set((
                            t::render_error_code.eq(Some(code)),
                            t::render_error.eq(Some(message)),
                            t::render_missing.eq((!missing.is_empty()).then_some(missing)),
                            t::render_failed_at.eq(Some(sql::ts(now))),
                        ))
                        .execute(conn)?;
                    recorded.failed += written;
                    (*registration, written)
                }
            };
            if written == 0 {
                tracing::info!(%registration, "ticket already recorded; outcome not written again");
                recorded.skipped += 1;
            }
        }
        jobs::complete_in(conn, claimed, now)?;
        Ok(recorded)
    })
}

/// A ticket that failed to render, for staff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRender {
    /// The ticket.
    pub ticket: Ticket,
    /// The participant's name as stored.
    pub name: Option<String>,
    /// Why.
    pub failure: RenderFailure,
}

/// The period's tickets that failed to render, by site, room and seat.
pub fn failed(conn: &mut DbConnection, period: PeriodId) -> Result<Vec<FailedRender>, StoreError> {
    let rows = t::table
        .inner_join(r::table.inner_join(p::table))
        .filter(t::period_id.eq(sql::text(period)))
        .filter(t::render_error.is_not_null())
        .order((t::site, t::room, t::seat))
        .select((TicketRow::as_select(), p::name))
        .load::<(TicketRow, Option<String>)>(conn)?;
    rows.into_iter()
        .map(|(row, name)| {
            let ticket = Ticket::try_from(row)?;
            let RenderState::Failed(failure) = ticket.render.clone() else {
                return Err(StoreError::corrupt("a failed ticket without its failure"));
            };
            Ok(FailedRender { ticket, name, failure })
        })
        .collect()
}

/// Clears the failures of the period's tickets and renders them again (after the cause was
/// fixed: a font configured, a name corrected, a photo replaced), audited
/// (`ticket_render_retry`): how many. Before publication nothing is rendered yet: the
/// failures are only cleared and publication renders them.
pub fn retry_failed(
    conn: &mut DbConnection,
    period: PeriodId,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<usize, TicketError> {
    write_tx(conn, |conn| {
        lock_period(conn, period)?;
        let published = settings(conn, period)?.published_at.is_some();
        let ids: Vec<String> = t::table
            .filter(t::period_id.eq(sql::text(period)))
            .filter(t::render_error.is_not_null())
            .order((t::site, t::room, t::seat))
            .select(t::registration_id)
            .load(conn)?;
        if ids.is_empty() {
            return Ok(0);
        }
        diesel::update(t::table.filter(t::registration_id.eq_any(&ids)))
            .set((
                t::render_error_code.eq(None::<String>),
                t::render_error.eq(None::<String>),
                t::render_missing.eq(None::<String>),
                t::render_failed_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;
        let registrations: Vec<RegistrationId> =
            ids.iter().map(|id| sql::id(id)).collect::<Result<_, _>>()?;
        let jobs = if published { enqueue_renders(conn, period, &registrations, now)? } else { 0 };
        audit::record(
            conn,
            &audit::Entry {
                actor: actor.clone(),
                action: "ticket_render_retry".into(),
                target_kind: Some("period".into()),
                target_id: Some(period.to_string()),
                summary: Some(serde_json::json!({ "tickets": ids.len(), "render_jobs": jobs })),
            },
            now,
        )?;
        Ok(ids.len())
    })
}

// ---------------------------------------------------------------------------------------------
// Rooms

/// A seated person, as the room sheets and the seat plan show them.
#[derive(Clone, PartialEq, Eq)]
pub struct Seated {
    /// The ticket.
    pub ticket: Ticket,
    /// Full name.
    pub name: Option<String>,
    /// Gender.
    pub gender: Option<Gender>,
    /// The masked ID number.
    pub masked_id: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// The registration's region.
    pub region: RegionId,
    /// Storage key of the normalised photo.
    pub photo_key: Option<String>,
}

impl std::fmt::Debug for Seated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Seated")
            .field("registration", &self.ticket.registration)
            .field("number", &self.ticket.number)
            .finish_non_exhaustive()
    }
}

/// Which seats [`seated`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seats {
    /// Every ticket of the period.
    Period(PeriodId),
    /// One room of a venue.
    Room {
        /// The venue.
        venue: VenueId,
        /// The room.
        room: u32,
    },
}

/// The people seated (by site, room and seat), with what the room sheets and the seat plan
/// show.
pub fn seated(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    which: Seats,
) -> Result<Vec<Seated>, StoreError> {
    let mut query = t::table
        .inner_join(r::table)
        .select((TicketRow::as_select(), r::participant_id, r::region_id, r::photo_id))
        .order((t::site, t::room, t::seat))
        .into_boxed::<MultiBackend>();
    query = match which {
        Seats::Period(period) => query.filter(t::period_id.eq(sql::text(period))),
        Seats::Room { venue, room } => query
            .filter(t::venue_id.eq(sql::text(venue)))
            .filter(t::room.eq(i32::try_from(room).unwrap_or(i32::MAX))),
    };
    let rows = query.load::<(TicketRow, String, String, Option<String>)>(conn)?;
    let participant_ids: Vec<ParticipantId> =
        rows.iter().map(|(_, p, _, _)| sql::id(p)).collect::<Result<_, _>>()?;
    let people = participants::get_many(conn, cipher, &participant_ids)?;
    let photo_ids: Vec<String> = rows.iter().filter_map(|(_, _, _, ph)| ph.clone()).collect();
    let photo_keys: HashMap<String, String> = crate::schema::photos::table
        .filter(crate::schema::photos::id.eq_any(&photo_ids))
        .select((crate::schema::photos::id, crate::schema::photos::normalized_key))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    rows.into_iter()
        .zip(participant_ids)
        .map(|((row, _, region, photo), participant)| {
            let person = people.get(&participant);
            let identity = person.map(|p| &p.profile.identity);
            Ok(Seated {
                ticket: Ticket::try_from(row)?,
                name: identity.and_then(|i| i.name.as_ref()).map(|n| n.as_str().to_owned()),
                gender: identity.and_then(|i| i.gender),
                masked_id: identity.and_then(|i| i.id_number.as_ref()).map(IdNumber::masked),
                employer: person.and_then(|p| p.profile.employer.clone()),
                region: sql::id(&region)?,
                photo_key: photo.and_then(|id| photo_keys.get(&id).cloned()),
            })
        })
        .collect()
}

/// The participants' names of these registrations (as stored), by registration.
pub fn names_of(
    conn: &mut DbConnection,
    registrations: &[RegistrationId],
) -> Result<HashMap<RegistrationId, Option<String>>, StoreError> {
    let mut out = HashMap::with_capacity(registrations.len());
    for chunk in registrations.chunks(500) {
        let ids: Vec<String> = chunk.iter().map(|id| sql::text(*id)).collect();
        let rows: Vec<(String, Option<String>)> = r::table
            .inner_join(p::table)
            .filter(r::id.eq_any(ids))
            .select((r::id, p::name))
            .load(conn)?;
        for (id, name) in rows {
            out.insert(sql::id(&id)?, name);
        }
    }
    Ok(out)
}

/// Whether any ticket sits at this venue (a venue with tickets cannot be deleted).
pub(crate) fn venue_has_tickets(conn: &mut DbConnection, venue: &str) -> Result<bool, StoreError> {
    let n: i64 = t::table.filter(t::venue_id.eq(venue)).count().get_result(conn)?;
    Ok(n > 0)
}
