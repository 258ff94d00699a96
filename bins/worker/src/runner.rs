//! The worker: polling, running, releasing; the long-running loop with graceful shutdown.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use baoming_runtime::config::WorkerSettings;
use baoming_store::jobs::{self, Claimed, Failed};
use baoming_store::{Db, StoreError};
use chrono::Utc;
use tokio::sync::watch;

use crate::handlers::{self, JobError};

/// Completed periodic jobs older than this are deleted.
const KEEP_COMPLETED_PERIODIC: chrono::Duration = chrono::Duration::days(7);
/// How often completed periodic jobs are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// A worker: the database and its settings, under a name unique to this process (the lease
/// holder's name in `jobs.locked_by`).
#[derive(Debug)]
pub struct Worker {
    db: Db,
    services: handlers::Services,
    name: String,
    settings: WorkerSettings,
    last_prune: Mutex<Option<Instant>>,
}

/// What happened to one claimed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    /// Done and marked completed.
    Done,
    /// Failed; due again later.
    WillRetry,
    /// Failed on its last attempt; parked for the back office.
    Parked,
    /// The lease was lost before the outcome was recorded (another worker has the job now).
    LeaseLost,
}

/// What [`Worker::drain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    /// Schedule runs enqueued.
    pub scheduled: usize,
    /// Jobs done.
    pub done: usize,
    /// Jobs failed and due again later.
    pub retrying: usize,
    /// Jobs parked as failed.
    pub parked: usize,
    /// Jobs whose lease was lost.
    pub lease_lost: usize,
}

impl Worker {
    /// A worker on `db`.
    pub fn new(db: Db, settings: WorkerSettings, services: handlers::Services) -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let random = uuid::Uuid::now_v7().simple().to_string();
        let name = format!("{host}/{}/{}", std::process::id(), &random[24..]);
        Self { db, services, name, settings, last_prune: Mutex::new(None) }
    }

    /// The name in `jobs.locked_by`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The settings.
    pub fn settings(&self) -> WorkerSettings {
        self.settings
    }

    /// Ticks the schedules and claims a batch of due jobs (blocking).
    pub fn poll(&self) -> Result<(usize, Vec<Claimed>), StoreError> {
        let mut conn = self.db.conn()?;
        let now = Utc::now();
        let ticked = jobs::tick_schedules(&mut conn, now)?;
        for run in &ticked {
            tracing::debug!(schedule = run.schedule, slot = %run.slot, job = %run.job, "scheduled");
        }
        self.prune(&mut conn);
        let claimed = jobs::claim(
            &mut conn,
            &self.name,
            Utc::now(),
            self.settings.lease,
            i64::from(self.settings.batch_size),
        )?;
        Ok((ticked.len(), claimed))
    }

    /// Deletes old completed periodic jobs, at most once an hour; a failure is only logged.
    fn prune(&self, conn: &mut baoming_store::DbConnection) {
        let mut last = self.last_prune.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_some_and(|at| at.elapsed() < PRUNE_EVERY) {
            return;
        }
        *last = Some(Instant::now());
        let before = Utc::now() - KEEP_COMPLETED_PERIODIC;
        match jobs::prune_completed(conn, &jobs::scheduled_kinds(), before) {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "old completed periodic jobs deleted"),
            Err(e) => tracing::warn!(error = %e, "pruning completed jobs failed"),
        }
    }

    /// Runs one claimed job and records its outcome (blocking). An error is a failure to
    /// record the outcome (the database); the job's lease then expires and it runs again.
    pub fn run_job(&self, claimed: &Claimed) -> Result<Ran, StoreError> {
        let mut conn = self.db.conn()?;
        let started = Instant::now();
        let span = tracing::info_span!("job", job = %claimed.id, kind = %claimed.kind, attempt = claimed.attempt);
        let _entered = span.enter();
        let error = match handlers::run(&mut conn, claimed, &self.services) {
            Ok(()) => {
                tracing::info!(elapsed_ms = started.elapsed().as_millis(), "job done");
                return Ok(Ran::Done);
            }
            Err(JobError::Store(StoreError::LeaseLost { .. })) => {
                tracing::warn!("lease lost before the job was marked done; another worker has it");
                return Ok(Ran::LeaseLost);
            }
            Err(e) => e.to_string(),
        };
        match jobs::fail(&mut conn, claimed, &error, Utc::now()) {
            Ok(Failed::Retry { at }) => {
                tracing::warn!(%error, retry_at = %at, "job failed; will retry");
                Ok(Ran::WillRetry)
            }
            Ok(Failed::Parked) => {
                tracing::error!(%error, "job failed on its last attempt; parked for the back office");
                Ok(Ran::Parked)
            }
            Err(StoreError::LeaseLost { .. }) => {
                tracing::warn!(%error, "job failed and its lease was lost; another worker has it");
                Ok(Ran::LeaseLost)
            }
            Err(e) => Err(e),
        }
    }

    /// Hands back claimed jobs that were not started (blocking; failures are only logged:
    /// the lease then expires).
    pub fn release(&self, claimed: &[Claimed]) {
        if claimed.is_empty() {
            return;
        }
        let mut conn = match self.db.conn() {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!(error = %e, jobs = claimed.len(), "could not release jobs");
                return;
            }
        };
        for job in claimed {
            if let Err(e) = jobs::release(&mut conn, job) {
                tracing::warn!(job = %job.id, error = %e, "could not release job");
            }
        }
        tracing::info!(jobs = claimed.len(), "unstarted jobs released");
    }

    /// `once`: ticks the schedules and runs every due job until none is left (blocking).
    /// Jobs still leased by another (or a dead) worker are not due until their lease expires.
    pub fn drain(&self) -> Result<Drained, StoreError> {
        let mut report = Drained::default();
        loop {
            let (scheduled, claimed) = self.poll()?;
            report.scheduled += scheduled;
            if claimed.is_empty() {
                return Ok(report);
            }
            for job in &claimed {
                match self.run_job(job)? {
                    Ran::Done => report.done += 1,
                    Ran::WillRetry => report.retrying += 1,
                    Ran::Parked => report.parked += 1,
                    Ran::LeaseLost => report.lease_lost += 1,
                }
            }
        }
    }
}

/// Waits `pause`, or less when a stop is requested.
async fn pause(stop: &mut watch::Receiver<bool>, pause: Duration) {
    tokio::select! {
        () = tokio::time::sleep(pause) => {}
        _ = stop.wait_for(|stopping| *stopping) => {}
    }
}

async fn blocking<T: Send + 'static>(
    worker: &Arc<Worker>,
    f: impl FnOnce(&Worker) -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    let worker = worker.clone();
    tokio::task::spawn_blocking(move || f(&worker)).await
}

fn log_ran(result: Result<Result<Ran, StoreError>, tokio::task::JoinError>) {
    match result {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            tracing::error!(error = %e, "recording a job's outcome failed; it runs again when its lease expires");
        }
        Err(e) => {
            tracing::error!(error = %e, "a job panicked; it runs again when its lease expires");
        }
    }
}

/// The long-running loop: tick the schedules, claim a batch, run it job by job; pause while
/// nothing is due. A database failure is logged and retried after a pause.
///
/// When `stop` turns true: no more claiming; the running job gets `shutdown_grace` to finish
/// (if it does not, the process leaves it: its lease expires and it runs again, which
/// idempotent handlers make safe); claimed jobs not yet started are released.
pub async fn run(worker: Arc<Worker>, mut stop: watch::Receiver<bool>) {
    let settings = worker.settings();
    tracing::info!(worker = worker.name(), "worker running");
    'poll: loop {
        if *stop.borrow() {
            break;
        }
        let claimed = match blocking(&worker, Worker::poll).await {
            Ok(Ok((_, claimed))) => claimed,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "polling the queue failed");
                pause(&mut stop, settings.poll_interval.max(Duration::from_secs(5))).await;
                continue;
            }
            Err(e) => {
                tracing::error!(error = %e, "polling the queue panicked");
                pause(&mut stop, settings.poll_interval.max(Duration::from_secs(5))).await;
                continue;
            }
        };
        if claimed.is_empty() {
            pause(&mut stop, settings.poll_interval).await;
            continue;
        }
        let mut queue = claimed.into_iter();
        while let Some(job) = queue.next() {
            if *stop.borrow() {
                let mut rest = vec![job];
                rest.extend(queue);
                let _ = blocking(&worker, move |w| w.release(&rest)).await;
                break 'poll;
            }
            let mut task = tokio::task::spawn_blocking({
                let worker = worker.clone();
                move || worker.run_job(&job)
            });
            tokio::select! {
                result = &mut task => log_ran(result),
                _ = stop.wait_for(|stopping| *stopping) => {
                    tracing::info!(
                        grace_secs = settings.shutdown_grace.as_secs(),
                        "stopping: waiting for the running job"
                    );
                    match tokio::time::timeout(settings.shutdown_grace, &mut task).await {
                        Ok(result) => log_ran(result),
                        Err(_) => tracing::warn!(
                            "the running job did not finish in time; it runs again when its lease expires"
                        ),
                    }
                    let rest: Vec<Claimed> = queue.collect();
                    let _ = blocking(&worker, move |w| w.release(&rest)).await;
                    break 'poll;
                }
            }
        }
    }
    tracing::info!(worker = worker.name(), "worker stopped");
}
