//! The baoming background worker: claims jobs from the queue in `baoming-store`, runs their
//! handlers ([`handlers`]), retries or parks failures, and ticks the periodic schedules (the
//! clock sweep of payment deadlines and ended sittings).
//!
//! [`runner::run`] is the long-running loop (`baoming-worker run`), with graceful shutdown;
//! [`Worker::drain`] runs every due job once and returns (`baoming-worker once`).

#![warn(missing_docs)]

pub mod handlers;
pub mod notices;
pub mod payments;
pub mod reconcile;
pub mod retention;
pub mod runner;
pub mod tickets;

pub use handlers::Services;
pub use runner::{Ran, Worker};
