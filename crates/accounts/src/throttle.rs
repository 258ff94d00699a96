//! Login throttling: after too many wrong passwords in a row, an account is locked for a while.
//!
//! This is a pure rule over a [`FailureState`] the caller stores with the account. A login
//! goes:
//!
//! 1. [`LoginThrottle::reserve`], in one write transaction — if the account is locked, or every
//!    guess left before the lock is already being verified by another attempt, refuse
//!    **without verifying the password** (the right password does not help); otherwise the
//!    attempt is counted as in flight and stored;
//! 2. verify the password, outside any transaction;
//! 3. store [`LoginThrottle::settle_failure`] or [`LoginThrottle::settle_success`], in one write
//!    transaction on the state as it is then.
//!
//! So a parallel burst of guesses gets at most [`LoginThrottle::max_failures`] verified
//! passwords per lock: the reservations are counted before any password is checked, and a
//! success among them clears the failures already settled but not the others' reservations.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The throttling policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottle {
    /// How many wrong passwords in a row lock the account (default 5). `0` behaves like `1`.
    pub max_failures: u32,
    /// How long the account stays locked (default 15 minutes).
    pub lock_for: Duration,
    /// After how long without a new reservation the ones still in flight are forgotten (a
    /// process that stopped between reserving and settling never settles; default 1 minute,
    /// far longer than a password check).
    pub reservation_ttl: Duration,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle {
            max_failures: 5,
            lock_for: Duration::minutes(15),
            reservation_ttl: Duration::minutes(1),
        }
    }
}

/// What the account remembers about failed logins. The default is a clean slate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FailureState {
    /// Wrong passwords since the last success or the last lock.
    pub failed_logins: u32,
    /// Until when the account is locked (exclusive); `None` when it is not.
    pub locked_until: Option<DateTime<Utc>>,
    /// Reserved attempts whose password is being verified (see [`LoginThrottle::reserve`]).
    #[serde(default)]
    pub in_flight: u32,
    /// When the last attempt was reserved.
    #[serde(default)]
    pub reserved_at: Option<DateTime<Utc>>,
}

/// Why [`LoginThrottle::reserve`] refused an attempt. Callers answer both like a wrong
/// password, so that a locked account cannot be told from a wrong guess.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The account is locked.
    Locked(Locked),
    /// Every guess left before the lock is being verified by another attempt right now.
    Exhausted,
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
                ..*state
            }
        } else {
            FailureState { failed_logins, locked_until: None, ..*state }
        }
    }

    /// The state after a successful login: a clean slate.
    pub fn after_success(&self) -> FailureState {
        FailureState::default()
    }

    /// Reserves one guess at `now`, before the password is verified: the new state to store
    /// (in the same write transaction that read `state`), or why no password may be verified.
    ///
    /// Refused while locked, and while the failures already settled plus the reservations in
    /// flight reach [`max_failures`](Self::max_failures). Reservations older than
    /// [`reservation_ttl`](Self::reservation_ttl) are forgotten first; an expired lock is
    /// cleared.
    pub fn reserve(
        &self,
        state: &FailureState,
        now: DateTime<Utc>,
    ) -> Result<FailureState, Refused> {
        self.check(state, now).map_err(Refused::Locked)?;
        let mut next = self.tidy(state, now);
        if next.failed_logins.saturating_add(next.in_flight) >= self.max_failures.max(1) {
            return Err(Refused::Exhausted);
        }
        next.in_flight += 1;
        next.reserved_at = Some(now);
        Ok(next)
    }

    /// The state after a reserved attempt's password was wrong: its reservation becomes a
    /// failure, and the failure that reaches [`max_failures`](Self::max_failures) locks the
    /// account (see [`after_failure`](Self::after_failure)). Also returns whether this failure
    /// set the lock.
    pub fn settle_failure(&self, state: &FailureState, now: DateTime<Utc>) -> (FailureState, bool) {
        let mut tidy = self.tidy(state, now);
        tidy.in_flight = tidy.in_flight.saturating_sub(1);
        let locked_before = self.check(&tidy, now).is_err();
        let next = self.after_failure(&tidy, now);
        (next, !locked_before && self.check(&next, now).is_err())
    }

    /// The state after a reserved attempt's password was right: the failures settled so far are
    /// cleared, the other attempts still in flight keep their reservations, and a lock that
    /// other attempts set meanwhile stays.
    pub fn settle_success(&self, state: &FailureState, now: DateTime<Utc>) -> FailureState {
        let mut next = self.tidy(state, now);
        next.in_flight = next.in_flight.saturating_sub(1);
        next.failed_logins = 0;
        next
    }

    /// Forgets stale reservations and an expired lock.
    fn tidy(&self, state: &FailureState, now: DateTime<Utc>) -> FailureState {
        let mut next = *state;
        if next.locked_until.is_some_and(|until| until <= now) {
            next.locked_until = None;
        }
        let stale = next.reserved_at.is_none_or(|at| {
            at.checked_add_signed(self.reservation_ttl).is_none_or(|expiry| expiry <= now)
        });
        if stale {
            next.in_flight = 0;
        }
        next
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
        assert_eq!(
            s,
            FailureState { failed_logins: 0, locked_until: Some(until), ..Default::default() }
        );

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
            FailureState { failed_logins: 1, locked_until: None, ..Default::default() },
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
        let locked =
            FailureState { failed_logins: 0, locked_until: Some(until), ..Default::default() };
        assert_eq!(th.after_failure(&locked, t0() + Duration::minutes(5)), locked);
    }

    #[test]
    fn custom_and_degenerate_policies() {
        let th = LoginThrottle {
            max_failures: 0,
            lock_for: Duration::seconds(30),
            ..Default::default()
        };
        let s = th.after_failure(&FailureState::default(), t0());
        assert_eq!(s.locked_until, Some(t0() + Duration::seconds(30)));

        let th = LoginThrottle { max_failures: 3, lock_for: Duration::MAX, ..Default::default() };
        let mut s = FailureState::default();
        for _ in 0..3 {
            s = th.after_failure(&s, t0());
        }
        assert_eq!(s.locked_until, Some(DateTime::<Utc>::MAX_UTC), "no overflow panic");

        let s = FailureState { failed_logins: u32::MAX, locked_until: None, ..Default::default() };
        let after = LoginThrottle::default().after_failure(&s, t0());
        assert_eq!(after.failed_logins, 0);
        assert!(after.locked_until.is_some());
    }

    #[test]
    fn failure_state_serde() {
        let s = FailureState { failed_logins: 2, locked_until: None, ..Default::default() };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"failed_logins":2,"locked_until":null,"in_flight":0,"reserved_at":null}"#
        );
        let old: FailureState =
            serde_json::from_str(r#"{"failed_logins":2,"locked_until":null}"#).unwrap();
        assert_eq!(old, s);
        assert_eq!(serde_json::from_str::<FailureState>(&json).unwrap(), s);
    }

    #[test]
    fn a_parallel_burst_gets_max_failures_guesses() {
        let th = LoginThrottle::default();
        let mut s = FailureState::default();
        let mut granted = 0;
        for _ in 0..20 {
            match th.reserve(&s, t0()) {
                Ok(next) => {
                    s = next;
                    granted += 1;
                }
                Err(refused) => assert_eq!(refused, Refused::Exhausted),
            }
        }
        assert_eq!(granted, 5);
        assert_eq!(s.in_flight, 5);
        let mut locks = 0;
        for _ in 0..5 {
            let (next, locked_now) = th.settle_failure(&s, t0());
            s = next;
            locks += usize::from(locked_now);
        }
        assert_eq!(locks, 1, "the fifth settled failure sets the lock, once");
        let until = t0() + Duration::minutes(15);
        assert_eq!(s.locked_until, Some(until));
        assert_eq!(s.in_flight, 0);
        assert_eq!(th.reserve(&s, t0()), Err(Refused::Locked(Locked { until })));
        assert!(th.reserve(&s, until).is_ok(), "guesses again once the lock ends");
    }

    #[test]
    fn a_success_in_a_burst_keeps_the_others_reservations() {
        let th = LoginThrottle::default();
        let mut s = FailureState::default();
        // Two settled failures, then four attempts in flight (one of them the right password).
        for _ in 0..2 {
            s = th.reserve(&s, t0()).unwrap();
            s = th.settle_failure(&s, t0()).0;
        }
        for _ in 0..3 {
            s = th.reserve(&s, t0()).unwrap();
        }
        assert_eq!(th.reserve(&s, t0()), Err(Refused::Exhausted));
        s = th.settle_success(&s, t0());
        assert_eq!(
            (s.failed_logins, s.in_flight),
            (0, 2),
            "settled failures cleared, not reservations"
        );
        // Three more may be reserved now: 0 settled + 2 in flight + 3 = 5.
        for _ in 0..3 {
            s = th.reserve(&s, t0()).unwrap();
        }
        assert_eq!(th.reserve(&s, t0()), Err(Refused::Exhausted));
    }

    #[test]
    fn a_reservation_never_settled_expires() {
        let th = LoginThrottle::default();
        let mut s = FailureState::default();
        for _ in 0..5 {
            s = th.reserve(&s, t0()).unwrap();
        }
        assert_eq!(th.reserve(&s, t0() + Duration::seconds(59)), Err(Refused::Exhausted));
        let later = th.reserve(&s, t0() + Duration::minutes(1)).unwrap();
        assert_eq!(later.in_flight, 1);
        // A late settlement of a forgotten reservation does not go below zero.
        let (settled, _) = th.settle_failure(&FailureState::default(), t0());
        assert_eq!(settled.in_flight, 0);
        assert_eq!(settled.failed_logins, 1);
    }

    proptest! {
        /// However reservations and settlements interleave (wrong or right passwords, in any
        /// order), no more than `max_failures` wrong passwords are verified between the moment
        /// an account is unlocked and the moment it is locked again.
        #[test]
        fn reservations_bound_the_guesses(
            steps in proptest::collection::vec((0u8..3, any::<bool>(), 0i64..20), 1..120),
        ) {
            // No reservation expires within a run (at most 40 minutes).
            let th = LoginThrottle { reservation_ttl: Duration::hours(1), ..Default::default() };
            let mut s = FailureState::default();
            let mut now = t0();
            let mut in_flight: Vec<bool> = Vec::new();
            let mut wrong_since_success_or_lock = 0u32;
            for (op, right, dt) in steps {
                now += Duration::seconds(dt);
                if op == 0 || in_flight.is_empty() {
                    if let Ok(next) = th.reserve(&s, now) {
                        s = next;
                        in_flight.push(right);
                    }
                } else {
                    let right = in_flight.remove(0);
                    if right {
                        s = th.settle_success(&s, now);
                        wrong_since_success_or_lock = 0;
                    } else {
                        let (next, locked_now) = th.settle_failure(&s, now);
                        s = next;
                        wrong_since_success_or_lock += 1;
                        if locked_now {
                            wrong_since_success_or_lock = 0;
                        }
                    }
                }
                prop_assert!(u32::try_from(in_flight.len()).unwrap() <= th.max_failures);
                prop_assert!(s.failed_logins + s.in_flight <= th.max_failures);
                prop_assert!(wrong_since_success_or_lock < th.max_failures);
            }
        }


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
