//! Test support: a fresh, migrated database per test, on SQLite or PostgreSQL.
//!
//! SQLite tests get a new file in a temporary directory. PostgreSQL tests get a new database
//! `baoming_test_<uuid>` on the server named by [`POSTGRES_URL_VAR`], dropped when the test
//! ends. A PostgreSQL test without that variable fails and says how to set it: it never
//! passes silently.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::db::{Db, PoolOptions};
use crate::pii::{PiiCipher, PiiKeys};

/// The environment variable naming the PostgreSQL server for tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres` (a database the test user may connect to and
/// create databases from).
pub const POSTGRES_URL_VAR: &str = "BAOMING_TEST_POSTGRES_URL";

/// A fresh migrated database that disappears with the value.
pub struct TestDb {
    /// The pool (dropped before the database is).
    pub db: Db,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb").field("db", &self.db).finish_non_exhaustive()
    }
}

impl TestDb {
    /// A new SQLite file, migrated.
    pub fn sqlite() -> Self {
        Self::sqlite_with(PoolOptions::default())
    }

    /// A new SQLite file with these pool settings, migrated.
    pub fn sqlite_with(options: PoolOptions) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("baoming.sqlite3");
        let url = path.to_str().expect("UTF-8 temp path").to_owned();
        let db = Db::connect(&url, options).expect("open SQLite");
        db.run_migrations().expect("migrate SQLite");
        Self { db, url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A new PostgreSQL database on the server of [`POSTGRES_URL_VAR`], migrated.
    pub fn postgres() -> Self {
        Self::postgres_with(PoolOptions::default())
    }

    /// A new PostgreSQL database with these pool settings, migrated.
    pub fn postgres_with(options: PoolOptions) -> Self {
        let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_URL_VAR} is not set: PostgreSQL tests need a server, e.g. \
                 {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres \
                 (or run only the SQLite tests with `just test-sqlite`)"
            )
        });
        let name = format!("baoming_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}"));
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
        let url = with_database(&admin_url, &name);
        let db = Db::connect(&url, options).expect("open PostgreSQL");
        db.run_migrations().expect("migrate PostgreSQL");
        Self { db, url, cleanup: Cleanup::Postgres { admin_url, name } }
    }

    /// The database URL (for a service under test to open its own pool).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is the SQLite backend.
    pub fn is_sqlite(&self) -> bool {
        matches!(self.cleanup, Cleanup::Sqlite(_))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            // WITH (FORCE) ends the pool's connections that are still open.
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The URL of another database on the same server.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// A cipher with fixed test keys.
pub fn cipher() -> PiiCipher {
    PiiCipher::new(PiiKeys::new([0x11; 32], [0x22; 32]).expect("distinct test keys"))
}

/// A fixed "now" for tests: 2026-05-05 08:00 UTC.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_777_968_000, 0).expect("valid timestamp")
}

/// Hours after [`now`].
pub fn later(hours: i64) -> DateTime<Utc> {
    now() + Duration::hours(hours)
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
