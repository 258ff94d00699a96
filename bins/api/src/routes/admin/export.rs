//! Exports: a period's registrations as .xlsx, written batch by batch with bounded memory.

// utoipa's `params(SomeQuery)` expansion names the type with a path the lint calls needless.
#![allow(unused_qualifications)]

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use baoming_accounts::Role;
use baoming_domain::IdNumber;
use baoming_domain::ids::PeriodId;
use baoming_domain::lifecycle::{Tab, Tag};
use baoming_exports::{ExportRow, ExportWriter};
use baoming_store::review::{self, ExportItem};
use baoming_store::{audit, periods};
use chrono::Utc;
use serde::Deserialize;
use utoipa::IntoParams;

use super::READERS;
use crate::error::{ApiError, ErrorBody};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;
use crate::time::beijing;

/// Export options.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// Full ID numbers instead of masked ones (admin only; audited).
    #[serde(default)]
    pub full_id: bool,
}

const BATCH: i64 = 1000;
const TIME: &str = "%Y-%m-%d %H:%M:%S";

fn row(item: &ExportItem, period: &periods::PeriodDetail, full_id: bool) -> ExportRow {
    let r = &item.registration;
    let p = &item.participant.profile;
    let ended = period.schedule.sitting_ended(Utc::now());
    let tab = Tab::of(r.status.state, ended);
    let invoice = r.invoice_snapshot.as_ref().map_or_else(String::new, |i| match &i.tax_id {
        Some(tax_id) => format!("{}（{tax_id}）", i.name),
        None => i.name.clone(),
    });
    ExportRow {
        state: r.status.state.as_str().into(),
        tag: Tag::of(r.status.state).label_zh(tab).into(),
        name: p.identity.name.as_ref().map(|n| n.as_str().to_owned()).unwrap_or_default(),
        gender: p.identity.gender.map(|g| g.label_zh().to_owned()).unwrap_or_default(),
        id_number: p
            .identity
            .id_number
            .as_ref()
            .map(|n| if full_id { n.expose().to_owned() } else { IdNumber::masked(n) })
            .unwrap_or_default(),
        phone: p.phone.as_ref().map(|x| x.as_str().to_owned()).unwrap_or_default(),
        employer: p.employer.clone().unwrap_or_default(),
        region: period
            .regions
            .iter()
            .find(|x| x.id == r.region)
            .map(|x| x.name.clone())
            .unwrap_or_default(),
        subjects: r
            .subjects
            .iter()
            .map(|s| match &s.specialty {
                Some(sp) => format!("{}（{sp}）", s.name),
                None => s.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("、"),
        exam_type: period
            .exam_types
            .iter()
            .find(|x| x.id == r.exam_type)
            .map(|x| x.name.clone())
            .unwrap_or_default(),
        fee_yuan: r.fee.to_yuan_string(),
        invoice_title: invoice,
        joint_invoice_remark: r.joint_invoice_remark.clone().unwrap_or_default(),
        submitted_at: beijing(r.submitted_at, TIME),
        approved_at: item.approved_at.map(|t| beijing(t, TIME)).unwrap_or_default(),
        paid_at: item.paid_at.map(|t| beijing(t, TIME)).unwrap_or_default(),
    }
}

/// A period's registrations as an .xlsx workbook (one row per registration). Masked ID
/// numbers; `full_id=true` (admin only) gives full numbers and is audited. Every export is
/// audited.
#[utoipa::path(
    get,
    path = "/api/v1/admin/periods/{id}/export",
    tag = "back office",
    params(("id" = String, Path, description = "period id"), ExportQuery),
    responses(
        (status = 200, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", body = crate::openapi::Binary),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody)
    ),
    description = "Roles: reviewer, finance, admin (full_id: admin)."
)]
pub async fn export(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    query: web::Query<ExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let full_id = query.full_id;
    let role = if full_id { me.require(&[Role::Admin])? } else { me.require(READERS)? };
    let period_id: PeriodId = path_id(&id)?;
    let (cipher, actor) = (state.cipher.clone(), me.audit_actor(role));
    let bytes = state
        .db(move |conn| {
            let period = periods::detail(conn, period_id)?;
            let mut writer = ExportWriter::new(&period.name).map_err(|e| ApiError::internal(&e))?;
            let mut cursor = None;
            loop {
                let batch = review::export_batch(conn, &cipher, period_id, cursor, BATCH)?;
                let Some(last) = batch.last() else { break };
                cursor = Some((last.registration.submitted_at, last.registration.id));
                for item in &batch {
                    writer
                        .push(&row(item, &period, full_id))
                        .map_err(|e| ApiError::internal(&e))?;
                }
            }
            let rows = writer.rows();
            audit::record(
                conn,
                &audit::Entry {
                    actor,
                    action: if full_id { "export_full_id".into() } else { "export".into() },
                    target_kind: Some("period".into()),
                    target_id: Some(period_id.to_string()),
                    summary: Some(serde_json::json!({ "rows": rows, "full_id": full_id })),
                },
                Utc::now(),
            )?;
            let bytes = writer.finish().map_err(|e| ApiError::internal(&e))?;
            Ok::<_, ApiError>(bytes)
        })
        .await?;
    let filename = format!("registrations-{period_id}.xlsx");
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{filename}\""),
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(bytes))
}
