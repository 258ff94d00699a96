//! The registration state machine. `docs/lifecycle.md` says it in words; its transition table is
//! checked against [`decide`] by a test (`tests/lifecycle_doc.rs`).
//!
//! [`decide`] is the only place that knows which event may move a registration from which state
//! to which, by which actor and under which guard. It is a pure function of the current
//! [`Status`], the [`Event`], the [`Actor`] and the [`Facts`] the caller gathered (the clock,
//! the period's schedule, the fee, the capacity answer, payment facts). A refusal is a
//! [`TransitionError`] naming the state and the event; nothing changes. The data layer writes
//! what a [`Decision`] says, with its event-log row, in one transaction.

mod event;
mod settle;
mod state;
mod view;

pub use event::{CheckInProof, Event, EventKind, PaymentMethod, Reason, ReasonError};
pub use settle::{RefundCause, Settlement, settle};
pub use state::{Flag, State, Status, UnknownCode};
pub use view::{Action, Tab, Tag};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::money::Money;
use crate::period::Schedule;

/// Who causes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Actor {
    /// The WeChat user who owns the registration (ownership is checked by the caller).
    Participant,
    /// Back-office staff who review registrations.
    Reviewer,
    /// Back-office staff who confirm transfers and decide refunds.
    Finance,
    /// Staff at the venue.
    CheckinStaff,
    /// Manages everything; may do whatever reviewer, finance and check-in staff may.
    Admin,
    /// WeChat Pay, through a verified notification or query.
    PaymentProvider,
    /// The worker, when a deadline passes.
    Clock,
}

impl Actor {
    /// Every actor.
    pub const ALL: [Actor; 7] = [
        Actor::Participant,
        Actor::Reviewer,
        Actor::Finance,
        Actor::CheckinStaff,
        Actor::Admin,
        Actor::PaymentProvider,
        Actor::Clock,
    ];

    /// Stable code stored in the event log.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Participant => "participant",
            Actor::Reviewer => "reviewer",
            Actor::Finance => "finance",
            Actor::CheckinStaff => "checkin_staff",
            Actor::Admin => "admin",
            Actor::PaymentProvider => "payment_provider",
            Actor::Clock => "clock",
        }
    }

    /// Parses a stored code.
    pub fn parse(code: &str) -> Result<Self, UnknownCode> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == code)
            .ok_or_else(|| UnknownCode::new("actor", code))
    }
}

/// The capacity answer for events that take a seat (approval).
///
/// The data layer takes the seat atomically *before* asking (`seats_taken < capacity` in one
/// conditional update) and reports what happened; a refusal rolls the seat back with the rest
/// of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatAnswer {
    /// Nobody asked: the event takes no seat.
    NotAsked,
    /// A seat of the region was taken for this registration.
    Taken,
    /// The region is full.
    Full,
}

/// What is known about money in flight for a registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PaymentFacts {
    /// How the registration was paid, once it was.
    pub paid_via: Option<PaymentMethod>,
    /// A WeChat order exists and is not closed.
    pub open_order: bool,
    /// The participant is paying right now (the provider reports the order as being paid).
    pub in_flight: bool,
}

/// Everything a guard may look at besides the status and the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    /// The current time.
    pub now: DateTime<Utc>,
    /// The period's schedule.
    pub schedule: Schedule,
    /// The period was closed by an admin (no more submissions, whatever the dates say).
    pub period_closed: bool,
    /// The registration's fee.
    pub fee: Money,
    /// The capacity answer (see [`SeatAnswer`]).
    pub seat: SeatAnswer,
    /// Money in flight.
    pub payment: PaymentFacts,
}

/// What the first submission needs to be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubmitFacts {
    /// The current time.
    pub now: DateTime<Utc>,
    /// The period's schedule.
    pub schedule: Schedule,
    /// The period was closed by an admin.
    pub period_closed: bool,
    /// The participant's profile is complete and valid.
    pub profile_complete: bool,
    /// An accepted photo is attached.
    pub photo_accepted: bool,
    /// The region, subjects and exam type are offered by the period.
    pub choice_valid: bool,
    /// The participant already has a live registration in this period.
    pub has_live_registration: bool,
}

/// A side effect the data layer must schedule with the transition (as a job row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Close the open WeChat order (so it can no longer be paid).
    CloseProviderOrder,
    /// Give the payment back through WeChat Pay: record its refund and start the WeChat
    /// refund (exactly once: the `out_refund_no` is derived from the refund's id).
    StartProviderRefund,
    /// Give a bank transfer back by hand: record its refund, which finance returns to the
    /// employer's account and then marks done.
    ReturnTransferByHand,
    /// The money went back: an invoice already issued for it must be reversed (冲红). The data
    /// layer flags the registration's issued invoice, if it has one (a joint invoice as a whole,
    /// naming the person who left).
    ReverseInvoice,
}

/// How the seat count of the registration's region changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatChange {
    /// A seat is taken.
    Take,
    /// The held seat is released.
    Release,
    /// No change.
    Keep,
}

/// An accepted transition: what to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The status before.
    pub from: Status,
    /// The status after (the state may equal `from.state` when only the flag changes).
    pub to: Status,
    /// The event applied.
    pub event: EventKind,
    /// Jobs to schedule in the same transaction.
    pub effects: Vec<Effect>,
    /// The payment method to record (on payment).
    pub paid_via: Option<PaymentMethod>,
}

impl Decision {
    /// How the region's seat count changes: derived from whether each state holds a seat.
    pub fn seat_change(&self) -> SeatChange {
        match (self.from.state.holds_seat(), self.to.state.holds_seat()) {
            (false, true) => SeatChange::Take,
            (true, false) => SeatChange::Release,
            _ => SeatChange::Keep,
        }
    }
}

/// What the participant is told (a WeChat subscribe message) when a status change happens,
/// or when their admission ticket is ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Notice {
    /// Approved: pay now.
    Approved,
    /// Rejected, with the reason.
    Rejected,
    /// The payment was confirmed.
    Paid,
    /// Closed by the clock (deadline passed or the sitting ended).
    Closed,
    /// Finance approved the refund: the money is on its way back.
    RefundApproved,
    /// Finance refused the refund, with the reason (the seat is kept).
    RefundDenied,
    /// The money went back.
    Refunded,
    /// WeChat Pay could not make the refund: finance is handling it.
    RefundFailed,
    /// The admission ticket (准考证) was published and is ready to open and save. Not a status
    /// change: the registration stays checked in; [`Decision::notice`] never returns it.
    TicketPublished,
}

impl Notice {
    /// Every notice.
    pub const ALL: [Notice; 9] = [
        Notice::Approved,
        Notice::Rejected,
        Notice::Paid,
        Notice::Closed,
        Notice::RefundApproved,
        Notice::RefundDenied,
        Notice::Refunded,
        Notice::RefundFailed,
        Notice::TicketPublished,
    ];
}

impl Decision {
    /// The notice this change sends the participant, if any.
    pub fn notice(&self) -> Option<Notice> {
        match (self.event, self.to.state) {
            (EventKind::Approve, State::AwaitingPayment) => Some(Notice::Approved),
            (EventKind::Reject, State::Rejected) => Some(Notice::Rejected),
            (EventKind::ConfirmPayment, State::Paid) => Some(Notice::Paid),
            (EventKind::PaymentDeadlinePassed | EventKind::SittingEnded, State::Closed) => {
                Some(Notice::Closed)
            }
            (EventKind::ApproveRefund, State::Refunding) => Some(Notice::RefundApproved),
            (EventKind::DenyRefund, State::RefundDenied) => Some(Notice::RefundDenied),
            (EventKind::RefundSucceeded, State::Refunded) => Some(Notice::Refunded),
            (EventKind::RefundFailed, State::Refunding) => Some(Notice::RefundFailed),
            _ => None,
        }
    }
}

/// An event that was accepted but has nothing left to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unchanged {
    /// A second payment confirmation: the registration is already paid.
    AlreadyPaid,
    /// A second check-in: the registration is already checked in.
    AlreadyCheckedIn,
    /// The overdue-transfer flag was raised before.
    AlreadyFlagged,
    /// The payment deadline passed but a WeChat order is still open: the money may be on its
    /// way (paid at the last second, notification not yet here). The order is closed at
    /// WeChat Pay first — which finds it paid, or closes it — and the deadline applies after.
    OrderStillOpen,
}

/// The result of an accepted event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// The status changes: write it with its event-log row.
    Moved(Decision),
    /// Idempotent repeat: nothing is written.
    Unchanged(Unchanged),
}

/// Why an event is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    /// The lifecycle table has no such transition from this state.
    #[error("当前状态不能进行此操作")]
    NotInTable,
    /// The transition exists but this actor may not cause it.
    #[error("无权进行此操作")]
    WrongActor,
    /// The registration window is not open.
    #[error("不在报名时间内")]
    RegistrationClosed,
    /// The profile is incomplete.
    #[error("请先完善个人信息")]
    ProfileIncomplete,
    /// No accepted photo.
    #[error("请先上传合格的一寸白底免冠照片")]
    PhotoMissing,
    /// Region, subjects or exam type not offered by the period.
    #[error("所选地区、科目或考试类型不在本期开放范围内")]
    InvalidChoice,
    /// Another live registration exists in this period.
    #[error("本期次已有报名，不能重复报名")]
    DuplicateRegistration,
    /// The region has no seat left.
    #[error("该地区名额已满")]
    Full,
    /// A payment is being made right now.
    #[error("支付正在进行中，请稍后再试")]
    PaymentInFlight,
    /// The payment deadline has passed: no new payment may start.
    #[error("已过缴费截止时间")]
    PaymentClosed,
    /// The fee is zero: there is nothing to pay by WeChat Pay.
    #[error("应缴费用为零，无需在线支付，请联系工作人员")]
    NothingToPay,
    /// The amount paid differs from the fee.
    #[error("支付金额（{received}元）与应缴费用（{expected}元）不符")]
    AmountMismatch {
        /// The fee.
        expected: Money,
        /// What arrived.
        received: Money,
    },
    /// Check-in outside the check-in window.
    #[error("不在报到时间内")]
    CheckInClosed,
    /// A participant must scan the venue's code.
    #[error("请扫描考点报到二维码")]
    VenueCodeRequired,
    /// A refund was requested: the person cannot check in while it is pending.
    #[error("您已申请退款，如需参加考试，请先撤回退款申请再扫码报到")]
    CancelRefundFirst,
    /// The clock fired before the payment deadline.
    #[error("尚未到缴费截止时间")]
    DeadlineNotReached,
    /// The clock fired before the sitting ended.
    #[error("考试尚未结束")]
    SittingNotEnded,
    /// The seat answer was missing for an approval (a caller bug, refused rather than guessed).
    #[error("名额未确认")]
    SeatNotAsked,
    /// A refund retry was asked for while the provider has not reported the refund failed.
    #[error("该退款未失败，无需重新发起")]
    RefundNotFailed,
}

impl Refusal {
    /// A stable machine-readable code (for API error bodies).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotInTable => "not_allowed_in_state",
            Refusal::WrongActor => "forbidden_for_actor",
            Refusal::RegistrationClosed => "registration_closed",
            Refusal::ProfileIncomplete => "profile_incomplete",
            Refusal::PhotoMissing => "photo_missing",
            Refusal::InvalidChoice => "invalid_choice",
            Refusal::DuplicateRegistration => "duplicate_registration",
            Refusal::Full => "region_full",
            Refusal::PaymentInFlight => "payment_in_flight",
            Refusal::PaymentClosed => "payment_closed",
            Refusal::NothingToPay => "nothing_to_pay",
            Refusal::AmountMismatch { .. } => "amount_mismatch",
            Refusal::CheckInClosed => "checkin_closed",
            Refusal::VenueCodeRequired => "venue_code_required",
            Refusal::CancelRefundFirst => "cancel_refund_first",
            Refusal::DeadlineNotReached => "deadline_not_reached",
            Refusal::SittingNotEnded => "sitting_not_ended",
            Refusal::SeatNotAsked => "seat_not_asked",
            Refusal::RefundNotFailed => "refund_not_failed",
        }
    }
}

/// A refused transition: the state, the event and why. Nothing was changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{} 状态下不能执行 {}：{refusal}", state.map_or("（新报名）", State::as_str), event.as_str())]
pub struct TransitionError {
    /// The state the registration was in (`None` for a first submission).
    pub state: Option<State>,
    /// The attempted event.
    pub event: EventKind,
    /// Why it was refused.
    pub refusal: Refusal,
}

/// Decides the first submission: the new registration's status.
pub fn submit(actor: Actor, facts: &SubmitFacts) -> Result<Status, TransitionError> {
    let refuse = |refusal| TransitionError { state: None, event: EventKind::Submit, refusal };
    if actor != Actor::Participant {
        return Err(refuse(Refusal::WrongActor));
    }
    if facts.period_closed || !facts.schedule.registration_open(facts.now) {
        return Err(refuse(Refusal::RegistrationClosed));
    }
    if !facts.profile_complete {
        return Err(refuse(Refusal::ProfileIncomplete));
    }
    if !facts.photo_accepted {
        return Err(refuse(Refusal::PhotoMissing));
    }
    if !facts.choice_valid {
        return Err(refuse(Refusal::InvalidChoice));
    }
    if facts.has_live_registration {
        return Err(refuse(Refusal::DuplicateRegistration));
    }
    Ok(Status::new(State::PendingReview))
}

/// Which actors may cause an event (admin may do whatever any staff role may).
fn actor_allowed(event: &Event, actor: Actor) -> bool {
    use Actor as A;
    let staff = |role: Actor| actor == role || actor == A::Admin;
    match event {
        Event::Submit
        | Event::Resubmit
        | Event::Withdraw
        | Event::DeclareTransfer
        | Event::RequestRefund { .. }
        | Event::CancelRefundRequest => actor == A::Participant,
        Event::Approve | Event::Reject { .. } => staff(A::Reviewer),
        Event::TransferNotReceived { .. }
        | Event::ApproveRefund
        | Event::DenyRefund { .. }
        | Event::RetryRefund => staff(A::Finance),
        Event::ConfirmPayment { via: PaymentMethod::WechatPay, .. } => actor == A::PaymentProvider,
        Event::ConfirmPayment { via: PaymentMethod::BankTransfer, .. } => staff(A::Finance),
        Event::CheckIn { .. } => actor == A::Participant || staff(A::CheckinStaff),
        Event::RefundSucceeded => actor == A::PaymentProvider || staff(A::Finance),
        Event::RefundFailed { .. } => actor == A::PaymentProvider,
        Event::PaymentDeadlinePassed | Event::SittingEnded => actor == A::Clock,
    }
}

/// Decides an event on an existing registration.
///
/// Checks, in order: that the lifecycle table has the transition from this state, that the
/// actor may cause it (so a wrong actor learns nothing about the guard), then the guard. Returns what to write, or why nothing may change.
pub fn decide(
    status: Status,
    event: &Event,
    actor: Actor,
    facts: &Facts,
) -> Result<Step, TransitionError> {
    use State as S;
    let refuse =
        |refusal| TransitionError { state: Some(status.state), event: event.kind(), refusal };
    let now = facts.now;
    let schedule = &facts.schedule;
    let decision = |to: State, flag: Option<Flag>, effects: Vec<Effect>| Decision {
        from: status,
        to: Status { state: to, flag },
        event: event.kind(),
        effects,
        paid_via: None,
    };
    let moved = |to, flag, effects| Step::Moved(decision(to, flag, effects));
    let close_order = || {
        if facts.payment.open_order { vec![Effect::CloseProviderOrder] } else { vec![] }
    };
    // WeChat money goes back through WeChat Pay; finance returns a transfer by hand and then
    // confirms the refund.
    let refund_effects = || match facts.payment.paid_via {
        Some(PaymentMethod::WechatPay) => vec![Effect::StartProviderRefund],
        Some(PaymentMethod::BankTransfer) | None => vec![Effect::ReturnTransferByHand],
    };

    // Each arm is one row (or a few rows) of the transition table (`docs/lifecycle.md`): the actor is checked first,
    // then the guard. Anything without an arm is not in the table.
    let permit = || {
        if actor_allowed(event, actor) { Ok(()) } else { Err(refuse(Refusal::WrongActor)) }
    };
    let step = match (status.state, event) {
        (S::Rejected, Event::Resubmit) => {
            permit()?;
            if facts.period_closed || !schedule.registration_open(now) {
                return Err(refuse(Refusal::RegistrationClosed));
            }
            moved(S::PendingReview, None, vec![])
        }
        (S::PendingReview | S::Rejected | S::AwaitingPayment, Event::Withdraw) => {
            permit()?;
            if facts.payment.in_flight {
                return Err(refuse(Refusal::PaymentInFlight));
            }
            moved(S::Withdrawn, None, close_order())
        }
        (S::PendingReview, Event::Approve) => {
            permit()?;
            match facts.seat {
                SeatAnswer::Taken => moved(S::AwaitingPayment, None, vec![]),
                SeatAnswer::Full => return Err(refuse(Refusal::Full)),
                SeatAnswer::NotAsked => return Err(refuse(Refusal::SeatNotAsked)),
            }
        }
        (S::PendingReview, Event::Reject { .. }) => {
            permit()?;
            moved(S::Rejected, None, vec![])
        }
        (S::AwaitingPayment, Event::DeclareTransfer) => {
            permit()?;
            if schedule.payment_deadline_passed(now) {
                return Err(refuse(Refusal::PaymentClosed));
            }
            moved(S::AwaitingTransfer, None, vec![])
        }
        (S::AwaitingTransfer, Event::TransferNotReceived { .. }) => {
            permit()?;
            moved(S::AwaitingPayment, None, vec![])
        }
        (S::Paid, Event::ConfirmPayment { .. }) => {
            permit()?;
            Step::Unchanged(Unchanged::AlreadyPaid)
        }
        (S::AwaitingPayment | S::AwaitingTransfer, Event::ConfirmPayment { amount, via }) => {
            permit()?;
            if *amount != facts.fee {
                return Err(refuse(Refusal::AmountMismatch {
                    expected: facts.fee,
                    received: *amount,
                }));
            }
            Step::Moved(Decision { paid_via: Some(*via), ..decision(S::Paid, None, vec![]) })
        }
        (S::CheckedIn, Event::CheckIn { .. }) => {
            permit()?;
            Step::Unchanged(Unchanged::AlreadyCheckedIn)
        }
        (S::Paid | S::RefundDenied, Event::CheckIn { proof, .. }) => {
            permit()?;
            if actor == Actor::Participant && *proof == CheckInProof::Staff {
                return Err(refuse(Refusal::VenueCodeRequired));
            }
            if actor != Actor::Participant && *proof != CheckInProof::Staff {
                // Staff check people in by hand; a venue code is the participant's own proof.
                return Err(refuse(Refusal::WrongActor));
            }
            if !schedule.checkin_open(now) {
                return Err(refuse(Refusal::CheckInClosed));
            }
            moved(S::CheckedIn, None, vec![])
        }
        (S::RefundRequested, Event::CheckIn { .. }) => {
            permit()?;
            return Err(refuse(Refusal::CancelRefundFirst));
        }
        (S::Paid, Event::RequestRefund { .. }) => {
            permit()?;
            moved(S::RefundRequested, None, vec![])
        }
        (S::RefundRequested, Event::CancelRefundRequest) => {
            permit()?;
            moved(S::Paid, None, vec![])
        }
        (S::RefundRequested, Event::ApproveRefund) => {
            permit()?;
            moved(S::Refunding, None, refund_effects())
        }
        (S::RefundRequested, Event::DenyRefund { .. }) => {
            permit()?;
            moved(S::RefundDenied, None, vec![])
        }
        (S::Refunding, Event::RefundSucceeded) => {
            permit()?;
            moved(S::Refunded, None, vec![Effect::ReverseInvoice])
        }
        (S::Refunding, Event::RefundFailed { .. }) => {
            permit()?;
            moved(S::Refunding, Some(Flag::RefundFailed), vec![])
        }
        // "finance retries or refunds offline": a retry clears the flag and starts a new
        // provider refund (an offline refund is `RefundSucceeded` by finance).
        (S::Refunding, Event::RetryRefund) => {
            permit()?;
            if status.flag != Some(Flag::RefundFailed) {
                return Err(refuse(Refusal::RefundNotFailed));
            }
            moved(S::Refunding, None, refund_effects())
        }
        (S::AwaitingTransfer, Event::PaymentDeadlinePassed) => {
            permit()?;
            if !schedule.payment_deadline_passed(now) {
                return Err(refuse(Refusal::DeadlineNotReached));
            }
            if status.flag == Some(Flag::TransferOverdue) {
                Step::Unchanged(Unchanged::AlreadyFlagged)
            } else {
                moved(S::AwaitingTransfer, Some(Flag::TransferOverdue), vec![])
            }
        }
        (S::AwaitingPayment, Event::PaymentDeadlinePassed) => {
            permit()?;
            if !schedule.payment_deadline_passed(now) {
                return Err(refuse(Refusal::DeadlineNotReached));
            }
            if facts.payment.open_order {
                Step::Unchanged(Unchanged::OrderStillOpen)
            } else {
                moved(S::Closed, None, vec![])
            }
        }
        (
            from @ (S::CheckedIn | S::PendingReview | S::AwaitingPayment | S::AwaitingTransfer),
            Event::SittingEnded,
        ) => {
            permit()?;
            if !schedule.sitting_ended(now) {
                return Err(refuse(Refusal::SittingNotEnded));
            }
            match from {
                S::CheckedIn => moved(S::Completed, None, vec![]),
                S::AwaitingPayment => moved(S::Closed, None, close_order()),
                _ => moved(S::Closed, None, vec![]),
            }
        }
        _ => return Err(refuse(Refusal::NotInTable)),
    };
    Ok(step)
}

/// Whether the participant may start paying by WeChat Pay now (open an order, or pay the open
/// one): exactly when declaring a transfer would be accepted — an approved, unpaid
/// registration before the payment deadline.
pub fn may_start_payment(status: Status, facts: &Facts) -> Result<(), TransitionError> {
    decide(status, &Event::DeclareTransfer, Actor::Participant, facts)
        .map_err(|e| TransitionError { event: EventKind::ConfirmPayment, ..e })?;
    if facts.fee.is_zero() {
        return Err(TransitionError {
            state: Some(status.state),
            event: EventKind::ConfirmPayment,
            refusal: Refusal::NothingToPay,
        });
    }
    Ok(())
}

impl Status {
    /// Applies an event in place: on success the status becomes the decision's target; on a
    /// refusal (or an idempotent repeat) it stays exactly as it was.
    pub fn apply(
        &mut self,
        event: &Event,
        actor: Actor,
        facts: &Facts,
    ) -> Result<Step, TransitionError> {
        let step = decide(*self, event, actor, facts)?;
        if let Step::Moved(decision) = &step {
            *self = decision.to;
        }
        Ok(step)
    }
}

#[cfg(test)]
mod tests;
