//! The views the participant's routes share: a registration as "My exams" shows it, with its
//! tab, tag, its invoice (待开票 / 已开票 + number) and the actions allowed now (asked of the
//! state machine, and only those a route carries out).

use baoming_domain::lifecycle::{Action, Tab, Tag};
use baoming_invoicing::InvoiceSnapshot;
use baoming_store::registrations::{self, Registration};
use baoming_store::{DbConnection, StoreError, invoices};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::period_cache::PeriodCache;
use crate::state::AppState;

/// A chosen subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChosenSubjectView {
    /// Code.
    pub code: String,
    /// Name.
    pub name: String,
    /// Specialty.
    pub specialty: Option<String>,
}

/// A registration as "My exams" shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RegistrationView {
    /// Id.
    pub id: String,
    /// Period id.
    pub period_id: String,
    /// Period name.
    pub period_name: String,
    /// Region id.
    pub region_id: String,
    /// Region name.
    pub region_name: String,
    /// Exam type id.
    pub exam_type_id: String,
    /// Exam type name.
    pub exam_type_name: String,
    /// Subjects.
    pub subjects: Vec<ChosenSubjectView>,
    /// Fee in fen.
    pub fee_fen: i64,
    /// Fee in yuan.
    pub fee_yuan: String,
    /// State code (`pending_review`, …).
    pub state: String,
    /// Tab code (`pending_review`, `awaiting_payment`, `awaiting_check_in`, `checked_in`, `expired`).
    pub tab: String,
    /// Tab title (待审核 …).
    pub tab_label: String,
    /// Tag code.
    pub tag: String,
    /// Tag text (审核中 …).
    pub tag_label: String,
    /// Why it was rejected (while rejected).
    pub rejection_reason: Option<String>,
    /// What the participant can do now (`resubmit`, `withdraw`, `pay_wechat`, …).
    pub actions: Vec<String>,
    /// The invoice title as chosen at submission.
    #[schema(value_type = Option<Object>)]
    pub invoice: Option<InvoiceSnapshot>,
    /// The joint-invoice remark.
    pub joint_invoice_remark: Option<String>,
    /// Where the invoice stands (absent while there is nothing to invoice: no title chosen,
    /// or not paid).
    pub invoice_status: Option<InvoiceStatusView>,
    /// Photo id.
    pub photo_id: Option<String>,
    /// First submission.
    pub submitted_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The check-in, once checked in (已报到).
    pub checkin: Option<CheckInView>,
    /// The admission ticket, once the period's tickets are published (then `actions` holds
    /// `view_ticket`).
    pub ticket: Option<TicketLinkView>,
}

/// Where a registration's admission ticket is.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketLinkView {
    /// The ticket number.
    pub ticket_number: String,
    /// `ready`, `rendering` or `failed` (see the ticket's JSON).
    pub status: String,
    /// The ticket as JSON.
    pub url: String,
    /// Its PNG (for the album).
    pub png_url: String,
    /// Its PDF (for printing).
    pub pdf_url: String,
}

/// Where and when a registration was checked in.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInView {
    /// When.
    pub at: DateTime<Utc>,
    /// The venue's id, if known.
    pub venue_id: Option<String>,
    /// The venue's name, if known.
    pub venue_name: Option<String>,
    /// How: `rotating` (the venue screen's code), `static` (the printed code), `staff`.
    pub proof: String,
}

/// A registration's invoice as the participant sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvoiceStatusView {
    /// `pending`, `issued`, `reversal_pending` or `reversed`.
    pub state: String,
    /// 待开票, 已开票, 已开票（待冲红）, 已冲红.
    pub label: String,
    /// The 数电发票 number, once issued.
    pub number: Option<String>,
    /// The issue date (YYYY-MM-DD), once issued.
    pub issued_on: Option<chrono::NaiveDate>,
}

/// The participant's route that carries out each action of "My exams" (method, path). An
/// action without a route is never offered.
pub(crate) fn action_route(action: Action) -> Option<(&'static str, &'static str)> {
    match action {
        Action::Resubmit => Some(("put", "/api/v1/registrations/{id}")),
        Action::Withdraw => Some(("post", "/api/v1/registrations/{id}/withdraw")),
        Action::PayWechat => Some(("post", "/api/v1/registrations/{id}/pay/wechat")),
        Action::DeclareTransfer => Some(("post", "/api/v1/registrations/{id}/pay/transfer")),
        Action::RequestRefund => Some(("post", "/api/v1/registrations/{id}/refund-request")),
        Action::CancelRefundRequest => {
            Some(("delete", "/api/v1/registrations/{id}/refund-request"))
        }
        Action::CheckIn => Some(("post", "/api/v1/registrations/{id}/check-in")),
        Action::ViewTicket => Some(("get", "/api/v1/registrations/{id}/ticket")),
    }
}

/// Whether an action has its route in the route table.
fn offered(action: Action) -> bool {
    action_route(action).is_some_and(|route| super::ROUTES.contains(&route))
}

/// Builds the views, loading each period once.
pub(crate) fn views(
    conn: &mut DbConnection,
    cache: &PeriodCache,
    list: Vec<Registration>,
    now: DateTime<Utc>,
) -> Result<Vec<RegistrationView>, StoreError> {
    let wanted: Vec<_> =
        list.iter().map(|r| (r.id, r.status.state, r.invoice_snapshot.is_some())).collect();
    let mut invoices = invoices::progress_of(conn, &wanted)?;
    // Only a checked-in registration can hold a ticket: the others cost no query.
    let ids: Vec<_> =
        list.iter().filter(|r| r.status.state.may_hold_ticket()).map(|r| r.id).collect();
    let mut published = baoming_store::tickets::published_among(conn, &ids)?;
    let mut out = Vec::with_capacity(list.len());
    for r in list {
        let ticket = published.remove(&r.id);
        let period = cache.get(conn, r.period)?;
        let facts = registrations::facts(&r, period.schedule, period.closed, now);
        let tab = Tab::of(r.status.state, period.schedule.sitting_ended(now));
        let tag = Tag::of(r.status.state);
        out.push(RegistrationView {
            id: r.id.to_string(),
            period_id: r.period.to_string(),
            period_name: period.name.clone(),
            region_id: r.region.to_string(),
            region_name: period
                .regions
                .iter()
                .find(|x| x.id == r.region)
                .map(|x| x.name.clone())
                .unwrap_or_default(),
            exam_type_id: r.exam_type.to_string(),
            exam_type_name: period
                .exam_types
                .iter()
                .find(|x| x.id == r.exam_type)
                .map(|x| x.name.clone())
                .unwrap_or_default(),
            subjects: r
                .subjects
                .iter()
                .map(|s| ChosenSubjectView {
                    code: s.code.clone(),
                    name: s.name.clone(),
                    specialty: s.specialty.clone(),
                })
                .collect(),
            fee_fen: r.fee.fen(),
            fee_yuan: r.fee.to_yuan_string(),
            state: r.status.state.as_str().into(),
            tab: tab.as_str().into(),
            tab_label: tab.label_zh().into(),
            tag: tag.as_str().into(),
            tag_label: tag.label_zh(tab).into(),
            rejection_reason: r.rejection_reason.clone(),
            actions: Action::available_with_ticket(r.status, &facts, ticket.is_some())
                .into_iter()
                .filter(|a| offered(*a))
                .map(|a| a.as_str().into())
                .collect(),
            invoice: r.invoice_snapshot.clone(),
            joint_invoice_remark: r.joint_invoice_remark.clone(),
            invoice_status: invoices.remove(&r.id).map(|v| InvoiceStatusView {
                state: v.progress.as_str().into(),
                label: v.progress.label_zh().into(),
                number: v.number,
                issued_on: v.issued_on,
            }),
            photo_id: r.photo.map(|p| p.to_string()),
            submitted_at: r.submitted_at,
            updated_at: r.updated_at,
            checkin: r.checkin.map(|c| CheckInView {
                at: c.at,
                venue_id: c.venue.map(|v| v.to_string()),
                venue_name: c.venue.and_then(|v| period.venue(v)).map(|v| v.name.clone()),
                proof: c.proof.as_str().into(),
            }),
            ticket: ticket.map(|t| {
                let (url, png_url, pdf_url) = crate::routes::tickets::urls(t.registration);
                TicketLinkView {
                    ticket_number: t.number.clone(),
                    status: crate::routes::tickets::status(&t).0.into(),
                    url,
                    png_url,
                    pdf_url,
                }
            }),
        });
    }
    Ok(out)
}

/// Runs `work` on the database and answers the view of the registration it returns.
pub(crate) async fn view_after<F>(state: &AppState, work: F) -> Result<RegistrationView, ApiError>
where
    F: FnOnce(&mut DbConnection) -> Result<Registration, ApiError> + Send + 'static,
{
    let cache = state.periods.clone();
    let now = state.now();
    state
        .write(move |conn| {
            let registration = work(conn)?;
            one_view(conn, &cache, registration, now)
        })
        .await
}

/// The view of one registration at `now`.
pub(crate) fn one_view(
    conn: &mut DbConnection,
    cache: &PeriodCache,
    r: Registration,
    now: DateTime<Utc>,
) -> Result<RegistrationView, ApiError> {
    views(conn, cache, vec![r], now)?.pop().ok_or_else(|| ApiError::internal(&"empty view"))
}
