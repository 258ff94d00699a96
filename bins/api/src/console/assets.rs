//! The console's CSS and JavaScript: the project's own files, compiled into the binary and
//! served under a path that carries their content hash, so browsers keep them for a year and a
//! new build is fetched at once.

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use sha2::{Digest, Sha256};

const CSS: &str = include_str!("assets/console.css");
const JS: &str = include_str!("assets/console.js");

fn hash(text: &str) -> String {
    hex::encode(&Sha256::digest(text.as_bytes())[..6])
}

fn hashes() -> &'static (String, String) {
    static HASHES: OnceLock<(String, String)> = OnceLock::new();
    HASHES.get_or_init(|| (hash(CSS), hash(JS)))
}

/// The stylesheet's URL.
pub fn css_url() -> String {
    format!("/admin/assets/console-{}.css", hashes().0)
}

/// The script's URL.
pub fn js_url() -> String {
    format!("/admin/assets/console-{}.js", hashes().1)
}

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/assets/{name}", web::get().to(asset));
}

async fn asset(name: web::Path<String>) -> HttpResponse {
    let (css, js) = hashes();
    let (body, kind) = match name.as_str() {
        n if n == format!("console-{css}.css") => (CSS, "text/css; charset=utf-8"),
        n if n == format!("console-{js}.js") => (JS, "text/javascript; charset=utf-8"),
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, kind))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .body(body)
}
