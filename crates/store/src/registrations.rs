//! Registrations: submission, every later transition, and the event log.
//!
//! [`apply`] is the one code path that writes a registration's state after submission: it
//! loads the row, asks the domain state machine, and writes the new status, its event-log row,
//! the seat change and the jobs the decision schedules in one write transaction.

use baoming_domain::Money;
use baoming_domain::ids::{
    EventId, ExamTypeId, ParticipantId, PeriodId, PhotoId, RegionId, RegistrationId, StaffId,
};
use baoming_domain::lifecycle::{
    self, Actor, Decision, Event, EventKind, Facts, Flag, PaymentFacts, PaymentMethod, SeatAnswer,
    SeatChange, State, Status, Step, SubmitFacts, TransitionError, Unchanged,
};
use baoming_domain::period::{ChoiceError, ChosenSubject, Schedule, SubjectChoice};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::jobs::{self, Job};
use crate::pii::PiiCipher;
use crate::schema::{registration_events, registrations};
use crate::{participants, periods, photos, sql};

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
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = registrations)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct RegistrationRow {
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
        })
    }
}

pub(crate) fn load(
    conn: &mut DbConnection,
    id: RegistrationId,
) -> Result<Registration, StoreError> {
    registrations::table
        .find(sql::text(id))
        .select(RegistrationRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "registration" })?
        .try_into()
}

/// Several registrations by id, in the order given (missing ids are skipped).
pub fn get_many(
    conn: &mut DbConnection,
    ids: &[RegistrationId],
) -> Result<Vec<Registration>, StoreError> {
    let texts: Vec<String> = ids.iter().map(|id| sql::text(*id)).collect();
    let mut found: std::collections::HashMap<String, RegistrationRow> = registrations::table
        .filter(registrations::id.eq_any(&texts))
        .select(RegistrationRow::as_select())
        .load::<RegistrationRow>(conn)?
        .into_iter()
        .map(|row| (row.id.clone(), row))
        .collect();
    texts.iter().filter_map(|id| found.remove(id)).map(Registration::try_from).collect()
}

/// Loads a registration (staff and system use).
pub fn get(conn: &mut DbConnection, id: RegistrationId) -> Result<Registration, StoreError> {
    load(conn, id)
}

/// Loads a participant's own registration; someone else's is "not found".
pub fn get_for_participant(
    conn: &mut DbConnection,
    id: RegistrationId,
    participant: ParticipantId,
) -> Result<Registration, StoreError> {
    let registration = load(conn, id)?;
    if registration.participant != participant {
        return Err(StoreError::NotFound { entity: "registration" });
    }
    Ok(registration)
}

/// A participant's registrations, newest first.
pub fn list_for_participant(
    conn: &mut DbConnection,
    participant: ParticipantId,
) -> Result<Vec<Registration>, StoreError> {
    registrations::table
        .filter(registrations::participant_id.eq(sql::text(participant)))
        .order(registrations::submitted_at.desc())
        .select(RegistrationRow::as_select())
        .load(conn)?
        .into_iter()
        .map(Registration::try_from)
        .collect()
}

/// The registration form of a first submission.
#[derive(Debug, Clone)]
pub struct NewRegistration {
    /// Who submits.
    pub participant: ParticipantId,
    /// For which period.
    pub period: PeriodId,
    /// In which region.
    pub region: RegionId,
    /// Which exam type.
    pub exam_type: ExamTypeId,
    /// Which subjects.
    pub subjects: Vec<SubjectChoice>,
    /// The invoice title chosen (a snapshot of it), if any.
    pub invoice_snapshot: Option<baoming_invoicing::InvoiceSnapshot>,
    /// The joint-invoice remark (同单位合开), if any.
    pub joint_invoice_remark: Option<String>,
    /// The ID photo.
    pub photo: Option<PhotoId>,
}

/// Why a submission was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The state machine refused (window closed, incomplete profile, no photo, duplicate…).
    #[error(transparent)]
    Refused(#[from] TransitionError),
    /// Region, exam type, subjects or fee do not fit the period.
    #[error(transparent)]
    InvalidChoice(ChoiceError),
    /// Anything else.
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SubmitError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Transition(refused) => SubmitError::Refused(refused),
            other => SubmitError::Store(other),
        }
    }
}

/// Checks region, exam type, subjects and fee against the period: the subject snapshot and
/// the fee, or the first problem.
fn check_choice(
    conn: &mut DbConnection,
    form: &NewRegistration,
) -> Result<Result<(Vec<ChosenSubject>, Money), ChoiceError>, StoreError> {
    let region = match periods::region(conn, form.region) {
        Ok(region) => region,
        Err(StoreError::NotFound { .. }) => return Ok(Err(ChoiceError::RegionNotOffered)),
        Err(e) => return Err(e),
    };
    if region.period_id != form.period {
        return Ok(Err(ChoiceError::RegionNotOffered));
    }
    periods::check_choice(conn, form.period, form.exam_type, &form.subjects)
}

fn has_live_registration(
    conn: &mut DbConnection,
    participant: ParticipantId,
    period: PeriodId,
) -> Result<bool, StoreError> {
    let found = registrations::table
        .filter(registrations::participant_id.eq(sql::text(participant)))
        .filter(registrations::live_period_id.eq(sql::text(period)))
        .select(registrations::id)
        .first::<String>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// The columns a registration form fills (the same for a submission and a resubmission).
#[derive(Insertable, AsChangeset)]
#[diesel(table_name = registrations, treat_none_as_null = true)]
struct FormColumns {
    region_id: String,
    exam_type_id: String,
    subjects: String,
    invoice_snapshot: Option<String>,
    joint_invoice_remark: Option<String>,
    photo_id: Option<String>,
    fee_fen: i64,
}

impl FormColumns {
    fn new(
        form: &NewRegistration,
        subjects: &[ChosenSubject],
        fee: Money,
    ) -> Result<Self, StoreError> {
        Ok(FormColumns {
            region_id: sql::text(form.region),
            exam_type_id: sql::text(form.exam_type),
            subjects: serde_json::to_string(subjects).map_err(StoreError::corrupt)?,
            invoice_snapshot: form
                .invoice_snapshot
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(StoreError::corrupt)?,
            joint_invoice_remark: form.joint_invoice_remark.clone(),
            photo_id: form.photo.map(sql::text),
            fee_fen: fee.fen(),
        })
    }
}

/// Whether the form's photo exists and is the participant's own.
fn photo_accepted(conn: &mut DbConnection, form: &NewRegistration) -> Result<bool, StoreError> {
    match form.photo {
        Some(photo) => photos::is_owned_by(conn, photo, form.participant),
        None => Ok(false),
    }
}

/// Submits a registration: the domain decides, then the row, its first event-log row and the
/// lock of the participant's identity fields are written in one transaction.
pub fn submit(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    form: &NewRegistration,
    ctx: &Ctx,
) -> Result<Registration, SubmitError> {
    if ctx.who != Who::Participant(form.participant) {
        return Err(TransitionError {
            state: None,
            event: EventKind::Submit,
            refusal: lifecycle::Refusal::WrongActor,
        }
        .into());
    }
    // The period, the profile, the photo and the choice are read before the write lock is
    // taken: on SQLite every write transaction waits for the one before, so the locked part is
    // kept to what must be consistent with the insert (the one-live-registration rule, which the
    // unique index backs up anyway).
    let (schedule, period_closed) = periods::schedule(conn, form.period)?;
    let profile_complete = participants::get(conn, cipher, form.participant)?.profile.is_complete();
    let photo_accepted = photo_accepted(conn, form)?;
    let choice = check_choice(conn, form)?;
    write_tx(conn, |conn| {
        let facts = SubmitFacts {
            now: ctx.now,
            schedule,
            period_closed,
            profile_complete,
            photo_accepted,
            choice_valid: choice.is_ok(),
            has_live_registration: has_live_registration(conn, form.participant, form.period)?,
        };
        let status = match lifecycle::submit(ctx.who.actor(), &facts) {
            Ok(status) => status,
            Err(e) if e.refusal == lifecycle::Refusal::InvalidChoice => {
                return Err(SubmitError::InvalidChoice(
                    choice.err().unwrap_or(ChoiceError::ExamTypeNotOffered),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let (subjects, fee) = choice.map_err(SubmitError::InvalidChoice)?;
        let id: RegistrationId = crate::new_id();
        let inserted = diesel::insert_into(registrations::table)
            .values((
                FormColumns::new(form, &subjects, fee)?,
                registrations::id.eq(sql::text(id)),
                registrations::participant_id.eq(sql::text(form.participant)),
                registrations::period_id.eq(sql::text(form.period)),
                registrations::state.eq(status.state.as_str()),
                registrations::flag.eq(status.flag.map(Flag::as_str)),
                registrations::version.eq(1),
                registrations::live_period_id.eq(sql::text(form.period)),
                registrations::submitted_at.eq(sql::ts(ctx.now)),
                registrations::updated_at.eq(sql::ts(ctx.now)),
            ))
            .execute(conn);
        match inserted {
            Ok(_) => {}
            // A concurrent second submission for the same period lost the race.
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(TransitionError {
                    state: None,
                    event: EventKind::Submit,
                    refusal: lifecycle::Refusal::DuplicateRegistration,
                }
                .into());
            }
            Err(e) => return Err(e.into()),
        }
        log_event(
            conn,
            id,
            1,
            ctx,
            EventKind::Submit,
            None,
            status,
            None,
            &EventDetails::default(),
        )?;
        participants::lock_identity(conn, form.participant, ctx.now)?;
        Ok(load(conn, id)?)
    })
}

/// What [`apply`] did.
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

/// Applies an event to a registration through the state machine, writing the new status, its
/// event-log row, the seat change and the scheduled jobs in one transaction.
///
/// Errors: [`StoreError::NotFound`] (also for another participant's registration),
/// [`StoreError::Transition`] when the domain refuses (nothing written),
/// [`StoreError::Conflict`] when a concurrent change won the race (nothing written).
pub fn apply(
    conn: &mut DbConnection,
    id: RegistrationId,
    event: &Event,
    ctx: &Ctx,
) -> Result<Applied, StoreError> {
    if let Event::ConfirmPayment { .. } = event {
        // Every payment has its row in the ledger: it goes through `payments`.
        return Err(StoreError::Misuse(
            "payments are recorded with payments::record_payment or payments::confirm_transfer",
        ));
    }
    write_tx(conn, |conn| {
        let current = load_for(conn, id, ctx.who)?;
        apply_loaded(conn, current, event, ctx, false)
    })
}

/// The participant withdraws (取消报名); `paying_now` is what WeChat Pay said of the open
/// order just before (the person is in the middle of paying), which the state machine
/// refuses.
pub fn withdraw(
    conn: &mut DbConnection,
    id: RegistrationId,
    paying_now: bool,
    ctx: &Ctx,
) -> Result<Applied, StoreError> {
    write_tx(conn, |conn| {
        let current = load_for(conn, id, ctx.who)?;
        apply_loaded(conn, current, &Event::Withdraw, ctx, paying_now)
    })
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

/// The body of [`apply`], inside its transaction.
fn apply_loaded(
    conn: &mut DbConnection,
    current: Registration,
    event: &Event,
    ctx: &Ctx,
    paying_now: bool,
) -> Result<Applied, StoreError> {
    claim(conn, &current)?;
    let seat = if event.kind().takes_seat() {
        if periods::take_seat(conn, current.region)? { SeatAnswer::Taken } else { SeatAnswer::Full }
    } else {
        SeatAnswer::NotAsked
    };
    let mut facts = Facts { seat, ..current_facts(conn, &current, event.kind(), ctx.now)? };
    facts.payment.in_flight = paying_now;
    let decision = match lifecycle::decide(current.status, event, ctx.who.actor(), &facts)? {
        Step::Unchanged(why) => {
            return Ok(Applied::Unchanged { registration: current, why });
        }
        Step::Moved(decision) => decision,
    };
    if decision.seat_change() == SeatChange::Take && seat != SeatAnswer::Taken {
        return Err(StoreError::corrupt("a seat-taking decision without a seat"));
    }
    let amount = match event {
        Event::ConfirmPayment { amount, .. } => Some(*amount),
        _ => None,
    };
    write_decision(conn, &current, &decision, event.reason(), amount, ctx)?;
    Ok(Applied::Moved { registration: load(conn, current.id)?, decision })
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
        facts.payment.open_order = crate::payments::has_open_order(conn, current.id)?;
    }
    Ok(facts)
}

/// Writes an accepted decision about `current` (claimed in this transaction): the status,
/// the seat change (a seat to take was taken before deciding), the event-log row and the jobs
/// its effects schedule.
pub(crate) fn write_decision(
    conn: &mut DbConnection,
    current: &Registration,
    decision: &Decision,
    reason: Option<&lifecycle::Reason>,
    amount: Option<Money>,
    ctx: &Ctx,
) -> Result<(), StoreError> {
    let id = current.id;
    if decision.seat_change() == SeatChange::Release {
        periods::release_seat(conn, current.region)?;
    }
    let version = current.version + 1;
    let rejection_reason = match decision.event {
        EventKind::Reject => reason.map(|r| r.as_str()),
        _ if decision.to.state == State::Rejected => current.rejection_reason.as_deref(),
        _ => None,
    };
    let live_period = decision.to.state.is_live().then(|| sql::text(current.period));
    let written = diesel::update(registrations::table.find(sql::text(id)))
        .filter(registrations::version.eq(current.version))
        .set((
            registrations::state.eq(decision.to.state.as_str()),
            registrations::flag.eq(decision.to.flag.map(Flag::as_str)),
            registrations::version.eq(version),
            registrations::live_period_id.eq(live_period),
            registrations::rejection_reason.eq(rejection_reason),
            registrations::payment_method
                .eq(decision.paid_via.or(current.payment_method).map(PaymentMethod::as_str)),
            registrations::updated_at.eq(sql::ts(ctx.now)),
        ))
        .execute(conn)?;
    if written != 1 {
        return Err(conflict(conn, id)?);
    }
    let details = EventDetails {
        amount_fen: amount.map(Money::fen),
        paid_via: decision.paid_via,
        effects: decision.effects.clone(),
    };
    log_event(
        conn,
        id,
        version,
        ctx,
        decision.event,
        Some(decision.from.state),
        decision.to,
        reason.map(|r| r.as_str()),
        &details,
    )?;
    if let Some(notice) = decision.notice() {
        let job = Job::Notify { registration: id, notice, version };
        jobs::enqueue(conn, &job, ctx.now, ctx.now)?;
    }
    if decision.event == EventKind::ApproveRefund
        && !decision.effects.contains(&lifecycle::Effect::StartProviderRefund)
    {
        // A transfer is returned by finance by hand: its refund row is what they act on.
        crate::payments::refund_applied_payment(conn, current, reason, ctx)?;
    }
    for effect in &decision.effects {
        match effect {
            lifecycle::Effect::CloseProviderOrder => {
                jobs::enqueue(
                    conn,
                    &Job::CloseProviderOrder { registration: id },
                    ctx.now,
                    ctx.now,
                )?;
            }
            lifecycle::Effect::StartProviderRefund => {
                crate::payments::refund_applied_payment(conn, current, reason, ctx)?;
            }
        }
    }
    Ok(())
}

/// What the state machine's guards look at for a registration at `now` (no seat asked; no
/// WeChat order known to be open — [`apply`] asks the ledger for the events that care).
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

/// Resubmits a rejected registration with an edited form (重新报名): the state machine
/// decides, then the form is checked against the period like a first submission and written
/// with the transition, all in one transaction. The period cannot change.
pub fn resubmit(
    conn: &mut DbConnection,
    id: RegistrationId,
    form: &NewRegistration,
    ctx: &Ctx,
) -> Result<Applied, SubmitError> {
    write_tx(conn, |conn| {
        let current = load_for(conn, id, ctx.who)?;
        let form = NewRegistration {
            participant: current.participant,
            period: current.period,
            ..form.clone()
        };
        let state = current.status.state;
        let applied = apply_loaded(conn, current, &Event::Resubmit, ctx, false)?;
        if !photo_accepted(conn, &form)? {
            return Err(TransitionError {
                state: Some(state),
                event: EventKind::Resubmit,
                refusal: lifecycle::Refusal::PhotoMissing,
            }
            .into());
        }
        let (subjects, fee) = check_choice(conn, &form)?.map_err(SubmitError::InvalidChoice)?;
        diesel::update(registrations::table.find(sql::text(id)))
            .set(FormColumns::new(&form, &subjects, fee)?)
            .execute(conn)?;
        Ok(match applied {
            Applied::Moved { decision, .. } => {
                Applied::Moved { registration: load(conn, id)?, decision }
            }
            unchanged @ Applied::Unchanged { .. } => unchanged,
        })
    })
}

/// Locks the row (PostgreSQL) and checks nobody changed it since it was read: a no-op update
/// guarded by the version. A concurrent writer that committed first makes it match nothing.
pub(crate) fn claim(conn: &mut DbConnection, current: &Registration) -> Result<(), StoreError> {
    let claimed = diesel::update(registrations::table.find(sql::text(current.id)))
        .filter(registrations::version.eq(current.version))
        .set(registrations::version.eq(current.version))
        .execute(conn)?;
    if claimed != 1 {
        return Err(conflict(conn, current.id)?);
    }
    Ok(())
}

fn conflict(conn: &mut DbConnection, id: RegistrationId) -> Result<StoreError, StoreError> {
    let now = load(conn, id)?;
    Ok(StoreError::Conflict { current: now.status.state })
}

#[derive(Debug, Default, Serialize)]
struct EventDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    amount_fen: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paid_via: Option<PaymentMethod>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    effects: Vec<lifecycle::Effect>,
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
    diesel::insert_into(registration_events::table)
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
            registration_events::details.eq((details != "{}").then_some(details)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// A row of the event log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// Id.
    pub id: EventId,
    /// The registration's version after the event.
    pub version: i32,
    /// When.
    pub at: DateTime<Utc>,
    /// Who (the actor).
    pub actor: Actor,
    /// Who (participant or staff id), if a person.
    pub actor_ref: Option<String>,
    /// What.
    pub event: EventKind,
    /// From (none for the first submission).
    pub from: Option<State>,
    /// To.
    pub to: Status,
    /// The reason or note given.
    pub reason: Option<String>,
    /// The request that caused it.
    pub request_id: Option<String>,
}

/// The event log of a registration, oldest first.
pub fn history(
    conn: &mut DbConnection,
    id: RegistrationId,
) -> Result<Vec<EventRecord>, StoreError> {
    type Row = (
        String,
        i32,
        NaiveDateTime,
        String,
        Option<String>,
        String,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    registration_events::table
        .filter(registration_events::registration_id.eq(sql::text(id)))
        .order(registration_events::version)
        .select((
            registration_events::id,
            registration_events::version,
            registration_events::at,
            registration_events::actor,
            registration_events::actor_ref,
            registration_events::event,
            registration_events::from_state,
            registration_events::to_state,
            registration_events::to_flag,
            registration_events::reason,
            registration_events::request_id,
        ))
        .load::<Row>(conn)?
        .into_iter()
        .map(|(eid, version, at, actor, actor_ref, event, from, to, flag, reason, request_id)| {
            let corrupt = StoreError::corrupt;
            Ok(EventRecord {
                id: sql::id(&eid)?,
                version,
                at: sql::utc(at),
                actor: Actor::parse(&actor).map_err(corrupt)?,
                actor_ref,
                event: EventKind::parse(&event).map_err(corrupt)?,
                from: from.as_deref().map(State::parse).transpose().map_err(corrupt)?,
                to: Status {
                    state: State::parse(&to).map_err(corrupt)?,
                    flag: flag.as_deref().map(Flag::parse).transpose().map_err(corrupt)?,
                },
                reason,
                request_id,
            })
        })
        .collect()
}

crate::error::wraps_store_error!(SubmitError);
