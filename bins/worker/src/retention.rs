//! The retention job: personal data the settings no longer keep ([`privacy::run`] decides and
//! writes, one transaction per kind of purge and per erased participant), then the files it
//! names are deleted from the storage. A file already gone counts as deleted; a file that
//! cannot be deleted is logged (a crash between a commit and the deletion leaves those files
//! behind, with no row naming them any more).

use baoming_photos::storage::{PhotoStorage, StorageError};
use baoming_store::jobs::{self, Claimed};
use baoming_store::privacy::{self, Policy, Report};
use baoming_store::{DbConnection, StoreError};
use chrono::{DateTime, Utc};

use crate::handlers::{JobError, Services};

/// Deletes the files a purge named: how many could not be deleted (logged; a missing file is
/// not an error).
pub fn delete_files(storage: &dyn PhotoStorage, keys: &[String]) -> usize {
    let mut failed = 0;
    for key in keys {
        match storage.delete(key) {
            Ok(()) | Err(StorageError::NotFound { .. }) => {}
            Err(e) => {
                failed += 1;
                tracing::warn!(%key, error = %e, "retention: a file could not be deleted");
            }
        }
    }
    failed
}

/// Runs the policy at `now` and deletes the files: the counts.
pub fn purge(
    conn: &mut DbConnection,
    policy: &Policy,
    storage: &dyn PhotoStorage,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> Result<Report, StoreError> {
    let outcome = privacy::run(conn, policy, now, request_id)?;
    let failed = delete_files(storage, &outcome.files);
    if failed > 0 {
        tracing::warn!(failed, "retention: files left behind");
    }
    Ok(outcome.report)
}

/// The scheduled run (nothing when `retention.enabled` is false).
pub fn run(
    conn: &mut DbConnection,
    claimed: &Claimed,
    slot: DateTime<Utc>,
    services: &Services,
) -> Result<(), JobError> {
    if let Some(policy) = &services.retention {
        let request_id = format!("job:{}", claimed.id);
        let report =
            purge(conn, policy, services.tickets.storage.as_ref(), Utc::now(), Some(&request_id))?;
        if report != Report::default() {
            tracing::info!(
                %slot,
                sessions = report.sessions,
                unused_photos = report.unused_photos,
                originals = report.originals,
                participants = report.participants,
                files = report.files,
                "retention"
            );
        }
    }
    jobs::complete(conn, claimed, Utc::now())?;
    Ok(())
}
