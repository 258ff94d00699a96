//! The events that move a registration, and the small values they carry.

use serde::{Deserialize, Serialize};

use super::state::{UnknownCode, coded_enum};
use crate::money::Money;

coded_enum! {
    /// How a registration was paid.
    pub enum PaymentMethod as "payment method" {
        /// WeChat Pay (JSAPI in the mini-program).
        WechatPay = "wechat_pay",
        /// An employer bank transfer (单位转账) that finance confirms.
        BankTransfer = "bank_transfer",
    }
}

coded_enum! {
    /// How a check-in was made.
    pub enum CheckInProof as "check-in proof" {
        /// The participant scanned the venue's rotating code and it verified (the strong proof:
        /// a photographed code is stale within two slices).
        RotatingCode = "rotating",
        /// The participant scanned the venue's printed static code (a fallback, off by
        /// default; recorded so staff can see who checked in without the rotating code).
        StaticCode = "static",
        /// Check-in staff checked the person in by hand.
        Staff = "staff",
    }
}

/// Why a reason text is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReasonError {
    /// Empty or only whitespace.
    #[error("请填写原因")]
    Empty,
    /// Longer than [`Reason::MAX_CHARS`].
    #[error("原因不能超过{max}个字", max = Reason::MAX_CHARS)]
    TooLong,
}

/// A reason or note typed by a person (rejection, refund, transfer not received…): never empty.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Reason(String);

impl Reason {
    /// The longest reason accepted, in characters.
    pub const MAX_CHARS: usize = 500;

    /// Trims and checks a reason.
    pub fn parse(text: &str) -> Result<Self, ReasonError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ReasonError::Empty);
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(ReasonError::TooLong);
        }
        Ok(Self(trimmed.to_owned()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Reason {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Reason {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Reason::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Something that happens to a registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// First submission (creates the registration).
    Submit,
    /// Submission again after a rejection, with an edited form.
    Resubmit,
    /// The participant withdraws before paying.
    Withdraw,
    /// A reviewer approves (takes a seat).
    Approve,
    /// A reviewer rejects.
    Reject {
        /// Shown to the participant.
        reason: Reason,
    },
    /// The participant says the employer will transfer the fee.
    DeclareTransfer,
    /// Finance found no transfer.
    TransferNotReceived {
        /// Shown to the participant.
        note: Reason,
    },
    /// Money arrived (WeChat notification or query, or finance's confirmation of a transfer).
    ConfirmPayment {
        /// The amount received.
        amount: Money,
        /// How.
        via: PaymentMethod,
    },
    /// Check-in at the venue.
    CheckIn {
        /// How the person was identified.
        proof: CheckInProof,
        /// At which venue (the scanned code's venue, or the one staff chose), if known.
        venue: Option<crate::ids::VenueId>,
    },
    /// The participant asks for the fee back.
    RequestRefund {
        /// Why.
        reason: Reason,
    },
    /// The participant takes the refund request back.
    CancelRefundRequest,
    /// Finance approves the refund.
    ApproveRefund,
    /// Finance refuses the refund.
    DenyRefund {
        /// Shown to the participant.
        reason: Reason,
    },
    /// The money went back (provider notification, or finance after an offline refund).
    RefundSucceeded,
    /// The provider could not refund.
    RefundFailed {
        /// The provider's reason.
        reason: Reason,
    },
    /// Finance asks the provider again for a refund it could not make (closed or abnormal):
    /// a new provider refund, linked to the failed one.
    RetryRefund,
    /// The clock: the period's payment deadline passed.
    PaymentDeadlinePassed,
    /// The clock: the sitting ended.
    SittingEnded,
}

coded_enum! {
    /// The name of an event, as stored in the event log.
    pub enum EventKind as "event" {
        /// See [`Event::Submit`].
        Submit = "submit",
        /// See [`Event::Resubmit`].
        Resubmit = "resubmit",
        /// See [`Event::Withdraw`].
        Withdraw = "withdraw",
        /// See [`Event::Approve`].
        Approve = "approve",
        /// See [`Event::Reject`].
        Reject = "reject",
        /// See [`Event::DeclareTransfer`].
        DeclareTransfer = "declare_transfer",
        /// See [`Event::TransferNotReceived`].
        TransferNotReceived = "transfer_not_received",
        /// See [`Event::ConfirmPayment`].
        ConfirmPayment = "confirm_payment",
        /// See [`Event::CheckIn`].
        CheckIn = "check_in",
        /// See [`Event::RequestRefund`].
        RequestRefund = "request_refund",
        /// See [`Event::CancelRefundRequest`].
        CancelRefundRequest = "cancel_refund_request",
        /// See [`Event::ApproveRefund`].
        ApproveRefund = "approve_refund",
        /// See [`Event::DenyRefund`].
        DenyRefund = "deny_refund",
        /// See [`Event::RefundSucceeded`].
        RefundSucceeded = "refund_succeeded",
        /// See [`Event::RefundFailed`].
        RefundFailed = "refund_failed",
        /// See [`Event::RetryRefund`].
        RetryRefund = "retry_refund",
        /// See [`Event::PaymentDeadlinePassed`].
        PaymentDeadlinePassed = "payment_deadline_passed",
        /// See [`Event::SittingEnded`].
        SittingEnded = "sitting_ended",
    }
}

impl EventKind {
    /// Whether the event needs the capacity answer (it takes a seat): the data layer asks for a
    /// seat atomically before deciding.
    pub fn takes_seat(self) -> bool {
        self == EventKind::Approve
    }
}

impl Event {
    /// The event's name.
    pub fn kind(&self) -> EventKind {
        match self {
            Event::Submit => EventKind::Submit,
            Event::Resubmit => EventKind::Resubmit,
            Event::Withdraw => EventKind::Withdraw,
            Event::Approve => EventKind::Approve,
            Event::Reject { .. } => EventKind::Reject,
            Event::DeclareTransfer => EventKind::DeclareTransfer,
            Event::TransferNotReceived { .. } => EventKind::TransferNotReceived,
            Event::ConfirmPayment { .. } => EventKind::ConfirmPayment,
            Event::CheckIn { .. } => EventKind::CheckIn,
            Event::RequestRefund { .. } => EventKind::RequestRefund,
            Event::CancelRefundRequest => EventKind::CancelRefundRequest,
            Event::ApproveRefund => EventKind::ApproveRefund,
            Event::DenyRefund { .. } => EventKind::DenyRefund,
            Event::RefundSucceeded => EventKind::RefundSucceeded,
            Event::RefundFailed { .. } => EventKind::RefundFailed,
            Event::RetryRefund => EventKind::RetryRefund,
            Event::PaymentDeadlinePassed => EventKind::PaymentDeadlinePassed,
            Event::SittingEnded => EventKind::SittingEnded,
        }
    }

    /// The reason or note a person gave with the event, for the event log.
    pub fn reason(&self) -> Option<&Reason> {
        match self {
            Event::Reject { reason }
            | Event::RequestRefund { reason }
            | Event::DenyRefund { reason }
            | Event::RefundFailed { reason }
            | Event::TransferNotReceived { note: reason } => Some(reason),
            _ => None,
        }
    }
}
