//! The two backends: migrations, URLs, connection settings and write transactions.

use std::collections::BTreeSet;

use baoming_store::participants::{self};
use baoming_store::testing::{TestDb, cipher, now};
use baoming_store::{PoolOptions, StoreError, write_tx};
use diesel::prelude::*;

use super::*;

baoming_store::on_both_backends!(write_transactions_roll_back,);

fn write_transactions_roll_back(test: TestDb) {
    let w = World::new(&test);
    let mut conn = w.conn();
    let result: Result<(), StoreError> = write_tx(&mut conn, |conn| {
        participants::login(conn, &cipher(), "openid-rolled-back", None, now())?;
        Err(StoreError::NotFound { entity: "anything" })
    });
    assert!(result.is_err());
    use baoming_store::schema::participants as p;
    let count: i64 = p::table
        .filter(p::openid.eq("openid-rolled-back"))
        .count()
        .get_result(&mut *conn)
        .expect("count");
    assert_eq!(count, 0);
    // Nested write transactions become savepoints and the connection stays usable.
    let nested: Result<i32, StoreError> = write_tx(&mut conn, |conn| write_tx(conn, |_| Ok(7)));
    assert_eq!(nested.expect("nested"), 7);
}

#[test]
fn both_backends_have_the_same_migrations() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let names = |backend: &str| -> BTreeSet<String> {
        std::fs::read_dir(root.join(backend))
            .expect("migrations folder")
            .map(|entry| {
                let entry = entry.expect("entry");
                for file in ["up.sql", "down.sql"] {
                    assert!(
                        entry.path().join(file).is_file(),
                        "{backend}/{:?} lacks {file}",
                        entry.file_name()
                    );
                }
                entry.file_name().to_string_lossy().into_owned()
            })
            .collect()
    };
    let (sqlite, postgres) = (names("sqlite"), names("postgres"));
    assert!(!sqlite.is_empty());
    assert_eq!(
        sqlite, postgres,
        "migrations/sqlite and migrations/postgres must hold the same names"
    );
}

#[test]
fn database_urls_choose_the_backend() {
    use baoming_store::DatabaseUrl;
    assert!(matches!(DatabaseUrl::parse("postgres://u@h/db"), Ok(DatabaseUrl::Postgres(_))));
    assert!(matches!(DatabaseUrl::parse("postgresql://u@h/db"), Ok(DatabaseUrl::Postgres(_))));
    assert!(
        matches!(DatabaseUrl::parse("sqlite://data/b.sqlite3"), Ok(DatabaseUrl::Sqlite(p)) if p.ends_with("b.sqlite3"))
    );
    assert!(matches!(DatabaseUrl::parse("./data/b.sqlite3"), Ok(DatabaseUrl::Sqlite(_))));
    assert!(matches!(
        DatabaseUrl::parse("postgres://u@h/db?sslmode=disable&application_name=x"),
        Ok(DatabaseUrl::Postgres(_))
    ));
    for mode in ["require", "verify-ca", "verify-full"] {
        let refused =
            DatabaseUrl::parse(&format!("postgres://u@h/db?application_name=x&sslmode={mode}"))
                .expect_err("libpq without TLS");
        assert!(refused.to_string().contains(&format!("sslmode={mode} needs TLS")), "{refused}");
    }
    for bad in ["", "mysql://u@h/db", "sqlite://", ":memory:", "sqlite://:memory:"] {
        assert!(DatabaseUrl::parse(bad).is_err(), "{bad:?} was accepted");
    }
    // A PostgreSQL URL's password never reaches a log through Debug.
    let url = DatabaseUrl::parse("postgres://u:secret@h/db").expect("url");
    assert!(!format!("{url:?}").contains("secret"));
}

#[test]
fn sqlite_connections_get_their_pragmas() {
    let test = TestDb::sqlite_with(PoolOptions::default());
    let mut conn = test.db.conn().expect("connection");
    #[derive(QueryableByName)]
    struct Value {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let pragma = |conn: &mut baoming_store::DbConnection, name: &str| -> String {
        // The column of the pragma's table-valued function (busy_timeout's is "timeout").
        let column = if name == "busy_timeout" { "timeout" } else { name };
        diesel::sql_query(format!("SELECT CAST({column} AS TEXT) AS value FROM pragma_{name}"))
            .get_result::<Value>(conn)
            .expect("pragma")
            .value
    };
    assert_eq!(pragma(&mut conn, "journal_mode"), "wal");
    assert_eq!(pragma(&mut conn, "foreign_keys"), "1");
    assert_eq!(pragma(&mut conn, "synchronous"), "1", "NORMAL");
    assert_eq!(pragma(&mut conn, "busy_timeout"), "10000");
    assert_eq!(pragma(&mut conn, "temp_store"), "2", "MEMORY");
}

/// Without the query planner stability guarantee, SQLite (≥ 3.50) marks a statement whose
/// LIMIT is a bound parameter — every Diesel `.first()` — for re-preparation at each
/// execution: the statement cache would not help those queries (`.cargo/config.toml` sets
/// `LIBSQLITE3_FLAGS`; a build without it fails here).
#[test]
fn sqlite_is_built_with_the_query_planner_stability_guarantee() {
    let test = TestDb::sqlite();
    let mut conn = test.db.conn().expect("connection");
    #[derive(QueryableByName)]
    struct Used {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        used: i32,
    }
    let used = diesel::sql_query("SELECT sqlite_compileoption_used('ENABLE_QPSG') AS used")
        .get_result::<Used>(&mut conn)
        .expect("compile option")
        .used;
    assert_eq!(used, 1, "SQLite built without SQLITE_ENABLE_QPSG");
}

#[test]
fn sqlite_write_transactions_take_the_lock_up_front() {
    use diesel::connection::SimpleConnection;
    let test = TestDb::sqlite();
    let path = test.db.sqlite_path().expect("SQLite").to_str().expect("UTF-8").to_owned();
    let mut conn = test.db.conn().expect("connection");
    write_tx(&mut conn, |_| {
        // Nothing written yet, but the write lock is already ours: another writer that will
        // not wait is refused at once.
        let mut other = SqliteConnection::establish(&path).expect("second connection");
        other.batch_execute("PRAGMA busy_timeout = 0").expect("no waiting");
        let err = other.batch_execute("BEGIN IMMEDIATE").expect_err("the lock is held");
        assert!(err.to_string().contains("locked"), "{err}");
        Ok::<_, StoreError>(())
    })
    .expect("transaction");
}
