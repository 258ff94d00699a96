//! The one writer of a registration's state.
//!
//! Everything that changes a registration's status comes here: a first submission
//! (`create`), every event (`apply_event`, which [`crate::registrations::apply`] and the
//! payments, refunds, review and clock code call), and the settlement of money
//! (`write_decision`, after the ledger asked `lifecycle::settle`). In one write transaction
//! this module:
//!
//! 1. loads the registration (`load_for`: another participant's is "not found");
//! 2. claims it (`claim`: a no-op `UPDATE … WHERE version = ?` that locks the row on
//!    PostgreSQL and detects a concurrent writer);
//! 3. reads the facts the guards look at (`current_facts`: the period's schedule, whether a
//!    WeChat order is open) and, for an approval, takes a seat atomically;
//! 4. asks the state machine (`lifecycle::decide`); a refusal rolls everything back;
//! 5. writes the new status (`version + 1`), the seat change, the event-log row, and what the
//!    decision's effects and notice schedule: jobs, the refund row of a refund, the 冲红 flag
//!    of an invoice whose money went back.
//!
//! Nothing else in the store writes `registrations.state`.

use baoming_domain::Money;
use baoming_domain::ids::{
    EventId, ExamTypeId, ParticipantId, PeriodId, PhotoId, RegionId, RegistrationId, StaffId,
    VenueId,
};
use baoming_domain::lifecycle::{
    self, Actor, CheckInProof, Decision, Effect, Event, EventKind, Facts, Flag, PaymentFacts,
    PaymentMethod, Reason, SeatAnswer, SeatChange, State, Status, Step, Unchanged,
};
use baoming_domain::period::{ChosenSubject, Schedule};
use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamp};
use serde::Serialize;

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::jobs::{self, Job};
use crate::payments::{OrderState, refunds};
use crate::prepared::fixed_statement;
use crate::schema::{payment_orders, registration_events, registrations};
use crate::{invoices, periods, sql};

/// Who causes a change (the event log's "who").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// A participant; may only touch their own registrations.
    Participant(ParticipantId),
    /// A staff user acting in one of their roles.
    Staff {
        /// The user.
        id: StaffId,
        /// The role acted in (reviewer, finance, check-in staff or admin).
        role: Actor,
    },
    /// WeChat Pay.
    PaymentProvider,
    /// The worker's clock.
    Clock,
}

impl Who {
    /// The state machine's actor.
    pub fn actor(self) -> Actor {
        match self {
            Who::Participant(_) => Actor::Participant,
            Who::Staff { role, .. } => role,
            Who::PaymentProvider => Actor::PaymentProvider,
            Who::Clock => Actor::Clock,
        }
    }

    fn reference(self) -> Option<String> {
        match self {
            Who::Participant(id) => Some(id.to_string()),
            Who::Staff { id, .. } => Some(id.to_string()),
            Who::PaymentProvider | Who::Clock => None,
        }
    }
}

/// The circumstances of a change.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// Who.
    pub who: Who,
    /// When.
    pub now: DateTime<Utc>,
    /// The request that caused it (for the event log), if any.
    pub request_id: Option<String>,
}

/// A registration as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    /// Id.
    pub id: RegistrationId,
    /// Whose.
    pub participant: ParticipantId,
    /// Which period.
    pub period: PeriodId,
    /// Which region.
    pub region: RegionId,
    /// Which exam type.
    pub exam_type: ExamTypeId,
    /// The subjects chosen (snapshot).
    pub subjects: Vec<ChosenSubject>,
    /// The invoice title chosen, as it was at submission (snapshot), if any.
    pub invoice_snapshot: Option<baoming_invoicing::InvoiceSnapshot>,
    /// The joint-invoice remark (同单位合开), if any.
    pub joint_invoice_remark: Option<String>,
    /// The photo.
    pub photo: Option<PhotoId>,
    /// The fee.
    pub fee: Money,
    /// State and flag.
    pub status: Status,
    /// Incremented by every write (optimistic concurrency).
    pub version: i32,
    /// Why it was last rejected (while rejected).
    pub rejection_reason: Option<String>,
    /// How it was paid.
    pub payment_method: Option<PaymentMethod>,
    /// First submission.
    pub submitted_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// When, where and how it was checked in, once it was.
    pub checkin: Option<CheckIn>,
}

/// A registration's check-in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckIn {
    /// When.
    pub at: DateTime<Utc>,
    /// Where (the venue of the code, or the one staff chose).
    pub venue: Option<VenueId>,
    /// How: the rotating code, the printed static code, or by staff.
    pub proof: CheckInProof,
}

/// A `registrations` row as read.
#[derive(Queryable, Selectable)]
#[diesel(table_name = registrations)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct RegistrationRow {
    id: String,
    participant_id: String,
    period_id: String,
    region_id: String,
    exam_type_id: String,
    subjects: String,
    invoice_snapshot: Option<String>,
    joint_invoice_remark: Option<String>,
    photo_id: Option<String>,
    fee_fen: i64,
    state: String,
    flag: Option<String>,
    version: i32,
    rejection_reason: Option<String>,
    payment_method: Option<String>,
    submitted_at: NaiveDateTime,
    updated_at: NaiveDateTime,
    checked_in_at: Option<NaiveDateTime>,
    checkin_venue_id: Option<String>,
    checkin_proof: Option<String>,
}

impl RegistrationRow {
    /// The row's id as stored.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

impl TryFrom<RegistrationRow> for Registration {
    type Error = StoreError;

    fn try_from(row: RegistrationRow) -> Result<Self, StoreError> {
        Ok(Registration {
            id: sql::id(&row.id)?,
            participant: sql::id(&row.participant_id)?,
            period: sql::id(&row.period_id)?,
            region: sql::id(&row.region_id)?,
            exam_type: sql::id(&row.exam_type_id)?,
            subjects: serde_json::from_str(&row.subjects).map_err(StoreError::corrupt)?,
            invoice_snapshot: row
                .invoice_snapshot
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(StoreError::corrupt)?,
            joint_invoice_remark: row.joint_invoice_remark,
            photo: row.photo_id.as_deref().map(sql::id).transpose()?,
            fee: Money::from_fen(row.fee_fen).map_err(StoreError::corrupt)?,
            status: Status {
                state: State::parse(&row.state).map_err(StoreError::corrupt)?,
                flag: row
                    .flag
                    .as_deref()
                    .map(Flag::parse)
                    .transpose()
                    .map_err(StoreError::corrupt)?,
            },
            version: row.version,
            rejection_reason: row.rejection_reason,
            payment_method: row
                .payment_method
                .as_deref()
                .map(PaymentMethod::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            submitted_at: sql::utc(row.submitted_at),
            updated_at: sql::utc(row.updated_at),
            checkin: match (row.checked_in_at, row.checkin_proof) {
                (Some(at), Some(proof)) => Some(CheckIn {
                    at: sql::utc(at),
                    venue: row.checkin_venue_id.as_deref().map(sql::id).transpose()?,
                    proof: CheckInProof::parse(&proof).map_err(StoreError::corrupt)?,
                }),
                _ => None,
            },
        })
    }
}

/// Loads a registration.
pub(crate) fn load(
    conn: &mut DbConnection,
    id: RegistrationId,
) -> Result<Registration, StoreError> {
    crate::db::on_backend!(conn, c => registrations::table
        .find(sql::text(id))
        .select(RegistrationRow::as_select())
        .first(c)
        .optional())?
    .ok_or(StoreError::NotFound { entity: "registration" })?
    .try_into()
}

/// Loads a registration for `who`: a participant only ever finds their own.
pub(crate) fn load_for(
    conn: &mut DbConnection,
    id: RegistrationId,
    who: Who,
) -> Result<Registration, StoreError> {
    let current = load(conn, id)?;
    match who {
        Who::Participant(participant) if participant != current.participant => {
            Err(StoreError::NotFound { entity: "registration" })
        }
        _ => Ok(current),
    }
}

fixed_statement! {
    /// The no-op write of [`claim`]: the row's version set to itself where it is still the one
    /// read.
    struct Claim<'a> { id: &'a str, version: i32 }
    sql = [
        "UPDATE registrations SET version = " {version: Integer}
        " WHERE id = " {id: Text} " AND version = " {version: Integer}
    ];
}

fixed_statement! {
    /// A transition's status write ([`write_decision`]), guarded by the version read.
    struct WriteStatus<'a> {
        id: &'a str,
        read_version: i32,
        checked_in_at: Option<NaiveDateTime>,
        checkin_proof: Option<&'a str>,
        checkin_venue_id: Option<&'a str>,
        state: &'a str,
        flag: Option<&'a str>,
        version: i32,
        live_period_id: Option<&'a str>,
        rejection_reason: Option<&'a str>,
        payment_method: Option<&'a str>,
        updated_at: NaiveDateTime,
    }
    sql = [
        "UPDATE registrations SET checked_in_at = " {checked_in_at: Nullable<Timestamp>}
        ", checkin_proof = " {checkin_proof: Nullable<Text>}
        ", checkin_venue_id = " {checkin_venue_id: Nullable<Text>}
        ", state = " {state: Text}
        ", flag = " {flag: Nullable<Text>}
        ", version = " {version: Integer}
        ", live_period_id = " {live_period_id: Nullable<Text>}
        ", rejection_reason = " {rejection_reason: Nullable<Text>}
        ", payment_method = " {payment_method: Nullable<Text>}
        ", updated_at = " {updated_at: Timestamp}
        " WHERE id = " {id: Text} " AND version = " {read_version: Integer}
    ];
}

/// Locks the row (PostgreSQL) and checks nobody changed it since it was read: a no-op update
/// guarded by the version. A concurrent writer that committed first makes it match nothing.
pub(crate) fn claim(conn: &mut DbConnection, current: &Registration) -> Result<(), StoreError> {
    let id = sql::text(current.id);
    let claim = Claim { id: &id, version: current.version };
    let claimed = crate::db::on_backend!(conn, c => claim.execute(c))?;
    if claimed != 1 {
        return Err(conflict(conn, current.id)?);
    }
    Ok(())
}

fn conflict(conn: &mut DbConnection, id: RegistrationId) -> Result<StoreError, StoreError> {
    let now = load(conn, id)?;
    Ok(StoreError::Conflict { current: now.status.state })
}

/// What the state machine's guards look at for a registration at `now` (no seat asked; no
/// WeChat order known to be open — `current_facts` asks for the events that care).
pub fn facts(
    registration: &Registration,
    schedule: Schedule,
    period_closed: bool,
    now: DateTime<Utc>,
) -> Facts {
    Facts {
        now,
        schedule,
        period_closed,
        fee: registration.fee,
        seat: SeatAnswer::NotAsked,
        payment: PaymentFacts {
            paid_via: registration.payment_method,
            open_order: false,
            in_flight: false,
        },
    }
}

/// Whether the registration has a WeChat order that may still be paid.
pub fn has_open_order(
    conn: &mut DbConnection,
    registration: RegistrationId,
) -> Result<bool, StoreError> {
    let open = payment_orders::table
        .filter(payment_orders::registration_id.eq(sql::text(registration)))
        .filter(payment_orders::state.eq(OrderState::Open.as_str()))
        .count()
        .get_result::<i64>(conn)?;
    Ok(open > 0)
}

/// What the guards look at for `current` now: the period's schedule and, for the events
/// that care, whether a WeChat order is open.
pub(crate) fn current_facts(
    conn: &mut DbConnection,
    current: &Registration,
    event: EventKind,
    now: DateTime<Utc>,
) -> Result<Facts, StoreError> {
    let (schedule, closed) = periods::schedule(conn, current.period)?;
    let mut facts = facts(current, schedule, closed, now);
    if matches!(
        event,
        EventKind::Withdraw | EventKind::PaymentDeadlinePassed | EventKind::SittingEnded
    ) {
        facts.payment.open_order = has_open_order(conn, current.id)?;
    }
    Ok(facts)
}

/// What applying an event did.
#[derive(Debug, Clone)]
pub enum Applied {
    /// The status changed; one event-log row was written.
    Moved {
        /// The registration after the change.
        registration: Registration,
        /// The decision written.
        decision: Decision,
    },
    /// An idempotent repeat: nothing was written.
    Unchanged {
        /// The registration, as it is.
        registration: Registration,
        /// Why nothing changed.
        why: Unchanged,
    },
}

impl Applied {
    /// The registration after the call.
    pub fn registration(&self) -> &Registration {
        match self {
            Applied::Moved { registration, .. } | Applied::Unchanged { registration, .. } => {
                registration
            }
        }
    }
}

/// Applies an event to a registration inside the caller's write transaction: load for
/// `ctx.who`, claim, facts, decide, write. `paying_now` is what WeChat Pay said of the open
/// order just before a withdrawal (the person is in the middle of paying).
///
/// Payments are settled by the ledger (`payments::record_payment`), never here.
pub(crate) fn apply_event(
    conn: &mut DbConnection,
    id: RegistrationId,
    event: &Event,
    ctx: &Ctx,
    paying_now: bool,
) -> Result<Applied, StoreError> {
    if let Event::ConfirmPayment { .. } = event {
        // Every payment has its row in the ledger: it goes through `payments`.
        return Err(StoreError::Misuse(
            "payments are recorded with payments::record_payment or payments::confirm_transfer",
        ));
    }
    let current = load_for(conn, id, ctx.who)?;
    apply_loaded(conn, current, event, ctx, paying_now)
}

/// [`apply_event`] on a registration the caller loaded in this transaction.
pub(crate) fn apply_loaded(
    conn: &mut DbConnection,
    current: Registration,
    event: &Event,
    ctx: &Ctx,
    paying_now: bool,
) -> Result<Applied, StoreError> {
    claim(conn, &current)?;
    let mut facts = current_facts(conn, &current, event.kind(), ctx.now)?;
    facts.payment.in_flight = paying_now;
    apply_with_facts(conn, current, event, ctx, facts)
}

/// [`apply_loaded`] with the facts the caller already read for `current` (its schedule, an
/// open order, a payment in flight). A registration that changed since it was read is a
/// [`StoreError::Conflict`]: claimed here before a seat is taken (an approval), otherwise
/// found by the write itself, which is guarded by the version read — one statement fewer. An
/// `Unchanged` answer is judged on `current` as read.
pub(crate) fn apply_read_with_facts(
    conn: &mut DbConnection,
    current: Registration,
    event: &Event,
    ctx: &Ctx,
    facts: Facts,
) -> Result<Applied, StoreError> {
    if event.kind().takes_seat() {
        claim(conn, &current)?;
    }
    apply_with_facts(conn, current, event, ctx, facts)
}

fn apply_with_facts(
    conn: &mut DbConnection,
    current: Registration,
    event: &Event,
    ctx: &Ctx,
    facts: Facts,
) -> Result<Applied, StoreError> {
    let seat = if event.kind().takes_seat() {
        if periods::take_seat(conn, current.region)? { SeatAnswer::Taken } else { SeatAnswer::Full }
    } else {
        SeatAnswer::NotAsked
    };
    let facts = Facts { seat, ..facts };
    let decision = match lifecycle::decide(current.status, event, ctx.who.actor(), &facts)? {
        Step::Unchanged(why) => {
            return Ok(Applied::Unchanged { registration: current, why });
        }
        Step::Moved(decision) => decision,
    };
    if decision.seat_change() == SeatChange::Take && seat != SeatAnswer::Taken {
        return Err(StoreError::corrupt("a seat-taking decision without a seat"));
    }
    let registration = write_decision(conn, &current, &decision, Some(event), None, ctx)?;
    Ok(Applied::Moved { registration, decision })
}

/// Writes an accepted decision about `current` (as read in this transaction; a change since is a
/// [`StoreError::Conflict`], the status write being guarded by its version): the status,
/// the seat change (a seat to take was taken before deciding), the event-log row, the notice
/// and the effects: jobs, and the refund row of an approved refund. `event` is what was
/// decided (its reason, and for a check-in where and how); `amount` is the money a payment
/// brought (for the event log). Answers the registration as written (not read back).
pub(crate) fn write_decision(
    conn: &mut DbConnection,
    current: &Registration,
    decision: &Decision,
    event: Option<&Event>,
    amount: Option<Money>,
    ctx: &Ctx,
) -> Result<Registration, StoreError> {
    let id = current.id;
    // To the microsecond, as both backends store it: the registration answered is the one a
    // later read finds.
    let at = ctx.now.trunc_subsecs(6);
    let reason = event.and_then(Event::reason);
    if decision.seat_change() == SeatChange::Release {
        periods::release_seat(conn, current.region)?;
    }
    let version = current.version + 1;
    let rejection_reason = match decision.event {
        EventKind::Reject => reason.map(Reason::as_str),
        _ if decision.to.state == State::Rejected => current.rejection_reason.as_deref(),
        _ => None,
    };
    let live_period = decision.to.state.is_live().then(|| sql::text(current.period));
    // A check-in records when, where and how; every other change keeps what was recorded.
    let checkin = match event {
        Some(Event::CheckIn { proof, venue }) if decision.to.state == State::CheckedIn => {
            Some(CheckIn { at, venue: *venue, proof: *proof })
        }
        _ => current.checkin,
    };
    let paid_via = decision.paid_via.or(current.payment_method);
    // Every transition runs it: on the backend's own connection (`db::on_backend!`).
    let text_id = sql::text(id);
    let venue = checkin.and_then(|c| c.venue.map(sql::text));
    let write = WriteStatus {
        id: &text_id,
        read_version: current.version,
        checked_in_at: checkin.map(|c| sql::ts(c.at)),
        checkin_proof: checkin.map(|c| c.proof.as_str()),
        checkin_venue_id: venue.as_deref(),
        state: decision.to.state.as_str(),
        flag: decision.to.flag.map(Flag::as_str),
        version,
        live_period_id: live_period.as_deref(),
        rejection_reason,
        payment_method: paid_via.map(PaymentMethod::as_str),
        updated_at: sql::ts(at),
    };
    // Every transition runs it: on the backend's own connection, kept prepared.
    let written = crate::db::on_backend!(conn, c => write.execute(c))?;
    if written != 1 {
        return Err(conflict(conn, id)?);
    }
    let checkin_now = checkin.filter(|_| decision.event == EventKind::CheckIn);
    let details = EventDetails {
        amount_fen: amount.map(Money::fen),
        paid_via: decision.paid_via,
        effects: decision.effects.clone(),
        checkin_proof: checkin_now.map(|c| c.proof),
        checkin_venue: checkin_now.and_then(|c| c.venue.map(|v| v.to_string())),
    };
    log_event(
        conn,
        id,
        version,
        ctx,
        decision.event,
        Some(decision.from.state),
        decision.to,
        reason.map(Reason::as_str),
        &details,
    )?;
    if let Some(notice) = decision.notice() {
        let job = Job::Notify { registration: id, notice, version };
        jobs::enqueue(conn, &job, ctx.now, ctx.now)?;
    }
    for effect in &decision.effects {
        match effect {
            Effect::CloseProviderOrder => {
                jobs::enqueue(
                    conn,
                    &Job::CloseProviderOrder { registration: id },
                    ctx.now,
                    ctx.now,
                )?;
            }
            // The refund row of the payment that paid the registration: WeChat money gets the
            // job that carries the refund out; a transfer is returned by finance by hand.
            Effect::StartProviderRefund | Effect::ReturnTransferByHand => {
                refunds::refund_applied_payment(
                    conn,
                    current.id,
                    reason.map_or("退款申请已通过", Reason::as_str),
                    ctx.now,
                )?;
            }
            // The money went back: the registration's issued invoice is flagged for 冲红.
            Effect::ReverseInvoice => {
                invoices::registration_refunded(conn, current.id, ctx.now)?;
            }
        }
    }
    Ok(Registration {
        status: decision.to,
        version,
        rejection_reason: rejection_reason.map(str::to_owned),
        payment_method: paid_via,
        updated_at: at,
        checkin,
        ..current.clone()
    })
}

/// The form columns of a new registration, as [`create`] inserts them.
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = registrations, treat_none_as_null = true)]
pub(crate) struct FormColumns {
    pub(crate) region_id: String,
    pub(crate) exam_type_id: String,
    pub(crate) subjects: String,
    pub(crate) invoice_snapshot: Option<String>,
    pub(crate) joint_invoice_remark: Option<String>,
    pub(crate) photo_id: Option<String>,
    pub(crate) fee_fen: i64,
}

/// Inserts a submitted registration in the state the state machine decided (`lifecycle::submit`)
/// with its first event-log row. `Ok(None)` when a concurrent submission of the same person
/// for the same period won the race (the one-live-registration unique index).
pub(crate) fn create(
    conn: &mut DbConnection,
    participant: ParticipantId,
    period: PeriodId,
    form: FormColumns,
    status: Status,
    ctx: &Ctx,
) -> Result<Option<RegistrationId>, StoreError> {
    let id: RegistrationId = crate::new_id();
    // Every submission runs it: on the backend's own connection (`db::on_backend!`).
    let inserted = crate::db::on_backend!(conn, c => diesel::insert_into(registrations::table)
        .values((
            form,
            registrations::id.eq(sql::text(id)),
            registrations::participant_id.eq(sql::text(participant)),
            registrations::period_id.eq(sql::text(period)),
            registrations::state.eq(status.state.as_str()),
            registrations::flag.eq(status.flag.map(Flag::as_str)),
            registrations::version.eq(1),
            registrations::live_period_id.eq(status.state.is_live().then(|| sql::text(period))),
            registrations::submitted_at.eq(sql::ts(ctx.now)),
            registrations::updated_at.eq(sql::ts(ctx.now)),
        ))
        .execute(c));
    match inserted {
        Ok(_) => {}
        Err(e) if StoreError::is_unique_violation(&e) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    log_event(conn, id, 1, ctx, EventKind::Submit, None, status, None, &EventDetails::default())?;
    Ok(Some(id))
}

#[derive(Debug, Default, Serialize)]
struct EventDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_fen: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paid_via: Option<PaymentMethod>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    effects: Vec<Effect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkin_proof: Option<CheckInProof>,
    #[serde(skip_serializing_if = "Option::is_none")]
    checkin_venue: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn log_event(
    conn: &mut DbConnection,
    registration: RegistrationId,
    version: i32,
    ctx: &Ctx,
    event: EventKind,
    from: Option<State>,
    to: Status,
    reason: Option<&str>,
    details: &EventDetails,
) -> Result<EventId, StoreError> {
    let id: EventId = crate::new_id();
    let details = serde_json::to_string(details).map_err(StoreError::corrupt)?;
    let details = (details != "{}").then_some(details);
    // Every transition writes one: on the backend's own connection (`db::on_backend!`).
    crate::db::on_backend!(conn, c => diesel::insert_into(registration_events::table)
        .values((
            registration_events::id.eq(sql::text(id)),
            registration_events::registration_id.eq(sql::text(registration)),
            registration_events::version.eq(version),
            registration_events::at.eq(sql::ts(ctx.now)),
            registration_events::actor.eq(ctx.who.actor().as_str()),
            registration_events::actor_ref.eq(ctx.who.reference()),
            registration_events::event.eq(event.as_str()),
            registration_events::from_state.eq(from.map(State::as_str)),
            registration_events::to_state.eq(to.state.as_str()),
            registration_events::to_flag.eq(to.flag.map(Flag::as_str)),
            registration_events::reason.eq(reason),
            registration_events::request_id.eq(ctx.request_id.as_deref()),
            registration_events::details.eq(details.as_deref()),
        ))
        .execute(c))?;
    Ok(id)
}
