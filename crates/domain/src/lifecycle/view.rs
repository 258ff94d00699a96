//! What the participant sees in "My exams" (我的考试): tabs and tags, derived, never stored.

use serde::Serialize;

use super::state::State;

/// A tab of "My exams".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tab {
    /// 待审核
    PendingReview,
    /// 待支付
    AwaitingPayment,
    /// 待报到
    AwaitingCheckIn,
    /// 已报到
    CheckedIn,
    /// 已过期
    Expired,
}

impl Tab {
    /// Every tab, in the order the mini-program shows them.
    pub const ALL: [Tab; 5] = [
        Tab::PendingReview,
        Tab::AwaitingPayment,
        Tab::AwaitingCheckIn,
        Tab::CheckedIn,
        Tab::Expired,
    ];

    /// The stable code (as serialised): `pending_review`, `awaiting_payment`,
    /// `awaiting_check_in`, `checked_in`, `expired`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tab::PendingReview => "pending_review",
            Tab::AwaitingPayment => "awaiting_payment",
            Tab::AwaitingCheckIn => "awaiting_check_in",
            Tab::CheckedIn => "checked_in",
            Tab::Expired => "expired",
        }
    }

    /// The tab's title.
    pub fn label_zh(self) -> &'static str {
        match self {
            Tab::PendingReview => "待审核",
            Tab::AwaitingPayment => "待支付",
            Tab::AwaitingCheckIn => "待报到",
            Tab::CheckedIn => "已报到",
            Tab::Expired => "已过期",
        }
    }

    /// The tab a registration in `state` shows under; `sitting_ended` says whether its
    /// period's sitting has ended.
    pub fn of(state: State, sitting_ended: bool) -> Tab {
        if sitting_ended {
            return Tab::Expired;
        }
        match state {
            State::PendingReview | State::Rejected => Tab::PendingReview,
            State::AwaitingPayment | State::AwaitingTransfer => Tab::AwaitingPayment,
            State::Paid | State::RefundRequested | State::Refunding | State::RefundDenied => {
                Tab::AwaitingCheckIn
            }
            State::CheckedIn => Tab::CheckedIn,
            State::Refunded | State::Withdrawn | State::Closed | State::Completed => Tab::Expired,
        }
    }
}

/// The tag a registration carries in its tab.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tag {
    /// 审核中
    UnderReview,
    /// 审核不通过 (under 已过期 the manual words it 审核未通过)
    ReviewNotPassed,
    /// 待支付
    AwaitingPayment,
    /// 待确认到账
    AwaitingTransferConfirmation,
    /// 已支付
    Paid,
    /// 退款审核中
    RefundUnderReview,
    /// 退款中
    Refunding,
    /// 已退款
    Refunded,
    /// 退款失败
    RefundFailed,
    /// 已报到
    CheckedIn,
    /// 已完成
    Completed,
    /// 已取消
    Withdrawn,
    /// 已关闭
    Closed,
}

impl Tag {
    /// Every tag.
    pub const ALL: [Tag; 13] = [
        Tag::UnderReview,
        Tag::ReviewNotPassed,
        Tag::AwaitingPayment,
        Tag::AwaitingTransferConfirmation,
        Tag::Paid,
        Tag::RefundUnderReview,
        Tag::Refunding,
        Tag::Refunded,
        Tag::RefundFailed,
        Tag::CheckedIn,
        Tag::Completed,
        Tag::Withdrawn,
        Tag::Closed,
    ];

    /// The stable code (as serialised), e.g. `under_review`.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::UnderReview => "under_review",
            Tag::ReviewNotPassed => "review_not_passed",
            Tag::AwaitingPayment => "awaiting_payment",
            Tag::AwaitingTransferConfirmation => "awaiting_transfer_confirmation",
            Tag::Paid => "paid",
            Tag::RefundUnderReview => "refund_under_review",
            Tag::Refunding => "refunding",
            Tag::Refunded => "refunded",
            Tag::RefundFailed => "refund_failed",
            Tag::CheckedIn => "checked_in",
            Tag::Completed => "completed",
            Tag::Withdrawn => "withdrawn",
            Tag::Closed => "closed",
        }
    }

    /// The tag of a state (the states table of `docs/lifecycle.md`).
    pub fn of(state: State) -> Tag {
        match state {
            State::PendingReview => Tag::UnderReview,
            State::Rejected => Tag::ReviewNotPassed,
            State::AwaitingPayment => Tag::AwaitingPayment,
            State::AwaitingTransfer => Tag::AwaitingTransferConfirmation,
            State::Paid => Tag::Paid,
            State::RefundRequested => Tag::RefundUnderReview,
            State::Refunding => Tag::Refunding,
            State::Refunded => Tag::Refunded,
            State::RefundDenied => Tag::RefundFailed,
            State::CheckedIn => Tag::CheckedIn,
            State::Completed => Tag::Completed,
            State::Withdrawn => Tag::Withdrawn,
            State::Closed => Tag::Closed,
        }
    }

    /// The tag's text in a given tab: the manual words a rejection 审核不通过 under 待审核 and
    /// 审核未通过 under 已过期.
    pub fn label_zh(self, tab: Tab) -> &'static str {
        match self {
            Tag::UnderReview => "审核中",
            Tag::ReviewNotPassed if tab == Tab::Expired => "审核未通过",
            Tag::ReviewNotPassed => "审核不通过",
            Tag::AwaitingPayment => "待支付",
            Tag::AwaitingTransferConfirmation => "待确认到账",
            Tag::Paid => "已支付",
            Tag::RefundUnderReview => "退款审核中",
            Tag::Refunding => "退款中",
            Tag::Refunded => "已退款",
            Tag::RefundFailed => "退款失败",
            Tag::CheckedIn => "已报到",
            Tag::Completed => "已完成",
            Tag::Withdrawn => "已取消",
            Tag::Closed => "已关闭",
        }
    }
}

impl State {
    /// The participant's word for a state (its tag as 待审核 shows it).
    pub fn label_zh(self) -> &'static str {
        Tag::of(self).label_zh(Tab::PendingReview)
    }
}

/// Something the participant can do with a registration now (a button in "My exams").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// 重新报名: edit and resubmit a rejected registration.
    Resubmit,
    /// 取消报名: withdraw before paying.
    Withdraw,
    /// 去支付: pay by WeChat Pay.
    PayWechat,
    /// 线下转账: declare an employer bank transfer.
    DeclareTransfer,
    /// 扫码报到: check in at the venue.
    CheckIn,
    /// 申请退款: ask for the fee back.
    RequestRefund,
    /// 撤回退款申请: take the refund request back.
    CancelRefundRequest,
    /// 查看准考证: open the admission ticket. Not an event of the state machine: offered when
    /// the registration's ticket exists and its period's tickets are published
    /// ([`Action::available_with_ticket`]).
    ViewTicket,
}

impl Action {
    /// The stable code (as serialised), e.g. `pay_wechat`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Resubmit => "resubmit",
            Action::Withdraw => "withdraw",
            Action::PayWechat => "pay_wechat",
            Action::DeclareTransfer => "declare_transfer",
            Action::CheckIn => "check_in",
            Action::RequestRefund => "request_refund",
            Action::CancelRefundRequest => "cancel_refund_request",
            Action::ViewTicket => "view_ticket",
        }
    }

    /// The event each action would send, with a placeholder where a person types a reason;
    /// `None` for an action that is not an event ([`Action::ViewTicket`]).
    fn probe(self) -> Option<super::Event> {
        use super::{CheckInProof, Event, Reason};
        let reason =
            || Reason::parse("-").unwrap_or_else(|_| unreachable!("'-' is a valid reason"));
        Some(match self {
            Action::Resubmit => Event::Resubmit,
            Action::Withdraw => Event::Withdraw,
            // Paying is possible exactly when declaring a transfer is: both need an approved,
            // unpaid registration (the amount is the fee by construction).
            Action::PayWechat | Action::DeclareTransfer => Event::DeclareTransfer,
            Action::CheckIn => Event::CheckIn { proof: CheckInProof::RotatingCode, venue: None },
            Action::RequestRefund => Event::RequestRefund { reason: reason() },
            Action::CancelRefundRequest => Event::CancelRefundRequest,
            Action::ViewTicket => return None,
        })
    }

    /// Every action, in the order the mini-program shows buttons.
    pub const ALL: [Action; 8] = [
        Action::ViewTicket,
        Action::Resubmit,
        Action::PayWechat,
        Action::DeclareTransfer,
        Action::CheckIn,
        Action::RequestRefund,
        Action::CancelRefundRequest,
        Action::Withdraw,
    ];

    /// The actions the state machine would accept from the participant now: computed by
    /// asking [`super::decide`], so the buttons can never disagree with the rules.
    pub fn available(status: super::Status, facts: &super::Facts) -> Vec<Action> {
        Action::available_with_ticket(status, facts, false)
    }

    /// [`Action::available`], and [`Action::ViewTicket`] first when `ticket_published` (the
    /// registration has an admission ticket and its period's tickets are published).
    pub fn available_with_ticket(
        status: super::Status,
        facts: &super::Facts,
        ticket_published: bool,
    ) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|action| match action.probe() {
                None => ticket_published,
                Some(probe) => matches!(
                    super::decide(status, &probe, super::Actor::Participant, facts),
                    Ok(super::Step::Moved(_))
                ),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serialised<T: Serialize>(value: T) -> String {
        match serde_json::to_value(value) {
            Ok(serde_json::Value::String(code)) => code,
            other => panic!("not a string: {other:?}"),
        }
    }

    #[test]
    fn codes_are_what_serde_writes() {
        for tab in Tab::ALL {
            assert_eq!(tab.as_str(), serialised(tab));
        }
        for tag in Tag::ALL {
            assert_eq!(tag.as_str(), serialised(tag));
        }
        for action in Action::ALL {
            assert_eq!(action.as_str(), serialised(action));
        }
    }
}
