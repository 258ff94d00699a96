//! Refunds: the rows that say which money goes back and where it stands. WeChat money gets a
//! job that carries the refund out (its id's hex digits are the `out_refund_no`, so a retry
//! never refunds twice); a bank transfer is returned by finance by hand. What a refund's end
//! does to its registration is in [`super::returns`].

use baoming_domain::Money;
use baoming_domain::ids::{PaymentId, RefundId, RegistrationId, TypedId};
use baoming_domain::lifecycle::PaymentMethod;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{Disposition, RefundState};
use crate::db::DbConnection;
use crate::error::StoreError;
use crate::jobs::{self, Job};
use crate::schema::{payments, refunds};
use crate::sql;

/// The merchant refund number of a refund: its id's 32 hex digits (one refund per number,
/// forever, at WeChat).
pub fn out_refund_no(id: RefundId) -> String {
    id.as_uuid().simple().to_string()
}

/// Records a refund of a payment: WeChat money gets a job that carries it out; a transfer is
/// returned by finance by hand.
pub(crate) fn create_refund(
    conn: &mut DbConnection,
    payment: PaymentId,
    registration: RegistrationId,
    method: PaymentMethod,
    amount: Money,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<RefundId, StoreError> {
    let id: RefundId = crate::new_id();
    let wechat = method == PaymentMethod::WechatPay;
    diesel::insert_into(refunds::table)
        .values((
            refunds::id.eq(sql::text(id)),
            refunds::payment_id.eq(sql::text(payment)),
            refunds::registration_id.eq(sql::text(registration)),
            refunds::method.eq(method.as_str()),
            refunds::out_refund_no.eq(wechat.then(|| out_refund_no(id))),
            refunds::amount_fen.eq(amount.fen()),
            refunds::reason.eq(reason),
            refunds::state.eq(RefundState::Pending.as_str()),
            refunds::created_at.eq(sql::ts(now)),
            refunds::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Duplicate { what: "refund" }
            } else {
                e.into()
            }
        })?;
    if wechat && amount.fen() > 0 {
        jobs::enqueue(conn, &Job::Refund { refund: id }, now, now)?;
    }
    Ok(id)
}

/// Records the refund of the payment that paid a registration (finance approved the
/// participant's refund request: the decision's `StartProviderRefund` or
/// `ReturnTransferByHand` effect, written by [`crate::transition`] in that transaction).
pub(crate) fn refund_applied_payment(
    conn: &mut DbConnection,
    registration: RegistrationId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<RefundId, StoreError> {
    let (payment, method, amount) = payments::table
        .filter(payments::registration_id.eq(sql::text(registration)))
        .filter(payments::disposition.eq(Disposition::Applied.as_str()))
        .select((payments::id, payments::method, payments::amount_fen))
        .first::<(String, String, i64)>(conn)
        .optional()?
        .ok_or_else(|| StoreError::corrupt("a refund of a registration without its payment"))?;
    let method = PaymentMethod::parse(&method).map_err(StoreError::corrupt)?;
    let amount = Money::from_fen(amount).map_err(StoreError::corrupt)?;
    create_refund(conn, sql::id(&payment)?, registration, method, amount, reason, now)
}

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    /// Id (its simple hex form is the `out_refund_no`).
    pub id: RefundId,
    /// The payment given back.
    pub payment: PaymentId,
    /// Its registration.
    pub registration: RegistrationId,
    /// How the money goes back: WeChat Pay (automatic), or a bank transfer by finance.
    pub method: PaymentMethod,
    /// The merchant refund number (WeChat refunds).
    pub out_refund_no: Option<String>,
    /// The WeChat order the payment was made on.
    pub out_trade_no: Option<String>,
    /// The amount given back.
    pub amount: Money,
    /// The payment's amount (WeChat needs the order total).
    pub payment_amount: Money,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub state: RefundState,
    /// WeChat's refund id.
    pub provider_refund_id: Option<String>,
    /// WeChat's last word (status, or the error).
    pub last_error: Option<String>,
    /// Whether the payment is the one that paid the registration (a refund the participant
    /// asked for), as opposed to money the registration could not take.
    pub of_applied_payment: bool,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct RefundRow {
    #[diesel(select_expression = refunds::id)]
    id: String,
    #[diesel(select_expression = refunds::payment_id)]
    payment_id: String,
    #[diesel(select_expression = refunds::registration_id)]
    registration_id: String,
    #[diesel(select_expression = refunds::method)]
    method: String,
    #[diesel(select_expression = refunds::out_refund_no)]
    out_refund_no: Option<String>,
    #[diesel(select_expression = payments::out_trade_no)]
    out_trade_no: Option<String>,
    #[diesel(select_expression = refunds::amount_fen)]
    amount_fen: i64,
    #[diesel(select_expression = payments::amount_fen)]
    payment_amount_fen: i64,
    #[diesel(select_expression = refunds::reason)]
    reason: String,
    #[diesel(select_expression = refunds::state)]
    state: String,
    #[diesel(select_expression = refunds::provider_refund_id)]
    provider_refund_id: Option<String>,
    #[diesel(select_expression = refunds::last_error)]
    last_error: Option<String>,
    #[diesel(select_expression = payments::disposition)]
    payment_disposition: String,
    #[diesel(select_expression = refunds::created_at)]
    created_at: NaiveDateTime,
}

impl TryFrom<RefundRow> for Refund {
    type Error = StoreError;

    fn try_from(row: RefundRow) -> Result<Self, StoreError> {
        Ok(Refund {
            id: sql::id(&row.id)?,
            payment: sql::id(&row.payment_id)?,
            registration: sql::id(&row.registration_id)?,
            method: PaymentMethod::parse(&row.method).map_err(StoreError::corrupt)?,
            out_refund_no: row.out_refund_no,
            out_trade_no: row.out_trade_no,
            amount: Money::from_fen(row.amount_fen).map_err(StoreError::corrupt)?,
            payment_amount: Money::from_fen(row.payment_amount_fen).map_err(StoreError::corrupt)?,
            reason: row.reason,
            state: RefundState::parse(&row.state)?,
            provider_refund_id: row.provider_refund_id,
            last_error: row.last_error,
            of_applied_payment: Disposition::parse(&row.payment_disposition)?
                == Disposition::Applied,
            created_at: sql::utc(row.created_at),
        })
    }
}

fn load_refund(conn: &mut DbConnection, id: &str) -> Result<Option<Refund>, StoreError> {
    refunds::table
        .find(id)
        .inner_join(payments::table)
        .select(RefundRow::as_select())
        .first::<RefundRow>(conn)
        .optional()?
        .map(Refund::try_from)
        .transpose()
}

/// A refund by id.
pub fn get_refund(conn: &mut DbConnection, id: RefundId) -> Result<Refund, StoreError> {
    load_refund(conn, &sql::text(id))?.ok_or(StoreError::NotFound { entity: "refund" })
}

/// Locks a refund's row (PostgreSQL: a no-op update) and reads it, so two reports of the same
/// refund at once (a notification and the refund job, finance) apply one after the other,
/// the second seeing the first.
pub(crate) fn lock_refund(conn: &mut DbConnection, id: RefundId) -> Result<Refund, StoreError> {
    diesel::update(refunds::table.find(sql::text(id)))
        .set(refunds::updated_at.eq(refunds::updated_at))
        .execute(conn)?;
    get_refund(conn, id)
}

/// A refund by its merchant refund number.
pub fn refund_by_out_refund_no(
    conn: &mut DbConnection,
    out_refund_no: &str,
) -> Result<Option<Refund>, StoreError> {
    let id = refunds::table
        .filter(refunds::out_refund_no.eq(out_refund_no))
        .select(refunds::id)
        .first::<String>(conn)
        .optional()?;
    match id {
        Some(id) => load_refund(conn, &id),
        None => Ok(None),
    }
}

/// Records a failed attempt to start a refund (kept for finance to see).
pub fn refund_error(
    conn: &mut DbConnection,
    id: RefundId,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(refunds::table.find(sql::text(id)))
        .set((refunds::last_error.eq(error), refunds::updated_at.eq(sql::ts(now))))
        .execute(conn)?;
    Ok(())
}
