//! Money: integer fen (分) everywhere, shown as yuan with two decimals.
//!
//! There is no floating point anywhere in this module: amounts are parsed from decimal text
//! digit by digit and all arithmetic is checked.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The problems found while building or parsing an amount of money.
///
/// The `Display` text of each variant is a short Chinese message meant for the person typing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The amount is negative.
    #[error("金额不能为负数")]
    Negative,
    /// The amount text is empty.
    #[error("请填写金额")]
    Empty,
    /// The amount text is not a plain decimal number like `1280` or `1280.50`.
    #[error("金额格式不正确，请填写如 1280 或 1280.50 的数字")]
    InvalidFormat,
    /// The amount text has more than two decimals (smaller than one fen).
    #[error("金额最多保留两位小数")]
    TooManyDecimals,
    /// The amount does not fit in the range this system can hold.
    #[error("金额过大")]
    Overflow,
}

/// A non-negative amount of money in integer fen (分); 100 fen = 1 yuan.
///
/// `Display` (and [`Money::to_yuan_string`]) shows yuan with two decimals (`1280.50`);
/// serde reads and writes the integer fen (`128050`), refusing negative numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(i64);

impl Money {
    /// Zero fen.
    pub const ZERO: Money = Money(0);

    /// Builds an amount from integer fen; negative amounts are refused.
    pub const fn from_fen(fen: i64) -> Result<Money, MoneyError> {
        if fen < 0 { Err(MoneyError::Negative) } else { Ok(Money(fen)) }
    }

    /// The amount in integer fen (never negative).
    pub const fn fen(self) -> i64 {
        self.0
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, or `None` on overflow.
    pub const fn checked_add(self, other: Money) -> Option<Money> {
        match self.0.checked_add(other.0) {
            Some(fen) => Some(Money(fen)),
            None => None,
        }
    }

    /// `self - other`, or `None` if the result would be negative.
    pub const fn checked_sub(self, other: Money) -> Option<Money> {
        if other.0 > self.0 { None } else { Some(Money(self.0 - other.0)) }
    }

    /// `self × factor` (e.g. a unit fee times a number of subjects), or `None` on overflow.
    pub const fn checked_mul(self, factor: u32) -> Option<Money> {
        match self.0.checked_mul(factor as i64) {
            Some(fen) => Some(Money(fen)),
            None => None,
        }
    }

    /// The sum of all amounts, or `None` on overflow. The sum of nothing is [`Money::ZERO`].
    pub fn sum<I: IntoIterator<Item = Money>>(amounts: I) -> Option<Money> {
        amounts.into_iter().try_fold(Money::ZERO, |acc, m| acc.checked_add(m))
    }

    /// Parses exact decimal yuan: `1280`, `1280.5`, `1280.50`, `0.01`.
    ///
    /// Surrounding whitespace is ignored. Refused: empty text, signs (`-` gives
    /// [`MoneyError::Negative`]), exponents, thousands separators, a missing integer part
    /// (`.5`) or fraction (`1.`), more than two decimals, and amounts beyond `i64` fen.
    pub fn parse_yuan(raw: &str) -> Result<Money, MoneyError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(MoneyError::Empty);
        }
        if s.starts_with('-') {
            return Err(MoneyError::Negative);
        }
        let (int_part, frac_part) = match s.split_once('.') {
            Some((i, f)) => (i, Some(f)),
            None => (s, None),
        };
        if !is_ascii_digits(int_part) {
            return Err(MoneyError::InvalidFormat);
        }
        let frac_fen = match frac_part {
            None => 0,
            Some(f) if !is_ascii_digits(f) => return Err(MoneyError::InvalidFormat),
            Some(f) if f.len() > 2 => return Err(MoneyError::TooManyDecimals),
            Some(f) => {
                let digits = f.bytes().map(|b| i64::from(b - b'0'));
                // "5" means 50 fen, "05" means 5 fen.
                digits.zip([10, 1]).map(|(d, w)| d * w).sum::<i64>()
            }
        };
        let yuan = int_part
            .bytes()
            .try_fold(0i64, |acc, b| acc.checked_mul(10)?.checked_add(i64::from(b - b'0')));
        yuan.and_then(|y| y.checked_mul(100))
            .and_then(|fen| fen.checked_add(frac_fen))
            .map(Money)
            .ok_or(MoneyError::Overflow)
    }

    /// The amount as yuan with two decimals: `1280.50`, `0.01`, `0.00`.
    pub fn to_yuan_string(self) -> String {
        self.to_string()
    }
}

/// Whether `s` is a non-empty run of ASCII digits.
fn is_ascii_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

impl fmt::Display for Money {
    /// Yuan with two decimals: `1280.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:02}", self.0 / 100, self.0 % 100)
    }
}

impl TryFrom<i64> for Money {
    type Error = MoneyError;

    fn try_from(fen: i64) -> Result<Self, Self::Error> {
        Money::from_fen(fen)
    }
}

impl From<Money> for i64 {
    fn from(m: Money) -> i64 {
        m.0
    }
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let fen = i64::deserialize(deserializer)?;
        Money::from_fen(fen).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, I64Deserializer};

    fn fen(n: i64) -> Money {
        Money::from_fen(n).expect("non-negative test amount")
    }

    #[test]
    fn from_fen_refuses_negative() {
        assert_eq!(Money::from_fen(-1), Err(MoneyError::Negative));
        assert_eq!(Money::from_fen(0), Ok(Money::ZERO));
        assert_eq!(Money::from_fen(128_050).map(Money::fen), Ok(128_050));
        assert_eq!(Money::try_from(-5), Err(MoneyError::Negative));
        assert_eq!(i64::from(fen(7)), 7);
        assert_eq!(Money::default(), Money::ZERO);
        assert!(Money::ZERO.is_zero());
    }

    #[test]
    fn parse_yuan_worked_examples() {
        assert_eq!(Money::parse_yuan("1280"), Ok(fen(128_000)));
        assert_eq!(Money::parse_yuan("1280.5"), Ok(fen(128_050)));
        assert_eq!(Money::parse_yuan("1280.50"), Ok(fen(128_050)));
        assert_eq!(Money::parse_yuan("1280.05"), Ok(fen(128_005)));
        assert_eq!(Money::parse_yuan("0.01"), Ok(fen(1)));
        assert_eq!(Money::parse_yuan("0"), Ok(Money::ZERO));
        assert_eq!(Money::parse_yuan(" 12.3 "), Ok(fen(1230)));
        assert_eq!(Money::parse_yuan("007"), Ok(fen(700)));
    }

    #[test]
    fn parse_yuan_refusals() {
        assert_eq!(Money::parse_yuan(""), Err(MoneyError::Empty));
        assert_eq!(Money::parse_yuan("   "), Err(MoneyError::Empty));
        assert_eq!(Money::parse_yuan("-1"), Err(MoneyError::Negative));
        assert_eq!(Money::parse_yuan("+1"), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan("1e3"), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan("1.0e1"), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan("1,280"), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan(".5"), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan("1."), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan("1.2.3"), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan("１２"), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan("NaN"), Err(MoneyError::InvalidFormat));
        assert_eq!(Money::parse_yuan("1.005"), Err(MoneyError::TooManyDecimals));
        assert_eq!(Money::parse_yuan("99999999999999999999"), Err(MoneyError::Overflow));
        // i64::MAX fen is 92233720368547758.07 yuan.
        assert_eq!(Money::parse_yuan("92233720368547758.07"), Ok(fen(i64::MAX)));
        assert_eq!(Money::parse_yuan("92233720368547758.08"), Err(MoneyError::Overflow));
        assert_eq!(Money::parse_yuan("92233720368547759"), Err(MoneyError::Overflow));
    }

    #[test]
    fn display_shows_two_decimals() {
        assert_eq!(fen(128_050).to_string(), "1280.50");
        assert_eq!(fen(128_000).to_yuan_string(), "1280.00");
        assert_eq!(fen(1).to_string(), "0.01");
        assert_eq!(Money::ZERO.to_string(), "0.00");
        assert_eq!(fen(i64::MAX).to_string(), "92233720368547758.07");
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(fen(100).checked_add(fen(50)), Some(fen(150)));
        assert_eq!(fen(i64::MAX).checked_add(fen(1)), None);
        assert_eq!(fen(100).checked_sub(fen(30)), Some(fen(70)));
        assert_eq!(fen(100).checked_sub(fen(100)), Some(Money::ZERO));
        assert_eq!(fen(100).checked_sub(fen(101)), None);
        assert_eq!(fen(100).checked_mul(3), Some(fen(300)));
        assert_eq!(fen(100).checked_mul(0), Some(Money::ZERO));
        assert_eq!(fen(i64::MAX).checked_mul(2), None);
        assert_eq!(fen(1).checked_mul(u32::MAX), Some(fen(i64::from(u32::MAX))));
    }

    #[test]
    fn sum_of_amounts() {
        assert_eq!(Money::sum([]), Some(Money::ZERO));
        assert_eq!(Money::sum([fen(1), fen(2), fen(3)]), Some(fen(6)));
        assert_eq!(Money::sum(vec![fen(i64::MAX), fen(1)]), None);
    }

    #[test]
    fn ordering_follows_fen() {
        assert!(fen(1) < fen(2));
        assert_eq!([fen(3), fen(1)].into_iter().max(), Some(fen(3)));
    }

    #[test]
    fn serde_reads_integer_fen_and_refuses_negative() {
        let de = |n: i64| -> I64Deserializer<DeError> { n.into_deserializer() };
        assert_eq!(Money::deserialize(de(128_050)), Ok(fen(128_050)));
        assert!(Money::deserialize(de(-1)).is_err());
    }

    #[test]
    fn error_messages_are_chinese() {
        assert_eq!(MoneyError::TooManyDecimals.to_string(), "金额最多保留两位小数");
        assert_eq!(MoneyError::Negative.to_string(), "金额不能为负数");
    }

    fn any_money() -> impl Strategy<Value = Money> {
        (0..=i64::MAX).prop_map(Money)
    }

    proptest! {
        #[test]
        fn display_round_trips_through_parse(m in any_money()) {
            prop_assert_eq!(Money::parse_yuan(&m.to_string()), Ok(m));
        }

        #[test]
        fn parse_yuan_never_panics(s in proptest::collection::vec(any::<char>(), 0..40)) {
            let s: String = s.into_iter().collect();
            let _ = Money::parse_yuan(&s);
        }

        #[test]
        fn parse_yuan_matches_integer_arithmetic(yuan in 0i64..1_000_000_000, cents in 0i64..100) {
            let text = format!("{yuan}.{cents:02}");
            prop_assert_eq!(Money::parse_yuan(&text), Ok(Money(yuan * 100 + cents)));
        }

        #[test]
        fn add_then_sub_is_identity(a in 0i64..=i64::MAX / 2, b in 0i64..=i64::MAX / 2) {
            let (a, b) = (Money(a), Money(b));
            let total = a.checked_add(b);
            prop_assert_eq!(total.and_then(|t| t.checked_sub(b)), Some(a));
        }

        #[test]
        fn checked_sub_never_goes_negative(a in any_money(), b in any_money()) {
            match a.checked_sub(b) {
                Some(d) => prop_assert!(d.fen() >= 0 && a >= b),
                None => prop_assert!(a < b),
            }
        }
    }
}
