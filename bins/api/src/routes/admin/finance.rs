//! Finance (财务): declared bank transfers to confirm (one, or a batch paid by one transfer),
//! transfers that did not arrive, and the payment ledger (payments flagged for finance,
//! payments being given back).

// utoipa's `params(SomeQuery)` expansion names the type with a path the lint calls needless.
#![allow(unused_qualifications)]

use actix_web::{HttpResponse, web};
use baoming_domain::Money;
use baoming_domain::ids::{PeriodId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{Event, Reason};
use baoming_domain::transfer::TransferReference;
use baoming_store::payments::{
    self, Disposition, PaymentFilter, PaymentRecord, PendingTransfer, TransferFilter,
};
use baoming_store::review;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::FINANCE;
use super::refunds::RefundView;
use super::review::{DecisionView, outcome};
use crate::error::{ApiError, ErrorBody};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

/// Filters of the transfer list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct TransferQuery {
    /// Period id.
    pub period_id: Option<String>,
    /// Employer contains.
    pub employer: Option<String>,
    /// The reference written on the transfer (any case, dashes or spaces allowed).
    pub reference: Option<String>,
}

/// A declared transfer awaiting confirmation. Named `DeclaredTransfer` in the OpenAPI document:
/// the participant's `payments::TransferView` holds the other name.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DeclaredTransfer)]
pub struct TransferView {
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
    /// Reference (`BM…`).
    pub reference: String,
    /// Reference as printed for people (`BM-XXXXX-XXXXX`).
    pub reference_display: String,
    /// Fee in fen.
    pub fee_fen: i64,
    /// Fee in yuan.
    pub fee_yuan: String,
    /// When it was declared.
    pub declared_at: chrono::DateTime<chrono::Utc>,
    /// Past the payment deadline and still unconfirmed.
    pub overdue: bool,
}

impl From<PendingTransfer> for TransferView {
    fn from(t: PendingTransfer) -> Self {
        let display = TransferReference::parse(&t.reference)
            .map(|r| r.display())
            .unwrap_or_else(|_| t.reference.clone());
        TransferView {
            registration_id: t.registration.to_string(),
            participant_id: t.participant.to_string(),
            name: t.name,
            employer: t.employer,
            period_id: t.period.to_string(),
            reference_display: display,
            reference: t.reference,
            fee_fen: t.fee_fen,
            fee_yuan: Money::from_fen(t.fee_fen).map(|m| m.to_yuan_string()).unwrap_or_default(),
            declared_at: t.declared_at,
            overdue: t.overdue,
        }
    }
}

/// Declared transfers finance has not confirmed, oldest first (at most 500).
#[utoipa::path(
    get,
    path = "/api/v1/admin/transfers",
    tag = "finance",
    params(TransferQuery),
    responses((status = 200, body = Vec<TransferView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn transfers(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<TransferQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let query = query.into_inner();
    let period = match query.period_id.as_deref() {
        Some(raw) => Some(
            PeriodId::parse(raw)
                .map_err(|_| ApiError::field("period_id", "invalid_id", "期次不存在"))?,
        ),
        None => None,
    };
    let reference = match query.reference.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(raw) => Some(
            TransferReference::parse(raw)
                .map_err(|e| ApiError::field("reference", "invalid_reference", e.to_string()))?,
        ),
        None => None,
    };
    let employer = query.employer.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty());
    let filter = TransferFilter { period, employer, reference };
    let list = state.db(move |conn| payments::pending_transfers(conn, &filter, 500)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(TransferView::from).collect::<Vec<_>>()))
}

/// One transfer received, covering one or more registrations.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmBody {
    /// The registrations it pays for (1–200).
    pub registration_ids: Vec<String>,
    /// The amount on the bank statement, in yuan (`"2560.00"`): must equal the sum of their fees.
    pub amount_yuan: String,
    /// The bank statement's reference (流水号).
    pub bank_reference: Option<String>,
    /// A note.
    pub note: Option<String>,
}

/// What the confirmation did to one registration.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmedItem {
    /// Registration id.
    pub registration_id: String,
    /// `paid`; or `refund` when the registration could no longer take the money (paid by
    /// WeChat a moment before, closed): the share is recorded to be returned by finance.
    pub outcome: String,
}

/// The result of a confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConfirmResponse {
    /// One item per registration, in the order given.
    pub results: Vec<ConfirmedItem>,
}

/// Confirms a transfer: all or nothing. The amount must equal the sum of the registrations'
/// fees; each becomes 待报到/已支付 with its own ledger row and event; audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/transfers/confirm",
    tag = "finance",
    request_body = ConfirmBody,
    responses((status = 200, body = ConfirmResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn confirm(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Json<ConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let body = body.into_inner();
    if body.registration_ids.is_empty() || body.registration_ids.len() > 200 {
        return Err(ApiError::field(
            "registration_ids",
            "invalid_count",
            "一次可确认 1 至 200 条报名",
        ));
    }
    let registrations = body
        .registration_ids
        .iter()
        .map(|raw| RegistrationId::parse(raw))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::field("registration_ids", "invalid_id", "报名编号不正确"))?;
    let amount = Money::parse_yuan(&body.amount_yuan)
        .map_err(|e| ApiError::field("amount_yuan", "invalid_amount", e.to_string()))?;
    let clean = |text: Option<String>| text.map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
    let confirmation = payments::TransferConfirmation {
        registrations,
        amount,
        bank_reference: clean(body.bank_reference),
        note: clean(body.note),
    };
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let results = state
        .write(move |conn| payments::confirm_transfer(conn, &confirmation, &ctx, &actor))
        .await?;
    let results = results
        .into_iter()
        .map(|(id, recorded)| ConfirmedItem {
            registration_id: id.to_string(),
            outcome: recorded.outcome().into(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ConfirmResponse { results }))
}

/// Finance's note when a transfer did not arrive.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotReceivedBody {
    /// Shown to the participant (required).
    pub note: String,
}

/// The declared transfer did not arrive: back to 待支付 with finance's note; audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/registrations/{id}/transfer-not-received",
    tag = "finance",
    params(("id" = String, Path, description = "registration id")),
    request_body = NotReceivedBody,
    responses((status = 200, body = DecisionView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn not_received(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<NotReceivedBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let id: RegistrationId = path_id(&id)?;
    let note = Reason::parse(&body.note)
        .map_err(|e| ApiError::field("note", "invalid_note", e.to_string()))?;
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let event = Event::TransferNotReceived { note };
    let applied = state.write(move |conn| review::decide(conn, id, &event, &ctx, &actor)).await?;
    Ok(HttpResponse::Ok().json(outcome(&applied)))
}

/// Filters of the ledger.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LedgerQuery {
    /// `applied`, `mismatch` (amount differs from the fee) or `refund` (being given back).
    pub disposition: Option<String>,
    /// One registration's payments.
    pub registration_id: Option<String>,
}

/// A row of the payment ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentView {
    /// Payment id.
    pub id: String,
    /// For which registration.
    pub registration: String,
    /// How it was paid: `wechat_pay` or `bank_transfer`.
    pub method: String,
    /// The WeChat order.
    pub out_trade_no: Option<String>,
    /// WeChat's transaction id or the bank statement reference.
    pub transaction_id: Option<String>,
    /// Amount in fen.
    pub amount_fen: i64,
    /// What it did: `applied` (paid its registration), `mismatch` (another amount than the
    /// fee: flagged for finance), `refund` (the registration could not take it: given back).
    pub disposition: String,
    /// When the money arrived.
    pub received_at: chrono::DateTime<chrono::Utc>,
    /// When it was recorded.
    pub recorded_at: chrono::DateTime<chrono::Utc>,
    /// The transfer batch, for transfers confirmed together.
    pub transfer_batch: Option<String>,
    /// Finance's note.
    pub note: Option<String>,
    /// Its live refund's state: `pending`, `processing`, `succeeded`, `abnormal`, `closed`.
    pub refund_state: Option<String>,
    /// WeChat Pay's last word on a refund that could not be started or completed.
    pub refund_error: Option<String>,
    /// Its refund, if it is being given back.
    pub refund_id: Option<String>,
}

impl From<PaymentRecord> for PaymentView {
    fn from(p: PaymentRecord) -> Self {
        Self {
            id: p.id.to_string(),
            registration: p.registration.to_string(),
            method: p.method.as_str().to_owned(),
            out_trade_no: p.out_trade_no,
            transaction_id: p.transaction_id,
            amount_fen: p.amount_fen,
            disposition: p.disposition.as_str().to_owned(),
            received_at: p.received_at,
            recorded_at: p.recorded_at,
            transfer_batch: p.transfer_batch,
            note: p.note,
            refund_state: p.refund_state.map(|s| s.as_str().to_owned()),
            refund_error: p.refund_error,
            refund_id: p.refund_id.map(|r| r.to_string()),
        }
    }
}

/// A day's reconciliation: WeChat Pay's trade bill against the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReconciliationView {
    /// The bill's day (Beijing date).
    pub bill_date: chrono::NaiveDate,
    /// When the report was made.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Lines in WeChat's bill.
    pub bill_lines: i32,
    /// Lines in our ledger.
    pub ledger_lines: i32,
    /// The differences; empty when the day reconciles.
    pub differences: Vec<DifferenceView>,
}

/// One difference between the bill and the ledger.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DifferenceView {
    /// `only_in_wechat` (`amount` is WeChat's), `only_in_ledger` (`amount` is ours) or
    /// `amount_differs` (`wechat` and `ledger`).
    pub difference: String,
    /// `payment` or `refund`.
    pub kind: String,
    /// Its merchant number: `out_trade_no` (payment) or `out_refund_no` (refund).
    pub number: String,
    /// The amount in fen (`only_in_wechat`, `only_in_ledger`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
    /// WeChat's amount in fen (`amount_differs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wechat: Option<i64>,
    /// Our amount in fen (`amount_differs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ledger: Option<i64>,
}

impl TryFrom<baoming_store::reconciliation::Report> for ReconciliationView {
    type Error = ApiError;

    fn try_from(r: baoming_store::reconciliation::Report) -> Result<Self, ApiError> {
        let differences = serde_json::from_value(r.differences).map_err(|e| {
            ApiError::internal(&format_args!("a stored reconciliation report: {e}"))
        })?;
        Ok(Self {
            bill_date: r.bill_date,
            created_at: r.created_at,
            bill_lines: r.bill_lines,
            ledger_lines: r.ledger_lines,
            differences,
        })
    }
}

/// The payment ledger, newest first (at most 500 rows).
#[utoipa::path(
    get,
    path = "/api/v1/admin/payments",
    tag = "finance",
    params(LedgerQuery),
    responses((status = 200, body = Vec<PaymentView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn ledger(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let query = query.into_inner();
    let disposition = match query.disposition.as_deref() {
        None | Some("") => None,
        Some("applied") => Some(Disposition::Applied),
        Some("mismatch") => Some(Disposition::Mismatch),
        Some("refund") => Some(Disposition::Refund),
        Some(_) => {
            return Err(ApiError::field(
                "disposition",
                "invalid_disposition",
                "只能是 applied、mismatch 或 refund",
            ));
        }
    };
    let registration = match query.registration_id.as_deref() {
        Some(raw) => Some(
            RegistrationId::parse(raw)
                .map_err(|_| ApiError::field("registration_id", "invalid_id", "报名编号不正确"))?,
        ),
        None => None,
    };
    let filter = PaymentFilter { disposition, registration };
    let rows: Vec<PaymentRecord> =
        state.db(move |conn| payments::list_payments(conn, &filter, 500)).await?;
    Ok(HttpResponse::Ok().json(rows.into_iter().map(PaymentView::from).collect::<Vec<_>>()))
}

/// Daily reconciliation reports (yesterday's WeChat Pay trade bill against the ledger, made by
/// the worker after 10:00 Beijing time), newest first (at most 90).
#[utoipa::path(
    get,
    path = "/api/v1/admin/reconciliation",
    tag = "finance",
    responses((status = 200, body = Vec<ReconciliationView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn reconciliation_reports(
    state: web::Data<AppState>,
    me: CurrentStaff,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let reports = state.db(move |conn| baoming_store::reconciliation::list(conn, 90)).await?;
    let views =
        reports.into_iter().map(ReconciliationView::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(views))
}

/// One day's reconciliation report.
#[utoipa::path(
    get,
    path = "/api/v1/admin/reconciliation/{date}",
    tag = "finance",
    params(("date" = chrono::NaiveDate, Path, description = "the bill's day, YYYY-MM-DD (Beijing)")),
    responses((status = 200, body = ReconciliationView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn reconciliation_report(
    state: web::Data<AppState>,
    me: CurrentStaff,
    date: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let day: chrono::NaiveDate = date
        .parse()
        .map_err(|_| ApiError::field("date", "invalid_date", "日期格式应为 YYYY-MM-DD"))?;
    let report = state.db(move |conn| baoming_store::reconciliation::get(conn, day)).await?;
    Ok(HttpResponse::Ok().json(ReconciliationView::try_from(report)?))
}

/// Finance returned a bank transfer by hand (money a registration could not take, or the
/// refund of a transfer-paid registration): the refund is marked done; audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/refunds/{id}/returned",
    tag = "finance",
    params(("id" = String, Path, description = "refund id (refund_id in the ledger)")),
    responses((status = 200, body = RefundView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "a WeChat refund (done by the worker), or already returned", body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn refund_returned(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let id: baoming_domain::ids::RefundId = path_id(&id)?;
    let (ctx, actor) = (me.ctx(role), me.audit_actor(role));
    let refund =
        state.db(move |conn| payments::returned_by_finance(conn, id, &ctx, &actor)).await?;
    Ok(HttpResponse::Ok().json(RefundView::from(refund)))
}
