//! Registrations: submission, resubmission, withdrawal, every later event, the participant's
//! and staff's reads, and the event log.
//!
//! State is written by [`crate::transition`], the one writer: [`submit`] asks the domain and
//! has it insert the row; [`apply`], [`withdraw`] and [`resubmit`] hand it their event.

use baoming_domain::Money;
use baoming_domain::ids::{
    EventId, ExamTypeId, ParticipantId, PeriodId, PhotoId, RegionId, RegistrationId,
};
use baoming_domain::lifecycle::{
    self, Actor, Event, EventKind, Flag, State, Status, SubmitFacts, TransitionError,
};
use baoming_domain::period::{ChoiceError, ChosenSubject, SubjectChoice};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::pii::PiiCipher;
use crate::schema::{registration_events, registrations};
use crate::transition::{self, FormColumns, RegistrationRow, load, load_for};
use crate::{participants, periods, photos, sql};

pub use crate::transition::{Applied, CheckIn, Ctx, Registration, Who, facts};

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
        .map(|row| (row.id().to_owned(), row))
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
    load_for(conn, id, Who::Participant(participant))
}

/// A participant's registrations, newest first.
pub fn list_for_participant(
    conn: &mut DbConnection,
    participant: ParticipantId,
) -> Result<Vec<Registration>, StoreError> {
    crate::db::on_backend!(conn, c => registrations::table
        .filter(registrations::participant_id.eq(sql::text(participant)))
        .order(registrations::submitted_at.desc())
        .select(RegistrationRow::as_select())
        .load::<RegistrationRow>(c))?
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
    let found = crate::db::on_backend!(conn, c => registrations::table
        .filter(registrations::participant_id.eq(sql::text(participant)))
        .filter(registrations::live_period_id.eq(sql::text(period)))
        .select(registrations::id)
        .first::<String>(c)
        .optional())?;
    Ok(found.is_some())
}

/// The columns a registration form fills (the same for a submission and a resubmission).
fn form_columns(
    form: &NewRegistration,
    subjects: &[ChosenSubject],
    fee: Money,
) -> Result<FormColumns, StoreError> {
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
        let columns = form_columns(form, &subjects, fee)?;
        let Some(id) =
            transition::create(conn, form.participant, form.period, columns, status, ctx)?
        else {
            // A concurrent second submission for the same period lost the race.
            return Err(TransitionError {
                state: None,
                event: EventKind::Submit,
                refusal: lifecycle::Refusal::DuplicateRegistration,
            }
            .into());
        };
        participants::lock_identity(conn, form.participant, ctx.now)?;
        Ok(load(conn, id)?)
    })
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
    write_tx(conn, |conn| transition::apply_event(conn, id, event, ctx, false))
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
    write_tx(conn, |conn| transition::apply_event(conn, id, &Event::Withdraw, ctx, paying_now))
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
        let applied = transition::apply_loaded(conn, current, &Event::Resubmit, ctx, false)?;
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
            .set(form_columns(&form, &subjects, fee)?)
            .execute(conn)?;
        Ok(match applied {
            Applied::Moved { decision, .. } => {
                Applied::Moved { registration: load(conn, id)?, decision }
            }
            unchanged @ Applied::Unchanged { .. } => unchanged,
        })
    })
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
    registration_events::table
        .filter(registration_events::registration_id.eq(sql::text(id)))
        .order(registration_events::version)
        .select(EventRow::as_select())
        .load::<EventRow>(conn)?
        .into_iter()
        .map(EventRecord::try_from)
        .collect()
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = registration_events)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct EventRow {
    id: String,
    version: i32,
    at: NaiveDateTime,
    actor: String,
    actor_ref: Option<String>,
    event: String,
    from_state: Option<String>,
    to_state: String,
    to_flag: Option<String>,
    reason: Option<String>,
    request_id: Option<String>,
}

impl TryFrom<EventRow> for EventRecord {
    type Error = StoreError;

    fn try_from(row: EventRow) -> Result<Self, StoreError> {
        let corrupt = StoreError::corrupt;
        Ok(EventRecord {
            id: sql::id(&row.id)?,
            version: row.version,
            at: sql::utc(row.at),
            actor: Actor::parse(&row.actor).map_err(corrupt)?,
            actor_ref: row.actor_ref,
            event: EventKind::parse(&row.event).map_err(corrupt)?,
            from: row.from_state.as_deref().map(State::parse).transpose().map_err(corrupt)?,
            to: Status {
                state: State::parse(&row.to_state).map_err(corrupt)?,
                flag: row.to_flag.as_deref().map(Flag::parse).transpose().map_err(corrupt)?,
            },
            reason: row.reason,
            request_id: row.request_id,
        })
    }
}

crate::error::wraps_store_error!(SubmitError);
