//! Personal data: the retention job (dry run and real run on a seeded database), account
//! deletion and the export.

use baoming_domain::ids::ParticipantId;
use baoming_domain::privacy::DeletionBlocker;
use baoming_store::privacy::{self, DeleteAccountError, ERASED_NAME, Policy, Report};
use baoming_store::sessions::{self, Owner};
use baoming_store::testing::{Fixture, TestDb, cipher, fixture_profile, now};
use baoming_store::{audit, clock, participants, registrations};
use chrono::{Duration, Months};
use diesel::prelude::*;

use super::*;

baoming_store::on_both_backends!(
    retention_dry_run_then_run_on_a_seeded_database,
    account_deletion_is_refused_while_live_and_erases_when_not,
    the_export_holds_everything_stored,
);

fn fixture(test: &TestDb, at: DateTime<Utc>) -> Fixture {
    let mut f = Fixture::new(&test.db, at);
    f.openid_prefix = "wx-".into();
    f
}

/// A registration of participant `n` in `f`'s period, checked in and completed by the clock
/// after the sitting (paid by bank transfer: a ledger row).
fn completed(f: &Fixture, n: u32) -> RegistrationId {
    let id = f.in_state_with(n, "01", State::CheckedIn, &fixture_profile(n, f.at));
    clock::sweep(&mut f.db.conn().expect("conn"), f.after_sitting(), None).expect("sweep");
    assert_eq!(f.state(id), State::Completed);
    id
}

fn raw_identity(test: &TestDb, id: ParticipantId) -> (Option<String>, Option<Vec<u8>>, bool) {
    use baoming_store::schema::participants as p;
    let (name, sealed, erased): (Option<String>, Option<Vec<u8>>, Option<chrono::NaiveDateTime>) =
        p::table
            .find(id.to_string())
            .select((p::name, p::id_number_enc, p::erased_at))
            .first(&mut *test.db.conn().expect("conn"))
            .expect("participant row");
    (name, sealed, erased.is_some())
}

/// (registration, amount, method) of every ledger row, in id order.
fn ledger(test: &TestDb) -> Vec<(String, i64, String)> {
    use baoming_store::schema::payments as p;
    p::table
        .order(p::id)
        .select((p::registration_id, p::amount_fen, p::method))
        .load(&mut *test.db.conn().expect("conn"))
        .expect("ledger")
}

fn audit_actions(test: &TestDb) -> Vec<(String, Option<serde_json::Value>)> {
    let filter = audit::Filter { limit: 500, ..audit::Filter::default() };
    audit::list(&mut test.db.conn().expect("conn"), &filter)
        .expect("audit")
        .into_iter()
        .filter(|r| r.action.starts_with("retention_") || r.action == "erase_personal_data")
        .map(|r| (r.action, r.summary))
        .collect()
}

fn retention_dry_run_then_run_on_a_seeded_database(test: TestDb) {
    let run_at = now();
    // A sitting that ended four years ago, and one still ahead.
    let old = fixture(&test, run_at - Months::new(48));
    let recent = fixture(&test, run_at - Duration::days(2));
    let c = cipher();

    // A: only the old sitting. B: the old sitting and the recent one. C: a profile saved four
    // years ago and never a registration (its photo unused). D: only the recent sitting,
    // approved (its photo's original may go), and a photo uploaded an hour ago.
    let a = completed(&old, 1);
    let b_old = completed(&old, 2);
    let (c_id, c_photo) = old.participant_with(3, &fixture_profile(3, old.at));
    let b_recent = {
        let (b, photo) = recent.participant_with(2, &fixture_profile(2, old.at));
        recent.submit(&recent.form(b, photo, "01"))
    };
    let d = recent.in_state(4, "02", State::AwaitingPayment);
    let d_id = recent.owner(d);
    let a_id = old.owner(a);
    let b_id = old.owner(b_old);
    assert_eq!(recent.owner(b_recent), b_id, "B is one participant in both sittings");
    let fresh_photo = {
        let mut conn = test.db.conn().expect("conn");
        baoming_store::photos::insert(
            &mut conn,
            &baoming_store::photos::NewPhoto {
                id: baoming_store::new_id(),
                participant: d_id,
                original_key: "photos/fresh/original.png".into(),
                normalized_key: "photos/fresh/normalized.jpg".into(),
                original_bytes: 1,
                width: 295,
                height: 413,
            },
            run_at - Duration::hours(1),
        )
        .expect("photo")
    };
    // Sessions: one expired, one logged out, one live.
    {
        let mut conn = test.db.conn().expect("conn");
        let hour = Duration::hours(1);
        sessions::issue(&mut conn, Owner::Participant(a_id), hour, run_at - Duration::days(3))
            .expect("expired session");
        let out = sessions::issue(&mut conn, Owner::Participant(d_id), Duration::days(30), run_at)
            .expect("session");
        sessions::revoke(&mut conn, out.session.id, run_at).expect("logout");
        sessions::issue(&mut conn, Owner::Participant(d_id), Duration::days(30), run_at)
            .expect("live session");
    }
    let ledger_before = ledger(&test);
    assert_eq!(ledger_before.len(), 2, "A and B paid, nobody else: {ledger_before:?}");
    let history_before = old.history(a);
    let a_number = fixture_profile(1, old.at).identity.id_number.expect("number");

    let policy = Policy::default();
    let expected = Report {
        sessions: 2,
        unused_photos: 1,
        originals: 3,
        participants: 2,
        // C's photo (2), the originals of A, B (old) and D (3), A's normalised photo (1).
        files: 6,
    };
    let dry =
        privacy::dry_run(&mut test.db.conn().expect("conn"), &policy, run_at).expect("dry run");
    assert_eq!(dry, expected);
    // The dry run changed nothing.
    assert!(raw_identity(&test, a_id).1.is_some());
    assert!(audit_actions(&test).is_empty());
    assert_eq!(
        privacy::dry_run(&mut test.db.conn().expect("conn"), &policy, run_at).expect("again"),
        dry
    );

    let outcome = privacy::run(&mut test.db.conn().expect("conn"), &policy, run_at, Some("job:1"))
        .expect("run");
    assert_eq!(outcome.report, expected, "the run purged what the dry run counted");
    assert_eq!(outcome.files.len(), expected.files);
    for key in ["photos/3/original.jpg", "photos/3/normalized.jpg", "photos/1/normalized.jpg"] {
        assert!(outcome.files.iter().any(|f| f == key), "{key} in {:?}", outcome.files);
    }
    assert!(!outcome.files.iter().any(|f| f.starts_with("photos/fresh/")));

    // A and C erased: placeholder name, no ID number, not found by it any more.
    for id in [a_id, c_id] {
        let (name, sealed, erased) = raw_identity(&test, id);
        assert_eq!(name.as_deref(), Some(ERASED_NAME));
        assert!(sealed.is_none() && erased);
    }
    let mut conn = test.db.conn().expect("conn");
    assert_eq!(participants::find_by_id_number(&mut conn, &c, &a_number).expect("look-up"), None);
    let a_now = participants::get(&mut conn, &c, a_id).expect("erased participant reads");
    assert!(a_now.profile.identity.id_number.is_none() && a_now.profile.phone.is_none());
    // No ID number is left for the purged sitting but B's, whose later sitting keeps it.
    use baoming_store::schema::{participants as p, registrations as r};
    let holders: Vec<String> = r::table
        .inner_join(p::table)
        .filter(r::period_id.eq(old.period.id.to_string()))
        .filter(p::id_number_enc.is_not_null())
        .select(p::id)
        .load(&mut *conn)
        .expect("holders");
    assert_eq!(holders, vec![b_id.to_string()]);
    assert!(raw_identity(&test, d_id).1.is_some());
    // The ledger and the event log are intact; the registrations keep their state.
    assert_eq!(ledger(&test), ledger_before);
    assert_eq!(old.history(a), history_before);
    assert_eq!(old.state(a), State::Completed);
    // Photos: C's gone, A's gone with A, the fresh one kept, originals marked.
    use baoming_store::schema::photos as ph;
    let left: Vec<(String, Option<chrono::NaiveDateTime>)> = ph::table
        .order(ph::id)
        .select((ph::id, ph::original_deleted_at))
        .load(&mut *conn)
        .expect("photos");
    assert!(!left.iter().any(|(id, _)| *id == c_photo.to_string()));
    assert_eq!(left.len(), 4, "B's two, D's two: {left:?}");
    let fresh = left.iter().find(|(id, _)| *id == fresh_photo.to_string()).expect("fresh kept");
    assert!(fresh.1.is_none());
    assert_eq!(left.iter().filter(|(_, deleted)| deleted.is_some()).count(), 2, "B old, D");
    // Sessions: only the live one is left.
    use baoming_store::schema::sessions as s;
    let sessions_left: i64 = s::table.count().get_result(&mut *conn).expect("count");
    assert_eq!(sessions_left, 1);
    drop(conn);

    // Audited: a count per kind, one entry per erased participant, no personal data.
    let mut actions = audit_actions(&test);
    actions.sort_by(|x, y| x.0.cmp(&y.0));
    let names: Vec<&str> = actions.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        names,
        [
            "erase_personal_data",
            "erase_personal_data",
            "retention_originals",
            "retention_sessions",
            "retention_unused_photos"
        ]
    );
    let count = |action: &str| {
        actions
            .iter()
            .find(|(a, _)| a == action)
            .and_then(|(_, s)| s.as_ref())
            .map(|s| s["count"].clone())
    };
    assert_eq!(count("retention_sessions"), Some(serde_json::json!(2)));
    assert_eq!(count("retention_unused_photos"), Some(serde_json::json!(1)));
    assert_eq!(count("retention_originals"), Some(serde_json::json!(3)));
    for (_, summary) in actions.iter().filter(|(a, _)| a == "erase_personal_data") {
        let text = summary.as_ref().expect("summary").to_string();
        assert!(text.contains("\"retention\"") && !text.contains("王五"), "{text}");
    }

    // Nothing is left to purge.
    let mut conn = test.db.conn().expect("conn");
    assert_eq!(privacy::dry_run(&mut conn, &policy, run_at).expect("dry"), Report::default());
    let again = privacy::run(&mut conn, &policy, run_at, None).expect("second run");
    assert_eq!(again.report, Report::default());
    assert!(again.files.is_empty());
}

fn account_deletion_is_refused_while_live_and_erases_when_not(test: TestDb) {
    let f = fixture(&test, now());
    let c = cipher();
    let submitted = f.submitted(1, "01");
    let me = f.owner(submitted);
    let paid = f.in_state(2, "01", State::Paid);
    let paid_owner = f.owner(paid);
    let mut conn = test.db.conn().expect("conn");
    let session = sessions::issue(&mut conn, Owner::Participant(me), Duration::days(30), now())
        .expect("session");

    let refused = privacy::delete_account(&mut conn, me, Some("req"), now());
    assert!(matches!(refused, Err(DeleteAccountError::Live(DeletionBlocker::AwaitingReview))));
    let refused = privacy::delete_account(&mut conn, paid_owner, None, f.after_deadline());
    assert!(matches!(refused, Err(DeleteAccountError::Live(DeletionBlocker::SittingAhead))));
    // Nothing changed.
    assert!(raw_identity(&test, me).1.is_some());
    assert!(sessions::find_active(&mut conn, &session.token, now()).expect("find").is_some());

    registrations::withdraw(&mut conn, submitted, false, &ctx(Who::Participant(me), now()))
        .expect("withdrawn");
    let erased = privacy::delete_account(&mut conn, me, Some("req"), now()).expect("deleted");
    assert_eq!(erased.sessions, vec![session.session.id]);
    assert_eq!(erased.photos, 1);
    assert!(sessions::find_active(&mut conn, &session.token, now()).expect("find").is_none());
    let (name, sealed, was_erased) = raw_identity(&test, me);
    assert_eq!(name.as_deref(), Some(ERASED_NAME));
    assert!(sealed.is_none() && was_erased);
    let number = fixture_profile(1, f.at).identity.id_number.expect("number");
    assert_eq!(participants::find_by_id_number(&mut conn, &c, &number).expect("look-up"), None);
    // The same WeChat user logging in again is a new, empty account.
    let again = participants::login(&mut conn, &c, "wx-1", None, now()).expect("login");
    assert_ne!(again.id, me);
    assert!(again.profile.identity.name.is_none());
    // The registration and its history stay, without the photo.
    assert_eq!(f.state(submitted), State::Withdrawn);
    assert_eq!(registrations::get(&mut conn, submitted).expect("kept").participant, me);

    // After the sitting, the paid participant may go.
    drop(conn);
    clock::sweep(&mut test.db.conn().expect("conn"), f.after_sitting(), None).expect("sweep");
    let mut conn = test.db.conn().expect("conn");
    privacy::delete_account(&mut conn, paid_owner, None, f.after_sitting()).expect("deleted");
    let audited = audit_actions(&test);
    assert_eq!(audited.len(), 2);
    assert!(
        audited
            .iter()
            .all(|(_, s)| { s.as_ref().is_some_and(|s| s["reason"] == "account_deletion") })
    );
}

fn the_export_holds_everything_stored(test: TestDb) {
    let f = fixture(&test, now());
    let c = cipher();
    let paid = f.in_state(5, "01", State::Paid);
    let me = f.owner(paid);
    let mut conn = test.db.conn().expect("conn");
    sessions::issue(&mut conn, Owner::Participant(me), Duration::days(30), now()).expect("session");
    let export = privacy::export(&mut conn, &c, me, now()).expect("export");
    let number = fixture_profile(5, f.at).identity.id_number.expect("number");
    assert_eq!(
        export.participant.profile.identity.id_number.as_ref().map(|n| n.expose()),
        Some(number.expose())
    );
    assert_eq!(export.erased_at, None);
    assert_eq!(export.registrations.len(), 1);
    let r = &export.registrations[0];
    assert_eq!(r.id, paid.to_string());
    assert_eq!(r.state, "paid");
    assert_eq!(r.subjects.len(), 2);
    assert!(r.events.len() >= 3, "{:?}", r.events);
    assert_eq!(r.payments.len(), 1);
    assert_eq!(r.payments[0].amount_fen, seed::TWO_SUBJECT_FEE_FEN);
    assert_eq!(export.photos.len(), 1);
    assert_eq!(r.photo_id.as_deref(), Some(export.photos[0].id.as_str()));
    assert_eq!((export.live_sessions, export.stored_sessions), (1, 1));
    // Someone else's export does not hold this registration.
    let (other, _) = f.participant(6);
    let theirs = privacy::export(&mut conn, &c, other, now()).expect("export");
    assert!(theirs.registrations.is_empty());
}
