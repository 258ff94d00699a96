//! The pure domain of baoming: rules without I/O, without a clock and without a database.
//!
//! Checking an ID number, and deciding a registration's transition:
//!
//! ```
//! use baoming_domain::lifecycle::{
//!     Actor, Event, Facts, PaymentFacts, Refusal, SeatAnswer, State, Status, Step, decide,
//! };
//! use baoming_domain::period::{Schedule, ScheduleInput};
//! use baoming_domain::{Gender, IdKind, IdNumber, Money};
//! use chrono::{NaiveDate, TimeZone, Utc};
//!
//! // An ID number is normalised and checked once (here the lowercase check character), then
//! // shown masked.
//! let today = NaiveDate::from_ymd_opt(2026, 5, 2).ok_or("date")?;
//! let id = IdNumber::parse(IdKind::ResidentId, "11010519491231002x", today)?;
//! assert_eq!(id.to_string(), "110105********002X");
//! assert_eq!(id.gender(), Some(Gender::Female));
//! // One digit off: the MOD 11-2 check character no longer matches.
//! assert!(IdNumber::parse(IdKind::ResidentId, "110105194912310021", today).is_err());
//!
//! // A period: registration 1–10 May, check-in 20 May 07:00–09:00, the exam ends at 17:00.
//! let at = |day, hour| Utc.with_ymd_and_hms(2026, 5, day, hour, 0, 0).single().ok_or("time");
//! let schedule = Schedule::new(ScheduleInput {
//!     registration_opens: at(1, 0)?,
//!     registration_closes: at(10, 0)?,
//!     payment_deadline: None, // the end of registration
//!     checkin_opens: at(20, 7)?,
//!     checkin_closes: at(20, 9)?,
//!     exam_ends: at(20, 17)?,
//! })?;
//! // A reviewer approves a registration once the data layer took a seat of its region.
//! let facts = Facts {
//!     now: at(2, 9)?,
//!     schedule,
//!     period_closed: false,
//!     fee: Money::from_fen(68_000)?,
//!     seat: SeatAnswer::Taken,
//!     payment: PaymentFacts::default(),
//! };
//! let pending = Status::new(State::PendingReview);
//! match decide(pending, &Event::Approve, Actor::Reviewer, &facts)? {
//!     Step::Moved(decision) => assert_eq!(decision.to.state, State::AwaitingPayment),
//!     Step::Unchanged(why) => panic!("nothing to do: {why:?}"),
//! }
//! // The participant may not approve their own registration: refused, nothing changes.
//! let refused = decide(pending, &Event::Approve, Actor::Participant, &facts).unwrap_err();
//! assert_eq!(refused.refusal, Refusal::WrongActor);
//! assert_eq!(refused.refusal.code(), "forbidden_for_actor");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Everything time-dependent takes "now" (or "today") as an argument, so every rule can be
//! tested with worked examples and property tests. Other crates call these rules; they never
//! re-implement them. The rules are written out in `docs/lifecycle.md` (the registration's
//! states and transitions, checked against [`lifecycle::decide`] by a test) and
//! `docs/domain-rules.md` (identity documents, money, periods).

#![warn(missing_docs)]

pub mod checkin;
pub mod identity;
pub mod ids;
pub mod lifecycle;
pub mod money;
pub mod period;
pub mod person;
pub mod privacy;
pub mod profile;
pub mod transfer;

pub use identity::{IdKind, IdNumber, IdNumberError};
pub use money::{Money, MoneyError};
pub use person::{Gender, MobilePhone, PersonError, PersonName};
