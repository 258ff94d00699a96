//! Every route of the API, declared once: the same table registers the handlers with actix-web
//! and generates the OpenAPI document's path list ([`ApiDoc`]); a test compares the two.

pub mod admin;
pub mod auth;
pub mod checkin;
pub mod health;
pub mod invoice_titles;
pub mod payments;
pub mod periods;
pub mod photos;
pub mod profile;
pub mod registrations;
pub mod tickets;
pub mod views;

use actix_web::web;
use baoming_domain::ids::TypedId;

use crate::error::ApiError;
use crate::openapi::{self, BearerAuth, CommonResponses};

/// Parses a path id; a malformed id is simply "not found".
pub fn path_id<T: TypedId>(raw: &str) -> Result<T, ApiError> {
    T::parse(raw).map_err(|_| ApiError::not_found())
}

macro_rules! routes {
    ($($method:ident $path:literal => $($handler:ident)::+;)*) => {
        /// Registers every route: the static paths first, then those with `{…}` segments.
        /// actix-web's router tries the resources in the order they were registered and
        /// matches each `{…}` path with a regular expression, so a static route never waits
        /// behind them (and a static path is never taken by a pattern registered before it).
        pub fn configure(cfg: &mut web::ServiceConfig) {
            $(if !$path.contains('{') {
                cfg.route($path, web::$method().to($($handler)::+));
            })*
            $(if $path.contains('{') {
                cfg.route($path, web::$method().to($($handler)::+));
            })*
        }

        /// Every route as (method, path), as the OpenAPI document must list them.
        pub const ROUTES: &[(&str, &str)] = &[$((stringify!($method), $path),)*];

        /// The OpenAPI 3 document: each handler's `#[utoipa::path]` annotation, for exactly
        /// the handlers of this table.
        #[derive(utoipa::OpenApi)]
        #[openapi(
            info(
                title = "baoming API",
                description = "报名: the mini-program backend of construction-supervision training and exam registration."
            ),
            modifiers(&BearerAuth, &CommonResponses),
            paths($($($handler)::+),*)
        )]
        #[derive(Debug)]
        pub struct ApiDoc;
    };
}

routes! {
    get "/healthz" => health::healthz;
    get "/readyz" => health::readyz;
    get "/openapi.json" => openapi::serve;
    post "/api/v1/auth/wechat-login" => auth::login;
    post "/api/v1/auth/logout" => auth::logout;
    get "/api/v1/profile" => profile::get;
    put "/api/v1/profile" => profile::update;
    delete "/api/v1/profile" => profile::delete;
    get "/api/v1/profile/export" => profile::export;
    get "/api/v1/periods" => periods::list;
    get "/api/v1/periods/{id}" => periods::get;
    post "/api/v1/periods/{id}/quote" => periods::quote;
    get "/api/v1/invoice-titles" => invoice_titles::list;
    post "/api/v1/invoice-titles" => invoice_titles::create;
    put "/api/v1/invoice-titles/{id}" => invoice_titles::update;
    delete "/api/v1/invoice-titles/{id}" => invoice_titles::delete;
    post "/api/v1/photos" => photos::upload;
    get "/api/v1/photos/{id}" => photos::get;
    post "/api/v1/registrations" => registrations::submit;
    get "/api/v1/registrations/{id}" => registrations::get;
    put "/api/v1/registrations/{id}" => registrations::resubmit;
    post "/api/v1/registrations/{id}/withdraw" => registrations::withdraw;
    post "/api/v1/registrations/{id}/check-in" => checkin::check_in;
    post "/api/v1/registrations/{id}/refund-request" => registrations::request_refund;
    delete "/api/v1/registrations/{id}/refund-request" => registrations::cancel_refund_request;
    get "/api/v1/my-exams" => registrations::my_exams;
    post "/api/v1/admin/auth/login" => admin::auth::login;
    post "/api/v1/admin/auth/logout" => admin::auth::logout;
    get "/api/v1/admin/me" => admin::auth::me;
    post "/api/v1/admin/auth/password" => admin::staff::change_password;
    get "/api/v1/admin/staff" => admin::staff::list;
    post "/api/v1/admin/staff" => admin::staff::create;
    post "/api/v1/admin/staff/{id}/password" => admin::staff::reset_password;
    post "/api/v1/admin/staff/{id}/enabled" => admin::staff::set_enabled;
    get "/api/v1/admin/registrations" => admin::review::list;
    get "/api/v1/admin/registrations/counts" => admin::review::counts;
    post "/api/v1/admin/registrations/bulk" => admin::review::bulk;
    get "/api/v1/admin/registrations/{id}" => admin::review::detail;
    get "/api/v1/admin/registrations/{id}/id-number" => admin::review::id_number;
    get "/api/v1/admin/registrations/{id}/photo" => admin::review::photo;
    post "/api/v1/admin/registrations/{id}/approve" => admin::review::approve;
    post "/api/v1/admin/registrations/{id}/reject" => admin::review::reject;
    put "/api/v1/admin/participants/{id}/identity" => admin::participants::correct_identity;
    get "/api/v1/admin/audit" => admin::audit::list;
    get "/api/v1/admin/periods/{id}/export" => admin::export::export;
    get "/api/v1/admin/periods" => admin::periods::list;
    post "/api/v1/admin/periods" => admin::periods::create;
    put "/api/v1/admin/periods/{id}" => admin::periods::update;
    post "/api/v1/admin/periods/{id}/close" => admin::periods::close;
    get "/api/v1/admin/transfers" => admin::finance::transfers;
    post "/api/v1/admin/transfers/confirm" => admin::finance::confirm;
    post "/api/v1/admin/registrations/{id}/transfer-not-received" => admin::finance::not_received;
    get "/api/v1/admin/payments" => admin::finance::ledger;
    post "/api/v1/admin/refunds/{id}/returned" => admin::finance::refund_returned;
    get "/api/v1/admin/refund-requests" => admin::refunds::list;
    post "/api/v1/admin/refund-requests/approve" => admin::refunds::approve_batch;
    post "/api/v1/admin/registrations/{id}/approve-refund" => admin::refunds::approve;
    post "/api/v1/admin/registrations/{id}/deny-refund" => admin::refunds::deny;
    get "/api/v1/admin/refunds/{id}" => admin::refunds::get;
    post "/api/v1/admin/refunds/{id}/retry" => admin::refunds::retry;
    post "/api/v1/admin/refunds/{id}/offline" => admin::refunds::offline;
    get "/api/v1/admin/unapplied-payments" => admin::refunds::unapplied;
    get "/api/v1/admin/unmatched-notifications" => admin::refunds::unmatched_notifications;
    get "/api/v1/admin/invoice-settings" => admin::invoices::global_settings;
    put "/api/v1/admin/invoice-settings" => admin::invoices::save_global_settings;
    get "/api/v1/admin/periods/{id}/invoice-settings" => admin::invoices::period_settings;
    put "/api/v1/admin/periods/{id}/invoice-settings" => admin::invoices::save_period_settings;
    delete "/api/v1/admin/periods/{id}/invoice-settings" => admin::invoices::clear_period_settings;
    post "/api/v1/admin/periods/{id}/invoice-exports" => admin::invoices::export;
    get "/api/v1/admin/invoice-exports" => admin::invoices::exports;
    get "/api/v1/admin/invoice-exports/{id}/workbook" => admin::invoices::workbook;
    post "/api/v1/admin/invoices/import" => admin::invoices::import;
    get "/api/v1/admin/invoices" => admin::invoices::list;
    get "/api/v1/admin/invoices/reversals" => admin::invoices::reversals;
    post "/api/v1/admin/invoices/{id}/reversed" => admin::invoices::reversed;
    post "/api/v1/admin/invoices/{id}/cancel" => admin::invoices::cancel;
    get "/api/v1/admin/reconciliation" => admin::finance::reconciliation_reports;
    get "/api/v1/admin/reconciliation/{date}" => admin::finance::reconciliation_report;
    post "/api/v1/registrations/{id}/pay/wechat" => payments::pay_wechat;
    post "/api/v1/registrations/{id}/pay/transfer" => payments::declare_transfer;
    get "/api/v1/registrations/{id}/pay/transfer" => payments::transfer_details;
    post "/api/v1/registrations/{id}/pay/check" => payments::check;
    post "/api/v1/wechatpay/notify" => payments::notify;
    get "/api/v1/admin/venues/{id}/code" => admin::checkin::venue_code;
    get "/api/v1/admin/venues/{id}/code.png" => admin::checkin::venue_code_png;
    get "/api/v1/admin/venues/{id}/code.svg" => admin::checkin::venue_code_svg;
    get "/api/v1/admin/venues/{id}/static-code" => admin::checkin::static_code;
    get "/api/v1/admin/periods/{id}/check-in/counts" => admin::checkin::counts;
    get "/api/v1/admin/periods/{id}/check-in/search" => admin::checkin::search;
    post "/api/v1/admin/registrations/{id}/check-in" => admin::checkin::check_in;
    get "/api/v1/admin/jobs" => admin::jobs::list;
    post "/api/v1/admin/jobs/{id}/rerun" => admin::jobs::rerun;
    get "/api/v1/registrations/{id}/ticket" => tickets::get;
    get "/api/v1/registrations/{id}/ticket.png" => tickets::png;
    get "/api/v1/registrations/{id}/ticket.pdf" => tickets::pdf;
    get "/api/v1/ticket-keys" => tickets::keys;
    get "/api/v1/ticket-keys.pem" => tickets::keys_pem;
    get "/api/v1/admin/periods/{id}/tickets/settings" => admin::tickets::settings;
    put "/api/v1/admin/periods/{id}/tickets/settings" => admin::tickets::update_settings;
    post "/api/v1/admin/periods/{id}/tickets/plan" => admin::tickets::plan;
    post "/api/v1/admin/periods/{id}/tickets/assign" => admin::tickets::assign;
    post "/api/v1/admin/periods/{id}/tickets/publish" => admin::tickets::publish;
    get "/api/v1/admin/periods/{id}/tickets" => admin::tickets::list;
    get "/api/v1/admin/periods/{id}/tickets/failed" => admin::tickets::failed;
    post "/api/v1/admin/periods/{id}/tickets/retry-failed" => admin::tickets::retry_failed;
    get "/api/v1/admin/periods/{id}/tickets/seat-plan.xlsx" => admin::tickets::seat_plan;
    get "/api/v1/admin/venues/{id}/rooms/{room}/sign-in-sheet.pdf" => admin::tickets::sign_in_sheet;
}
