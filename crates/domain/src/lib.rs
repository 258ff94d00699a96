//! The pure domain of baoming: rules without I/O, without a clock and without a database.
//!
//! Everything time-dependent takes "now" (or "today") as an argument, so every rule can be
//! tested with worked examples and property tests. Other crates call these rules; they never
//! re-implement them.

pub mod checkin;
pub mod identity;
pub mod ids;
pub mod lifecycle;
pub mod money;
pub mod period;
pub mod person;
pub mod profile;
pub mod transfer;

pub use identity::{IdKind, IdNumber, IdNumberError};
pub use money::{Money, MoneyError};
pub use person::{Gender, MobilePhone, PersonError, PersonName};
