//! The back-office web console (后台): server-rendered pages under `/admin/` for the staff of
//! a training centre — review, finance, check-in, tickets, periods, staff accounts, the audit
//! log and the job queue.
//!
//! Pages are HTML rendered with `maud` (compiled into the binary), in Chinese; the CSS and the
//! little JavaScript they need ([`assets`]) are the project's own files, served from the binary
//! with long cache lifetimes under a content-hashed path. Every page carries a strict
//! Content-Security-Policy (no inline script or style), `X-Frame-Options: DENY` and
//! `X-Content-Type-Options: nosniff`.
//!
//! The console uses the JSON back office's staff sessions, roles and CSRF protection: the
//! login sets the same session cookie and the session's CSRF token in an HttpOnly cookie, which
//! pages echo in every form ([`auth::ConsolePost`] refuses a state-changing form without it)
//! and in a `<meta>` for the scripts that call the JSON API. Each page asks for the roles that
//! may see it (403 otherwise) and shows only the actions the user's roles allow. Pages call
//! the same store functions as the JSON API; the JSON API stays the source of truth.

pub mod assets;
pub mod auth;
pub mod layout;
mod pages;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::web;

/// The Content-Security-Policy of every console page.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// Registers the console under `/admin`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/admin")
            .wrap(from_fn(security_headers))
            .configure(assets::configure)
            .configure(pages::configure),
    );
}

async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(res)
}
