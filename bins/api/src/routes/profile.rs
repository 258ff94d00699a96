//! The participant's profile (个人信息).

use actix_web::{HttpRequest, HttpResponse, web};
use baoming_domain::profile::Profile;
use baoming_domain::{Gender, IdKind, IdNumber, MobilePhone, PersonName};
use baoming_store::participants::{self, Participant};
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
        .db(move |conn| {
            let now = chrono::Utc::now();
            let current = participants::get(conn, &cipher, me.id)?;
            let next = merge(&current.profile, update, now.date_naive())?;
            participants::save_profile(conn, &cipher, me.id, &next, now).map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProfileView::from(&participant)))
}
