//! What diesel's `MultiConnection` costs per query on SQLite, measured against the same query
//! on the concrete connection (`db::on_backend!`), in one process on one fresh database:
//! `cargo run --release -p baoming-store --features test-support --example query_cost`.
//! Prints the time per call of each path and their ratio (docs/performance.md).

// A measuring tool: its figures are its output.
#![allow(clippy::print_stdout)]

use std::time::Instant;

use baoming_store::schema::registrations as r;
use baoming_store::testing::{Fixture, TestDb, now};
use diesel::prelude::*;

fn main() {
    let test = TestDb::sqlite();
    let fixture = Fixture::new(&test.db, now());
    let id = fixture.submitted(1, "01");
    let participant = fixture.owner(id);
    let mut conn = test.db.conn().expect("connection");
    let calls: u32 = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(100_000);
    let text = participant.to_string();
    let time = |label: &str, f: &mut dyn FnMut()| {
        for _ in 0..1_000 {
            f();
        }
        let started = Instant::now();
        for _ in 0..calls {
            f();
        }
        let per_call = started.elapsed().as_secs_f64() * 1e6 / f64::from(calls);
        println!("{label}: {per_call:.2} µs per call ({calls} calls)");
        per_call
    };
    type Row = (String, String, String, String, String, chrono::NaiveDateTime);
    macro_rules! query {
        () => {
            r::table.filter(r::participant_id.eq(&text)).order(r::submitted_at.desc()).select((
                r::id,
                r::state,
                r::participant_id,
                r::period_id,
                r::region_id,
                r::submitted_at,
            ))
        };
    }
    let multi = time("through the MultiConnection", &mut || {
        let rows: Vec<Row> = query!().load(&mut *conn).expect("query");
        assert_eq!(rows.len(), 1);
    });
    let direct = time("on the SQLite connection itself", &mut || {
        let baoming_store::DbConnection::Sqlite(c) = &mut *conn else { unreachable!() };
        let rows: Vec<Row> = query!().load(c).expect("query");
        assert_eq!(rows.len(), 1);
    });
    println!("ratio: {:.2}", multi / direct);
}
