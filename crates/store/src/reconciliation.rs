//! Daily reconciliation reports: what the ledger says about a day's WeChat Pay money, and the
//! stored comparison with WeChat Pay's trade bill (the comparison itself is
//! `baoming_payments::reconcile`, a pure function).

use baoming_domain::Money;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::payments::RefundState;
use crate::schema::{payments, reconciliation_reports, refunds};
use crate::sql;

/// One line of the ledger for reconciliation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerLine {
    /// WeChat money received (whatever it did here: paid, flagged or being given back).
    Payment {
        /// The order.
        out_trade_no: String,
        /// The amount.
        amount: Money,
    },
    /// A WeChat refund that succeeded.
    Refund {
        /// The refund number.
        out_refund_no: String,
        /// The amount.
        amount: Money,
    },
}

/// The ledger's WeChat lines of `[from, to)`: payments by the time the money arrived, refunds
/// by the time they succeeded (not those finance refunded offline: WeChat Pay never made
/// them).
pub fn ledger_lines(
    conn: &mut DbConnection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<LedgerLine>, StoreError> {
    let wechat = baoming_domain::lifecycle::PaymentMethod::WechatPay.as_str();
    let paid = payments::table
        .filter(payments::method.eq(wechat))
        .filter(payments::received_at.ge(sql::ts(from)))
        .filter(payments::received_at.lt(sql::ts(to)))
        .filter(payments::out_trade_no.is_not_null())
        .select((payments::out_trade_no, payments::amount_fen))
        .load::<(Option<String>, i64)>(conn)?;
    let refunded = refunds::table
        .filter(refunds::method.eq(wechat))
        .filter(refunds::state.eq(RefundState::Succeeded.as_str()))
        .filter(refunds::offline_note.is_null())
        .filter(refunds::updated_at.ge(sql::ts(from)))
        .filter(refunds::updated_at.lt(sql::ts(to)))
        .select((refunds::out_refund_no, refunds::amount_fen))
        .load::<(Option<String>, i64)>(conn)?;
    let money = |fen| Money::from_fen(fen).map_err(StoreError::corrupt);
    let mut lines = Vec::with_capacity(paid.len() + refunded.len());
    // Every disposition (paid, flagged, being given back) is money WeChat received for us.
    for (no, fen) in paid {
        if let Some(out_trade_no) = no {
            lines.push(LedgerLine::Payment { out_trade_no, amount: money(fen)? });
        }
    }
    for (no, fen) in refunded {
        if let Some(out_refund_no) = no {
            lines.push(LedgerLine::Refund { out_refund_no, amount: money(fen)? });
        }
    }
    Ok(lines)
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The bill's day (Beijing date).
    pub bill_date: NaiveDate,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Lines in WeChat's bill.
    pub bill_lines: i32,
    /// Lines in our ledger.
    pub ledger_lines: i32,
    /// The differences (JSON array; empty when the day reconciles).
    pub differences: serde_json::Value,
}

/// Stores the report of a day (the first one wins: a second run of the same day changes
/// nothing). Returns whether it was written.
pub fn save(conn: &mut DbConnection, report: &Report) -> Result<bool, StoreError> {
    if exists(conn, report.bill_date)? {
        return Ok(false);
    }
    let written = diesel::insert_into(reconciliation_reports::table)
        .values((
            reconciliation_reports::bill_date.eq(report.bill_date.to_string()),
            reconciliation_reports::created_at.eq(sql::ts(report.created_at)),
            reconciliation_reports::bill_lines.eq(report.bill_lines),
            reconciliation_reports::ledger_lines.eq(report.ledger_lines),
            reconciliation_reports::differences.eq(report.differences.to_string()),
        ))
        .execute(conn);
    match written {
        Ok(_) => Ok(true),
        Err(e) if StoreError::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Whether the day has its report.
pub fn exists(conn: &mut DbConnection, day: NaiveDate) -> Result<bool, StoreError> {
    let n = reconciliation_reports::table.find(day.to_string()).count().get_result::<i64>(conn)?;
    Ok(n > 0)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = reconciliation_reports)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct Row {
    bill_date: String,
    created_at: NaiveDateTime,
    bill_lines: i32,
    ledger_lines: i32,
    differences: String,
}

fn report_from(row: Row) -> Result<Report, StoreError> {
    Ok(Report {
        bill_date: row.bill_date.parse().map_err(StoreError::corrupt)?,
        created_at: sql::utc(row.created_at),
        bill_lines: row.bill_lines,
        ledger_lines: row.ledger_lines,
        differences: serde_json::from_str(&row.differences).map_err(StoreError::corrupt)?,
    })
}

/// The newest reports first (at most `limit`).
pub fn list(conn: &mut DbConnection, limit: i64) -> Result<Vec<Report>, StoreError> {
    reconciliation_reports::table
        .order(reconciliation_reports::bill_date.desc())
        .limit(limit)
        .select(Row::as_select())
        .load::<Row>(conn)?
        .into_iter()
        .map(report_from)
        .collect()
}

/// One day's report.
pub fn get(conn: &mut DbConnection, day: NaiveDate) -> Result<Report, StoreError> {
    reconciliation_reports::table
        .find(day.to_string())
        .select(Row::as_select())
        .first::<Row>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "reconciliation report" })
        .and_then(report_from)
}
