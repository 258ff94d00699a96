//! The clock's events (the clock rows of the registration lifecycle): a payment deadline that
//! passed, a sitting that ended.
//!
//! [`due_clock_events`] preselects, in SQL over the period's dates, the registrations a clock
//! event may concern; [`sweep`] applies each through [`registrations::apply`] as
//! [`Who::Clock`], so the state machine decides (and refuses what is not due). A registration
//! is changed at most once per event: a second sweep finds it closed, completed or already
//! flagged and writes nothing.

use baoming_domain::ids::RegistrationId;
use baoming_domain::lifecycle::{Event, Flag, State};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::{DbConnection, MultiBackend};
use crate::error::StoreError;
use crate::periods::ScheduleColumns;
use crate::registrations::{self, Applied, Ctx, Who};
use crate::schema::{periods, registrations as r};
use crate::sql;

/// Registrations looked at per query of a sweep.
const PAGE: i64 = 500;

/// Up to `limit` registrations, by id after `after`, whose clock event may be due at `now`,
/// with that event: [`Event::SittingEnded`] once the period's sitting has ended (pending
/// review, awaiting payment or transfer, checked in), otherwise
/// [`Event::PaymentDeadlinePassed`] once its payment deadline has passed (awaiting payment;
/// awaiting transfer not yet flagged overdue). The state machine has the last word.
pub fn due_clock_events(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    after: Option<RegistrationId>,
    limit: i64,
) -> Result<Vec<(RegistrationId, Event)>, StoreError> {
    let at = sql::ts(now);
    let ended =
        [State::PendingReview, State::AwaitingPayment, State::AwaitingTransfer, State::CheckedIn]
            .map(State::as_str);
    let sitting_ended = r::state.eq_any(ended).and(periods::exam_ends.le(at));
    let unpaid = r::state.eq(State::AwaitingPayment.as_str()).and(periods::payment_deadline.le(at));
    let transfer_overdue = r::state
        .eq(State::AwaitingTransfer.as_str())
        .and(periods::payment_deadline.le(at))
        .and(r::flag.is_null().or(r::flag.ne(Flag::TransferOverdue.as_str())));
    let mut query = r::table
        .inner_join(periods::table)
        .filter(sitting_ended.or(unpaid).or(transfer_overdue))
        .select((r::id, ScheduleColumns::as_select()))
        .order(r::id)
        .limit(limit)
        .into_boxed::<MultiBackend>();
    if let Some(after) = after {
        query = query.filter(r::id.gt(sql::text(after)));
    }
    query
        .load::<(String, ScheduleColumns)>(conn)?
        .into_iter()
        .map(|(id, columns)| {
            let schedule = columns.schedule()?;
            let event = if schedule.sitting_ended(now) {
                Event::SittingEnded
            } else {
                Event::PaymentDeadlinePassed
            };
            Ok((sql::id(&id)?, event))
        })
        .collect()
}

/// What a [`sweep`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Registrations moved (one event-log row each).
    pub moved: usize,
    /// Idempotent repeats (nothing written).
    pub unchanged: usize,
    /// Refused or changed concurrently (nothing written; logged).
    pub skipped: usize,
}

/// Applies every due clock event at `now`, each registration in its own transaction, as the
/// clock (`request_id` goes to the event log, e.g. the job's id). A refusal of the state
/// machine or a concurrent change skips that registration; a database failure stops the
/// sweep with an error (what was applied stays applied; the next sweep goes on).
pub fn sweep(
    conn: &mut DbConnection,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> Result<SweepReport, StoreError> {
    let ctx = Ctx { who: Who::Clock, now, request_id: request_id.map(str::to_owned) };
    let mut report = SweepReport::default();
    let mut after = None;
    loop {
        let due = due_clock_events(conn, now, after, PAGE)?;
        let Some(&(last, _)) = due.last() else { break };
        after = Some(last);
        for (id, event) in &due {
            match registrations::apply(conn, *id, event, &ctx) {
                Ok(Applied::Moved { decision, .. }) => {
                    report.moved += 1;
                    tracing::info!(
                        registration = %id,
                        event = event.kind().as_str(),
                        from = decision.from.state.as_str(),
                        to = decision.to.state.as_str(),
                        "clock event applied"
                    );
                }
                Ok(Applied::Unchanged { .. }) => report.unchanged += 1,
                Err(
                    e @ (StoreError::Transition(_)
                    | StoreError::Conflict { .. }
                    | StoreError::NotFound { .. }),
                ) => {
                    report.skipped += 1;
                    tracing::info!(registration = %id, error = %e, "clock event skipped");
                }
                Err(e) => return Err(e),
            }
        }
        if i64::try_from(due.len()).unwrap_or(i64::MAX) < PAGE {
            break;
        }
    }
    Ok(report)
}
