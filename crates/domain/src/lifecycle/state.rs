//! The 13 states of a registration and the flag staff see beside them.

use serde::{Deserialize, Serialize};

/// A stored code that names no known value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} code {code:?}")]
pub struct UnknownCode {
    what: &'static str,
    code: String,
}

impl UnknownCode {
    pub(crate) fn new(what: &'static str, code: &str) -> Self {
        Self { what, code: code.chars().take(64).collect() }
    }
}

macro_rules! coded_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident as $what:literal {
        $($(#[$vdoc:meta])* $variant:ident = $code:literal,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        $vis enum $name { $($(#[$vdoc])* $variant,)* }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant,)*];

            /// The stable code stored in the database and sent over the API.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)* }
            }

            /// Parses a stored code.
            pub fn parse(code: &str) -> Result<Self, UnknownCode> {
                match code {
                    $($code => Ok($name::$variant),)*
                    other => Err(UnknownCode::new($what, other)),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use coded_enum;

coded_enum! {
    /// Where a registration stands.
    pub enum State as "state" {
        /// Submitted, waiting for a reviewer.
        PendingReview = "pending_review",
        /// Rejected with a reason; the participant may fix and resubmit.
        Rejected = "rejected",
        /// Approved; a seat is held; waiting for payment.
        AwaitingPayment = "awaiting_payment",
        /// A bank transfer was declared; finance has not confirmed it.
        AwaitingTransfer = "awaiting_transfer",
        /// Paid; waiting for check-in.
        Paid = "paid",
        /// The participant asked for a refund; finance decides.
        RefundRequested = "refund_requested",
        /// Finance approved the refund; the money is on its way back.
        Refunding = "refunding",
        /// Money returned; seat released.
        Refunded = "refunded",
        /// Finance refused the refund; the seat is kept.
        RefundDenied = "refund_denied",
        /// Checked in at the venue.
        CheckedIn = "checked_in",
        /// Checked in and the sitting has ended.
        Completed = "completed",
        /// Withdrawn by the participant before paying.
        Withdrawn = "withdrawn",
        /// The sitting ended (or registration closed) before review or payment finished.
        Closed = "closed",
    }
}

coded_enum! {
    /// A mark for staff beside the state: something needs a person's attention.
    pub enum Flag as "flag" {
        /// A declared transfer is still unconfirmed past the payment deadline.
        TransferOverdue = "transfer_overdue",
        /// The provider could not complete the refund.
        RefundFailed = "refund_failed",
    }
}

impl State {
    /// No event moves a registration out of a terminal state.
    pub fn is_terminal(self) -> bool {
        matches!(self, State::Refunded | State::Completed | State::Withdrawn | State::Closed)
    }

    /// Whether a registration in this state holds a seat of its region.
    pub fn holds_seat(self) -> bool {
        matches!(
            self,
            State::AwaitingPayment
                | State::AwaitingTransfer
                | State::Paid
                | State::RefundRequested
                | State::Refunding
                | State::RefundDenied
                | State::CheckedIn
                | State::Completed
        )
    }

    /// Whether a registration in this state has been paid (whatever became of the fee since):
    /// only such a registration can have an invoice, issued or reversed.
    pub fn was_paid(self) -> bool {
        matches!(
            self,
            State::Paid
                | State::RefundRequested
                | State::Refunding
                | State::RefundDenied
                | State::Refunded
                | State::CheckedIn
                | State::Completed
        )
    }

    /// Whether a registration in this state can hold an admission ticket: tickets are assigned
    /// to checked-in registrations, which only move on to completed.
    pub fn may_hold_ticket(self) -> bool {
        matches!(self, State::CheckedIn | State::Completed)
    }

    /// Whether a registration in this state may be invoiced: its fee was paid and is kept
    /// (paid, a refund refused, checked in, completed). A refund under review or under way
    /// waits for its outcome; refunded money is not invoiced.
    pub fn is_invoiceable(self) -> bool {
        matches!(self, State::Paid | State::RefundDenied | State::CheckedIn | State::Completed)
    }

    /// Whether the registration still counts as the participant's registration for its period
    /// (a second one may only be submitted when none is live).
    pub fn is_live(self) -> bool {
        !matches!(self, State::Withdrawn | State::Closed | State::Refunded)
    }
}

/// The state of a registration with its flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Status {
    /// The state.
    pub state: State,
    /// A mark for staff, if any.
    pub flag: Option<Flag>,
}

impl Status {
    /// A status without a flag.
    pub fn new(state: State) -> Self {
        Self { state, flag: None }
    }
}
