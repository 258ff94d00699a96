//! The merchant's order and refund numbers.
//!
//! Both are derived deterministically from the uuid of the record they belong to, so a retry
//! after a timeout or a `SYSTEM_ERROR` reuses the same number: WeChat Pay then recognises the
//! repeat instead of taking a second payment or making a second refund.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// Why a merchant number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// The length is outside the allowed range.
    #[error("length {len} outside {min}..={max}")]
    Length {
        /// The actual length.
        len: usize,
        /// The least length allowed.
        min: usize,
        /// The greatest length allowed.
        max: usize,
    },
    /// A character outside the allowed set.
    #[error("character {0:?} not allowed")]
    Character(char),
}

fn check(text: &str, min: usize, max: usize, extra: &[u8]) -> Result<(), NumberError> {
    if let Some(bad) = text.chars().find(|&c| {
        !(c.is_ascii_alphanumeric() || u8::try_from(c).is_ok_and(|b| extra.contains(&b)))
    }) {
        return Err(NumberError::Character(bad));
    }
    let len = text.len();
    if !(min..=max).contains(&len) {
        return Err(NumberError::Length { len, min, max });
    }
    Ok(())
}

macro_rules! number_type {
    ($(#[$meta:meta])* $name:ident, $min:expr, $max:expr, $extra:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The least length.
            pub const MIN_LEN: usize = $min;
            /// The greatest length.
            pub const MAX_LEN: usize = $max;

            /// Checks a number's length and characters.
            pub fn parse(text: &str) -> Result<Self, NumberError> {
                check(text, $min, $max, $extra)?;
                Ok(Self(text.to_owned()))
            }

            /// The number as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

number_type!(
    /// A merchant order number (`out_trade_no`): 6–32 characters of `[0-9a-zA-Z_\-|*]`,
    /// unique per merchant.
    OutTradeNo, 6, 32, b"_-|*"
);

number_type!(
    /// A merchant refund number (`out_refund_no`): 1–64 characters of `[0-9a-zA-Z_\-|*@]`.
    /// WeChat Pay makes at most one refund per number, forever.
    OutRefundNo, 1, 64, b"_-|*@"
);

impl OutTradeNo {
    /// The order number of an order: the uuid as 32 lowercase hex digits. Every payment
    /// attempt and retry for that order uses this same number.
    pub fn for_order(order: Uuid) -> Self {
        Self(order.simple().to_string())
    }
}

impl OutRefundNo {
    /// The refund number of a refund record: the uuid as 32 lowercase hex digits (refund
    /// numbers are their own namespace at WeChat Pay, so no prefix is needed). Retries of the
    /// same refund reuse this number, so WeChat Pay refunds at most once.
    pub fn for_payment(refund: Uuid) -> Self {
        Self(refund.simple().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_trade_no_rules() {
        assert!(OutTradeNo::parse("123456").is_ok());
        assert!(OutTradeNo::parse("a_b-c|d*e").is_ok());
        assert!(OutTradeNo::parse(&"a".repeat(32)).is_ok());
        assert_eq!(
            OutTradeNo::parse("12345"),
            Err(NumberError::Length { len: 5, min: 6, max: 32 })
        );
        assert_eq!(
            OutTradeNo::parse(&"a".repeat(33)),
            Err(NumberError::Length { len: 33, min: 6, max: 32 })
        );
        assert_eq!(OutTradeNo::parse("abc@def"), Err(NumberError::Character('@')));
        assert_eq!(OutTradeNo::parse("订单123456"), Err(NumberError::Character('订')));
        assert_eq!(OutTradeNo::parse("abc def"), Err(NumberError::Character(' ')));
    }

    #[test]
    fn out_refund_no_rules() {
        assert!(OutRefundNo::parse("a").is_ok());
        assert!(OutRefundNo::parse("r@1_-|*").is_ok());
        assert!(OutRefundNo::parse(&"9".repeat(64)).is_ok());
        assert_eq!(OutRefundNo::parse(""), Err(NumberError::Length { len: 0, min: 1, max: 64 }));
        assert!(OutRefundNo::parse(&"9".repeat(65)).is_err());
        assert_eq!(OutRefundNo::parse("a/b"), Err(NumberError::Character('/')));
    }

    #[test]
    fn deterministic_from_uuid() {
        let id = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        let order = OutTradeNo::for_order(id);
        assert_eq!(order.as_str(), "0123456789abcdef0123456789abcdef");
        assert_eq!(order, OutTradeNo::for_order(id));
        assert_eq!(OutTradeNo::parse(order.as_str()), Ok(order));
        let refund = OutRefundNo::for_payment(id);
        assert_eq!(refund.to_string(), "0123456789abcdef0123456789abcdef");
        assert_eq!(OutRefundNo::parse(refund.as_str()), Ok(refund));
    }

    #[test]
    fn serde_validates() {
        let ok: OutTradeNo = serde_json::from_str("\"abcdef\"").expect("json");
        assert_eq!(serde_json::to_string(&ok).expect("json"), "\"abcdef\"");
        assert!(serde_json::from_str::<OutTradeNo>("\"abc\"").is_err());
    }
}
