//! Registrations: submission, the lifecycle, refusals, concurrency, the event log and the clock.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, Mutex};

use baoming_domain::Money;
use baoming_domain::ids::{PeriodId, RegistrationId};
use baoming_domain::lifecycle::{
    Actor, CheckInProof, Event, EventKind, PaymentMethod, Refusal, State, Unchanged,
};
use baoming_domain::period::PlanRegion;
use baoming_domain::period::SubjectChoice;
use baoming_store::participants::{self};
use baoming_store::payments::{ConfirmError, Recorded};
use baoming_store::periods::{self};
use baoming_store::registrations::{self, Applied, NewRegistration, SubmitError, Who};
use baoming_store::testing::{TestDb, cipher, later, now};
use baoming_store::{StoreError, seed};
use diesel::connection::InstrumentationEvent;
use diesel::prelude::*;

use super::*;

baoming_store::on_both_backends!(
    a_registration_walks_the_lifecycle,
    refusals_change_nothing,
    submissions_are_checked,
    one_thousand_concurrent_approvals_never_oversell,
    racing_transitions_have_one_winner,
    event_log_is_append_only,
    participants_only_see_their_own,
    the_clock_closes_and_releases,
    resubmission_edits_the_form,
    a_transition_answers_the_registration_as_stored,
    hot_updates_are_prepared_once_per_connection,
);

fn a_registration_walks_the_lifecycle(test: TestDb) {
    let w = World::new(&test);
    let id = w.submitted(1, "01");
    let me = w.owner(id);
    assert_eq!(w.state(id), State::PendingReview);

    let rejected = w.apply(
        id,
        Event::Reject { reason: reason("照片背景不是白色") },
        staff(Actor::Reviewer),
        now(),
    );
    assert_eq!(moved_to(rejected), State::Rejected);
    let r = registrations::get(&mut w.conn(), id).expect("registration");
    assert_eq!(r.rejection_reason.as_deref(), Some("照片背景不是白色"));

    assert_eq!(moved_to(w.apply(id, Event::Resubmit, me, later(1))), State::PendingReview);
    assert_eq!(
        moved_to(w.apply(id, Event::Approve, staff(Actor::Reviewer), later(2))),
        State::AwaitingPayment
    );
    assert_eq!(w.seats_taken("01"), 1);
    assert_eq!(
        moved_to(w.apply(id, Event::DeclareTransfer, me, later(3))),
        State::AwaitingTransfer
    );

    let fee = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN).expect("fee");
    let finance = staff(Actor::Finance);
    match w.confirm_transfer(&[id], fee, finance, later(4)) {
        Ok(recorded) => assert!(matches!(recorded[0].1, Recorded::Paid { .. })),
        other => panic!("expected a payment, got {other:?}"),
    }
    assert_eq!(w.state(id), State::Paid);
    // A second confirmation changes nothing.
    assert!(matches!(
        w.confirm_transfer(&[id], fee, finance, later(5)),
        Err(ConfirmError::AlreadyConfirmed(again)) if again == id
    ));
    assert_eq!(registrations::get(&mut w.conn(), id).expect("registration").version, 6);
    let checkin = Event::CheckIn { proof: CheckInProof::RotatingCode, venue: None };
    assert_eq!(moved_to(w.apply(id, checkin, me, later(CHECKIN_HOURS))), State::CheckedIn);
    assert_eq!(
        moved_to(w.apply(id, Event::SittingEnded, Who::Clock, later(AFTER_SITTING_HOURS))),
        State::Completed
    );
    assert_eq!(w.seats_taken("01"), 1, "a completed registration keeps its seat");

    let r = registrations::get(&mut w.conn(), id).expect("registration");
    assert_eq!(r.payment_method, Some(PaymentMethod::BankTransfer));
    assert_eq!(r.version, 8);
    assert_eq!(
        w.history(id),
        vec![
            (EventKind::Submit, None, State::PendingReview),
            (EventKind::Reject, Some(State::PendingReview), State::Rejected),
            (EventKind::Resubmit, Some(State::Rejected), State::PendingReview),
            (EventKind::Approve, Some(State::PendingReview), State::AwaitingPayment),
            (EventKind::DeclareTransfer, Some(State::AwaitingPayment), State::AwaitingTransfer),
            (EventKind::ConfirmPayment, Some(State::AwaitingTransfer), State::Paid),
            (EventKind::CheckIn, Some(State::Paid), State::CheckedIn),
            (EventKind::SittingEnded, Some(State::CheckedIn), State::Completed),
        ]
    );
    let log = registrations::history(&mut w.conn(), id).expect("history");
    assert_eq!(log[1].reason.as_deref(), Some("照片背景不是白色"));
    assert_eq!(log[1].actor, Actor::Reviewer);
    assert_eq!(log[0].request_id.as_deref(), Some("req-test"));
    assert_eq!(log.iter().map(|e| e.version).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
}

/// A transition answers the registration as it wrote it, without reading it back: the answer
/// must be what a later read finds — timestamps included, given to the nanosecond and stored
/// to the microsecond — for every kind of write (a rejection's reason, a payment's method, a
/// check-in's when, where and how).
fn a_transition_answers_the_registration_as_stored(test: TestDb) {
    let w = World::new(&test);
    let id = w.submitted(1, "01");
    let me = w.owner(id);
    let at = |hours| later(hours) + chrono::Duration::nanoseconds(123_456_789);
    let stored = || registrations::get(&mut w.conn(), id).expect("registration");
    let answered = |applied: Result<Applied, StoreError>| match applied {
        Ok(Applied::Moved { registration, .. }) => registration,
        other => panic!("expected a move, got {other:?}"),
    };
    let reject = Event::Reject { reason: reason("照片背景不是白色") };
    let r = answered(w.apply(id, reject, staff(Actor::Reviewer), at(0)));
    assert_eq!(r, stored());
    assert_eq!(r.updated_at, later(0) + chrono::Duration::microseconds(123_456));
    assert_eq!(answered(w.apply(id, Event::Resubmit, me, at(1))), stored());
    assert_eq!(answered(w.apply(id, Event::Approve, staff(Actor::Reviewer), at(2))), stored());
    assert_eq!(answered(w.apply(id, Event::DeclareTransfer, me, at(3))), stored());
    let fee = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN).expect("fee");
    match w.confirm_transfer(&[id], fee, staff(Actor::Finance), at(4)) {
        Ok(recorded) => match &recorded[0].1 {
            Recorded::Paid { registration, .. } => assert_eq!(**registration, stored()),
            other => panic!("expected a payment, got {other:?}"),
        },
        other => panic!("expected a payment, got {other:?}"),
    }
    let checkin = Event::CheckIn { proof: CheckInProof::RotatingCode, venue: None };
    let r = answered(w.apply(id, checkin, me, at(CHECKIN_HOURS)));
    assert_eq!(r, stored());
    assert!(r.checkin.is_some_and(|c| c.proof == CheckInProof::RotatingCode), "{r:?}");
}

/// The hot updates — a transition's status write and its claim, a seat taken and given back,
/// the identity lock of a first submission — are prepared once per connection and then reused:
/// Diesel's own `UPDATE` builder never keeps its statement in the connection's cache.
fn hot_updates_are_prepared_once_per_connection(test: TestDb) {
    let w = World::new(&test);
    let prepared = Arc::new(Mutex::new(Vec::<String>::new()));
    let run = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut conn = test.db.dedicated().expect("connection");
    let (p, r) = (Arc::clone(&prepared), Arc::clone(&run));
    let watch = move |event: InstrumentationEvent<'_>| match event {
        InstrumentationEvent::CacheQuery { sql, .. } => p.lock().unwrap().push(sql.to_owned()),
        InstrumentationEvent::StartQuery { query, .. } => r.lock().unwrap().push(query.to_string()),
        _ => {}
    };
    conn.set_instrumentation(watch);
    for n in 1..=3 {
        let (participant, photo) = w.participant(n);
        let me = Who::Participant(participant);
        let form = w.form(participant, photo, "01");
        let id =
            registrations::submit(&mut conn, &cipher(), &form, &ctx(me, now())).expect("submit").id;
        let approve = ctx(staff(Actor::Reviewer), later(1));
        assert_eq!(
            moved_to(registrations::apply(&mut conn, id, &Event::Approve, &approve)),
            State::AwaitingPayment
        );
        let withdrawn = registrations::withdraw(&mut conn, id, false, &ctx(me, later(2)));
        assert_eq!(moved_to(withdrawn), State::Withdrawn);
    }
    assert_eq!(w.seats_taken("01"), 0);
    let (prepared, run) = (prepared.lock().unwrap(), run.lock().unwrap());
    for statement in [
        "UPDATE registrations SET checked_in_at = ",
        "UPDATE registrations SET version = ",
        "UPDATE regions SET seats_taken = seats_taken + 1 ",
        "UPDATE regions SET seats_taken = seats_taken - 1 ",
        "UPDATE participants SET profile_locked = TRUE",
    ] {
        let times = |list: &[String]| list.iter().filter(|sql| sql.starts_with(statement)).count();
        assert_eq!(times(&prepared), 1, "{statement}… prepared {} times", times(&prepared));
        assert!(times(&run) >= 3, "{statement}… run {} times", times(&run));
    }
}

fn refusals_change_nothing(test: TestDb) {
    let w = World::new(&test);
    let id = w.submitted(1, "01");
    let before = registrations::get(&mut w.conn(), id).expect("registration");
    let me = w.owner(id);

    // Wrong actor, wrong state, wrong amount: each refused with state and event named.
    assert_eq!(refusal(w.apply(id, Event::Approve, me, now())), Refusal::WrongActor);
    assert_eq!(refusal(w.apply(id, Event::DeclareTransfer, me, now())), Refusal::NotInTable);
    match w.apply(id, Event::RefundSucceeded, Who::PaymentProvider, now()) {
        Err(StoreError::Transition(e)) => {
            assert_eq!(
                (e.state, e.event),
                (Some(State::PendingReview), EventKind::RefundSucceeded)
            );
            assert!(
                e.to_string().contains("pending_review")
                    && e.to_string().contains("refund_succeeded")
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    w.apply(id, Event::Approve, staff(Actor::Reviewer), now()).expect("approved");
    // Payments never bypass the ledger.
    let direct = Event::ConfirmPayment {
        amount: Money::from_fen(seed::TWO_SUBJECT_FEE_FEN).expect("amount"),
        via: PaymentMethod::WechatPay,
    };
    assert!(matches!(w.apply(id, direct, Who::PaymentProvider, now()), Err(StoreError::Misuse(_))));
    let after = registrations::get(&mut w.conn(), id).expect("registration");
    assert_eq!(after.status.state, State::AwaitingPayment);
    assert_eq!(after.version, before.version + 1, "only the approval was written");
    assert_eq!(w.history(id).len(), 2);
    assert_eq!(w.seats_taken("01"), 1);
}

fn submissions_are_checked(test: TestDb) {
    let w = World::new(&test);
    let c = cipher();
    let (participant, photo) = w.participant(1);
    let me = Who::Participant(participant);
    let submit =
        |form: &NewRegistration, at| registrations::submit(&mut w.conn(), &c, form, &ctx(me, at));
    let refused = |result: Result<_, SubmitError>| match result {
        Err(SubmitError::Refused(e)) => e.refusal,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let good = w.form(participant, photo, "01");

    assert_eq!(refused(submit(&good, later(-48))), Refusal::RegistrationClosed);
    assert_eq!(
        refused(submit(&NewRegistration { photo: None, ..good.clone() }, now())),
        Refusal::PhotoMissing
    );
    let (other, other_photo) = w.participant(2);
    let foreign_photo = NewRegistration { photo: Some(other_photo), ..good.clone() };
    assert_eq!(
        refused(submit(&foreign_photo, now())),
        Refusal::PhotoMissing,
        "someone else's photo"
    );
    let one_subject = NewRegistration { subjects: good.subjects[..1].to_vec(), ..good.clone() };
    assert!(matches!(submit(&one_subject, now()), Err(SubmitError::InvalidChoice(_))));
    let other_period: PeriodId = baoming_store::new_id();
    assert!(matches!(
        submit(&NewRegistration { period: other_period, ..good.clone() }, now()),
        Err(SubmitError::Store(StoreError::NotFound { entity: "period" }))
    ));
    assert!(matches!(
        submit(&NewRegistration { participant: other, ..good.clone() }, now()),
        Err(SubmitError::Refused(_))
    ));

    let first = submit(&good, now()).expect("first submission");
    assert_eq!(refused(submit(&good, now())), Refusal::DuplicateRegistration);
    // Once withdrawn, the period is free again.
    moved_to(w.apply(first.id, Event::Withdraw, me, later(1)));
    let second = submit(&good, later(2)).expect("a new registration after withdrawing");
    assert_eq!(second.fee.fen(), seed::TWO_SUBJECT_FEE_FEN);
    assert_eq!(second.subjects[0].name, "建设工程目标控制");

    // An incomplete profile.
    let mut conn = w.conn();
    let bare = participants::login(&mut conn, &c, "openid-bare", None, now()).expect("login");
    let form = NewRegistration { participant: bare.id, photo: None, ..good };
    let result =
        registrations::submit(&mut conn, &c, &form, &ctx(Who::Participant(bare.id), now()));
    assert_eq!(refused(result), Refusal::ProfileIncomplete);
}

fn one_thousand_concurrent_approvals_never_oversell(test: TestDb) {
    const ATTEMPTS: u32 = 1_000;
    const CAPACITY: u32 = 100;
    let mut w = World::new(&test);
    let mut conn = w.conn();
    let mut small = seed::demo_period(now());
    small.name = "名额测试".into();
    small.regions =
        vec![PlanRegion {
            id: None, code: "09".into(), name: "小考场".into(), capacity: CAPACITY
        }];
    let period = periods::create(&mut conn, &small, now()).expect("period");
    drop(conn);
    w.f.period = period;
    let ids: Vec<RegistrationId> = (0..ATTEMPTS).map(|n| w.submitted(n, "09")).collect();

    let start = Arc::new(Barrier::new(ids.len()));
    let handles: Vec<_> = ids
        .iter()
        .map(|&id| {
            let db = w.db.clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                start.wait();
                let mut conn = db.conn().expect("pooled connection");
                registrations::apply(
                    &mut conn,
                    id,
                    &Event::Approve,
                    &ctx(staff(Actor::Reviewer), now()),
                )
            })
        })
        .collect();
    let (mut approved, mut full) = (0, 0);
    for handle in handles {
        match handle.join().expect("thread") {
            Ok(Applied::Moved { .. }) => approved += 1,
            Err(StoreError::Transition(e)) if e.refusal == Refusal::Full => full += 1,
            other => panic!("unexpected outcome {other:?}"),
        }
    }
    assert_eq!((approved, full), (CAPACITY, ATTEMPTS - CAPACITY));
    assert_eq!(w.seats_taken("09"), CAPACITY);
    let awaiting = ids.iter().filter(|&&id| w.state(id) == State::AwaitingPayment).count();
    assert_eq!(awaiting, CAPACITY as usize);
    let approvals: i64 = {
        use baoming_store::schema::registration_events as e;
        e::table.filter(e::event.eq("approve")).count().get_result(&mut *w.conn()).expect("count")
    };
    assert_eq!(approvals, i64::from(CAPACITY));
}

fn racing_transitions_have_one_winner(test: TestDb) {
    let w = World::new(&test);
    for round in 0..10 {
        let id = w.submitted(round, "01");
        let start = Arc::new(Barrier::new(2));
        let race = |event: Event, who: Who| {
            let db = w.db.clone();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let mut conn = db.conn().expect("pooled connection");
                start.wait();
                registrations::apply(&mut conn, id, &event, &ctx(who, now()))
            })
        };
        // Two reviewers at once: one approves, one rejects; either order excludes the other.
        let approve = race(Event::Approve, staff(Actor::Reviewer));
        let reject = race(Event::Reject { reason: reason("资料不全") }, staff(Actor::Reviewer));
        let results = [approve.join().expect("thread"), reject.join().expect("thread")];
        let winners: Vec<State> = results
            .iter()
            .filter_map(|r| match r {
                Ok(Applied::Moved { registration, .. }) => Some(registration.status.state),
                _ => None,
            })
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let winner = winners[0];
        let loser = results.iter().find(|r| r.is_err()).expect("one loser");
        match loser {
            // Read before the winner committed: the version check caught it.
            Err(StoreError::Conflict { current }) => assert_eq!(*current, winner),
            // Read after: the state machine refused the event in the new state.
            Err(StoreError::Transition(e)) => assert_eq!(e.state, Some(winner)),
            other => panic!("round {round}: unexpected loser {other:?}"),
        }
        assert_eq!(w.state(id), winner);
        assert_eq!(w.history(id).len(), 2, "submit + the winner only");
    }
    // Seats match the approvals that won.
    let approved: i64 = {
        use baoming_store::schema::registrations as r;
        r::table
            .filter(r::state.eq("awaiting_payment"))
            .count()
            .get_result(&mut *w.conn())
            .expect("count")
    };
    assert_eq!(i64::from(w.seats_taken("01")), approved);
}

fn event_log_is_append_only(test: TestDb) {
    let w = World::new(&test);
    let id = w.submitted(1, "01");
    use baoming_store::schema::registration_events as e;
    let mut conn = w.conn();
    let update = diesel::update(e::table.filter(e::registration_id.eq(id.to_string())))
        .set(e::reason.eq("rewritten"))
        .execute(&mut *conn);
    assert!(update.is_err(), "the log was rewritten");
    let delete = diesel::delete(e::table).execute(&mut *conn);
    assert!(delete.is_err(), "the log was deleted");
    assert_eq!(w.history(id).len(), 1);
}

fn participants_only_see_their_own(test: TestDb) {
    let w = World::new(&test);
    let mine = w.submitted(1, "01");
    let theirs = w.submitted(2, "01");
    let me = w.owner(mine);
    let Who::Participant(my_id) = me else { unreachable!("owner is a participant") };
    let mut conn = w.conn();
    assert!(registrations::get_for_participant(&mut conn, mine, my_id).is_ok());
    assert!(matches!(
        registrations::get_for_participant(&mut conn, theirs, my_id),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        w.apply(theirs, Event::Withdraw, me, now()),
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(w.state(theirs), State::PendingReview);
    let listed: Vec<RegistrationId> = registrations::list_for_participant(&mut conn, my_id)
        .expect("list")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec![mine]);
}

fn the_clock_closes_and_releases(test: TestDb) {
    let w = World::new(&test);
    let unpaid = w.submitted(1, "02");
    let transfer = w.submitted(2, "02");
    let unreviewed = w.submitted(3, "02");
    for id in [unpaid, transfer] {
        w.apply(id, Event::Approve, staff(Actor::Reviewer), now()).expect("approved");
    }
    w.apply(transfer, Event::DeclareTransfer, w.owner(transfer), now()).expect("declared");
    assert_eq!(w.seats_taken("02"), 2);

    let early = w.apply(unpaid, Event::PaymentDeadlinePassed, Who::Clock, now());
    assert_eq!(refusal(early), Refusal::DeadlineNotReached);
    let deadline = later(17 * 24);
    assert_eq!(
        moved_to(w.apply(unpaid, Event::PaymentDeadlinePassed, Who::Clock, deadline)),
        State::Closed
    );
    assert_eq!(
        moved_to(w.apply(transfer, Event::PaymentDeadlinePassed, Who::Clock, deadline)),
        State::AwaitingTransfer
    );
    assert!(matches!(
        w.apply(transfer, Event::PaymentDeadlinePassed, Who::Clock, deadline),
        Ok(Applied::Unchanged { why: Unchanged::AlreadyFlagged, .. })
    ));
    assert_eq!(w.seats_taken("02"), 1);
    let end = later(AFTER_SITTING_HOURS);
    assert_eq!(moved_to(w.apply(transfer, Event::SittingEnded, Who::Clock, end)), State::Closed);
    assert_eq!(moved_to(w.apply(unreviewed, Event::SittingEnded, Who::Clock, end)), State::Closed);
    assert_eq!(w.seats_taken("02"), 0);
    let live: BTreeSet<State> =
        [unpaid, transfer, unreviewed].iter().map(|&id| w.state(id)).collect();
    assert_eq!(live, BTreeSet::from([State::Closed]));
}

fn resubmission_edits_the_form(test: TestDb) {
    let w = World::new(&test);
    let id = w.submitted(1, "01");
    let me = w.owner(id);
    let Who::Participant(participant) = me else { unreachable!("owner is a participant") };
    let photo = registrations::get(&mut w.conn(), id).expect("registration").photo.expect("photo");
    let mut form = w.form(participant, photo, "02");
    form.exam_type = w.period.exam_type("full").expect("exam type");
    form.subjects = ["theory", "contract", "control", "case"]
        .iter()
        .map(|code| SubjectChoice {
            code: (*code).into(),
            specialty: ["control", "case"].contains(code).then(|| "水利".to_owned()),
        })
        .collect();
    let resubmit = |form: &NewRegistration| {
        registrations::resubmit(&mut w.conn(), id, form, &ctx(me, later(1)))
    };
    // Not rejected yet: refused by the state machine, nothing written.
    assert!(
        matches!(resubmit(&form), Err(SubmitError::Refused(e)) if e.refusal == Refusal::NotInTable)
    );
    let reject = Event::Reject { reason: reason("请改报全科") };
    w.apply(id, reject, staff(Actor::Reviewer), now()).expect("rejected");
    // An invalid edit rolls the transition back too.
    let bad = NewRegistration { subjects: form.subjects[..3].to_vec(), ..form.clone() };
    assert!(matches!(resubmit(&bad), Err(SubmitError::InvalidChoice(_))));
    assert_eq!(w.state(id), State::Rejected);

    let applied = resubmit(&form).expect("resubmitted");
    let r = applied.registration();
    assert_eq!(r.status.state, State::PendingReview);
    assert_eq!(r.region, w.period.region("02").expect("region"));
    assert_eq!(r.fee.fen(), seed::FULL_FEE_FEN);
    assert_eq!(r.subjects.len(), 4);
    assert_eq!(r.rejection_reason, None);
    // Someone else's registration is not found.
    let other = w.submitted(2, "01");
    let result = registrations::resubmit(&mut w.conn(), other, &form, &ctx(me, later(2)));
    assert!(matches!(result, Err(SubmitError::Store(StoreError::NotFound { .. }))));
}
