//! Facts for consistency checks of a period (used by the load benchmark's invariants and by
//! operators): seats against registrations, and the event log against the state changes.

use baoming_domain::ids::PeriodId;
use baoming_domain::lifecycle::State;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::schema::{regions, registration_events as e, registrations as r};
use crate::sql;

/// One region: its capacity, its seat counter and how many registrations hold a seat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionFacts {
    /// Code.
    pub code: String,
    /// Seats.
    pub capacity: i64,
    /// The counter the approvals take from.
    pub seats_taken: i64,
    /// Registrations in a seat-holding state (the domain's `State::holds_seat`).
    pub holding: i64,
}

/// A period's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodFacts {
    /// Per region.
    pub regions: Vec<RegionFacts>,
    /// Registrations of the period.
    pub registrations: i64,
    /// Sum of the registrations' versions (each write adds one, starting at 1 on submit).
    pub version_sum: i64,
    /// Event-log rows of the period's registrations.
    pub events: i64,
}

/// Gathers the facts of a period.
pub fn period_facts(conn: &mut DbConnection, period: PeriodId) -> Result<PeriodFacts, StoreError> {
    let pid = sql::text(period);
    let holding_states: Vec<&str> =
        State::ALL.iter().filter(|s| s.holds_seat()).map(|s| s.as_str()).collect();
    let rows: Vec<(String, String, i32, i32)> = regions::table
        .filter(regions::period_id.eq(&pid))
        .order(regions::code)
        .select((regions::id, regions::code, regions::capacity, regions::seats_taken))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, code, capacity, seats_taken) in rows {
        let holding: i64 = r::table
            .filter(r::region_id.eq(&id))
            .filter(r::state.eq_any(&holding_states))
            .count()
            .get_result(conn)?;
        out.push(RegionFacts {
            code,
            capacity: i64::from(capacity),
            seats_taken: i64::from(seats_taken),
            holding,
        });
    }
    let versions: Vec<i32> =
        r::table.filter(r::period_id.eq(&pid)).select(r::version).load(conn)?;
    let events: i64 = e::table
        .inner_join(r::table.on(r::id.eq(e::registration_id)))
        .filter(r::period_id.eq(&pid))
        .count()
        .get_result(conn)?;
    Ok(PeriodFacts {
        regions: out,
        registrations: i64::try_from(versions.len()).unwrap_or(i64::MAX),
        version_sum: versions.iter().map(|v| i64::from(*v)).sum(),
        events,
    })
}

/// A period's check-in facts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckinFacts {
    /// Registrations checked in (or completed after the sitting).
    pub checked_in: i64,
    /// Check-in events in the log.
    pub checkin_events: i64,
    /// Registrations with more than one check-in event (must be none).
    pub checked_in_twice: i64,
}

/// Gathers a period's check-in facts.
pub fn checkin_facts(
    conn: &mut DbConnection,
    period: PeriodId,
) -> Result<CheckinFacts, StoreError> {
    use baoming_domain::lifecycle::EventKind;
    let pid = sql::text(period);
    let checked_in: i64 = r::table
        .filter(r::period_id.eq(&pid))
        .filter(r::state.eq_any([State::CheckedIn.as_str(), State::Completed.as_str()]))
        .count()
        .get_result(conn)?;
    let per_registration: Vec<(String, i64)> = e::table
        .inner_join(r::table.on(r::id.eq(e::registration_id)))
        .filter(r::period_id.eq(&pid))
        .filter(e::event.eq(EventKind::CheckIn.as_str()))
        .group_by(e::registration_id)
        .select((e::registration_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(CheckinFacts {
        checked_in,
        checkin_events: per_registration.iter().map(|(_, n)| n).sum(),
        checked_in_twice: i64::try_from(per_registration.iter().filter(|(_, n)| *n > 1).count())
            .unwrap_or(i64::MAX),
    })
}
