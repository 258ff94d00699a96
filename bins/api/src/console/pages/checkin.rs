//! Check-in at the venue: the desk (find a person, check them in by hand, live counts) and the
//! venue display (the rotating QR code, full screen, turning by itself).

use actix_web::{HttpResponse, web};
use baoming_checkin::qr;
use baoming_domain::ids::{PeriodId, RegistrationId, TypedId, VenueId};
use baoming_domain::lifecycle::State;
use baoming_store::checkin;
use baoming_store::periods;
use maud::html;
use serde::Deserialize;

use crate::console::auth::{ConsoleError, ConsolePost, ConsoleStaff};
use crate::console::layout::{self, bare, csrf, page};
use crate::error::ApiError;
use crate::routes::admin::CHECKIN;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct Query {
    period_id: Option<String>,
    q: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

pub(super) async fn desk(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<Query>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(CHECKIN)?;
    let q = query.into_inner();
    let now = state.now();
    let wanted = q.period_id.as_deref().and_then(|p| PeriodId::parse(p).ok());
    let search = q.q.clone().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let (all, chosen, counts, found) = state
        .db(move |conn| {
            let all = periods::all(conn)?;
            // The period asked for, else the first whose sitting has not ended.
            let chosen = wanted
                .and_then(|id| all.iter().find(|p| p.id == id))
                .or_else(|| all.iter().find(|p| !p.schedule.sitting_ended(now)))
                .or(all.first())
                .cloned();
            let (counts, found) = match &chosen {
                Some(p) => (
                    Some(checkin::counts(conn, p)?),
                    match &search {
                        Some(text) => checkin::search(conn, p.id, text, 50)?,
                        None => vec![],
                    },
                ),
                None => (None, vec![]),
            };
            Ok::<_, baoming_store::StoreError>((all, chosen, counts, found))
        })
        .await?;
    let Some(period) = chosen else {
        return Ok(layout::ok(page(
            &me,
            "现场报到",
            "/admin/checkin",
            html! { p { "还没有期次。" } },
        )));
    };
    let counts = counts.unwrap_or_else(no_counts);
    let region_name =
        |id| period.regions.iter().find(|r| r.id == id).map(|r| r.name.clone()).unwrap_or_default();
    let body = html! {
        (layout::notice(q.done.as_deref().map(|d| if d == "already" { "此人已报到，无需重复" } else { "已报到" })))
        @if let Some(error) = &q.error { p.error role="alert" { (error) } }
        form.filters method="get" action="/admin/checkin" {
            label { "期次" select name="period_id" {
                @for p in &all { option value=(p.id) selected[p.id == period.id] { (p.name) } }
            } }
            button type="submit" { "切换" }
        }
        p { "报到时间：" (layout::time(period.schedule.checkin_opens())) " 至 " (layout::time(period.schedule.checkin_closes())) }
        h2 { "考点与大屏二维码" }
        ul.venues {
            @for v in &period.venues {
                li {
                    strong { (v.name) } " （" (v.address) "）"
                    @if let Some(r) = v.region { " · 服务地区：" (region_name(r)) }
                    " · " a href=(format!("/admin/checkin/display/{}", v.id)) target="_blank" { "打开大屏" }
                }
            }
        }
        h2 { "实时人数" }
        table data-live-counts=(format!("/api/v1/admin/periods/{}/check-in/counts", period.id)) {
            thead { tr { th { "地区" } th.num { "应到" } th.num { "已报到" } th.num { "未报到" } th.num { "固定码" } th.num { "人工" } } }
            tbody {
                tr data-count="total" {
                    td { "合计" }
                    td.num data-field="expected" { (counts.total.expected) }
                    td.num data-field="checked_in" { (counts.total.checked_in) }
                    td.num data-field="not_yet" { (counts.total.not_yet()) }
                    td.num data-field="by_static_code" { (counts.total.by_static_code) }
                    td.num data-field="by_staff" { (counts.total.by_staff) }
                }
                @for (id, c) in &counts.regions {
                    tr data-count=(format!("region:{id}")) {
                        td { (region_name(*id)) }
                        td.num data-field="expected" { (c.expected) }
                        td.num data-field="checked_in" { (c.checked_in) }
                        td.num data-field="not_yet" { (c.not_yet()) }
                        td.num data-field="by_static_code" { (c.by_static_code) }
                        td.num data-field="by_staff" { (c.by_staff) }
                    }
                }
            }
        }
        h2 { "查找并人工报到" }
        form.filters method="get" action="/admin/checkin" {
            input type="hidden" name="period_id" value=(period.id);
            label { "姓名、手机号或证件号码后四位" input name="q" value=(q.q.clone().unwrap_or_default()) autofocus; }
            button type="submit" { "查找" }
        }
        @if q.q.is_some() && found.is_empty() { p { "没有找到（只列出已缴费、退款审核中或已报到的报名）。" } }
        @if !found.is_empty() {
            table {
                thead { tr { th { "姓名" } th { "手机" } th { "证件号码" } th { "工作单位" } th { "地区" } th { "状态" } th { "操作" } } }
                tbody {
                    @for c in &found {
                        tr {
                            td { (c.name.clone().unwrap_or_default()) }
                            td { (c.phone.clone().unwrap_or_default()) }
                            td { "****" (c.id_tail.clone().unwrap_or_default()) }
                            td { (c.employer.clone().unwrap_or_default()) }
                            td { (region_name(c.region)) }
                            td { (c.state.label_zh()) @if let Some(at) = c.checked_in_at { " " small { (layout::time(at)) } } }
                            td {
                                @if matches!(c.state, State::Paid | State::RefundDenied) {
                                    form.inline method="post" action=(format!("/admin/checkin/registrations/{}", c.registration)) {
                                        (csrf(&me))
                                        input type="hidden" name="period_id" value=(period.id);
                                        select name="venue_id" {
                                            @for v in period.venues.iter().filter(|v| v.serves(c.region)) { option value=(v.id) { (v.name) } }
                                        }
                                        button type="submit" { "人工报到" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::ok(page(&me, "现场报到", "/admin/checkin", body)))
}

fn no_counts() -> checkin::Counts {
    checkin::Counts { total: checkin::Count::default(), regions: vec![], venues: vec![] }
}

pub(super) async fn check_in(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(CHECKIN)?;
    let id = RegistrationId::parse(&id).map_err(|_| ApiError::not_found())?;
    let venue = post.form.get("venue_id").and_then(|v| VenueId::parse(v).ok());
    let period = post.form.text("period_id");
    let ctx = baoming_store::registrations::Ctx { now: state.now(), ..post.me.staff.ctx(role) };
    let actor = post.me.staff.audit_actor(role);
    let done = state
        .db(move |conn| {
            checkin::check_in_by_staff(conn, id, venue, &ctx, &actor).map_err(ApiError::from)
        })
        .await;
    let back =
        |extra: String| format!("/admin/checkin?period_id={}{extra}", layout::url_encode(&period));
    Ok(layout::see_other(&match done {
        Ok(done) => back(format!("&done={}", if done.already { "already" } else { "1" })),
        Err(e) if e.status().is_client_error() => {
            back(format!("&error={}", layout::url_encode(e.message())))
        }
        Err(e) => return Err(e.into()),
    }))
}

pub(super) async fn display(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    venue: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(CHECKIN)?;
    let venue = VenueId::parse(&venue).map_err(|_| ApiError::not_found())?;
    let cache = state.periods.clone();
    let period = state
        .db(move |conn| {
            let period = periods::venue_period(conn, venue)?;
            Ok::<_, ApiError>(cache.get(conn, period)?)
        })
        .await?;
    let v = period.venue(venue).ok_or_else(ApiError::not_found)?;
    let now = state.now();
    let shown = period.checkin_key().rotating(v.number, now).map_err(|e| ApiError::internal(&e))?;
    let svg = qr::svg(&shown.token, qr::Ecc::Medium).map_err(|e| ApiError::internal(&e))?;
    let body = html! {
        main.display
            data-code-url=(format!("/api/v1/admin/venues/{venue}/code"))
            data-turn-in=(shown.seconds_until_turn) {
            h1 { (v.name) }
            p.period { (period.name) " · 扫码报到" }
            div.qr data-qr { (layout::svg(&svg)) }
            p.clock { span data-clock { (crate::time::beijing(now, "%H:%M:%S")) } }
            p.turn { span data-countdown { (shown.seconds_until_turn) } " 秒后刷新" }
            p.hint { "请使用报名小程序“我的考试 → 扫码报到”扫描此二维码" }
        }
    };
    Ok(layout::ok(bare(&format!("{} 报到", v.name), "display-page", body)))
}
