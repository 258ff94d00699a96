//! Check-in at the venue (签到/报到): a participant's scan of the venue code, staff's check-in
//! by hand, finding a person at the desk, and the live counts per region and venue.
//!
//! Every check-in is a transition of the state machine (`Event::CheckIn`), written by
//! [`crate::transition`] with its event row and the registration's check-in columns (when,
//! which venue, which proof) in one transaction. A second check-in changes nothing; two scans
//! of the same person at once end in one transition (the loser of the race finds the
//! registration checked in).

use baoming_domain::checkin::{Position, ScanRefusal, accept_scan};
use baoming_domain::ids::{PeriodId, RegionId, RegistrationId, VenueId};
use baoming_domain::lifecycle::{self, Actor, CheckInProof, Event, State, TransitionError};
use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::audit;
use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::periods::PeriodDetail;
use crate::schema::{participants as p, registrations as r};
use crate::sql;
use crate::transition::{self, Applied, Ctx, Registration};

/// Why a check-in did not happen (nothing was written).
#[derive(Debug, thiserror::Error)]
pub enum CheckinError {
    /// The state machine refuses: the state (not paid, a refund requested…), the window, the
    /// actor.
    #[error(transparent)]
    Refused(#[from] TransitionError),
    /// The scanned code does not check this registration in.
    #[error(transparent)]
    Scan(#[from] ScanRefusal),
    /// The data layer failed (or the registration is not found).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<diesel::result::Error> for CheckinError {
    fn from(error: diesel::result::Error) -> Self {
        Self::Store(error.into())
    }
}

/// A scanned venue code and where the phone was.
#[derive(Debug, Clone)]
pub struct Scan {
    /// The text of the QR code (or of the mini-program code's `scene`).
    pub code: String,
    /// The phone's position (GCJ-02), when the mini-program sent one.
    pub position: Option<Position>,
}

/// What a check-in did.
#[derive(Debug, Clone)]
pub struct CheckedIn {
    /// The registration afterwards.
    pub registration: Registration,
    /// It was checked in before: nothing changed.
    pub already: bool,
}

/// How many times a check-in that lost a race to a concurrent change of the same registration
/// is tried again (the next attempt sees the winner's result).
const RETRIES: usize = 3;

fn retry(
    mut attempt: impl FnMut() -> Result<CheckedIn, CheckinError>,
) -> Result<CheckedIn, CheckinError> {
    let mut tries = 0;
    loop {
        match attempt() {
            Err(CheckinError::Store(StoreError::Conflict { .. })) if tries < RETRIES => tries += 1,
            other => return other,
        }
    }
}

fn outcome(applied: Applied) -> CheckedIn {
    match applied {
        Applied::Moved { registration, .. } => CheckedIn { registration, already: false },
        Applied::Unchanged { registration, .. } => CheckedIn { registration, already: true },
    }
}

/// The participant scanned a venue code: checks `current` (their registration, as just read)
/// in when the state machine allows it now (paid or refund denied, inside the check-in window)
/// and the code is a current code of one of `period`'s venues that serves the registration's
/// region, scanned inside the venue's geofence. An already checked-in registration answers
/// `already` whatever the code. The state and the window are judged before the code, so a
/// person who cannot check in is told why rather than that the code is stale. A registration
/// changed since it was read is read again and judged again.
pub fn check_in_with_code(
    conn: &mut DbConnection,
    period: &PeriodDetail,
    current: Registration,
    scan: &Scan,
    ctx: &Ctx,
) -> Result<CheckedIn, CheckinError> {
    let key = period.checkin_key();
    let id = current.id;
    let mut read = Some(current);
    retry(|| {
        // Read before the write lock (SQLite takes it for the whole write transaction): the
        // guarded write inside finds any change made since, and the attempt is retried.
        let current = match read.take() {
            Some(current) => current,
            None => transition::load_for(conn, id, ctx.who)?,
        };
        if current.period != period.id {
            return Err(StoreError::Misuse("a check-in against another period's venues").into());
        }
        if current.status.state == State::CheckedIn {
            return Ok(CheckedIn { registration: current, already: true });
        }
        // The state machine first, with a venue code as the proof: state, window.
        let facts = transition::facts(&current, period.schedule, period.closed, ctx.now);
        let probe = Event::CheckIn { proof: CheckInProof::RotatingCode, venue: None };
        lifecycle::decide(current.status, &probe, Actor::Participant, &facts)?;
        let (venue, proof) = accept_scan(
            &key,
            &period.venues,
            current.region,
            &scan.code,
            scan.position.as_ref(),
            ctx.now,
        )?;
        let event = Event::CheckIn { proof, venue: Some(venue.id) };
        write_tx(conn, |conn| {
            Ok(outcome(transition::apply_read_with_facts(conn, current, &event, ctx, facts)?))
        })
    })
}

/// Check-in staff (or an admin) check a person in by hand (`proof = staff`), at `venue` when
/// given; audited with the check-in in one transaction. Already checked in: nothing changes
/// (and nothing is audited).
pub fn check_in_by_staff(
    conn: &mut DbConnection,
    id: RegistrationId,
    venue: Option<VenueId>,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Result<CheckedIn, CheckinError> {
    retry(|| {
        write_tx(conn, |conn| {
            let current = transition::load_for(conn, id, ctx.who)?;
            if let Some(venue) = venue {
                let belongs: i64 = crate::schema::venues::table
                    .find(sql::text(venue))
                    .filter(crate::schema::venues::period_id.eq(sql::text(current.period)))
                    .count()
                    .get_result(conn)?;
                if belongs == 0 {
                    return Err(StoreError::NotFound { entity: "venue" }.into());
                }
            }
            let event = Event::CheckIn { proof: CheckInProof::Staff, venue };
            let done = outcome(transition::apply_loaded(conn, current, &event, ctx, false)?);
            if !done.already {
                let entry = audit::Entry {
                    actor: actor.clone(),
                    action: "check_in".into(),
                    target_kind: Some("registration".into()),
                    target_id: Some(id.to_string()),
                    summary: Some(serde_json::json!({
                        "proof": CheckInProof::Staff.as_str(),
                        "venue": venue.map(|v| v.to_string()),
                    })),
                };
                audit::record(conn, &entry, ctx.now)?;
            }
            Ok(done)
        })
    })
}

/// A person found at the check-in desk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The registration.
    pub registration: RegistrationId,
    /// Its region.
    pub region: RegionId,
    /// Its state.
    pub state: State,
    /// The participant's name.
    pub name: Option<String>,
    /// The participant's phone.
    pub phone: Option<String>,
    /// The trailing characters of the ID number (as the masked form shows them).
    pub id_tail: Option<String>,
    /// The employer.
    pub employer: Option<String>,
    /// When it was checked in, if it was.
    pub checked_in_at: Option<chrono::DateTime<chrono::Utc>>,
    /// How.
    pub proof: Option<CheckInProof>,
}

#[derive(Queryable, Selectable)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct CandidateRow {
    #[diesel(select_expression = r::id)]
    id: String,
    #[diesel(select_expression = r::region_id)]
    region_id: String,
    #[diesel(select_expression = r::state)]
    state: String,
    #[diesel(select_expression = p::name)]
    name: Option<String>,
    #[diesel(select_expression = p::phone)]
    phone: Option<String>,
    #[diesel(select_expression = p::id_number_tail)]
    id_tail: Option<String>,
    #[diesel(select_expression = p::employer)]
    employer: Option<String>,
    #[diesel(select_expression = r::checked_in_at)]
    checked_in_at: Option<NaiveDateTime>,
    #[diesel(select_expression = r::checkin_proof)]
    proof: Option<String>,
}

/// The states a check-in desk cares about: may check in, has, or asked for the money back.
const AT_THE_DESK: [State; 5] =
    [State::Paid, State::RefundDenied, State::RefundRequested, State::CheckedIn, State::Completed];

/// Registrations of a period found by the participant's name (contains), phone (exact) or the
/// last characters of the ID number (exact, as read off the card), among those a check-in
/// desk cares about (paid, refund denied or requested, checked in); at most `limit`.
pub fn search(
    conn: &mut DbConnection,
    period: PeriodId,
    query: &str,
    limit: i64,
) -> Result<Vec<Candidate>, StoreError> {
    let query = query.trim();
    if query.is_empty() {
        return Ok(vec![]);
    }
    let name = format!("%{}%", query.replace(['%', '_'], ""));
    let tail = query.to_uppercase();
    r::table
        .inner_join(p::table)
        .filter(r::period_id.eq(sql::text(period)))
        .filter(r::state.eq_any(AT_THE_DESK.map(State::as_str)))
        .filter(p::name.like(name).or(p::phone.eq(query)).or(p::id_number_tail.eq(tail)))
        .order((p::name, r::id))
        .limit(limit.clamp(1, 100))
        .select(CandidateRow::as_select())
        .load::<CandidateRow>(conn)?
        .into_iter()
        .map(|row| {
            Ok(Candidate {
                registration: sql::id(&row.id)?,
                region: sql::id(&row.region_id)?,
                state: State::parse(&row.state).map_err(StoreError::corrupt)?,
                name: row.name,
                phone: row.phone,
                id_tail: row.id_tail,
                employer: row.employer,
                checked_in_at: row.checked_in_at.map(sql::utc),
                proof: row
                    .proof
                    .as_deref()
                    .map(CheckInProof::parse)
                    .transpose()
                    .map_err(StoreError::corrupt)?,
            })
        })
        .collect()
}

/// Live counts of one region (or one venue): who may check in (paid or refund denied, and
/// those already checked in), who did, and who has not yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Expected: paid, refund denied, or checked in.
    pub expected: u64,
    /// Checked in.
    pub checked_in: u64,
    /// Checked in with the printed static code (part of `checked_in`).
    pub by_static_code: u64,
    /// Checked in by staff (part of `checked_in`).
    pub by_staff: u64,
}

impl Count {
    /// Expected and not checked in yet.
    pub fn not_yet(&self) -> u64 {
        self.expected.saturating_sub(self.checked_in)
    }
}

/// The live counts of a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// The whole period.
    pub total: Count,
    /// Per region, in the period's order.
    pub regions: Vec<(RegionId, Count)>,
    /// Per venue: its region's expected (every region's for a venue that serves all), and who
    /// checked in there.
    pub venues: Vec<(VenueId, Count)>,
}

/// The live counts of a period (two grouped queries).
pub fn counts(conn: &mut DbConnection, period: &PeriodDetail) -> Result<Counts, StoreError> {
    let checked_in = [State::CheckedIn, State::Completed].map(State::as_str);
    let expected_states =
        [State::Paid, State::RefundDenied, State::CheckedIn, State::Completed].map(State::as_str);
    let by_region: Vec<(String, String, Option<String>, i64)> = r::table
        .filter(r::period_id.eq(sql::text(period.id)))
        .filter(r::state.eq_any(expected_states))
        .group_by((r::region_id, r::state, r::checkin_proof))
        .select((r::region_id, r::state, r::checkin_proof, diesel::dsl::count_star()))
        .load(conn)?;
    let by_venue: Vec<(Option<String>, Option<String>, i64)> = r::table
        .filter(r::period_id.eq(sql::text(period.id)))
        .filter(r::state.eq_any(checked_in))
        .group_by((r::checkin_venue_id, r::checkin_proof))
        .select((r::checkin_venue_id, r::checkin_proof, diesel::dsl::count_star()))
        .load(conn)?;
    let arrived = |count: &mut Count, proof: Option<&str>, n: u64| {
        count.checked_in += n;
        match proof {
            Some(p) if p == CheckInProof::StaticCode.as_str() => count.by_static_code += n,
            Some(p) if p == CheckInProof::Staff.as_str() => count.by_staff += n,
            _ => {}
        }
    };
    let add = |count: &mut Count, state: &str, proof: Option<&str>, n: i64| {
        let n = u64::try_from(n).unwrap_or(0);
        count.expected += n;
        if checked_in.contains(&state) {
            arrived(count, proof, n);
        }
    };
    let mut total = Count::default();
    let mut regions: Vec<(RegionId, Count)> =
        period.regions.iter().map(|region| (region.id, Count::default())).collect();
    for (region, state, proof, n) in &by_region {
        add(&mut total, state, proof.as_deref(), *n);
        let region: RegionId = sql::id(region)?;
        if let Some((_, count)) = regions.iter_mut().find(|(id, _)| *id == region) {
            add(count, state, proof.as_deref(), *n);
        }
    }
    let venues = period
        .venues
        .iter()
        .map(|venue| {
            let mut count = Count {
                expected: match venue.region {
                    Some(region) => {
                        regions.iter().find(|(id, _)| *id == region).map_or(0, |(_, c)| c.expected)
                    }
                    None => total.expected,
                },
                ..Count::default()
            };
            let here = sql::text(venue.id);
            for (venue_id, proof, n) in &by_venue {
                if venue_id.as_deref() == Some(here.as_str()) {
                    arrived(&mut count, proof.as_deref(), u64::try_from(*n).unwrap_or(0));
                }
            }
            (venue.id, count)
        })
        .collect();
    Ok(Counts { total, regions, venues })
}
