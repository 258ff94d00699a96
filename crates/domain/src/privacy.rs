//! Personal data (PIPL): how long it is kept, what an erased profile looks like, and when a
//! participant may delete their account.
//!
//! ```
//! use baoming_domain::lifecycle::{State, Status};
//! use baoming_domain::privacy::{DeletionBlocker, RegistrationFacts, deletion_blocker, erasable_from};
//! use chrono::{TimeZone, Utc};
//!
//! let ended = Utc.with_ymd_and_hms(2026, 6, 20, 9, 0, 0).single().ok_or("time")?;
//! // Three years after the sitting ended its participants' personal data is erased.
//! assert_eq!(erasable_from(ended, 36), Utc.with_ymd_and_hms(2029, 6, 20, 9, 0, 0).single());
//!
//! // A registration still waiting for a reviewer keeps the account.
//! let waiting = RegistrationFacts {
//!     status: Status::new(State::PendingReview),
//!     sitting_over: false,
//!     refund_open: false,
//! };
//! assert_eq!(deletion_blocker(&[waiting]), Some(DeletionBlocker::AwaitingReview));
//! // A completed sitting does not.
//! let done = RegistrationFacts {
//!     status: Status::new(State::Completed),
//!     sitting_over: true,
//!     refund_open: false,
//! };
//! assert_eq!(deletion_blocker(&[done]), None);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use chrono::{DateTime, Months, Utc};

use crate::lifecycle::{Flag, State, Status};

/// The name an erased profile keeps (lists, the event log's registrations and the ledger still
/// show a row; it names nobody). A valid [`crate::PersonName`].
pub const ERASED_NAME: &str = "姓名已删除";

/// The default retention: personal data of a sitting's participants is erased this many
/// months after the sitting ended (3 years).
pub const DEFAULT_ERASE_AFTER_MONTHS: u32 = 36;

/// When personal data tied to a sitting that ended at `sitting_end` may be erased: `months`
/// calendar months later (`None` past the calendar's end).
pub fn erasable_from(sitting_end: DateTime<Utc>, months: u32) -> Option<DateTime<Utc>> {
    sitting_end.checked_add_months(Months::new(months))
}

/// What the rule needs to know about one of the participant's registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationFacts {
    /// Its state and flag.
    pub status: Status,
    /// Its sitting (the period's exams) has ended.
    pub sitting_over: bool,
    /// Money of it is still being given back (a refund recorded and not yet succeeded, or one
    /// WeChat Pay could not make and finance has not settled).
    pub refund_open: bool,
}

/// Why an account cannot be deleted now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeletionBlocker {
    /// A registration waits for a reviewer.
    AwaitingReview,
    /// A registration waits for its payment (WeChat or a declared transfer).
    AwaitingPayment,
    /// A refund is asked for, under way, or failed and not yet settled by finance.
    RefundInProgress,
    /// A paid (or checked-in) registration's sitting has not ended.
    SittingAhead,
}

impl DeletionBlocker {
    /// Stable code (part of the API's error message, for the page's logic).
    pub fn code(self) -> &'static str {
        match self {
            DeletionBlocker::AwaitingReview => "awaiting_review",
            DeletionBlocker::AwaitingPayment => "awaiting_payment",
            DeletionBlocker::RefundInProgress => "refund_in_progress",
            DeletionBlocker::SittingAhead => "sitting_ahead",
        }
    }

    /// What the participant reads.
    pub fn message_zh(self) -> &'static str {
        match self {
            DeletionBlocker::AwaitingReview => "有报名正在等待审核",
            DeletionBlocker::AwaitingPayment => "有报名正在等待缴费",
            DeletionBlocker::RefundInProgress => "有退款正在办理",
            DeletionBlocker::SittingAhead => "已缴费的考试尚未结束",
        }
    }
}

/// Why one registration keeps the account, if it does.
pub fn registration_blocker(facts: &RegistrationFacts) -> Option<DeletionBlocker> {
    if facts.refund_open || facts.status.flag == Some(Flag::RefundFailed) {
        return Some(DeletionBlocker::RefundInProgress);
    }
    match facts.status.state {
        State::PendingReview => Some(DeletionBlocker::AwaitingReview),
        State::AwaitingPayment | State::AwaitingTransfer => Some(DeletionBlocker::AwaitingPayment),
        State::RefundRequested | State::Refunding => Some(DeletionBlocker::RefundInProgress),
        State::Paid | State::RefundDenied | State::CheckedIn if !facts.sitting_over => {
            Some(DeletionBlocker::SittingAhead)
        }
        // Rejected (the participant gives up fixing it), and everything over.
        State::Rejected
        | State::Paid
        | State::RefundDenied
        | State::CheckedIn
        | State::Refunded
        | State::Completed
        | State::Withdrawn
        | State::Closed => None,
    }
}

/// Whether a participant with these registrations may delete their account now: `None` if
/// nothing is live, else the first reason (in the order of [`DeletionBlocker`]).
pub fn deletion_blocker(registrations: &[RegistrationFacts]) -> Option<DeletionBlocker> {
    let order = [
        DeletionBlocker::AwaitingReview,
        DeletionBlocker::AwaitingPayment,
        DeletionBlocker::RefundInProgress,
        DeletionBlocker::SittingAhead,
    ];
    let found: Vec<DeletionBlocker> =
        registrations.iter().filter_map(registration_blocker).collect();
    order.into_iter().find(|b| found.contains(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn facts(state: State, sitting_over: bool) -> RegistrationFacts {
        RegistrationFacts { status: Status::new(state), sitting_over, refund_open: false }
    }

    #[test]
    fn every_state_before_and_after_the_sitting() {
        use DeletionBlocker::*;
        let table = [
            (State::PendingReview, Some(AwaitingReview), Some(AwaitingReview)),
            (State::Rejected, None, None),
            (State::AwaitingPayment, Some(AwaitingPayment), Some(AwaitingPayment)),
            (State::AwaitingTransfer, Some(AwaitingPayment), Some(AwaitingPayment)),
            (State::Paid, Some(SittingAhead), None),
            (State::RefundRequested, Some(RefundInProgress), Some(RefundInProgress)),
            (State::Refunding, Some(RefundInProgress), Some(RefundInProgress)),
            (State::Refunded, None, None),
            (State::RefundDenied, Some(SittingAhead), None),
            (State::CheckedIn, Some(SittingAhead), None),
            (State::Completed, None, None),
            (State::Withdrawn, None, None),
            (State::Closed, None, None),
        ];
        for (state, before, after) in table {
            assert_eq!(registration_blocker(&facts(state, false)), before, "{state:?} before");
            assert_eq!(registration_blocker(&facts(state, true)), after, "{state:?} after");
        }
    }

    #[test]
    fn money_still_going_back_keeps_the_account() {
        let mut closed = facts(State::Closed, true);
        closed.refund_open = true;
        assert_eq!(registration_blocker(&closed), Some(DeletionBlocker::RefundInProgress));
        let failed = RegistrationFacts {
            status: Status { state: State::Refunded, flag: Some(Flag::RefundFailed) },
            sitting_over: true,
            refund_open: false,
        };
        assert_eq!(registration_blocker(&failed), Some(DeletionBlocker::RefundInProgress));
    }

    #[test]
    fn the_first_reason_is_named_and_none_without_registrations() {
        assert_eq!(deletion_blocker(&[]), None);
        let several = [facts(State::Paid, false), facts(State::AwaitingPayment, false)];
        assert_eq!(deletion_blocker(&several), Some(DeletionBlocker::AwaitingPayment));
    }

    #[test]
    fn the_placeholder_is_a_name_and_the_horizon_counts_calendar_months() {
        assert!(crate::PersonName::parse(ERASED_NAME).is_ok());
        let end = Utc.with_ymd_and_hms(2028, 2, 29, 9, 0, 0).single().expect("time");
        assert_eq!(
            erasable_from(end, DEFAULT_ERASE_AFTER_MONTHS),
            Utc.with_ymd_and_hms(2031, 2, 28, 9, 0, 0).single()
        );
    }
}
