//! Staff accounts over HTTP (admin): list, create with roles, reset a password, disable and
//! enable — each audited, and a reset or a disable ends the user's sessions at once. Any staff
//! user changes their own password.

use actix_web::{HttpResponse, web};
use baoming_accounts::{DisplayName, Password, Roles, Username};
use baoming_domain::ids::StaffId;
use baoming_store::staff::StaffUser;
use baoming_store::{StoreError, audit, sessions, staff};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ADMINS, ANY_STAFF};
use crate::error::{ApiError, ErrorBody};
use crate::routes::path_id;
use crate::staff_auth::CurrentStaff;
use crate::state::AppState;

/// A staff account.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffView {
    /// Id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Roles (`admin`, `reviewer`, `finance`, `checkin`).
    pub roles: Vec<String>,
    /// May log in.
    pub enabled: bool,
    /// Locked after failed logins until (if locked).
    pub locked_until: Option<chrono::DateTime<chrono::Utc>>,
}

impl From<&StaffUser> for StaffView {
    fn from(u: &StaffUser) -> Self {
        StaffView {
            id: u.id.to_string(),
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            roles: u.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            enabled: u.enabled,
            locked_until: u.failures.locked_until,
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStaff {
    /// Login name (3–32 of a-z 0-9 _ . -, starting with a letter).
    pub username: String,
    /// Name shown in the back office.
    pub display_name: String,
    /// Roles, e.g. `["reviewer"]`.
    pub roles: Vec<String>,
}

/// An account with the password it was given (shown once: hand it over in person).
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffWithPassword {
    /// The account.
    pub staff: StaffView,
    /// The generated password.
    pub password: String,
}

fn audited(
    actor: audit::Actor,
    action: &str,
    user: &StaffUser,
    summary: serde_json::Value,
) -> audit::Entry {
    audit::Entry {
        actor,
        action: action.into(),
        target_kind: Some("staff".into()),
        target_id: Some(user.id.to_string()),
        summary: Some(summary),
    }
}

/// Parses a new account's fields: each problem named by its field.
pub(crate) fn parse_new(body: &NewStaff) -> Result<(Username, DisplayName, Roles), ApiError> {
    let mut problems = Vec::new();
    let mut field = |name: &str, message: String| {
        problems.push(crate::error::FieldProblem {
            field: name.into(),
            code: "invalid".into(),
            message,
        });
    };
    let username =
        Username::parse(&body.username).map_err(|e| field("username", e.to_string())).ok();
    let display = DisplayName::parse(&body.display_name)
        .map_err(|e| field("display_name", e.to_string()))
        .ok();
    let roles = if body.roles.is_empty() {
        field("roles", "请至少选择一个角色".into());
        None
    } else {
        Roles::parse(&body.roles.join(",")).map_err(|e| field("roles", e.to_string())).ok()
    };
    match (username, display, roles) {
        (Some(u), Some(d), Some(r)) if problems.is_empty() => Ok((u, d, r)),
        _ => Err(ApiError::fields(problems)),
    }
}

fn new_password(username: &Username) -> Result<Password, ApiError> {
    let raw = baoming_accounts::generate_password().map_err(|e| ApiError::internal(&e))?;
    Password::parse(&raw, username).map_err(|e| ApiError::internal(&e))
}

/// The staff accounts.
#[utoipa::path(
    get,
    path = "/api/v1/admin/staff",
    tag = "back office",
    responses((status = 200, body = Vec<StaffView>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    description = "Roles: admin."
)]
pub async fn list(state: web::Data<AppState>, me: CurrentStaff) -> Result<HttpResponse, ApiError> {
    me.require(ADMINS)?;
    let users = state.db(staff::list).await?;
    Ok(HttpResponse::Ok().json(users.iter().map(StaffView::from).collect::<Vec<_>>()))
}

/// Creates an account with a generated password (answered once). Audited as `staff_create`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/staff",
    tag = "back office",
    request_body = NewStaff,
    responses(
        (status = 201, body = StaffWithPassword),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 409, description = "the login name is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    description = "Roles: admin."
)]
pub async fn create(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Json<NewStaff>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let created = create_account(&state, &me, role, &body).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Creates an account (the JSON API and the console).
pub(crate) async fn create_account(
    state: &AppState,
    me: &CurrentStaff,
    role: baoming_accounts::Role,
    body: &NewStaff,
) -> Result<StaffWithPassword, ApiError> {
    let (username, display, roles) = parse_new(body)?;
    let password = new_password(&username)?;
    let hash = baoming_accounts::hash_password(&password).map_err(|e| ApiError::internal(&e))?;
    let actor = me.audit_actor(role);
    let now = state.now();
    let user = state
        .db(move |conn| {
            baoming_store::write_tx(conn, |conn| {
                let user = staff::create(conn, &username, &display, &roles, &hash, now)?;
                let summary =
                    serde_json::json!({"username": user.username, "roles": roles.to_string()});
                audit::record(conn, &audited(actor, "staff_create", &user, summary), now)?;
                Ok::<_, StoreError>(user)
            })
        })
        .await
        .map_err(|e| match e.code() {
            "duplicate" => ApiError::field("username", "username_taken", "该登录名已被使用"),
            _ => e,
        })?;
    Ok(StaffWithPassword { staff: StaffView::from(&user), password: password.expose().to_owned() })
}

/// Gives an account a new generated password (answered once), lifts a lock and ends the
/// account's sessions. Audited as `staff_password_reset`. An admin cannot reset their own
/// password this way (it would hand whoever holds the session a new password without the
/// current one, and end the session): they change it with `POST /api/v1/admin/auth/password`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/staff/{id}/password",
    tag = "back office",
    params(("id" = String, Path, description = "staff id")),
    responses(
        (status = 200, body = StaffWithPassword),
        (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "the caller's own account (`cannot_reset_self`)", body = ErrorBody),
    ),
    description = "Roles: admin."
)]
pub async fn reset_password(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let id: StaffId = path_id(&id)?;
    Ok(HttpResponse::Ok().json(reset_account_password(&state, &me, role, id).await?))
}

/// Resets a password (the JSON API and the console).
pub(crate) async fn reset_account_password(
    state: &AppState,
    me: &CurrentStaff,
    role: baoming_accounts::Role,
    id: StaffId,
) -> Result<StaffWithPassword, ApiError> {
    if id == me.id {
        return Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "cannot_reset_self",
            "不能重置自己的密码，请使用“修改密码”",
        ));
    }
    let user = state.db(move |conn| staff::get(conn, id)).await?;
    let username = Username::parse(&user.username).map_err(|e| ApiError::internal(&e))?;
    let password = new_password(&username)?;
    let hash = baoming_accounts::hash_password(&password).map_err(|e| ApiError::internal(&e))?;
    let actor = me.audit_actor(role);
    let now = state.now();
    let user = state
        .db(move |conn| {
            baoming_store::write_tx(conn, |conn| {
                staff::set_password(conn, &user.username, &hash, now)?;
                let ended = sessions::revoke_staff_sessions(conn, user.id, None, now)?;
                let summary = serde_json::json!({"sessions_ended": ended});
                audit::record(conn, &audited(actor, "staff_password_reset", &user, summary), now)?;
                staff::get(conn, user.id)
            })
        })
        .await?;
    Ok(StaffWithPassword { staff: StaffView::from(&user), password: password.expose().to_owned() })
}

/// Disables or enables an account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Enabled {
    /// May log in.
    pub enabled: bool,
}

/// Disables an account (its sessions end at once) or enables it again. Audited as
/// `staff_disable` / `staff_enable`. An admin cannot disable their own account.
#[utoipa::path(
    post,
    path = "/api/v1/admin/staff/{id}/enabled",
    tag = "back office",
    params(("id" = String, Path, description = "staff id")),
    request_body = Enabled,
    responses((status = 200, body = StaffView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    description = "Roles: admin."
)]
pub async fn set_enabled(
    state: web::Data<AppState>,
    me: CurrentStaff,
    id: web::Path<String>,
    body: web::Json<Enabled>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ADMINS)?;
    let id: StaffId = path_id(&id)?;
    Ok(HttpResponse::Ok().json(set_account_enabled(&state, &me, role, id, body.enabled).await?))
}

/// Disables or enables an account (the JSON API and the console).
pub(crate) async fn set_account_enabled(
    state: &AppState,
    me: &CurrentStaff,
    role: baoming_accounts::Role,
    id: StaffId,
    enabled: bool,
) -> Result<StaffView, ApiError> {
    if id == me.id && !enabled {
        return Err(ApiError::new(
            actix_web::http::StatusCode::CONFLICT,
            "cannot_disable_self",
            "不能停用自己的账号",
        ));
    }
    let actor = me.audit_actor(role);
    let now = state.now();
    let user = state
        .db(move |conn| {
            baoming_store::write_tx(conn, |conn| {
                let user = staff::get(conn, id)?;
                staff::set_enabled(conn, &user.username, enabled, now)?;
                let ended = if enabled {
                    0
                } else {
                    sessions::revoke_staff_sessions(conn, user.id, None, now)?
                };
                let action = if enabled { "staff_enable" } else { "staff_disable" };
                let summary = serde_json::json!({"sessions_ended": ended});
                audit::record(conn, &audited(actor, action, &user, summary), now)?;
                staff::get(conn, user.id)
            })
        })
        .await?;
    Ok(StaffView::from(&user))
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub current_password: String,
    /// The new one (at least 12 characters, not containing the login name).
    pub new_password: String,
}

/// Changes the caller's own password (the current one checked); the caller's other sessions
/// end. Audited as `password_change`.
#[utoipa::path(
    post,
    path = "/api/v1/admin/auth/password",
    tag = "back office",
    request_body = PasswordChange,
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)),
    description = "Roles: any staff."
)]
pub async fn change_password(
    state: web::Data<AppState>,
    me: CurrentStaff,
    body: web::Json<PasswordChange>,
) -> Result<HttpResponse, ApiError> {
    let role = me.require(ANY_STAFF)?;
    change_own_password(&state, &me, role, &body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Changes the caller's password (the JSON API and the console).
pub(crate) async fn change_own_password(
    state: &AppState,
    me: &CurrentStaff,
    role: baoming_accounts::Role,
    body: &PasswordChange,
) -> Result<(), ApiError> {
    let id = me.id;
    let user = state.db(move |conn| staff::get(conn, id)).await?;
    let current = body.current_password.clone();
    let phc = user.password_hash.clone();
    let matches = web::block(move || baoming_accounts::verify_password(&current, &phc)).await?;
    if !matches {
        return Err(ApiError::field("current_password", "wrong_password", "当前密码不正确"));
    }
    let username = Username::parse(&user.username).map_err(|e| ApiError::internal(&e))?;
    let password = Password::parse(&body.new_password, &username)
        .map_err(|e| ApiError::field("new_password", "weak_password", e.to_string()))?;
    let hash = web::block(move || baoming_accounts::hash_password(&password))
        .await?
        .map_err(|e| ApiError::internal(&e))?;
    let (actor, session, now) = (me.audit_actor(role), me.session, state.now());
    state
        .db(move |conn| {
            baoming_store::write_tx(conn, |conn| {
                staff::set_password(conn, &user.username, &hash, now)?;
                let ended = sessions::revoke_staff_sessions(conn, user.id, Some(session), now)?;
                let summary = serde_json::json!({"other_sessions_ended": ended});
                audit::record(conn, &audited(actor, "password_change", &user, summary), now)
            })
        })
        .await
}
