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

/// A period's WeChat Pay facts: orders against the payments the notifications recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentFacts {
    /// WeChat Pay orders of the period's registrations.
    pub orders: i64,
    /// Of them, marked paid.
    pub orders_paid: i64,
    /// Registrations in the state `paid`.
    pub registrations_paid: i64,
    /// Payment rows (any method) of the period's registrations.
    pub payments: i64,
    /// WeChat Pay payment rows that paid their registration (disposition `applied`).
    pub wechat_applied: i64,
    /// Orders with other than exactly one payment row (must be none).
    pub orders_without_one_payment: i64,
    /// Registrations with more than one payment row (must be none).
    pub registrations_paid_twice: i64,
    /// Payment rows whose amount differs from their order's (must be none).
    pub amount_mismatches: i64,
    /// Sum of the WeChat Pay payment rows' amounts, in fen.
    pub wechat_fen: i64,
    /// Distinct notifications recorded for the period's payments.
    pub notifications: i64,
}

/// Gathers a period's WeChat Pay facts.
pub fn payment_facts(
    conn: &mut DbConnection,
    period: PeriodId,
) -> Result<PaymentFacts, StoreError> {
    use std::collections::BTreeMap;

    use baoming_domain::lifecycle::PaymentMethod;

    use crate::payments::{Disposition, OrderState};
    use crate::schema::{payment_notifications as n, payment_orders as o, payments as p};
    let pid = sql::text(period);
    let orders: Vec<(String, String, i64, String)> = o::table
        .inner_join(r::table.on(r::id.eq(o::registration_id)))
        .filter(r::period_id.eq(&pid))
        .select((o::out_trade_no, o::registration_id, o::amount_fen, o::state))
        .load(conn)?;
    let payments: Vec<(String, String, Option<String>, i64, String)> = p::table
        .inner_join(r::table.on(r::id.eq(p::registration_id)))
        .filter(r::period_id.eq(&pid))
        .select((p::registration_id, p::method, p::out_trade_no, p::amount_fen, p::disposition))
        .load(conn)?;
    let registrations_paid: i64 = r::table
        .filter(r::period_id.eq(&pid))
        .filter(r::state.eq(State::Paid.as_str()))
        .count()
        .get_result(conn)?;
    let notifications: i64 = n::table
        .inner_join(p::table.on(p::id.eq(n::payment_id)))
        .inner_join(r::table.on(r::id.eq(p::registration_id)))
        .filter(r::period_id.eq(&pid))
        .count()
        .get_result(conn)?;
    let count = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
    let mut per_order: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    let mut per_registration: BTreeMap<&str, usize> = BTreeMap::new();
    for (registration, _, out_trade_no, amount, _) in &payments {
        *per_registration.entry(registration).or_default() += 1;
        if let Some(no) = out_trade_no {
            per_order.entry(no).or_default().push(*amount);
        }
    }
    let wechat = PaymentMethod::WechatPay.as_str();
    Ok(PaymentFacts {
        orders: count(orders.len()),
        orders_paid: count(
            orders.iter().filter(|(_, _, _, s)| s == OrderState::Paid.as_str()).count(),
        ),
        registrations_paid,
        payments: count(payments.len()),
        wechat_applied: count(
            payments
                .iter()
                .filter(|(_, m, _, _, d)| m == wechat && d == Disposition::Applied.as_str())
                .count(),
        ),
        orders_without_one_payment: count(
            orders
                .iter()
                .filter(|(no, ..)| per_order.get(no.as_str()).map_or(0, Vec::len) != 1)
                .count(),
        ),
        registrations_paid_twice: count(per_registration.values().filter(|n| **n > 1).count()),
        amount_mismatches: count(
            orders
                .iter()
                .filter(|(no, _, fen, _)| {
                    per_order.get(no.as_str()).is_some_and(|a| a.iter().any(|x| x != fen))
                })
                .count(),
        ),
        wechat_fen: payments
            .iter()
            .filter(|(_, m, ..)| m == wechat)
            .map(|(_, _, _, fen, _)| fen)
            .sum(),
        notifications,
    })
}
