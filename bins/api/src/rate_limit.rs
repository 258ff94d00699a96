//! Rate limits per participant and per client address (`[limits]`), with `governor`'s GCRA:
//! a burst of the whole count, then the allowance refills evenly over the window. A refused
//! call answers 429 `rate_limited` with `Retry-After`.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actix_web::HttpRequest;
use baoming_runtime::limits::RawLimits;
use governor::clock::{Clock, DefaultClock};
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use crate::error::ApiError;

type Keyed = RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock>;

/// A limited action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// WeChat login (an outbound WeChat call).
    WechatLogin,
    /// "Check my payment" and withdraw (a signed WeChat Pay query).
    PaymentCheck,
    /// A photo upload (a decode), also counted against the daily quota.
    PhotoUpload,
    /// A profile change.
    ProfileChange,
    /// A check-in attempt.
    CheckIn,
    /// A staff login.
    StaffLogin,
}

/// One limit: `None` when its count is 0 (off).
struct Rule(Option<Keyed>);

impl Rule {
    fn new(count: u32, window: Duration) -> Self {
        let Some(burst) = NonZeroU32::new(count) else {
            return Self(None);
        };
        let quota = Quota::with_period(window / count)
            .map_or_else(|| Quota::per_second(burst), |q| q.allow_burst(burst));
        Self(Some(RateLimiter::keyed(quota)))
    }

    /// `Err(wait)` when the key has used its allowance.
    fn check(&self, key: &str) -> Result<(), Duration> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()))
    }

    fn forget_idle(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

/// Every limit of the service.
pub struct RateLimits {
    wechat_login_per_address: Rule,
    payment_check_per_participant: Rule,
    payment_check_per_address: Rule,
    photo_upload_per_participant: Rule,
    photo_upload_per_address: Rule,
    photo_uploads_per_day: Rule,
    profile_change_per_participant: Rule,
    profile_change_per_address: Rule,
    checkin_per_participant: Rule,
    checkin_per_address: Rule,
    staff_login_per_address: Rule,
    checks: AtomicU64,
}

impl std::fmt::Debug for RateLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimits").finish_non_exhaustive()
    }
}

/// Idle keys are forgotten every this many checks (keeps the maps small).
const FORGET_EVERY: u64 = 4096;

impl RateLimits {
    /// The limits of the settings.
    pub fn new(raw: &RawLimits) -> Self {
        let window = Duration::from_secs(u64::from(raw.window_seconds));
        let day = Duration::from_secs(24 * 60 * 60);
        Self {
            wechat_login_per_address: Rule::new(raw.wechat_login_per_address, window),
            payment_check_per_participant: Rule::new(raw.payment_check_per_participant, window),
            payment_check_per_address: Rule::new(raw.payment_check_per_address, window),
            photo_upload_per_participant: Rule::new(raw.photo_upload_per_participant, window),
            photo_upload_per_address: Rule::new(raw.photo_upload_per_address, window),
            photo_uploads_per_day: Rule::new(raw.photo_uploads_per_day, day),
            profile_change_per_participant: Rule::new(raw.profile_change_per_participant, window),
            profile_change_per_address: Rule::new(raw.profile_change_per_address, window),
            checkin_per_participant: Rule::new(raw.checkin_per_participant, window),
            checkin_per_address: Rule::new(raw.checkin_per_address, window),
            staff_login_per_address: Rule::new(raw.staff_login_per_address, window),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one `action` of `participant` (when known) from the request's client address;
    /// 429 `rate_limited` with `Retry-After` when either has used its allowance.
    pub fn check(
        &self,
        action: Action,
        participant: Option<&dyn std::fmt::Display>,
        req: &HttpRequest,
    ) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == FORGET_EVERY - 1 {
            self.forget_idle();
        }
        let (per_participant, per_address): (&[&Rule], &Rule) = match action {
            Action::WechatLogin => (&[], &self.wechat_login_per_address),
            Action::PaymentCheck => {
                (&[&self.payment_check_per_participant], &self.payment_check_per_address)
            }
            Action::PhotoUpload => (
                &[&self.photo_upload_per_participant, &self.photo_uploads_per_day],
                &self.photo_upload_per_address,
            ),
            Action::ProfileChange => {
                (&[&self.profile_change_per_participant], &self.profile_change_per_address)
            }
            Action::CheckIn => (&[&self.checkin_per_participant], &self.checkin_per_address),
            Action::StaffLogin => (&[], &self.staff_login_per_address),
        };
        let refused = |wait: Duration| {
            tracing::info!(?action, wait_ms = wait.as_millis() as u64, "rate limited");
            ApiError::rate_limited(wait)
        };
        if let Some(participant) = participant {
            let key = participant.to_string();
            for rule in per_participant {
                rule.check(&key).map_err(refused)?;
            }
        }
        let address = crate::staff_auth::client_ip(req).unwrap_or_default();
        per_address.check(&address).map_err(refused)
    }

    fn forget_idle(&self) {
        for rule in [
            &self.wechat_login_per_address,
            &self.payment_check_per_participant,
            &self.payment_check_per_address,
            &self.photo_upload_per_participant,
            &self.photo_upload_per_address,
            &self.photo_uploads_per_day,
            &self.profile_change_per_participant,
            &self.profile_change_per_address,
            &self.checkin_per_participant,
            &self.checkin_per_address,
            &self.staff_login_per_address,
        ] {
            rule.forget_idle();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_allows_its_burst_then_says_how_long_to_wait() {
        let rule = Rule::new(2, Duration::from_secs(10));
        assert_eq!(rule.check("a"), Ok(()));
        assert_eq!(rule.check("a"), Ok(()));
        let wait = rule.check("a").expect_err("third refused");
        assert!(wait > Duration::from_secs(4) && wait <= Duration::from_secs(5), "{wait:?}");
        // Another key has its own allowance; a count of 0 is no limit.
        assert_eq!(rule.check("b"), Ok(()));
        let off = Rule::new(0, Duration::from_secs(10));
        assert!((0..100).all(|_| off.check("a").is_ok()));
    }
}
