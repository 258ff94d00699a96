//! Connections, the pool, migrations and write transactions for both backends.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::StoreError;

/// Migrations of each backend, embedded in the binary (same names in both folders).
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
/// See [`SQLITE_MIGRATIONS`].
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

pub use multi::{DbConnection, MultiBackend};

/// The connection enum, and what diesel's `MultiConnection` derive generates beside it
/// (`MultiBackend`, the backend of queries built for either database, and its helpers, which
/// diesel leaves undocumented).
#[allow(missing_docs)]
mod multi {
    use diesel::pg::PgConnection;
    use diesel::sqlite::SqliteConnection;

    /// One connection to whichever backend the database URL chose.
    #[derive(diesel::MultiConnection)]
    pub enum DbConnection {
        /// PostgreSQL.
        Pg(PgConnection),
        /// SQLite (the embedded default).
        Sqlite(SqliteConnection),
    }
}

impl fmt::Debug for DbConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DbConnection::Pg(_) => "DbConnection::Pg",
            DbConnection::Sqlite(_) => "DbConnection::Sqlite",
        })
    }
}

/// Runs a query on the connection of its own backend instead of through the
/// `MultiConnection`: `$body` is compiled once per backend with `$c` the concrete connection.
/// For the hottest reads only — diesel's `MultiConnection` writes a query's SQL text out on
/// every execution (and again for its bind and cache passes), even when the prepared
/// statement is cached, which costs more than the query on SQLite (docs/performance.md).
/// The row type must be checked for both backends (`check_for_backend(Pg, Sqlite)`).
macro_rules! on_backend {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Pg($c) => $body,
        }
    };
}
pub(crate) use on_backend;

/// The backend and where it lives, parsed from a database URL.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `postgres://…` or `postgresql://…`.
    Postgres(String),
    /// `sqlite://path` or a plain file path.
    Sqlite(PathBuf),
}

impl fmt::Debug for DatabaseUrl {
    // A PostgreSQL URL may hold a password: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Postgres(_) => f.write_str("DatabaseUrl::Postgres(…)"),
            DatabaseUrl::Sqlite(path) => write!(f, "DatabaseUrl::Sqlite({})", path.display()),
        }
    }
}

impl DatabaseUrl {
    /// Chooses the backend: `postgres://`/`postgresql://` → PostgreSQL; `sqlite://path` or a
    /// plain path → SQLite. Anything else (another scheme, an in-memory SQLite that each pooled
    /// connection would see differently, an empty string) is refused.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        let bad = |why: &str| StoreError::Config(format!("database URL: {why}"));
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // The compiled-in libpq has no TLS (the workspace manifest): say so now rather than
            // after the pool's connection timeout.
            let query = url.split_once('?').map_or("", |(_, q)| q);
            if let Some(mode) = query.split('&').find_map(|kv| kv.strip_prefix("sslmode="))
                && matches!(mode, "require" | "verify-ca" | "verify-full")
            {
                return Err(bad(&format!(
                    "sslmode={mode} needs TLS, which this build's libpq does not have; reach \
                     PostgreSQL over a Unix socket, loopback or a private network with \
                     sslmode=disable (docs/configuration.md)"
                )));
            }
            return Ok(DatabaseUrl::Postgres(url.to_owned()));
        }
        let path = match url.strip_prefix("sqlite://") {
            Some(path) => path,
            None if url.contains("://") => {
                return Err(bad("unsupported scheme (use postgres://, sqlite:// or a file path)"));
            }
            None => url,
        };
        if path.is_empty() {
            return Err(bad("empty SQLite path"));
        }
        if path.starts_with(':') || path.contains("mode=memory") {
            return Err(bad("in-memory SQLite cannot be pooled; give a file path"));
        }
        Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
    }

    /// Whether this is SQLite.
    pub fn is_sqlite(&self) -> bool {
        matches!(self, DatabaseUrl::Sqlite(_))
    }
}

/// Per-connection settings of SQLite: a busy timeout so writers queue instead of failing (set
/// first: switching a new file to WAL needs a lock that a connection opened at the same time may
/// hold), WAL for concurrent readers, `synchronous=NORMAL` (safe with WAL), foreign keys
/// enforced, temporary files in memory (the statement journal of the writer's savepoints, one per
/// request of a batch, would otherwise spill to a file and cost a `pwrite` per page touched).
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
     PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;";

/// Opens connections for the pool, to the backend the URL chose (never by trial and error).
#[derive(Debug, Clone)]
pub struct Manager {
    url: DatabaseUrl,
}

impl Manager {
    fn establish(&self) -> Result<DbConnection, ConnectionError> {
        match &self.url {
            DatabaseUrl::Postgres(url) => PgConnection::establish(url).map(DbConnection::Pg),
            DatabaseUrl::Sqlite(path) => {
                let path = path.to_str().ok_or_else(|| {
                    ConnectionError::BadConnection("SQLite path is not UTF-8".into())
                })?;
                let mut conn = SqliteConnection::establish(path)?;
                conn.batch_execute(SQLITE_PRAGMAS)
                    .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<DbConnection, r2d2::Error> {
        self.establish().map_err(r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), r2d2::Error> {
        match conn {
            // A server may have closed it (a restart, an idle timeout).
            DbConnection::Pg(c) => c.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError),
            // An open SQLite file stays open: checking it on every checkout would only parse
            // and run a statement per request.
            DbConnection::Sqlite(_) => Ok(()),
        }
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        // A connection left inside a transaction (a panic mid-transaction) must not be reused.
        in_transaction(conn)
    }
}

fn transaction_broken<C>(conn: &mut C) -> bool
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    !matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(None)
    )
}

/// A pooled connection.
pub type Conn = PooledConnection<Manager>;

/// The database: a pool of connections to one backend.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    url: DatabaseUrl,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db").field("url", &self.url).field("state", &self.pool.state()).finish()
    }
}

/// Pool settings.
#[derive(Debug, Clone, Copy)]
pub struct PoolOptions {
    /// Most connections open at once.
    pub max_size: u32,
    /// Connections kept open while idle (the rest open on demand).
    pub min_idle: u32,
    /// How long a caller waits for a free connection.
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self { max_size: 16, min_idle: 2, connection_timeout: Duration::from_secs(30) }
    }
}

impl Db {
    /// Opens a pool to the database the URL names. For SQLite the parent directory of the file
    /// must exist; the file is created.
    pub fn connect(url: &DatabaseUrl, options: PoolOptions) -> Result<Self, StoreError> {
        let pool = Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(options.min_idle.min(options.max_size)))
            .connection_timeout(options.connection_timeout)
            .build(Manager { url: url.clone() })?;
        Ok(Self { pool, url: url.clone() })
    }

    /// A connection from the pool.
    pub fn conn(&self) -> Result<Conn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// A connection of its own, outside the pool (with the pool's connection settings), for a
    /// background task that must not wait behind requests for a pooled one.
    pub fn dedicated(&self) -> Result<DbConnection, StoreError> {
        Ok(Manager { url: self.url.clone() }.establish()?)
    }

    /// The parsed URL (which backend this is).
    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    /// The SQLite file, when the backend is SQLite.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match &self.url {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }

    /// Applies every pending migration of this backend; returns the names applied.
    /// Binaries call this explicitly at start-up (and from `migrate`).
    pub fn run_migrations(&self) -> Result<Vec<String>, StoreError> {
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            DbConnection::Pg(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        }
        .map_err(|e| StoreError::Migration(e.to_string()))?;
        Ok(applied.iter().map(ToString::to_string).collect())
    }

    /// A round trip to the database (readiness check).
    pub fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.batch_execute("SELECT 1")?;
        Ok(())
    }
}

/// Runs `f` in a write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock is taken up
/// front, so two writers never deadlock upgrading a read lock), a plain transaction on
/// PostgreSQL (row locks and conditional updates serialise writers). Commits on `Ok`, rolls
/// back on `Err`. Nested calls become savepoints.
pub fn write_tx<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    begin_write(conn)?;
    let result = f(conn);
    let end = match result {
        Ok(_) => end_write(conn),
        Err(_) => rollback(conn),
    };
    match (result, end) {
        (Ok(value), Ok(())) => Ok(value),
        (Ok(_), Err(commit_error)) => Err(commit_error.into()),
        // The caller's error explains more than a failed rollback would.
        (Err(error), _) => Err(error),
    }
}

/// Opens a write transaction (`BEGIN IMMEDIATE` on SQLite), or a savepoint inside one.
pub(crate) fn begin_write(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    let outermost = depth(conn)? == 0;
    match conn {
        DbConnection::Sqlite(c) if outermost => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
        }
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction(c),
        DbConnection::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Commits what [`begin_write`] opened (releases a savepoint). A failed commit of the outermost
/// transaction is rolled back by diesel's transaction manager.
pub(crate) fn end_write(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    match conn {
        DbConnection::Pg(c) => AnsiTransactionManager::commit_transaction(c),
        DbConnection::Sqlite(c) => AnsiTransactionManager::commit_transaction(c),
    }
}

fn rollback(conn: &mut DbConnection) -> Result<(), diesel::result::Error> {
    match conn {
        DbConnection::Pg(c) => AnsiTransactionManager::rollback_transaction(c),
        DbConnection::Sqlite(c) => AnsiTransactionManager::rollback_transaction(c),
    }
}

/// How many transactions and savepoints are open on the connection.
pub(crate) fn depth(conn: &mut DbConnection) -> Result<u32, diesel::result::Error> {
    match conn {
        DbConnection::Pg(c) => transaction_depth(c),
        DbConnection::Sqlite(c) => transaction_depth(c),
    }
}

/// Rolls back the savepoints opened beyond `target` (a panic left them open on its way out).
pub(crate) fn unwind_to(conn: &mut DbConnection, target: u32) -> Result<(), diesel::result::Error> {
    while depth(conn)? > target {
        rollback(conn)?;
    }
    Ok(())
}

/// Whether a transaction is open on the connection (or its state is unknown).
pub(crate) fn in_transaction(conn: &mut DbConnection) -> bool {
    match conn {
        DbConnection::Pg(c) => transaction_broken(c),
        DbConnection::Sqlite(c) => transaction_broken(c),
    }
}

fn transaction_depth<C>(conn: &mut C) -> Result<u32, diesel::result::Error>
where
    C: Connection<TransactionManager = AnsiTransactionManager>,
{
    Ok(AnsiTransactionManager::transaction_manager_status_mut(conn)
        .transaction_depth()?
        .map_or(0, |depth| depth.get()))
}
