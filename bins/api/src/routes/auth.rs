//! WeChat login and logout.

use actix_web::{HttpRequest, HttpResponse, web};
use baoming_store::{participants, sessions};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::CurrentParticipant;
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::Action;
use crate::state::AppState;

/// `wx.login()`'s code.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    /// The one-time code from `wx.login()`.
    pub code: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for `Authorization: Bearer …`.
    pub token: String,
    /// When the token stops working.
    pub expires_at: DateTime<Utc>,
    /// The participant.
    pub participant_id: String,
    /// Whether the profile is complete (otherwise the form asks for it first).
    pub profile_complete: bool,
}

/// Logs in with the code of `wx.login()`: the participant of the openid (created on first
/// login) gets a new session token. The WeChat `session_key` never leaves the server.
#[utoipa::path(
    post,
    path = "/api/v1/auth/wechat-login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, body = LoginResponse),
        (status = 400, description = "the code is invalid or was used (`wechat_code_invalid`)", body = ErrorBody),
        (status = 403, description = "WeChat judges the account risky (`wechat_high_risk`)", body = ErrorBody),
        (status = 422, description = "no code, or one longer than 128 bytes (`validation_failed`, field `code`)", body = ErrorBody),
        (status = 429, description = "too many logins from this address (`rate_limited`, see `Retry-After`) or WeChat's own limit (`wechat_rate_limited`)", body = ErrorBody),
        (status = 503, description = "WeChat unavailable (`wechat_unavailable`)", body = ErrorBody),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    state.limits.check(Action::WechatLogin, None, &req)?;
    let code = body.into_inner().code;
    let code = code.trim();
    if code.is_empty() || code.len() > 128 {
        return Err(ApiError::field("code", "code_missing", "缺少登录凭证"));
    }
    let session = state.wechat.code_to_session(code).await?;
    let (cipher, ttl) = (state.cipher.clone(), state.session_ttl);
    let response = state
        .write(move |conn| {
            let now = Utc::now();
            let participant = participants::login(
                conn,
                &cipher,
                &session.openid,
                session.unionid.as_deref(),
                now,
            )?;
            let issued =
                sessions::issue(conn, sessions::Owner::Participant(participant.id), ttl, now)?;
            Ok::<_, baoming_store::StoreError>(LoginResponse {
                token: issued.token,
                expires_at: issued.session.expires_at,
                participant_id: participant.id.to_string(),
                profile_complete: participant.profile.is_complete(),
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(response))
}

/// Ends the current session.
#[utoipa::path(
    post,
    path = "/api/v1/auth/logout",
    tag = "auth",
    security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorBody))
)]
pub async fn logout(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    _req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let session = me.session;
    state.write(move |conn| sessions::log_out_participant(conn, session, Utc::now())).await?;
    // After the revocation: a request in between cannot cache the session again.
    state.sessions.forget(session);
    Ok(HttpResponse::NoContent().finish())
}
