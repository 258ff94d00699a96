//! Amounts of money in fen (分), the unit the whole project counts in.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An amount of money in fen (分, 1/100 yuan), as everywhere in baoming.
///
/// This crate keeps its own small newtype instead of depending on the domain crate: invoicing
/// only needs to add fees up and print them as yuan. Any `i64` is a valid amount; rules such
/// as "a fee is positive" are checked where they apply. Serialised as the plain integer.
///
/// ```
/// use baoming_invoicing::Fen;
///
/// assert_eq!(Fen(68_000).to_string(), "680.00");
/// assert_eq!(Fen(5).yuan(), "0.05");
/// assert_eq!(Fen(-150).yuan(), "-1.50");
/// ```
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(pub i64);

impl Fen {
    /// Nothing.
    pub const ZERO: Fen = Fen(0);

    /// The amount in fen.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// The sum, or `None` if it does not fit in an `i64`.
    pub const fn checked_add(self, other: Fen) -> Option<Fen> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Fen(sum)),
            None => None,
        }
    }

    /// The difference, or `None` if it does not fit in an `i64`.
    pub const fn checked_sub(self, other: Fen) -> Option<Fen> {
        match self.0.checked_sub(other.0) {
            Some(diff) => Some(Fen(diff)),
            None => None,
        }
    }

    /// The amount in yuan with exactly two decimals and no thousands separator, as invoices
    /// and the tax bureau's workbook want it: `680.00`, `0.05`, `-1.50`.
    pub fn yuan(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Fen {
    /// Formats as [`Fen::yuan`] does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_has_two_decimals() {
        assert_eq!(Fen(0).yuan(), "0.00");
        assert_eq!(Fen(1).yuan(), "0.01");
        assert_eq!(Fen(100).yuan(), "1.00");
        assert_eq!(Fen(128_000).yuan(), "1280.00");
        assert_eq!(Fen(-1).yuan(), "-0.01");
        assert_eq!(Fen(i64::MIN).yuan(), "-92233720368547758.08");
        assert_eq!(Fen(i64::MAX).yuan(), "92233720368547758.07");
    }

    #[test]
    fn checked_arithmetic() {
        assert_eq!(Fen(1).checked_add(Fen(2)), Some(Fen(3)));
        assert_eq!(Fen(i64::MAX).checked_add(Fen(1)), None);
        assert_eq!(Fen(1).checked_sub(Fen(2)), Some(Fen(-1)));
        assert_eq!(Fen(i64::MIN).checked_sub(Fen(1)), None);
        assert_eq!(Fen::ZERO.get(), 0);
    }

    #[test]
    fn serde_is_the_integer() {
        assert_eq!(serde_json::to_string(&Fen(68_000)).ok(), Some("68000".to_owned()));
        assert_eq!(serde_json::from_str::<Fen>("-5").ok(), Some(Fen(-5)));
    }
}
