//! Payments: orders, the ledger, refunds and transfers.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use baoming_domain::Money;
use baoming_domain::ids::RegistrationId;
use baoming_domain::lifecycle::{
    Actor, Event, EventKind, PaymentMethod, Refusal, State, Unchanged,
};
use baoming_store::payments::{
    self, ConfirmError, Disposition, PaymentFilter, Recorded, RefundState,
};
use baoming_store::periods::{self};
use baoming_store::registrations::{self, Applied, Who};
use baoming_store::testing::{TestDb, later, now};
use baoming_store::{StoreError, jobs, seed};

use super::*;

baoming_store::on_both_backends!(
    refunds_schedule_exactly_one_job,
    a_wechat_payment_is_recorded_once,
    concurrent_notifications_pay_once,
    wechat_and_transfer_racing_pay_once_and_give_the_other_back,
    money_a_registration_cannot_take_is_recorded_and_given_back,
    transfer_batches_are_all_or_nothing,
    a_registration_has_one_order,
    a_transfer_refund_is_returned_by_finance,
);

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
