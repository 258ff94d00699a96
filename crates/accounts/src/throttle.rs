//! Login throttling: after too many wrong passwords in a row, an account is locked for a while.
//!
//! This is a pure rule over a [`FailureState`] the caller stores with the account. A login
//! goes:
//!
//! 1. [`LoginThrottle::check`] — if the account is locked, refuse **without verifying the
//!    password** (so a locked account cannot be probed, and the right password does not help);
//! 2. verify the password;
//! 3. store [`LoginThrottle::after_failure`] or [`LoginThrottle::after_success`].

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The throttling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// How many wrong passwords in a row lock the account (default 5). `0` behaves like `1`.
    pub max_failures: u32,
    /// How long the account stays locked (default 15 minutes).
    pub lock_for: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle { max_failures: 5, lock_for: Duration::minutes(15) }
    }
}

/// What the account remembers about failed logins. The default is a clean slate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FailureState {
    /// Wrong passwords since the last success or the last lock.
    pub failed_logins: u32,
    /// Until when the account is locked (exclusive); `None` when it is not.
    pub locked_until: Option<DateTime<Utc>>,
}

/// The account is locked: no password is checked until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("登录失败次数过多，账号已暂时锁定，请稍后再试")]
pub struct Locked {
    /// When the lock ends (the first instant at which logins work again).
    pub until: DateTime<Utc>,
}

impl Locked {
    /// How long until the lock ends (zero or negative once it has ended), e.g. for a
    /// `Retry-After` header.
    pub fn remaining(&self, now: DateTime<Utc>) -> Duration {
        self.until - now
    }
}

impl LoginThrottle {
    /// Whether a login may be attempted at `now`: refused with [`Locked`] while
    /// `now < locked_until`.
    pub fn check(&self, state: &FailureState, now: DateTime<Utc>) -> Result<(), Locked> {
        match state.locked_until {
            Some(until) if now < until => Err(Locked { until }),
            _ => Ok(()),
        }
    }

    /// The state after a wrong password at `now`.
    ///
    /// The count goes up by one; when it reaches [`max_failures`](Self::max_failures) the
    /// account is locked until `now + lock_for` and the count is **reset to 0**, so after the
    /// lock the user has a full set of attempts again (rather than being re-locked by a single
    /// typo). The lock therefore caps guessing at `max_failures` attempts per `lock_for`.
    ///
    /// A lock that has expired is cleared. A failure reported while the account is still locked
    /// changes nothing (callers should not verify passwords then — see [`check`](Self::check));
    /// in particular it does not extend the lock.
    pub fn after_failure(&self, state: &FailureState, now: DateTime<Utc>) -> FailureState {
        if self.check(state, now).is_err() {
            return *state;
        }
        let failed_logins = state.failed_logins.saturating_add(1);
        if failed_logins >= self.max_failures.max(1) {
            FailureState {
                failed_logins: 0,
                locked_until: Some(
                    now.checked_add_signed(self.lock_for).unwrap_or(DateTime::<Utc>::MAX_UTC),
                ),
            }
        } else {
            FailureState { failed_logins, locked_until: None }
        }
    }

    /// The state after a successful login: a clean slate.
    pub fn after_success(&self) -> FailureState {
        FailureState::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap()
    }

    /// Simulates a login with the right or wrong password, in the order a caller must follow.
    fn login(
        th: &LoginThrottle,
        state: &mut FailureState,
        right_password: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, Locked> {
        th.check(state, now)?;
        *state = if right_password { th.after_success() } else { th.after_failure(state, now) };
        Ok(right_password)
    }

    #[test]
    fn defaults() {
        let th = LoginThrottle::default();
        assert_eq!(th.max_failures, 5);
        assert_eq!(th.lock_for, Duration::minutes(15));
        assert_eq!(FailureState::default().failed_logins, 0);
        assert_eq!(FailureState::default().locked_until, None);
    }

    #[test]
    fn four_failures_do_not_lock_the_fifth_does() {
        let th = LoginThrottle::default();
        let mut s = FailureState::default();
        for i in 1..=4 {
            let now = t0() + Duration::seconds(i);
            assert_eq!(login(&th, &mut s, false, now), Ok(false));
            assert_eq!(s.failed_logins, u32::try_from(i).unwrap());
            assert_eq!(s.locked_until, None);
            assert_eq!(th.check(&s, now), Ok(()));
        }
        let fifth = t0() + Duration::seconds(5);
        assert_eq!(login(&th, &mut s, false, fifth), Ok(false));
        let until = fifth + Duration::minutes(15);
        assert_eq!(s, FailureState { failed_logins: 0, locked_until: Some(until) });

        // During the lock even the right password is refused (it is not even verified).
        for now in [fifth, fifth + Duration::minutes(1), until - Duration::seconds(1)] {
            let err = login(&th, &mut s, true, now).unwrap_err();
            assert_eq!(err, Locked { until });
            assert!(err.remaining(now) > Duration::zero());
        }
        assert_eq!(Locked { until }.to_string(), "登录失败次数过多，账号已暂时锁定，请稍后再试");

        // Once the lock expires (at `until` exactly) the account works again.
        assert_eq!(th.check(&s, until), Ok(()));
        assert_eq!(login(&th, &mut s, true, until), Ok(true));
        assert_eq!(s, FailureState::default());
    }

    #[test]
    fn after_the_lock_the_count_starts_over() {
        let th = LoginThrottle::default();
        let mut s = FailureState::default();
        for _ in 0..5 {
            login(&th, &mut s, false, t0()).unwrap();
        }
        let later = t0() + Duration::minutes(16);
        assert_eq!(login(&th, &mut s, false, later), Ok(false));
        assert_eq!(
            s,
            FailureState { failed_logins: 1, locked_until: None },
            "expired lock cleared, one failure counted"
        );
    }

    #[test]
    fn a_success_resets_the_count() {
        let th = LoginThrottle::default();
        let mut s = FailureState::default();
        for _ in 0..4 {
            login(&th, &mut s, false, t0()).unwrap();
        }
        assert_eq!(login(&th, &mut s, true, t0()), Ok(true));
        assert_eq!(s, FailureState::default());
        // Four more failures still do not lock.
        for _ in 0..4 {
            login(&th, &mut s, false, t0()).unwrap();
        }
        assert_eq!(th.check(&s, t0()), Ok(()));
    }

    #[test]
    fn failure_during_a_lock_changes_nothing() {
        let th = LoginThrottle::default();
        let until = t0() + Duration::minutes(15);
        let locked = FailureState { failed_logins: 0, locked_until: Some(until) };
        assert_eq!(th.after_failure(&locked, t0() + Duration::minutes(5)), locked);
    }

    #[test]
    fn custom_and_degenerate_policies() {
        let th = LoginThrottle { max_failures: 0, lock_for: Duration::seconds(30) };
        let s = th.after_failure(&FailureState::default(), t0());
        assert_eq!(s.locked_until, Some(t0() + Duration::seconds(30)));

        let th = LoginThrottle { max_failures: 3, lock_for: Duration::MAX };
        let mut s = FailureState::default();
        for _ in 0..3 {
            s = th.after_failure(&s, t0());
        }
        assert_eq!(s.locked_until, Some(DateTime::<Utc>::MAX_UTC), "no overflow panic");

        let s = FailureState { failed_logins: u32::MAX, locked_until: None };
        let after = LoginThrottle::default().after_failure(&s, t0());
        assert_eq!(after.failed_logins, 0);
        assert!(after.locked_until.is_some());
    }

    #[test]
    fn failure_state_serde() {
        let s = FailureState { failed_logins: 2, locked_until: None };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"failed_logins":2,"locked_until":null}"#);
        assert_eq!(serde_json::from_str::<FailureState>(&json).unwrap(), s);
    }

    proptest! {
        /// However failures and successes interleave, no more than `max_failures` passwords are
        /// ever verified within one `lock_for` window after a lock starts, and the state never
        /// counts `max_failures` or more.
        #[test]
        fn never_more_than_max_failures_in_a_row(
            steps in proptest::collection::vec((any::<bool>(), 0i64..600), 1..60),
        ) {
            let th = LoginThrottle::default();
            let mut s = FailureState::default();
            let mut now = t0();
            let mut wrong_in_a_row = 0u32;
            for (right, dt) in steps {
                now += Duration::seconds(dt);
                match login(&th, &mut s, right, now) {
                    Err(locked) => prop_assert!(now < locked.until),
                    Ok(true) => wrong_in_a_row = 0,
                    Ok(false) => {
                        wrong_in_a_row += 1;
                        if wrong_in_a_row == th.max_failures {
                            prop_assert_eq!(s.locked_until, Some(now + th.lock_for));
                            wrong_in_a_row = 0;
                        }
                    }
                }
                prop_assert!(s.failed_logins < th.max_failures);
                prop_assert_eq!(s.failed_logins, wrong_in_a_row);
            }
        }
    }
}
