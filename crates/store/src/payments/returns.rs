//! Money going back, and what it does to its registration: WeChat Pay's word on a refund
//! ([`refund_progress`]: a participant's refund that succeeded makes the registration
//! `refunded`; one that failed flags it for finance), finance's hand-made return of a bank
//! transfer ([`returned_by_finance`]), and finance's way out of a WeChat refund that WeChat
//! Pay closed or reported abnormal: a retry under a new refund number ([`retry_refund`]) or
//! a refund made offline ([`refunded_offline`]). Each in one transaction with the status
//! change and, for finance's actions, the audit entry.

use baoming_domain::ids::RefundId;
use baoming_domain::lifecycle::{Event, PaymentMethod, Reason};

use crate::transition::Applied;
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use super::RefundState;
use super::refunds::{self, Refund};
use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::schema::refunds as refunds_table;
use crate::transition::{self, Ctx, Who};
use crate::{audit, sql};

/// What WeChat Pay says about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundProgress {
    /// Accepted; the money is on its way.
    Processing {
        /// WeChat's refund id.
        provider_refund_id: String,
    },
    /// The money went back.
    Succeeded {
        /// WeChat's refund id.
        provider_refund_id: String,
    },
    /// WeChat could not refund (the payer's account is closed, …): finance must act.
    Abnormal {
        /// WeChat's refund id.
        provider_refund_id: String,
    },
    /// WeChat closed the refund.
    Closed {
        /// WeChat's refund id.
        provider_refund_id: String,
    },
}

/// Records where a refund stands. When it ends and it was the participant's refund, the
/// registration moves with it in the same transaction (`refunding → refunded`, or flagged
/// `refund_failed` for finance). Reporting the same progress again changes nothing.
pub fn refund_progress(
    conn: &mut DbConnection,
    id: RefundId,
    progress: &RefundProgress,
    now: DateTime<Utc>,
) -> Result<Refund, StoreError> {
    write_tx(conn, |conn| {
        let refund = refunds::lock_refund(conn, id)?;
        let (state, provider_id) = match progress {
            RefundProgress::Processing { provider_refund_id } => {
                (RefundState::Processing, provider_refund_id)
            }
            RefundProgress::Succeeded { provider_refund_id } => {
                (RefundState::Succeeded, provider_refund_id)
            }
            RefundProgress::Abnormal { provider_refund_id } => {
                (RefundState::Abnormal, provider_refund_id)
            }
            RefundProgress::Closed { provider_refund_id } => {
                (RefundState::Closed, provider_refund_id)
            }
        };
        let finished = refund.state.is_final();
        let backwards = state == RefundState::Processing && refund.state != RefundState::Pending;
        if refund.state == state || finished || backwards {
            if finished && refund.offline_note.is_some() && state == RefundState::Succeeded {
                tracing::warn!(refund = %id, "WeChat Pay reports a refund succeeded that finance recorded as refunded offline: check for a double refund");
            }
            return Ok(refund);
        }
        diesel::update(refunds_table::table.find(sql::text(id)))
            .set((
                refunds_table::state.eq(state.as_str()),
                refunds_table::provider_refund_id.eq(provider_id),
                refunds_table::provider_status.eq(state.as_str()),
                refunds_table::updated_at.eq(sql::ts(now)),
            ))
            .execute(conn)?;
        // A superseded refund no longer speaks for its registration: its retry does.
        if refund.of_applied_payment && refund.superseded_by.is_none() {
            let event = match state {
                RefundState::Succeeded => Some(Event::RefundSucceeded),
                RefundState::Abnormal | RefundState::Closed => Some(Event::RefundFailed {
                    reason: Reason::parse(if state == RefundState::Abnormal {
                        "微信退款异常（ABNORMAL），请财务处理"
                    } else {
                        "微信退款已关闭（CLOSED），请财务处理"
                    })
                    .map_err(StoreError::corrupt)?,
                }),
                RefundState::Pending | RefundState::Processing => None,
            };
            if let Some(event) = event {
                let ctx = Ctx { who: Who::PaymentProvider, now, request_id: None };
                transition::apply_event(conn, refund.registration, &event, &ctx, false)?;
            }
        }
        refunds::get_refund(conn, id)
    })
}

/// Why finance cannot return, retry or settle a refund by hand (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    /// WeChat refunds are carried out by the worker, not by hand.
    #[error("微信支付的退款由系统自动办理")]
    NotByHand,
    /// It was already returned.
    #[error("该退款已办理完成")]
    AlreadyDone,
    /// A bank transfer is returned by hand and marked returned, never retried at WeChat Pay.
    #[error("银行转账的退款请退回后标记“已退回”")]
    TransferByHand,
    /// WeChat Pay has not reported the refund closed or abnormal: it is still under way (or
    /// done), so retrying it or refunding it offline could pay twice.
    #[error("该退款状态为“{}”，只有微信退款关闭或异常时才能重新发起或登记线下退款", .0.label_zh())]
    NotFailed(RefundState),
    /// It was retried already: finance acts on its retry (the live refund).
    #[error("该退款已重新发起，请处理新的退款单")]
    Superseded,
    /// The data layer failed (or the refund is unknown).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finance returned a bank transfer by hand (a transfer the registration could not take, or a
/// refund of a transfer-paid registration): the refund is done; for the participant's own
/// refund the registration becomes `refunded`. Audited in the same transaction.
pub fn returned_by_finance(
    conn: &mut DbConnection,
    id: RefundId,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Result<Refund, ReturnError> {
    write_tx(conn, |conn| {
        let refund = refunds::lock_refund(conn, id)?;
        if refund.method != PaymentMethod::BankTransfer {
            return Err(ReturnError::NotByHand);
        }
        if refund.state == RefundState::Succeeded {
            return Err(ReturnError::AlreadyDone);
        }
        refunds::settle_by_hand(conn, id, None, actor.staff.map(|s| s.to_string()), ctx.now)?;
        if refund.of_applied_payment {
            transition::apply_event(
                conn,
                refund.registration,
                &Event::RefundSucceeded,
                ctx,
                false,
            )?;
        }
        let entry = audit::Entry {
            actor: actor.clone(),
            action: "refund_returned".into(),
            target_kind: Some("refund".into()),
            target_id: Some(id.to_string()),
            summary: Some(serde_json::json!({
                "registration": refund.registration.to_string(),
                "amount_fen": refund.amount.fen(),
            })),
        };
        audit::record(conn, &entry, ctx.now)?;
        Ok(refunds::get_refund(conn, id)?)
    })
}

/// Checks that finance may act on a WeChat refund WeChat Pay could not make.
fn check_failed_wechat_refund(refund: &Refund) -> Result<(), ReturnError> {
    if refund.method != PaymentMethod::WechatPay {
        return Err(ReturnError::TransferByHand);
    }
    if refund.superseded_by.is_some() {
        return Err(ReturnError::Superseded);
    }
    if !refund.state.failed_at_provider() {
        return Err(ReturnError::NotFailed(refund.state));
    }
    Ok(())
}

/// Finance retries a WeChat refund that WeChat Pay closed or reported abnormal: a new refund
/// of the same money under a new `out_refund_no`, linked to the old one, which the worker
/// carries out exactly once. For the participant's own refund the registration's
/// `refund_failed` flag is cleared by the state machine (`RetryRefund`), which schedules the
/// retry as its effect; for money a registration could not take, the retry is scheduled
/// directly. Each refund is retried at most once (a second call is [`ReturnError::Superseded`]).
/// Audited in the same transaction. Returns the new refund.
pub fn retry_refund(
    conn: &mut DbConnection,
    id: RefundId,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Result<Refund, ReturnError> {
    write_tx(conn, |conn| {
        let old = refunds::lock_refund(conn, id)?;
        check_failed_wechat_refund(&old)?;
        if old.of_applied_payment {
            match transition::apply_event(conn, old.registration, &Event::RetryRefund, ctx, false)?
            {
                Applied::Moved { .. } => {}
                Applied::Unchanged { .. } => {
                    return Err(StoreError::corrupt("a refund retry that changed nothing").into());
                }
            }
        } else {
            refunds::retry_refund(conn, &old, ctx.now).map_err(|e| match e {
                StoreError::Duplicate { .. } => ReturnError::Superseded,
                other => other.into(),
            })?;
        }
        let old = refunds::get_refund(conn, id)?;
        let new = old
            .superseded_by
            .ok_or_else(|| StoreError::corrupt("a refund retry without its new refund"))?;
        let entry = audit::Entry {
            actor: actor.clone(),
            action: "refund_retry".into(),
            target_kind: Some("refund".into()),
            target_id: Some(id.to_string()),
            summary: Some(serde_json::json!({
                "registration": old.registration.to_string(),
                "amount_fen": old.amount.fen(),
                "failed_state": old.state.as_str(),
                "old_out_refund_no": old.out_refund_no,
                "new_refund": new.to_string(),
            })),
        };
        audit::record(conn, &entry, ctx.now)?;
        Ok(refunds::get_refund(conn, new)?)
    })
}

/// Finance records that a WeChat refund WeChat Pay closed or reported abnormal was refunded
/// offline (a bank transfer to the payer, the merchant platform's abnormal-refund handling …),
/// with a note: the refund is done; for the participant's own refund the registration becomes
/// `refunded` (the money went back, so an issued invoice is flagged for reversal). Audited in
/// the same transaction.
pub fn refunded_offline(
    conn: &mut DbConnection,
    id: RefundId,
    note: &Reason,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Result<Refund, ReturnError> {
    write_tx(conn, |conn| {
        let refund = refunds::lock_refund(conn, id)?;
        check_failed_wechat_refund(&refund)?;
        refunds::settle_by_hand(
            conn,
            id,
            Some(note.as_str()),
            actor.staff.map(|s| s.to_string()),
            ctx.now,
        )?;
        if refund.of_applied_payment {
            transition::apply_event(
                conn,
                refund.registration,
                &Event::RefundSucceeded,
                ctx,
                false,
            )?;
        }
        let entry = audit::Entry {
            actor: actor.clone(),
            action: "refund_offline".into(),
            target_kind: Some("refund".into()),
            target_id: Some(id.to_string()),
            summary: Some(serde_json::json!({
                "registration": refund.registration.to_string(),
                "amount_fen": refund.amount.fen(),
                "failed_state": refund.state.as_str(),
                "out_refund_no": refund.out_refund_no,
                "note": note.as_str(),
            })),
        };
        audit::record(conn, &entry, ctx.now)?;
        Ok(refunds::get_refund(conn, id)?)
    })
}

crate::error::wraps_store_error!(ReturnError);
