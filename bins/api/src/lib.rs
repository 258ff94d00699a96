//! The baoming HTTP API: the mini-program backend (and, later, the back office).
//!
//! Handlers only wire: they parse the request, call `baoming-store` (which asks the pure
//! domain crates) on the blocking pool, and map typed errors to HTTP once (`error`).

#![warn(missing_docs)]

pub mod app;
pub mod auth;
pub mod cache_feed;
pub mod console;
pub mod error;
pub mod openapi;
pub mod period_cache;
pub mod rate_limit;
pub mod routes;
pub mod session_cache;
pub mod staff_auth;
pub mod state;
pub mod time;

pub use app::{Running, StartError, start};
/// The shared wiring (configuration, logging, systemd, database, WeChat clients).
pub use baoming_runtime as runtime;
