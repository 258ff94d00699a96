//! Keeps the in-process caches ([`SessionCache`], [`PeriodCache`]) right when several api
//! instances share one database.
//!
//! A logout, an account deletion, and a period edit or close write a row to the database's
//! invalidation feed in the same transaction as the change (`baoming_store::invalidations`).
//! Each instance reads the feed on a thread of its own, with a connection of its own (never
//! waiting behind requests for a pooled one), every [`POLL_EVERY`], and drops the keys it reads
//! from its caches.
//!
//! **The bound.** A cache answers only while its instance's last complete read of the feed
//! *began* less than [`BOUND`] ago; otherwise every lookup goes to the database. A read that
//! began at time `s` saw every change committed before `s`, so a change committed at `c` is
//! honoured by every instance from `c + BOUND` on, whatever happens to the feed: when the
//! database cannot be read, the caches simply stop answering. A lookup that read the database
//! before a key was dropped cannot put the old value back (the caches count their drops).
//! After such a gap the caches are emptied whole (rows older than an hour are pruned, so a
//! long outage could have missed some).
//!
//! Staff sessions and staff accounts are not cached (every back-office request reads them), so
//! a staff logout or disable holds on every instance at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use baoming_store::invalidations::{self, Invalidation};
use baoming_store::{Db, DbConnection};

use crate::period_cache::PeriodCache;
use crate::session_cache::SessionCache;

/// How often the feed is read.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// A cache answers only while the last complete read of the feed began less than this ago:
/// the longest a change made on one instance can go unnoticed on another.
pub const BOUND: Duration = Duration::from_secs(2);
/// Feed rows are deleted this long after they were written.
const KEEP: chrono::Duration = chrono::Duration::hours(1);
/// How often an instance deletes old rows.
const PRUNE_EVERY: Duration = Duration::from_secs(600);
/// Rows read at once.
const PAGE: i64 = 1000;

/// Whether the caches may answer: the start of the last complete read of the feed.
#[derive(Debug, Clone)]
pub struct Trust {
    inner: Arc<TrustInner>,
}

#[derive(Debug)]
struct TrustInner {
    base: Instant,
    /// Nanoseconds after `base` at which the last complete read began, plus one (0: never).
    read_began: AtomicU64,
}

impl Default for Trust {
    fn default() -> Self {
        // The base lies in the past so that any read this process began can be recorded.
        let now = Instant::now();
        let base = now.checked_sub(Duration::from_secs(3600)).unwrap_or(now);
        Self { inner: Arc::new(TrustInner { base, read_began: AtomicU64::new(0) }) }
    }
}

impl Trust {
    /// Whether the caches may answer now.
    pub fn holds(&self) -> bool {
        match self.inner.read_began.load(Ordering::Acquire) {
            0 => false,
            n => {
                let began = self.inner.base + Duration::from_nanos(n - 1);
                began.elapsed() < BOUND
            }
        }
    }

    /// Records a complete read of the feed that began at `began`.
    pub fn confirm(&self, began: Instant) {
        let nanos = began.saturating_duration_since(self.inner.base).as_nanos();
        let n = u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1;
        self.inner.read_began.fetch_max(n, Ordering::AcqRel);
    }
}

/// The running reader of the feed; it stops when this is dropped (with the service's state).
#[derive(Debug)]
pub struct Reader {
    stop: Arc<AtomicBool>,
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

/// Starts reading the feed of `db` for these caches (they answer once the first read is done).
pub fn start(
    db: Db,
    trust: Trust,
    sessions: SessionCache,
    periods: PeriodCache,
) -> std::io::Result<Reader> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut feed = Feed { db, trust, sessions, periods, conn: None, last: None, failing: false };
    let stopped = Arc::clone(&stop);
    std::thread::Builder::new().name("cache-feed".into()).spawn(move || {
        let mut pruned = Instant::now();
        while !stopped.load(Ordering::Acquire) {
            let began = Instant::now();
            feed.read(began);
            if pruned.elapsed() >= PRUNE_EVERY {
                pruned = Instant::now();
                feed.prune();
            }
            std::thread::sleep(POLL_EVERY.saturating_sub(began.elapsed()));
        }
    })?;
    Ok(Reader { stop })
}

struct Feed {
    db: Db,
    trust: Trust,
    sessions: SessionCache,
    periods: PeriodCache,
    conn: Option<DbConnection>,
    /// The newest row seen (`None` before the first read).
    last: Option<i64>,
    failing: bool,
}

impl Feed {
    /// Reads everything after the last row seen and drops those keys; on success the caches
    /// may answer for another [`BOUND`] counted from `began`.
    fn read(&mut self, began: Instant) {
        match self.catch_up() {
            Ok(()) => {
                if self.failing || !self.trust.holds() {
                    // Caches not trusted for a while may hold what pruned rows dropped.
                    self.sessions.clear();
                    self.periods.clear();
                }
                if self.failing {
                    tracing::info!("cache invalidation feed readable again; caches emptied");
                    self.failing = false;
                }
                self.trust.confirm(began);
            }
            Err(error) => {
                self.conn = None;
                if !self.failing {
                    tracing::warn!(%error, "cache invalidation feed unreadable: caches bypassed");
                    self.failing = true;
                }
            }
        }
    }

    fn catch_up(&mut self) -> Result<(), baoming_store::StoreError> {
        let conn = match &mut self.conn {
            Some(conn) => conn,
            None => self.conn.insert(self.db.dedicated()?),
        };
        let Some(mut last) = self.last else {
            // A new instance has nothing cached: the feed's past does not concern it.
            self.last = Some(invalidations::latest(conn)?);
            return Ok(());
        };
        loop {
            let page = invalidations::since(conn, last, PAGE)?;
            let mut sessions = Vec::new();
            for item in &page.items {
                match *item {
                    Invalidation::Session(id) => sessions.push(id),
                    Invalidation::Period(id) => self.periods.forget(id),
                }
            }
            self.sessions.forget_all(&sessions);
            match page.last {
                Some(newest) => {
                    last = newest;
                    self.last = Some(newest);
                }
                None => return Ok(()),
            }
        }
    }

    fn prune(&mut self) {
        let Some(conn) = &mut self.conn else { return };
        match invalidations::prune(conn, chrono::Utc::now() - KEEP) {
            Ok(n) if n > 0 => tracing::debug!(rows = n, "old cache invalidations deleted"),
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "deleting old cache invalidations failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trust_lasts_the_bound_from_the_start_of_a_read() {
        let trust = Trust::default();
        assert!(!trust.holds(), "not before the first read");
        trust.confirm(Instant::now());
        assert!(trust.holds());
        let other = trust.clone();
        assert!(other.holds(), "shared by clones");
        // A read that began longer than the bound ago does not count (and never moves the
        // start back).
        let fresh = Trust::default();
        fresh.confirm(Instant::now() - BOUND - Duration::from_millis(1));
        assert!(!fresh.holds());
        trust.confirm(Instant::now() - BOUND - Duration::from_millis(1));
        assert!(trust.holds());
    }
}
