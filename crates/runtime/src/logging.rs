//! Log output of both binaries: one line per event, level from `RUST_LOG` (default `info`),
//! plain text without colour codes when not on a terminal (journald), or JSON.
//!
//! Lines are handed to a thread of their own, which writes whatever queued up meanwhile to
//! standard output in one go: a request's line costs the request no system call. None is
//! dropped: when the queue is full the logging thread waits.

use std::io::IsTerminal;

use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// The log writer thread: dropping it writes out what is queued. Hold it until the process
/// ends.
#[must_use = "dropping the guard stops the log output"]
#[derive(Debug)]
pub struct LogGuard {
    _writer: WorkerGuard,
}

/// Installs the global subscriber.
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stdout().is_terminal();
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("log-writer")
        .finish(std::io::BufWriter::new(std::io::stdout()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(ansi)
        .with_writer(writer);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
    LogGuard { _writer: guard }
}
