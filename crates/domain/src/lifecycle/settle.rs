//! Money that arrives: what a payment does to a registration, and what happens to money a
//! registration cannot take.
//!
//! [`decide`](super::decide) knows the transition `awaiting_payment | awaiting_transfer →
//! paid`. [`settle`] is the rule around it for the payment ledger: every payment that arrives
//! is recorded, and it either pays the registration, or is flagged for finance (amount
//! mismatch), or is given back (the registration was paid already, withdrawn or closed).
//! Recognising the *same* payment delivered twice (a repeated notification, a query after the
//! notification) is the ledger's job, by its provider reference, before this rule is asked.

use serde::{Deserialize, Serialize};

use super::{
    Actor, Decision, Event, EventKind, Facts, PaymentMethod, Refusal, State, Status, Step,
    TransitionError, decide,
};
use crate::money::Money;

/// Why a payment is given back (stored with the payment as JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cause", rename_all = "snake_case")]
pub enum RefundCause {
    /// The registration was already paid (by another payment: the other method, or a second
    /// order).
    AlreadyPaid,
    /// The registration can no longer take money (withdrawn, closed, never approved …).
    NotPayable {
        /// The state it is in.
        state: State,
    },
    /// The amount paid differs from the fee: the money is given back whole, and the
    /// registration stays unpaid, so the participant can pay the right amount anew.
    AmountMismatch {
        /// The fee.
        expected: Money,
        /// What arrived.
        received: Money,
    },
}

impl RefundCause {
    /// The reason given with the refund (shown to the payer by WeChat Pay).
    pub fn reason_zh(self) -> String {
        match self {
            RefundCause::AlreadyPaid => "报名已支付，重复付款退回".to_owned(),
            RefundCause::NotPayable { state } => {
                format!("报名状态为{}，款项退回", state.label_zh())
            }
            RefundCause::AmountMismatch { expected, received } => {
                format!("支付金额{received}元与应缴费用{expected}元不符，款项退回")
            }
        }
    }

    /// A stable code: `already_paid`, `not_payable` or `amount_mismatch`.
    pub fn code(self) -> &'static str {
        match self {
            RefundCause::AlreadyPaid => "already_paid",
            RefundCause::NotPayable { .. } => "not_payable",
            RefundCause::AmountMismatch { .. } => "amount_mismatch",
        }
    }
}

/// What a payment that arrived does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// The registration becomes paid: write the decision with its event-log row.
    Pay(Decision),
    /// The amount differs from the fee: the payment is recorded, flagged for finance and given
    /// back ([`Settlement::give_back`]); the registration does not change.
    Mismatch {
        /// The fee.
        expected: Money,
        /// What arrived.
        received: Money,
    },
    /// The registration cannot take the money: the payment is recorded and given back.
    Refund(RefundCause),
}

impl Settlement {
    /// Whether the money goes back to the payer, and why: all money a registration could not
    /// take does — a payment it cannot take ([`Settlement::Refund`]) and a payment of the wrong
    /// amount ([`Settlement::Mismatch`]: never kept to be topped up or partly refunded; the
    /// participant pays the fee anew).
    pub fn give_back(&self) -> Option<RefundCause> {
        match self {
            Settlement::Pay(_) => None,
            Settlement::Mismatch { expected, received } => {
                Some(RefundCause::AmountMismatch { expected: *expected, received: *received })
            }
            Settlement::Refund(cause) => Some(*cause),
        }
    }
}

/// Decides what a new payment of `amount` by `via` does to a registration in `status`.
///
/// Errors only for an actor who may not confirm payments by this method (WeChat payments come
/// from the provider, transfers from finance or an admin); every payment that may be
/// recorded gets a [`Settlement`].
pub fn settle(
    status: Status,
    amount: Money,
    via: PaymentMethod,
    actor: Actor,
    facts: &Facts,
) -> Result<Settlement, TransitionError> {
    let event = Event::ConfirmPayment { amount, via };
    let cause = match status.state {
        State::AwaitingPayment | State::AwaitingTransfer => {
            return match decide(status, &event, actor, facts) {
                Ok(Step::Moved(decision)) => Ok(Settlement::Pay(decision)),
                Err(TransitionError {
                    refusal: Refusal::AmountMismatch { expected, received },
                    ..
                }) => Ok(Settlement::Mismatch { expected, received }),
                Err(other) => Err(other),
                Ok(Step::Unchanged(_)) => Err(TransitionError {
                    state: Some(status.state),
                    event: EventKind::ConfirmPayment,
                    refusal: Refusal::NotInTable,
                }),
            };
        }
        State::Paid
        | State::CheckedIn
        | State::RefundRequested
        | State::Refunding
        | State::RefundDenied
        | State::Completed
        | State::Refunded => RefundCause::AlreadyPaid,
        state @ (State::PendingReview | State::Rejected | State::Withdrawn | State::Closed) => {
            RefundCause::NotPayable { state }
        }
    };
    // The actor check still applies to money that is given back.
    match decide(
        Status::new(State::AwaitingPayment),
        &event,
        actor,
        &Facts { fee: amount, ..*facts },
    ) {
        Err(TransitionError { refusal: Refusal::WrongActor, .. }) => Err(TransitionError {
            state: Some(status.state),
            event: EventKind::ConfirmPayment,
            refusal: Refusal::WrongActor,
        }),
        _ => Ok(Settlement::Refund(cause)),
    }
}
