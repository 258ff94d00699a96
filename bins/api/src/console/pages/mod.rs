//! The console's pages, one file per area.

mod audit;
mod checkin;
mod dashboard;
mod finance;
mod jobs;
mod login;
mod periods;
mod review;
mod staff;
mod tickets;

use actix_web::web;

pub(super) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("", web::get().to(dashboard::redirect))
        .route("/", web::get().to(dashboard::show))
        .route("/login", web::get().to(login::form))
        .route("/login", web::post().to(login::submit))
        .route("/logout", web::post().to(login::logout))
        .route("/password", web::get().to(login::password_form))
        .route("/password", web::post().to(login::password_submit))
        .route("/review", web::get().to(review::queue))
        .route("/review/bulk", web::post().to(review::bulk))
        .route("/registrations/{id}", web::get().to(review::detail))
        .route("/registrations/{id}/approve", web::post().to(review::approve))
        .route("/registrations/{id}/reject", web::post().to(review::reject))
        .route("/finance", web::get().to(finance::transfers))
        .route("/finance/transfers/confirm", web::post().to(finance::confirm))
        .route("/finance/transfers/{id}/not-received", web::post().to(finance::not_received))
        .route("/finance/refunds", web::get().to(finance::refunds))
        .route("/finance/requests/approve", web::post().to(finance::approve_batch))
        .route("/finance/requests/{id}/approve", web::post().to(finance::approve))
        .route("/finance/requests/{id}/deny", web::post().to(finance::deny))
        .route("/finance/refunds/{id}/retry", web::post().to(finance::retry))
        .route("/finance/refunds/{id}/offline", web::post().to(finance::offline))
        .route("/finance/refunds/{id}/returned", web::post().to(finance::returned))
        .route("/finance/unapplied", web::get().to(finance::unapplied))
        .route("/finance/ledger", web::get().to(finance::ledger))
        .route("/finance/reconciliation", web::get().to(finance::reconciliation))
        .route("/finance/invoices", web::get().to(finance::invoices_page))
        .route("/finance/invoices/export", web::post().to(finance::export_invoices))
        .route("/finance/invoices/{id}/reversed", web::post().to(finance::invoice_reversed))
        .route("/finance/invoices/{id}/cancel", web::post().to(finance::invoice_cancel))
        .route("/checkin", web::get().to(checkin::desk))
        .route("/checkin/registrations/{id}", web::post().to(checkin::check_in))
        .route("/checkin/display/{venue}", web::get().to(checkin::display))
        .route("/tickets", web::get().to(tickets::show))
        .route("/tickets/{period}/settings", web::post().to(tickets::save_settings))
        .route("/tickets/{period}/plan", web::post().to(tickets::plan))
        .route("/tickets/{period}/assign", web::post().to(tickets::assign))
        .route("/tickets/{period}/publish", web::post().to(tickets::publish))
        .route("/tickets/{period}/retry", web::post().to(tickets::retry))
        .route("/periods", web::get().to(periods::list))
        .route("/periods/new", web::get().to(periods::new_form))
        .route("/periods/new", web::post().to(periods::create))
        .route("/periods/{id}", web::get().to(periods::edit_form))
        .route("/periods/{id}", web::post().to(periods::update))
        .route("/periods/{id}/close", web::post().to(periods::close))
        .route("/staff", web::get().to(staff::list))
        .route("/staff", web::post().to(staff::create))
        .route("/staff/{id}/password", web::post().to(staff::reset_password))
        .route("/staff/{id}/enabled", web::post().to(staff::set_enabled))
        .route("/audit", web::get().to(audit::list))
        .route("/jobs", web::get().to(jobs::list))
        .route("/jobs/{id}/rerun", web::post().to(jobs::rerun));
}
