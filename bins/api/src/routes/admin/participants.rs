//! Admin correction of a participant's locked identity (name, gender, ID number).

use actix_web::{HttpResponse, web};
use baoming_domain::ids::ParticipantId;
use baoming_domain::lifecycle::Reason;
use baoming_domain::profile::Identity;
use baoming_domain::{Gender, IdKind, IdNumber, PersonName};
use baoming_store::participants;
use chrono::Utc;
use serde::Deserialize;
use utoipa::ToSchema;

use super::ADMINS;
use crate::error::{ApiError, ErrorBody, FieldProblem};
use crate::routes::path_id;
use crate::routes::profile::ProfileView;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

/// The corrected identity and why.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityCorrection {
    /// 姓名
    pub name: String,
    /// `male`/`female`
    pub gender: String,
    /// Document kind code.
    pub id_kind: String,
    /// Document number.
    pub id_number: String,
    /// Why the correction is made (required; kept in the audit log).
    pub note: String,
}

/// Corrects a participant's locked name, gender and ID number (with a required note;
/// audited with before/after in masked form).
#[utoipa::path(
    put,
    path = "/api/v1/admin/participants/{id}/identity",
    tag = "back office",
    params(("id" = String, Path, description = "participant id")),
    request_body = IdentityCorrection,
    responses((status = 200, body = ProfileView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: admin. Needs X-CSRF-Token."
)]
pub async fn correct_identity(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<IdentityCorrection>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let id: ParticipantId = path_id(&id)?;
    let body = body.into_inner();
    let mut problems = Vec::new();
    let mut problem = |field: &str, message: String| {
        problems.push(FieldProblem { field: field.into(), code: "invalid".into(), message });
    };
    let name = PersonName::parse(&body.name).map_err(|e| problem("name", e.to_string())).ok();
    let gender = Gender::parse(&body.gender).map_err(|e| problem("gender", e.to_string())).ok();
    let number = IdKind::parse(&body.id_kind)
        .and_then(|kind| IdNumber::parse(kind, &body.id_number, Utc::now().date_naive()))
        .map_err(|e| problem("id_number", e.to_string()))
        .ok();
    let note = Reason::parse(&body.note).map_err(|e| problem("note", e.to_string())).ok();
    let (Some(name), Some(gender), Some(number), Some(note)) = (name, gender, number, note) else {
        return Err(ApiError::fields(problems));
    };
    let identity = Identity { name: Some(name), gender: Some(gender), id_number: Some(number) };
    let (cipher, actor) = (state.cipher.clone(), me.audit_actor(role));
    let participant = state
        .db(move |conn| {
            participants::correct_identity(
                conn,
                &cipher,
                id,
                &identity,
                note.as_str(),
                &actor,
                Utc::now(),
            )
            .map_err(ApiError::from)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ProfileView::from(&participant)))
}
