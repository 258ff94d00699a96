//! Staff login (cookie session + CSRF token), logout, and who am I.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use baoming_accounts::{LoginThrottle, verify_password};
use baoming_store::{audit, sessions, staff};
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

enum Outcome {
    Ok(Box<(staff::StaffUser, sessions::Issued, String)>),
    Locked(chrono::DateTime<Utc>),
    Refused,
}

/// Logs a staff user in: a session cookie (HttpOnly, SameSite=Strict, Secure unless dev mode)
/// and a CSRF token. After 5 failed attempts the account is locked for 15 minutes (429).
#[utoipa::path(
    post,
    path = "/api/v1/admin/auth/login",
    tag = "back office",
    request_body = StaffLogin,
    responses(
        (status = 200, body = StaffSession, headers(("set-cookie" = String, description = "baoming_staff session cookie"))),
        (status = 401, description = "wrong username or password", body = ErrorBody),
        (status = 429, description = "locked after repeated failures (`account_locked`), or too many logins from this address (`rate_limited`, see `Retry-After`)", body = ErrorBody),
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
    let ttl = state.staff_session_ttl;
    let outcome = state
        .db(move |conn| {
            let now = Utc::now();
            let throttle = LoginThrottle::default();
            let user = staff::find_by_username(conn, &username)?;
            let fail = |conn: &mut baoming_store::DbConnection, actor: audit::Actor, why: &str| {
                audit::record(
                    conn,
                    &audit::Entry {
                        actor,
                        action: "login_failed".into(),
                        target_kind: Some("staff".into()),
                        target_id: None,
                        summary: Some(serde_json::json!({ "why": why })),
                    },
                    now,
                )
            };
            let Some(user) = user.filter(|u| u.enabled) else {
                // Spend the same time as a real check, so timing does not tell which names exist.
                verify_password(&password, dummy_hash());
                fail(conn, actor, "unknown or disabled user")?;
                return Ok::<_, baoming_store::StoreError>(Outcome::Refused);
            };
            let actor = audit::Actor { staff: Some(user.id), ..actor };
            if let Err(locked) = throttle.check(&user.failures, now) {
                fail(conn, actor, "locked")?;
                return Ok(Outcome::Locked(locked.until));
            }
            if !verify_password(&password, &user.password_hash) {
                let next = staff::record_failed_login(conn, user.id, &throttle, now)?;
                fail(conn, actor, "wrong password")?;
                return Ok(match next.locked_until {
                    Some(until) => Outcome::Locked(until),
                    None => Outcome::Refused,
                });
            }
            staff::set_failures(conn, user.id, &throttle.after_success(), now)?;
            let (issued, csrf) =
                sessions::issue_with_csrf(conn, sessions::Owner::Staff(user.id), ttl, now)?;
            audit::record(
                conn,
                &audit::Entry {
                    actor,
                    action: "login".into(),
                    target_kind: Some("staff".into()),
                    target_id: Some(user.id.to_string()),
                    summary: None,
                },
                now,
            )?;
            Ok(Outcome::Ok(Box::new((user, issued, csrf))))
        })
        .await?;
    match outcome {
        Outcome::Ok(ok) => Ok(*ok),
        Outcome::Locked(until) => Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "account_locked",
            format!(
                "登录失败次数过多，账号已锁定至 {}，请稍后再试",
                crate::time::beijing(until, "%H:%M")
            ),
        )),
        Outcome::Refused => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "login_failed", "用户名或密码错误"))
        }
    }
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
    let role = me.require(ANY_STAFF)?;
    let actor = me.audit_actor(role);
    let (session, id) = (me.session, me.id);
    state
        .db(move |conn| {
            let now = Utc::now();
            sessions::revoke(conn, session, now)?;
            audit::record(
                conn,
                &audit::Entry {
                    actor,
                    action: "logout".into(),
                    target_kind: Some("staff".into()),
                    target_id: Some(id.to_string()),
                    summary: None,
                },
                now,
            )
        })
        .await?;
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
