//! Verified WeChat Pay notifications the ledger could not take as they are: a payment for an
//! order we never opened, in another currency or from another payer than the order's, a refund
//! notice for a refund we did not make or whose amount or order differ from our refund row.
//! Each is kept once (by WeChat's notification id) for finance and reconciliation, and nothing
//! else changes: WeChat Pay is answered with success, so it does not retry for a day.

use baoming_domain::Money;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::orders::{WechatPaid, order_by_out_trade_no};
use super::refunds::Refund;
use crate::db::DbConnection;
use crate::error::StoreError;
use crate::schema::unmatched_notifications as u;
use crate::sql;

/// The currency of every order we open.
pub const CURRENCY: &str = "CNY";

/// Why a notification was not applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A payment for an `out_trade_no` we never opened.
    UnknownOrder,
    /// A payment in another currency than the order's (CNY).
    Currency,
    /// A payment by another WeChat user than the one the order was opened for.
    Payer,
    /// A refund notice for an `out_refund_no` we never sent.
    UnknownRefund,
    /// A refund notice whose amount or `out_trade_no` differ from our refund row.
    RefundMismatch,
}

impl Reason {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::UnknownOrder => "unknown_order",
            Reason::Currency => "currency",
            Reason::Payer => "payer",
            Reason::UnknownRefund => "unknown_refund",
            Reason::RefundMismatch => "refund_mismatch",
        }
    }

    fn parse(text: &str) -> Result<Self, StoreError> {
        Ok(match text {
            "unknown_order" => Reason::UnknownOrder,
            "currency" => Reason::Currency,
            "payer" => Reason::Payer,
            "unknown_refund" => Reason::UnknownRefund,
            "refund_mismatch" => Reason::RefundMismatch,
            other => return Err(StoreError::corrupt(format!("unmatched reason {other:?}"))),
        })
    }
}

/// A notification to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmatched {
    /// WeChat's notification id (kept once).
    pub notification_id: String,
    /// Its event type (`TRANSACTION.SUCCESS`, `REFUND.SUCCESS` …).
    pub event_type: String,
    /// Why it was not applied.
    pub reason: Reason,
    /// The order it names.
    pub out_trade_no: String,
    /// The refund it names (refund notices).
    pub out_refund_no: Option<String>,
    /// WeChat's transaction id.
    pub transaction_id: Option<String>,
    /// The amount it reports, in fen (the order total, or the refund).
    pub amount_fen: i64,
    /// Its currency.
    pub currency: Option<String>,
    /// When WeChat says it happened.
    pub occurred_at: Option<DateTime<Utc>>,
}

/// A kept notification, as finance lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnmatchedRecord {
    /// The notification.
    #[serde(flatten)]
    pub notice: Unmatched,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// Whether a verified payment can be applied to our order: `None` when it can (the order is
/// ours, in CNY, paid by the order's payer — a notification without a payer is not refused
/// for that), or why not.
pub fn check_payment(
    conn: &mut DbConnection,
    paid: &WechatPaid,
) -> Result<Option<Reason>, StoreError> {
    let Some(order) = order_by_out_trade_no(conn, &paid.out_trade_no)? else {
        return Ok(Some(Reason::UnknownOrder));
    };
    if paid.currency.as_deref().is_some_and(|c| c != CURRENCY) {
        return Ok(Some(Reason::Currency));
    }
    if paid.payer_openid.as_deref().is_some_and(|payer| payer != order.openid) {
        return Ok(Some(Reason::Payer));
    }
    Ok(None)
}

/// Whether a refund notice matches our refund row: the same order and the same amount.
pub fn refund_matches(refund: &Refund, out_trade_no: &str, amount: Money) -> bool {
    refund.out_trade_no.as_deref() == Some(out_trade_no) && refund.amount == amount
}

/// Keeps a notification; `false` when the same notification was kept before.
pub fn record(
    conn: &mut DbConnection,
    notice: &Unmatched,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let inserted = diesel::insert_into(u::table)
        .values((
            u::notification_id.eq(&notice.notification_id),
            u::event_type.eq(&notice.event_type),
            u::reason.eq(notice.reason.as_str()),
            u::out_trade_no.eq(&notice.out_trade_no),
            u::out_refund_no.eq(notice.out_refund_no.as_deref()),
            u::transaction_id.eq(notice.transaction_id.as_deref()),
            u::amount_fen.eq(notice.amount_fen),
            u::currency.eq(notice.currency.as_deref()),
            u::occurred_at.eq(notice.occurred_at.map(sql::ts)),
            u::received_at.eq(sql::ts(now)),
        ))
        .execute(conn);
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if StoreError::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<NaiveDateTime>,
    NaiveDateTime,
);

/// The kept notifications, newest first, at most `limit` (1–1000).
pub fn list(conn: &mut DbConnection, limit: i64) -> Result<Vec<UnmatchedRecord>, StoreError> {
    let rows: Vec<Row> = u::table
        .select((
            u::notification_id,
            u::event_type,
            u::reason,
            u::out_trade_no,
            u::out_refund_no,
            u::transaction_id,
            u::amount_fen,
            u::currency,
            u::occurred_at,
            u::received_at,
        ))
        .order((u::received_at.desc(), u::notification_id.desc()))
        .limit(limit.clamp(1, 1000))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(
                notification_id,
                event_type,
                reason,
                out_trade_no,
                out_refund_no,
                transaction_id,
                amount_fen,
                currency,
                occurred_at,
                received_at,
            )| {
                Ok(UnmatchedRecord {
                    notice: Unmatched {
                        notification_id,
                        event_type,
                        reason: Reason::parse(&reason)?,
                        out_trade_no,
                        out_refund_no,
                        transaction_id,
                        amount_fen,
                        currency,
                        occurred_at: occurred_at.map(sql::utc),
                    },
                    received_at: sql::utc(received_at),
                })
            },
        )
        .collect()
}
