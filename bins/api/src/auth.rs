//! Who is calling: the participant behind a bearer token, and the request's id.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use baoming_domain::ids::{ParticipantId, SessionId};
use baoming_store::registrations::{Ctx, Who};
use baoming_store::sessions::{self, Owner};

use crate::error::ApiError;
use crate::state::AppState;

/// The request id of the current request (set by the middleware, echoed in `X-Request-Id`).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id of a request (or a fresh one if the middleware did not run).
    pub fn of(req: &HttpRequest) -> String {
        req.extensions().get::<RequestId>().map(|r| r.0.clone()).unwrap_or_default()
    }
}

/// The participant of a valid, unexpired, unrevoked session.
#[derive(Debug, Clone)]
pub struct CurrentParticipant {
    /// Who.
    pub id: ParticipantId,
    /// Their session (for logout).
    pub session: SessionId,
    /// The request id (for the event log).
    pub request_id: String,
}

impl CurrentParticipant {
    /// The store's context for a change made by this participant now.
    pub fn ctx(&self) -> Ctx {
        Ctx {
            who: Who::Participant(self.id),
            now: chrono::Utc::now(),
            request_id: Some(self.request_id.clone()),
        }
    }
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer "))?.trim();
    // Tokens are 43 base64url characters; anything else cannot be one.
    (token.len() <= 128 && !token.is_empty()).then(|| token.to_owned())
}

impl FromRequest for CurrentParticipant {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let request_id = RequestId::of(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal(&"AppState missing"))?;
            let token = token.ok_or_else(ApiError::unauthorized)?;
            let now = chrono::Utc::now();
            let hash = sessions::hash_token(&token);
            if let Some((id, session)) = state.sessions.get(&hash, now) {
                return Ok(CurrentParticipant { id, session, request_id });
            }
            let mark = state.sessions.mark();
            let session = state.db(move |conn| sessions::find_active(conn, &token, now)).await?;
            match session {
                Some(sessions::Session {
                    id,
                    owner: Owner::Participant(participant),
                    expires_at,
                    ..
                }) => {
                    state.sessions.put(mark, hash, participant, id, expires_at);
                    Ok(CurrentParticipant { id: participant, session: id, request_id })
                }
                _ => Err(ApiError::unauthorized()),
            }
        })
    }
}
