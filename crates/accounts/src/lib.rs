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
