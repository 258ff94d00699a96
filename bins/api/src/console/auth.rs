//! Who is using the console: the staff user of the session cookie (the JSON back office's),
//! the CSRF check of every form, and the console's error pages.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{StatusCode, header};
use actix_web::{FromRequest, HttpRequest, HttpResponse, ResponseError, web};
use baoming_accounts::Role;

use crate::auth::RequestId;
use crate::error::ApiError;
use crate::staff_auth::{COOKIE, CSRF_COOKIE, CurrentStaff, client_ip, staff_of_token};
use crate::state::AppState;

/// What went wrong on a console page, shown as a page (or a redirect to the login).
#[derive(Debug)]
pub enum ConsoleError {
    /// No session: go to the login, and come back to `next` afterwards.
    Login {
        /// The page asked for.
        next: String,
    },
    /// Anything the JSON API would answer with an error: shown as a page with its message.
    Api(ApiError),
}

impl std::fmt::Display for ConsoleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConsoleError::Login { .. } => f.write_str("login required"),
            ConsoleError::Api(e) => e.fmt(f),
        }
    }
}

impl From<ApiError> for ConsoleError {
    fn from(e: ApiError) -> Self {
        ConsoleError::Api(e)
    }
}

impl From<baoming_store::StoreError> for ConsoleError {
    fn from(e: baoming_store::StoreError) -> Self {
        ConsoleError::Api(e.into())
    }
}

impl ResponseError for ConsoleError {
    fn status_code(&self) -> StatusCode {
        match self {
            ConsoleError::Login { .. } => StatusCode::SEE_OTHER,
            ConsoleError::Api(e) => e.status(),
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            ConsoleError::Login { next } => {
                let to = format!("/admin/login?next={}", super::layout::url_encode(next));
                HttpResponse::SeeOther().insert_header((header::LOCATION, to)).finish()
            }
            ConsoleError::Api(e) => {
                let title = match e.status() {
                    StatusCode::FORBIDDEN => "没有权限",
                    StatusCode::NOT_FOUND => "页面不存在",
                    s if s.is_server_error() => "系统错误",
                    _ => "无法完成操作",
                };
                super::layout::html(e.status(), super::layout::error_page(title, e.message()))
            }
        }
    }
}

/// The staff user of a console page.
#[derive(Debug, Clone)]
pub struct ConsoleStaff {
    /// The user, as the JSON back office knows them.
    pub staff: CurrentStaff,
    /// The session's CSRF token (from its cookie), echoed by the page's forms.
    pub csrf: String,
    csrf_hash: Option<String>,
}

impl ConsoleStaff {
    /// The role the user acts in for a page allowing `allowed`, or 403.
    pub fn require(&self, allowed: &[Role]) -> Result<Role, ConsoleError> {
        Ok(self.staff.require(allowed)?)
    }

    /// Whether the user holds one of `roles` (to show an action or not).
    pub fn may(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.staff.roles.contains(*r))
    }

    fn csrf_ok(&self, presented: &str) -> bool {
        self.csrf_hash
            .as_deref()
            .is_some_and(|expected| baoming_accounts::csrf_matches(expected, presented))
    }
}

impl FromRequest for ConsoleStaff {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .cookie(COOKIE)
            .map(|c| c.value().to_owned())
            .filter(|t| !t.is_empty() && t.len() <= 128);
        let csrf = req.cookie(CSRF_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
        let next = match req.query_string() {
            "" => req.path().to_owned(),
            q => format!("{}?{q}", req.path()),
        };
        let (request_id, ip) = (RequestId::of(req), client_ip(req));
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"AppState missing"))?;
            let Some(token) = token else { return Err(ConsoleError::Login { next }) };
            let Some((session, user)) = staff_of_token(&state, token).await? else {
                return Err(ConsoleError::Login { next });
            };
            Ok(ConsoleStaff {
                staff: CurrentStaff {
                    id: user.id,
                    username: user.username,
                    display_name: user.display_name,
                    roles: user.roles,
                    session: session.id,
                    request_id,
                    client_ip: ip,
                },
                csrf,
                csrf_hash: session.csrf_hash,
            })
        })
    }
}

/// The fields of a submitted form, in order (a name may repeat: check boxes).
#[derive(Debug, Clone, Default)]
pub struct Fields(pub Vec<(String, String)>);

impl Fields {
    /// The first value of `name`, trimmed; `None` when missing or blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
    }

    /// The value of `name` as typed (empty when missing).
    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_owned()
    }

    /// Every value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }

    /// Whether a check box `name` was ticked.
    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// A state-changing form of the console, with its user: refused (403) unless it carries the
/// session's CSRF token in `csrf_token`.
#[derive(Debug)]
pub struct ConsolePost {
    /// Who.
    pub me: ConsoleStaff,
    /// The fields.
    pub form: Fields,
}

impl FromRequest for ConsolePost {
    type Error = ConsoleError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ConsoleError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let me = ConsoleStaff::from_request(req, payload);
        let form = web::Form::<Vec<(String, String)>>::from_request(req, payload);
        Box::pin(async move {
            let me = me.await?;
            let form = Fields(
                form.await
                    .map_err(|e| {
                        ApiError::bad_request("bad_form", format!("表单内容不正确（{e}）"))
                    })?
                    .into_inner(),
            );
            let presented = form.get("csrf_token").unwrap_or_default().to_owned();
            if !me.csrf_ok(&presented) {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "csrf_failed",
                    "请求校验失败，请刷新页面后重试",
                )
                .into());
            }
            Ok(ConsolePost { me, form })
        })
    }
}
