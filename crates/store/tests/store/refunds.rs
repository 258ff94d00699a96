//! Refunds end to end: the participant's request, finance's decisions, retries of refunds
//! WeChat Pay could not make, offline refunds, and money a registration could not take.

use baoming_domain::Money;
use baoming_domain::ids::RegistrationId;
use baoming_domain::lifecycle::{Actor, Event, Flag, PaymentMethod, RefundCause, State};
use baoming_store::payments::{
    self, Disposition, PaymentFilter, Recorded, RefundProgress, RefundRequestFilter, RefundState,
    Resolution, ReturnError, UnappliedFilter,
};
use baoming_store::testing::{TestDb, later, now};
use baoming_store::{audit, registrations};

use super::*;

baoming_store::on_both_backends!(
    a_closed_refund_is_retried_once_and_then_refunded,
    an_abnormal_refund_is_refunded_offline,
    a_wrong_amount_is_given_back_and_the_fee_paid_with_a_new_order,
    refund_requests_are_listed_for_finance,
);

/// A registration of participant `n` paid by WeChat (order `wx-<n>`) whose refund finance
/// approved: its refund.
fn approved_wechat_refund(w: &World, n: u32) -> (RegistrationId, payments::Refund) {
    let id = approved(w, n);
    assert!(matches!(
        w.wechat_paid(id, &format!("wx-{n}"), two_subject_fee(), now()),
        Recorded::Paid { .. }
    ));
    let me = w.owner(id);
    w.apply(id, Event::RequestRefund { reason: reason("工作冲突无法参加") }, me, later(1))
        .expect("requested");
    w.apply(id, Event::ApproveRefund, staff(Actor::Finance), later(2)).expect("approved");
    let refund = live_refund(w, id);
    assert_eq!(refund.state, RefundState::Pending);
    (id, refund)
}

fn live_refund(w: &World, id: RegistrationId) -> payments::Refund {
    let filter = PaymentFilter { registration: Some(id), ..PaymentFilter::default() };
    let ledger = payments::list_payments(&mut w.conn(), &filter, 10).expect("ledger");
    assert_eq!(ledger.len(), 1, "one ledger row per payment, whatever its retries: {ledger:?}");
    payments::get_refund(&mut w.conn(), ledger[0].refund_id.expect("a refund")).expect("refund")
}

fn finance_actor() -> audit::Actor {
    audit::Actor { role: Some("finance".into()), ..audit::Actor::default() }
}

fn progress(w: &World, refund: &payments::Refund, progress: RefundProgress) -> payments::Refund {
    payments::refund_progress(&mut w.conn(), refund.id, &progress, later(3)).expect("progress")
}

fn provider(id: &str) -> String {
    format!("50300{id}")
}

fn a_closed_refund_is_retried_once_and_then_refunded(test: TestDb) {
    let w = World::new(&test);
    let (id, first) = approved_wechat_refund(&w, 1);
    let jobs_before = refund_jobs(&w);
    assert_eq!(jobs_before, 1);
    progress(&w, &first, RefundProgress::Processing { provider_refund_id: provider("1") });
    let closed = progress(&w, &first, RefundProgress::Closed { provider_refund_id: provider("1") });
    assert_eq!(closed.state, RefundState::Closed);
    let r = registrations::get(&mut w.conn(), id).expect("registration");
    assert_eq!((r.status.state, r.status.flag), (State::Refunding, Some(Flag::RefundFailed)));

    // A pending refund is not retried (it could still succeed).
    let (_, pending) = approved_wechat_refund(&w, 2);
    let finance = ctx(staff(Actor::Finance), later(4));
    let refused = payments::retry_refund(&mut w.conn(), pending.id, &finance, &finance_actor());
    assert!(matches!(refused, Err(ReturnError::NotFailed(RefundState::Pending))), "{refused:?}");

    // Retried: a new refund number linked to the old one; the flag is cleared.
    let retry = payments::retry_refund(&mut w.conn(), first.id, &finance, &finance_actor())
        .expect("retried");
    assert_eq!(retry.retry_of, Some(first.id));
    assert_ne!(retry.out_refund_no, first.out_refund_no);
    assert!(retry.out_refund_no.is_some());
    assert_eq!((retry.state, retry.amount), (RefundState::Pending, first.amount));
    let old = payments::get_refund(&mut w.conn(), first.id).expect("old");
    assert_eq!((old.state, old.superseded_by), (RefundState::Closed, Some(retry.id)));
    let r = registrations::get(&mut w.conn(), id).expect("registration");
    assert_eq!((r.status.state, r.status.flag), (State::Refunding, None));
    assert_eq!(refund_jobs(&w), 3, "one more job: the retry's");
    assert_eq!(live_refund(&w, id).id, retry.id);
    // Exactly once: the old refund cannot be retried again.
    let again = payments::retry_refund(&mut w.conn(), first.id, &finance, &finance_actor());
    assert!(matches!(again, Err(ReturnError::Superseded)), "{again:?}");
    // A late word on the superseded refund does not move the registration.
    progress(&w, &old, RefundProgress::Closed { provider_refund_id: provider("1") });
    // The retry succeeds: refunded, the seat released.
    let done =
        progress(&w, &retry, RefundProgress::Succeeded { provider_refund_id: provider("2") });
    assert_eq!(done.state, RefundState::Succeeded);
    assert_eq!(w.state(id), State::Refunded);
    let log = registrations::history(&mut w.conn(), id).expect("history");
    let events: Vec<EventKind> = log.iter().map(|e| e.event).collect();
    assert_eq!(
        &events[events.len() - 3..],
        [EventKind::RefundFailed, EventKind::RetryRefund, EventKind::RefundSucceeded]
    );
    let audit = audit::list(
        &mut w.conn(),
        &audit::Filter { action: Some("refund_retry".into()), limit: 10, ..Default::default() },
    )
    .expect("audit");
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].target_id.as_deref(), Some(first.id.to_string().as_str()));
}

fn an_abnormal_refund_is_refunded_offline(test: TestDb) {
    let w = World::new(&test);
    let (id, refund) = approved_wechat_refund(&w, 1);
    let finance = ctx(staff(Actor::Finance), later(4));
    let note = reason("已通过银行转账退回学员本人账户");
    // Not before WeChat Pay has given up on it.
    let early =
        payments::refunded_offline(&mut w.conn(), refund.id, &note, &finance, &finance_actor());
    assert!(matches!(early, Err(ReturnError::NotFailed(RefundState::Pending))), "{early:?}");
    progress(&w, &refund, RefundProgress::Abnormal { provider_refund_id: provider("9") });
    let done =
        payments::refunded_offline(&mut w.conn(), refund.id, &note, &finance, &finance_actor())
            .expect("recorded");
    assert_eq!(done.state, RefundState::Succeeded);
    assert_eq!(done.offline_note.as_deref(), Some(note.as_str()));
    let r = registrations::get(&mut w.conn(), id).expect("registration");
    assert_eq!((r.status.state, r.status.flag), (State::Refunded, None));
    assert_eq!(w.seats_taken("01"), 0);
    // Once only; and WeChat Pay's late success changes nothing.
    let twice =
        payments::refunded_offline(&mut w.conn(), refund.id, &note, &finance, &finance_actor());
    assert!(matches!(twice, Err(ReturnError::NotFailed(RefundState::Succeeded))), "{twice:?}");
    progress(&w, &done, RefundProgress::Succeeded { provider_refund_id: provider("9") });
    assert_eq!(event_count(&w, id, EventKind::RefundSucceeded), 1);
    // WeChat Pay never made it: reconciliation does not expect it in the bill.
    let lines = baoming_store::reconciliation::ledger_lines(&mut w.conn(), now(), later(48))
        .expect("ledger lines");
    assert_eq!(lines.len(), 1, "the payment only: {lines:?}");
    assert!(matches!(lines[0], baoming_store::reconciliation::LedgerLine::Payment { .. }));
    let audit = audit::list(
        &mut w.conn(),
        &audit::Filter { action: Some("refund_offline".into()), limit: 10, ..Default::default() },
    )
    .expect("audit");
    assert_eq!(audit.len(), 1);
}

fn a_wrong_amount_is_given_back_and_the_fee_paid_with_a_new_order(test: TestDb) {
    let w = World::new(&test);
    let id = approved(&w, 1);
    let me = w.f.owner(id);
    let first =
        payments::open_order(&mut w.conn(), id, me, "监理培训报名费", now()).expect("order");
    let short = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN - 100).expect("amount");
    let recorded = w.wechat_paid(id, &first.out_trade_no, short, now());
    let Recorded::Mismatch { refund, expected, received, .. } = recorded else {
        panic!("expected a mismatch, got {recorded:?}")
    };
    assert_eq!((expected, received), (two_subject_fee(), short));
    assert_eq!(w.state(id), State::AwaitingPayment);
    let order = payments::get_order(&mut w.conn(), first.id).expect("order");
    assert_eq!(order.state, payments::OrderState::Mismatched);
    // Listed for finance with what happened; the worker gives it back.
    let listed = payments::unapplied_payments(&mut w.conn(), &UnappliedFilter::default(), 10)
        .expect("listed");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].disposition, Disposition::Mismatch);
    assert_eq!(
        listed[0].cause,
        Some(RefundCause::AmountMismatch { expected: two_subject_fee(), received: short })
    );
    assert_eq!(listed[0].resolution, Resolution::Refunding);
    assert_eq!(listed[0].refund.as_ref().map(|r| r.id), Some(refund));
    assert_eq!(refund_jobs(&w), 1);
    // WeChat Pay closes that refund; finance retries it (money the registration could not
    // take has no registration change to make).
    let first_refund = payments::get_refund(&mut w.conn(), refund).expect("refund");
    progress(&w, &first_refund, RefundProgress::Closed { provider_refund_id: provider("1") });
    let listed = payments::unapplied_payments(&mut w.conn(), &UnappliedFilter::default(), 10)
        .expect("listed");
    assert_eq!(listed[0].resolution, Resolution::NeedsFinance);
    let finance = ctx(staff(Actor::Finance), later(1));
    let retry =
        payments::retry_refund(&mut w.conn(), refund, &finance, &finance_actor()).expect("retried");
    assert_eq!(retry.retry_of, Some(refund));
    progress(&w, &retry, RefundProgress::Succeeded { provider_refund_id: provider("2") });
    let listed = payments::unapplied_payments(&mut w.conn(), &UnappliedFilter::default(), 10)
        .expect("listed");
    assert_eq!(listed[0].resolution, Resolution::Refunded);
    assert_eq!(listed[0].refund.as_ref().map(|r| r.id), Some(retry.id));
    let open = UnappliedFilter { open_only: true, ..UnappliedFilter::default() };
    assert!(payments::unapplied_payments(&mut w.conn(), &open, 10).expect("listed").is_empty());
    assert_eq!(w.state(id), State::AwaitingPayment);

    // The participant pays the fee with a new order.
    let second =
        payments::open_order(&mut w.conn(), id, me, "监理培训报名费", later(2)).expect("new");
    assert_ne!(second.out_trade_no, first.out_trade_no);
    assert!(matches!(
        w.wechat_paid(id, &second.out_trade_no, two_subject_fee(), later(2)),
        Recorded::Paid { .. }
    ));
    assert_eq!(w.state(id), State::Paid);
    // Paid: no third order.
    let third = payments::open_order(&mut w.conn(), id, me, "监理培训报名费", later(3));
    assert!(third.is_err());
}

fn refund_requests_are_listed_for_finance(test: TestDb) {
    let w = World::new(&test);
    let period = w.period.id;
    // A WeChat-paid request under review, a transfer-paid one refused, one approved.
    let wechat = approved(&w, 1);
    w.wechat_paid(wechat, "wx-1", two_subject_fee(), now());
    let transfer = approved(&w, 2);
    let approved_too = approved(&w, 3);
    w.confirm_transfer(
        &[transfer, approved_too],
        Money::from_fen(2 * seed::TWO_SUBJECT_FEE_FEN).expect("sum"),
        staff(Actor::Finance),
        now(),
    )
    .expect("confirmed");
    for (id, why) in [(wechat, "工作冲突"), (transfer, "生病住院"), (approved_too, "单位另有安排")]
    {
        let me = w.owner(id);
        w.apply(id, Event::RequestRefund { reason: reason(why) }, me, later(1)).expect("asked");
    }
    w.apply(
        transfer,
        Event::DenyRefund { reason: reason("已过退款期限") },
        staff(Actor::Finance),
        later(2),
    )
    .expect("denied");
    w.apply(approved_too, Event::ApproveRefund, staff(Actor::Finance), later(2)).expect("approved");
    // A paid registration that asked for nothing is not listed.
    let quiet = approved(&w, 4);
    w.wechat_paid(quiet, "wx-4", two_subject_fee(), now());

    let list = |filter: RefundRequestFilter| {
        payments::refund_requests(&mut w.conn(), &filter, 100).expect("list")
    };
    let all = list(RefundRequestFilter::default());
    assert_eq!(all.len(), 3);
    let row = |id| all.iter().find(|r| r.registration == id).expect("listed");
    assert_eq!(row(wechat).reason.as_deref(), Some("工作冲突"));
    assert_eq!(row(wechat).state, State::RefundRequested);
    assert_eq!(row(wechat).method, Some(PaymentMethod::WechatPay));
    assert!(row(wechat).refund.is_none());
    assert_eq!(row(transfer).denial_reason.as_deref(), Some("已过退款期限"));
    assert_eq!(
        row(approved_too).refund.as_ref().map(|r| r.method),
        Some(PaymentMethod::BankTransfer)
    );
    assert_eq!(row(approved_too).name.as_deref(), Some("张三丰"));
    let by_state =
        list(RefundRequestFilter { state: Some(State::RefundRequested), ..Default::default() });
    assert_eq!(by_state.iter().map(|r| r.registration).collect::<Vec<_>>(), [wechat]);
    let by_method = list(RefundRequestFilter {
        method: Some(PaymentMethod::BankTransfer),
        ..Default::default()
    });
    assert_eq!(by_method.len(), 2);
    let by_employer = list(RefundRequestFilter {
        employer: Some("某监理".into()),
        period: Some(period),
        ..Default::default()
    });
    assert_eq!(by_employer.len(), 3);
    let nobody =
        list(RefundRequestFilter { employer: Some("别的单位".into()), ..Default::default() });
    assert!(nobody.is_empty());
}
