//! The back office (后台): staff sessions, the review queue, corrections, audit, exports,
//! finance (transfers, refunds, invoices), the job queue, admission tickets.
//! Every endpoint states the roles it allows (`ALLOWED_*`), checked by `CurrentStaff::require`.

pub mod audit;
pub mod auth;
pub mod checkin;
pub mod export;
pub mod finance;
pub mod invoices;
pub mod jobs;
pub mod participants;
pub mod periods;
pub mod refunds;
pub mod review;
pub mod staff;
pub mod tickets;

use baoming_accounts::Role;

/// Reading the queue and registrations.
pub const READERS: &[Role] = &[Role::Reviewer, Role::Finance, Role::Admin];
/// Reviewing (approve, reject, unmasked ID numbers).
pub const REVIEWERS: &[Role] = &[Role::Reviewer, Role::Admin];
/// Money: transfers, the ledger, refunds, invoices.
pub const FINANCE: &[Role] = &[Role::Finance, Role::Admin];
/// Check-in at the venue (the display's code, checking in by hand, live counts) and the
/// rooms' sign-in sheets.
pub const CHECKIN: &[Role] = &[Role::Checkin, Role::Admin];
/// Administration (corrections, audit log, periods, full-ID exports).
pub const ADMINS: &[Role] = &[Role::Admin];
/// Any staff role.
pub const ANY_STAFF: &[Role] = &[Role::Admin, Role::Reviewer, Role::Finance, Role::Checkin];
