//! Refunds for finance (退款): the participants' refund requests (list, approve one or a
//! batch, deny with a reason), a WeChat refund that WeChat Pay closed or reported abnormal
//! (retry it under a new refund number, or record it refunded offline), and the money
//! registrations could not take (wrong amounts, payments for closed or withdrawn
//! registrations, second payments) with where its return stands. Every change is audited.

// utoipa's `params(SomeQuery)` expansion names the type with a path the lint calls needless.
#![allow(unused_qualifications)]

use actix_web::{HttpResponse, web};
use baoming_domain::Money;
use baoming_domain::ids::{PeriodId, RefundId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{Event, PaymentMethod, Reason, RefundCause, State, Tab, Tag};
use baoming_store::payments::{
    self, REFUND_STATES, Refund, RefundRequest, RefundRequestFilter, RefundState, Resolution,
    UnappliedFilter, UnappliedPayment, unmatched,
};
use baoming_store::{StoreError, review};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::FINANCE;
use super::review::{BulkResponse, DecisionView, bulk_response, outcome};
use crate::error::{ApiError, ErrorBody};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

fn yuan(fen: i64) -> String {
    Money::from_fen(fen).map(Money::to_yuan_string).unwrap_or_else(|_| fen.to_string())
}

/// A refund as finance follows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    /// Refund id (its 32 hex digits are the WeChat refund number).
    pub id: String,
    /// The registration.
    pub registration_id: String,
    /// The payment given back.
    pub payment_id: String,
    /// `wechat_pay` (the worker refunds it) or `bank_transfer` (finance returns it by hand).
    pub method: String,
    /// The WeChat refund number (`out_refund_no`).
    pub out_refund_no: Option<String>,
    /// The amount, in fen.
    pub amount_fen: i64,
    /// The amount, in yuan.
    pub amount_yuan: String,
    /// Why.
    pub reason: String,
    /// `pending`, `processing`, `succeeded`, `abnormal` or `closed`.
    pub state: String,
    /// 待办理, 退款处理中, 已退款, 退款异常, 退款关闭.
    pub state_label: String,
    /// WeChat Pay's last error, if any.
    pub last_error: Option<String>,
    /// The refund this one retries.
    pub retry_of: Option<String>,
    /// The refund that retries this one (this one is then no longer live).
    pub superseded_by: Option<String>,
    /// Finance's note, when returned by hand or refunded offline.
    pub offline_note: Option<String>,
    /// Whether it is the participant's own refund (the payment that paid the registration),
    /// as opposed to money the registration could not take.
    pub of_applied_payment: bool,
    /// What finance can do now: `retry` and `offline` (WeChat Pay closed it or reported it
    /// abnormal), `returned` (a bank transfer to return by hand).
    pub actions: Vec<String>,
    /// Recorded.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<Refund> for RefundView {
    fn from(r: Refund) -> Self {
        let live = r.superseded_by.is_none();
        let mut actions = Vec::new();
        if live && r.method == PaymentMethod::WechatPay && r.state.failed_at_provider() {
            actions.extend(["retry".to_owned(), "offline".to_owned()]);
        }
        if live && r.method == PaymentMethod::BankTransfer && r.state != RefundState::Succeeded {
            actions.push("returned".into());
        }
        RefundView {
            id: r.id.to_string(),
            registration_id: r.registration.to_string(),
            payment_id: r.payment.to_string(),
            method: r.method.as_str().into(),
            out_refund_no: r.out_refund_no,
            amount_fen: r.amount.fen(),
            amount_yuan: r.amount.to_yuan_string(),
            reason: r.reason,
            state: r.state.as_str().into(),
            state_label: r.state.label_zh().into(),
            last_error: r.last_error,
            retry_of: r.retry_of.map(|id| id.to_string()),
            superseded_by: r.superseded_by.map(|id| id.to_string()),
            offline_note: r.offline_note,
            of_applied_payment: r.of_applied_payment,
            actions,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// Filters of the refund requests.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct RequestQuery {
    /// Period id.
    pub period_id: Option<String>,
    /// `refund_requested` (under review), `refunding`, `refunded` or `refund_denied`; all four
    /// by default.
    pub state: Option<String>,
    /// `wechat_pay` or `bank_transfer`.
    pub method: Option<String>,
    /// Employer contains.
    pub employer: Option<String>,
}

/// A participant's refund request.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundRequestView {
    /// Registration id.
    pub registration_id: String,
    /// Participant id.
    pub participant_id: String,
    /// Name.
    pub name: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// Period id.
    pub period_id: String,
    /// State code.
    pub state: String,
    /// The participant's tag (退款审核中, 退款中, 已退款, 退款失败).
    pub tag_label: String,
    /// `refund_failed` while WeChat Pay could not make the refund.
    pub flag: Option<String>,
    /// Fee in fen.
    pub fee_fen: i64,
    /// Fee in yuan.
    pub fee_yuan: String,
    /// How it was paid.
    pub method: Option<String>,
    /// The participant's reason.
    pub reason: Option<String>,
    /// When the participant asked.
    pub requested_at: Option<DateTime<Utc>>,
    /// Finance's reason, when refused.
    pub denial_reason: Option<String>,
    /// The refund, once approved (the live one: a retry replaces a failed one).
    pub refund: Option<RefundView>,
    /// What finance can do now: `approve` and `deny` while under review; the refund's own
    /// actions after.
    pub actions: Vec<String>,
}

impl From<RefundRequest> for RefundRequestView {
    fn from(r: RefundRequest) -> Self {
        let refund = r.refund.map(RefundView::from);
        let mut actions: Vec<String> = if r.state == State::RefundRequested {
            vec!["approve".into(), "deny".into()]
        } else {
            Vec::new()
        };
        if let Some(refund) = &refund {
            actions.extend(refund.actions.iter().cloned());
        }
        RefundRequestView {
            registration_id: r.registration.to_string(),
            participant_id: r.participant.to_string(),
            name: r.name,
            employer: r.employer,
            period_id: r.period.to_string(),
            state: r.state.as_str().into(),
            tag_label: Tag::of(r.state).label_zh(Tab::AwaitingCheckIn).into(),
            flag: r.flag.map(|f| f.as_str().into()),
            fee_fen: r.fee.fen(),
            fee_yuan: r.fee.to_yuan_string(),
            method: r.method.map(|m| m.as_str().into()),
            reason: r.reason,
            requested_at: r.requested_at,
            denial_reason: r.denial_reason,
            refund,
            actions,
        }
    }
}

fn period_param(raw: Option<&str>) -> Result<Option<PeriodId>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => PeriodId::parse(raw)
            .map(Some)
            .map_err(|_| ApiError::field("period_id", "invalid_id", "期次不存在")),
        None => Ok(None),
    }
}

/// The participants' refund requests: under review, under way, refunded and refused; newest
/// change first (at most 1000).
#[utoipa::path(
    get,
    path = "/api/v1/admin/refund-requests",
    tag = "finance",
    params(RequestQuery),
    responses((status = 200, body = Vec<RefundRequestView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn list(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<RequestQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let query = query.into_inner();
    let period = period_param(query.period_id.as_deref())?;
    let wanted = match query.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => {
            Some(State::parse(raw).ok().filter(|s| REFUND_STATES.contains(s)).ok_or_else(|| {
                ApiError::field(
                    "state",
                    "invalid_state",
                    "只能是 refund_requested、refunding、refunded 或 refund_denied",
                )
            })?)
        }
        None => None,
    };
    let method = match query.method.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => Some(PaymentMethod::parse(raw).map_err(|_| {
            ApiError::field("method", "invalid_method", "只能是 wechat_pay 或 bank_transfer")
        })?),
        None => None,
    };
    let filter = RefundRequestFilter { period, state: wanted, method, employer: query.employer };
    let rows = state.db(move |conn| payments::refund_requests(conn, &filter, 1000)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(RefundRequestView::from).collect::<Vec<_>>()))
}

/// Approves a refund request (→ 退款中): WeChat money is refunded by the worker, exactly once;
/// a bank transfer is returned by finance, who then marks it returned. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/registrations/{id}/approve-refund",
    tag = "finance",
    params(("id" = String, Path, description = "registration id")),
    responses((status = 200, body = DecisionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "no refund request under review: the message names the state", body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn approve(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    decide(state, me, &id, Event::ApproveRefund).await
}

/// Why finance refuses a refund.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DenyBody {
    /// Shown to the participant (required).
    pub reason: String,
}

/// Refuses a refund request with a reason (→ 退款失败): the participant keeps the seat and
/// may still check in. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/registrations/{id}/deny-refund",
    tag = "finance",
    params(("id" = String, Path, description = "registration id")),
    request_body = DenyBody,
    responses((status = 200, body = DecisionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "no refund request under review: the message names the state", body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn deny(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<DenyBody>,
) -> Result<HttpResponse, ApiError> {
    let reason = Reason::parse(&body.reason)
        .map_err(|e| ApiError::field("reason", "invalid_reason", e.to_string()))?;
    decide(state, me, &id, Event::DenyRefund { reason }).await
}

async fn decide(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: &str,
    event: Event,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let id: RegistrationId = path_id(id)?;
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let applied = state.db(move |conn| review::decide(conn, id, &event, &ctx, &actor)).await?;
    Ok(HttpResponse::Ok().json(outcome(&applied)))
}

/// A batch of refund approvals.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApproveBatchBody {
    /// Registration ids (1–500).
    pub registration_ids: Vec<String>,
}

/// Approves up to 500 refund requests, each on its own (one in another state refuses that
/// one only), with a result per id. Audited per registration.
#[utoipa::path(
    post,
    path = "/api/v1/admin/refund-requests/approve",
    tag = "finance",
    request_body = ApproveBatchBody,
    responses((status = 200, body = BulkResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn approve_batch(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Json<ApproveBatchBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let ids = body.into_inner().registration_ids;
    if ids.is_empty() || ids.len() > 500 {
        return Err(ApiError::field(
            "registration_ids",
            "invalid_count",
            "一次可处理 1 至 500 条退款申请",
        ));
    }
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let items = state
        .db(move |conn| {
            Ok::<_, StoreError>(review::bulk(conn, &ids, &Event::ApproveRefund, &ctx, &actor))
        })
        .await?;
    Ok(HttpResponse::Ok().json(bulk_response(items)))
}

/// One refund (WeChat or by hand), with what finance can do with it.
#[utoipa::path(
    get,
    path = "/api/v1/admin/refunds/{id}",
    tag = "finance",
    params(("id" = String, Path, description = "refund id")),
    responses((status = 200, body = RefundView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn get(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let id: RefundId = path_id(&id)?;
    let refund = state.db(move |conn| payments::get_refund(conn, id)).await?;
    Ok(HttpResponse::Ok().json(RefundView::from(refund)))
}

/// Retries a WeChat refund that WeChat Pay closed or reported abnormal: a new refund number
/// linked to the old one, which the worker requests exactly once; the registration's
/// 退款失败 flag is cleared. Each refund is retried at most once (its retry is then the one to
/// act on). Audited. Answers the new refund.
#[utoipa::path(
    post,
    path = "/api/v1/admin/refunds/{id}/retry",
    tag = "finance",
    params(("id" = String, Path, description = "refund id")),
    responses((status = 200, body = RefundView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "not closed or abnormal, already retried, or a bank transfer", body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn retry(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let id: RefundId = path_id(&id)?;
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let refund = state.db(move |conn| payments::retry_refund(conn, id, &ctx, &actor)).await?;
    Ok(HttpResponse::Ok().json(RefundView::from(refund)))
}

/// How finance refunded offline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfflineBody {
    /// What was done (required): e.g. the bank transfer's reference.
    pub note: String,
}

/// Records that a WeChat refund WeChat Pay closed or reported abnormal was refunded offline,
/// with a note: the refund is done and, for a participant's refund, the registration is
/// 已退款. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/refunds/{id}/offline",
    tag = "finance",
    params(("id" = String, Path, description = "refund id")),
    request_body = OfflineBody,
    responses((status = 200, body = RefundView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "not closed or abnormal, already retried, or a bank transfer", body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn offline(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<OfflineBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let id: RefundId = path_id(&id)?;
    let note = Reason::parse(&body.note)
        .map_err(|e| ApiError::field("note", "invalid_note", e.to_string()))?;
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let refund =
        state.db(move |conn| payments::refunded_offline(conn, id, &note, &ctx, &actor)).await?;
    Ok(HttpResponse::Ok().json(RefundView::from(refund)))
}

/// Filters of the money not taken.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UnappliedQuery {
    /// Period id.
    pub period_id: Option<String>,
    /// Only what is not returned yet.
    #[serde(default)]
    pub open_only: bool,
}

/// Money a registration could not take.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnappliedView {
    /// The ledger row.
    pub payment_id: String,
    /// The registration.
    pub registration_id: String,
    /// Period id.
    pub period_id: String,
    /// Name.
    pub name: Option<String>,
    /// Employer.
    pub employer: Option<String>,
    /// The registration's state now.
    pub registration_state: String,
    /// `wechat_pay` or `bank_transfer`.
    pub method: String,
    /// The WeChat order.
    pub out_trade_no: Option<String>,
    /// WeChat's transaction id or the bank statement reference.
    pub transaction_id: Option<String>,
    /// The amount, in fen.
    pub amount_fen: i64,
    /// The amount, in yuan.
    pub amount_yuan: String,
    /// `mismatch` (the wrong amount: flagged, given back) or `refund` (the registration could
    /// not take it: given back).
    pub disposition: String,
    /// `amount_mismatch`, `already_paid` (a second payment) or `not_payable` (the registration
    /// was withdrawn, closed …).
    pub cause: Option<String>,
    /// What happened, in words.
    pub cause_label: Option<String>,
    /// For a wrong amount: the fee, in fen.
    pub expected_fen: Option<i64>,
    /// When the money arrived.
    pub received_at: DateTime<Utc>,
    /// Its refund (the live one).
    pub refund: Option<RefundView>,
    /// `refunding`, `refunded`, `refunded_offline`, `returned_by_hand`, `needs_finance`
    /// (closed or abnormal at WeChat Pay: retry or refund offline), `to_return_by_hand`,
    /// `unresolved`.
    pub resolution: String,
    /// The resolution, in words.
    pub resolution_label: String,
}

fn resolution_label(r: Resolution) -> &'static str {
    match r {
        Resolution::Refunding => "退款中",
        Resolution::Refunded => "已原路退回",
        Resolution::RefundedOffline => "已线下退回",
        Resolution::ReturnedByHand => "已转账退回",
        Resolution::NeedsFinance => "微信退款关闭或异常，待财务处理",
        Resolution::ToReturnByHand => "待财务转账退回",
        Resolution::Unresolved => "未登记退款，待财务处理",
    }
}

impl From<UnappliedPayment> for UnappliedView {
    fn from(p: UnappliedPayment) -> Self {
        UnappliedView {
            payment_id: p.payment.to_string(),
            registration_id: p.registration.to_string(),
            period_id: p.period.to_string(),
            name: p.name,
            employer: p.employer,
            registration_state: p.registration_state.as_str().into(),
            method: p.method.as_str().into(),
            out_trade_no: p.out_trade_no,
            transaction_id: p.transaction_id,
            amount_yuan: yuan(p.amount_fen),
            amount_fen: p.amount_fen,
            disposition: p.disposition.as_str().into(),
            cause: p.cause.map(|c| c.code().into()),
            cause_label: p.cause.map(RefundCause::reason_zh),
            expected_fen: match p.cause {
                Some(RefundCause::AmountMismatch { expected, .. }) => Some(expected.fen()),
                _ => None,
            },
            received_at: p.received_at,
            refund: p.refund.map(RefundView::from),
            resolution: p.resolution.as_str().into(),
            resolution_label: resolution_label(p.resolution).into(),
        }
    }
}

/// The money registrations could not take — a wrong amount (given back; the participant pays
/// the fee with a new order), a payment for a closed or withdrawn registration, a second
/// payment — with what happened and where its return stands; newest first (at most 1000).
#[utoipa::path(
    get,
    path = "/api/v1/admin/unapplied-payments",
    tag = "finance",
    params(UnappliedQuery),
    responses((status = 200, body = Vec<UnappliedView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn unapplied(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<UnappliedQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let query = query.into_inner();
    let filter = UnappliedFilter {
        period: period_param(query.period_id.as_deref())?,
        open_only: query.open_only,
    };
    let rows = state.db(move |conn| payments::unapplied_payments(conn, &filter, 1000)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(UnappliedView::from).collect::<Vec<_>>()))
}

/// A verified WeChat Pay notification that was not applied, kept for finance.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnmatchedNotificationView {
    /// WeChat's notification id.
    pub notification_id: String,
    /// Its event type (`TRANSACTION.SUCCESS`, `REFUND.SUCCESS` …).
    pub event_type: String,
    /// Why it was not applied: `unknown_order` (an order we never opened), `currency` (not
    /// CNY), `payer` (another WeChat user than the order's), `unknown_refund` (a refund we did
    /// not make), `refund_mismatch` (the order or amount differ from our refund).
    pub reason: String,
    /// The order it names.
    pub out_trade_no: String,
    /// The refund it names.
    pub out_refund_no: Option<String>,
    /// WeChat's transaction id.
    pub transaction_id: Option<String>,
    /// The amount it reports, in fen.
    pub amount_fen: i64,
    /// Its currency, when it says.
    pub currency: Option<String>,
    /// When WeChat says it happened.
    pub occurred_at: Option<DateTime<Utc>>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

impl From<unmatched::UnmatchedRecord> for UnmatchedNotificationView {
    fn from(r: unmatched::UnmatchedRecord) -> Self {
        let n = r.notice;
        UnmatchedNotificationView {
            notification_id: n.notification_id,
            event_type: n.event_type,
            reason: n.reason.as_str().into(),
            out_trade_no: n.out_trade_no,
            out_refund_no: n.out_refund_no,
            transaction_id: n.transaction_id,
            amount_fen: n.amount_fen,
            currency: n.currency,
            occurred_at: n.occurred_at,
            received_at: r.received_at,
        }
    }
}

/// Verified WeChat Pay notifications that were acknowledged but not applied — a payment for an
/// order we never opened, in another currency or by another payer, a refund notice for a
/// refund we did not make or that disagrees with ours — for reconciliation; newest first (at
/// most 1000).
#[utoipa::path(
    get,
    path = "/api/v1/admin/unmatched-notifications",
    tag = "finance",
    responses((status = 200, body = Vec<UnmatchedNotificationView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn unmatched_notifications(
    state: web::Data<AppState>,
    me: CurrentStaff,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let rows = state.db(move |conn| unmatched::list(conn, 1000)).await?;
    Ok(HttpResponse::Ok()
        .json(rows.into_iter().map(UnmatchedNotificationView::from).collect::<Vec<_>>()))
}
