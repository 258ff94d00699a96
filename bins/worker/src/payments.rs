//! The WeChat Pay jobs: closing an order, recovering an order's payment by querying it, and
//! carrying out a refund — each idempotent (stable `out_trade_no` / `out_refund_no`, state
//! checked before acting, a refund looked up before it is requested).

use baoming_domain::ids::{OrderId, RefundId, RegistrationId};
use baoming_domain::lifecycle::PaymentMethod;
use baoming_payments::{ErrorCode, OutRefundNo, OutTradeNo, PayError, RefundRequest, RefundStatus};
use baoming_store::jobs::{self, Claimed};
use baoming_store::payments::{self, Order, OrderState, RefundState};
use baoming_store::{DbConnection, write_tx};
use chrono::{Duration, Utc};

use crate::handlers::{JobError, Services};

fn pay_failed(what: &str, error: &PayError) -> JobError {
    JobError::Failed(format!("{what}: {error} (retryable: {})", error.retryable()))
}

fn out_trade_no(order: &Order) -> Result<OutTradeNo, JobError> {
    OutTradeNo::parse(&order.out_trade_no)
        .map_err(|e| JobError::Failed(format!("stored out_trade_no: {e}")))
}

/// Marks the order closed and the job done, together.
fn closed_and_done(
    conn: &mut DbConnection,
    claimed: &Claimed,
    order: &Order,
) -> Result<(), JobError> {
    write_tx(conn, |conn| {
        payments::mark_order_closed(conn, order.id, Utc::now())?;
        jobs::complete_in(conn, claimed, Utc::now())
    })?;
    Ok(())
}

/// Asks WeChat Pay about an order and records what it says (`payments::apply_order_answer`):
/// whether the order is settled here now (paid and recorded, or closed).
fn apply_query(
    conn: &mut DbConnection,
    order: &Order,
    services: &Services,
) -> Result<bool, JobError> {
    let no = out_trade_no(order)?;
    let transaction = services
        .runtime
        .block_on(services.pay.client.query_order(&no))
        .map_err(|e| pay_failed("querying the order", &e))?;
    let answer = services
        .pay
        .order_answer(&transaction)
        .map_err(|e| JobError::Failed(format!("order {}: {e}", order.out_trade_no)))?;
    let outcome = payments::apply_order_answer(conn, order.id, &answer, Utc::now(), None)?;
    Ok(outcome.settled())
}

/// Closes the registration's open order at WeChat Pay (withdrawn or closed registrations), so
/// it can no longer be paid. Paid in the meantime: the payment is recorded (and, as the
/// registration cannot take it, given back).
pub fn close_order(
    conn: &mut DbConnection,
    claimed: &Claimed,
    registration: RegistrationId,
    services: &Services,
) -> Result<(), JobError> {
    let Some(order) = payments::order_of(conn, registration)? else {
        return Ok(jobs::complete(conn, claimed, Utc::now())?);
    };
    if order.state != OrderState::Open {
        return Ok(jobs::complete(conn, claimed, Utc::now())?);
    }
    let no = out_trade_no(&order)?;
    match services.runtime.block_on(services.pay.client.close_order(&no)) {
        Ok(()) => closed_and_done(conn, claimed, &order)?,
        // Only a signed error answer is acted on: an unsigned one (a proxy's, a forger's) fails
        // the job, which asks again later.
        Err(PayError::Api { code, signed: true, .. })
            if code == ErrorCode::TradeError
                || matches!(&code, ErrorCode::Other(c) if c == "ORDERPAID") =>
        {
            // Paid before it could be closed: the query records the money. Anything else
            // (the person is paying right now) is tried again.
            if !apply_query(conn, &order, services)? {
                return Err(JobError::Failed(format!(
                    "order {} could not be closed and is not paid yet ({code})",
                    order.out_trade_no
                )));
            }
            jobs::complete(conn, claimed, Utc::now())?;
        }
        Err(PayError::Api { code: ErrorCode::OrderNotExist, signed: true, .. }) => {
            // WeChat never had it (the order call never reached WeChat): nothing to close.
            closed_and_done(conn, claimed, &order)?;
        }
        Err(e) => return Err(pay_failed("closing the order", &e)),
    }
    Ok(())
}

/// Asks WeChat Pay about an order still open here (its notification may be lost): paid →
/// recorded; closed → marked; unpaid → asked again later (sooner while it is fresh), and
/// closed at WeChat Pay once it has expired.
pub fn query_order(
    conn: &mut DbConnection,
    claimed: &Claimed,
    id: OrderId,
    services: &Services,
) -> Result<(), JobError> {
    let order = payments::get_order(conn, id)?;
    if order.state != OrderState::Open {
        return Ok(jobs::complete(conn, claimed, Utc::now())?);
    }
    let now = Utc::now();
    match apply_query(conn, &order, services) {
        Ok(true) => return Ok(jobs::complete(conn, claimed, now)?),
        Ok(false) => {}
        // WeChat Pay never got the order (its creation failed): nothing can be paid yet.
        Err(JobError::Failed(_)) if order.prepay_id.is_none() && now < order.time_expire => {}
        Err(JobError::Failed(_)) if order.prepay_id.is_none() => {
            closed_and_done(conn, claimed, &order)?;
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    if now >= order.time_expire {
        let no = out_trade_no(&order)?;
        services
            .runtime
            .block_on(services.pay.client.close_order(&no))
            .map_err(|e| pay_failed("closing the expired order", &e))?;
        closed_and_done(conn, claimed, &order)?;
        return Ok(());
    }
    let age = now - order.created_at;
    let wait = if age < Duration::minutes(30) {
        Duration::minutes(5)
    } else if age < Duration::hours(6) {
        Duration::minutes(30)
    } else {
        Duration::hours(6)
    };
    jobs::snooze(conn, claimed, (now + wait).min(order.time_expire))?;
    Ok(())
}

/// Carries out a refund at WeChat Pay and follows it to its end. The refund is looked up by
/// its `out_refund_no` before it is requested, so a worker that died after requesting it never
/// requests it twice.
pub fn refund(
    conn: &mut DbConnection,
    claimed: &Claimed,
    id: RefundId,
    services: &Services,
) -> Result<(), JobError> {
    let refund = payments::get_refund(conn, id)?;
    let finished = matches!(
        refund.state,
        RefundState::Succeeded | RefundState::Closed | RefundState::Abnormal
    );
    if refund.method != PaymentMethod::WechatPay || finished {
        return Ok(jobs::complete(conn, claimed, Utc::now())?);
    }
    let (Some(out_refund_no), Some(out_trade_no)) = (&refund.out_refund_no, &refund.out_trade_no)
    else {
        return Err(JobError::Failed("a WeChat refund without its numbers".into()));
    };
    let number = OutRefundNo::parse(out_refund_no)
        .map_err(|e| JobError::Failed(format!("stored out_refund_no: {e}")))?;
    let client = &services.pay.client;
    let known = match services.runtime.block_on(client.query_refund(&number)) {
        Ok(found) => Some(found),
        Err(PayError::Api {
            code: ErrorCode::ResourceNotExists | ErrorCode::OrderNotExist,
            ..
        }) => None,
        Err(e) => return Err(pay_failed("looking the refund up", &e)),
    };
    let answer = match known {
        Some(found) => found,
        None => {
            let request = RefundRequest {
                out_trade_no: OutTradeNo::parse(out_trade_no)
                    .map_err(|e| JobError::Failed(format!("stored out_trade_no: {e}")))?,
                out_refund_no: number.clone(),
                reason: Some(refund.reason.chars().take(80).collect()),
                notify_url: Some(services.pay.notify_url.clone()),
                refund: refund.amount,
                total: refund.payment_amount,
            };
            match services.runtime.block_on(client.refund(&request)) {
                Ok(answer) => answer,
                Err(e) => {
                    payments::refund_error(conn, id, &e.to_string(), Utc::now())?;
                    return Err(pay_failed("requesting the refund", &e));
                }
            }
        }
    };
    let progress = baoming_runtime::pay::refund_progress(&answer.status, answer.refund_id.clone());
    let now = Utc::now();
    let after = payments::refund_progress(conn, id, &progress, now)?;
    if after.state == RefundState::Processing || answer.status == RefundStatus::Processing {
        // Asked again soon while it is fresh, then less often (a refund to a bank card may
        // take days): a quarter of its age, at most 6 hours.
        let wait =
            ((now - refund.created_at) / 4).min(Duration::hours(6)).max(services.refund_recheck);
        jobs::snooze(conn, claimed, now + wait)?;
    } else {
        jobs::complete(conn, claimed, now)?;
    }
    Ok(())
}
