//! The load benchmark of baoming: a registration rush driven over HTTP the way the
//! mini-program and the back office call the API, with invariants checked after every run and
//! figures reported as medians of several runs, with ratios to a trivial "hello" endpoint on
//! the same machine.

#![warn(missing_docs)]

pub mod bombs;
pub mod client;
pub mod floor;
pub mod hello;
pub mod paynotify;
pub mod probe;
pub mod report;
pub mod scenarios;
pub mod stats;
