//! The payment ledger: every payment that arrives — a WeChat notification, a query that found
//! the order paid, a transfer finance confirmed — is recorded once (`payments`, unique by
//! where the money came from) and settled by the domain (`lifecycle::settle`) in the same
//! transaction: it pays the registration (written by [`crate::transition`]), or is given back
//! (a refund row; WeChat money gets a job that carries it out) — a payment the registration
//! cannot take, and a payment of the wrong amount, which is also flagged for finance and
//! leaves its order `mismatched` so the participant can pay the fee with a new order. The
//! same payment delivered again changes nothing. [`unapplied_payments`] lists the money that
//! could not be taken, with where its return stands.

use baoming_domain::Money;
use baoming_domain::ids::{PaymentId, RefundId, RegistrationId};
use baoming_domain::lifecycle::{self, EventKind, PaymentMethod, RefundCause, Settlement};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{Disposition, OrderState, RefundState, refunds};
use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::schema::{payment_notifications, payment_orders, payments, refunds as refunds_table};
use crate::sql;
use crate::transition::{self, Ctx, Registration, Who};

/// Money that arrived, as its source reports it.
#[derive(Debug, Clone)]
pub struct IncomingPayment {
    /// For which registration.
    pub registration: RegistrationId,
    /// How.
    pub method: PaymentMethod,
    /// The WeChat order, for WeChat money.
    pub out_trade_no: Option<String>,
    /// WeChat's transaction id, or finance's bank statement reference for a transfer.
    pub transaction_id: Option<String>,
    /// How much.
    pub amount: Money,
    /// When the money arrived (WeChat's success time, or the confirmation).
    pub received_at: DateTime<Utc>,
    /// The WeChat notification that reported it (id, event type), if it came that way.
    pub notification: Option<(String, String)>,
    /// Several registrations paid by one transfer share a batch id.
    pub transfer_batch: Option<String>,
    /// Finance's note.
    pub note: Option<String>,
}

impl IncomingPayment {
    /// Identifies the money at its source: a WeChat order is paid at most once; a
    /// registration's transfer is confirmed at most once.
    fn source_key(&self) -> Result<String, StoreError> {
        match (self.method, &self.out_trade_no) {
            (PaymentMethod::WechatPay, Some(no)) => Ok(format!("wechat:{no}")),
            (PaymentMethod::WechatPay, None) => {
                Err(StoreError::corrupt("a WeChat payment without its out_trade_no"))
            }
            (PaymentMethod::BankTransfer, _) => Ok(format!("transfer:{}", self.registration)),
        }
    }
}

/// What recording a payment did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The registration is now paid.
    Paid {
        /// The ledger row.
        payment: PaymentId,
        /// The registration after the change.
        registration: Box<Registration>,
    },
    /// This payment was recorded before: nothing changed (a repeated notification).
    Duplicate {
        /// The ledger row recorded the first time.
        payment: PaymentId,
    },
    /// The amount differs from the fee: recorded, flagged for finance and given back.
    Mismatch {
        /// The ledger row.
        payment: PaymentId,
        /// The fee.
        expected: Money,
        /// What arrived.
        received: Money,
        /// The refund of the money.
        refund: RefundId,
    },
    /// The registration could not take the money: recorded, and a refund was scheduled.
    Refunding {
        /// The ledger row.
        payment: PaymentId,
        /// Why.
        cause: RefundCause,
        /// The refund (carried out by the worker for WeChat money, by finance for transfers).
        refund: RefundId,
    },
}

impl Recorded {
    /// A stable code of what happened: `paid`, `duplicate`, `mismatch` or `refund`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Recorded::Paid { .. } => "paid",
            Recorded::Duplicate { .. } => "duplicate",
            Recorded::Mismatch { .. } => "mismatch",
            Recorded::Refunding { .. } => "refund",
        }
    }
}

/// Records a payment and settles it through the state machine, in one transaction with the
/// status change, its event-log row and any refund it schedules. A concurrent change of the
/// same registration (another payment racing this one) is retried, so exactly one payment
/// pays and the other is recorded and given back.
pub fn record_payment(
    conn: &mut DbConnection,
    incoming: &IncomingPayment,
    ctx: &Ctx,
) -> Result<Recorded, StoreError> {
    retry_races(|| write_tx(conn, |conn| record_in_tx(conn, incoming, ctx)), lost_race)
}

/// A concurrent writer changed the registration, or recorded the same payment first.
pub(crate) fn lost_race(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict { .. } | StoreError::Duplicate { what: "payment" })
}

/// Runs `attempt` again (a few times) when it `lost` a race: the next attempt sees the
/// winner's result.
pub(crate) fn retry_races<T, E>(
    mut attempt: impl FnMut() -> Result<T, E>,
    lost: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let mut tries = 0;
    loop {
        match attempt() {
            Err(e) if tries < 5 && lost(&e) => tries += 1,
            other => return other,
        }
    }
}

pub(crate) fn record_in_tx(
    conn: &mut DbConnection,
    incoming: &IncomingPayment,
    ctx: &Ctx,
) -> Result<Recorded, StoreError> {
    let source_key = incoming.source_key()?;
    if let Some(id) = payments::table
        .filter(payments::source_key.eq(&source_key))
        .select(payments::id)
        .first::<String>(conn)
        .optional()?
    {
        let payment: PaymentId = sql::id(&id)?;
        note_notification(conn, payment, incoming, ctx.now)?;
        return Ok(Recorded::Duplicate { payment });
    }
    let current = transition::load(conn, incoming.registration)?;
    transition::claim(conn, &current)?;
    let facts = transition::current_facts(conn, &current, EventKind::ConfirmPayment, ctx.now)?;
    let settlement = lifecycle::settle(
        current.status,
        incoming.amount,
        incoming.method,
        ctx.who.actor(),
        &facts,
    )?;
    let payment: PaymentId = crate::new_id();
    let disposition = match &settlement {
        Settlement::Pay(_) => Disposition::Applied,
        Settlement::Mismatch { .. } => Disposition::Mismatch,
        Settlement::Refund(_) => Disposition::Refund,
    };
    let cause = settlement.give_back();
    let cause_text =
        cause.map(|c| serde_json::to_string(&c)).transpose().map_err(StoreError::corrupt)?;
    let recorded_by = match ctx.who {
        Who::Staff { id, .. } => Some(sql::text(id)),
        _ => None,
    };
    diesel::insert_into(payments::table)
        .values((
            payments::id.eq(sql::text(payment)),
            payments::registration_id.eq(sql::text(incoming.registration)),
            payments::method.eq(incoming.method.as_str()),
            payments::source_key.eq(&source_key),
            payments::out_trade_no.eq(incoming.out_trade_no.as_deref()),
            payments::transaction_id.eq(incoming.transaction_id.as_deref()),
            payments::amount_fen.eq(incoming.amount.fen()),
            payments::disposition.eq(disposition.as_str()),
            payments::refund_cause.eq(cause_text),
            payments::transfer_batch.eq(incoming.transfer_batch.as_deref()),
            payments::received_at.eq(sql::ts(incoming.received_at)),
            payments::recorded_at.eq(sql::ts(ctx.now)),
            payments::recorded_by.eq(recorded_by),
            payments::note.eq(incoming.note.as_deref()),
        ))
        .execute(conn)
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Duplicate { what: "payment" }
            } else {
                e.into()
            }
        })?;
    note_notification(conn, payment, incoming, ctx.now)?;
    if let Some(no) = &incoming.out_trade_no {
        // A wrong amount does not use the order up: the fee can be paid with a new one.
        let order_state = match settlement {
            Settlement::Mismatch { .. } => OrderState::Mismatched,
            Settlement::Pay(_) | Settlement::Refund(_) => OrderState::Paid,
        };
        diesel::update(payment_orders::table.filter(payment_orders::out_trade_no.eq(no)))
            .set((
                payment_orders::state.eq(order_state.as_str()),
                payment_orders::updated_at.eq(sql::ts(ctx.now)),
            ))
            .execute(conn)?;
    }
    Ok(match settlement {
        Settlement::Pay(decision) => {
            let registration = transition::write_decision(
                conn,
                &current,
                &decision,
                None,
                Some(incoming.amount),
                ctx,
            )?;
            Recorded::Paid { payment, registration: Box::new(registration) }
        }
        Settlement::Mismatch { expected, received } => {
            let reason = cause.map(|c| c.reason_zh()).unwrap_or_default();
            let refund = refunds::create_refund(
                conn,
                payment,
                current.id,
                incoming.method,
                incoming.amount,
                &reason,
                ctx.now,
            )?;
            tracing::warn!(
                registration = %incoming.registration, %payment, %expected, %received, %refund,
                "payment amount differs from the fee: flagged for finance and given back"
            );
            Recorded::Mismatch { payment, expected, received, refund }
        }
        Settlement::Refund(cause) => {
            let reason = cause.reason_zh();
            let refund = refunds::create_refund(
                conn,
                payment,
                current.id,
                incoming.method,
                incoming.amount,
                &reason,
                ctx.now,
            )?;
            tracing::info!(
                registration = %incoming.registration, %payment, %refund, ?cause,
                "payment for a registration that cannot take it: recorded and given back"
            );
            Recorded::Refunding { payment, cause, refund }
        }
    })
}

fn note_notification(
    conn: &mut DbConnection,
    payment: PaymentId,
    incoming: &IncomingPayment,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some((id, event_type)) = &incoming.notification else { return Ok(()) };
    let seen = payment_notifications::table.find(id).count().get_result::<i64>(conn)?;
    if seen > 0 {
        return Ok(());
    }
    // In a savepoint: the same notification recorded by a concurrent request is not an error
    // (and on PostgreSQL the failed insert must not abort the whole transaction).
    let inserted: Result<usize, diesel::result::Error> = write_tx(conn, |conn| {
        diesel::insert_into(payment_notifications::table)
            .values((
                payment_notifications::id.eq(id),
                payment_notifications::payment_id.eq(sql::text(payment)),
                payment_notifications::event_type.eq(event_type),
                payment_notifications::received_at.eq(sql::ts(now)),
            ))
            .execute(conn)
    });
    match inserted {
        Err(e) if StoreError::is_unique_violation(&e) => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// A row of the payment ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRecord {
    /// Id.
    pub id: PaymentId,
    /// For which registration.
    pub registration: RegistrationId,
    /// How it was paid.
    pub method: PaymentMethod,
    /// The WeChat order.
    pub out_trade_no: Option<String>,
    /// WeChat's transaction id or the bank statement reference.
    pub transaction_id: Option<String>,
    /// Amount in fen.
    pub amount_fen: i64,
    /// What it did.
    pub disposition: Disposition,
    /// When the money arrived.
    pub received_at: DateTime<Utc>,
    /// When we recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The transfer batch, for transfers confirmed together.
    pub transfer_batch: Option<String>,
    /// Finance's note.
    pub note: Option<String>,
    /// Its (live) refund's state, if it is being given back.
    pub refund_state: Option<RefundState>,
    /// WeChat Pay's last word on a refund that could not be started or completed.
    pub refund_error: Option<String>,
    /// Its refund, if it is being given back.
    pub refund_id: Option<RefundId>,
}

/// Filters for [`list_payments`].
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    /// Only payments that did this.
    pub disposition: Option<Disposition>,
    /// Only this registration's payments.
    pub registration: Option<RegistrationId>,
}

/// The ledger, newest first (at most `limit` rows).
pub fn list_payments(
    conn: &mut DbConnection,
    filter: &PaymentFilter,
    limit: i64,
) -> Result<Vec<PaymentRecord>, StoreError> {
    let mut query = payments::table
        .left_join(refunds_table::table.on(
            refunds_table::payment_id.eq(payments::id).and(refunds_table::superseded_by.is_null()),
        ))
        .select(LedgerRow::as_select())
        .order((payments::recorded_at.desc(), payments::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(disposition) = filter.disposition {
        query = query.filter(payments::disposition.eq(disposition.as_str()));
    }
    if let Some(registration) = filter.registration {
        query = query.filter(payments::registration_id.eq(sql::text(registration)));
    }
    query.load::<LedgerRow>(conn)?.into_iter().map(PaymentRecord::try_from).collect()
}

#[derive(Queryable, Selectable)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct LedgerRow {
    #[diesel(select_expression = payments::id)]
    id: String,
    #[diesel(select_expression = payments::registration_id)]
    registration_id: String,
    #[diesel(select_expression = payments::method)]
    method: String,
    #[diesel(select_expression = payments::out_trade_no)]
    out_trade_no: Option<String>,
    #[diesel(select_expression = payments::transaction_id)]
    transaction_id: Option<String>,
    #[diesel(select_expression = payments::amount_fen)]
    amount_fen: i64,
    #[diesel(select_expression = payments::disposition)]
    disposition: String,
    #[diesel(select_expression = payments::received_at)]
    received_at: NaiveDateTime,
    #[diesel(select_expression = payments::recorded_at)]
    recorded_at: NaiveDateTime,
    #[diesel(select_expression = payments::transfer_batch)]
    transfer_batch: Option<String>,
    #[diesel(select_expression = payments::note)]
    note: Option<String>,
    #[diesel(select_expression = refunds_table::state.nullable())]
    refund_state: Option<String>,
    #[diesel(select_expression = refunds_table::last_error.nullable())]
    refund_error: Option<String>,
    #[diesel(select_expression = refunds_table::id.nullable())]
    refund_id: Option<String>,
}

impl TryFrom<LedgerRow> for PaymentRecord {
    type Error = StoreError;

    fn try_from(r: LedgerRow) -> Result<Self, StoreError> {
        Ok(PaymentRecord {
            id: sql::id(&r.id)?,
            registration: sql::id(&r.registration_id)?,
            method: PaymentMethod::parse(&r.method).map_err(StoreError::corrupt)?,
            out_trade_no: r.out_trade_no,
            transaction_id: r.transaction_id,
            amount_fen: r.amount_fen,
            disposition: Disposition::parse(&r.disposition)?,
            received_at: sql::utc(r.received_at),
            recorded_at: sql::utc(r.recorded_at),
            transfer_batch: r.transfer_batch,
            note: r.note,
            refund_state: r.refund_state.as_deref().map(RefundState::parse).transpose()?,
            refund_error: r.refund_error,
            refund_id: r.refund_id.as_deref().map(sql::id).transpose()?,
        })
    }
}

/// Money taken between `from` and `to`: the payments that paid their registration, in fen
/// (the dashboard's "money taken today").
pub fn taken_between(
    conn: &mut DbConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let amounts: Vec<i64> = payments::table
        .filter(payments::disposition.eq(Disposition::Applied.as_str()))
        .filter(payments::received_at.ge(sql::ts(from)))
        .filter(payments::received_at.lt(sql::ts(to)))
        .select(payments::amount_fen)
        .load(conn)?;
    Ok(amounts.iter().sum())
}

/// Where the return of money a registration could not take stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// Being refunded through WeChat Pay (the worker is on it).
    Refunding,
    /// WeChat Pay refunded it.
    Refunded,
    /// Finance refunded it offline after WeChat Pay could not.
    RefundedOffline,
    /// Finance returned the bank transfer.
    ReturnedByHand,
    /// WeChat Pay closed the refund or reported it abnormal: finance retries it or refunds
    /// offline.
    NeedsFinance,
    /// A bank transfer finance must return by hand.
    ToReturnByHand,
    /// No refund was recorded (a wrong amount recorded before such money was given back):
    /// finance decides.
    Unresolved,
}

impl Resolution {
    /// The code the API answers (snake_case, as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            Resolution::Refunding => "refunding",
            Resolution::Refunded => "refunded",
            Resolution::RefundedOffline => "refunded_offline",
            Resolution::ReturnedByHand => "returned_by_hand",
            Resolution::NeedsFinance => "needs_finance",
            Resolution::ToReturnByHand => "to_return_by_hand",
            Resolution::Unresolved => "unresolved",
        }
    }

    /// Where a payment's return stands, from its live refund.
    pub fn of(refund: Option<&refunds::Refund>) -> Resolution {
        let Some(refund) = refund else { return Resolution::Unresolved };
        let by_hand = refund.method == PaymentMethod::BankTransfer;
        match refund.state {
            RefundState::Succeeded if by_hand => Resolution::ReturnedByHand,
            RefundState::Succeeded if refund.offline_note.is_some() => Resolution::RefundedOffline,
            RefundState::Succeeded => Resolution::Refunded,
            RefundState::Closed | RefundState::Abnormal => Resolution::NeedsFinance,
            RefundState::Pending if by_hand => Resolution::ToReturnByHand,
            RefundState::Pending | RefundState::Processing => Resolution::Refunding,
        }
    }

    /// Whether finance still has something to do or wait for.
    pub fn is_open(self) -> bool {
        !matches!(
            self,
            Resolution::Refunded | Resolution::RefundedOffline | Resolution::ReturnedByHand
        )
    }
}

/// Money a registration could not take: what arrived, what happened and where its return
/// stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnappliedPayment {
    /// The ledger row.
    pub payment: PaymentId,
    /// For which registration.
    pub registration: RegistrationId,
    /// Its period.
    pub period: baoming_domain::ids::PeriodId,
    /// The participant's name.
    pub name: Option<String>,
    /// The participant's employer.
    pub employer: Option<String>,
    /// The registration's state now.
    pub registration_state: lifecycle::State,
    /// How it was paid.
    pub method: PaymentMethod,
    /// The WeChat order.
    pub out_trade_no: Option<String>,
    /// WeChat's transaction id or the bank statement reference.
    pub transaction_id: Option<String>,
    /// The amount, in fen.
    pub amount_fen: i64,
    /// `mismatch` (the wrong amount) or `refund` (the registration could not take it).
    pub disposition: Disposition,
    /// What happened: `amount_mismatch` (with the fee and what arrived), `already_paid` (a
    /// second payment) or `not_payable` (with the state: withdrawn, closed …).
    pub cause: Option<RefundCause>,
    /// When the money arrived.
    pub received_at: DateTime<Utc>,
    /// Its live refund (retries replace the ones WeChat Pay could not make).
    pub refund: Option<refunds::Refund>,
    /// Where its return stands.
    pub resolution: Resolution,
}

/// Filters of [`unapplied_payments`].
#[derive(Debug, Clone, Default)]
pub struct UnappliedFilter {
    /// Only this period.
    pub period: Option<baoming_domain::ids::PeriodId>,
    /// Only the money whose return is not done yet.
    pub open_only: bool,
}

/// The money registrations could not take (amount mismatches, payments for a closed or
/// withdrawn registration, second payments), newest first, at most `limit` (1–1000).
pub fn unapplied_payments(
    conn: &mut DbConnection,
    filter: &UnappliedFilter,
    limit: i64,
) -> Result<Vec<UnappliedPayment>, StoreError> {
    use crate::schema::{participants, registrations};
    let mut query = payments::table
        .inner_join(registrations::table.inner_join(participants::table))
        .filter(payments::disposition.ne(Disposition::Applied.as_str()))
        .select((
            payments::id,
            payments::registration_id,
            registrations::period_id,
            participants::name,
            participants::employer,
            registrations::state,
            payments::method,
            payments::out_trade_no,
            payments::transaction_id,
            payments::amount_fen,
            payments::disposition,
            payments::refund_cause,
            payments::received_at,
        ))
        .order((payments::recorded_at.desc(), payments::id.desc()))
        .limit(limit.clamp(1, 1000))
        .into_boxed();
    if let Some(period) = filter.period {
        query = query.filter(registrations::period_id.eq(sql::text(period)));
    }
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        String,
        Option<String>,
        NaiveDateTime,
    );
    let rows: Vec<Row> = query.load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    let mut refunds = refunds::live_refunds_of(conn, &ids)?;
    let mut out = Vec::with_capacity(rows.len());
    for (
        id,
        registration,
        period,
        name,
        employer,
        state,
        method,
        out_trade_no,
        transaction_id,
        amount_fen,
        disposition,
        cause,
        received_at,
    ) in rows
    {
        let refund = refunds.remove(&id);
        let resolution = Resolution::of(refund.as_ref());
        if filter.open_only && !resolution.is_open() {
            continue;
        }
        out.push(UnappliedPayment {
            payment: sql::id(&id)?,
            registration: sql::id(&registration)?,
            period: sql::id(&period)?,
            name,
            employer,
            registration_state: lifecycle::State::parse(&state).map_err(StoreError::corrupt)?,
            method: PaymentMethod::parse(&method).map_err(StoreError::corrupt)?,
            out_trade_no,
            transaction_id,
            amount_fen,
            disposition: Disposition::parse(&disposition)?,
            cause: cause
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(StoreError::corrupt)?,
            received_at: sql::utc(received_at),
            refund,
            resolution,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::Resolution;

    #[test]
    fn resolution_codes_are_the_serialised_names() {
        for r in [
            Resolution::Refunding,
            Resolution::Refunded,
            Resolution::RefundedOffline,
            Resolution::ReturnedByHand,
            Resolution::NeedsFinance,
            Resolution::ToReturnByHand,
            Resolution::Unresolved,
        ] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
    }
}
