//! A short-lived cache of period details for the participant's registration views: names and
//! schedules change rarely, and "My exams" would otherwise reload the whole period on every
//! read. Seat counts shown in the period list are always read fresh, not from here.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use baoming_domain::ids::PeriodId;
use baoming_store::periods::{self, PeriodDetail};
use baoming_store::{DbConnection, StoreError};

type Entries = HashMap<PeriodId, (Instant, Arc<PeriodDetail>)>;

/// Cached period details (at most [`PeriodCache::TTL`] old; dropped at once on an admin edit).
#[derive(Debug, Clone, Default)]
pub struct PeriodCache {
    entries: Arc<Mutex<Entries>>,
}

impl PeriodCache {
    /// How long a cached detail is used.
    pub const TTL: Duration = Duration::from_secs(5);

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave the map half-written: use it as it is.
        self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The detail of a period, from the cache when fresh.
    pub fn get(
        &self,
        conn: &mut DbConnection,
        id: PeriodId,
    ) -> Result<Arc<PeriodDetail>, StoreError> {
        if let Some((at, detail)) = self.entries().get(&id)
            && at.elapsed() < Self::TTL
        {
            return Ok(Arc::clone(detail));
        }
        let detail = Arc::new(periods::detail(conn, id)?);
        self.entries().insert(id, (Instant::now(), Arc::clone(&detail)));
        Ok(detail)
    }

    /// Drops a period (after an edit).
    pub fn forget(&self, id: PeriodId) {
        self.entries().remove(&id);
    }
}
