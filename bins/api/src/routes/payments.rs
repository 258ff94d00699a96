//! Paying (缴费): WeChat Pay in the mini-program, a declared employer bank transfer, "check my
//! payment", and the endpoint WeChat Pay posts its notifications to.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use baoming_domain::ids::RegistrationId;
use baoming_domain::lifecycle::State;
use baoming_domain::transfer::TransferReference;
use baoming_payments::{
    EVENT_TRANSACTION_SUCCESS, JsapiOrder, Notification, OutTradeNo, PrepayId, RequestPayment,
    SignedHeaders, decrypt_refund, decrypt_transaction, new_nonce, verify,
};
use baoming_store::payments::{self, OrderOutcome, OrderState, Recorded, unmatched};
use baoming_store::registrations;
use baoming_store::write_tx;
use chrono::{FixedOffset, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::path_id;
use super::views::{RegistrationView, one_view};
use crate::auth::CurrentParticipant;
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::Action;
use crate::state::AppState;
use baoming_runtime::pay::refund_progress;

/// What the mini-program needs to open WeChat's payment sheet.
#[derive(Debug, Serialize, ToSchema)]
pub struct WechatPayView {
    /// The merchant order number.
    pub out_trade_no: String,
    /// The amount in fen (the fee fixed at approval).
    pub amount_fen: i64,
    /// The amount in yuan.
    pub amount_yuan: String,
    /// Until when the order can be paid.
    pub time_expire: chrono::DateTime<Utc>,
    /// Pass as-is to `wx.requestPayment`: `timeStamp`, `nonceStr`, `package`, `signType`,
    /// `paySign`.
    #[schema(value_type = Object)]
    pub request_payment: RequestPayment,
}

/// Pays by WeChat Pay (去支付): opens the registration's order once — for exactly the fee,
/// expiring at the period's payment deadline — and answers fresh `wx.requestPayment`
/// parameters for it (the same order on every call).
#[utoipa::path(
    post,
    path = "/api/v1/registrations/{id}/pay/wechat",
    tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, body = WechatPayView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not awaiting payment, past the deadline, order paid or closed", body = ErrorBody),
        (status = 503, description = "WeChat Pay unreachable; try again", body = ErrorBody),
    )
)]
pub async fn pay_wechat(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    let now = Utc::now();
    let cache = state.periods.clone();
    let order = state
        .write(move |conn| {
            let registration = registrations::get_for_participant(conn, id, me.id)?;
            let period = cache.get(conn, registration.period)?;
            let description = order_description(&period.name);
            Ok::<_, ApiError>(payments::open_order(conn, id, me.id, &description, now)?)
        })
        .await?;
    let pay = &state.pay;
    // A prepay id is good for two hours; an older one is asked for again (same order, same
    // parameters: WeChat Pay answers a fresh one for the unpaid order).
    let fresh = Utc::now() - order.updated_at < chrono::Duration::minutes(PREPAY_FRESH_MINUTES);
    let prepay_id = match &order.prepay_id {
        Some(prepay_id) if fresh => prepay_id.clone(),
        _ => {
            let beijing =
                FixedOffset::east_opt(8 * 3600).ok_or_else(|| ApiError::internal(&"offset"))?;
            let request = JsapiOrder {
                description: order.description.clone(),
                out_trade_no: out_trade_no(&order.out_trade_no)?,
                time_expire: Some(order.time_expire.with_timezone(&beijing)),
                attach: None,
                notify_url: pay.notify_url.clone(),
                total: order.amount,
                payer_openid: order.openid.clone(),
            };
            let prepay_id = pay.client.jsapi_order(&request).await?;
            let (order_id, stored) = (order.id, prepay_id.as_str().to_owned());
            state
                .write(move |conn| payments::set_prepay_id(conn, order_id, &stored, Utc::now()))
                .await?;
            prepay_id.as_str().to_owned()
        }
    };
    let prepay_id = PrepayId(prepay_id);
    let nonce = new_nonce().map_err(|e| ApiError::internal(&e))?;
    let request_payment = pay
        .client
        .request_payment_params(&prepay_id, Utc::now().timestamp(), &nonce)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(HttpResponse::Ok().json(WechatPayView {
        out_trade_no: order.out_trade_no,
        amount_fen: order.amount.fen(),
        amount_yuan: order.amount.to_yuan_string(),
        time_expire: order.time_expire,
        request_payment,
    }))
}

/// How long a stored prepay id is handed out again (WeChat Pay keeps it valid for 120 minutes).
const PREPAY_FRESH_MINUTES: i64 = 110;

fn out_trade_no(text: &str) -> Result<OutTradeNo, ApiError> {
    OutTradeNo::parse(text).map_err(|e| ApiError::internal(&e))
}

/// The order description WeChat shows (at most 127 characters).
fn order_description(period_name: &str) -> String {
    format!("{period_name} 报名费").chars().take(127).collect()
}

/// The account employers transfer fees to.
#[derive(Debug, Serialize, ToSchema)]
pub struct Payee {
    /// Account name (收款单位).
    pub name: String,
    /// Bank and branch (开户行).
    pub bank: String,
    /// Account number (账号).
    pub account: String,
}

impl From<&baoming_runtime::config::Payee> for Payee {
    fn from(payee: &baoming_runtime::config::Payee) -> Self {
        Payee { name: payee.name.clone(), bank: payee.bank.clone(), account: payee.account.clone() }
    }
}

/// How to pay by bank transfer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    /// The registration now (待确认到账).
    pub registration: RegistrationView,
    /// Where to transfer the fee.
    pub payee: Payee,
    /// The amount in yuan.
    pub amount_yuan: String,
    /// Write this on the transfer (转账备注) so finance can match it.
    pub reference: String,
}

async fn transfer_view(
    state: &AppState,
    me: CurrentParticipant,
    id: RegistrationId,
    declare: bool,
) -> Result<TransferView, ApiError> {
    let cache = state.periods.clone();
    let now = state.now();
    let (view, reference) = state
        .write(move |conn| {
            let (registration, reference) = if declare {
                payments::declare_transfer(conn, id, &me.ctx())?
            } else {
                let registration = registrations::get_for_participant(conn, id, me.id)?;
                let reference = payments::transfer_reference(conn, id)?
                    .and_then(|r| TransferReference::parse(&r).ok())
                    .ok_or_else(ApiError::not_found)?;
                (registration, reference)
            };
            Ok::<_, ApiError>((one_view(conn, &cache, registration, now)?, reference))
        })
        .await?;
    Ok(TransferView {
        amount_yuan: view.fee_yuan.clone(),
        registration: view,
        payee: Payee::from(&state.payee),
        reference: reference.display(),
    })
}

/// "I will pay by bank transfer" (线下转账): → 待确认到账, answered with the payee account,
/// the bank and the reference to write on the transfer. Again while awaiting the transfer:
/// the same answer.
#[utoipa::path(
    post,
    path = "/api/v1/registrations/{id}/pay/transfer",
    tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, body = TransferView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not awaiting payment, or past the payment deadline", body = ErrorBody),
    )
)]
pub async fn declare_transfer(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    Ok(HttpResponse::Ok().json(transfer_view(&state, me, id, true).await?))
}

/// The payee and reference of a declared transfer.
#[utoipa::path(
    get,
    path = "/api/v1/registrations/{id}/pay/transfer",
    tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = TransferView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn transfer_details(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    Ok(HttpResponse::Ok().json(transfer_view(&state, me, id, false).await?))
}

/// "Check my payment" (查询支付结果): when the registration is still unpaid here but its
/// WeChat order exists, asks WeChat Pay and records what it says — a notification that never
/// arrived is recovered. Answers the registration as it is then.
#[utoipa::path(
    post,
    path = "/api/v1/registrations/{id}/pay/check",
    tag = "payments",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, body = RegistrationView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 429, description = "too many calls: `rate_limited`, see `Retry-After`", body = ErrorBody),
        (status = 503, description = "WeChat Pay unreachable; try again", body = ErrorBody),
    )
)]
pub async fn check(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: RegistrationId = path_id(&id)?;
    state.limits.check(Action::PaymentCheck, Some(&me.id), &req)?;
    ask_wechat(&state, &me, id).await?;
    let cache = state.periods.clone();
    let now = state.now();
    let view = state
        .db(move |conn| {
            let registration = registrations::get_for_participant(conn, id, me.id)?;
            one_view(conn, &cache, registration, now)
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Asks WeChat Pay about the registration's open order when it is still unpaid here, and
/// records what it says (a lost notification is recovered). Whether the person is paying
/// right now.
pub(crate) async fn ask_wechat(
    state: &AppState,
    me: &CurrentParticipant,
    id: RegistrationId,
) -> Result<bool, ApiError> {
    let participant = me.id;
    let (registration, order) = state
        .db(move |conn| {
            let registration = registrations::get_for_participant(conn, id, participant)?;
            let order = payments::order_of(conn, id)?;
            Ok::<_, ApiError>((registration, order))
        })
        .await?;
    let unpaid =
        matches!(registration.status.state, State::AwaitingPayment | State::AwaitingTransfer);
    let Some(order) =
        order.filter(|o| unpaid && o.state == OrderState::Open && o.prepay_id.is_some())
    else {
        return Ok(false);
    };
    let no = out_trade_no(&order.out_trade_no)?;
    let transaction = state.pay.client.query_order(&no).await?;
    let answer = state.pay.order_answer(&transaction).map_err(|e| ApiError::internal(&e))?;
    let request_id = me.request_id.clone();
    let outcome = state
        .write(move |conn| {
            payments::apply_order_answer(conn, order.id, &answer, Utc::now(), Some(request_id))
        })
        .await?;
    Ok(outcome == OrderOutcome::Paying)
}

/// The largest notification body accepted (WeChat Pay's are a few KiB).
pub const NOTIFY_BODY_LIMIT: usize = 64 * 1024;

/// A failure answer in WeChat Pay's terms: `{"code": "FAIL", "message": …}` (WeChat Pay
/// retries the notification later).
fn fail(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "code": "FAIL", "message": message }))
}

/// Reads the notification body, at most [`NOTIFY_BODY_LIMIT`] bytes; the failure answer
/// otherwise.
async fn notify_body(
    req: &HttpRequest,
    mut payload: web::Payload,
) -> Result<web::Bytes, HttpResponse> {
    use futures_util::StreamExt as _;
    let too_large = || fail(StatusCode::PAYLOAD_TOO_LARGE, "通知过大");
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > NOTIFY_BODY_LIMIT as u64) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let Ok(chunk) = chunk else {
            return Err(fail(StatusCode::BAD_REQUEST, "通知读取失败"));
        };
        if body.len() + chunk.len() > NOTIFY_BODY_LIMIT {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// WeChat Pay's notifications (支付结果通知, 退款结果通知). Verified over the raw body
/// (at most 64 KiB; signature, timestamp within 5 minutes, a known key), decrypted, checked
/// against our order (merchant, app, currency, payer) or refund row (order, amount), then
/// recorded in one transaction with the status change: 204. A verified notification we cannot
/// apply — an order or refund we do not know, another currency or payer, a refund notice that
/// disagrees with our refund — is kept for finance (`GET /api/v1/admin/unmatched-notifications`)
/// and answered 204 too, so WeChat Pay does not retry it for a day. A repeat changes nothing
/// and answers 204; a bad signature answers 401 and changes nothing. Every failure answer is
/// WeChat Pay's `{"code": "FAIL", "message": …}`.
#[utoipa::path(
    post,
    path = "/api/v1/wechatpay/notify",
    tag = "payments",
    request_body(content = Object, description = "WeChat Pay notification (encrypted resource)"),
    responses(
        (status = 204, description = "recorded (or already recorded, or kept for finance)"),
        (status = 400, description = "not a notification, or not decryptable", body = WechatPayFailure),
        (status = 401, description = "signature not verified: nothing changed", body = WechatPayFailure),
        (status = 413, description = "body over 64 KiB", body = WechatPayFailure),
        (status = 500, description = "not recorded; WeChat Pay will retry", body = WechatPayFailure),
    )
)]
pub async fn notify(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let body = match notify_body(&req, payload).await {
        Ok(body) => body,
        Err(answer) => return answer,
    };
    let pay = &state.pay;
    let headers = SignedHeaders::from_lookup(|name| {
        req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
    });
    let verified = headers.and_then(|h| verify(&pay.verifier, &h, &body, Utc::now()));
    if let Err(error) = verified {
        tracing::warn!(%error, "WeChat Pay notification refused: signature not verified");
        return fail(StatusCode::UNAUTHORIZED, "签名验证失败");
    }
    let notification = match Notification::from_json(&body) {
        Ok(n) => n,
        Err(error) => {
            tracing::warn!(%error, "WeChat Pay notification is not a notification");
            return fail(StatusCode::BAD_REQUEST, "通知格式不正确");
        }
    };
    if notification.event_type == EVENT_TRANSACTION_SUCCESS {
        return transaction_notice(&state, &req, notification).await;
    }
    if notification.event_type.starts_with("REFUND.") {
        return refund_notice(&state, notification).await;
    }
    tracing::info!(event_type = %notification.event_type, "WeChat Pay notification ignored");
    HttpResponse::NoContent().finish()
}

/// WeChat Pay's failure answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct WechatPayFailure {
    /// Always `FAIL`.
    pub code: String,
    /// Why.
    pub message: String,
}

/// What a verified payment notification did.
enum PaymentNotice {
    Recorded(Recorded),
    Unmatched(unmatched::Reason),
}

async fn transaction_notice(
    state: &AppState,
    req: &HttpRequest,
    notification: Notification,
) -> HttpResponse {
    let pay = &state.pay;
    let transaction = match decrypt_transaction(&pay.apiv3_key, &notification) {
        Ok(t) => t,
        Err(error) => {
            tracing::warn!(%error, id = %notification.id, "WeChat Pay notification not decryptable");
            return fail(StatusCode::BAD_REQUEST, "通知无法解密");
        }
    };
    let seen = Some((notification.id.clone(), notification.event_type.clone()));
    let paid = match pay.paid(&transaction, seen) {
        Ok(Some(paid)) => paid,
        Ok(None) => {
            tracing::warn!(out_trade_no = %transaction.out_trade_no, state = ?transaction.trade_state, "payment notification without a payment");
            return HttpResponse::NoContent().finish();
        }
        Err(error) => {
            tracing::error!(%error, out_trade_no = %transaction.out_trade_no, "payment notification for another merchant or app");
            return fail(StatusCode::BAD_REQUEST, "商户号或应用不匹配");
        }
    };
    let request_id = Some(crate::auth::RequestId::of(req));
    let (id, event_type) = (notification.id, notification.event_type);
    let recorded = state
        .write(move |conn| {
            write_tx(conn, |conn| {
                let now = Utc::now();
                if let Some(reason) = unmatched::check_payment(conn, &paid)? {
                    let notice = unmatched::Unmatched {
                        notification_id: id,
                        event_type,
                        reason,
                        out_trade_no: paid.out_trade_no.clone(),
                        out_refund_no: None,
                        transaction_id: paid.transaction_id.clone(),
                        amount_fen: paid.amount.fen(),
                        currency: paid.currency.clone(),
                        occurred_at: paid.success_time,
                    };
                    unmatched::record(conn, &notice, now)?;
                    return Ok(PaymentNotice::Unmatched(reason));
                }
                payments::record_wechat_payment(conn, &paid, now, request_id)
                    .map(PaymentNotice::Recorded)
            })
        })
        .await;
    match recorded {
        Ok(PaymentNotice::Recorded(Recorded::Paid { payment, .. })) => {
            tracing::info!(%payment, "WeChat payment recorded: paid");
            HttpResponse::NoContent().finish()
        }
        Ok(PaymentNotice::Recorded(Recorded::Duplicate { .. })) => {
            HttpResponse::NoContent().finish()
        }
        Ok(PaymentNotice::Recorded(Recorded::Mismatch { payment, .. })) => {
            tracing::warn!(%payment, "WeChat payment recorded: amount differs, flagged for finance");
            HttpResponse::NoContent().finish()
        }
        Ok(PaymentNotice::Recorded(Recorded::Refunding { payment, refund, .. })) => {
            tracing::info!(%payment, %refund, "WeChat payment recorded: to be refunded");
            HttpResponse::NoContent().finish()
        }
        Ok(PaymentNotice::Unmatched(reason)) => {
            tracing::warn!(
                reason = reason.as_str(),
                "WeChat payment not applied: kept for finance"
            );
            HttpResponse::NoContent().finish()
        }
        Err(error) => {
            tracing::error!(error = %error.message(), "WeChat payment not recorded; WeChat Pay will retry");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "暂时无法处理")
        }
    }
}

/// What a verified refund notification did.
enum RefundNotice {
    Recorded(Box<payments::Refund>),
    Unmatched(unmatched::Reason),
}

/// Handles a verified `REFUND.*` notification.
async fn refund_notice(state: &AppState, notification: Notification) -> HttpResponse {
    let notice = match decrypt_refund(&state.pay.apiv3_key, &notification) {
        Ok(notice) => notice,
        Err(error) => {
            tracing::warn!(%error, id = %notification.id, "refund notification not decryptable");
            return fail(StatusCode::BAD_REQUEST, "通知无法解密");
        }
    };
    if notice.mchid != state.pay.mchid {
        tracing::error!(out_refund_no = %notice.out_refund_no, "refund notification for another merchant");
        return fail(StatusCode::BAD_REQUEST, "商户号不匹配");
    }
    let progress = refund_progress(&notice.refund_status, notice.refund_id.clone());
    let (id, event_type) = (notification.id, notification.event_type);
    let recorded = state
        .write(move |conn| {
            write_tx(conn, |conn| {
                let now = Utc::now();
                let refund = payments::refund_by_out_refund_no(conn, &notice.out_refund_no)?;
                let reason = match &refund {
                    None => Some(unmatched::Reason::UnknownRefund),
                    Some(r)
                        if !unmatched::refund_matches(
                            r,
                            &notice.out_trade_no,
                            notice.amount.refund,
                        ) =>
                    {
                        Some(unmatched::Reason::RefundMismatch)
                    }
                    Some(_) => None,
                };
                match (refund, reason) {
                    (Some(refund), None) => {
                        payments::refund_progress(conn, refund.id, &progress, now)
                            .map(|r| RefundNotice::Recorded(Box::new(r)))
                    }
                    (_, reason) => {
                        let reason = reason.unwrap_or(unmatched::Reason::UnknownRefund);
                        let kept = unmatched::Unmatched {
                            notification_id: id,
                            event_type,
                            reason,
                            out_trade_no: notice.out_trade_no.clone(),
                            out_refund_no: Some(notice.out_refund_no.clone()),
                            transaction_id: Some(notice.transaction_id.clone()),
                            amount_fen: notice.amount.refund.fen(),
                            currency: None,
                            occurred_at: notice.success_time.map(|t| t.with_timezone(&Utc)),
                        };
                        unmatched::record(conn, &kept, now)?;
                        Ok(RefundNotice::Unmatched(reason))
                    }
                }
            })
        })
        .await;
    match recorded {
        Ok(RefundNotice::Recorded(refund)) => {
            tracing::info!(refund = %refund.id, state = refund.state.as_str(), "refund notification recorded");
            HttpResponse::NoContent().finish()
        }
        // A refund made in the merchant platform, not by us, or one that disagrees with ours:
        // kept for finance; answering an error would only make WeChat Pay retry for a day.
        Ok(RefundNotice::Unmatched(reason)) => {
            tracing::warn!(
                reason = reason.as_str(),
                "refund notification not applied: kept for finance"
            );
            HttpResponse::NoContent().finish()
        }
        Err(error) => {
            tracing::error!(error = %error.message(), "refund notification not recorded; WeChat Pay will retry");
            fail(StatusCode::INTERNAL_SERVER_ERROR, "暂时无法处理")
        }
    }
}
