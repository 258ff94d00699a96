//! Group commit: the requests queued behind the writer are committed in one transaction, each
//! in its own savepoint, and each answered after that commit.

use std::sync::mpsc;
use std::time::Duration;

use baoming_store::participants;
use baoming_store::testing::{TestDb, cipher, now};
use baoming_store::{Db, StoreError, Writer, WriterOptions, WriterStats, write_tx};
use diesel::prelude::*;

baoming_store::on_both_backends!(a_batch_commits_together_and_refusals_stay_alone,);

fn participants_named(db: &Db, openid: &str) -> i64 {
    use baoming_store::schema::participants as p;
    let mut conn = db.conn().expect("conn");
    p::table.filter(p::openid.eq(openid)).count().get_result(&mut *conn).expect("count")
}

fn a_batch_commits_together_and_refusals_stay_alone(test: TestDb) {
    let db = test.db.clone();
    let writer = Writer::start(&db, WriterOptions::default()).expect("writer");
    // The first request holds the writer until the others have queued behind it, so they make
    // one batch.
    let (release, held) = mpsc::channel::<()>();
    let (running, started) = mpsc::channel::<()>();
    let (answers, answered) = mpsc::channel::<(usize, Result<(), StoreError>, i64)>();
    writer
        .submit(
            move |_conn| {
                running.send(()).expect("test waiting");
                held.recv_timeout(Duration::from_secs(30)).expect("released");
                Ok::<_, StoreError>(())
            },
            |_| {},
        )
        .expect("queued");
    started.recv_timeout(Duration::from_secs(30)).expect("the first request runs");
    for n in 0..6 {
        let (db, answers) = (db.clone(), answers.clone());
        let openid = format!("openid-batch-{n}");
        let id = openid.clone();
        writer
            .submit(
                move |conn| {
                    participants::login(conn, &cipher(), &openid, None, now())?;
                    match n {
                        // A refusal after a write: its write is undone, no one else's.
                        2 => Err(StoreError::Duplicate { what: "registration" }),
                        // A panic inside the request's own transaction, after a write in it.
                        4 => write_tx(conn, |conn| {
                            participants::login(conn, &cipher(), "openid-in-panic", None, now())?;
                            panic!("a bug in one request")
                        }),
                        _ => Ok(()),
                    }
                },
                move |outcome| {
                    // Answered after the commit: another connection sees the row already.
                    let seen = participants_named(&db, &id);
                    answers.send((n, outcome, seen)).expect("test listening");
                },
            )
            .expect("queued");
    }
    release.send(()).expect("first request waiting");
    let mut got: Vec<_> = (0..6)
        .map(|_| answered.recv_timeout(Duration::from_secs(30)).expect("every answer"))
        .collect();
    got.sort_by_key(|(n, _, _)| *n);
    for (n, outcome, seen) in got {
        match n {
            2 => assert!(matches!(outcome, Err(StoreError::Duplicate { .. })), "{outcome:?}"),
            4 => assert!(matches!(outcome, Err(StoreError::Misuse(_))), "{outcome:?}"),
            _ => assert!(outcome.is_ok(), "{n}: {outcome:?}"),
        }
        let kept = i64::from(n != 2 && n != 4);
        assert_eq!(seen, kept, "request {n}: row visible when answered");
        assert_eq!(participants_named(&db, &format!("openid-batch-{n}")), kept);
    }
    assert_eq!(participants_named(&db, "openid-in-panic"), 0);
    // The held request alone, then the six together.
    assert_eq!(writer.stats(), WriterStats { batches: 2, requests: 7 });
    // The writer goes on after a refusal and a panic.
    let (tx, rx) = mpsc::channel();
    writer
        .submit(
            |conn| participants::login(conn, &cipher(), "openid-after", None, now()).map(|_| ()),
            move |outcome| tx.send(outcome).expect("listening"),
        )
        .expect("queued");
    rx.recv_timeout(Duration::from_secs(30)).expect("answer").expect("committed");
    assert_eq!(participants_named(&db, "openid-after"), 1);
}
