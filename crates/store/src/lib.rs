//! The one data layer of baoming: a Diesel schema and the queries over it, for SQLite (the
//! embedded default) and PostgreSQL through one `MultiConnection`.
//!
//! All SQL of the product lives here. Status changes go through the domain state machine
//! ([`baoming_domain::lifecycle::decide`]) and are written by [`transition`], the one writer,
//! with their event-log row and the jobs they schedule in one transaction; nothing else writes
//! a registration's state.

pub mod audit;
pub mod checkin;
pub mod checks;
pub mod clock;
pub mod db;
pub mod error;
pub mod invoice_titles;
pub mod invoices;
pub mod jobs;
pub mod participants;
pub mod payments;
pub mod periods;
pub mod photos;
pub mod pii;
pub mod reconciliation;
pub mod registrations;
pub mod review;
pub mod schema;
pub mod seed;
pub mod sessions;
mod sql;
pub mod staff;
#[cfg(feature = "test-support")]
pub mod testing;
pub mod tickets;
pub mod transition;

pub use db::{Conn, DatabaseUrl, Db, DbConnection, PoolOptions, write_tx};
pub use error::StoreError;
pub use pii::{PiiCipher, PiiKeys};

/// A fresh identifier (UUID v7: time-ordered, so indexes stay compact).
pub fn new_id<T: baoming_domain::ids::TypedId>() -> T {
    T::from_uuid(uuid::Uuid::now_v7()).expect("Uuid::now_v7 always yields a version-7 UUID")
}
