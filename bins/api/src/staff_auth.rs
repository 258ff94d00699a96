//! Who is calling the back office: the staff user of a cookie session, with CSRF protection
//! for every state-changing request and a role check per endpoint.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{Method, StatusCode};
use actix_web::{FromRequest, HttpRequest, web};
use baoming_accounts::{Role, Roles};
use baoming_domain::ids::{SessionId, StaffId};
use baoming_domain::lifecycle::Actor;
use baoming_store::registrations::{Ctx, Who};
use baoming_store::sessions::{self, Owner};
use baoming_store::{audit, staff};

use crate::auth::RequestId;
use crate::error::ApiError;
use crate::state::AppState;

/// The session cookie of the back office (the JSON API and the web console share it).
pub const COOKIE: &str = "baoming_staff";
/// The cookie holding the session's CSRF token for the web console's pages, which echo it in
/// their forms (the JSON API's clients get it in the login answer).
pub const CSRF_COOKIE: &str = "baoming_csrf";
/// The header that must echo the CSRF token on every state-changing request.
pub const CSRF_HEADER: &str = "x-csrf-token";

fn cookie(
    name: &'static str,
    value: &str,
    secure: bool,
    max_age: chrono::Duration,
) -> Cookie<'static> {
    Cookie::build(name, value.to_owned())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age.num_seconds()))
        .finish()
}

/// The session cookie (HttpOnly, SameSite=Strict, Secure unless dev mode).
pub fn session_cookie(token: &str, secure: bool, max_age: chrono::Duration) -> Cookie<'static> {
    cookie(COOKIE, token, secure, max_age)
}

/// The CSRF cookie of the console (HttpOnly, SameSite=Strict, Secure unless dev mode).
pub fn csrf_cookie(token: &str, secure: bool, max_age: chrono::Duration) -> Cookie<'static> {
    cookie(CSRF_COOKIE, token, secure, max_age)
}

/// Cookies that remove the session and CSRF cookies.
pub fn removal_cookies(secure: bool) -> [Cookie<'static>; 2] {
    let mut session = session_cookie("", secure, chrono::Duration::zero());
    session.make_removal();
    let mut csrf = csrf_cookie("", secure, chrono::Duration::zero());
    csrf.make_removal();
    [session, csrf]
}

/// A cookie that removes the session cookie.
pub fn removal_cookie(secure: bool) -> Cookie<'static> {
    let [session, _] = removal_cookies(secure);
    session
}

/// The active session of a session token and its enabled staff user, if any.
pub async fn staff_of_token(
    state: &AppState,
    token: String,
) -> Result<Option<(sessions::Session, staff::StaffUser)>, ApiError> {
    let now = chrono::Utc::now();
    let found = state
        .db(move |conn| {
            let Some(session) = sessions::find_active(conn, &token, now)? else {
                return Ok::<_, baoming_store::StoreError>(None);
            };
            let Owner::Staff(id) = session.owner else { return Ok(None) };
            Ok(Some((session, staff::get(conn, id)?)))
        })
        .await?;
    Ok(found.filter(|(_, user)| user.enabled))
}

/// The staff user of a valid session.
#[derive(Debug, Clone)]
pub struct CurrentStaff {
    /// Id.
    pub id: StaffId,
    /// Login name.
    pub username: String,
    /// Display name.
    pub display_name: String,
    /// Roles held.
    pub roles: Roles,
    /// The session.
    pub session: SessionId,
    /// The request.
    pub request_id: String,
    /// The client's address.
    pub client_ip: Option<String>,
}

impl CurrentStaff {
    /// The role the user acts in for an endpoint allowing `allowed`: the first of `allowed`
    /// they hold, or 403.
    pub fn require(&self, allowed: &[Role]) -> Result<Role, ApiError> {
        allowed.iter().copied().find(|role| self.roles.contains(*role)).ok_or_else(|| {
            ApiError::new(StatusCode::FORBIDDEN, "forbidden", "没有进行此操作的权限")
        })
    }

    /// The audit log's "who".
    pub fn audit_actor(&self, role: Role) -> audit::Actor {
        audit::Actor {
            staff: Some(self.id),
            username: Some(self.username.clone()),
            role: Some(role.as_str().to_owned()),
            request_id: Some(self.request_id.clone()),
            client_ip: self.client_ip.clone(),
        }
    }

    /// Ends this session (logout), audited, whichever role the user holds.
    pub async fn log_out(&self, state: &AppState) -> Result<(), ApiError> {
        let role = self.require(crate::routes::admin::ANY_STAFF)?;
        let (actor, session, id, now) =
            (self.audit_actor(role), self.session, self.id, state.now());
        state.db(move |conn| sessions::log_out_staff(conn, session, id, actor, now)).await
    }

    /// The store's context for a transition made in `role` now.
    pub fn ctx(&self, role: Role) -> Ctx {
        let actor = match role {
            Role::Admin => Actor::Admin,
            Role::Reviewer => Actor::Reviewer,
            Role::Finance => Actor::Finance,
            Role::Checkin => Actor::CheckinStaff,
        };
        Ctx {
            who: Who::Staff { id: self.id, role: actor },
            now: chrono::Utc::now(),
            request_id: Some(self.request_id.clone()),
        }
    }
}

/// The client's address: the connection's peer, or — when the peer is one of the configured
/// `trusted_proxies` — the right-most address of `X-Forwarded-For` that is not a trusted proxy.
pub fn client_ip(req: &HttpRequest) -> Option<String> {
    let peer = req.peer_addr()?.ip();
    let forwarded: Vec<&str> =
        req.headers().get_all("x-forwarded-for").filter_map(|v| v.to_str().ok()).collect();
    let client = match req.app_data::<web::Data<AppState>>() {
        Some(state) => state.trusted_proxies.client(peer, &forwarded),
        None => peer,
    };
    Some(client.to_string())
}

fn unsafe_method(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequest for CurrentStaff {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .cookie(COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|t| !t.is_empty() && t.len() <= 128);
        let csrf = req.headers().get(CSRF_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let check_csrf = unsafe_method(req.method());
        let request_id = RequestId::of(req);
        let client_ip = client_ip(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"AppState missing"))?;
            let token = token.ok_or_else(ApiError::unauthorized)?;
            let (session, user) =
                staff_of_token(&state, token).await?.ok_or_else(ApiError::unauthorized)?;
            if check_csrf {
                let ok = match (&session.csrf_hash, &csrf) {
                    (Some(expected), Some(presented)) => {
                        baoming_accounts::csrf_matches(expected, presented)
                    }
                    _ => false,
                };
                if !ok {
                    return Err(ApiError::new(
                        StatusCode::FORBIDDEN,
                        "csrf_failed",
                        "请求校验失败，请刷新页面后重试",
                    ));
                }
            }
            Ok(CurrentStaff {
                id: user.id,
                username: user.username,
                display_name: user.display_name,
                roles: user.roles,
                session: session.id,
                request_id,
                client_ip,
            })
        })
    }
}
