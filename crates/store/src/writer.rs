//! Group commit: one writer thread per database gathers the write requests waiting for it and
//! commits them together.
//!
//! Each request runs in its own savepoint inside the batch's one transaction, so a refusal (a
//! full region, a duplicate registration) rolls back that request's statements only; its
//! neighbours keep theirs. Every request gets its own answer, and only after the batch's
//! `COMMIT` returned: nothing is acknowledged before it is durable under the configured
//! synchronous mode. If the commit itself fails, every request of the batch that had succeeded
//! is answered with that failure (nothing of the batch was kept).
//!
//! The writer does not wait to fill a batch: it takes the first request, then whatever queued
//! up behind it (at most [`WriterOptions::max_batch`]), so an idle service commits each request
//! at once and a rush commits many per transaction — one `BEGIN`/`COMMIT` and one WAL sync
//! (SQLite) or one WAL flush (PostgreSQL) for the lot. Its connection is its own, outside the
//! pool, so its prepared statements stay warm and reads on the pooled connections never queue
//! behind it (SQLite in WAL mode).
//!
//! Only short write transactions belong here: a long one (an export, a bulk assignment) would
//! hold up every request queued behind it, and keeps to the pool.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;

use diesel::connection::SimpleConnection;

use crate::db::{Db, DbConnection, begin_write, depth, end_write, unwind_to, write_tx};
use crate::error::StoreError;

/// Writer settings.
#[derive(Debug, Clone, Copy)]
pub struct WriterOptions {
    /// Most requests committed in one transaction.
    pub max_batch: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self { max_batch: 256 }
    }
}

/// The writer has stopped (its thread ended): the request was not run.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the database writer has stopped")]
pub struct WriterStopped;

/// A handle on the writer thread of one database; clones share it. The thread ends when the
/// last handle is dropped, after the requests already queued.
#[derive(Debug, Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
    stats: Arc<Counters>,
}

/// What the writer has done since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    /// Transactions committed.
    pub batches: u64,
    /// Requests run in them (each batch holds one or more).
    pub requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    batches: AtomicU64,
    requests: AtomicU64,
}

impl Writer {
    /// Starts the writer thread of `db`, on a connection of its own (opened now, so a database
    /// that cannot be reached fails here rather than on the first request).
    pub fn start(db: &Db, options: WriterOptions) -> Result<Self, StoreError> {
        let conn = db.dedicated()?;
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        let db = db.clone();
        let max_batch = options.max_batch.max(1);
        let stats = Arc::new(Counters::default());
        let counters = stats.clone();
        thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || run(db, conn, jobs, max_batch, &counters))
            .map_err(|e| StoreError::Config(format!("starting the database writer: {e}")))?;
        Ok(Self { queue, stats })
    }

    /// Batches committed and requests run so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            batches: self.stats.batches.load(Ordering::Relaxed),
            requests: self.stats.requests.load(Ordering::Relaxed),
        }
    }

    /// Queues `work`; `reply` is called with its outcome once the batch it ran in is committed
    /// (or with the error that kept it from running or from being committed). `work` runs in a
    /// savepoint: when it returns `Err` (or panics) its statements are rolled back and the rest
    /// of the batch goes on.
    pub fn submit<T, E, F, R>(&self, work: F, reply: R) -> Result<(), WriterStopped>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        R: FnOnce(Result<T, E>) + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        self.queue.send(Box::new(Request { work, reply })).map_err(|_| WriterStopped)
    }
}

/// A queued request, type-erased.
trait Job: Send {
    /// Runs the work in a savepoint; returns what delivers its answer after the commit.
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn Deliver>;
    /// The batch could not begin: the work is not run and the error is the answer.
    fn fail(self: Box<Self>, error: &StoreError);
}

/// The answer of a job that ran, held until its batch's commit is known.
trait Deliver: Send {
    fn deliver(self: Box<Self>, commit: Result<(), &StoreError>);
}

struct Request<F, R> {
    work: F,
    reply: R,
}

/// What a savepoint ends with: the work's own error, the savepoint's or a panic.
enum Step<E> {
    Work(E),
    Database(diesel::result::Error),
    Panicked,
}

impl<E> From<diesel::result::Error> for Step<E> {
    fn from(error: diesel::result::Error) -> Self {
        Step::Database(error)
    }
}

impl<T, E, F, R> Job for Request<F, R>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
    R: FnOnce(Result<T, E>) + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn run(self: Box<Self>, conn: &mut DbConnection) -> Box<dyn Deliver> {
        let Request { work, reply } = *self;
        let outcome = write_tx(conn, |conn| {
            let own = depth(conn)?;
            match catch_unwind(AssertUnwindSafe(|| work(conn))) {
                Ok(Ok(value)) => Ok(value),
                Ok(Err(error)) => Err(Step::Work(error)),
                Err(_) => {
                    // A panic inside the work's own transactions left their savepoints open:
                    // closed here, so the rollback below is of this request's savepoint.
                    unwind_to(conn, own)?;
                    Err(Step::Panicked)
                }
            }
        });
        let outcome = outcome.map_err(|step| match step {
            Step::Work(error) => error,
            Step::Database(error) => E::from(StoreError::Database(error)),
            Step::Panicked => E::from(StoreError::Misuse("a write request panicked")),
        });
        Box::new(Answer { outcome, reply })
    }

    fn fail(self: Box<Self>, error: &StoreError) {
        (self.reply)(Err(E::from(copy_error(error))));
    }
}

struct Answer<T, E, R> {
    outcome: Result<T, E>,
    reply: R,
}

impl<T, E, R> Deliver for Answer<T, E, R>
where
    R: FnOnce(Result<T, E>) + Send + 'static,
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    fn deliver(self: Box<Self>, commit: Result<(), &StoreError>) {
        let answer = match (self.outcome, commit) {
            (Ok(_), Err(error)) => Err(E::from(copy_error(error))),
            // A refusal stands whatever became of the batch (its savepoint was rolled back).
            (outcome, _) => outcome,
        };
        (self.reply)(answer);
    }
}

/// The same failure, for another request of the batch (errors are not `Clone`).
fn copy_error(error: &StoreError) -> StoreError {
    match error {
        StoreError::Database(diesel::result::Error::DatabaseError(kind, info)) => {
            StoreError::Database(diesel::result::Error::DatabaseError(
                *kind,
                Box::new(info.message().to_owned()),
            ))
        }
        StoreError::Connect(error) => {
            StoreError::Connect(diesel::ConnectionError::BadConnection(error.to_string()))
        }
        other => StoreError::Database(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::Unknown,
            Box::new(other.to_string()),
        )),
    }
}

/// The writer thread: a batch at a time until every handle is gone.
fn run(
    db: Db,
    conn: DbConnection,
    jobs: mpsc::Receiver<Box<dyn Job>>,
    max_batch: usize,
    stats: &Counters,
) {
    let mut conn = Some(conn);
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(max_batch);
    while let Ok(first) = jobs.recv() {
        batch.push(first);
        while batch.len() < max_batch {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // A connection lost with the last batch (a database restart) is opened again here.
        let c = match conn.take().map_or_else(|| db.dedicated(), Ok) {
            Ok(c) => conn.insert(c),
            Err(error) => {
                tracing::error!(%error, "database writer: no connection");
                batch.drain(..).for_each(|job| job.fail(&error));
                continue;
            }
        };
        let size = batch.len();
        if let Err(error) = begin_write(c) {
            let error = StoreError::Database(error);
            tracing::error!(%error, size, "database writer: the batch could not begin");
            batch.drain(..).for_each(|job| job.fail(&error));
            drop_if_broken(&mut conn);
            continue;
        }
        let answers: Vec<Box<dyn Deliver>> = batch.drain(..).map(|job| job.run(c)).collect();
        match end_write(c) {
            Ok(()) => {
                // Counted before the answers go out: whoever reads the stats after an answer
                // sees its batch.
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.requests.fetch_add(size as u64, Ordering::Relaxed);
                answers.into_iter().for_each(|answer| answer.deliver(Ok(())));
            }
            Err(error) => {
                let error = StoreError::Database(error);
                tracing::error!(%error, size, "database writer: the batch's commit failed");
                answers.into_iter().for_each(|answer| answer.deliver(Err(&error)));
                drop_if_broken(&mut conn);
            }
        }
    }
}

/// Drops the writer's connection when it no longer answers (or is stuck in a transaction); the
/// next batch opens another.
fn drop_if_broken(conn: &mut Option<DbConnection>) {
    if let Some(c) = conn
        && (crate::db::in_transaction(c) || c.batch_execute("SELECT 1").is_err())
    {
        *conn = None;
    }
}
