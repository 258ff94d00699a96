//! Daily reconciliation: yesterday's WeChat Pay trade bill against the payment ledger, stored
//! as a report the back office reads (`GET /api/v1/admin/reconciliation`).

use baoming_payments::reconcile::{EntryKind, LedgerEntry, bill_entries, reconcile};
use baoming_payments::{ErrorCode, PayError};
use baoming_store::DbConnection;
use baoming_store::jobs::{self, Claimed};
use baoming_store::reconciliation::{self, LedgerLine, Report};
use chrono::{Duration, FixedOffset, NaiveDate, TimeZone, Timelike, Utc};

use crate::handlers::{JobError, Services};

/// WeChat Pay's bills follow Beijing days; a day's bill is ready after 10:00 the next day.
const BILL_READY_HOUR: u32 = 10;

fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| unreachable!("+08:00 is a valid offset"))
}

/// The hourly run: reconciles yesterday once its bill is ready and its report does not exist.
pub fn run(
    conn: &mut DbConnection,
    claimed: &Claimed,
    services: &Services,
) -> Result<(), JobError> {
    let now = Utc::now().with_timezone(&beijing());
    if now.hour() >= BILL_READY_HOUR {
        let yesterday = now.date_naive() - Duration::days(1);
        if let Some(report) = reconcile_day(conn, yesterday, services)? {
            let differences = report.differences.as_array().map_or(0, Vec::len);
            if differences > 0 {
                tracing::warn!(day = %yesterday, differences, "reconciliation found differences");
            } else {
                tracing::info!(day = %yesterday, "reconciliation: the day matches");
            }
        }
    }
    Ok(jobs::complete(conn, claimed, Utc::now())?)
}

/// Reconciles one Beijing day and stores its report; `None` when the day already has one.
pub fn reconcile_day(
    conn: &mut DbConnection,
    day: NaiveDate,
    services: &Services,
) -> Result<Option<Report>, JobError> {
    if reconciliation::exists(conn, day)? {
        return Ok(None);
    }
    let bill = match services.runtime.block_on(services.pay.client.trade_bill(day)) {
        Ok(mut bill) => {
            // The merchant's bill may hold other apps' trades: only ours are reconciled.
            let pay = &services.pay;
            bill.rows.retain(|row| row.mchid == pay.mchid && row.appid == pay.appid);
            bill_entries(&bill)
        }
        // No trade that day.
        Err(PayError::Api { code: ErrorCode::NoStatementExist, .. }) => Vec::new(),
        Err(e) => {
            return Err(JobError::Failed(format!(
                "fetching the trade bill of {day}: {e} (retryable: {})",
                e.retryable()
            )));
        }
    };
    let start = beijing()
        .from_local_datetime(&day.and_time(chrono::NaiveTime::MIN))
        .single()
        .ok_or_else(|| JobError::Failed(format!("no Beijing midnight on {day}")))?
        .with_timezone(&Utc);
    let ledger: Vec<LedgerEntry> =
        reconciliation::ledger_lines(conn, start, start + Duration::days(1))?
            .into_iter()
            .map(|line| match line {
                LedgerLine::Payment { out_trade_no, amount } => {
                    LedgerEntry { kind: EntryKind::Payment, number: out_trade_no, amount }
                }
                LedgerLine::Refund { out_refund_no, amount } => {
                    LedgerEntry { kind: EntryKind::Refund, number: out_refund_no, amount }
                }
            })
            .collect();
    let differences = reconcile(&bill, &ledger);
    let report = Report {
        bill_date: day,
        created_at: Utc::now(),
        bill_lines: i32::try_from(bill.len()).unwrap_or(i32::MAX),
        ledger_lines: i32::try_from(ledger.len()).unwrap_or(i32::MAX),
        differences: serde_json::to_value(&differences)
            .map_err(|e| JobError::Failed(format!("differences: {e}")))?,
    };
    reconciliation::save(conn, &report)?;
    Ok(Some(report))
}
