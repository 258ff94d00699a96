//! The data layer against real databases: every test runs on SQLite and on PostgreSQL.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use baoming_domain::identity::mod11_2_check_char;
use baoming_domain::ids::{ParticipantId, PeriodId, RegistrationId, StaffId};
use baoming_domain::lifecycle::{
    Actor, CheckInProof, Event, EventKind, PaymentMethod, Reason, Refusal, State, Unchanged,
};
use baoming_domain::period::PlanRegion;
use baoming_domain::period::SubjectChoice;
use baoming_domain::profile::{Identity, Profile, ProfileError};
use baoming_domain::{Gender, IdKind, IdNumber, MobilePhone, Money, PersonName};
use baoming_invoicing::{InvoiceSnapshot, InvoiceTitle, InvoiceTitleInput};
use baoming_store::participants::{self, SaveProfileError};
use baoming_store::payments::{
    self, ConfirmError, Disposition, IncomingPayment, PaymentFilter, Recorded, RefundState,
    TransferConfirmation,
};
use baoming_store::periods::{self, CreatedPeriod};
use baoming_store::photos::{self, NewPhoto};
use baoming_store::registrations::{self, Applied, Ctx, NewRegistration, SubmitError, Who};
use baoming_store::testing::{TestDb, cipher, later, now};
use baoming_store::{Db, PoolOptions, StoreError, jobs, seed, write_tx};
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;

baoming_store::on_both_backends!(
    a_registration_walks_the_lifecycle,
    refusals_change_nothing,
    submissions_are_checked,
    identity_locks_with_the_first_submission,
    id_numbers_are_encrypted_at_rest,
    one_thousand_concurrent_approvals_never_oversell,
    racing_transitions_have_one_winner,
    event_log_is_append_only,
    participants_only_see_their_own,
    refunds_schedule_exactly_one_job,
    write_transactions_roll_back,
    the_clock_closes_and_releases,
    resubmission_edits_the_form,
    invoice_titles_belong_to_their_owner_and_snapshots_stay,
    a_wechat_payment_is_recorded_once,
    concurrent_notifications_pay_once,
    wechat_and_transfer_racing_pay_once_and_give_the_other_back,
    money_a_registration_cannot_take_is_recorded_and_given_back,
    transfer_batches_are_all_or_nothing,
    a_registration_has_one_order,
    a_transfer_refund_is_returned_by_finance,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

fn today() -> NaiveDate {
    now().date_naive()
}

/// A valid resident ID number, distinct for each `n` (sequence and birth day vary).
fn resident_id(n: u32, female: bool) -> IdNumber {
    let day = 1 + n % 28;
    let seq = (n / 28) % 500 * 2 + u32::from(!female);
    let first17 = format!("110105198{}01{day:02}{seq:03}", n % 10);
    let check = mod11_2_check_char(&first17).expect("17 digits");
    IdNumber::parse(IdKind::ResidentId, &format!("{first17}{check}"), today())
        .expect("valid generated ID")
}

fn profile(n: u32) -> Profile {
    let female = n.is_multiple_of(2);
    Profile {
        identity: Identity {
            name: Some(PersonName::parse("张三丰").expect("name")),
            gender: Some(if female { Gender::Female } else { Gender::Male }),
            id_number: Some(resident_id(n, female)),
        },
        phone: Some(MobilePhone::parse("13800138000").expect("phone")),
        employer: Some("福建某监理有限公司".into()),
        education: Some("本科".into()),
        job_title: None,
    }
}

fn company_title() -> InvoiceTitle {
    let input: InvoiceTitleInput = serde_json::from_value(serde_json::json!({
        "kind": "company",
        "name": "福建某监理有限公司",
        "tax_id": "91350100M000100Y43",
        "email": "finance@example.com"
    }))
    .expect("input");
    InvoiceTitle::parse(&input).expect("valid title").0
}

struct World {
    db: Db,
    period: CreatedPeriod,
}

impl World {
    fn new(test: &TestDb) -> Self {
        let mut conn = test.db.conn().expect("connection");
        let period = periods::create(&mut conn, &seed::demo_period(now()), now()).expect("period");
        World { db: test.db.clone(), period }
    }

    fn conn(&self) -> baoming_store::Conn {
        self.db.conn().expect("connection")
    }

    /// A participant with a complete profile and a photo.
    fn participant(&self, n: u32) -> (ParticipantId, baoming_domain::ids::PhotoId) {
        let mut conn = self.conn();
        let c = cipher();
        let p =
            participants::login(&mut conn, &c, &format!("openid-{n}"), None, now()).expect("login");
        participants::save_profile(&mut conn, &c, p.id, &profile(n), now()).expect("profile");
        let photo = photos::insert(
            &mut conn,
            &NewPhoto {
                id: baoming_store::new_id(),
                participant: p.id,
                original_key: format!("photos/{n}/original.jpg"),
                normalized_key: format!("photos/{n}/normalized.jpg"),
                original_bytes: 2_400_000,
                width: 3000,
                height: 4000,
            },
            now(),
        )
        .expect("photo");
        (p.id, photo)
    }

    fn form(
        &self,
        participant: ParticipantId,
        photo: baoming_domain::ids::PhotoId,
        region: &str,
    ) -> NewRegistration {
        NewRegistration {
            participant,
            period: self.period.id,
            region: self.period.region(region).expect("region"),
            exam_type: self.period.exam_type("exempt_basic").expect("exam type"),
            subjects: vec![
                SubjectChoice { code: "control".into(), specialty: Some("土木建筑".into()) },
                SubjectChoice { code: "case".into(), specialty: Some("土木建筑".into()) },
            ],
            invoice_snapshot: Some(InvoiceSnapshot::from(&company_title())),
            joint_invoice_remark: None,
            photo: Some(photo),
        }
    }

    /// A submitted registration of participant `n`.
    fn submitted(&self, n: u32, region: &str) -> RegistrationId {
        let (participant, photo) = self.participant(n);
        let form = self.form(participant, photo, region);
        registrations::submit(
            &mut self.conn(),
            &cipher(),
            &form,
            &ctx(Who::Participant(participant), now()),
        )
        .expect("submitted")
        .id
    }

    fn apply(
        &self,
        id: RegistrationId,
        event: Event,
        who: Who,
        at: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        registrations::apply(&mut self.conn(), id, &event, &ctx(who, at))
    }

    /// WeChat reports order `out_trade_no` of registration `id` paid.
    fn wechat_paid(
        &self,
        id: RegistrationId,
        out_trade_no: &str,
        amount: Money,
        at: DateTime<Utc>,
    ) -> Recorded {
        let incoming = IncomingPayment {
            registration: id,
            method: PaymentMethod::WechatPay,
            out_trade_no: Some(out_trade_no.into()),
            transaction_id: Some(format!("4200{out_trade_no}")),
            amount,
            received_at: at,
            notification: Some((format!("notify-{out_trade_no}"), "TRANSACTION.SUCCESS".into())),
            transfer_batch: None,
            note: None,
        };
        payments::record_payment(&mut self.conn(), &incoming, &ctx(Who::PaymentProvider, at))
            .expect("recorded")
    }

    fn confirm_transfer(
        &self,
        ids: &[RegistrationId],
        amount: Money,
        finance: Who,
        at: DateTime<Utc>,
    ) -> Result<Vec<(RegistrationId, Recorded)>, ConfirmError> {
        let confirmation = TransferConfirmation {
            registrations: ids.to_vec(),
            amount,
            bank_reference: Some("BANK-0001".into()),
            note: None,
        };
        let actor = baoming_store::audit::Actor::default();
        payments::confirm_transfer(&mut self.conn(), &confirmation, &ctx(finance, at), &actor)
    }

    fn owner(&self, id: RegistrationId) -> Who {
        Who::Participant(
            registrations::get(&mut self.conn(), id).expect("registration").participant,
        )
    }

    fn state(&self, id: RegistrationId) -> State {
        registrations::get(&mut self.conn(), id).expect("registration").status.state
    }

    fn seats_taken(&self, region: &str) -> u32 {
        periods::region(&mut self.conn(), self.period.region(region).expect("region"))
            .expect("region")
            .seats_taken
    }

    fn history(&self, id: RegistrationId) -> Vec<(EventKind, Option<State>, State)> {
        registrations::history(&mut self.conn(), id)
            .expect("history")
            .into_iter()
            .map(|e| (e.event, e.from, e.to.state))
            .collect()
    }
}

fn ctx(who: Who, now: DateTime<Utc>) -> Ctx {
    Ctx { who, now, request_id: Some("req-test".into()) }
}

fn staff(role: Actor) -> Who {
    Who::Staff { id: baoming_store::new_id::<StaffId>(), role }
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).expect("reason")
}

fn moved_to(applied: Result<Applied, StoreError>) -> State {
    match applied {
        Ok(Applied::Moved { registration, .. }) => registration.status.state,
        other => panic!("expected a move, got {other:?}"),
    }
}

fn refusal(result: Result<Applied, StoreError>) -> Refusal {
    match result {
        Err(StoreError::Transition(e)) => e.refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

const CHECKIN_HOURS: i64 = 30 * 24 - 1;
const AFTER_SITTING_HOURS: i64 = 32 * 24;

// ---------------------------------------------------------------------------------------------
// Tests

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
    let checkin = Event::CheckIn { proof: CheckInProof::VenueCode };
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

fn identity_locks_with_the_first_submission(test: TestDb) {
    let w = World::new(&test);
    let c = cipher();
    let id = w.submitted(1, "01");
    let participant = registrations::get(&mut w.conn(), id).expect("registration").participant;
    let mut conn = w.conn();
    let p = participants::get(&mut conn, &c, participant).expect("participant");
    assert!(p.locked);

    let mut renamed = profile(1);
    renamed.identity.name = Some(PersonName::parse("张三").expect("name"));
    assert!(matches!(
        participants::save_profile(&mut conn, &c, participant, &renamed, later(1)),
        Err(SaveProfileError::Refused(ProfileError::IdentityLocked))
    ));
    let mut moved_job = profile(1);
    moved_job.employer = Some("另一家监理公司".into());
    let saved = participants::save_profile(&mut conn, &c, participant, &moved_job, later(1))
        .expect("saved");
    assert_eq!(saved.profile.employer.as_deref(), Some("另一家监理公司"));
    assert_eq!(saved.profile.identity, profile(1).identity);
}

fn id_numbers_are_encrypted_at_rest(test: TestDb) {
    let w = World::new(&test);
    let c = cipher();
    let (participant, _) = w.participant(7);
    let number = resident_id(7, false);
    let mut conn = w.conn();

    use baoming_store::schema::participants as p;
    let (sealed, index): (Option<Vec<u8>>, Option<String>) = p::table
        .find(participant.to_string())
        .select((p::id_number_enc, p::id_number_index))
        .first(&mut *conn)
        .expect("raw row");
    let sealed = sealed.expect("stored");
    let plain = number.expose().as_bytes();
    assert!(!sealed.windows(plain.len()).any(|w| w == plain), "the plain number is in the column");
    let index = index.expect("blind index");
    assert!(!index.contains(number.expose()));
    assert_eq!(index.len(), 64);

    let loaded = participants::get(&mut conn, &c, participant).expect("participant");
    assert_eq!(
        loaded.profile.identity.id_number.as_ref().map(IdNumber::expose),
        Some(number.expose())
    );
    assert_eq!(
        participants::find_by_id_number(&mut conn, &c, &number).expect("look-up"),
        Some(participant)
    );

    // Another participant cannot take the same number.
    let other = participants::login(&mut conn, &c, "openid-other", None, now()).expect("login");
    assert!(matches!(
        participants::save_profile(&mut conn, &c, other.id, &profile(7), now()),
        Err(SaveProfileError::IdNumberTaken)
    ));
}

fn one_thousand_concurrent_approvals_never_oversell(test: TestDb) {
    const ATTEMPTS: u32 = 1_000;
    const CAPACITY: u32 = 100;
    let w = World::new(&test);
    let mut conn = w.conn();
    let mut small = seed::demo_period(now());
    small.name = "名额测试".into();
    small.regions =
        vec![PlanRegion {
            id: None, code: "09".into(), name: "小考场".into(), capacity: CAPACITY
        }];
    let period = periods::create(&mut conn, &small, now()).expect("period");
    drop(conn);
    let w = World { db: w.db.clone(), period };
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

fn refunds_schedule_exactly_one_job(test: TestDb) {
    let w = World::new(&test);
    let id = w.submitted(1, "01");
    let me = w.owner(id);
    w.apply(id, Event::Approve, staff(Actor::Reviewer), now()).expect("approved");
    let fee = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN).expect("fee");
    assert!(matches!(w.wechat_paid(id, "wx-1", fee, now()), Recorded::Paid { .. }));
    w.apply(id, Event::RequestRefund { reason: reason("工作冲突无法参加") }, me, later(1))
        .expect("requested");
    assert_eq!(moved_to(w.apply(id, Event::CancelRefundRequest, me, later(2))), State::Paid);
    w.apply(id, Event::RequestRefund { reason: reason("工作冲突无法参加") }, me, later(3))
        .expect("requested");
    assert_eq!(refund_jobs(&w), 0);
    // Approval and payment each told the participant.
    let notices: Vec<_> = jobs::pending(&mut w.conn())
        .expect("jobs")
        .into_iter()
        .filter_map(|j| match j.job {
            jobs::Job::Notify { notice, .. } => Some(notice),
            _ => None,
        })
        .collect();
    assert_eq!(notices, [jobs::Notice::Approved, jobs::Notice::Paid]);
    assert_eq!(
        moved_to(w.apply(id, Event::ApproveRefund, staff(Actor::Finance), later(4))),
        State::Refunding
    );
    let pending: Vec<_> = jobs::pending(&mut w.conn())
        .expect("jobs")
        .into_iter()
        .filter(|j| matches!(j.job, jobs::Job::Refund { .. }))
        .collect();
    assert_eq!(pending.len(), 1);
    let ledger =
        payments::list_payments(&mut w.conn(), &PaymentFilter::default(), 10).expect("ledger");
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].disposition, Disposition::Applied);
    assert_eq!(ledger[0].refund_state, Some(RefundState::Pending));

    let failed = Event::RefundFailed { reason: reason("ABNORMAL: 银行卡已注销") };
    w.apply(id, failed, Who::PaymentProvider, later(5)).expect("flagged");
    let r = registrations::get(&mut w.conn(), id).expect("registration");
    assert_eq!(r.status.flag, Some(baoming_domain::lifecycle::Flag::RefundFailed));
    assert_eq!(
        moved_to(w.apply(id, Event::RefundSucceeded, staff(Actor::Finance), later(6))),
        State::Refunded
    );
    assert_eq!(w.seats_taken("01"), 0, "a refund releases the seat");
    let refund_jobs = jobs::pending(&mut w.conn())
        .expect("jobs")
        .into_iter()
        .filter(|j| matches!(j.job, jobs::Job::Refund { .. }))
        .count();
    assert_eq!(refund_jobs, 1);
}

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

fn invoice_titles_belong_to_their_owner_and_snapshots_stay(test: TestDb) {
    use baoming_store::invoice_titles;
    let w = World::new(&test);
    let (me, photo) = w.participant(1);
    let (other, _) = w.participant(2);
    let mut conn = w.conn();
    let saved = invoice_titles::create(&mut conn, me, &company_title(), now()).expect("saved");
    assert_eq!(saved.title.name(), "福建某监理有限公司");
    assert!(matches!(
        invoice_titles::get(&mut conn, other, saved.id),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        invoice_titles::delete(&mut conn, other, saved.id),
        Err(StoreError::NotFound { .. })
    ));
    let mut form = w.form(me, photo, "01");
    form.invoice_snapshot = Some(InvoiceSnapshot::from(&saved.title));
    let registration =
        registrations::submit(&mut conn, &cipher(), &form, &ctx(Who::Participant(me), now()))
            .expect("submitted");
    invoice_titles::delete(&mut conn, me, saved.id).expect("deleted");
    assert!(invoice_titles::list(&mut conn, me).expect("list").is_empty());
    let stored = registrations::get(&mut conn, registration.id).expect("registration");
    let snapshot = stored.invoice_snapshot.expect("snapshot kept");
    assert_eq!(snapshot.tax_id.as_deref(), Some("91350100M000100Y43"));
}

// ---------------------------------------------------------------------------------------------
// Backend-independent checks

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

// ---------------------------------------------------------------------------------------------
// Payments

fn two_subject_fee() -> Money {
    Money::from_fen(seed::TWO_SUBJECT_FEE_FEN).expect("fee")
}

/// A submitted and approved registration of participant `n`.
fn approved(w: &World, n: u32) -> RegistrationId {
    let id = w.submitted(n, "01");
    w.apply(id, Event::Approve, staff(Actor::Reviewer), now()).expect("approved");
    id
}

fn event_count(w: &World, id: RegistrationId, kind: EventKind) -> usize {
    w.history(id).iter().filter(|(k, _, _)| *k == kind).count()
}

fn refund_jobs(w: &World) -> usize {
    jobs::pending(&mut w.conn())
        .expect("jobs")
        .iter()
        .filter(|j| matches!(j.job, jobs::Job::Refund { .. }))
        .count()
}

fn a_wechat_payment_is_recorded_once(test: TestDb) {
    let w = World::new(&test);
    let id = approved(&w, 1);
    let first = w.wechat_paid(id, "order-1", two_subject_fee(), later(1));
    let Recorded::Paid { payment, registration } = first else {
        panic!("expected a payment, got {first:?}")
    };
    assert_eq!(registration.status.state, State::Paid);
    assert_eq!(registration.payment_method, Some(PaymentMethod::WechatPay));
    for _ in 0..9 {
        assert_eq!(
            w.wechat_paid(id, "order-1", two_subject_fee(), later(2)),
            Recorded::Duplicate { payment }
        );
    }
    assert_eq!(event_count(&w, id, EventKind::ConfirmPayment), 1);
    let ledger =
        payments::list_payments(&mut w.conn(), &PaymentFilter::default(), 10).expect("ledger");
    assert_eq!(ledger.len(), 1);
    assert_eq!(ledger[0].transaction_id.as_deref(), Some("4200order-1"));
    assert_eq!(ledger[0].amount_fen, seed::TWO_SUBJECT_FEE_FEN);
    let log = registrations::history(&mut w.conn(), id).expect("history");
    assert_eq!(log.last().map(|e| e.actor), Some(Actor::PaymentProvider));
}

fn concurrent_notifications_pay_once(test: TestDb) {
    let w = Arc::new(World::new(&test));
    let id = approved(&w, 1);
    let barrier = Arc::new(Barrier::new(10));
    let results: Vec<Recorded> = (0..10)
        .map(|_| {
            let (w, barrier) = (w.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                w.wechat_paid(id, "order-1", two_subject_fee(), later(1))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("thread"))
        .collect();
    let paid = results.iter().filter(|r| matches!(r, Recorded::Paid { .. })).count();
    let repeats = results.iter().filter(|r| matches!(r, Recorded::Duplicate { .. })).count();
    assert_eq!((paid, repeats), (1, 9), "{results:?}");
    assert_eq!(event_count(&w, id, EventKind::ConfirmPayment), 1);
    assert_eq!(w.state(id), State::Paid);
}

fn wechat_and_transfer_racing_pay_once_and_give_the_other_back(test: TestDb) {
    let w = Arc::new(World::new(&test));
    for round in 0..6 {
        let id = approved(&w, 10 + round);
        w.apply(id, Event::DeclareTransfer, w.owner(id), now()).expect("declared");
        let barrier = Arc::new(Barrier::new(2));
        let wechat = {
            let (w, barrier) = (w.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                w.wechat_paid(id, &format!("race-{round}"), two_subject_fee(), later(1))
            })
        };
        let finance = {
            let (w, barrier) = (w.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                w.confirm_transfer(&[id], two_subject_fee(), staff(Actor::Finance), later(1))
                    .expect("confirmed")
                    .remove(0)
                    .1
            })
        };
        let (wechat, finance) = (wechat.join().expect("thread"), finance.join().expect("thread"));
        let outcomes = [&wechat, &finance];
        assert_eq!(
            outcomes.iter().filter(|r| matches!(r, Recorded::Paid { .. })).count(),
            1,
            "{outcomes:?}"
        );
        assert!(
            outcomes.iter().any(|r| matches!(
                r,
                Recorded::Refunding {
                    cause: baoming_domain::lifecycle::RefundCause::AlreadyPaid,
                    ..
                }
            )),
            "{outcomes:?}"
        );
        assert_eq!(w.state(id), State::Paid);
        assert_eq!(event_count(&w, id, EventKind::ConfirmPayment), 1);
        let ledger = payments::list_payments(
            &mut w.conn(),
            &PaymentFilter { registration: Some(id), ..PaymentFilter::default() },
            10,
        )
        .expect("ledger");
        let mut dispositions: Vec<_> = ledger.iter().map(|p| p.disposition.as_str()).collect();
        dispositions.sort_unstable();
        assert_eq!(dispositions, ["applied", "refund"]);
        let given_back = ledger.iter().find(|p| p.disposition == Disposition::Refund).expect("row");
        assert_eq!(given_back.refund_state, Some(RefundState::Pending));
    }
    // Each WeChat payment that lost has a refund job; a transfer that lost is returned by hand.
    let ledger =
        payments::list_payments(&mut w.conn(), &PaymentFilter::default(), 100).expect("ledger");
    let lost_wechat = ledger
        .iter()
        .filter(|p| p.disposition == Disposition::Refund && p.method == PaymentMethod::WechatPay)
        .count();
    assert_eq!(refund_jobs(&w), lost_wechat);
}

fn money_a_registration_cannot_take_is_recorded_and_given_back(test: TestDb) {
    let w = World::new(&test);
    let withdrawn = approved(&w, 1);
    w.apply(withdrawn, Event::Withdraw, w.owner(withdrawn), now()).expect("withdrawn");
    let recorded = w.wechat_paid(withdrawn, "late-1", two_subject_fee(), later(1));
    assert!(
        matches!(
            recorded,
            Recorded::Refunding {
                cause: baoming_domain::lifecycle::RefundCause::NotPayable {
                    state: State::Withdrawn
                },
                ..
            }
        ),
        "{recorded:?}"
    );
    assert_eq!(w.state(withdrawn), State::Withdrawn);
    assert_eq!(refund_jobs(&w), 1);
    // The same late payment again: nothing more.
    assert!(matches!(
        w.wechat_paid(withdrawn, "late-1", two_subject_fee(), later(2)),
        Recorded::Duplicate { .. }
    ));
    assert_eq!(refund_jobs(&w), 1);

    let short = approved(&w, 2);
    let amount = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN - 1).expect("amount");
    let recorded = w.wechat_paid(short, "short-1", amount, later(1));
    assert!(
        matches!(recorded, Recorded::Mismatch { expected, received, .. }
            if expected == two_subject_fee() && received == amount),
        "{recorded:?}"
    );
    assert_eq!(w.state(short), State::AwaitingPayment);
    assert_eq!(event_count(&w, short, EventKind::ConfirmPayment), 0);
    let flagged = payments::list_payments(
        &mut w.conn(),
        &PaymentFilter { disposition: Some(Disposition::Mismatch), ..PaymentFilter::default() },
        10,
    )
    .expect("ledger");
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0].registration, short);
}

fn transfer_batches_are_all_or_nothing(test: TestDb) {
    let w = World::new(&test);
    let ids: Vec<RegistrationId> = (0..20).map(|n| approved(&w, 100 + n)).collect();
    for &id in &ids {
        let (_, reference) =
            payments::declare_transfer(&mut w.conn(), id, &ctx(w.owner(id), now()))
                .expect("declared");
        assert_eq!(
            payments::transfer_reference(&mut w.conn(), id).expect("reference"),
            Some(reference.as_str().to_owned())
        );
    }
    let pending =
        payments::pending_transfers(&mut w.conn(), &Default::default(), 100).expect("pending");
    assert_eq!(pending.len(), 20);
    let finance = staff(Actor::Finance);
    let total = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN * 20).expect("total");
    let short = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN * 20 - 100).expect("short");
    assert!(matches!(
        w.confirm_transfer(&ids, short, finance, later(1)),
        Err(ConfirmError::AmountMismatch { expected, received }) if expected == total && received == short
    ));
    let unreviewed = w.submitted(999, "01");
    let mut with_unreviewed = ids.clone();
    with_unreviewed.push(unreviewed);
    let with_total = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN * 21).expect("total");
    assert!(matches!(
        w.confirm_transfer(&with_unreviewed, with_total, finance, later(1)),
        Err(ConfirmError::NotApproved(id)) if id == unreviewed
    ));
    let mut twice = ids.clone();
    twice.push(ids[0]);
    assert!(matches!(
        w.confirm_transfer(&twice, total, finance, later(1)),
        Err(ConfirmError::BadSelection)
    ));
    assert!(
        payments::list_payments(&mut w.conn(), &PaymentFilter::default(), 100)
            .expect("ledger")
            .is_empty(),
        "a refused batch records nothing"
    );
    let confirmed = w.confirm_transfer(&ids, total, finance, later(2)).expect("confirmed");
    assert_eq!(confirmed.len(), 20);
    assert!(confirmed.iter().all(|(_, r)| matches!(r, Recorded::Paid { .. })));
    let ledger =
        payments::list_payments(&mut w.conn(), &PaymentFilter::default(), 100).expect("ledger");
    let batches: BTreeSet<_> = ledger.iter().map(|p| p.transfer_batch.clone()).collect();
    assert_eq!(batches.len(), 1, "one batch id for the whole transfer");
    assert!(batches.iter().all(Option::is_some));
    for &id in &ids {
        assert_eq!(w.state(id), State::Paid);
        assert_eq!(
            registrations::get(&mut w.conn(), id).expect("r").payment_method,
            Some(PaymentMethod::BankTransfer)
        );
    }
    assert!(
        payments::pending_transfers(&mut w.conn(), &Default::default(), 100)
            .expect("pending")
            .is_empty()
    );
}

fn a_registration_has_one_order(test: TestDb) {
    let w = World::new(&test);
    let id = approved(&w, 1);
    let Who::Participant(me) = w.owner(id) else { unreachable!("owner is a participant") };
    let first =
        payments::open_order(&mut w.conn(), id, me, "监理培训报名费", now()).expect("order");
    let again =
        payments::open_order(&mut w.conn(), id, me, "监理培训报名费", later(1)).expect("order");
    assert_eq!(first, again);
    assert_eq!(first.out_trade_no.len(), 32);
    assert_eq!(first.amount, two_subject_fee());
    assert_eq!(first.openid, "openid-1");
    let schedule = periods::schedule(&mut w.conn(), w.period.id).expect("schedule").0;
    assert_eq!(first.time_expire, schedule.payment_deadline());
    assert!(payments::has_open_order(&mut w.conn(), id).expect("open"));

    // Someone else's registration is not found; an unapproved one may not be paid.
    let other = w.submitted(2, "01");
    assert!(matches!(
        payments::open_order(&mut w.conn(), other, me, "x", now()),
        Err(payments::OrderError::Store(StoreError::NotFound { .. }))
    ));
    let Who::Participant(other_owner) = w.owner(other) else { unreachable!() };
    assert!(matches!(
        payments::open_order(&mut w.conn(), other, other_owner, "x", now()),
        Err(payments::OrderError::Refused(e)) if e.refusal == Refusal::NotInTable
    ));
    // After the payment deadline no order opens.
    let late = approved(&w, 3);
    let Who::Participant(late_owner) = w.owner(late) else { unreachable!() };
    let after_deadline = schedule.payment_deadline() + chrono::Duration::minutes(1);
    assert!(matches!(
        payments::open_order(&mut w.conn(), late, late_owner, "x", after_deadline),
        Err(payments::OrderError::Refused(e)) if e.refusal == Refusal::PaymentClosed
    ));
    // Withdrawing with an open order schedules closing it; so does the payment deadline.
    w.apply(id, Event::Withdraw, w.owner(id), later(2)).expect("withdrawn");
    let close_jobs = jobs::pending(&mut w.conn())
        .expect("jobs")
        .iter()
        .filter(|j| j.job == jobs::Job::CloseProviderOrder { registration: id })
        .count();
    assert_eq!(close_jobs, 1);
    // At the payment deadline an open order goes first (the money may be on its way): the
    // registration waits until the order is closed (or found paid) at WeChat Pay.
    let overdue = approved(&w, 4);
    let Who::Participant(overdue_owner) = w.owner(overdue) else { unreachable!() };
    let order = payments::open_order(&mut w.conn(), overdue, overdue_owner, "x", now()).expect("o");
    assert!(matches!(
        w.apply(overdue, Event::PaymentDeadlinePassed, Who::Clock, after_deadline),
        Ok(Applied::Unchanged { why: Unchanged::OrderStillOpen, .. })
    ));
    payments::mark_order_closed(&mut w.conn(), order.id, after_deadline).expect("closed");
    assert_eq!(
        moved_to(w.apply(overdue, Event::PaymentDeadlinePassed, Who::Clock, after_deadline)),
        State::Closed
    );
    // A closed order makes way for a new one (e.g. after an admin extended the deadline).
    let again = approved(&w, 6);
    let Who::Participant(again_owner) = w.owner(again) else { unreachable!() };
    let first = payments::open_order(&mut w.conn(), again, again_owner, "x", now()).expect("o");
    payments::mark_order_closed(&mut w.conn(), first.id, later(1)).expect("closed");
    let second = payments::open_order(&mut w.conn(), again, again_owner, "x", later(2)).expect("o");
    assert_ne!(first.out_trade_no, second.out_trade_no);
    assert_eq!(payments::order_of(&mut w.conn(), again).expect("o"), Some(second));
    // A registration without an order closes without one.
    let no_order = approved(&w, 5);
    w.apply(no_order, Event::PaymentDeadlinePassed, Who::Clock, after_deadline).expect("closed");
    assert!(
        !jobs::pending(&mut w.conn())
            .expect("jobs")
            .iter()
            .any(|j| j.job == jobs::Job::CloseProviderOrder { registration: no_order })
    );
}

fn a_transfer_refund_is_returned_by_finance(test: TestDb) {
    let w = World::new(&test);
    let id = approved(&w, 1);
    let me = w.owner(id);
    w.apply(id, Event::DeclareTransfer, me, now()).expect("declared");
    let finance = staff(Actor::Finance);
    w.confirm_transfer(&[id], two_subject_fee(), finance, later(1)).expect("confirmed");
    w.apply(id, Event::RequestRefund { reason: reason("单位取消派遣") }, me, later(2))
        .expect("requested");
    w.apply(id, Event::ApproveRefund, finance, later(3)).expect("approved");
    assert_eq!(refund_jobs(&w), 0, "a transfer is returned by hand, not by a job");
    let ledger =
        payments::list_payments(&mut w.conn(), &PaymentFilter::default(), 10).expect("ledger");
    assert_eq!(ledger[0].refund_state, Some(RefundState::Pending));
    let refund = ledger[0].refund_id.expect("refund");
    let actor = baoming_store::audit::Actor::default();
    let done =
        payments::returned_by_finance(&mut w.conn(), refund, &ctx(finance, later(4)), &actor)
            .expect("returned");
    assert_eq!(done.state, RefundState::Succeeded);
    assert_eq!(w.state(id), State::Refunded);
    assert_eq!(w.seats_taken("01"), 0);
    assert!(matches!(
        payments::returned_by_finance(&mut w.conn(), refund, &ctx(finance, later(5)), &actor),
        Err(payments::ReturnError::AlreadyDone)
    ));
}
