//! The OpenAPI 3 document, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{
    admin, auth, health, invoice_titles, payments, periods, photos, profile, registrations,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(title = "baoming API", description = "报名: the mini-program backend of construction-supervision training and exam registration."),
    modifiers(&BearerAuth),
    paths(
        health::healthz,
        health::readyz,
        serve,
        auth::login,
        auth::logout,
        profile::get,
        profile::update,
        periods::list,
        periods::get,
        periods::quote,
        invoice_titles::list,
        invoice_titles::create,
        invoice_titles::update,
        invoice_titles::delete,
        photos::upload,
        photos::get,
        registrations::submit,
        registrations::get,
        registrations::resubmit,
        registrations::withdraw,
        registrations::my_exams,
        admin::auth::login,
        admin::auth::logout,
        admin::auth::me,
        admin::review::list,
        admin::review::counts,
        admin::review::bulk,
        admin::review::detail,
        admin::review::id_number,
        admin::review::photo,
        admin::review::approve,
        admin::review::reject,
        admin::participants::correct_identity,
        admin::audit::list,
        admin::export::export,
        admin::periods::list,
        admin::periods::create,
        admin::periods::update,
        admin::periods::close,
        admin::finance::transfers,
        admin::finance::confirm,
        admin::finance::not_received,
        admin::finance::ledger,
        admin::finance::refund_returned,
        admin::finance::reconciliation_reports,
        admin::finance::reconciliation_report,
        payments::pay_wechat,
        payments::declare_transfer,
        payments::transfer_details,
        payments::check,
        payments::notify,
        admin::jobs::list,
        admin::jobs::rerun,
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

/// This document, as JSON.
#[utoipa::path(get, path = "/openapi.json", tag = "health", responses((status = 200, description = "OpenAPI 3 document")))]
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
