//! Daily reconciliation: the day's trade bill from WeChat Pay against our ledger.
//!
//! Pure: both sides are given; the differences are what finance must look at — money WeChat
//! has that we did not record, money we recorded that WeChat does not have, and amounts that
//! differ. Payments match by `out_trade_no`, refunds by `out_refund_no`.

use std::collections::BTreeMap;

use baoming_domain::Money;
use serde::{Deserialize, Serialize};

use crate::bill::TradeBill;
use crate::notify::{RefundStatus, TradeState};

/// Whether a line is a payment or a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Money in.
    Payment,
    /// Money back.
    Refund,
}

/// One line of our ledger for the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerEntry {
    /// Payment or refund.
    pub kind: EntryKind,
    /// The merchant number of the line: `out_trade_no` (payment) or `out_refund_no` (refund).
    pub number: String,
    /// The amount.
    pub amount: Money,
}

/// A difference between the bill and the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "difference", rename_all = "snake_case")]
pub enum Difference {
    /// WeChat Pay has it; our ledger does not.
    OnlyInWechat {
        /// Payment or refund.
        kind: EntryKind,
        /// Its merchant number.
        number: String,
        /// WeChat's amount.
        amount: Money,
    },
    /// Our ledger has it; the bill does not.
    OnlyInLedger {
        /// Payment or refund.
        kind: EntryKind,
        /// Its merchant number.
        number: String,
        /// Our amount.
        amount: Money,
    },
    /// Both have it with different amounts.
    AmountDiffers {
        /// Payment or refund.
        kind: EntryKind,
        /// Its merchant number.
        number: String,
        /// WeChat's amount.
        wechat: Money,
        /// Ours.
        ledger: Money,
    },
}

/// The payments and refunds a bill reports, by kind and number (amounts of repeated numbers
/// add up).
pub fn bill_entries(bill: &TradeBill) -> Vec<LedgerEntry> {
    let mut entries = Vec::new();
    for row in &bill.rows {
        match (&row.out_refund_no, row.refund_amount) {
            (Some(number), Some(amount))
                if matches!(row.refund_status, Some(RefundStatus::Success) | None) =>
            {
                entries.push(LedgerEntry {
                    kind: EntryKind::Refund,
                    number: number.clone(),
                    amount,
                })
            }
            (None, _) if row.trade_state == TradeState::Success => entries.push(LedgerEntry {
                kind: EntryKind::Payment,
                number: row.out_trade_no.clone(),
                amount: row.settlement_total,
            }),
            _ => {}
        }
    }
    entries
}

fn totals(entries: &[LedgerEntry]) -> BTreeMap<(EntryKind, String), Money> {
    let mut map: BTreeMap<(EntryKind, String), Money> = BTreeMap::new();
    for entry in entries {
        let slot = map.entry((entry.kind, entry.number.clone())).or_insert(Money::ZERO);
        *slot = slot.checked_add(entry.amount).unwrap_or(*slot);
    }
    map
}

/// Compares the bill's lines with the ledger's: every difference, in a stable order.
pub fn reconcile(bill: &[LedgerEntry], ledger: &[LedgerEntry]) -> Vec<Difference> {
    let (wechat, ours) = (totals(bill), totals(ledger));
    let mut differences = Vec::new();
    for ((kind, number), amount) in &wechat {
        match ours.get(&(*kind, number.clone())) {
            None => differences.push(Difference::OnlyInWechat {
                kind: *kind,
                number: number.clone(),
                amount: *amount,
            }),
            Some(ledger) if ledger != amount => differences.push(Difference::AmountDiffers {
                kind: *kind,
                number: number.clone(),
                wechat: *amount,
                ledger: *ledger,
            }),
            Some(_) => {}
        }
    }
    for ((kind, number), amount) in &ours {
        if !wechat.contains_key(&(*kind, number.clone())) {
            differences.push(Difference::OnlyInLedger {
                kind: *kind,
                number: number.clone(),
                amount: *amount,
            });
        }
    }
    differences
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: EntryKind, number: &str, fen: i64) -> LedgerEntry {
        LedgerEntry { kind, number: number.into(), amount: Money::from_fen(fen).expect("amount") }
    }

    #[test]
    fn matching_sides_have_no_differences() {
        let both = [entry(EntryKind::Payment, "a", 68_000), entry(EntryKind::Refund, "r", 68_000)];
        assert!(reconcile(&both, &both).is_empty());
    }

    #[test]
    fn every_kind_of_difference_is_reported() {
        let bill = [
            entry(EntryKind::Payment, "a", 68_000),
            entry(EntryKind::Payment, "b", 128_000),
            entry(EntryKind::Refund, "r1", 68_000),
        ];
        let ledger = [
            entry(EntryKind::Payment, "a", 68_000),
            entry(EntryKind::Payment, "b", 68_000),
            entry(EntryKind::Payment, "c", 68_000),
        ];
        let m = |fen| Money::from_fen(fen).expect("amount");
        assert_eq!(
            reconcile(&bill, &ledger),
            vec![
                Difference::AmountDiffers {
                    kind: EntryKind::Payment,
                    number: "b".into(),
                    wechat: m(128_000),
                    ledger: m(68_000)
                },
                Difference::OnlyInWechat {
                    kind: EntryKind::Refund,
                    number: "r1".into(),
                    amount: m(68_000)
                },
                Difference::OnlyInLedger {
                    kind: EntryKind::Payment,
                    number: "c".into(),
                    amount: m(68_000)
                },
            ]
        );
    }

    #[test]
    fn a_payment_and_a_refund_may_share_a_number() {
        let bill = [entry(EntryKind::Payment, "x", 100), entry(EntryKind::Refund, "x", 100)];
        let ledger = [entry(EntryKind::Payment, "x", 100)];
        assert_eq!(reconcile(&bill, &ledger).len(), 1);
    }
}
