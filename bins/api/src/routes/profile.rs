//! The participant's profile (个人信息).

use actix_web::{HttpRequest, HttpResponse, web};
use baoming_domain::profile::Profile;
use baoming_domain::{Gender, IdKind, IdNumber, MobilePhone, PersonName};
use baoming_store::participants::{self, Participant};
use baoming_store::privacy;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentParticipant;
use crate::error::{ApiError, ErrorBody, FieldProblem};
use crate::rate_limit::Action;
use crate::state::AppState;

/// The profile as the participant sees it: the ID number masked.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    /// 姓名
    pub name: Option<String>,
    /// `male` / `female`
    pub gender: Option<String>,
    /// Document kind code (`resident_id`, `passport`, …).
    pub id_kind: Option<String>,
    /// Document number, masked (`110105********002X`).
    pub id_number_masked: Option<String>,
    /// Birth date derived from the document, when it carries one.
    pub birth_date: Option<chrono::NaiveDate>,
    /// 手机号码
    pub phone: Option<String>,
    /// 工作单位
    pub employer: Option<String>,
    /// 学历
    pub education: Option<String>,
    /// 职称
    pub job_title: Option<String>,
    /// Name, gender and ID number are locked (a registration was submitted).
    pub locked: bool,
    /// Everything a registration needs is filled in.
    pub complete: bool,
}

impl From<&Participant> for ProfileView {
    fn from(p: &Participant) -> Self {
        let identity = &p.profile.identity;
        let number = identity.id_number.as_ref();
        ProfileView {
            name: identity.name.as_ref().map(|n| n.as_str().to_owned()),
            gender: identity.gender.map(|g| g.as_str().to_owned()),
            id_kind: number.map(|n| n.kind().as_str().to_owned()),
            id_number_masked: number.map(IdNumber::masked),
            birth_date: number.and_then(IdNumber::birth_date),
            phone: p.profile.phone.as_ref().map(|m| m.as_str().to_owned()),
            employer: p.profile.employer.clone(),
            education: p.profile.education.clone(),
            job_title: p.profile.job_title.clone(),
            locked: p.locked,
            complete: p.profile.is_complete(),
        }
    }
}

/// Profile changes. A field left out stays as it is (the ID number is never sent back
/// unmasked, so the form need not resend it); an empty employer/education/job title clears it.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 姓名 (locked after the first registration).
    pub name: Option<String>,
    /// `male`/`female` or `男`/`女` (locked after the first registration).
    pub gender: Option<String>,
    /// Document kind code; defaults to the current kind, else `resident_id`.
    pub id_kind: Option<String>,
    /// Document number (locked after the first registration).
    pub id_number: Option<String>,
    /// Mainland mobile number.
    pub phone: Option<String>,
    /// 工作单位
    pub employer: Option<String>,
    /// 学历
    pub education: Option<String>,
    /// 职称
    pub job_title: Option<String>,
}

const TEXT_LIMIT: usize = 100;

/// Applies the update to the current profile, collecting one problem per bad field.
fn merge(
    current: &Profile,
    update: ProfileUpdate,
    today: chrono::NaiveDate,
) -> Result<Profile, ApiError> {
    let mut problems = Vec::new();
    let mut problem = |field: &str, code: &str, message: String| {
        problems.push(FieldProblem { field: field.into(), code: code.into(), message });
    };
    let mut next = current.clone();
    if let Some(raw) = update.name {
        match PersonName::parse(&raw) {
            Ok(name) => next.identity.name = Some(name),
            Err(e) => problem("name", "invalid_name", e.to_string()),
        }
    }
    if let Some(raw) = update.gender {
        match Gender::parse(&raw) {
            Ok(g) => next.identity.gender = Some(g),
            Err(e) => problem("gender", "invalid_gender", e.to_string()),
        }
    }
    let kind = match update.id_kind.as_deref().map(IdKind::parse) {
        Some(Ok(kind)) => Some(kind),
        Some(Err(e)) => {
            problem("id_kind", "invalid_id_kind", e.to_string());
            None
        }
        None => {
            Some(current.identity.id_number.as_ref().map_or(IdKind::ResidentId, IdNumber::kind))
        }
    };
    match (update.id_number, kind) {
        (Some(raw), Some(kind)) => match IdNumber::parse(kind, &raw, today) {
            Ok(number) => next.identity.id_number = Some(number),
            Err(e) => problem("id_number", "invalid_id_number", e.to_string()),
        },
        // A new kind without its number cannot be checked.
        (None, Some(kind))
            if update.id_kind.is_some()
                && current.identity.id_number.as_ref().map(IdNumber::kind) != Some(kind) =>
        {
            problem("id_number", "id_number_missing", "更换证件类型时请同时填写证件号码".into());
        }
        _ => {}
    }
    if let Some(raw) = update.phone {
        match MobilePhone::parse(&raw) {
            Ok(phone) => next.phone = Some(phone),
            Err(e) => problem("phone", "invalid_phone", e.to_string()),
        }
    }
    for (field, value, slot) in [
        ("employer", update.employer, &mut next.employer),
        ("education", update.education, &mut next.education),
        ("job_title", update.job_title, &mut next.job_title),
    ] {
        if let Some(raw) = value {
            let text = raw.trim();
            if text.chars().count() > TEXT_LIMIT {
                problem(field, "too_long", format!("不能超过{TEXT_LIMIT}个字"));
            } else if text.chars().any(char::is_control) {
                problem(field, "invalid_char", "含有不允许的字符".into());
            } else {
                *slot = (!text.is_empty()).then(|| text.to_owned());
            }
        }
    }
    if problems.is_empty() { Ok(next) } else { Err(ApiError::fields(problems)) }
}

/// The caller's profile.
#[utoipa::path(
    get,
    path = "/api/v1/profile",
    tag = "profile",
    security(("bearer" = [])),
    responses((status = 200, body = ProfileView), (status = 401, body = ErrorBody))
)]
pub async fn get(
    state: web::Data<AppState>,
    me: CurrentParticipant,
) -> Result<HttpResponse, ApiError> {
    let cipher = state.cipher.clone();
    let participant = state.db(move |conn| participants::get(conn, &cipher, me.id)).await?;
    Ok(HttpResponse::Ok().json(ProfileView::from(&participant)))
}

/// Updates the caller's profile. After the first registration, changing name, gender or ID
/// number answers 409 `profile_locked`; the other fields stay editable.
#[utoipa::path(
    put,
    path = "/api/v1/profile",
    tag = "profile",
    security(("bearer" = [])),
    request_body = ProfileUpdate,
    responses(
        (status = 200, body = ProfileView),
        (status = 401, body = ErrorBody),
        (status = 409, description = "identity locked, or ID number used by another account", body = ErrorBody),
        (status = 422, description = "one problem per field", body = ErrorBody),
        (status = 429, description = "too many calls: `rate_limited`, see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn update(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentParticipant,
    body: web::Json<ProfileUpdate>,
) -> Result<HttpResponse, ApiError> {
    state.limits.check(Action::ProfileChange, Some(&me.id), &req)?;
    let cipher = state.cipher.clone();
    let update = body.into_inner();
    let participant = state
        .write(move |conn| {
            let now = chrono::Utc::now();
            let current = participants::get(conn, &cipher, me.id)?;
            let next = merge(&current.profile, update, now.date_naive())?;
            participants::save_profile(conn, &cipher, me.id, &next, now).map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProfileView::from(&participant)))
}

/// Everything stored about the caller (`GET /api/v1/profile/export`). Named
/// `PersonalDataExport` in the OpenAPI document: the invoice export's view holds the other name.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = PersonalDataExport)]
pub struct ExportView {
    /// When this export was made.
    pub exported_at: chrono::DateTime<chrono::Utc>,
    /// The profile, with the full ID number (it is the caller's own data).
    pub profile: ExportProfile,
    /// Every registration with its history, payments, refunds, invoices and ticket.
    pub registrations: Vec<ExportRegistrationView>,
    /// Saved invoice titles.
    pub invoice_titles: Vec<super::invoice_titles::TitleView>,
    /// Uploaded photos (the image itself: `url`).
    pub photos: Vec<ExportPhotoView>,
    /// Login sessions.
    pub sessions: ExportSessions,
}

/// The profile in the export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportProfile {
    /// Our id of the participant.
    pub participant_id: String,
    /// The WeChat openid of the mini-program.
    pub openid: String,
    /// 姓名 (`姓名已删除` once erased).
    pub name: Option<String>,
    /// `male` / `female`
    pub gender: Option<String>,
    /// Document kind code.
    pub id_kind: Option<String>,
    /// The full document number.
    pub id_number: Option<String>,
    /// 手机号码
    pub phone: Option<String>,
    /// 工作单位
    pub employer: Option<String>,
    /// 学历
    pub education: Option<String>,
    /// 职称
    pub job_title: Option<String>,
    /// Name, gender and ID number are locked.
    pub locked: bool,
    /// First login.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the personal data was erased (retention), if it was.
    pub erased_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// A registration in the export.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportRegistrationView {
    /// Id.
    pub id: String,
    /// The period.
    pub period_id: String,
    /// The period's name.
    pub period_name: String,
    /// The region's name.
    pub region: String,
    /// The exam type's name.
    pub exam_type: String,
    /// The chosen subjects.
    #[schema(value_type = Vec<Object>)]
    pub subjects: Vec<serde_json::Value>,
    /// The invoice title it was submitted with.
    #[schema(value_type = Option<Object>)]
    pub invoice_title: Option<serde_json::Value>,
    /// The fee, in fen.
    pub fee_fen: i64,
    /// State code (docs/lifecycle.md).
    pub state: String,
    /// Flag code.
    pub flag: Option<String>,
    /// The rejection reason.
    pub rejection_reason: Option<String>,
    /// `wechat_pay` / `bank_transfer`.
    pub payment_method: Option<String>,
    /// The photo it uses.
    pub photo_id: Option<String>,
    /// Submitted.
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
    /// Checked in.
    pub checked_in_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Its history (the event log).
    pub events: Vec<ExportEventView>,
    /// Payments received for it.
    pub payments: Vec<ExportPaymentView>,
    /// Refunds of it.
    pub refunds: Vec<ExportRefundView>,
    /// Invoices covering it.
    pub invoices: Vec<ExportInvoiceView>,
    /// The admission ticket, once published.
    pub ticket: Option<ExportTicketView>,
}

/// One event of a registration's history.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportEventView {
    /// When.
    pub at: chrono::DateTime<chrono::Utc>,
    /// Who (`participant`, `reviewer`, `finance`, `clock`, …).
    pub actor: String,
    /// What.
    pub event: String,
    /// From state.
    pub from_state: Option<String>,
    /// To state.
    pub to_state: String,
    /// The reason given.
    pub reason: Option<String>,
}

/// A payment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportPaymentView {
    /// Id.
    pub id: String,
    /// `wechat_pay` / `bank_transfer`.
    pub method: String,
    /// Amount, in fen.
    pub amount_fen: i64,
    /// What it did: `applied` (paid the registration), `mismatch` (another amount than the
    /// fee), `refund` (given back).
    pub disposition: String,
    /// WeChat Pay's transaction id.
    pub transaction_id: Option<String>,
    /// When it arrived.
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// A refund.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportRefundView {
    /// Id.
    pub id: String,
    /// Amount, in fen.
    pub amount_fen: i64,
    /// `pending`, `processing`, `succeeded`, `abnormal`, `closed`.
    pub state: String,
    /// Created.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Last change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// An invoice covering a registration.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportInvoiceView {
    /// Serial (发票流水号).
    pub serial: String,
    /// The invoice number, once issued.
    pub number: Option<String>,
    /// State code.
    pub state: String,
    /// The invoice's amount, in fen.
    pub amount_fen: i64,
    /// This registration's part, in fen.
    pub paid_fen: i64,
    /// Issue date.
    pub issued_on: Option<String>,
}

/// An admission ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportTicketView {
    /// Ticket number.
    pub number: String,
    /// Site number.
    pub site: i32,
    /// Room.
    pub room: i32,
    /// Seat.
    pub seat: i32,
}

/// A photo's metadata.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportPhotoView {
    /// Id.
    pub id: String,
    /// The normalised image (`GET`, with the bearer token).
    pub url: String,
    /// Uploaded.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Size of the original upload, in bytes.
    pub original_bytes: i64,
    /// Width of the original.
    pub width: i32,
    /// Height of the original.
    pub height: i32,
    /// When the original upload was deleted (the normalised photo is kept).
    pub original_deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Login sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportSessions {
    /// Sessions that still work (this one included).
    pub live: usize,
    /// Sessions stored (expired and logged-out ones until the retention job deletes them).
    pub stored: usize,
}

fn export_view(e: privacy::Export, now: chrono::DateTime<chrono::Utc>) -> ExportView {
    let p = &e.participant;
    let identity = &p.profile.identity;
    let number = identity.id_number.as_ref();
    ExportView {
        exported_at: now,
        profile: ExportProfile {
            participant_id: p.id.to_string(),
            openid: p.openid.clone(),
            name: identity.name.as_ref().map(|n| n.as_str().to_owned()),
            gender: identity.gender.map(|g| g.as_str().to_owned()),
            id_kind: number.map(|n| n.kind().as_str().to_owned()),
            id_number: number.map(|n| n.expose().to_owned()),
            phone: p.profile.phone.as_ref().map(|m| m.as_str().to_owned()),
            employer: p.profile.employer.clone(),
            education: p.profile.education.clone(),
            job_title: p.profile.job_title.clone(),
            locked: p.locked,
            created_at: p.created_at,
            erased_at: e.erased_at,
        },
        registrations: e
            .registrations
            .into_iter()
            .map(|r| ExportRegistrationView {
                id: r.id,
                period_id: r.period_id,
                period_name: r.period_name,
                region: r.region,
                exam_type: r.exam_type,
                subjects: r.subjects,
                invoice_title: r.invoice_snapshot,
                fee_fen: r.fee_fen,
                state: r.state,
                flag: r.flag,
                rejection_reason: r.rejection_reason,
                payment_method: r.payment_method,
                photo_id: r.photo_id,
                submitted_at: r.submitted_at,
                updated_at: r.updated_at,
                checked_in_at: r.checked_in_at,
                events: r
                    .events
                    .into_iter()
                    .map(|v| ExportEventView {
                        at: v.at,
                        actor: v.actor,
                        event: v.event,
                        from_state: v.from_state,
                        to_state: v.to_state,
                        reason: v.reason,
                    })
                    .collect(),
                payments: r
                    .payments
                    .into_iter()
                    .map(|v| ExportPaymentView {
                        id: v.id,
                        method: v.method,
                        amount_fen: v.amount_fen,
                        disposition: v.disposition,
                        transaction_id: v.transaction_id,
                        received_at: v.received_at,
                    })
                    .collect(),
                refunds: r
                    .refunds
                    .into_iter()
                    .map(|v| ExportRefundView {
                        id: v.id,
                        amount_fen: v.amount_fen,
                        state: v.state,
                        created_at: v.created_at,
                        updated_at: v.updated_at,
                    })
                    .collect(),
                invoices: r
                    .invoices
                    .into_iter()
                    .map(|v| ExportInvoiceView {
                        serial: v.serial,
                        number: v.number,
                        state: v.state,
                        amount_fen: v.amount_fen,
                        paid_fen: v.paid_fen,
                        issued_on: v.issued_on,
                    })
                    .collect(),
                ticket: r.ticket.map(|t| ExportTicketView {
                    number: t.number,
                    site: t.site,
                    room: t.room,
                    seat: t.seat,
                }),
            })
            .collect(),
        invoice_titles: e
            .invoice_titles
            .iter()
            .map(|t| super::invoice_titles::view(t, None))
            .collect(),
        photos: e
            .photos
            .into_iter()
            .map(|ph| ExportPhotoView {
                url: format!("/api/v1/photos/{}", ph.id),
                id: ph.id,
                created_at: ph.created_at,
                original_bytes: ph.original_bytes,
                width: ph.width,
                height: ph.height,
                original_deleted_at: ph.original_deleted_at,
            })
            .collect(),
        sessions: ExportSessions { live: e.live_sessions, stored: e.stored_sessions },
    }
}

/// Everything stored about the caller, as JSON (个人信息导出): the profile with the full ID
/// number (it is their own data; the answer is never cached), registrations with their
/// history, payments, refunds, invoices and tickets, saved invoice titles, photos (metadata
/// and link) and how many sessions exist.
#[utoipa::path(
    get,
    path = "/api/v1/profile/export",
    tag = "profile",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ExportView),
        (status = 401, body = ErrorBody),
        (status = 429, description = "too many calls: `rate_limited`, see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn export(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentParticipant,
) -> Result<HttpResponse, ApiError> {
    state.limits.check(Action::ProfileChange, Some(&me.id), &req)?;
    let cipher = state.cipher.clone();
    let now = chrono::Utc::now();
    let exported = state.db(move |conn| privacy::export(conn, &cipher, me.id, now)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .insert_header((
            actix_web::http::header::CONTENT_DISPOSITION,
            "attachment; filename=\"baoming-export.json\"",
        ))
        .json(export_view(exported, now)))
}

/// Deletes the caller's account (注销账号): refused with 409 `account_not_deletable` while a
/// registration is live (awaiting review or payment, a refund open, paid or checked in for a
/// sitting not yet over). Otherwise the personal data is erased (name → `姓名已删除`; ID
/// number, gender, phone, employer, education, job title, photos, tickets' images, invoice
/// titles gone), every session is revoked (this token stops working) and the WeChat account is
/// unlinked: logging in again starts a new, empty account. Payments, invoices and the
/// registrations' history stay for accounting, without personal data.
#[utoipa::path(
    delete,
    path = "/api/v1/profile",
    tag = "profile",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "deleted: the token no longer works"),
        (status = 401, body = ErrorBody),
        (status = 409, description = "`account_not_deletable`: the message names what is still live", body = ErrorBody),
        (status = 429, description = "too many calls: `rate_limited`, see `Retry-After`", body = ErrorBody),
    )
)]
pub async fn delete(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentParticipant,
) -> Result<HttpResponse, ApiError> {
    state.limits.check(Action::ProfileChange, Some(&me.id), &req)?;
    let request_id = me.request_id.clone();
    let erased = state
        .db(move |conn| {
            privacy::delete_account(conn, me.id, Some(&request_id), chrono::Utc::now())
                .map_err(ApiError::from)
        })
        .await?;
    // After the revocation: a request in between cannot cache a session again.
    for session in &erased.sessions {
        state.sessions.forget(*session);
    }
    let storage = state.photos.clone();
    let files = erased.files;
    web::block(move || {
        for key in &files {
            match storage.delete(key) {
                Ok(()) | Err(baoming_photos::storage::StorageError::NotFound { .. }) => {}
                Err(e) => tracing::warn!(%key, error = %e, "account deletion: a file was left"),
            }
        }
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}
