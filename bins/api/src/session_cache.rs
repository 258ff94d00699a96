//! A short-lived in-process cache of participant sessions, so the bearer-token check does not
//! cost a trip to the blocking pool and the database on every request. Expiry is checked on
//! every use against the stored expiry; a logout in this process drops the entry at once; a
//! logout or account deletion through another api instance drops it here within
//! [`crate::cache_feed::BOUND`] (2 s): the cache answers only while this instance's reading of
//! the invalidation feed is current ([`crate::cache_feed`]). An entry is trusted for at most
//! [`SessionCache::TTL`] in any case.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use baoming_domain::ids::{ParticipantId, SessionId};
use chrono::{DateTime, Utc};

use crate::cache_feed::Trust;

#[derive(Debug, Clone, Copy)]
struct Entry {
    participant: ParticipantId,
    session: SessionId,
    expires_at: DateTime<Utc>,
    cached_at: Instant,
}

#[derive(Debug, Default)]
struct Entries {
    by_hash: HashMap<String, Entry>,
    /// Counts the drops: a lookup that began before one does not store what it read.
    generation: u64,
}

/// Sessions by token hash.
#[derive(Debug, Clone)]
pub struct SessionCache {
    entries: Arc<Mutex<Entries>>,
    trust: Trust,
}

/// Where the cache stood when a database lookup began ([`SessionCache::mark`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark(u64);

impl SessionCache {
    /// How long an entry is trusted without asking the database again.
    pub const TTL: Duration = Duration::from_secs(30);
    /// At most this many entries; the cache is emptied when full (it refills on demand).
    pub const CAPACITY: usize = 100_000;

    /// An empty cache that answers while `trust` holds.
    pub fn new(trust: Trust) -> Self {
        Self { entries: Arc::default(), trust }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the map half-written: use it as it is.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The participant and session of a token hash, when cached, fresh, not expired, and the
    /// invalidation feed is current.
    pub fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<(ParticipantId, SessionId)> {
        if !self.trust.holds() {
            return None;
        }
        let mut entries = self.entries();
        match entries.by_hash.get(token_hash) {
            Some(e) if e.cached_at.elapsed() < Self::TTL && now < e.expires_at => {
                Some((e.participant, e.session))
            }
            Some(_) => {
                entries.by_hash.remove(token_hash);
                None
            }
            None => None,
        }
    }

    /// Taken before reading a session from the database, handed to [`SessionCache::put`].
    pub fn mark(&self) -> Mark {
        Mark(self.entries().generation)
    }

    /// Remembers a session found in the database by a lookup that began at `mark`, unless a
    /// session was dropped since (it might have been this one).
    pub fn put(
        &self,
        mark: Mark,
        token_hash: String,
        participant: ParticipantId,
        session: SessionId,
        expires_at: DateTime<Utc>,
    ) {
        let mut entries = self.entries();
        if entries.generation != mark.0 {
            return;
        }
        if entries.by_hash.len() >= Self::CAPACITY {
            entries.by_hash.clear();
        }
        entries.by_hash.insert(
            token_hash,
            Entry { participant, session, expires_at, cached_at: Instant::now() },
        );
    }

    /// Forgets a session (logout).
    pub fn forget(&self, session: SessionId) {
        self.forget_all(&[session]);
    }

    /// Forgets sessions (revoked through any instance).
    pub fn forget_all(&self, sessions: &[SessionId]) {
        if sessions.is_empty() {
            return;
        }
        let gone: HashSet<SessionId> = sessions.iter().copied().collect();
        let mut entries = self.entries();
        entries.generation += 1;
        entries.by_hash.retain(|_, e| !gone.contains(&e.session));
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.by_hash.clear();
    }
}

#[cfg(test)]
mod tests {
    use baoming_domain::ids::TypedId;

    use super::*;

    fn ids() -> (ParticipantId, SessionId) {
        (
            ParticipantId::parse("01932c07-2c7e-7d3a-9b1f-6f1e2a3b4c5d").expect("id"),
            SessionId::parse("01932c07-2c7e-7d3a-9b1f-6f1e2a3b4c5e").expect("id"),
        )
    }

    fn trusted() -> Trust {
        let trust = Trust::default();
        trust.confirm(Instant::now());
        trust
    }

    #[test]
    fn expiry_and_logout_are_honoured() {
        let cache = SessionCache::new(trusted());
        let (p, s) = ids();
        let now = Utc::now();
        cache.put(cache.mark(), "h".into(), p, s, now + chrono::Duration::minutes(1));
        assert_eq!(cache.get("h", now), Some((p, s)));
        assert_eq!(cache.get("h", now + chrono::Duration::minutes(2)), None, "expired");
        cache.put(cache.mark(), "h".into(), p, s, now + chrono::Duration::minutes(1));
        cache.forget(s);
        assert_eq!(cache.get("h", now), None, "logged out");
        assert_eq!(cache.get("other", now), None);
    }

    #[test]
    fn a_lookup_older_than_a_drop_stores_nothing_and_no_feed_no_answers() {
        let cache = SessionCache::new(trusted());
        let (p, s) = ids();
        let until = Utc::now() + chrono::Duration::minutes(1);
        // Read from the database, then the session is revoked elsewhere and dropped here
        // before the lookup stores what it read.
        let mark = cache.mark();
        cache.forget_all(&[s]);
        cache.put(mark, "h".into(), p, s, until);
        assert_eq!(cache.get("h", Utc::now()), None);
        cache.put(cache.mark(), "h".into(), p, s, until);
        cache.clear();
        assert_eq!(cache.get("h", Utc::now()), None, "cleared");
        // Without a current reading of the feed the cache does not answer.
        let blind = SessionCache::new(Trust::default());
        blind.put(blind.mark(), "h".into(), p, s, until);
        assert_eq!(blind.get("h", Utc::now()), None);
    }
}
