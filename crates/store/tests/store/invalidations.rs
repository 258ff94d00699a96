//! The cache invalidation feed: what a logout and a period edit write, in their transaction,
//! read back in commit order.

use std::sync::mpsc;
use std::time::Duration;

use baoming_domain::ids::{PeriodId, SessionId};
use baoming_store::invalidations::{self, Invalidation};
use baoming_store::sessions::{self, Owner};
use baoming_store::testing::{TestDb, now};
use baoming_store::{StoreError, new_id, write_tx};
use diesel::prelude::*;

use super::*;

baoming_store::on_both_backends!(
    the_feed_reads_back_what_changes_wrote,
    a_later_writer_waits_for_the_earlier_commit,
);

fn the_feed_reads_back_what_changes_wrote(test: TestDb) {
    let w = World::new(&test);
    let mut conn = w.conn();
    assert_eq!(invalidations::latest(&mut conn).expect("latest"), 0);
    // A rolled-back change leaves nothing.
    let rolled_back: Result<(), StoreError> = write_tx(&mut conn, |conn| {
        invalidations::record(conn, &[Invalidation::Period(new_id::<PeriodId>())], now())?;
        Err(StoreError::NotFound { entity: "anything" })
    });
    assert!(rolled_back.is_err());
    assert_eq!(invalidations::since(&mut conn, 0, 100).expect("since").last, None);

    // A participant's logout revokes the session and records it.
    let (participant, _) = w.participant(1);
    let issued = sessions::issue(
        &mut conn,
        Owner::Participant(participant),
        chrono::Duration::hours(1),
        now(),
    )
    .expect("session");
    let session = issued.session.id;
    sessions::log_out_participant(&mut conn, session, now()).expect("logged out");
    assert_eq!(sessions::find_active(&mut conn, &issued.token, now()).expect("find"), None);
    // Closing a period records the period (edits do too: the api tests edit on one instance
    // and read on another).
    let period = w.period.id;
    assert!(baoming_store::periods::close(&mut conn, period, now()).expect("closed"));

    let page = invalidations::since(&mut conn, 0, 100).expect("since");
    assert_eq!(page.items, vec![Invalidation::Session(session), Invalidation::Period(period)]);
    let last = page.last.expect("rows");
    assert_eq!(invalidations::latest(&mut conn).expect("latest"), last);
    // Paged, oldest first, and nothing after the newest.
    let first = invalidations::since(&mut conn, 0, 1).expect("since");
    assert_eq!(first.items, vec![Invalidation::Session(session)]);
    let second = invalidations::since(&mut conn, first.last.expect("row"), 1).expect("since");
    assert_eq!(second.items, vec![Invalidation::Period(period)]);
    assert_eq!(invalidations::since(&mut conn, last, 100).expect("since"), Default::default());

    // A kind this version does not know is passed over, but the position moves on.
    {
        use baoming_store::schema::cache_invalidations as ci;
        diesel::insert_into(ci::table)
            .values((
                ci::kind.eq("from_the_future"),
                ci::key.eq("x"),
                ci::created_at.eq(now().naive_utc()),
            ))
            .execute(&mut *conn)
            .expect("inserted");
    }
    let unknown = invalidations::since(&mut conn, last, 100).expect("since");
    assert!(unknown.items.is_empty());
    assert!(unknown.last.expect("row") > last);

    // Pruning deletes the old rows; later ids still come after every id handed out before.
    let newest = unknown.last.expect("row");
    assert_eq!(
        invalidations::prune(&mut conn, now() + chrono::Duration::seconds(1)).expect("pruned"),
        3
    );
    assert_eq!(invalidations::since(&mut conn, 0, 100).expect("since").last, None);
    let again = new_id::<SessionId>();
    invalidations::record(&mut conn, &[Invalidation::Session(again)], now()).expect("recorded");
    let page = invalidations::since(&mut conn, newest, 100).expect("since");
    assert_eq!(page.items, vec![Invalidation::Session(again)]);
}

/// A writer that recorded first holds back a second one until it commits, so a reader never
/// sees a later id while an earlier one may still appear.
fn a_later_writer_waits_for_the_earlier_commit(test: TestDb) {
    let (first, second) = (new_id::<PeriodId>(), new_id::<PeriodId>());
    let (recorded, go_on) = (mpsc::channel(), mpsc::channel::<()>());
    let db = test.db.clone();
    let early = std::thread::spawn(move || {
        let mut conn = db.conn().expect("connection");
        write_tx(&mut conn, |conn| {
            invalidations::record(conn, &[Invalidation::Period(first)], now())?;
            recorded.0.send(()).expect("send");
            go_on.1.recv().expect("told to commit");
            Ok::<_, StoreError>(())
        })
        .expect("first committed");
    });
    recorded.1.recv().expect("first recorded");
    let db = test.db.clone();
    let late = std::thread::spawn(move || {
        let mut conn = db.conn().expect("connection");
        invalidations::record(&mut conn, &[Invalidation::Period(second)], now())
            .expect("second committed");
    });
    // The second writer has had time to commit, were it not held back: a reader sees neither.
    std::thread::sleep(Duration::from_millis(300));
    let mut conn = test.db.conn().expect("connection");
    assert_eq!(invalidations::since(&mut conn, 0, 100).expect("since"), Default::default());
    go_on.0.send(()).expect("send");
    early.join().expect("first writer");
    late.join().expect("second writer");
    let page = invalidations::since(&mut conn, 0, 100).expect("since");
    assert_eq!(page.items, vec![Invalidation::Period(first), Invalidation::Period(second)]);
}
