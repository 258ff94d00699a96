//! A short-lived in-process cache of participant sessions, so the bearer-token check does not
//! cost a trip to the blocking pool and the database on every request. Expiry is checked on
//! every use against the stored expiry; a logout in this process drops the entry at once; an
//! entry is trusted for at most [`SessionCache::TTL`], so a session revoked by another process
//! stops working within that time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use baoming_domain::ids::{ParticipantId, SessionId};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy)]
struct Entry {
    participant: ParticipantId,
    session: SessionId,
    expires_at: DateTime<Utc>,
    cached_at: Instant,
}

/// Sessions by token hash.
#[derive(Debug, Clone, Default)]
pub struct SessionCache {
    entries: Arc<Mutex<HashMap<String, Entry>>>,
}

impl SessionCache {
    /// How long an entry is trusted without asking the database again.
    pub const TTL: Duration = Duration::from_secs(30);
    /// At most this many entries; the cache is emptied when full (it refills on demand).
    pub const CAPACITY: usize = 100_000;

    fn entries(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // A panic while holding the lock cannot leave the map half-written: use it as it is.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The participant and session of a token hash, when cached, fresh and not expired.
    pub fn get(&self, token_hash: &str, now: DateTime<Utc>) -> Option<(ParticipantId, SessionId)> {
        let mut entries = self.entries();
        match entries.get(token_hash) {
            Some(e) if e.cached_at.elapsed() < Self::TTL && now < e.expires_at => {
                Some((e.participant, e.session))
            }
            Some(_) => {
                entries.remove(token_hash);
                None
            }
            None => None,
        }
    }

    /// Remembers a session found in the database.
    pub fn put(
        &self,
        token_hash: String,
        participant: ParticipantId,
        session: SessionId,
        expires_at: DateTime<Utc>,
    ) {
        let mut entries = self.entries();
        if entries.len() >= Self::CAPACITY {
            entries.clear();
        }
        entries.insert(
            token_hash,
            Entry { participant, session, expires_at, cached_at: Instant::now() },
        );
    }

    /// Forgets a session (logout).
    pub fn forget(&self, session: SessionId) {
        self.entries().retain(|_, e| e.session != session);
    }
}

#[cfg(test)]
mod tests {
    use baoming_domain::ids::TypedId;

    use super::*;

    #[test]
    fn expiry_and_logout_are_honoured() {
        let cache = SessionCache::default();
        let p = ParticipantId::parse("01932c07-2c7e-7d3a-9b1f-6f1e2a3b4c5d").expect("id");
        let s = SessionId::parse("01932c07-2c7e-7d3a-9b1f-6f1e2a3b4c5e").expect("id");
        let now = Utc::now();
        cache.put("h".into(), p, s, now + chrono::Duration::minutes(1));
        assert_eq!(cache.get("h", now), Some((p, s)));
        assert_eq!(cache.get("h", now + chrono::Duration::minutes(2)), None, "expired");
        cache.put("h".into(), p, s, now + chrono::Duration::minutes(1));
        cache.forget(s);
        assert_eq!(cache.get("h", now), None, "logged out");
        assert_eq!(cache.get("other", now), None);
    }
}
