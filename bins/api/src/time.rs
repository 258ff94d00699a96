//! Times as people in China read them (UTC+8, no DST).

use chrono::{DateTime, FixedOffset, Utc};

/// `2026-05-01 09:00:00`-style text in Beijing time.
pub fn beijing(at: DateTime<Utc>, format: &str) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(tz) => at.with_timezone(&tz).format(format).to_string(),
        None => at.format(format).to_string(),
    }
}

/// The service's clock: the system clock. Tests move it (through [`crate::Running::clock`])
/// to put the server inside a check-in window or a time slice without waiting; nothing else
/// can, and no route reaches it.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ns: std::sync::Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    /// Now, as the service sees it.
    pub fn now(&self) -> DateTime<Utc> {
        let offset = self.offset_ns.load(std::sync::atomic::Ordering::Relaxed);
        Utc::now() + chrono::Duration::nanoseconds(offset)
    }

    /// Makes it `at` now (the clock then runs on from there: never earlier than `at`).
    pub fn set(&self, at: DateTime<Utc>) {
        let offset = (at - Utc::now()).num_nanoseconds().unwrap_or(0);
        self.offset_ns.store(offset, std::sync::atomic::Ordering::Relaxed);
    }
}
