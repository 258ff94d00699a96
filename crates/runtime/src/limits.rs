//! `[limits]`: how often one participant, and one client address, may call the routes that
//! cost something (an outbound WeChat or WeChat Pay call, a photo decode) or that could be
//! used to probe (a profile change answers whether an ID number is registered).

use serde::{Deserialize, Serialize};

/// `[limits]`. Each count is per `window_seconds` (a burst of the whole count is allowed, then
/// the allowance refills evenly over the window); 0 turns that limit off.
///
/// Per-address counts are generous on purpose: a venue's Wi-Fi or a carrier's NAT puts
/// hundreds of people behind one address, and they all check in within minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// The window every count below is per, in seconds.
    pub window_seconds: u32,
    /// WeChat logins (`/auth/wechat-login`, an outbound WeChat call each) per client address.
    pub wechat_login_per_address: u32,
    /// "Check my payment" and withdraw (a signed WeChat Pay query each) per participant.
    pub payment_check_per_participant: u32,
    /// The same, per client address.
    pub payment_check_per_address: u32,
    /// Photo uploads per participant.
    pub photo_upload_per_participant: u32,
    /// The same, per client address.
    pub photo_upload_per_address: u32,
    /// Photo uploads per participant per day (a rolling 24 hours).
    pub photo_uploads_per_day: u32,
    /// Profile changes per participant.
    pub profile_change_per_participant: u32,
    /// The same, per client address.
    pub profile_change_per_address: u32,
    /// Check-in attempts per participant.
    pub checkin_per_participant: u32,
    /// The same, per client address.
    pub checkin_per_address: u32,
    /// Staff logins (JSON and console form) per client address.
    pub staff_login_per_address: u32,
}

impl Default for RawLimits {
    fn default() -> Self {
        Self {
            window_seconds: 60,
            wechat_login_per_address: 10_000,
            payment_check_per_participant: 10,
            payment_check_per_address: 10_000,
            photo_upload_per_participant: 10,
            photo_upload_per_address: 10_000,
            photo_uploads_per_day: 50,
            profile_change_per_participant: 30,
            profile_change_per_address: 10_000,
            checkin_per_participant: 20,
            checkin_per_address: 10_000,
            staff_login_per_address: 30,
        }
    }
}

impl RawLimits {
    /// The window must be between 1 second and a day.
    ///
    /// # Errors
    /// The key at fault and why.
    pub fn check(&self) -> Result<(), (&'static str, &'static str)> {
        if !(1..=86_400).contains(&self.window_seconds) {
            return Err(("limits.window_seconds", "must be between 1 and 86400"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_the_window_is_bounded() {
        assert_eq!(RawLimits::default().check(), Ok(()));
        let zero = RawLimits { window_seconds: 0, ..RawLimits::default() };
        assert_eq!(zero.check().map_err(|e| e.0), Err("limits.window_seconds"));
        let long = RawLimits { window_seconds: 86_401, ..RawLimits::default() };
        assert!(long.check().is_err());
    }
}
