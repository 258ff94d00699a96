//! Admission tickets (准考证) for the participant — the ticket as JSON, its PNG (to save to
//! the album) and its PDF (to print), once the period's tickets are published — and the public
//! keys an exam-room device verifies the tickets' QR codes with, offline. docs/tickets.md has
//! the mini-program's side.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use baoming_domain::ids::RegistrationId;
use baoming_runtime::tickets::subject_slot;
use baoming_store::participants;
use baoming_store::tickets::{self, RenderState, Ticket};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::path_id;
use crate::auth::CurrentParticipant;
use crate::error::{ApiError, ErrorBody};
use crate::state::AppState;

/// The site (考点) of a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteView {
    /// Its number (in the ticket number).
    pub number: u32,
    /// Name.
    pub name: String,
    /// Address.
    pub address: String,
}

/// A subject and when it is sat.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketSubjectView {
    /// Name (with the specialty in brackets).
    pub name: String,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// As printed, in Beijing time: `2026年12月20日 09:00–11:30`.
    pub time: String,
}

/// A participant's admission ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// The registration.
    pub registration_id: String,
    /// The period.
    pub period_id: String,
    /// The period's name.
    pub period_name: String,
    /// The ticket number (准考证号).
    pub ticket_number: String,
    /// Full name.
    pub name: Option<String>,
    /// Gender (男/女).
    pub gender: Option<String>,
    /// The masked ID number.
    pub masked_id: Option<String>,
    /// The site.
    pub site: SiteView,
    /// Room (考场).
    pub room: u32,
    /// Seat (座号).
    pub seat: u32,
    /// The seat's row (front first).
    pub row: u32,
    /// The seat's column.
    pub column: u32,
    /// Subjects with their times.
    pub subjects: Vec<TicketSubjectView>,
    /// The exam-room rules.
    pub rules: Vec<String>,
    /// `ready` (the PNG and the PDF can be fetched), `rendering` (being made; try again
    /// shortly), `failed` (staff have been told).
    pub status: String,
    /// What to show about the status.
    pub status_message: String,
    /// The signed text of the ticket's QR code (once ready).
    pub qr_text: Option<String>,
    /// The PNG for the phone's album.
    pub png_url: String,
    /// The PDF for printing.
    pub pdf_url: String,
    /// When the period's tickets were published.
    pub published_at: DateTime<Utc>,
}

/// A ticket's status code and message for the participant.
pub(crate) fn status(ticket: &Ticket) -> (&'static str, &'static str) {
    match ticket.render {
        RenderState::Rendered { .. } => ("ready", "准考证已生成，可保存到相册或打印"),
        RenderState::Pending => ("rendering", "准考证正在生成，请稍后刷新"),
        RenderState::Failed(_) => ("failed", "准考证生成遇到问题，工作人员正在处理，请稍后再看"),
    }
}

/// The URLs of a registration's ticket: (JSON, PNG, PDF).
pub(crate) fn urls(registration: RegistrationId) -> (String, String, String) {
    let base = format!("/api/v1/registrations/{registration}/ticket");
    (base.clone(), format!("{base}.png"), format!("{base}.pdf"))
}

/// The caller's own published ticket; anything else is "not found".
async fn own_ticket(
    state: &AppState,
    me: &CurrentParticipant,
    raw: &str,
) -> Result<(Ticket, DateTime<Utc>), ApiError> {
    let id: RegistrationId = path_id(raw)?;
    let participant = me.id;
    state.db(move |conn| tickets::published(conn, id, participant)).await
}

/// The caller's admission ticket (准考证): number, site, room, seat, subjects with their
/// times, and where its PNG and PDF are. Not found before the period's tickets are published,
/// for a registration without a ticket, and for anyone else's registration.
#[utoipa::path(
    get,
    path = "/api/v1/registrations/{id}/ticket",
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, body = TicketView),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody)
    )
)]
pub async fn get(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (ticket, published_at) = own_ticket(&state, &me, &id).await?;
    let (cache, cipher) = (state.periods.clone(), state.cipher.clone());
    let participant = me.id;
    let view = state
        .db(move |conn| {
            let registration = baoming_store::registrations::get(conn, ticket.registration)?;
            let period = cache.get(conn, registration.period)?;
            let person = participants::get(conn, &cipher, participant)?;
            let venue = period.venue(ticket.venue).ok_or_else(ApiError::not_found)?;
            let identity = &person.profile.identity;
            let (_, png_url, pdf_url) = urls(ticket.registration);
            let (status, status_message) = status(&ticket);
            Ok::<_, ApiError>(TicketView {
                registration_id: ticket.registration.to_string(),
                period_id: period.id.to_string(),
                period_name: period.name.clone(),
                ticket_number: ticket.number.clone(),
                name: identity.name.as_ref().map(|n| n.as_str().to_owned()),
                gender: identity.gender.map(|g| g.label_zh().to_owned()),
                masked_id: identity.id_number.as_ref().map(baoming_domain::IdNumber::masked),
                site: SiteView {
                    number: ticket.site,
                    name: venue.name.clone(),
                    address: venue.address.clone(),
                },
                room: ticket.room,
                seat: ticket.seat,
                row: ticket.row,
                column: ticket.column,
                subjects: tickets::subjects_of(&period, &registration.subjects)
                    .iter()
                    .map(|s| TicketSubjectView {
                        name: s.name.clone(),
                        starts_at: s.starts_at,
                        ends_at: s.ends_at,
                        time: subject_slot(s).time,
                    })
                    .collect(),
                rules: baoming_tickets::default_rules(),
                status: status.into(),
                status_message: status_message.into(),
                qr_text: match &ticket.render {
                    RenderState::Rendered { qr_text, .. } => Some(qr_text.clone()),
                    _ => None,
                },
                png_url,
                pdf_url,
                published_at,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(view))
}

/// Serves one of the ticket's files.
async fn file(
    state: &AppState,
    me: &CurrentParticipant,
    raw: &str,
    png: bool,
) -> Result<HttpResponse, ApiError> {
    let (ticket, _) = own_ticket(state, me, raw).await?;
    let key = match &ticket.render {
        RenderState::Rendered { png_key, pdf_key, .. } => {
            if png {
                png_key.clone()
            } else {
                pdf_key.clone()
            }
        }
        RenderState::Pending => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "ticket_not_ready",
                status(&ticket).1,
            ));
        }
        RenderState::Failed(_) => {
            return Err(ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "ticket_render_failed",
                status(&ticket).1,
            ));
        }
    };
    let storage = state.photos.clone();
    let bytes = web::block(move || storage.get(&key)).await?.map_err(|e| ApiError::internal(&e))?;
    let (content_type, extension) =
        if png { ("image/png", "png") } else { ("application/pdf", "pdf") };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, content_type))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"ticket-{}.{extension}\"", ticket.number),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"))
        .body(bytes))
}

/// The caller's admission ticket as a PNG (1080 px wide) to save to the phone's album.
/// Not found as the JSON is; 409 `ticket_not_ready` while it is being made, 409
/// `ticket_render_failed` when it could not be made (staff are told).
#[utoipa::path(
    get,
    path = "/api/v1/registrations/{id}/ticket.png",
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, content_type = "image/png", body = crate::openapi::Binary),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not rendered yet, or rendering failed", body = ErrorBody)
    )
)]
pub async fn png(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    file(&state, &me, &id, true).await
}

/// The caller's admission ticket as an A4 PDF for printing (as the PNG).
#[utoipa::path(
    get,
    path = "/api/v1/registrations/{id}/ticket.pdf",
    tag = "tickets",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "registration id")),
    responses(
        (status = 200, content_type = "application/pdf", body = crate::openapi::Binary),
        (status = 401, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "not rendered yet, or rendering failed", body = ErrorBody)
    )
)]
pub async fn pdf(
    state: web::Data<AppState>,
    me: CurrentParticipant,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    file(&state, &me, &id, false).await
}

/// A JWK set (RFC 7517) of Ed25519 keys (RFC 8037).
#[derive(Debug, Serialize, ToSchema)]
pub struct JwkSet {
    /// The keys: `{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"use":"sig","alg":"EdDSA"}`.
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
}

/// The public keys tickets' QR codes are signed with, as a JWK set: every key that may have
/// signed a ticket in use (old and new while keys rotate), by key id. An exam-room device
/// downloads it once and verifies offline (docs/tickets.md).
#[utoipa::path(
    get,
    path = "/api/v1/ticket-keys",
    tag = "tickets",
    responses((status = 200, content_type = "application/jwk-set+json", body = JwkSet))
)]
pub async fn keys(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/jwk-set+json"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(state.tickets.keys.verifying().to_jwks())
}

/// The same public keys as PEM `PUBLIC KEY` blocks (SubjectPublicKeyInfo, RFC 8410), each
/// after a `# kid: …` line.
#[utoipa::path(
    get,
    path = "/api/v1/ticket-keys.pem",
    tag = "tickets",
    responses((status = 200, content_type = "application/x-pem-file", body = String))
)]
pub async fn keys_pem(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/x-pem-file; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .body(state.tickets.keys.verifying().to_pem())
}
