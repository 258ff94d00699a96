use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::*;
use crate::period::ScheduleInput;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 1, 0, 0, 0).single().expect("valid test date")
}

/// Registration 1–10 May, payment deadline 12 May, check-in 20 May 07:00–09:00, exam ends
/// 20 May 17:00.
fn schedule() -> Schedule {
    Schedule::new(ScheduleInput {
        registration_opens: t0(),
        registration_closes: t0() + Duration::days(9),
        payment_deadline: Some(t0() + Duration::days(11)),
        checkin_opens: t0() + Duration::days(19) + Duration::hours(7),
        checkin_closes: t0() + Duration::days(19) + Duration::hours(9),
        exam_ends: t0() + Duration::days(19) + Duration::hours(17),
    })
    .expect("valid schedule")
}

const DURING_REGISTRATION: i64 = 24;
const AFTER_DEADLINE: i64 = 24 * 15;
const DURING_CHECKIN: i64 = 24 * 19 + 8;
const AFTER_SITTING: i64 = 24 * 21;

fn fee() -> Money {
    Money::from_fen(128_000).expect("fee")
}

fn facts(hours: i64) -> Facts {
    Facts {
        now: t0() + Duration::hours(hours),
        schedule: schedule(),
        period_closed: false,
        fee: fee(),
        seat: SeatAnswer::NotAsked,
        payment: PaymentFacts::default(),
    }
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).expect("non-empty reason")
}

fn moved(step: Step) -> Decision {
    match step {
        Step::Moved(decision) => decision,
        Step::Unchanged(why) => panic!("expected a move, got {why:?}"),
    }
}

#[test]
fn the_journey_of_the_manual() {
    let submit_facts = SubmitFacts {
        now: t0() + Duration::hours(DURING_REGISTRATION),
        schedule: schedule(),
        period_closed: false,
        profile_complete: true,
        photo_accepted: true,
        choice_valid: true,
        has_live_registration: false,
    };
    let mut status = submit(Actor::Participant, &submit_facts).expect("submitted");
    assert_eq!(status, Status::new(State::PendingReview));

    let f = facts(DURING_REGISTRATION);
    let reject = Event::Reject { reason: reason("照片不是白底") };
    status.apply(&reject, Actor::Reviewer, &f).expect("rejected");
    assert_eq!(status.state, State::Rejected);
    status.apply(&Event::Resubmit, Actor::Participant, &f).expect("resubmitted");
    let approve = Facts { seat: SeatAnswer::Taken, ..f };
    let d = moved(status.apply(&Event::Approve, Actor::Reviewer, &approve).expect("approved"));
    assert_eq!(d.seat_change(), SeatChange::Take);
    let pay = Event::ConfirmPayment { amount: fee(), via: PaymentMethod::WechatPay };
    let d = moved(status.apply(&pay, Actor::PaymentProvider, &f).expect("paid"));
    assert_eq!(d.paid_via, Some(PaymentMethod::WechatPay));
    assert_eq!(d.seat_change(), SeatChange::Keep);
    assert_eq!(
        status.apply(&pay, Actor::PaymentProvider, &f),
        Ok(Step::Unchanged(Unchanged::AlreadyPaid))
    );
    let checkin = Event::CheckIn { proof: CheckInProof::RotatingCode, venue: None };
    status.apply(&checkin, Actor::Participant, &facts(DURING_CHECKIN)).expect("checked in");
    assert_eq!(
        status.apply(&checkin, Actor::Participant, &facts(DURING_CHECKIN)),
        Ok(Step::Unchanged(Unchanged::AlreadyCheckedIn))
    );
    status.apply(&Event::SittingEnded, Actor::Clock, &facts(AFTER_SITTING)).expect("completed");
    assert_eq!(status, Status::new(State::Completed));
}

#[test]
fn submit_guards_in_order() {
    let ok = SubmitFacts {
        now: t0() + Duration::hours(DURING_REGISTRATION),
        schedule: schedule(),
        period_closed: false,
        profile_complete: true,
        photo_accepted: true,
        choice_valid: true,
        has_live_registration: false,
    };
    let cases = [
        (SubmitFacts { now: t0() - Duration::hours(1), ..ok }, Refusal::RegistrationClosed),
        (SubmitFacts { profile_complete: false, ..ok }, Refusal::ProfileIncomplete),
        (SubmitFacts { photo_accepted: false, ..ok }, Refusal::PhotoMissing),
        (SubmitFacts { choice_valid: false, ..ok }, Refusal::InvalidChoice),
        (SubmitFacts { has_live_registration: true, ..ok }, Refusal::DuplicateRegistration),
        (SubmitFacts { period_closed: true, ..ok }, Refusal::RegistrationClosed),
    ];
    for (case, refusal) in cases {
        assert_eq!(
            submit(Actor::Participant, &case),
            Err(TransitionError { state: None, event: EventKind::Submit, refusal })
        );
    }
    assert_eq!(submit(Actor::Reviewer, &ok).map_err(|e| e.refusal), Err(Refusal::WrongActor));
}

#[test]
fn approval_needs_a_seat() {
    let status = Status::new(State::PendingReview);
    let full = Facts { seat: SeatAnswer::Full, ..facts(DURING_REGISTRATION) };
    let err = decide(status, &Event::Approve, Actor::Reviewer, &full).expect_err("full");
    assert_eq!(err.refusal, Refusal::Full);
    assert_eq!(err.to_string(), "pending_review 状态下不能执行 approve：该地区名额已满");
    let not_asked = facts(DURING_REGISTRATION);
    assert_eq!(
        decide(status, &Event::Approve, Actor::Reviewer, &not_asked).map_err(|e| e.refusal),
        Err(Refusal::SeatNotAsked)
    );
}

#[test]
fn payment_amount_must_equal_fee() {
    let status = Status::new(State::AwaitingPayment);
    let short = Money::from_fen(127_999).expect("amount");
    let pay = Event::ConfirmPayment { amount: short, via: PaymentMethod::WechatPay };
    let err = decide(status, &pay, Actor::PaymentProvider, &facts(DURING_REGISTRATION))
        .expect_err("mismatch");
    assert_eq!(err.refusal, Refusal::AmountMismatch { expected: fee(), received: short });
    assert_eq!(err.refusal.to_string(), "支付金额（1279.99元）与应缴费用（1280.00元）不符");
}

#[test]
fn payment_method_fits_the_actor() {
    let status = Status::new(State::AwaitingTransfer);
    let f = facts(DURING_REGISTRATION);
    let transfer = Event::ConfirmPayment { amount: fee(), via: PaymentMethod::BankTransfer };
    let wechat = Event::ConfirmPayment { amount: fee(), via: PaymentMethod::WechatPay };
    assert!(decide(status, &transfer, Actor::Finance, &f).is_ok());
    assert!(decide(status, &transfer, Actor::Admin, &f).is_ok());
    assert!(decide(status, &transfer, Actor::PaymentProvider, &f).is_err());
    assert!(decide(status, &wechat, Actor::Finance, &f).is_err());
    assert!(decide(status, &wechat, Actor::PaymentProvider, &f).is_ok());
}

#[test]
fn withdraw_closes_an_open_order_but_not_a_payment_in_flight() {
    let status = Status::new(State::AwaitingPayment);
    let mut f = facts(DURING_REGISTRATION);
    f.payment.open_order = true;
    let d = moved(decide(status, &Event::Withdraw, Actor::Participant, &f).expect("withdrawn"));
    assert_eq!(d.effects, vec![Effect::CloseProviderOrder]);
    assert_eq!(d.seat_change(), SeatChange::Release);
    f.payment.in_flight = true;
    assert_eq!(
        decide(status, &Event::Withdraw, Actor::Participant, &f).map_err(|e| e.refusal),
        Err(Refusal::PaymentInFlight)
    );
}

#[test]
fn check_in_needs_the_window_and_the_venue_code() {
    let status = Status::new(State::Paid);
    let code = Event::CheckIn { proof: CheckInProof::RotatingCode, venue: None };
    let manual = Event::CheckIn { proof: CheckInProof::Staff, venue: None };
    let refusal = |event: &Event, actor, hours| {
        decide(status, event, actor, &facts(hours)).err().map(|e| e.refusal)
    };
    assert_eq!(
        refusal(&code, Actor::Participant, DURING_REGISTRATION),
        Some(Refusal::CheckInClosed)
    );
    assert_eq!(
        refusal(&manual, Actor::Participant, DURING_CHECKIN),
        Some(Refusal::VenueCodeRequired)
    );
    assert_eq!(refusal(&manual, Actor::CheckinStaff, DURING_CHECKIN), None);
    assert_eq!(refusal(&code, Actor::Reviewer, DURING_CHECKIN), Some(Refusal::WrongActor));
    // A denied refund keeps the seat: the person may still check in.
    let denied = Status::new(State::RefundDenied);
    assert!(decide(denied, &code, Actor::Participant, &facts(DURING_CHECKIN)).is_ok());
}

#[test]
fn check_in_proofs_belong_to_their_actors() {
    let paid = Status::new(State::Paid);
    let by = |proof, actor| {
        decide(paid, &Event::CheckIn { proof, venue: None }, actor, &facts(DURING_CHECKIN))
            .err()
            .map(|e| e.refusal)
    };
    // The printed static code is a venue code too (recorded as such by the data layer).
    assert_eq!(by(CheckInProof::StaticCode, Actor::Participant), None);
    assert_eq!(by(CheckInProof::RotatingCode, Actor::Participant), None);
    assert_eq!(by(CheckInProof::Staff, Actor::Admin), None);
    // Staff check people in by hand, never "with a code".
    assert_eq!(by(CheckInProof::RotatingCode, Actor::CheckinStaff), Some(Refusal::WrongActor));
    // While a refund is requested, check-in asks to cancel the request first.
    let requested = Status::new(State::RefundRequested);
    let scan = Event::CheckIn { proof: CheckInProof::RotatingCode, venue: None };
    assert_eq!(
        decide(requested, &scan, Actor::Participant, &facts(DURING_CHECKIN)).map_err(|e| e.refusal),
        Err(Refusal::CancelRefundFirst)
    );
    // Before the window opens and after it closes: closed.
    assert_eq!(
        decide(paid, &scan, Actor::Participant, &facts(AFTER_SITTING)).map_err(|e| e.refusal),
        Err(Refusal::CheckInClosed)
    );
}

#[test]
fn refunds_follow_the_payment_method() {
    let status = Status::new(State::RefundRequested);
    let mut f = facts(AFTER_SITTING);
    f.payment.paid_via = Some(PaymentMethod::WechatPay);
    let d = moved(decide(status, &Event::ApproveRefund, Actor::Finance, &f).expect("approved"));
    assert_eq!(d.effects, vec![Effect::StartProviderRefund]);
    f.payment.paid_via = Some(PaymentMethod::BankTransfer);
    let d = moved(decide(status, &Event::ApproveRefund, Actor::Finance, &f).expect("approved"));
    assert_eq!(d.effects, vec![Effect::ReturnTransferByHand]);

    let refunding = Status::new(State::Refunding);
    let failed = Event::RefundFailed { reason: reason("ABNORMAL: 用户银行卡已注销") };
    let d = moved(decide(refunding, &failed, Actor::PaymentProvider, &f).expect("flagged"));
    assert_eq!(d.to, Status { state: State::Refunding, flag: Some(Flag::RefundFailed) });
    let d = moved(decide(d.to, &Event::RefundSucceeded, Actor::Finance, &f).expect("refunded"));
    assert_eq!(d.to, Status::new(State::Refunded));
    assert_eq!(d.seat_change(), SeatChange::Release);
}

#[test]
fn a_failed_refund_is_retried_once_flagged_and_reverses_the_invoice_when_done() {
    let mut f = facts(AFTER_SITTING);
    f.payment.paid_via = Some(PaymentMethod::WechatPay);
    let refunding = Status::new(State::Refunding);
    // Nothing failed: nothing to retry.
    assert_eq!(
        decide(refunding, &Event::RetryRefund, Actor::Finance, &f).map_err(|e| e.refusal),
        Err(Refusal::RefundNotFailed)
    );
    let failed = Status { state: State::Refunding, flag: Some(Flag::RefundFailed) };
    assert_eq!(
        decide(failed, &Event::RetryRefund, Actor::Participant, &f).map_err(|e| e.refusal),
        Err(Refusal::WrongActor)
    );
    let d = moved(decide(failed, &Event::RetryRefund, Actor::Finance, &f).expect("retried"));
    assert_eq!(d.to, refunding, "the retry clears the flag");
    assert_eq!(d.effects, vec![Effect::StartProviderRefund]);
    assert_eq!(d.seat_change(), SeatChange::Keep);
    assert_eq!(d.notice(), None);
    // However the money went back (provider, or finance offline), an issued invoice is reversed.
    for actor in [Actor::PaymentProvider, Actor::Finance, Actor::Admin] {
        let d = moved(decide(failed, &Event::RefundSucceeded, actor, &f).expect("refunded"));
        assert_eq!(d.effects, vec![Effect::ReverseInvoice]);
        assert_eq!(d.notice(), Some(Notice::Refunded));
    }
}

#[test]
fn refund_decisions_tell_the_participant() {
    let mut f = facts(DURING_REGISTRATION);
    f.payment.paid_via = Some(PaymentMethod::WechatPay);
    let requested = Status::new(State::RefundRequested);
    let notice = |status, event: Event, actor| {
        moved(decide(status, &event, actor, &f).expect("moved")).notice()
    };
    assert_eq!(
        notice(requested, Event::ApproveRefund, Actor::Finance),
        Some(Notice::RefundApproved)
    );
    assert_eq!(
        notice(requested, Event::DenyRefund { reason: reason("已过退款期限") }, Actor::Finance),
        Some(Notice::RefundDenied)
    );
    let failed = Event::RefundFailed { reason: reason("CLOSED") };
    assert_eq!(
        notice(Status::new(State::Refunding), failed, Actor::PaymentProvider),
        Some(Notice::RefundFailed)
    );
    // Asking and taking the request back are the participant's own doing: no message.
    let me = Actor::Participant;
    let ask = Event::RequestRefund { reason: reason("时间冲突") };
    assert_eq!(notice(Status::new(State::Paid), ask, me), None);
    assert_eq!(notice(requested, Event::CancelRefundRequest, me), None);
    // Eight notices of status changes, and the admission ticket's (not a status change).
    assert_eq!(Notice::ALL.len(), 9);
}

#[test]
fn paid_stays_paid_and_tickets_stay_with_the_checked_in() {
    for &(from, event, _, to) in TABLE {
        // Only a confirmed payment makes a registration paid, and nothing makes it unpaid.
        assert_eq!(
            to.was_paid(),
            from.was_paid() || event == E::ConfirmPayment,
            "{from:?} --{event:?}--> {to:?}"
        );
        // A ticket (given at check-in) stays with the registration's later states.
        if from.may_hold_ticket() {
            assert!(to.may_hold_ticket(), "{from:?} --{event:?}--> {to:?}");
        }
        if !from.may_hold_ticket() && to.may_hold_ticket() {
            assert_eq!(event, E::CheckIn, "{from:?} --{event:?}--> {to:?}");
        }
    }
    for state in State::ALL.iter().copied().filter(|s| s.is_invoiceable()) {
        assert!(state.was_paid(), "{state:?}: invoiced, so paid");
    }
    assert!(State::CheckedIn.may_hold_ticket() && !State::Paid.may_hold_ticket());
}

#[test]
fn only_kept_fees_are_invoiced() {
    let invoiceable: Vec<State> =
        State::ALL.iter().copied().filter(|s| s.is_invoiceable()).collect();
    assert_eq!(invoiceable, [State::Paid, State::RefundDenied, State::CheckedIn, State::Completed]);
    for state in invoiceable {
        assert!(state.holds_seat(), "{state:?}: an invoiced registration keeps its seat");
    }
}

#[test]
fn the_clock_respects_its_deadlines() {
    let awaiting = Status::new(State::AwaitingPayment);
    let early =
        decide(awaiting, &Event::PaymentDeadlinePassed, Actor::Clock, &facts(DURING_REGISTRATION));
    assert_eq!(early.map_err(|e| e.refusal), Err(Refusal::DeadlineNotReached));
    let d = moved(
        decide(awaiting, &Event::PaymentDeadlinePassed, Actor::Clock, &facts(AFTER_DEADLINE))
            .expect("closed"),
    );
    assert_eq!((d.to.state, d.seat_change()), (State::Closed, SeatChange::Release));
    // With a WeChat order still open the money may be on its way: the order goes first.
    let open = Facts {
        payment: PaymentFacts { open_order: true, ..PaymentFacts::default() },
        ..facts(AFTER_DEADLINE)
    };
    assert_eq!(
        decide(awaiting, &Event::PaymentDeadlinePassed, Actor::Clock, &open),
        Ok(Step::Unchanged(Unchanged::OrderStillOpen))
    );

    // A declared transfer is only flagged at the deadline, once, and closed when the sitting ends.
    let transfer = Status::new(State::AwaitingTransfer);
    let d = moved(
        decide(transfer, &Event::PaymentDeadlinePassed, Actor::Clock, &facts(AFTER_DEADLINE))
            .expect("flagged"),
    );
    assert_eq!(d.to, Status { state: State::AwaitingTransfer, flag: Some(Flag::TransferOverdue) });
    assert_eq!(
        decide(d.to, &Event::PaymentDeadlinePassed, Actor::Clock, &facts(AFTER_DEADLINE)),
        Ok(Step::Unchanged(Unchanged::AlreadyFlagged))
    );
    let d = moved(
        decide(d.to, &Event::SittingEnded, Actor::Clock, &facts(AFTER_SITTING)).expect("closed"),
    );
    assert_eq!(d.to, Status::new(State::Closed));
    assert_eq!(
        decide(Status::new(State::Paid), &Event::SittingEnded, Actor::Clock, &facts(AFTER_SITTING))
            .map_err(|e| e.refusal),
        Err(Refusal::NotInTable)
    );
}

#[test]
fn reasons_are_required_and_bounded() {
    assert_eq!(Reason::parse("  "), Err(ReasonError::Empty));
    assert_eq!(Reason::parse(&"字".repeat(501)), Err(ReasonError::TooLong));
    assert_eq!(
        Reason::parse(" 资料不全 ").map(|r| r.as_str().to_owned()),
        Ok("资料不全".to_owned())
    );
}

#[test]
fn codes_round_trip() {
    for &state in State::ALL {
        assert_eq!(State::parse(state.as_str()), Ok(state));
    }
    for &kind in EventKind::ALL {
        assert_eq!(EventKind::parse(kind.as_str()), Ok(kind));
    }
    for actor in Actor::ALL {
        assert_eq!(Actor::parse(actor.as_str()), Ok(actor));
    }
    assert_eq!(State::ALL.len(), 13);
    assert!(State::parse("paid ").is_err());
}

// ---------------------------------------------------------------------------------------------
// Property tests against an oracle written from the transition table of `docs/lifecycle.md`
// (`tests/lifecycle_doc.rs` checks the document itself).

use Actor as A;
use EventKind as E;
use State as S;

const STAFF_REVIEW: &[Actor] = &[A::Reviewer, A::Admin];
const STAFF_FINANCE: &[Actor] = &[A::Finance, A::Admin];
const PARTICIPANT: &[Actor] = &[A::Participant];
const CLOCK: &[Actor] = &[A::Clock];

/// (from, event, who may, to) — the transition table, row by row.
const TABLE: &[(State, EventKind, &[Actor], State)] = &[
    (S::Rejected, E::Resubmit, PARTICIPANT, S::PendingReview),
    (S::PendingReview, E::Withdraw, PARTICIPANT, S::Withdrawn),
    (S::Rejected, E::Withdraw, PARTICIPANT, S::Withdrawn),
    (S::AwaitingPayment, E::Withdraw, PARTICIPANT, S::Withdrawn),
    (S::PendingReview, E::Approve, STAFF_REVIEW, S::AwaitingPayment),
    (S::PendingReview, E::Reject, STAFF_REVIEW, S::Rejected),
    (S::AwaitingPayment, E::DeclareTransfer, PARTICIPANT, S::AwaitingTransfer),
    (S::AwaitingTransfer, E::TransferNotReceived, STAFF_FINANCE, S::AwaitingPayment),
    (S::AwaitingPayment, E::ConfirmPayment, &[A::PaymentProvider, A::Finance, A::Admin], S::Paid),
    (S::AwaitingTransfer, E::ConfirmPayment, &[A::PaymentProvider, A::Finance, A::Admin], S::Paid),
    (S::Paid, E::CheckIn, &[A::Participant, A::CheckinStaff, A::Admin], S::CheckedIn),
    (S::RefundDenied, E::CheckIn, &[A::Participant, A::CheckinStaff, A::Admin], S::CheckedIn),
    (S::Paid, E::RequestRefund, PARTICIPANT, S::RefundRequested),
    (S::RefundRequested, E::CancelRefundRequest, PARTICIPANT, S::Paid),
    (S::RefundRequested, E::ApproveRefund, STAFF_FINANCE, S::Refunding),
    (S::RefundRequested, E::DenyRefund, STAFF_FINANCE, S::RefundDenied),
    (S::Refunding, E::RefundSucceeded, &[A::PaymentProvider, A::Finance, A::Admin], S::Refunded),
    (S::Refunding, E::RefundFailed, &[A::PaymentProvider], S::Refunding),
    // "finance retries or refunds offline" (the flag is cleared, a new provider refund starts)
    (S::Refunding, E::RetryRefund, STAFF_FINANCE, S::Refunding),
    (S::CheckedIn, E::SittingEnded, CLOCK, S::Completed),
    (S::PendingReview, E::SittingEnded, CLOCK, S::Closed),
    (S::AwaitingPayment, E::PaymentDeadlinePassed, CLOCK, S::Closed),
    (S::AwaitingPayment, E::SittingEnded, CLOCK, S::Closed),
    (S::AwaitingTransfer, E::SittingEnded, CLOCK, S::Closed),
    // "past the payment deadline it is flagged to finance" (same state, flag raised)
    (S::AwaitingTransfer, E::PaymentDeadlinePassed, CLOCK, S::AwaitingTransfer),
];

/// Idempotent repeats the table names: they are accepted and change nothing.
const REPEATS: &[(State, EventKind)] = &[
    (S::Paid, E::ConfirmPayment),
    (S::CheckedIn, E::CheckIn),
    (S::AwaitingTransfer, E::PaymentDeadlinePassed),
    // A WeChat order is still open: it is closed (or found paid) before the deadline applies.
    (S::AwaitingPayment, E::PaymentDeadlinePassed),
];

fn any_state() -> impl Strategy<Value = State> {
    proptest::sample::select(State::ALL.to_vec())
}

fn any_status() -> impl Strategy<Value = Status> {
    let flag = proptest::option::of(proptest::sample::select(Flag::ALL.to_vec()));
    (any_state(), flag).prop_map(|(state, flag)| Status { state, flag })
}

fn any_reason() -> impl Strategy<Value = Reason> {
    "[a-z资料不全]{1,12}".prop_map(|text| reason(&text))
}

fn any_event() -> impl Strategy<Value = Event> {
    let method = proptest::sample::select(PaymentMethod::ALL.to_vec());
    let proof = proptest::sample::select(CheckInProof::ALL.to_vec());
    // Amounts around the fee, so that both matches and mismatches happen.
    let amount = (127_998i64..128_002).prop_map(|fen| Money::from_fen(fen).expect("positive"));
    prop_oneof![
        Just(Event::Submit),
        Just(Event::Resubmit),
        Just(Event::Withdraw),
        Just(Event::Approve),
        any_reason().prop_map(|reason| Event::Reject { reason }),
        Just(Event::DeclareTransfer),
        any_reason().prop_map(|note| Event::TransferNotReceived { note }),
        (amount, method).prop_map(|(amount, via)| Event::ConfirmPayment { amount, via }),
        proof.prop_map(|proof| Event::CheckIn { proof, venue: None }),
        any_reason().prop_map(|reason| Event::RequestRefund { reason }),
        Just(Event::CancelRefundRequest),
        Just(Event::ApproveRefund),
        any_reason().prop_map(|reason| Event::DenyRefund { reason }),
        Just(Event::RefundSucceeded),
        any_reason().prop_map(|reason| Event::RefundFailed { reason }),
        Just(Event::RetryRefund),
        Just(Event::PaymentDeadlinePassed),
        Just(Event::SittingEnded),
    ]
}

fn any_facts() -> impl Strategy<Value = Facts> {
    let seat =
        proptest::sample::select(vec![SeatAnswer::NotAsked, SeatAnswer::Taken, SeatAnswer::Full]);
    let paid_via = proptest::option::of(proptest::sample::select(PaymentMethod::ALL.to_vec()));
    (-48i64..24 * 25, seat, paid_via, any::<bool>(), any::<bool>()).prop_map(
        |(hours, seat, paid_via, open_order, in_flight)| Facts {
            seat,
            payment: PaymentFacts { paid_via, open_order, in_flight },
            ..facts(hours)
        },
    )
}

fn any_actor() -> impl Strategy<Value = Actor> {
    proptest::sample::select(Actor::ALL.to_vec())
}

fn any_step() -> impl Strategy<Value = (Event, Actor, Facts)> {
    (any_event(), any_actor(), any_facts())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn random_sequences_stay_inside_the_table(
        start in any_status(),
        steps in proptest::collection::vec(any_step(), 1..60),
    ) {
        let mut status = start;
        for (event, actor, facts) in &steps {
            let before = status;
            match status.apply(event, *actor, facts) {
                Ok(Step::Moved(d)) => {
                    prop_assert!(!before.state.is_terminal(), "left terminal {before:?} by {event:?}");
                    prop_assert_eq!(d.from, before);
                    prop_assert_eq!(status, d.to);
                    prop_assert!(
                        TABLE.iter().any(|(from, kind, who, to)| {
                            *from == before.state && *kind == event.kind() && who.contains(actor) && *to == d.to.state
                        }),
                        "{:?} --{:?} by {:?}--> {:?} is not in the table", before.state, event.kind(), actor, d.to.state
                    );
                }
                Ok(Step::Unchanged(_)) => {
                    prop_assert_eq!(status, before);
                    prop_assert!(REPEATS.contains(&(before.state, event.kind())));
                }
                Err(err) => {
                    prop_assert_eq!(status, before, "a refusal changed the status");
                    prop_assert_eq!(err.state, Some(before.state));
                    prop_assert_eq!(err.event, event.kind());
                }
            }
        }
    }

    #[test]
    fn terminal_states_refuse_everything(
        state in proptest::sample::select(State::ALL.iter().copied().filter(|s| s.is_terminal()).collect::<Vec<_>>()),
        (event, actor, facts) in any_step(),
    ) {
        prop_assert!(decide(Status::new(state), &event, actor, &facts).is_err());
    }

    #[test]
    fn every_table_row_is_reachable_by_its_actors(row in proptest::sample::select(TABLE.to_vec()), facts in any_facts()) {
        // With the guard satisfied, each row's actors get exactly the row's target.
        let (from, kind, who, to) = row;
        let hours = match kind {
            E::CheckIn => DURING_CHECKIN,
            E::SittingEnded => AFTER_SITTING,
            E::PaymentDeadlinePassed => AFTER_DEADLINE,
            _ => DURING_REGISTRATION,
        };
        // The deadline waits for an open order to be closed first (see OrderStillOpen).
        let open_order = facts.payment.open_order && kind != E::PaymentDeadlinePassed;
        let good = Facts {
            seat: SeatAnswer::Taken,
            payment: PaymentFacts { in_flight: false, open_order, ..facts.payment },
            ..facts_at(hours)
        };
        // A retry is of a refund the provider failed (the flag it clears).
        let flag = (kind == E::RetryRefund).then_some(Flag::RefundFailed);
        for &actor in who {
            let event = sample_event(kind, actor);
            match decide(Status { state: from, flag }, &event, actor, &good) {
                Ok(Step::Moved(d)) => prop_assert_eq!(d.to.state, to),
                other => prop_assert!(false, "{from:?} --{kind:?} by {actor:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn every_state_has_one_tab_and_its_seed_tag(state in any_state(), ended in any::<bool>()) {
        let tab = Tab::of(state, ended);
        let lists: [(Tab, &[State]); 5] = [
            (Tab::PendingReview, &[S::PendingReview, S::Rejected]),
            (Tab::AwaitingPayment, &[S::AwaitingPayment, S::AwaitingTransfer]),
            (Tab::AwaitingCheckIn, &[S::Paid, S::RefundRequested, S::Refunding, S::RefundDenied]),
            (Tab::CheckedIn, &[S::CheckedIn]),
            (Tab::Expired, &[S::Refunded, S::Withdrawn, S::Closed, S::Completed]),
        ];
        let expected: Vec<Tab> = if ended {
            vec![Tab::Expired]
        } else {
            lists.iter().filter(|(_, states)| states.contains(&state)).map(|(tab, _)| *tab).collect()
        };
        prop_assert_eq!(expected, vec![tab]);
        let seed = [
            (S::PendingReview, "审核中"), (S::Rejected, "审核不通过"), (S::AwaitingPayment, "待支付"),
            (S::AwaitingTransfer, "待确认到账"), (S::Paid, "已支付"), (S::RefundRequested, "退款审核中"),
            (S::Refunding, "退款中"), (S::Refunded, "已退款"), (S::RefundDenied, "退款失败"),
            (S::CheckedIn, "已报到"), (S::Completed, "已完成"), (S::Withdrawn, "已取消"), (S::Closed, "已关闭"),
        ];
        let label = seed.iter().find(|(s, _)| *s == state).map(|(_, l)| *l);
        prop_assert_eq!(Some(Tag::of(state).label_zh(Tab::PendingReview)), label);
    }
}

fn facts_at(hours: i64) -> Facts {
    facts(hours)
}

fn sample_event(kind: EventKind, actor: Actor) -> Event {
    let via = if actor == A::PaymentProvider {
        PaymentMethod::WechatPay
    } else {
        PaymentMethod::BankTransfer
    };
    let proof =
        if actor == A::Participant { CheckInProof::RotatingCode } else { CheckInProof::Staff };
    match kind {
        E::Submit => Event::Submit,
        E::Resubmit => Event::Resubmit,
        E::Withdraw => Event::Withdraw,
        E::Approve => Event::Approve,
        E::Reject => Event::Reject { reason: reason("不符合报考条件") },
        E::DeclareTransfer => Event::DeclareTransfer,
        E::TransferNotReceived => Event::TransferNotReceived { note: reason("未到账") },
        E::ConfirmPayment => Event::ConfirmPayment { amount: fee(), via },
        E::CheckIn => Event::CheckIn { proof, venue: None },
        E::RequestRefund => Event::RequestRefund { reason: reason("时间冲突") },
        E::CancelRefundRequest => Event::CancelRefundRequest,
        E::ApproveRefund => Event::ApproveRefund,
        E::DenyRefund => Event::DenyRefund { reason: reason("已过退款期限") },
        E::RefundSucceeded => Event::RefundSucceeded,
        E::RefundFailed => Event::RefundFailed { reason: reason("ABNORMAL") },
        E::RetryRefund => Event::RetryRefund,
        E::PaymentDeadlinePassed => Event::PaymentDeadlinePassed,
        E::SittingEnded => Event::SittingEnded,
    }
}

#[test]
fn actions_follow_the_state_machine() {
    let at = |state, hours| Action::available(Status::new(state), &facts(hours));
    assert_eq!(at(State::PendingReview, DURING_REGISTRATION), vec![Action::Withdraw]);
    assert_eq!(at(State::Rejected, DURING_REGISTRATION), vec![Action::Resubmit, Action::Withdraw]);
    assert_eq!(at(State::Rejected, AFTER_DEADLINE), vec![Action::Withdraw]);
    assert_eq!(
        at(State::AwaitingPayment, DURING_REGISTRATION),
        vec![Action::PayWechat, Action::DeclareTransfer, Action::Withdraw]
    );
    assert_eq!(at(State::Paid, DURING_REGISTRATION), vec![Action::RequestRefund]);
    assert_eq!(at(State::Paid, DURING_CHECKIN), vec![Action::CheckIn, Action::RequestRefund]);
    assert_eq!(at(State::Paid, AFTER_SITTING), vec![Action::RequestRefund]);
    assert_eq!(at(State::RefundRequested, DURING_REGISTRATION), vec![Action::CancelRefundRequest]);
    assert!(at(State::CheckedIn, DURING_CHECKIN).is_empty());
    assert!(at(State::Completed, AFTER_SITTING).is_empty());
}

#[test]
fn a_closed_period_takes_no_resubmission() {
    let closed = Facts { period_closed: true, ..facts(DURING_REGISTRATION) };
    assert_eq!(
        decide(Status::new(State::Rejected), &Event::Resubmit, Actor::Participant, &closed)
            .map_err(|e| e.refusal),
        Err(Refusal::RegistrationClosed)
    );
    // Everything else about an existing registration goes on (withdrawal, the clock…).
    assert!(
        decide(Status::new(State::Rejected), &Event::Withdraw, Actor::Participant, &closed).is_ok()
    );
}

mod settlement {
    use super::*;

    fn wechat(amount: Money) -> (Money, PaymentMethod) {
        (amount, PaymentMethod::WechatPay)
    }

    #[test]
    fn the_fee_pays_an_unpaid_registration_by_either_method() {
        let f = facts(DURING_REGISTRATION);
        for state in [State::AwaitingPayment, State::AwaitingTransfer] {
            let (amount, via) = wechat(fee());
            let settled = settle(Status::new(state), amount, via, Actor::PaymentProvider, &f);
            match settled.expect("settled") {
                Settlement::Pay(d) => {
                    assert_eq!(d.to.state, State::Paid);
                    assert_eq!(d.paid_via, Some(PaymentMethod::WechatPay));
                }
                other => panic!("expected payment, got {other:?}"),
            }
            let by_finance =
                settle(Status::new(state), fee(), PaymentMethod::BankTransfer, Actor::Finance, &f);
            assert!(matches!(by_finance, Ok(Settlement::Pay(_))));
        }
    }

    #[test]
    fn a_wrong_amount_is_flagged_not_accepted() {
        let short = Money::from_fen(127_999).expect("amount");
        let settled = settle(
            Status::new(State::AwaitingPayment),
            short,
            PaymentMethod::WechatPay,
            Actor::PaymentProvider,
            &facts(DURING_REGISTRATION),
        );
        assert_eq!(settled, Ok(Settlement::Mismatch { expected: fee(), received: short }));
        // The wrong amount goes back whole, with the reason the payer sees.
        let cause = settled.as_ref().ok().and_then(Settlement::give_back);
        assert_eq!(cause, Some(RefundCause::AmountMismatch { expected: fee(), received: short }));
        let cause = cause.expect("given back");
        assert_eq!(cause.reason_zh(), "支付金额1279.99元与应缴费用1280.00元不符，款项退回");
        assert_eq!(cause.code(), "amount_mismatch");
        assert_eq!(
            serde_json::to_value(cause).expect("json"),
            serde_json::json!({"cause": "amount_mismatch", "expected": 128_000, "received": 127_999})
        );
    }

    #[test]
    fn money_for_a_registration_that_cannot_take_it_goes_back() {
        let f = facts(AFTER_DEADLINE);
        for state in [State::Paid, State::CheckedIn, State::RefundRequested, State::Refunded] {
            let settled = settle(
                Status::new(state),
                fee(),
                PaymentMethod::WechatPay,
                Actor::PaymentProvider,
                &f,
            );
            assert_eq!(settled, Ok(Settlement::Refund(RefundCause::AlreadyPaid)), "{state:?}");
        }
        for state in [State::Withdrawn, State::Closed, State::PendingReview, State::Rejected] {
            let settled =
                settle(Status::new(state), fee(), PaymentMethod::BankTransfer, Actor::Finance, &f);
            assert_eq!(settled, Ok(Settlement::Refund(RefundCause::NotPayable { state })));
        }
    }

    #[test]
    fn only_the_provider_reports_wechat_money_and_only_finance_transfers() {
        let f = facts(DURING_REGISTRATION);
        for state in [State::AwaitingPayment, State::Withdrawn, State::Paid] {
            let forged =
                settle(Status::new(state), fee(), PaymentMethod::WechatPay, Actor::Participant, &f);
            assert_eq!(forged.map_err(|e| e.refusal), Err(Refusal::WrongActor), "{state:?}");
            let forged =
                settle(Status::new(state), fee(), PaymentMethod::BankTransfer, Actor::Reviewer, &f);
            assert_eq!(forged.map_err(|e| e.refusal), Err(Refusal::WrongActor), "{state:?}");
        }
    }

    proptest! {
        /// Whatever the state and amount, an allowed payment is settled, and it pays exactly
        /// when the registration is unpaid and the amount is the fee.
        #[test]
        fn every_allowed_payment_has_a_settlement(
            state in proptest::sample::select(State::ALL.to_vec()),
            fen in 0i64..300_000,
        ) {
            let amount = Money::from_fen(fen).expect("amount");
            let settled = settle(
                Status::new(state),
                amount,
                PaymentMethod::WechatPay,
                Actor::PaymentProvider,
                &facts(DURING_REGISTRATION),
            ).expect("the provider may report payments");
            let unpaid = matches!(state, State::AwaitingPayment | State::AwaitingTransfer);
            prop_assert_eq!(matches!(settled, Settlement::Pay(_)), unpaid && amount == fee());
            prop_assert_eq!(matches!(settled, Settlement::Mismatch { .. }), unpaid && amount != fee());
            // Whatever is not taken goes back.
            prop_assert_eq!(settled.give_back().is_none(), matches!(settled, Settlement::Pay(_)));
        }
    }
}

#[test]
fn a_payment_starts_only_when_one_is_due() {
    let awaiting = Status::new(State::AwaitingPayment);
    assert_eq!(may_start_payment(awaiting, &facts(DURING_REGISTRATION)), Ok(()));
    let refusal = |status, f: &Facts| may_start_payment(status, f).map_err(|e| e.refusal);
    assert_eq!(refusal(awaiting, &facts(AFTER_DEADLINE)), Err(Refusal::PaymentClosed));
    assert_eq!(
        refusal(Status::new(State::PendingReview), &facts(DURING_REGISTRATION)),
        Err(Refusal::NotInTable)
    );
    assert_eq!(
        refusal(Status::new(State::Paid), &facts(DURING_REGISTRATION)),
        Err(Refusal::NotInTable)
    );
    let free = Facts { fee: Money::ZERO, ..facts(DURING_REGISTRATION) };
    assert_eq!(refusal(awaiting, &free), Err(Refusal::NothingToPay));
}
