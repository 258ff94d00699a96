//! Finance (财务): transfers awaiting confirmation (search, confirm a batch with the amount
//! checked, not received), refund requests (approve one or a batch, deny with a reason, retry
//! or settle offline a refund WeChat Pay could not make, a transfer returned by hand), money
//! registrations could not take, the ledger, reconciliation reports, and invoices (export,
//! import of the issued numbers, reversals, cancel).

use actix_web::{HttpResponse, web};
use baoming_domain::Money;
use baoming_domain::ids::{InvoiceId, PeriodId, RefundId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{Event, PaymentMethod, Reason, State};
use baoming_domain::transfer::TransferReference;
use baoming_invoicing::InvoiceState;
use baoming_payments::reconcile::{Difference, EntryKind};
use baoming_store::invoices::{self, ExportFilter, InvoiceFilter};
use baoming_store::payments::{
    self, Disposition, PaymentFilter, REFUND_STATES, RefundRequestFilter, TransferConfirmation,
    TransferFilter, UnappliedFilter,
};
use baoming_store::periods::PeriodDetail as Period;
use baoming_store::{StoreError, periods, reconciliation, review};
use chrono::Utc;
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::auth::{ConsoleError, ConsolePost, ConsoleStaff, Fields};
use crate::console::layout::{self, csrf, field_error, page, time, yuan};
use crate::error::ApiError;
use crate::routes::admin::FINANCE;
use crate::routes::admin::finance::TransferView;
use crate::routes::admin::invoices::{InvoiceView, ReversalView, make_export};
use crate::routes::admin::refunds::{RefundRequestView, RefundView, UnappliedView};
use crate::state::AppState;

const TABS: &[(&str, &str)] = &[
    ("/admin/finance", "转账待确认"),
    ("/admin/finance/refunds", "退款申请"),
    ("/admin/finance/unapplied", "未入账款项"),
    ("/admin/finance/ledger", "收款流水"),
    ("/admin/finance/reconciliation", "对账报告"),
    ("/admin/finance/invoices", "发票"),
];

fn tabs(active: &str) -> Markup {
    html! {
        nav.tabs {
            @for (href, label) in TABS {
                a href=(href) class=[(*href == active).then_some("active")] { (label) }
            }
        }
    }
}

fn finance_page(me: &ConsoleStaff, title: &str, active: &str, body: Markup) -> HttpResponse {
    layout::ok(page(me, title, "/admin/finance", html! { (tabs(active)) (body) }))
}

fn blank(v: Option<&str>) -> Option<String> {
    v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

fn period_param(raw: Option<&str>) -> Result<Option<PeriodId>, ConsoleError> {
    match blank(raw) {
        Some(raw) => Ok(Some(
            PeriodId::parse(&raw)
                .map_err(|_| ApiError::field("period_id", "invalid_id", "期次不存在"))?,
        )),
        None => Ok(None),
    }
}

fn period_select(all: &[Period], selected: Option<PeriodId>, any: bool) -> Markup {
    html! {
        label { "期次" select name="period_id" {
            @if any { option value="" { "全部" } }
            @for p in all { option value=(p.id) selected[selected == Some(p.id)] { (p.name) } }
        } }
    }
}

fn period_name(all: &[Period], id: &str) -> String {
    all.iter().find(|p| p.id.to_string() == id).map(|p| p.name.clone()).unwrap_or_default()
}

/// Where a form sends the user back to: one of the finance pages, never elsewhere.
fn back_to(form: &Fields, default: &str) -> String {
    form.get("back")
        .filter(|b| b.starts_with("/admin/finance") && !b.contains("//") && !b.contains('\\'))
        .unwrap_or(default)
        .to_owned()
}

fn with_query(base: &str, extra: &str) -> String {
    format!("{base}{}{extra}", if base.contains('?') { '&' } else { '?' })
}

/// Redirects back with `done=…`, or with the error's message when the change was refused.
fn after(back: &str, done: Result<&str, ApiError>) -> Result<HttpResponse, ConsoleError> {
    match done {
        Ok(done) => Ok(layout::see_other(&with_query(back, &format!("done={done}")))),
        Err(e) if e.status().is_client_error() => Ok(layout::see_other(&with_query(
            back,
            &format!("error={}", layout::url_encode(e.message())),
        ))),
        Err(e) => Err(e.into()),
    }
}

fn messages(done: Option<&str>, error: Option<&str>) -> Markup {
    let text = done.map(|d| match d {
        "confirmed" => "已确认到账",
        "not_received" => "已退回待支付，并通知报名人",
        "approved" => "已同意退款",
        "denied" => "已拒绝退款",
        "retried" => "已重新发起退款",
        "offline" => "已登记线下退款",
        "returned" => "已登记转账退回",
        "reversed" => "已登记冲红",
        "cancelled" => "已作废该发票",
        "exported" => "已生成导出",
        _ => "已完成",
    });
    html! {
        (layout::notice(text))
        @if let Some(error) = error { p.error role="alert" { (error) } }
    }
}

// ---------------------------------------------------------------------------------------------
// Transfers

#[derive(Debug, Clone, Default, Deserialize)]
pub(super) struct TransferQuery {
    period_id: Option<String>,
    employer: Option<String>,
    reference: Option<String>,
    done: Option<String>,
    error: Option<String>,
    /// Registrations of a confirmed transfer that could no longer take the money.
    returning: Option<usize>,
}

/// What the confirmation form held, kept when it is refused.
#[derive(Debug, Default)]
struct ConfirmForm {
    ids: Vec<String>,
    amount_yuan: String,
    bank_reference: String,
    note: String,
    errors: Vec<(String, String)>,
}

pub(super) async fn transfers(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<TransferQuery>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(FINANCE)?;
    render_transfers(&state, &me, query.into_inner(), ConfirmForm::default()).await
}

async fn render_transfers(
    state: &AppState,
    me: &ConsoleStaff,
    q: TransferQuery,
    form: ConfirmForm,
) -> Result<HttpResponse, ConsoleError> {
    let period = period_param(q.period_id.as_deref())?;
    let mut errors = form.errors.clone();
    let reference = match blank(q.reference.as_deref()) {
        Some(raw) => match TransferReference::parse(&raw) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(("reference".into(), e.to_string()));
                None
            }
        },
        None => None,
    };
    let bad_reference = errors.iter().any(|(f, _)| f == "reference");
    let filter = TransferFilter { period, employer: blank(q.employer.as_deref()), reference };
    let (all, list) = state
        .db(move |conn| {
            let list = if bad_reference {
                vec![]
            } else {
                payments::pending_transfers(conn, &filter, 500)?
            };
            Ok::<_, StoreError>((periods::all(conn)?, list))
        })
        .await?;
    let rows: Vec<TransferView> = list.into_iter().map(TransferView::from).collect();
    let back = format!(
        "/admin/finance?period_id={}&employer={}&reference={}",
        layout::url_encode(q.period_id.as_deref().unwrap_or_default()),
        layout::url_encode(q.employer.as_deref().unwrap_or_default()),
        layout::url_encode(q.reference.as_deref().unwrap_or_default()),
    );
    let general: Vec<&(String, String)> = errors
        .iter()
        .filter(|(f, _)| !["reference", "amount_yuan", "registration_ids"].contains(&f.as_str()))
        .collect();
    let body = html! {
        (messages(q.done.as_deref(), q.error.as_deref()))
        @if let Some(n) = q.returning.filter(|n| *n > 0) {
            p.error role="alert" { "其中 " (n) " 条报名已无法收款（已由微信支付或已关闭），其份额已列入" a href="/admin/finance/unapplied" { "未入账款项" } "，需转账退回。" }
        }
        @for (_, message) in &general { p.error role="alert" { (message) } }
        form.filters method="get" action="/admin/finance" {
            (period_select(&all, period, true))
            label { "工作单位" input name="employer" value=(q.employer.clone().unwrap_or_default()); }
            label { "转账附言（BM 编号）" input name="reference" value=(q.reference.clone().unwrap_or_default()); (field_error(&errors, "reference")) }
            button type="submit" { "查找" }
        }
        p { "共 " (rows.len()) " 笔转账待确认（最多显示 500 笔，最早申报的在前）" }
        form id="confirm" method="post" action="/admin/finance/transfers/confirm" data-sum="ids" {
            (csrf(me))
            input type="hidden" name="back" value=(back);
            (field_error(&errors, "registration_ids"))
            fieldset.confirm {
                legend { "确认一笔到账（可覆盖多人）" }
                p { "已勾选合计：" strong data-sum-total { "0.00" } " 元" }
                label { "到账金额（元）" input name="amount_yuan" inputmode="decimal" required value=(form.amount_yuan); (field_error(&errors, "amount_yuan")) }
                label { "银行流水号" input name="bank_reference" value=(form.bank_reference); }
                label { "备注" input name="note" value=(form.note); }
                button type="submit" { "确认到账" }
            }
        }
        table {
            thead { tr {
                th { input type="checkbox" data-select-all="ids" aria-label="全选"; }
                th { "姓名" } th { "工作单位" } th { "期次" } th { "转账附言" } th.num { "应付（元）" } th { "申报时间" } th { "未到账" }
            } }
            tbody {
                @for t in &rows {
                    tr class=[t.overdue.then_some("overdue")] {
                        td { input type="checkbox" name="ids" form="confirm" value=(t.registration_id) data-fen=(t.fee_fen) checked[form.ids.contains(&t.registration_id)] aria-label="选择"; }
                        td { a href=(format!("/admin/registrations/{}", t.registration_id)) { (t.name.clone().unwrap_or_default()) } }
                        td { (t.employer.clone().unwrap_or_default()) }
                        td { (period_name(&all, &t.period_id)) }
                        td { code { (t.reference_display) } }
                        td.num { (t.fee_yuan) }
                        td { (time(t.declared_at)) @if t.overdue { " " span.tag { "已过缴费期限" } } }
                        td {
                            form.inline method="post" action=(format!("/admin/finance/transfers/{}/not-received", t.registration_id)) {
                                (csrf(me))
                                input type="hidden" name="back" value=(back);
                                input name="note" required placeholder="告知报名人的说明" aria-label="未到账说明";
                                button type="submit" { "未到账" }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(finance_page(me, "财务 · 转账待确认", "/admin/finance", body))
}

pub(super) async fn confirm(
    state: web::Data<AppState>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(FINANCE)?;
    let form = &post.form;
    let kept = ConfirmForm {
        ids: form.all("ids").into_iter().map(str::to_owned).collect(),
        amount_yuan: form.text("amount_yuan"),
        bank_reference: form.text("bank_reference"),
        note: form.text("note"),
        errors: vec![],
    };
    let query = query_of(&back_to(form, "/admin/finance"));
    let refuse = |kept: ConfirmForm, errors: Vec<(String, String)>| {
        let state = state.clone();
        let me = post.me.clone();
        let query = query.clone();
        async move { render_transfers(&state, &me, query, ConfirmForm { errors, ..kept }).await }
    };
    let mut errors = Vec::new();
    if kept.ids.is_empty() || kept.ids.len() > 200 {
        errors.push(("registration_ids".into(), "请勾选 1 至 200 笔转账".into()));
    }
    let registrations: Vec<RegistrationId> =
        kept.ids.iter().filter_map(|id| RegistrationId::parse(id).ok()).collect();
    if registrations.len() != kept.ids.len() {
        errors.push(("registration_ids".into(), "报名编号不正确".into()));
    }
    let amount = match Money::parse_yuan(&kept.amount_yuan) {
        Ok(m) => Some(m),
        Err(e) => {
            errors.push(("amount_yuan".into(), e.to_string()));
            None
        }
    };
    let Some(amount) = amount.filter(|_| errors.is_empty()) else {
        return refuse(kept, errors).await;
    };
    let confirmation = TransferConfirmation {
        registrations,
        amount,
        bank_reference: blank(Some(&kept.bank_reference)),
        note: blank(Some(&kept.note)),
    };
    let (ctx, actor) = (post.me.staff.ctx(role), post.me.staff.audit_actor(role));
    let done = state
        .db(move |conn| {
            payments::confirm_transfer(conn, &confirmation, &ctx, &actor).map_err(ApiError::from)
        })
        .await;
    match done {
        Ok(results) => {
            let refunds = results.iter().filter(|(_, r)| r.outcome() == "refund").count();
            let back = back_to(form, "/admin/finance");
            let extra = if refunds > 0 { format!("&returning={refunds}") } else { String::new() };
            Ok(layout::see_other(&with_query(&back, &format!("done=confirmed{extra}"))))
        }
        Err(e) if e.status().is_client_error() => refuse(kept, e.field_messages()).await,
        Err(e) => Err(e.into()),
    }
}

/// The filters of a finance page's address (kept across a refused form).
fn query_of(back: &str) -> TransferQuery {
    let query = back.split_once('?').map(|(_, q)| q).unwrap_or_default();
    web::Query::<TransferQuery>::from_query(query).map(web::Query::into_inner).unwrap_or_default()
}

pub(super) async fn not_received(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(FINANCE)?;
    let back = back_to(&post.form, "/admin/finance");
    let id = RegistrationId::parse(&id).map_err(|_| ApiError::not_found())?;
    let note = match Reason::parse(post.form.get("note").unwrap_or_default()) {
        Ok(note) => note,
        Err(e) => return after(&back, Err(ApiError::field("note", "invalid_note", e.to_string()))),
    };
    let (ctx, actor) = (post.me.staff.ctx(role), post.me.staff.audit_actor(role));
    let event = Event::TransferNotReceived { note };
    let done = state
        .db(move |conn| review::decide(conn, id, &event, &ctx, &actor).map_err(ApiError::from))
        .await;
    after(&back, done.map(|_| "not_received"))
}

// ---------------------------------------------------------------------------------------------
// Refund requests

#[derive(Debug, Default, Deserialize)]
pub(super) struct RefundQuery {
    period_id: Option<String>,
    state: Option<String>,
    method: Option<String>,
    employer: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

fn refund_state_label(state: State) -> &'static str {
    match state {
        State::RefundRequested => "待审核",
        State::Refunding => "退款中",
        State::Refunded => "已退款",
        State::RefundDenied => "已拒绝",
        _ => state.label_zh(),
    }
}

pub(super) async fn refunds(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<RefundQuery>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(FINANCE)?;
    let q = query.into_inner();
    let period = period_param(q.period_id.as_deref())?;
    let wanted = match blank(q.state.as_deref()) {
        Some(raw) => Some(
            State::parse(&raw)
                .ok()
                .filter(|s| REFUND_STATES.contains(s))
                .ok_or_else(|| ApiError::field("state", "invalid_state", "状态不正确"))?,
        ),
        // Under review unless asked otherwise: what finance has to decide.
        None if q.state.is_none() => Some(State::RefundRequested),
        None => None,
    };
    let method = match blank(q.method.as_deref()) {
        Some(raw) => Some(
            PaymentMethod::parse(&raw)
                .map_err(|_| ApiError::field("method", "invalid_method", "支付方式不正确"))?,
        ),
        None => None,
    };
    let filter = RefundRequestFilter {
        period,
        state: wanted,
        method,
        employer: blank(q.employer.as_deref()),
    };
    let (all, rows) = state
        .db(move |conn| {
            Ok::<_, StoreError>((
                periods::all(conn)?,
                payments::refund_requests(conn, &filter, 1000)?,
            ))
        })
        .await?;
    let rows: Vec<RefundRequestView> = rows.into_iter().map(RefundRequestView::from).collect();
    let back = format!(
        "/admin/finance/refunds?period_id={}&state={}&method={}&employer={}",
        layout::url_encode(q.period_id.as_deref().unwrap_or_default()),
        layout::url_encode(wanted.map(State::as_str).unwrap_or_default()),
        layout::url_encode(q.method.as_deref().unwrap_or_default()),
        layout::url_encode(q.employer.as_deref().unwrap_or_default()),
    );
    let body = html! {
        (messages(q.done.as_deref(), q.error.as_deref()))
        form.filters method="get" action="/admin/finance/refunds" {
            (period_select(&all, period, true))
            label { "状态" select name="state" {
                option value="" selected[wanted.is_none()] { "全部" }
                @for s in REFUND_STATES { option value=(s.as_str()) selected[wanted == Some(s)] { (refund_state_label(s)) } }
            } }
            label { "支付方式" select name="method" {
                option value="" { "全部" }
                option value="wechat_pay" selected[method == Some(PaymentMethod::WechatPay)] { "微信支付" }
                option value="bank_transfer" selected[method == Some(PaymentMethod::BankTransfer)] { "对公转账" }
            } }
            label { "工作单位" input name="employer" value=(q.employer.clone().unwrap_or_default()); }
            button type="submit" { "筛选" }
        }
        p { "共 " (rows.len()) " 条" }
        form id="approve-batch" method="post" action="/admin/finance/requests/approve" data-confirm="同意所勾选的退款申请？" {
            (csrf(&me))
            input type="hidden" name="back" value=(back);
            button type="submit" { "同意所勾选的退款" }
        }
        table {
            thead { tr {
                th { input type="checkbox" data-select-all="ids" aria-label="全选"; }
                th { "姓名" } th { "工作单位" } th { "期次" } th.num { "金额（元）" } th { "支付方式" } th { "申请时间" } th { "退款原因" } th { "状态" } th { "操作" }
            } }
            tbody {
                @for r in &rows {
                    tr {
                        td { @if r.actions.iter().any(|a| a == "approve") {
                            input type="checkbox" name="ids" form="approve-batch" value=(r.registration_id) aria-label="选择";
                        } }
                        td { a href=(format!("/admin/registrations/{}", r.registration_id)) { (r.name.clone().unwrap_or_default()) } }
                        td { (r.employer.clone().unwrap_or_default()) }
                        td { (period_name(&all, &r.period_id)) }
                        td.num { (r.fee_yuan) }
                        td { (method_label(r.method.as_deref())) }
                        td { @if let Some(at) = r.requested_at { (time(at)) } }
                        td { (r.reason.clone().unwrap_or_default()) }
                        td {
                            (r.tag_label)
                            @if let Some(reason) = &r.denial_reason { br; small { "拒绝原因：" (reason) } }
                            @if let Some(refund) = &r.refund { br; small { "退款单：" (refund.state_label) } @if let Some(err) = &refund.last_error { br; small.error { (err) } } }
                        }
                        td {
                            @if r.actions.iter().any(|a| a == "approve") {
                                form.inline method="post" action=(format!("/admin/finance/requests/{}/approve", r.registration_id)) {
                                    (csrf(&me)) input type="hidden" name="back" value=(back);
                                    button type="submit" { "同意" }
                                }
                                form.inline method="post" action=(format!("/admin/finance/requests/{}/deny", r.registration_id)) {
                                    (csrf(&me)) input type="hidden" name="back" value=(back);
                                    input name="reason" required placeholder="拒绝原因（告知报名人）" aria-label="拒绝原因";
                                    button type="submit" { "拒绝" }
                                }
                            }
                            @if let Some(refund) = &r.refund { (refund_actions(&me, refund, &back)) }
                        }
                    }
                }
            }
        }
    };
    Ok(finance_page(&me, "财务 · 退款申请", "/admin/finance/refunds", body))
}

fn method_label(method: Option<&str>) -> &'static str {
    match method {
        Some("wechat_pay") => "微信支付",
        Some("bank_transfer") => "对公转账",
        _ => "",
    }
}

/// The forms for what finance can do with a refund (`RefundView::actions`).
fn refund_actions(me: &ConsoleStaff, refund: &RefundView, back: &str) -> Markup {
    html! {
        @for action in &refund.actions {
            @match action.as_str() {
                "retry" => {
                    form.inline method="post" action=(format!("/admin/finance/refunds/{}/retry", refund.id)) data-confirm="以新的退款单号重新发起微信退款？" {
                        (csrf(me)) input type="hidden" name="back" value=(back);
                        button type="submit" { "重新退款" }
                    }
                }
                "offline" => {
                    form.inline method="post" action=(format!("/admin/finance/refunds/{}/offline", refund.id)) {
                        (csrf(me)) input type="hidden" name="back" value=(back);
                        input name="note" required placeholder="线下退款说明（如转账流水号）" aria-label="线下退款说明";
                        button type="submit" { "已线下退款" }
                    }
                }
                "returned" => {
                    form.inline method="post" action=(format!("/admin/finance/refunds/{}/returned", refund.id)) data-confirm="确认已把这笔款项转账退回？" {
                        (csrf(me)) input type="hidden" name="back" value=(back);
                        button type="submit" { "已转账退回" }
                    }
                }
                _ => {}
            }
        }
    }
}

pub(super) async fn approve_batch(
    state: web::Data<AppState>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(FINANCE)?;
    let ids: Vec<String> = post.form.all("ids").into_iter().map(str::to_owned).collect();
    if ids.is_empty() || ids.len() > 500 {
        return after(
            &back_to(&post.form, "/admin/finance/refunds"),
            Err(ApiError::field("ids", "invalid_selection", "请勾选 1 至 500 条退款申请")),
        );
    }
    let (ctx, actor) = (post.me.staff.ctx(role), post.me.staff.audit_actor(role));
    let results = state
        .db(move |conn| {
            Ok::<_, StoreError>(review::bulk(conn, &ids, &Event::ApproveRefund, &ctx, &actor))
        })
        .await?;
    let results = results
        .into_iter()
        .map(|r| {
            let outcome = r
                .result
                .map(|applied| refund_state_label(applied.registration().status.state).to_owned())
                .map_err(|e| ApiError::from(e).message().to_owned());
            (r.id, outcome)
        })
        .collect::<Vec<_>>();
    Ok(layout::ok(page(
        &post.me,
        "批量同意退款的结果",
        "/admin/finance",
        layout::bulk_results(&results, "/admin/finance/refunds", "返回退款申请"),
    )))
}

pub(super) async fn approve(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    decide(state, &id, post, |_| Ok(Event::ApproveRefund), "approved").await
}

pub(super) async fn deny(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let event = |form: &Fields| {
        Reason::parse(form.get("reason").unwrap_or_default())
            .map(|reason| Event::DenyRefund { reason })
            .map_err(|e| ApiError::field("reason", "invalid_reason", e.to_string()))
    };
    decide(state, &id, post, event, "denied").await
}

async fn decide(
    state: web::Data<AppState>,
    id: &str,
    post: ConsolePost,
    event: impl FnOnce(&Fields) -> Result<Event, ApiError>,
    done: &'static str,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(FINANCE)?;
    let back = back_to(&post.form, "/admin/finance/refunds");
    let id = RegistrationId::parse(id).map_err(|_| ApiError::not_found())?;
    let event = match event(&post.form) {
        Ok(event) => event,
        Err(e) => return after(&back, Err(e)),
    };
    let (ctx, actor) = (post.me.staff.ctx(role), post.me.staff.audit_actor(role));
    let result = state
        .db(move |conn| review::decide(conn, id, &event, &ctx, &actor).map_err(ApiError::from))
        .await;
    after(&back, result.map(|_| done))
}

/// What finance does with one refund.
#[derive(Debug, Clone, Copy)]
pub(super) enum RefundStep {
    Retry,
    Offline,
    Returned,
}

async fn refund_step(
    state: web::Data<AppState>,
    id: &str,
    post: ConsolePost,
    step: RefundStep,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(FINANCE)?;
    let back = back_to(&post.form, "/admin/finance/refunds");
    let id = RefundId::parse(id).map_err(|_| ApiError::not_found())?;
    let note = match step {
        RefundStep::Offline => match Reason::parse(post.form.get("note").unwrap_or_default()) {
            Ok(note) => Some(note),
            Err(e) => {
                return after(&back, Err(ApiError::field("note", "invalid_note", e.to_string())));
            }
        },
        RefundStep::Retry | RefundStep::Returned => None,
    };
    let (ctx, actor) = (post.me.staff.ctx(role), post.me.staff.audit_actor(role));
    let result = state
        .db(move |conn| {
            match (step, note) {
                (RefundStep::Retry, _) => payments::retry_refund(conn, id, &ctx, &actor),
                (RefundStep::Offline, Some(note)) => {
                    payments::refunded_offline(conn, id, &note, &ctx, &actor)
                }
                (RefundStep::Offline, None) => unreachable!("the note was read above"),
                (RefundStep::Returned, _) => payments::returned_by_finance(conn, id, &ctx, &actor),
            }
            .map_err(ApiError::from)
        })
        .await;
    let done = match step {
        RefundStep::Retry => "retried",
        RefundStep::Offline => "offline",
        RefundStep::Returned => "returned",
    };
    after(&back, result.map(|_| done))
}

pub(super) async fn retry(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    refund_step(state, &id, post, RefundStep::Retry).await
}

pub(super) async fn offline(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    refund_step(state, &id, post, RefundStep::Offline).await
}

pub(super) async fn returned(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    refund_step(state, &id, post, RefundStep::Returned).await
}

// ---------------------------------------------------------------------------------------------
// Money not taken, the ledger, reconciliation

#[derive(Debug, Default, Deserialize)]
pub(super) struct UnappliedQuery {
    period_id: Option<String>,
    open_only: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

pub(super) async fn unapplied(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<UnappliedQuery>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(FINANCE)?;
    let q = query.into_inner();
    let period = period_param(q.period_id.as_deref())?;
    let open_only = q.open_only.as_deref().is_some_and(|v| !v.is_empty());
    let filter = UnappliedFilter { period, open_only };
    let (all, rows, unmatched) = state
        .db(move |conn| {
            Ok::<_, StoreError>((
                periods::all(conn)?,
                payments::unapplied_payments(conn, &filter, 1000)?,
                payments::unmatched::list(conn, 200)?,
            ))
        })
        .await?;
    let rows: Vec<UnappliedView> = rows.into_iter().map(UnappliedView::from).collect();
    let back = format!(
        "/admin/finance/unapplied?period_id={}{}",
        layout::url_encode(q.period_id.as_deref().unwrap_or_default()),
        if open_only { "&open_only=1" } else { "" }
    );
    let body = html! {
        (messages(q.done.as_deref(), q.error.as_deref()))
        p.hint { "金额不符、报名已撤回或关闭后才到账、重复支付的款项：不计入报名，需原路或转账退回。" }
        form.filters method="get" action="/admin/finance/unapplied" {
            (period_select(&all, period, true))
            label.check { input type="checkbox" name="open_only" value="1" checked[open_only]; "只看未处理完的" }
            button type="submit" { "筛选" }
        }
        table {
            thead { tr { th { "到账时间" } th { "姓名" } th { "工作单位" } th { "方式" } th.num { "金额（元）" } th { "原因" } th { "处理情况" } th { "操作" } } }
            tbody {
                @for u in &rows {
                    tr {
                        td { (time(u.received_at)) }
                        td { a href=(format!("/admin/registrations/{}", u.registration_id)) { (u.name.clone().unwrap_or_default()) } }
                        td { (u.employer.clone().unwrap_or_default()) }
                        td { (method_label(Some(&u.method))) }
                        td.num { (u.amount_yuan) @if let Some(expected) = u.expected_fen { br; small { "应付 " (yuan(expected)) } } }
                        td { (u.cause_label.clone().unwrap_or_default()) }
                        td { (u.resolution_label) @if let Some(err) = u.refund.as_ref().and_then(|r| r.last_error.as_ref()) { br; small.error { (err) } } }
                        td { @if let Some(refund) = &u.refund { (refund_actions(&me, refund, &back)) } }
                    }
                }
            }
        }
        h2 { "无法对应的微信支付通知" }
        p.hint { "已验签、已应答微信支付，但未入账：本系统没有的订单或退款、币种或付款人与订单不符、金额或订单与退款记录不符。请在商户平台核对。" }
        table #unmatched-notifications {
            thead { tr { th { "收到时间" } th { "原因" } th { "商户订单号" } th { "商户退款单号" } th { "微信支付单号" } th.num { "金额（元）" } th { "币种" } } }
            tbody {
                @for n in &unmatched {
                    tr {
                        td { (time(n.received_at)) }
                        td { (unmatched_label(n.notice.reason)) }
                        td { code { (n.notice.out_trade_no) } }
                        td { @if let Some(no) = &n.notice.out_refund_no { code { (no) } } }
                        td { @if let Some(id) = &n.notice.transaction_id { code { (id) } } }
                        td.num { (yuan(n.notice.amount_fen)) }
                        td { (n.notice.currency.clone().unwrap_or_default()) }
                    }
                }
            }
        }
    };
    Ok(finance_page(&me, "财务 · 未入账款项", "/admin/finance/unapplied", body))
}

/// Why a WeChat Pay notification was kept instead of applied, in words.
fn unmatched_label(reason: payments::unmatched::Reason) -> &'static str {
    use payments::unmatched::Reason;
    match reason {
        Reason::UnknownOrder => "本系统没有该订单",
        Reason::Currency => "币种不是人民币",
        Reason::Payer => "付款人与订单不符",
        Reason::UnknownRefund => "本系统没有该退款",
        Reason::RefundMismatch => "退款金额或订单与记录不符",
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct LedgerQuery {
    disposition: Option<String>,
}

fn disposition_label(d: Disposition) -> &'static str {
    match d {
        Disposition::Applied => "已入账",
        Disposition::Mismatch => "金额不符",
        Disposition::Refund => "退回",
    }
}

pub(super) async fn ledger(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<LedgerQuery>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(FINANCE)?;
    let disposition = match blank(query.disposition.as_deref()).as_deref() {
        None => None,
        Some("applied") => Some(Disposition::Applied),
        Some("mismatch") => Some(Disposition::Mismatch),
        Some("refund") => Some(Disposition::Refund),
        Some(_) => {
            return Err(ApiError::field("disposition", "invalid_disposition", "类别不正确").into());
        }
    };
    let filter = PaymentFilter { disposition, registration: None };
    let rows = state.db(move |conn| payments::list_payments(conn, &filter, 500)).await?;
    let body = html! {
        form.filters method="get" action="/admin/finance/ledger" {
            label { "类别" select name="disposition" {
                option value="" { "全部" }
                @for d in [Disposition::Applied, Disposition::Mismatch, Disposition::Refund] {
                    option value=(d.as_str()) selected[disposition == Some(d)] { (disposition_label(d)) }
                }
            } }
            button type="submit" { "筛选" }
        }
        p { "最新的 500 笔" }
        table {
            thead { tr { th { "到账时间" } th { "报名" } th { "方式" } th { "商户订单号" } th { "交易号 / 银行流水" } th.num { "金额（元）" } th { "类别" } th { "退款" } th { "备注" } } }
            tbody {
                @for p in &rows {
                    tr {
                        td { (time(p.received_at)) }
                        td { a href=(format!("/admin/registrations/{}", p.registration)) { "查看" } }
                        td { (method_label(Some(p.method.as_str()))) }
                        td { code { (p.out_trade_no.clone().unwrap_or_default()) } }
                        td { code { (p.transaction_id.clone().unwrap_or_default()) } }
                        td.num { (yuan(p.amount_fen)) }
                        td { (disposition_label(p.disposition)) }
                        td { @if let Some(s) = p.refund_state { (s.label_zh()) } @if let Some(e) = &p.refund_error { br; small.error { (e) } } }
                        td { (p.note.clone().unwrap_or_default()) @if let Some(batch) = &p.transfer_batch { br; small { "批次 " (batch) } } }
                    }
                }
            }
        }
    };
    Ok(finance_page(&me, "财务 · 收款流水", "/admin/finance/ledger", body))
}

fn kind_label(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::Payment => "收款",
        EntryKind::Refund => "退款",
    }
}

pub(super) async fn reconciliation(
    state: web::Data<AppState>,
    me: ConsoleStaff,
) -> Result<HttpResponse, ConsoleError> {
    me.require(FINANCE)?;
    let reports = state.db(move |conn| reconciliation::list(conn, 90)).await?;
    let body = html! {
        p.hint { "每天 10:00（北京时间）后，系统下载前一天的微信支付交易账单并与收款流水逐笔核对。" }
        @if reports.is_empty() { p { "还没有对账报告。" } }
        @for r in &reports {
            @let differences: Vec<Difference> = serde_json::from_value(r.differences.clone()).unwrap_or_default();
            section.report {
                h2 { (r.bill_date.format("%Y-%m-%d").to_string()) " "
                    @if differences.is_empty() { span.tag.ok { "一致" } } @else { span.tag.warn { (differences.len()) " 处差异" } } }
                p { "微信账单 " (r.bill_lines) " 笔，收款流水 " (r.ledger_lines) " 笔；生成于 " (time(r.created_at)) }
                @if !differences.is_empty() {
                    table {
                        thead { tr { th { "差异" } th { "类别" } th { "单号" } th.num { "微信（元）" } th.num { "流水（元）" } } }
                        tbody {
                            @for d in &differences {
                                @match d {
                                    Difference::OnlyInWechat { kind, number, amount } => {
                                        tr { td { "只在微信账单中" } td { (kind_label(*kind)) } td { code { (number) } } td.num { (amount.to_yuan_string()) } td.num { "—" } }
                                    }
                                    Difference::OnlyInLedger { kind, number, amount } => {
                                        tr { td { "只在收款流水中" } td { (kind_label(*kind)) } td { code { (number) } } td.num { "—" } td.num { (amount.to_yuan_string()) } }
                                    }
                                    Difference::AmountDiffers { kind, number, wechat, ledger } => {
                                        tr { td { "金额不一致" } td { (kind_label(*kind)) } td { code { (number) } } td.num { (wechat.to_yuan_string()) } td.num { (ledger.to_yuan_string()) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(finance_page(&me, "财务 · 对账报告", "/admin/finance/reconciliation", body))
}

// ---------------------------------------------------------------------------------------------
// Invoices

#[derive(Debug, Default, Deserialize)]
pub(super) struct InvoiceQuery {
    period_id: Option<String>,
    state: Option<String>,
    done: Option<String>,
    error: Option<String>,
    export: Option<String>,
}

pub(super) async fn invoices_page(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<InvoiceQuery>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(FINANCE)?;
    let q = query.into_inner();
    let period = period_param(q.period_id.as_deref())?;
    let wanted = match blank(q.state.as_deref()) {
        Some(raw) => Some(
            InvoiceState::parse(&raw)
                .map_err(|_| ApiError::field("state", "invalid_state", "发票状态不正确"))?,
        ),
        None => None,
    };
    let (all, exports, list, to_reverse) = state
        .db(move |conn| {
            let all = periods::all(conn)?;
            let period = period.or_else(|| all.first().map(|p| p.id));
            let Some(period) = period else {
                return Ok::<_, StoreError>((all, vec![], vec![], vec![]));
            };
            let filter =
                InvoiceFilter { period: Some(period), state: wanted, ..InvoiceFilter::default() };
            let reverse = InvoiceFilter {
                period: Some(period),
                to_reverse: true,
                ..InvoiceFilter::default()
            };
            Ok((
                all,
                invoices::exports(conn, Some(period), 50)?,
                invoices::list(conn, &filter, 1000)?,
                invoices::list(conn, &reverse, 1000)?,
            ))
        })
        .await?;
    let Some(chosen) = period.or_else(|| all.first().map(|p| p.id)) else {
        return Ok(finance_page(
            &me,
            "财务 · 发票",
            "/admin/finance/invoices",
            html! { p { "还没有期次。" } },
        ));
    };
    let list: Vec<InvoiceView> = list.into_iter().map(InvoiceView::from).collect();
    let to_reverse: Vec<ReversalView> = to_reverse.into_iter().map(ReversalView::from).collect();
    let back = format!(
        "/admin/finance/invoices?period_id={chosen}&state={}",
        layout::url_encode(q.state.as_deref().unwrap_or_default())
    );
    let body = html! {
        (messages(q.done.as_deref(), q.error.as_deref()))
        @if let Some(export) = &q.export {
            p.notice role="status" { "已生成导出：" a href=(format!("/api/v1/admin/invoice-exports/{export}/workbook")) { "下载开票文件（.xlsx）" } }
        }
        form.filters method="get" action="/admin/finance/invoices" {
            (period_select(&all, Some(chosen), false))
            label { "发票状态" select name="state" {
                option value="" { "全部" }
                @for s in ["exported", "issued", "reversed", "cancelled"] {
                    @if let Ok(st) = InvoiceState::parse(s) { option value=(s) selected[wanted == Some(st)] { (st.label_zh()) } }
                }
            } }
            button type="submit" { "切换" }
        }
        section {
            h2 { "导出待开发票" }
            p.hint { "按税务局“批量开具”模板导出本期次已缴费且填写了发票抬头的报名；同单位合开的合并为一张发票。" }
            form.stack method="post" action="/admin/finance/invoices/export" {
                (csrf(&me))
                input type="hidden" name="period_id" value=(chosen);
                label { "只含此后缴费的（可选）" input type="datetime-local" name="paid_since"; }
                label { "工作单位包含（可选）" input name="employer"; }
                label.check { input type="checkbox" name="not_yet_exported" value="1" checked; "只导出尚未导出过的" }
                button type="submit" { "导出" }
            }
            @if !exports.is_empty() {
                table {
                    thead { tr { th { "导出时间" } th.num { "发票数" } th { "下载" } } }
                    tbody {
                        @for e in &exports {
                            tr {
                                td { (time(e.created_at)) }
                                td.num { (e.invoice_count) }
                                td { a href=(format!("/api/v1/admin/invoice-exports/{}/workbook", e.id)) { "下载 .xlsx" } }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "导入已开具的发票号码" }
            p.hint { "上传税务局返回的开票结果文件（.xlsx），按发票流水号登记发票号码与开票日期。" }
            form.stack data-upload="/api/v1/admin/invoices/import" {
                input type="file" name="workbook" accept=".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" required;
                button type="submit" { "导入" }
            }
            div data-upload-result {}
        }
        @if !to_reverse.is_empty() {
            section {
                h2 { "待冲红" }
                table {
                    thead { tr { th { "说明" } th { "操作" } } }
                    tbody {
                        @for r in &to_reverse {
                            tr {
                                td { (r.what_to_reverse) }
                                td {
                                    form.inline method="post" action=(format!("/admin/finance/invoices/{}/reversed", r.invoice.id)) {
                                        (csrf(&me)) input type="hidden" name="back" value=(back);
                                        input name="note" placeholder="红字发票号码等（可选）" aria-label="冲红备注";
                                        button type="submit" { "已冲红" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        section {
            h2 { "发票" }
            p { "共 " (list.len()) " 张（最多显示 1000 张）" }
            table {
                thead { tr { th { "流水号" } th { "购买方" } th { "类型" } th.num { "金额（元）" } th { "包含" } th { "状态" } th { "发票号码" } th { "操作" } } }
                tbody {
                    @for i in &list {
                        tr {
                            td { code { (i.serial) } }
                            td { (i.buyer.get("name").and_then(|n| n.as_str()).unwrap_or_default()) }
                            td { (if i.invoice_type == "special" { "专票" } else { "普票" }) (if i.kind == "joint" { "·合开" } else { "" }) }
                            td.num { (i.amount_yuan) }
                            td { @for (n, c) in i.covers.iter().enumerate() { @if n > 0 { "、" } (c.name) @if c.left_at.is_some() { small { "（已退款）" } } } }
                            td { (i.state_label) @if i.reversal_flagged_at.is_some() && i.reversed_at.is_none() { br; span.tag.warn { "待冲红" } } }
                            td { (i.number.clone().unwrap_or_default()) }
                            td { @if i.state == "exported" {
                                form.inline method="post" action=(format!("/admin/finance/invoices/{}/cancel", i.id)) data-confirm="作废这张尚未开具的发票？其中的报名会在下次导出时重新开票。" {
                                    (csrf(&me)) input type="hidden" name="back" value=(back);
                                    button type="submit" { "作废" }
                                }
                            } }
                        }
                    }
                }
            }
        }
    };
    Ok(finance_page(&me, "财务 · 发票", "/admin/finance/invoices", body))
}

pub(super) async fn export_invoices(
    state: web::Data<AppState>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(FINANCE)?;
    let form = &post.form;
    let period = PeriodId::parse(form.get("period_id").unwrap_or_default())
        .map_err(|_| ApiError::field("period_id", "invalid_id", "期次不存在"))?;
    let back = format!("/admin/finance/invoices?period_id={period}");
    let paid_since = match form.get("paid_since") {
        Some(raw) => match chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M") {
            Ok(local) => Some((local - chrono::Duration::hours(8)).and_utc()),
            Err(_) => {
                return after(
                    &back,
                    Err(ApiError::field("paid_since", "invalid_time", "缴费时间格式不正确")),
                );
            }
        },
        None => None,
    };
    let filter = ExportFilter {
        paid_since,
        not_yet_exported: form.checked("not_yet_exported"),
        employer: form.get("employer").map(str::to_owned),
    };
    let actor = post.me.staff.audit_actor(role);
    let made = state.db(move |conn| make_export(conn, period, &filter, &actor)).await;
    match made {
        Ok(summary) => {
            Ok(layout::see_other(&format!("{back}&done=exported&export={}", summary.id)))
        }
        Err(e) => after(&back, Err(e)),
    }
}

async fn invoice_step(
    state: web::Data<AppState>,
    id: &str,
    post: ConsolePost,
    reverse: bool,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(FINANCE)?;
    let back = back_to(&post.form, "/admin/finance/invoices");
    let id = InvoiceId::parse(id).map_err(|_| ApiError::not_found())?;
    let note = post.form.get("note").map(str::to_owned);
    if note.as_ref().is_some_and(|n| n.chars().count() > 500) {
        return after(&back, Err(ApiError::field("note", "too_long", "备注不能超过500个字")));
    }
    let actor = post.me.staff.audit_actor(role);
    let result = state
        .db(move |conn| {
            if reverse {
                invoices::mark_reversed(conn, id, note.as_deref(), &actor, Utc::now())
            } else {
                invoices::cancel(conn, id, &actor, Utc::now())
            }
            .map_err(ApiError::from)
        })
        .await;
    after(&back, result.map(|_| if reverse { "reversed" } else { "cancelled" }))
}

pub(super) async fn invoice_reversed(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    invoice_step(state, &id, post, true).await
}

pub(super) async fn invoice_cancel(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    invoice_step(state, &id, post, false).await
}
