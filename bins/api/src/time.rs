//! Times as people in China read them (UTC+8, no DST).

use chrono::{DateTime, FixedOffset, Utc};

/// `2026-05-01 09:00:00`-style text in Beijing time.
pub fn beijing(at: DateTime<Utc>, format: &str) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(tz) => at.with_timezone(&tz).format(format).to_string(),
        None => at.format(format).to_string(),
    }
}
