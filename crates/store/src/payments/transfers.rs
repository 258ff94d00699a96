//! Employer bank transfers (单位转账): the participant declares one and writes its reference
//! on the transfer; finance finds it among the pending ones and confirms it — one transfer may
//! pay for several registrations, all or nothing, with the amount checked against their fees.

use baoming_domain::Money;
use baoming_domain::ids::{ParticipantId, PaymentId, PeriodId, RegistrationId};
use baoming_domain::lifecycle::{self, Event, PaymentMethod, State};
use baoming_domain::transfer::TransferReference;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::ledger::{self, IncomingPayment, Recorded};
use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::schema::{bank_transfers, participants, registrations as registrations_table};
use crate::transition::{self, Applied, Ctx, Registration};
use crate::{audit, sql};

/// The participant declares an employer bank transfer: the registration moves to
/// `awaiting_transfer` and gets its reference. Declaring again while awaiting the transfer
/// changes nothing and answers the same reference.
pub fn declare_transfer(
    conn: &mut DbConnection,
    registration: RegistrationId,
    ctx: &Ctx,
) -> Result<(Registration, TransferReference), StoreError> {
    write_tx(conn, |conn| {
        let current = transition::load_for(conn, registration, ctx.who)?;
        let reference = TransferReference::for_registration(registration);
        let current = if current.status.state == State::AwaitingTransfer {
            current
        } else {
            match transition::apply_event(conn, registration, &Event::DeclareTransfer, ctx, false)?
            {
                Applied::Moved { registration, .. } | Applied::Unchanged { registration, .. } => {
                    registration
                }
            }
        };
        let known =
            bank_transfers::table.find(sql::text(registration)).count().get_result::<i64>(conn)?;
        if known == 0 {
            diesel::insert_into(bank_transfers::table)
                .values((
                    bank_transfers::registration_id.eq(sql::text(registration)),
                    bank_transfers::reference.eq(reference.as_str()),
                    bank_transfers::declared_at.eq(sql::ts(ctx.now)),
                ))
                .execute(conn)?;
        } else {
            diesel::update(bank_transfers::table.find(sql::text(registration)))
                .set(bank_transfers::declared_at.eq(sql::ts(ctx.now)))
                .execute(conn)?;
        }
        Ok((current, reference))
    })
}

/// A declared transfer finance has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingTransfer {
    /// The registration.
    pub registration: RegistrationId,
    /// Whose.
    pub participant: ParticipantId,
    /// The participant's name.
    pub name: Option<String>,
    /// The participant's employer (工作单位).
    pub employer: Option<String>,
    /// Which period.
    pub period: PeriodId,
    /// The reference written on the transfer.
    pub reference: String,
    /// The fee, in fen.
    pub fee_fen: i64,
    /// When it was declared.
    pub declared_at: DateTime<Utc>,
    /// Past the payment deadline and still unconfirmed.
    pub overdue: bool,
}

/// Filters for [`pending_transfers`].
#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    /// Only this period.
    pub period: Option<PeriodId>,
    /// Employer contains this text.
    pub employer: Option<String>,
    /// Exactly this reference.
    pub reference: Option<TransferReference>,
}

/// Registrations awaiting a transfer, oldest declaration first (at most `limit`).
pub fn pending_transfers(
    conn: &mut DbConnection,
    filter: &TransferFilter,
    limit: i64,
) -> Result<Vec<PendingTransfer>, StoreError> {
    let mut query = registrations_table::table
        .inner_join(bank_transfers::table)
        .inner_join(participants::table)
        .filter(registrations_table::state.eq(State::AwaitingTransfer.as_str()))
        .select(PendingRow::as_select())
        .order((bank_transfers::declared_at, registrations_table::id))
        .limit(limit)
        .into_boxed();
    if let Some(period) = filter.period {
        query = query.filter(registrations_table::period_id.eq(sql::text(period)));
    }
    if let Some(employer) = &filter.employer {
        let pattern = format!("%{}%", employer.replace(['%', '_'], ""));
        query = query.filter(participants::employer.like(pattern));
    }
    if let Some(reference) = &filter.reference {
        query = query.filter(bank_transfers::reference.eq(reference.as_str().to_owned()));
    }
    query.load::<PendingRow>(conn)?.into_iter().map(PendingTransfer::try_from).collect()
}

#[derive(Queryable, Selectable)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct PendingRow {
    #[diesel(select_expression = registrations_table::id)]
    registration_id: String,
    #[diesel(select_expression = registrations_table::participant_id)]
    participant_id: String,
    #[diesel(select_expression = participants::name)]
    name: Option<String>,
    #[diesel(select_expression = participants::employer)]
    employer: Option<String>,
    #[diesel(select_expression = registrations_table::period_id)]
    period_id: String,
    #[diesel(select_expression = bank_transfers::reference)]
    reference: String,
    #[diesel(select_expression = registrations_table::fee_fen)]
    fee_fen: i64,
    #[diesel(select_expression = bank_transfers::declared_at)]
    declared_at: NaiveDateTime,
    #[diesel(select_expression = registrations_table::flag)]
    flag: Option<String>,
}

impl TryFrom<PendingRow> for PendingTransfer {
    type Error = StoreError;

    fn try_from(r: PendingRow) -> Result<Self, StoreError> {
        Ok(PendingTransfer {
            registration: sql::id(&r.registration_id)?,
            participant: sql::id(&r.participant_id)?,
            name: r.name,
            employer: r.employer,
            period: sql::id(&r.period_id)?,
            reference: r.reference,
            fee_fen: r.fee_fen,
            declared_at: sql::utc(r.declared_at),
            overdue: r.flag.as_deref() == Some(lifecycle::Flag::TransferOverdue.as_str()),
        })
    }
}

/// The registration's transfer reference, once a transfer was declared.
pub fn transfer_reference(
    conn: &mut DbConnection,
    registration: RegistrationId,
) -> Result<Option<String>, StoreError> {
    Ok(bank_transfers::table
        .find(sql::text(registration))
        .select(bank_transfers::reference)
        .first::<String>(conn)
        .optional()?)
}

/// Why finance's confirmation of a transfer was refused (nothing was recorded).
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// No registration was named, or one twice.
    #[error("请选择要确认的报名（不能重复）")]
    BadSelection,
    /// The amount received is not the sum of the fees of the registrations it covers.
    #[error("到账金额（{received}元）与所选报名应缴合计（{expected}元）不符")]
    AmountMismatch {
        /// The sum of the fees.
        expected: Money,
        /// The amount finance entered.
        received: Money,
    },
    /// A registration was never approved (nothing to pay).
    #[error("报名 {0} 尚未审核通过，不能确认到账")]
    NotApproved(RegistrationId),
    /// A registration's transfer was already confirmed.
    #[error("报名 {0} 的转账已确认过")]
    AlreadyConfirmed(RegistrationId),
    /// The data layer failed (or a registration is unknown).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A confirmation by finance: one transfer that covers one or more registrations.
#[derive(Debug, Clone)]
pub struct TransferConfirmation {
    /// The registrations the transfer pays for.
    pub registrations: Vec<RegistrationId>,
    /// The amount on the bank statement.
    pub amount: Money,
    /// The bank statement's reference (流水号), if finance gives it.
    pub bank_reference: Option<String>,
    /// Finance's note.
    pub note: Option<String>,
}

/// Finance confirms a transfer: all or nothing. The amount must equal the sum of the fees;
/// every registration is recorded as paid by it (one ledger row each, sharing a batch id). A
/// registration that meanwhile can no longer take the money (paid by WeChat a moment before,
/// closed) gets its share recorded and marked to be returned by finance.
pub fn confirm_transfer(
    conn: &mut DbConnection,
    confirmation: &TransferConfirmation,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Result<Vec<(RegistrationId, Recorded)>, ConfirmError> {
    let ids = &confirmation.registrations;
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    if ids.is_empty() || distinct.len() != ids.len() {
        return Err(ConfirmError::BadSelection);
    }
    let batch = crate::new_id::<PaymentId>().to_string();
    let attempt = || {
        write_tx(conn, |conn| {
            let results = confirm_in_tx(conn, confirmation, &batch, ctx)?;
            let entry = audit::Entry {
                actor: actor.clone(),
                action: "confirm_transfer".into(),
                target_kind: Some("registration".into()),
                target_id: (results.len() == 1).then(|| results[0].0.to_string()),
                summary: Some(serde_json::json!({
                    "amount_fen": confirmation.amount.fen(),
                    "bank_reference": confirmation.bank_reference,
                    "registrations": results
                        .iter()
                        .map(|(id, r)| serde_json::json!({"id": id.to_string(), "outcome": r.outcome()}))
                        .collect::<Vec<_>>(),
                })),
            };
            audit::record(conn, &entry, ctx.now)?;
            Ok(results)
        })
    };
    ledger::retry_races(attempt, |e| matches!(e, ConfirmError::Store(s) if ledger::lost_race(s)))
}

fn confirm_in_tx(
    conn: &mut DbConnection,
    confirmation: &TransferConfirmation,
    batch: &str,
    ctx: &Ctx,
) -> Result<Vec<(RegistrationId, Recorded)>, ConfirmError> {
    let ids = &confirmation.registrations;
    let found = crate::registrations::get_many(conn, ids)?;
    let mut expected = Money::ZERO;
    for id in ids {
        let registration = found
            .iter()
            .find(|r| r.id == *id)
            .ok_or(StoreError::NotFound { entity: "registration" })?;
        if matches!(registration.status.state, State::PendingReview | State::Rejected) {
            return Err(ConfirmError::NotApproved(*id));
        }
        expected = expected
            .checked_add(registration.fee)
            .ok_or_else(|| StoreError::corrupt("sum of fees overflows"))?;
    }
    if expected != confirmation.amount {
        return Err(ConfirmError::AmountMismatch { expected, received: confirmation.amount });
    }
    let mut results = Vec::with_capacity(ids.len());
    // `get_many` keeps the order given.
    for registration in &found {
        let incoming = IncomingPayment {
            registration: registration.id,
            method: PaymentMethod::BankTransfer,
            out_trade_no: None,
            transaction_id: confirmation.bank_reference.clone(),
            amount: registration.fee,
            received_at: ctx.now,
            notification: None,
            transfer_batch: (ids.len() > 1).then(|| batch.to_owned()),
            note: confirmation.note.clone(),
        };
        match ledger::record_in_tx(conn, &incoming, ctx)? {
            Recorded::Duplicate { .. } => {
                return Err(ConfirmError::AlreadyConfirmed(registration.id));
            }
            recorded => results.push((registration.id, recorded)),
        }
    }
    Ok(results)
}

crate::error::wraps_store_error!(ConfirmError);
