//! The stored codes of the payment tables: where an order stands, what a payment did, how far
//! a refund has come.

use serde::Serialize;

use crate::error::StoreError;

macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            /// The stored code.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)* }
            }

            pub(crate) fn parse(code: &str) -> Result<Self, StoreError> {
                match code {
                    $($code => Ok($name::$variant),)*
                    other => Err(StoreError::corrupt(format_args!(
                        "{} {other:?}", stringify!($name)
                    ))),
                }
            }
        }
    };
}

codes! {
    /// Where a WeChat order stands, as far as we know.
    OrderState {
        /// Created; may be paid.
        Open = "open",
        /// Money arrived for it.
        Paid = "paid",
        /// Closed at WeChat: it can no longer be paid.
        Closed = "closed",
        /// Paid with an amount other than its fee: the money is given back, and the
        /// registration may be paid with a new order.
        Mismatched = "mismatched",
    }
}

codes! {
    /// What a recorded payment did.
    Disposition {
        /// It paid its registration.
        Applied = "applied",
        /// Its amount differs from the fee: flagged for finance, the registration unchanged.
        Mismatch = "mismatch",
        /// The registration could not take it: it is being given back.
        Refund = "refund",
    }
}

codes! {
    /// How far a refund has come.
    RefundState {
        /// Recorded; not yet sent to WeChat (or, for a transfer, not yet returned by finance).
        Pending = "pending",
        /// WeChat accepted it and is processing it.
        Processing = "processing",
        /// The money went back.
        Succeeded = "succeeded",
        /// WeChat could not refund (e.g. the payer's card was closed): finance must act.
        Abnormal = "abnormal",
        /// WeChat closed the refund.
        Closed = "closed",
    }
}

impl RefundState {
    /// WeChat Pay could not make the refund (closed, or abnormal): finance retries it or
    /// refunds offline.
    pub fn failed_at_provider(self) -> bool {
        matches!(self, RefundState::Closed | RefundState::Abnormal)
    }

    /// The money went back, or never will by this refund (succeeded, or closed).
    pub fn is_final(self) -> bool {
        matches!(self, RefundState::Succeeded | RefundState::Closed)
    }
}

impl RefundState {
    /// Finance's word for it.
    pub fn label_zh(self) -> &'static str {
        match self {
            RefundState::Pending => "待办理",
            RefundState::Processing => "退款处理中",
            RefundState::Succeeded => "已退款",
            RefundState::Abnormal => "退款异常",
            RefundState::Closed => "退款关闭",
        }
    }
}
