//! Staff login (cookie session + CSRF token), logout, and who am I.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use baoming_accounts::{LoginThrottle, verify_password};
use baoming_store::staff::LoginReservation;
use baoming_store::{audit, sessions, staff, write_tx};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ANY_STAFF;
use crate::auth::RequestId;
use crate::error::{ApiError, ErrorBody};
use crate::staff_auth::{CurrentStaff, client_ip, csrf_cookie, removal_cookies, session_cookie};
use crate::state::AppState;

/// Staff credentials.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StaffLogin {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// The logged-in staff user; `csrf_token` must be echoed in `X-CSRF-Token` on every
/// state-changing request of this session.
#[derive(Debug, Serialize, ToSchema)]
pub struct StaffSession {
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Roles held.
    pub roles: Vec<String>,
    /// The CSRF token of this session (only in the login answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
}

/// A real Argon2id hash of a throwaway password, to verify against for unknown users.
fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        baoming_accounts::Username::parse("nobody")
            .ok()
            .and_then(|name| baoming_accounts::Password::parse("not-a-real-password-0", &name).ok())
            .and_then(|password| baoming_accounts::hash_password(&password).ok())
            .unwrap_or_default()
    })
}

/// The one answer to a refused login, whatever the reason (unknown or disabled user, wrong
/// password, locked account), so that neither names nor locks can be probed.
fn refused() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "login_failed",
        "用户名或密码错误（连续失败 5 次后账号锁定 15 分钟）",
    )
}

/// Logs a staff user in: a session cookie (HttpOnly, SameSite=Strict, Secure unless dev mode)
/// and a CSRF token. After 5 failed attempts the account is locked for 15 minutes; a locked
/// account is answered like a wrong password.
#[utoipa::path(
    post,
    path = "/api/v1/admin/auth/login",
    tag = "back office",
    request_body = StaffLogin,
    responses(
        (status = 200, body = StaffSession, headers(("set-cookie" = String, description = "baoming_staff session cookie"))),
        (status = 401, description = "wrong username or password, or the account is locked", body = ErrorBody),
        (status = 429, description = "too many logins from this address (`rate_limited`, see `Retry-After`)", body = ErrorBody),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<StaffLogin>,
) -> Result<HttpResponse, ApiError> {
    let StaffLogin { username, password } = body.into_inner();
    let (user, issued, csrf) = authenticate(&state, &req, username, password).await?;
    let ttl = state.staff_session_ttl;
    Ok(HttpResponse::Ok()
        .cookie(session_cookie(&issued.token, state.secure_cookies, ttl))
        .cookie(csrf_cookie(&csrf, state.secure_cookies, ttl))
        .json(StaffSession {
            username: user.username,
            display_name: user.display_name,
            roles: user.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            csrf_token: Some(csrf),
        }))
}

/// Checks a staff user's credentials (throttled and audited) and issues a session: the user,
/// the session and its CSRF token. Shared by the JSON login and the console's login form.
///
/// 1. One write transaction reserves a guess (`staff::reserve_login`): counted before any
///    password is checked, so a parallel burst gets at most the throttle's 5 guesses.
/// 2. The password is verified with no connection held, at most
///    `staff_login_concurrent_hashes` at once; an unknown, disabled or locked account is
///    verified against a throwaway hash, so every refusal costs the same time.
/// 3. One write transaction settles the guess and writes the audit entry (and the session).
///    Attempts refused while locked write no row of their own: their number goes into the
///    next settled attempt's entry. Refusals of unknown or disabled usernames are collapsed
///    per client address in the same way (`audit::record_collapsed_login_failure`): one row
///    per 15 minutes, the others counted on the address's next row.
pub(crate) async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    username: String,
    password: String,
) -> Result<(staff::StaffUser, sessions::Issued, String), ApiError> {
    state.limits.check(crate::rate_limit::Action::StaffLogin, None, req)?;
    let username = username.trim().to_lowercase();
    let actor = audit::Actor {
        staff: None,
        username: Some(username.chars().take(64).collect()),
        role: None,
        request_id: Some(RequestId::of(req)),
        client_ip: client_ip(req),
    };
    let throttle = LoginThrottle::default();
    let reservation =
        state.db(move |conn| staff::reserve_login(conn, &username, &throttle, Utc::now())).await?;
    let hash = match &reservation {
        LoginReservation::Reserved(user) => user.password_hash.clone(),
        LoginReservation::Unknown | LoginReservation::Refused(_) => dummy_hash().to_owned(),
    };
    let right = {
        let _permit = state.login_hashes.acquire().await.map_err(|e| ApiError::internal(&e))?;
        web::block(move || verify_password(&password, &hash)).await?
    };
    let user = match reservation {
        LoginReservation::Reserved(user) => *user,
        LoginReservation::Refused(_) => return Err(refused()),
        LoginReservation::Unknown => {
            // Collapsed per client address: one row per window of the lock's length, the
            // refusals in between counted on the address's next row.
            state
                .db(move |conn| {
                    audit::record_collapsed_login_failure(
                        conn,
                        &audit::Entry {
                            actor,
                            action: "login_failed".into(),
                            target_kind: Some("staff".into()),
                            target_id: None,
                            summary: Some(serde_json::json!({ "why": "unknown or disabled user" })),
                        },
                        throttle.lock_for,
                        Utc::now(),
                    )
                })
                .await?;
            return Err(refused());
        }
    };
    let ttl = state.staff_session_ttl;
    let session = state
        .db(move |conn| {
            write_tx(conn, |conn| {
                let now = Utc::now();
                let settled = staff::settle_login(conn, user.id, right, &throttle, now)?;
                let actor = audit::Actor { staff: Some(user.id), ..actor };
                let mut summary = serde_json::Map::new();
                if settled.refused > 0 {
                    summary.insert("refused_while_locked".into(), settled.refused.into());
                }
                let (action, issued) = if right {
                    let issued =
                        sessions::issue_with_csrf(conn, sessions::Owner::Staff(user.id), ttl, now)?;
                    ("login", Some(issued))
                } else {
                    summary.insert("why".into(), "wrong password".into());
                    if let Some(until) = settled.state.locked_until.filter(|_| settled.locked_now) {
                        summary.insert("locked_until".into(), until.to_rfc3339().into());
                        ("login_locked", None)
                    } else {
                        ("login_failed", None)
                    }
                };
                audit::record(
                    conn,
                    &audit::Entry {
                        actor,
                        action: action.into(),
                        target_kind: Some("staff".into()),
                        target_id: Some(user.id.to_string()),
                        summary: (!summary.is_empty()).then_some(summary.into()),
                    },
                    now,
                )?;
                Ok::<_, baoming_store::StoreError>(
                    issued.map(|(issued, csrf)| (user, issued, csrf)),
                )
            })
        })
        .await?;
    session.ok_or_else(refused)
}

/// Ends the staff session.
#[utoipa::path(
    post,
    path = "/api/v1/admin/auth/logout",
    tag = "back office",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody))
)]
pub async fn logout(
    state: web::Data<AppState>,
    me: CurrentStaff,
) -> Result<HttpResponse, ApiError> {
    me.log_out(&state).await?;
    let [session, csrf] = removal_cookies(state.secure_cookies);
    Ok(HttpResponse::NoContent().cookie(session).cookie(csrf).finish())
}

/// The logged-in staff user.
#[utoipa::path(
    get,
    path = "/api/v1/admin/me",
    tag = "back office",
    responses((status = 200, body = StaffSession), (status = 401, body = ErrorBody))
)]
pub async fn me(me: CurrentStaff) -> Result<HttpResponse, ApiError> {
    me.require(ANY_STAFF)?;
    Ok(HttpResponse::Ok().json(StaffSession {
        username: me.username,
        display_name: me.display_name,
        roles: me.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        csrf_token: None,
    }))
}
