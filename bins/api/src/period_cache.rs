//! A short-lived cache of period details for the participant's registration views: names and
//! schedules change rarely, and "My exams" would otherwise reload the whole period on every
//! read. Seat counts shown in the period list are always read fresh, not from here.
//!
//! An edit or close through this instance drops the period at once; through another instance,
//! within [`crate::cache_feed::BOUND`] (2 s): the cache answers only while this instance's
//! reading of the invalidation feed is current ([`crate::cache_feed`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use baoming_domain::ids::PeriodId;
use baoming_store::periods::{self, PeriodDetail};
use baoming_store::{DbConnection, StoreError};

use crate::cache_feed::Trust;

#[derive(Debug, Default)]
struct Entries {
    by_id: HashMap<PeriodId, (Instant, Arc<PeriodDetail>)>,
    /// Counts the drops: a read that began before one does not store what it read.
    generation: u64,
}

/// Cached period details (at most [`PeriodCache::TTL`] old; dropped at once on an admin edit
/// here, within [`crate::cache_feed::BOUND`] on an edit elsewhere).
#[derive(Debug, Clone)]
pub struct PeriodCache {
    entries: Arc<Mutex<Entries>>,
    trust: Trust,
}

impl PeriodCache {
    /// How long a cached detail is used.
    pub const TTL: Duration = Duration::from_secs(5);

    /// An empty cache that answers while `trust` holds.
    pub fn new(trust: Trust) -> Self {
        Self { entries: Arc::default(), trust }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the map half-written: use it as it is.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The detail of a period, from the cache when fresh and the invalidation feed is current.
    pub fn get(
        &self,
        conn: &mut DbConnection,
        id: PeriodId,
    ) -> Result<Arc<PeriodDetail>, StoreError> {
        let generation = {
            let entries = self.entries();
            if let Some((at, detail)) = entries.by_id.get(&id)
                && at.elapsed() < Self::TTL
                && self.trust.holds()
            {
                return Ok(Arc::clone(detail));
            }
            entries.generation
        };
        let detail = Arc::new(periods::detail(conn, id)?);
        let mut entries = self.entries();
        if entries.generation == generation {
            entries.by_id.insert(id, (Instant::now(), Arc::clone(&detail)));
        }
        Ok(detail)
    }

    /// Drops a period (after an edit).
    pub fn forget(&self, id: PeriodId) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.by_id.remove(&id);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        let mut entries = self.entries();
        entries.generation += 1;
        entries.by_id.clear();
    }
}
