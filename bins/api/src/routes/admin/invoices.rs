//! Invoices for finance (发票): the invoice line's settings (global or per period), the
//! tax bureau's bulk-issue workbook (数电发票 批量开具) per period with stable serials
//! (发票流水号), downloading an export again, importing the issued numbers the bureau returns,
//! and the invoices to reverse (冲红) after a refund. Every change is audited.

// utoipa's `params(SomeQuery)` expansion names the type with a path the lint calls needless.
#![allow(unused_qualifications)]

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use baoming_domain::Money;
use baoming_domain::ids::{InvoiceExportId, InvoiceId, PeriodId, TypedId};
use baoming_exports::issued::read_issued_invoices;
use baoming_exports::tax_workbook::{
    InvalidSerial, InvoiceSerial, TaxWorkbookError, TaxWorkbookWriter,
};
use baoming_invoicing::{InvoiceItemSettings, InvoiceItemSettingsInput, InvoiceState};
use baoming_store::invoices::{
    self, EffectiveSettings, ExportFilter, ExportSummary, Invoice, InvoiceFilter, IssuedOutcome,
    IssuedResult, IssuedRow, Scope,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::FINANCE;
use crate::error::{ApiError, ErrorBody};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn yuan(fen: i64) -> String {
    Money::from_fen(fen).map(Money::to_yuan_string).unwrap_or_else(|_| fen.to_string())
}

// ---------------------------------------------------------------------------------------------
// Settings

/// The invoice line's settings in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsView {
    /// `period` (the period's own), `global`, or `default` (nothing saved).
    pub source: String,
    /// When they were saved.
    pub updated_at: Option<DateTime<Utc>>,
    /// 项目名称, e.g. `*非学历教育服务*培训费`.
    pub item_name: String,
    /// 商品和服务税收编码 (19 digits).
    pub tax_code: String,
    /// 税率: `6%`, `3%`, `免税` …
    pub tax_rate: String,
    /// 是否含税: whether the workbook's amounts include tax.
    pub prices_include_tax: bool,
    /// 单位, e.g. `人`.
    pub unit: Option<String>,
    /// 规格型号.
    pub specification: Option<String>,
    /// Whether the buyer's address, phone, bank and account are printed when the title has
    /// them.
    pub show_buyer_contact: bool,
    /// A reminder: finance must confirm the tax code, rate and item name for the
    /// organisation's own tax situation.
    pub notice: String,
}

impl From<EffectiveSettings> for SettingsView {
    fn from(e: EffectiveSettings) -> Self {
        let s = e.settings;
        SettingsView {
            source: e.source.as_str().into(),
            updated_at: e.updated_at,
            item_name: s.item_name.as_str().into(),
            tax_code: s.tax_code.as_str().into(),
            tax_rate: s.tax_rate.label(),
            prices_include_tax: s.prices_include_tax,
            unit: s.unit.map(|u| u.as_str().into()),
            specification: s.specification.map(|v| v.as_str().into()),
            show_buyer_contact: s.show_buyer_contact,
            notice: "商品和服务税收编码、税率和项目名称须由财务按本单位的税务情况确认后再开票"
                .into(),
        }
    }
}

/// New settings; a field left out takes its default (see docs/invoices.md).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    /// 项目名称 (1–100 characters).
    pub item_name: Option<String>,
    /// 商品和服务税收编码 (19 digits).
    pub tax_code: Option<String>,
    /// 税率: `6%` (at most two decimals) or `免税`.
    pub tax_rate: Option<String>,
    /// 是否含税.
    pub prices_include_tax: Option<bool>,
    /// 单位; `""` for none.
    pub unit: Option<String>,
    /// 规格型号; `""` for none.
    pub specification: Option<String>,
    /// Print the buyer's address and bank details when the title has them.
    pub show_buyer_contact: Option<bool>,
}

impl SettingsBody {
    fn parse(self) -> Result<InvoiceItemSettings, ApiError> {
        Ok(InvoiceItemSettings::parse(&InvoiceItemSettingsInput {
            item_name: self.item_name,
            tax_code: self.tax_code,
            tax_rate: self.tax_rate,
            prices_include_tax: self.prices_include_tax,
            unit: self.unit,
            specification: self.specification,
            show_buyer_contact: self.show_buyer_contact,
        })?)
    }
}

/// The global invoice settings (every period without its own).
#[utoipa::path(
    get,
    path = "/api/v1/admin/invoice-settings",
    tag = "invoices",
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn global_settings(
    state: web::Data<AppState>,
    me: CurrentStaff,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let got = state.db(move |conn| invoices::settings(conn, Scope::Global)).await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(got)))
}

/// Saves the global invoice settings. Audited.
#[utoipa::path(
    put,
    path = "/api/v1/admin/invoice-settings",
    tag = "invoices",
    request_body = SettingsBody,
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn save_global_settings(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Json<SettingsBody>,
) -> Result<HttpResponse, ApiError> {
    save(state, me, Scope::Global, body.into_inner()).await
}

async fn save(
    state: web::Data<AppState>,
    me: CurrentStaff,
    scope: Scope,
    body: SettingsBody,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let settings = body.parse()?;
    let actor = me.audit_actor(role);
    let saved = state
        .db(move |conn| invoices::save_settings(conn, scope, &settings, &actor, Utc::now()))
        .await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(saved)))
}

/// The invoice settings in force for a period (its own, else the global ones, else the
/// defaults).
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods/{id}/invoice-settings",
    tag = "invoices",
    params(("id" = String, Path, description = "period id")),
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn period_settings(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let period: PeriodId = path_id(&id)?;
    let got = state.db(move |conn| invoices::settings(conn, Scope::Period(period))).await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(got)))
}

/// Saves a period's own invoice settings. Audited.
#[utoipa::path(
    put,
    path = "/api/v1/admin/periods/{id}/invoice-settings",
    tag = "invoices",
    params(("id" = String, Path, description = "period id")),
    request_body = SettingsBody,
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn save_period_settings(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<SettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let period: PeriodId = path_id(&id)?;
    save(state, me, Scope::Period(period), body.into_inner()).await
}

/// Removes a period's own invoice settings: the global ones apply again. Audited.
#[utoipa::path(
    delete,
    path = "/api/v1/admin/periods/{id}/invoice-settings",
    tag = "invoices",
    params(("id" = String, Path, description = "period id")),
    responses((status = 200, body = SettingsView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn clear_period_settings(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let period: PeriodId = path_id(&id)?;
    let actor = me.audit_actor(role);
    let got = state
        .db(move |conn| {
            invoices::clear_period_settings(conn, period, &actor, Utc::now())?;
            invoices::settings(conn, Scope::Period(period))
        })
        .await?;
    Ok(HttpResponse::Ok().json(SettingsView::from(got)))
}

// ---------------------------------------------------------------------------------------------
// Exports

/// Which of the period's paid registrations to invoice.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    /// Only registrations paid at or after this instant (RFC 3339).
    pub paid_since: Option<DateTime<Utc>>,
    /// Only registrations in no invoice yet (default `true`). With `false`, the period's
    /// invoices exported before and not issued yet are included again, under the same serials
    /// and with the same content.
    #[serde(default = "yes")]
    pub not_yet_exported: bool,
    /// Only participants whose employer contains this text.
    pub employer: Option<String>,
}

fn yes() -> bool {
    true
}

/// Why the workbook of an export could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WorkbookFailure {
    /// A serial the store made is not a serial (a bug).
    #[error(transparent)]
    Serial(#[from] InvalidSerial),
    /// The writer refused or failed.
    #[error(transparent)]
    Workbook(#[from] TaxWorkbookError),
}

/// An invoice left out of an export.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedView {
    /// Its serial.
    pub serial: String,
    /// Why.
    pub reason: String,
}

/// What an export made.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportView {
    /// Export id.
    pub id: String,
    /// Period id.
    pub period_id: String,
    /// Invoices in the workbook (rows of 1-发票基本信息).
    pub invoices: usize,
    /// Of which new.
    pub new_invoices: usize,
    /// Registrations they cover.
    pub registrations: usize,
    /// Invoices exported before that were left out, and why.
    pub skipped: Vec<SkippedView>,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Where to download the workbook (again).
    pub workbook_url: String,
}

impl From<ExportSummary> for ExportView {
    fn from(s: ExportSummary) -> Self {
        ExportView {
            workbook_url: format!("/api/v1/admin/invoice-exports/{}/workbook", s.id),
            id: s.id.to_string(),
            period_id: s.period.to_string(),
            invoices: s.invoices,
            new_invoices: s.new_invoices,
            registrations: s.registrations,
            skipped: s
                .skipped
                .into_iter()
                .map(|(serial, reason)| SkippedView { serial, reason })
                .collect(),
            created_at: s.created_at,
        }
    }
}

/// Exports a period's invoices in the tax bureau's bulk-issue layout: paid registrations with
/// an invoice title become invoices (同单位合开 requests with the same buyer: one joint
/// invoice), each with a stable serial (发票流水号) and the registrations it covers
/// remembered; a registration is never in two live invoices. The workbook is kept: download it
/// from `workbook_url` (again whenever needed). Audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/periods/{id}/invoice-exports",
    tag = "invoices",
    params(("id" = String, Path, description = "period id")),
    request_body = ExportBody,
    responses(
        (status = 201, body = ExportView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "nothing to invoice", body = ErrorBody),
        (status = 422, description = "a registration cannot be invoiced (a value too long for the template, a name missing)", body = ErrorBody),
    ),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn export(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<ExportBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let period: PeriodId = path_id(&id)?;
    let body = body.into_inner();
    let filter = ExportFilter {
        paid_since: body.paid_since,
        not_yet_exported: body.not_yet_exported,
        employer: body.employer.map(|e| e.trim().to_owned()).filter(|e| !e.is_empty()),
    };
    let actor = me.audit_actor(role);
    let summary = state.db(move |conn| make_export(conn, period, &filter, &actor)).await?;
    Ok(HttpResponse::Created().json(ExportView::from(summary)))
}

/// Exports a period's invoices and writes their workbook (the JSON route's and the console's).
pub(crate) fn make_export(
    conn: &mut baoming_store::DbConnection,
    period: PeriodId,
    filter: &ExportFilter,
    actor: &baoming_store::audit::Actor,
) -> Result<ExportSummary, ApiError> {
    let summary = invoices::export(conn, period, filter, actor, Utc::now(), |settings, list| {
        let mut writer = TaxWorkbookWriter::new(settings)?;
        for item in list {
            writer.push(&InvoiceSerial::parse(&item.serial)?, &item.draft)?;
        }
        Ok::<_, WorkbookFailure>(writer.finish()?)
    })?;
    Ok(summary)
}

/// Filters of the export list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportsQuery {
    /// Period id.
    pub period_id: Option<String>,
}

/// An export as listed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportRecordView {
    /// Export id.
    pub id: String,
    /// Period id.
    pub period_id: String,
    /// The filters it was made with.
    #[schema(value_type = Object)]
    pub filters: serde_json::Value,
    /// The invoice settings it was made with.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Invoices in it.
    pub invoice_count: i32,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who (staff id).
    pub created_by: Option<String>,
    /// Where to download it again.
    pub workbook_url: String,
}

fn optional_period(raw: Option<&str>) -> Result<Option<PeriodId>, ApiError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => PeriodId::parse(raw)
            .map(Some)
            .map_err(|_| ApiError::field("period_id", "invalid_id", "期次不存在")),
        None => Ok(None),
    }
}

/// The invoice exports, newest first (at most 500).
#[utoipa::path(
    get,
    path = "/api/v1/admin/invoice-exports",
    tag = "invoices",
    params(ExportsQuery),
    responses((status = 200, body = Vec<ExportRecordView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn exports(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<ExportsQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let period = optional_period(query.period_id.as_deref())?;
    let list = state.db(move |conn| invoices::exports(conn, period, 500)).await?;
    let views: Vec<ExportRecordView> = list
        .into_iter()
        .map(|e| ExportRecordView {
            workbook_url: format!("/api/v1/admin/invoice-exports/{}/workbook", e.id),
            id: e.id.to_string(),
            period_id: e.period.to_string(),
            filters: e.filters,
            settings: e.settings,
            invoice_count: e.invoice_count,
            created_at: e.created_at,
            created_by: e.created_by,
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// An export's workbook (.xlsx), exactly as it was first made.
#[utoipa::path(
    get,
    path = "/api/v1/admin/invoice-exports/{id}/workbook",
    tag = "invoices",
    params(("id" = String, Path, description = "export id")),
    responses(
        (status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = crate::openapi::Binary),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: finance, admin."
)]
pub async fn workbook(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let id: InvoiceExportId = path_id(&id)?;
    let (_, at, bytes) = state.db(move |conn| invoices::export_workbook(conn, id)).await?;
    let filename = format!("fapiao-{}.xlsx", crate::time::beijing(at, "%Y%m%d-%H%M%S"));
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, XLSX))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}

// ---------------------------------------------------------------------------------------------
// Invoices

/// A registration an invoice covers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoveredView {
    /// Registration id.
    pub registration_id: String,
    /// The name on the invoice.
    pub name: String,
    /// The fee paid, in fen.
    pub paid_fen: i64,
    /// When its money went back (it left the invoice).
    pub left_at: Option<DateTime<Utc>>,
    /// When the invoice stopped covering it (reversed or cancelled).
    pub released_at: Option<DateTime<Utc>>,
}

/// An exported invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceView {
    /// Invoice id.
    pub id: String,
    /// 发票流水号.
    pub serial: String,
    /// Period id.
    pub period_id: String,
    /// `single` or `joint` (同单位合开).
    pub kind: String,
    /// `normal` (普票) or `special` (专票).
    pub invoice_type: String,
    /// The buyer (购买方): the title snapshot.
    #[schema(value_type = Object)]
    pub buyer: serde_json::Value,
    /// 价税合计, in fen.
    pub amount_fen: i64,
    /// 价税合计, in yuan.
    pub amount_yuan: String,
    /// 备注.
    pub remark: String,
    /// `exported`, `issued`, `reversed` or `cancelled`.
    pub state: String,
    /// The state, in words.
    pub state_label: String,
    /// The 数电发票 number, once issued.
    pub number: Option<String>,
    /// The issue date, once issued.
    pub issued_on: Option<NaiveDate>,
    /// When it was flagged for reversal (冲红).
    pub reversal_flagged_at: Option<DateTime<Utc>>,
    /// When finance reversed it.
    pub reversed_at: Option<DateTime<Utc>>,
    /// Finance's note on the reversal.
    pub reversal_note: Option<String>,
    /// The registrations it covers.
    pub covers: Vec<CoveredView>,
}

impl From<Invoice> for InvoiceView {
    fn from(i: Invoice) -> Self {
        InvoiceView {
            id: i.id.to_string(),
            serial: i.serial,
            period_id: i.period.to_string(),
            kind: i.kind,
            invoice_type: i.invoice_type,
            buyer: serde_json::to_value(&i.buyer).unwrap_or_default(),
            amount_yuan: yuan(i.amount_fen),
            amount_fen: i.amount_fen,
            remark: i.remark,
            state: i.state.as_str().into(),
            state_label: i.state.label_zh().into(),
            number: i.number,
            issued_on: i.issued_on,
            reversal_flagged_at: i.reversal_flagged_at,
            reversed_at: i.reversed_at,
            reversal_note: i.reversal_note,
            covers: i
                .covers
                .into_iter()
                .map(|c| CoveredView {
                    registration_id: c.registration.to_string(),
                    name: c.name,
                    paid_fen: c.paid_fen,
                    left_at: c.left_at,
                    released_at: c.released_at,
                })
                .collect(),
        }
    }
}

/// Filters of the invoice list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    /// Period id.
    pub period_id: Option<String>,
    /// `exported`, `issued`, `reversed` or `cancelled`.
    pub state: Option<String>,
    /// Only the invoices of this export.
    pub export_id: Option<String>,
}

/// Invoices, by serial (at most 5000).
#[utoipa::path(
    get,
    path = "/api/v1/admin/invoices",
    tag = "invoices",
    params(InvoiceQuery),
    responses((status = 200, body = Vec<InvoiceView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn list(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<InvoiceQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let query = query.into_inner();
    let invoice_state = match query.state.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => Some(InvoiceState::parse(raw).map_err(|_| {
            ApiError::field(
                "state",
                "invalid_state",
                "只能是 exported、issued、reversed 或 cancelled",
            )
        })?),
        None => None,
    };
    let export = match query.export_id.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(raw) => Some(
            InvoiceExportId::parse(raw)
                .map_err(|_| ApiError::field("export_id", "invalid_id", "导出记录不存在"))?,
        ),
        None => None,
    };
    let filter = InvoiceFilter {
        period: optional_period(query.period_id.as_deref())?,
        state: invoice_state,
        to_reverse: false,
        export,
    };
    let list = state.db(move |conn| invoices::list(conn, &filter, 5000)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(InvoiceView::from).collect::<Vec<_>>()))
}

/// An invoice to reverse (冲红) and what to do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReversalView {
    /// The invoice.
    pub invoice: InvoiceView,
    /// The people whose money went back.
    pub left: Vec<String>,
    /// The people who keep their fee: invoiced anew after the reversal (joint invoices).
    pub staying: Vec<String>,
    /// What to reverse, in words.
    pub what_to_reverse: String,
}

impl From<Invoice> for ReversalView {
    fn from(i: Invoice) -> Self {
        let (left, staying): (Vec<_>, Vec<_>) = i.covers.iter().partition(|c| c.left_at.is_some());
        let left: Vec<String> = left.iter().map(|c| c.name.clone()).collect();
        let staying: Vec<String> = staying.iter().map(|c| c.name.clone()).collect();
        let number = i.number.clone().unwrap_or_default();
        let amount = yuan(i.amount_fen);
        let what = if staying.is_empty() {
            format!(
                "全额冲红发票{number}（流水号{}，{amount}元）：{}已退款",
                i.serial,
                left.join("、")
            )
        } else {
            format!(
                "合开发票整张冲红：发票{number}（流水号{}，{amount}元），{}已退款；{}的发票在冲红后重新开具",
                i.serial,
                left.join("、"),
                staying.join("、")
            )
        };
        ReversalView { invoice: InvoiceView::from(i), left, staying, what_to_reverse: what }
    }
}

/// Filters of the reversals.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReversalQuery {
    /// Period id.
    pub period_id: Option<String>,
}

/// Issued invoices whose money went back, to reverse with a red-letter invoice (冲红): a joint
/// invoice as a whole, the people who left named.
#[utoipa::path(
    get,
    path = "/api/v1/admin/invoices/reversals",
    tag = "invoices",
    params(ReversalQuery),
    responses((status = 200, body = Vec<ReversalView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin."
)]
pub async fn reversals(
    state: web::Data<AppState>,
    me: CurrentStaff,
    query: web::Query<ReversalQuery>,
) -> Result<HttpResponse, ApiError> {
    me.require(FINANCE)?;
    let filter = InvoiceFilter {
        period: optional_period(query.period_id.as_deref())?,
        to_reverse: true,
        ..InvoiceFilter::default()
    };
    let list = state.db(move |conn| invoices::list(conn, &filter, 5000)).await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(ReversalView::from).collect::<Vec<_>>()))
}

/// Finance's note on a reversal.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReversedBody {
    /// E.g. the red-letter invoice's number.
    pub note: Option<String>,
}

/// Finance reversed an issued invoice (冲红): it no longer counts; the people it covered who
/// keep their fee are invoiced anew by the next export. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/invoices/{id}/reversed",
    tag = "invoices",
    params(("id" = String, Path, description = "invoice id")),
    request_body = ReversedBody,
    responses((status = 200, body = InvoiceView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "not issued", body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn reversed(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<ReversedBody>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let id: InvoiceId = path_id(&id)?;
    let note = body.into_inner().note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return Err(ApiError::field("note", "too_long", "备注不能超过500个字"));
    }
    let actor = me.audit_actor(role);
    let invoice = state
        .db(move |conn| invoices::mark_reversed(conn, id, note.as_deref(), &actor, Utc::now()))
        .await?;
    Ok(HttpResponse::Ok().json(InvoiceView::from(invoice)))
}

/// Cancels an exported invoice that was not issued (it will not be uploaded): the people it
/// covers are invoiced anew by the next export. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/invoices/{id}/cancel",
    tag = "invoices",
    params(("id" = String, Path, description = "invoice id")),
    responses((status = 200, body = InvoiceView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, description = "issued already (reverse it instead), or ended", body = ErrorBody)),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn cancel(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let id: InvoiceId = path_id(&id)?;
    let actor = me.audit_actor(role);
    let invoice = state.db(move |conn| invoices::cancel(conn, id, &actor, Utc::now())).await?;
    Ok(HttpResponse::Ok().json(InvoiceView::from(invoice)))
}

// ---------------------------------------------------------------------------------------------
// Issued numbers

/// One row of the bureau's workbook and what it did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportedRowView {
    /// The worksheet row (1-based).
    pub row: u32,
    /// 发票流水号.
    pub serial: String,
    /// 发票号码.
    pub number: String,
    /// `issued`, `already_issued`, `unknown_serial` (matches nothing), `other_number`,
    /// `number_taken`, `not_live`.
    pub outcome: String,
    /// What happened, in words.
    pub message: String,
}

fn outcome_view(result: IssuedResult) -> ImportedRowView {
    let (code, message) = match &result.outcome {
        IssuedOutcome::Issued { flagged_for_reversal: false } => {
            ("issued", "已登记为已开具".into())
        }
        IssuedOutcome::Issued { flagged_for_reversal: true } => {
            ("issued", "已登记为已开具；其中有人已退款，已列入待冲红".into())
        }
        IssuedOutcome::AlreadyIssued => ("already_issued", "此前已登记，未作改动".into()),
        IssuedOutcome::UnknownSerial => {
            ("unknown_serial", "没有这个发票流水号的发票，未登记".into())
        }
        IssuedOutcome::OtherNumber { recorded } => {
            ("other_number", format!("该发票已登记为号码{recorded}，未改动"))
        }
        IssuedOutcome::NumberTaken { serial } => {
            ("number_taken", format!("该发票号码已登记在流水号{serial}的发票上，未登记"))
        }
        IssuedOutcome::NotLive { state } => {
            ("not_live", format!("该发票{}，不能登记开具", state.label_zh()))
        }
    };
    ImportedRowView {
        row: result.row,
        serial: result.serial,
        number: result.number,
        outcome: code.into(),
        message,
    }
}

/// A row that could not be read.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemRowView {
    /// The worksheet row (1-based).
    pub row: u32,
    /// The serial cell's text, if any.
    pub serial: Option<String>,
    /// Codes of the problems.
    pub codes: Vec<String>,
    /// The problems, in words.
    pub messages: Vec<String>,
}

/// What an import did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    /// The sheet read.
    pub sheet: String,
    /// The row of the headers.
    pub header_row: u32,
    /// Invoices recorded issued now.
    pub issued: usize,
    /// Rows that matched no invoice or could not be recorded (see `rows` and `problems`).
    pub not_recorded: usize,
    /// Every row read, with what it did.
    pub rows: Vec<ImportedRowView>,
    /// Rows that could not be read at all.
    pub problems: Vec<ProblemRowView>,
}

/// Reads an uploaded file, refusing more than `limit` bytes as soon as they arrive (413
/// `upload_too_large`, JSON like every other error, where actix-web's own limit answers plain
/// text).
async fn read_upload(mut payload: web::Payload, limit: usize) -> Result<Vec<u8>, ApiError> {
    use futures_util::StreamExt as _;
    let mut bytes = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::bad_request("bad_upload", "上传中断，请重新上传"))?;
        if bytes.len() + chunk.len() > limit {
            return Err(ApiError::new(
                actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                "upload_too_large",
                format!("文件过大（不能超过 {} MiB）", limit / (1024 * 1024)),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Imports the workbook of issued invoices the tax bureau returns (.xlsx as the request
/// body). Columns are found by header name (发票流水号, 发票号码 or 数电发票号码, 开票日期 …),
/// in any order; each row is matched by serial: those invoices become issued with their
/// number and date. Rows that match nothing, or cannot be read, are reported. Audited.
#[utoipa::path(
    post,
    path = "/api/v1/admin/invoices/import",
    tag = "invoices",
    request_body(content = crate::openapi::Binary, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", description = "the bureau's workbook"),
    responses(
        (status = 200, body = ImportView),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 400, description = "the upload broke off (`bad_upload`)", body = ErrorBody),
        (status = 413, description = "larger than the upload limit (`upload_too_large`)", body = ErrorBody),
        (status = 422, description = "not a workbook, or no header row with the required headers", body = ErrorBody),
    ),
    description = "Roles: finance, admin. Needs X-CSRF-Token."
)]
pub async fn import(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(FINANCE)?;
    let body = read_upload(body, state.photo_limits.max_upload_bytes + 64 * 1024).await?;
    let read = web::block(move || read_issued_invoices(&body)).await??;
    let rows: Vec<IssuedRow> = read
        .invoices
        .iter()
        .map(|i| IssuedRow {
            row: i.row,
            serial: i.serial.as_str().to_owned(),
            number: i.number.as_str().to_owned(),
            issued_on: i.issued_on,
        })
        .collect();
    let actor = me.audit_actor(role);
    let results =
        state.db(move |conn| invoices::record_issued(conn, &rows, &actor, Utc::now())).await?;
    let issued =
        results.iter().filter(|r| matches!(r.outcome, IssuedOutcome::Issued { .. })).count();
    let unmatched = results.iter().filter(|r| !r.outcome.matched()).count();
    let problems: Vec<ProblemRowView> = read
        .problems
        .into_iter()
        .map(|p| ProblemRowView {
            row: p.row,
            serial: p.serial,
            codes: p.problems.iter().map(|x| x.code().to_owned()).collect(),
            messages: p.problems.iter().map(ToString::to_string).collect(),
        })
        .collect();
    Ok(HttpResponse::Ok().json(ImportView {
        sheet: read.sheet,
        header_row: read.header_row,
        issued,
        not_recorded: unmatched + problems.len(),
        rows: results.into_iter().map(outcome_view).collect(),
        problems,
    }))
}
