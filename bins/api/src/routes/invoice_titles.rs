//! The participant's saved invoice titles (发票抬头).

use actix_web::{HttpResponse, web};
use baoming_domain::ids::InvoiceTitleId;
use baoming_invoicing::{InvoiceTitle, InvoiceTitleInput};
use baoming_store::invoice_titles::{self, SavedTitle};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::path_id;
use crate::auth::CurrentParticipant;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// A saved title.
#[derive(Debug, Serialize, ToSchema)]
pub struct TitleView {
    /// Id.
    pub id: String,
    /// `personal` or `company`.
    pub kind: String,
    /// `normal` (普通发票) or `special` (专票).
    pub invoice_type: String,
    /// The title (购买方名称).
    pub name: String,
    /// Tax ID (company titles).
    pub tax_id: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Bank.
    pub bank: Option<String>,
    /// Bank account.
    pub bank_account: Option<String>,
    /// E-invoice delivery email.
    pub email: Option<String>,
    /// A notice about the tax ID (e.g. an older 15/17/20-character taxpayer ID), if any.
    pub warning: Option<String>,
}

/// A title to save (the JSON form of the invoice-title editor).
#[derive(Debug, serde::Deserialize, ToSchema)]
pub struct TitleBody {
    /// `personal` or `company`.
    pub kind: String,
    /// `normal` or `special`; default `normal`.
    pub invoice_type: Option<String>,
    /// The title.
    pub name: Option<String>,
    /// Tax ID (required for company titles).
    pub tax_id: Option<String>,
    /// Address (required for 专票).
    pub address: Option<String>,
    /// Phone (required for 专票).
    pub phone: Option<String>,
    /// Bank (required for 专票).
    pub bank: Option<String>,
    /// Bank account (required for 专票).
    pub bank_account: Option<String>,
    /// Email.
    pub email: Option<String>,
}

pub(crate) fn view(saved: &SavedTitle, warning: Option<String>) -> TitleView {
    let t = &saved.title;
    TitleView {
        id: saved.id.to_string(),
        kind: t.kind().as_str().into(),
        invoice_type: t.invoice_type().as_str().into(),
        name: t.name().into(),
        tax_id: t.tax_id().map(|x| x.as_str().to_owned()),
        address: t.address().map(Into::into),
        phone: t.phone().map(Into::into),
        bank: t.bank().map(Into::into),
        bank_account: t.bank_account().map(Into::into),
        email: t.email().map(Into::into),
        warning,
    }
}

/// Checks a body with the invoicing rules: the title and an optional warning.
fn parse(body: TitleBody) -> Result<(InvoiceTitle, Option<String>), ApiError> {
    let kind = baoming_invoicing::TitleKind::parse(&body.kind)
        .map_err(|e| ApiError::field("kind", "invalid_kind", e.to_string()))?;
    let invoice_type = match body.invoice_type.as_deref() {
        None | Some("") => baoming_invoicing::InvoiceType::Normal,
        Some(raw) => baoming_invoicing::InvoiceType::parse(raw)
            .map_err(|e| ApiError::field("invoice_type", "invalid_invoice_type", e.to_string()))?,
    };
    let input = InvoiceTitleInput {
        kind,
        invoice_type,
        name: body.name.unwrap_or_default(),
        tax_id: body.tax_id,
        address: body.address,
        phone: body.phone,
        bank: body.bank,
        bank_account: body.bank_account,
        email: body.email,
    };
    let (title, warning) = InvoiceTitle::parse(&input)?;
    Ok((title, warning.map(|w| w.message().to_owned())))
}

/// The caller's invoice titles.
#[utoipa::path(
    get,
    path = "/api/v1/invoice-titles",
    tag = "invoice titles",
    security(("bearer" = [])),
    responses((status = 200, body = Vec<TitleView>), (status = 401, body = ErrorBody))
)]
pub async fn list(
    state: web::Data<AppState>,
    me: CurrentParticipant,
) -> Result<HttpResponse, ApiError> {
    let titles = state.db(move |conn| invoice_titles::list(conn, me.id)).await?;
    Ok(HttpResponse::Ok().json(titles.iter().map(|t| view(t, None)).collect::<Vec<_>>()))
}

/// Saves a new title; the tax ID is checked (USCC strictly, older IDs with a warning).
#[utoipa::path(
    post,
    path = "/api/v1/invoice-titles",
    tag = "invoice titles",
    security(("bearer" = [])),
    request_body = TitleBody,
    responses(
        (status = 201, body = TitleView),
        (status = 401, body = ErrorBody),
        (status = 422, description = "one problem per field", body = ErrorBody)
    )
)]
pub async fn create(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    body: web::Json<TitleBody>,
) -> Result<HttpResponse, ApiError> {
    let (title, warning) = parse(body.into_inner())?;
    let saved =
        state.write(move |conn| invoice_titles::create(conn, me.id, &title, Utc::now())).await?;
    Ok(HttpResponse::Created().json(view(&saved, warning)))
}

/// Replaces a title; registrations keep the snapshot they took.
#[utoipa::path(
    put,
    path = "/api/v1/invoice-titles/{id}",
    tag = "invoice titles",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "invoice title id")),
    request_body = TitleBody,
    responses(
        (status = 200, body = TitleView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
    body: web::Json<TitleBody>,
) -> Result<HttpResponse, ApiError> {
    let id: InvoiceTitleId = path_id(&id)?;
    let (title, warning) = parse(body.into_inner())?;
    let saved = state
        .write(move |conn| invoice_titles::update(conn, me.id, id, &title, Utc::now()))
        .await?;
    Ok(HttpResponse::Ok().json(view(&saved, warning)))
}

/// Deletes a title; registrations keep the snapshot they took.
#[utoipa::path(
    delete,
    path = "/api/v1/invoice-titles/{id}",
    tag = "invoice titles",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "invoice title id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody))
)]
pub async fn delete(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id: InvoiceTitleId = path_id(&id)?;
    state.write(move |conn| invoice_titles::delete(conn, me.id, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
