//! The rules of back-office staff accounts: roles, usernames and display names, passwords and
//! their Argon2id hashes, login throttling, and session/CSRF tokens.
//!
//! Everything here is pure — no database, no clock (time-dependent rules take `now` as an
//! argument) — except that hashing a password, generating a password and issuing a token read
//! the operating system's random number generator.
//!
//! Every value type follows "parse, don't validate": its field is private and the only way to
//! build one is a `parse` constructor that normalises the input or returns an [`AccountError`]
//! whose `Display` text is a short Chinese message for the back-office user.
//!
//! ```
//! use baoming_accounts::{
//!     FailureState, LoginThrottle, Password, Role, Roles, Username, hash_password,
//!     verify_password,
//! };
//! use chrono::{Duration, TimeZone, Utc};
//!
//! // A staff user: the username is normalised, the password checked, then hashed (Argon2id).
//! let username = Username::parse(" Wang ")?;
//! assert_eq!(username.as_str(), "wang");
//! assert!(Password::parse("WANG", &username).is_err()); // too short, and the username
//! let password = Password::parse("correct horse battery", &username)?;
//! let phc = hash_password(&password)?;
//! assert!(phc.starts_with("$argon2id$"));
//! assert!(verify_password("correct horse battery", &phc));
//! assert!(!verify_password("Correct horse battery", &phc));
//!
//! // Five wrong passwords in a row lock the account for 15 minutes.
//! let throttle = LoginThrottle::default();
//! let now = Utc.with_ymd_and_hms(2026, 5, 2, 9, 0, 0).single().ok_or("time")?;
//! let mut state = FailureState::default();
//! for _ in 0..5 {
//!     throttle.check(&state, now)?;
//!     state = throttle.after_failure(&state, now);
//! }
//! let locked = throttle.check(&state, now).unwrap_err();
//! assert_eq!(locked.remaining(now), Duration::minutes(15));
//! assert!(throttle.check(&state, now + Duration::minutes(15)).is_ok());
//!
//! // An endpoint lists the roles it allows; admin implies no other role.
//! let roles = Roles::parse("reviewer, finance")?;
//! assert!(roles.allows(&[Role::Finance, Role::Admin]));
//! assert!(!roles.allows(&[Role::Admin]));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

mod error;
pub mod names;
pub mod password;
pub mod role;
pub mod throttle;
pub mod token;

pub use error::AccountError;
pub use names::{DisplayName, Username};
pub use password::{Password, generate_password, hash_password, verify_password};
pub use role::{Role, Roles};
pub use throttle::{FailureState, Locked, LoginThrottle, Refused};
pub use token::{csrf_matches, new_token, token_hash};
