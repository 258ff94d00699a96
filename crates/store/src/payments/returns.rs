//! Money going back, and what it does to its registration: WeChat Pay's word on a refund
//! ([`refund_progress`]: a participant's refund that succeeded makes the registration
//! `refunded`; one that failed flags it for finance) and finance's hand-made return of a bank
//! transfer ([`returned_by_finance`]). Each in one transaction with the status change.

use baoming_domain::ids::RefundId;
use baoming_domain::lifecycle::{Event, PaymentMethod, Reason};
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
        let finished = matches!(refund.state, RefundState::Succeeded | RefundState::Closed);
        let backwards = state == RefundState::Processing && refund.state != RefundState::Pending;
        if refund.state == state || finished || backwards {
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
        if refund.of_applied_payment {
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

/// Why finance cannot mark a refund returned.
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    /// WeChat refunds are carried out by the worker, not by hand.
    #[error("微信支付的退款由系统自动办理")]
    NotByHand,
    /// It was already returned.
    #[error("该退款已办理完成")]
    AlreadyDone,
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
        diesel::update(refunds_table::table.find(sql::text(id)))
            .set((
                refunds_table::state.eq(RefundState::Succeeded.as_str()),
                refunds_table::updated_at.eq(sql::ts(ctx.now)),
            ))
            .execute(conn)?;
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

crate::error::wraps_store_error!(ReturnError);
