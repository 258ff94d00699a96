//! The review queue (filters, bulk decisions, keyboard) and a registration's page (the form,
//! the photo large, the masked ID with an audited reveal, approve or reject with the period's
//! templates, the event history, payments and refunds).

use actix_web::{HttpResponse, web};
use baoming_domain::IdNumber;
use baoming_domain::ids::{PeriodId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{Event, Reason, State, Tab, Tag};
use baoming_store::payments::{self, PaymentFilter};
use baoming_store::{periods, registrations, review};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::auth::{ConsoleError, ConsolePost, ConsoleStaff};
use crate::console::layout::{self, csrf, page, yuan};
use crate::error::ApiError;
use crate::routes::admin::review::{QueueQuery, item, parse_filter};
use crate::routes::admin::{READERS, REVIEWERS};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub(super) struct Query {
    period_id: Option<String>,
    region_id: Option<String>,
    state: Option<String>,
    employer: Option<String>,
    name: Option<String>,
    submitted_from: Option<String>,
    submitted_to: Option<String>,
    page: Option<i64>,
    done: Option<String>,
}

fn blank(v: &Option<String>) -> Option<String> {
    v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A `YYYY-MM-DD` date as the start of that day in Beijing.
fn day(raw: &Option<String>) -> Option<chrono::DateTime<chrono::Utc>> {
    let date = chrono::NaiveDate::parse_from_str(blank(raw)?.as_str(), "%Y-%m-%d").ok()?;
    Some((date.and_hms_opt(0, 0, 0)? - chrono::Duration::hours(8)).and_utc())
}

fn state_label(state: State) -> &'static str {
    Tag::of(state).label_zh(Tab::PendingReview)
}

pub(super) async fn queue(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<Query>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(READERS)?;
    let q = query.into_inner();
    let filter = parse_filter(QueueQuery {
        period_id: blank(&q.period_id),
        region_id: blank(&q.region_id),
        state: blank(&q.state).or_else(|| q.state.is_none().then(|| "pending_review".into())),
        submitted_from: day(&q.submitted_from),
        submitted_to: day(&q.submitted_to).map(|d| d + chrono::Duration::days(1)),
        employer: blank(&q.employer),
        name: blank(&q.name),
        page: q.page,
        per_page: Some(50),
        ..QueueQuery::default()
    })?;
    let (page_no, selected_state) = (filter.page.max(1), filter.state);
    let cipher = state.cipher.clone();
    let (found, all_periods) = state
        .db(move |conn| {
            Ok::<_, baoming_store::StoreError>((
                review::list(conn, &cipher, &filter)?,
                periods::all(conn)?,
            ))
        })
        .await?;
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let regions: Vec<_> = all_periods
        .iter()
        .filter(|p| q.period_id.as_deref().is_none_or(|id| p.id.to_string() == id))
        .flat_map(|p| p.regions.iter().map(move |r| (r.id, format!("{} {}", p.name, r.name))))
        .collect();
    let reviewer = me.may(REVIEWERS);
    let body = html! {
        (layout::notice(q.done.as_deref().map(|d| match d { "bulk" => "批量操作已完成（结果见下）", _ => "已完成" })))
        form.filters method="get" action="/admin/review" {
            label { "期次" select name="period_id" {
                option value="" { "全部" }
                @for p in &all_periods { option value=(p.id) selected[q.period_id.as_deref() == Some(p.id.to_string().as_str())] { (p.name) } }
            } }
            label { "地区" select name="region_id" {
                option value="" { "全部" }
                @for (id, name) in &regions { option value=(id) selected[q.region_id.as_deref() == Some(id.to_string().as_str())] { (name) } }
            } }
            label { "状态" select name="state" {
                option value="" selected[selected_state.is_none()] { "全部" }
                @for s in State::ALL.iter().copied() { option value=(s.as_str()) selected[selected_state == Some(s)] { (state_label(s)) } }
            } }
            label { "工作单位" input name="employer" value=(value(&q.employer)); }
            label { "姓名" input name="name" value=(value(&q.name)); }
            label { "提交自" input type="date" name="submitted_from" value=(value(&q.submitted_from)); }
            label { "提交至" input type="date" name="submitted_to" value=(value(&q.submitted_to)); }
            button type="submit" { "筛选" }
        }
        p { "共 " (found.total) " 条" span.hint { " · 键盘：j / k 上下移动，Enter 打开，空格勾选" } }
        form id="bulk" method="post" action="/admin/review/bulk" {
            (csrf(&me))
            table.queue data-keyboard="queue" {
                thead { tr {
                    th { @if reviewer { input type="checkbox" data-select-all="ids" aria-label="全选"; } }
                    th { "姓名" } th { "证件号码" } th { "工作单位" } th { "科目" } th.num { "费用" } th { "状态" } th { "提交时间" }
                } }
                tbody {
                    @for row in &found.rows {
                        @let it = item(row);
                        tr data-href=(format!("/admin/registrations/{}", it.id)) {
                            td { @if reviewer { input type="checkbox" name="ids" value=(it.id) aria-label="选择"; } }
                            td { a href=(format!("/admin/registrations/{}", it.id)) { (it.name.clone().unwrap_or_default()) } }
                            td { (it.id_number_masked.clone().unwrap_or_default()) }
                            td { (it.employer.clone().unwrap_or_default()) }
                            td { (it.subjects.join("、")) }
                            td.num { (yuan(it.fee_fen)) }
                            td { (it.tag_label) }
                            td { (layout::time(it.submitted_at)) }
                        }
                    }
                }
            }
            @if reviewer {
                div.bulk {
                    button type="submit" name="action" value="approve" { "批量通过" }
                    input name="reason" placeholder="驳回原因（批量驳回时必填）";
                    button type="submit" name="action" value="reject" { "批量驳回" }
                }
            }
        }
        @if (page_no * 50) < found.total {
            a href=(format!("/admin/review?page={}&period_id={}&state={}", page_no + 1, value(&q.period_id), selected_state.map_or("", State::as_str))) rel="next" { "下一页" }
        }
    };
    Ok(layout::ok(page(&me, "报名审核", "/admin/review", body)))
}

pub(super) async fn bulk(
    state: web::Data<AppState>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(REVIEWERS)?;
    let ids: Vec<String> = post.form.all("ids").into_iter().map(str::to_owned).collect();
    if ids.is_empty() {
        return Err(ApiError::field("ids", "invalid_selection", "请先勾选报名").into());
    }
    let event = match post.form.get("action") {
        Some("approve") => Event::Approve,
        Some("reject") => Event::Reject {
            reason: Reason::parse(post.form.get("reason").unwrap_or_default()).map_err(|e| {
                ApiError::field("reason", "invalid_reason", format!("批量驳回：{e}"))
            })?,
        },
        _ => return Err(ApiError::bad_request("bad_action", "未知操作").into()),
    };
    let (ctx, actor) = (post.me.staff.ctx(role), post.me.staff.audit_actor(role));
    let results = state
        .db(move |conn| {
            Ok::<_, baoming_store::StoreError>(review::bulk(conn, &ids, &event, &ctx, &actor))
        })
        .await?;
    let results: Vec<(String, Result<String, String>)> = results
        .into_iter()
        .map(|r| {
            let outcome = r
                .result
                .map(|applied| state_label(applied.registration().status.state).to_owned())
                .map_err(|e| ApiError::from(e).message().to_owned());
            (r.id, outcome)
        })
        .collect();
    let body = layout::bulk_results(&results, "/admin/review", "返回审核列表");
    Ok(layout::ok(page(&post.me, "批量操作结果", "/admin/review", body)))
}

fn registration_id(raw: &str) -> Result<RegistrationId, ConsoleError> {
    RegistrationId::parse(raw).map_err(|_| ApiError::not_found().into())
}

pub(super) async fn detail(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    id: web::Path<String>,
    query: web::Query<Query>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(READERS)?;
    let id = registration_id(&id)?;
    Ok(layout::ok(render_detail(&state, &me, id, query.done.as_deref(), None).await?))
}

async fn render_detail(
    state: &AppState,
    me: &ConsoleStaff,
    id: RegistrationId,
    done: Option<&str>,
    error: Option<&str>,
) -> Result<Markup, ConsoleError> {
    let cipher = state.cipher.clone();
    let (r, participant, history, period, templates, ledger, next, invoice) = state
        .db(move |conn| {
            let r = registrations::get(conn, id)?;
            let participant = baoming_store::participants::get(conn, &cipher, r.participant)?;
            let history = registrations::history(conn, id)?;
            let period = periods::detail(conn, r.period)?;
            let templates = periods::rejection_templates(conn, r.period)?;
            let ledger = payments::list_payments(
                conn,
                &PaymentFilter { registration: Some(id), ..PaymentFilter::default() },
                50,
            )?;
            let next = next_pending(conn, &cipher, r.period, id)?;
            let wants_invoice = r.invoice_snapshot.is_some();
            let invoice =
                baoming_store::invoices::progress_of(conn, &[(id, r.status.state, wants_invoice)])?
                    .remove(&id);
            Ok::<_, baoming_store::StoreError>((
                r,
                participant,
                history,
                period,
                templates,
                ledger,
                next,
                invoice,
            ))
        })
        .await?;
    let p = &participant.profile;
    let region = period
        .regions
        .iter()
        .find(|x| x.id == r.region)
        .map(|x| x.name.clone())
        .unwrap_or_default();
    let exam_type = period
        .exam_types
        .iter()
        .find(|x| x.id == r.exam_type)
        .map(|x| x.name.clone())
        .unwrap_or_default();
    let pending = r.status.state == State::PendingReview && me.may(REVIEWERS);
    let body = html! {
        (layout::notice(done.map(|d| match d { "approve" => "已通过", "reject" => "已驳回", _ => "已完成" })))
        @if let Some(error) = error { p.error role="alert" { (error) } }
        div.review {
            figure.photo {
                @if r.photo.is_some() {
                    img src=(format!("/api/v1/admin/registrations/{}/photo", r.id)) alt="报名照片" width="295" height="413";
                } @else { p { "没有照片" } }
            }
            section.form {
                dl {
                    dt { "状态" } dd { (state_label(r.status.state)) @if let Some(flag) = r.status.flag { " · " (flag.as_str()) } }
                    dt { "姓名" } dd { (p.identity.name.as_ref().map(|n| n.as_str()).unwrap_or_default()) }
                    dt { "性别" } dd { (p.identity.gender.map(|g| g.label_zh()).unwrap_or_default()) }
                    dt { "证件号码" } dd {
                        span data-id-number { (p.identity.id_number.as_ref().map(IdNumber::masked).unwrap_or_default()) }
                        @if me.may(REVIEWERS) && p.identity.id_number.is_some() {
                            " " button type="button" data-reveal-id=(format!("/api/v1/admin/registrations/{}/id-number", r.id)) { "查看完整号码（记录审计）" }
                        }
                    }
                    dt { "手机" } dd { (p.phone.as_ref().map(|x| x.as_str()).unwrap_or_default()) }
                    dt { "工作单位" } dd { (p.employer.clone().unwrap_or_default()) }
                    dt { "学历" } dd { (p.education.clone().unwrap_or_default()) }
                    dt { "期次" } dd { (period.name) }
                    dt { "地区" } dd { (region) }
                    dt { "考试类型" } dd { (exam_type) }
                    dt { "科目" } dd { @for s in &r.subjects { (s.name) @if let Some(sp) = &s.specialty { "（" (sp) "）" } br; } }
                    dt { "费用" } dd { "¥" (r.fee.to_yuan_string()) }
                    dt { "发票抬头" } dd { @if let Some(inv) = &r.invoice_snapshot { (inv.name) @if let Some(t) = &inv.tax_id { " · " (t) } } @else { "无" } }
                    @if let Some(remark) = &r.joint_invoice_remark { dt { "合开备注" } dd { (remark) } }
                    @if let Some(invoice) = &invoice {
                        dt { "发票" }
                        dd {
                            (invoice.progress.label_zh())
                            @if let Some(number) = &invoice.number { " · 号码 " (number) }
                            @if let Some(on) = invoice.issued_on { " · " (on.format("%Y-%m-%d").to_string()) }
                        }
                    }
                    @if let Some(reason) = &r.rejection_reason { dt { "驳回原因" } dd { (reason) } }
                    @if let Some(c) = &r.checkin { dt { "报到" } dd { (layout::time(c.at)) " · " (c.proof.as_str()) } }
                }
                @if pending {
                    div.decide {
                        form method="post" action=(format!("/admin/registrations/{}/approve", r.id)) data-shortcut="a" {
                            (csrf(me)) button.primary type="submit" { "通过（A）" }
                        }
                        form method="post" action=(format!("/admin/registrations/{}/reject", r.id)) data-shortcut="r" {
                            (csrf(me))
                            select name="template" {
                                option value="" { "选择驳回原因模板…" }
                                @for (i, t) in templates.iter().enumerate() { option value=(i) { (t) } }
                            }
                            input name="reason" placeholder="或填写驳回原因" data-focus-on="r";
                            button type="submit" { "驳回（R）" }
                        }
                    }
                }
                @if let Some(next) = next {
                    p { a href=(format!("/admin/registrations/{next}")) data-shortcut="n" rel="next" { "下一个待审核（N）" } }
                }
            }
        }
        h2 { "缴费与退款" }
        @if ledger.is_empty() { p { "没有款项记录。" } }
        @else {
            table {
                thead { tr { th { "到账时间" } th { "方式" } th.num { "金额" } th { "处理" } th { "退款" } } }
                tbody { @for pay in &ledger { tr {
                    td { (layout::time(pay.received_at)) }
                    td { (pay.method.as_str()) }
                    td.num { (yuan(pay.amount_fen)) }
                    td { (pay.disposition.as_str()) }
                    td { (pay.refund_state.map(|s| s.as_str()).unwrap_or("")) " " small { (pay.refund_error.clone().unwrap_or_default()) } }
                } } }
            }
        }
        h2 { "处理记录" }
        table {
            thead { tr { th { "时间" } th { "操作方" } th { "事件" } th { "状态变化" } th { "原因" } } }
            tbody { @for e in &history { tr {
                td { (layout::time(e.at)) }
                td { (e.actor.as_str()) }
                td { (e.event.as_str()) }
                td { (e.from.map(state_label).unwrap_or("—")) " → " (state_label(e.to.state)) }
                td { (e.reason.clone().unwrap_or_default()) }
            } } }
        }
    };
    Ok(page(me, "报名详情", "/admin/review", body))
}

/// The oldest other registration of the period awaiting review.
fn next_pending(
    conn: &mut baoming_store::DbConnection,
    cipher: &baoming_store::PiiCipher,
    period: PeriodId,
    current: RegistrationId,
) -> Result<Option<RegistrationId>, baoming_store::StoreError> {
    let filter = review::Filter {
        period: Some(period),
        state: Some(State::PendingReview),
        page: 1,
        per_page: 2,
        ..review::Filter::default()
    };
    Ok(review::list(conn, cipher, &filter)?
        .rows
        .into_iter()
        .map(|row| row.registration.id)
        .find(|id| *id != current))
}

pub(super) async fn approve(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    decide(&state, &id, post, |_| Ok(Event::Approve)).await
}

pub(super) async fn reject(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let registration = registration_id(&id)?;
    let templates = state
        .db(move |conn| {
            let period = registrations::get(conn, registration)?.period;
            periods::rejection_templates(conn, period)
        })
        .await?;
    decide(&state, &id, post, move |form| {
        let text = match (form.get("reason"), form.get("template")) {
            (Some(text), _) => text.to_owned(),
            (None, Some(i)) => {
                i.parse::<usize>().ok().and_then(|i| templates.get(i).cloned()).ok_or_else(
                    || ApiError::field("template", "unknown_template", "驳回原因模板不存在"),
                )?
            }
            (None, None) => {
                return Err(ApiError::field(
                    "reason",
                    "invalid_reason",
                    "请填写驳回原因或选择一个模板",
                ));
            }
        };
        let reason = Reason::parse(&text)
            .map_err(|e| ApiError::field("reason", "invalid_reason", e.to_string()))?;
        Ok(Event::Reject { reason })
    })
    .await
}

async fn decide(
    state: &AppState,
    raw_id: &str,
    post: ConsolePost,
    event: impl FnOnce(&crate::console::auth::Fields) -> Result<Event, ApiError>,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(REVIEWERS)?;
    let id = registration_id(raw_id)?;
    let event = match event(&post.form) {
        Ok(event) => event,
        Err(e) => {
            let page = render_detail(state, &post.me, id, None, Some(e.message())).await?;
            return Ok(layout::html(e.status(), page));
        }
    };
    let kind = event.kind();
    let (ctx, actor) = (post.me.staff.ctx(role), post.me.staff.audit_actor(role));
    let decided = state.db(move |conn| review::decide(conn, id, &event, &ctx, &actor)).await;
    match decided {
        Ok(_) => {
            // Straight on to the next registration awaiting review, if any.
            let cipher = state.cipher.clone();
            let next = state
                .db(move |conn| {
                    let period = registrations::get(conn, id)?.period;
                    next_pending(conn, &cipher, period, id)
                })
                .await?;
            let done = kind.as_str();
            Ok(layout::see_other(&match next {
                Some(next) => format!("/admin/registrations/{next}?done={done}"),
                None => format!("/admin/registrations/{id}?done={done}"),
            }))
        }
        Err(e) if e.status().is_client_error() => {
            let page = render_detail(state, &post.me, id, None, Some(e.message())).await?;
            Ok(layout::html(e.status(), page))
        }
        Err(e) => Err(e.into()),
    }
}
