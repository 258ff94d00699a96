//! Admission tickets (准考证): the period's ticket settings (number scheme, each venue's rooms),
//! the dry run with its rooms, seat maps and unmet constraints, the commit of that very plan,
//! publication, failed renders with a retry, the seat plan and each room's sign-in sheet.
//! Check-in staff see the tickets and the room sheets; the rest is the admin's.

use actix_web::{HttpResponse, web};
use baoming_domain::ids::{PeriodId, RegistrationId, TypedId, VenueId};
use baoming_store::tickets::{self, SettingsChange};
use baoming_store::{StoreError, periods};
use baoming_tickets::{NumberScheme, RoomLayout};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::auth::{ConsoleError, ConsolePost, ConsoleStaff};
use crate::console::layout::{self, csrf, field_error, page, time};
use crate::error::ApiError;
use crate::routes::admin::tickets::{
    AdminTicketView, AssignBody, FailedTicketView, PlanView, admin_view, assign_options,
    failed_views, plan_in,
};
use crate::routes::admin::{ADMINS, CHECKIN};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
pub(super) struct Query {
    period_id: Option<String>,
    done: Option<String>,
    error: Option<String>,
}

fn period_of(raw: &str) -> Result<PeriodId, ConsoleError> {
    PeriodId::parse(raw).map_err(|_| ApiError::not_found().into())
}

fn back(period: PeriodId) -> String {
    format!("/admin/tickets?period_id={period}")
}

/// Redirects to the period's page with `done=…`, or with the message of a refusal.
fn after(period: PeriodId, done: Result<String, ApiError>) -> Result<HttpResponse, ConsoleError> {
    match done {
        Ok(done) => Ok(layout::see_other(&format!("{}&done={done}", back(period)))),
        Err(e) if e.status().is_client_error() => Ok(layout::see_other(&format!(
            "{}&error={}",
            back(period),
            layout::url_encode(e.message())
        ))),
        Err(e) => Err(e.into()),
    }
}

struct Overview {
    settings: tickets::Settings,
    list: Vec<AdminTicketView>,
    failed: Vec<FailedTicketView>,
}

pub(super) async fn show(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<Query>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(CHECKIN)?;
    let q = query.into_inner();
    let wanted = q.period_id.as_deref().and_then(|p| PeriodId::parse(p).ok());
    let admin = me.may(ADMINS);
    let (all, overview) = state
        .db(move |conn| {
            let all = periods::all(conn)?;
            let chosen = wanted.or_else(|| all.first().map(|p| p.id));
            let overview = match chosen {
                Some(period) => {
                    let settings = tickets::settings(conn, period)?;
                    let list = tickets::list(conn, period)?;
                    let ids: Vec<RegistrationId> = list.iter().map(|t| t.registration).collect();
                    let names = tickets::names_of(conn, &ids)?;
                    let list = list
                        .iter()
                        .map(|t| admin_view(t, names.get(&t.registration).cloned().flatten()))
                        .collect();
                    let failed =
                        if admin { failed_views(tickets::failed(conn, period)?) } else { vec![] };
                    Some(Overview { settings, list, failed })
                }
                None => None,
            };
            Ok::<_, StoreError>((all, overview))
        })
        .await?;
    let Some(o) = overview else {
        return Ok(layout::ok(page(
            &me,
            "准考证",
            "/admin/tickets",
            html! { p { "还没有期次。" } },
        )));
    };
    let period = o.settings.period;
    let notice = q.done.as_deref().map(|d| match d {
        "settings" => "已保存准考证设置".to_owned(),
        "published" => "已发布准考证：系统正在生成图片与 PDF，并通知考生".to_owned(),
        "already" => "准考证此前已发布，未作改动".to_owned(),
        "retried" => "失败的准考证将重新生成".to_owned(),
        other => match other.strip_prefix("assigned-") {
            Some(n) => format!("已按方案编排，共 {n} 张准考证"),
            None => "已完成".to_owned(),
        },
    });
    let rooms: Vec<(String, String, u32, u32)> = {
        let mut seen: Vec<(String, String, u32, u32)> = Vec::new();
        for t in &o.list {
            if !seen.iter().any(|(v, _, _, r)| *v == t.venue_id && *r == t.room) {
                let name = o
                    .settings
                    .venues
                    .iter()
                    .find(|v| v.venue.to_string() == t.venue_id)
                    .map(|v| v.name.clone())
                    .unwrap_or_default();
                seen.push((t.venue_id.clone(), name, t.site, t.room));
            }
        }
        seen
    };
    let body = html! {
        (layout::notice(notice.as_deref()))
        @if let Some(error) = &q.error { p.error role="alert" { (error) } }
        form.filters method="get" action="/admin/tickets" {
            label { "期次" select name="period_id" {
                @for p in &all { option value=(p.id) selected[p.id == period] { (p.name) } }
            } }
            button type="submit" { "切换" }
        }
        p {
            "已编排 " strong { (o.list.len()) } " 张；"
            @match o.settings.published_at {
                Some(at) => { "已于 " (time(at)) " 发布。" }
                None => { "尚未发布（考生还看不到准考证）。" }
            }
            @if admin && !o.list.is_empty() {
                " " a href=(format!("/api/v1/admin/periods/{period}/tickets/seat-plan.xlsx")) { "下载考场编排表（.xlsx）" }
            }
        }
        @if admin {
            (settings_form(&me, &o.settings, &[]))
            section {
                h2 { "编排座位" }
                p.hint { "为已报到的考生编排考场和座位：先试排查看考场、座位图和未满足的约束，确认后按同一方案正式编排。已有准考证的考生保持不变，除非选择全部重排（发布后不可）。" }
                form.stack method="post" action=(format!("/admin/tickets/{period}/plan")) {
                    (csrf(&me))
                    label { "随机种子（留空则随机）" input name="seed" inputmode="numeric"; }
                    label { "每个考点额外增开考场数（0–50，考场越多同单位考生越分散）" input name="extra_rooms" type="number" min="0" max="50" value="0"; }
                    @if o.settings.published_at.is_none() {
                        label.check { input type="checkbox" name="force" value="1"; "全部重排（替换已有准考证）" }
                    }
                    button type="submit" { "试排" }
                }
            }
            @if !o.list.is_empty() && o.settings.published_at.is_none() {
                section {
                    h2 { "发布" }
                    form.inline method="post" action=(format!("/admin/tickets/{period}/publish")) data-confirm="发布后考生即可查看准考证，且不能再全部重排。确定发布？" {
                        (csrf(&me))
                        button.primary type="submit" { "发布准考证" }
                    }
                }
            }
            @if !o.failed.is_empty() {
                section {
                    h2 { "生成失败的准考证" }
                    table {
                        thead { tr { th { "准考证号" } th { "姓名" } th { "原因" } th { "时间" } } }
                        tbody {
                            @for f in &o.failed {
                                tr {
                                    td { (f.ticket_number) }
                                    td { a href=(format!("/admin/registrations/{}", f.registration_id)) { (f.name.clone().unwrap_or_default()) } }
                                    td {
                                        (f.message)
                                        @if !f.missing_characters.is_empty() {
                                            br; small { "缺字：" @for c in &f.missing_characters { (c.character) "（" (c.code_point) "） " } }
                                        }
                                    }
                                    td { (time(f.failed_at)) }
                                }
                            }
                        }
                    }
                    form.inline method="post" action=(format!("/admin/tickets/{period}/retry")) {
                        (csrf(&me))
                        button type="submit" { "原因已排除，重新生成" }
                    }
                }
            }
        }
        @if !rooms.is_empty() {
            section {
                h2 { "考场签到表" }
                ul.rooms {
                    @for (venue, name, site, room) in &rooms {
                        li { a href=(format!("/api/v1/admin/venues/{venue}/rooms/{room}/sign-in-sheet.pdf")) { "第 " (site) " 考点（" (name) "）第 " (room) " 考场（PDF）" } }
                    }
                }
            }
        }
        section {
            h2 { "准考证" }
            table {
                thead { tr { th { "准考证号" } th { "姓名" } th.num { "考点" } th.num { "考场" } th.num { "座位" } th { "生成" } } }
                tbody {
                    @for t in &o.list {
                        tr {
                            td { code { (t.ticket_number) } }
                            td { (t.name.clone().unwrap_or_default()) }
                            td.num { (t.site) }
                            td.num { (t.room) }
                            td.num { (t.seat) }
                            td { @match t.render.as_str() {
                                "rendered" => { "已生成" }
                                "failed" => { span.error { "失败" } }
                                _ => { @if o.settings.published_at.is_some() { "生成中" } @else { "待发布" } }
                            } }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::ok(page(&me, "准考证", "/admin/tickets", body)))
}

fn settings_form(me: &ConsoleStaff, s: &tickets::Settings, errors: &[(String, String)]) -> Markup {
    let locked = s.published_at.is_some();
    html! {
        section {
            h2 { "设置" }
            @if locked { p.hint { "准考证已发布，设置不能再修改。" } }
            form.stack method="post" action=(format!("/admin/tickets/{}/settings", s.period)) {
                (csrf(me))
                (field_error(errors, ""))
                label { "准考证号规则（默认：年份两位 + 地区两位 + 考点两位 + 考场两位 + 座位两位）"
                    input name="number_scheme" value=(s.scheme.pattern()) disabled[locked];
                    (field_error(errors, "number_scheme"))
                }
                table {
                    thead { tr { th { "考点" } th.num { "每考场座位数" } th.num { "每排座位数" } } }
                    tbody {
                        @for (i, v) in s.venues.iter().enumerate() {
                            tr {
                                td { (v.number) " " (v.name) input type="hidden" name=(format!("venues[{i}].venue_id")) value=(v.venue); }
                                td.num { input type="number" min="1" max="999" name=(format!("venues[{i}].room_capacity")) value=(v.layout.capacity()) disabled[locked]; }
                                td.num { input type="number" min="1" max="999" name=(format!("venues[{i}].room_columns")) value=(v.layout.columns()) disabled[locked]; (field_error(errors, &format!("venues[{i}]"))) }
                            }
                        }
                    }
                }
                @if !locked { button type="submit" { "保存设置" } }
            }
        }
    }
}

pub(super) async fn save_settings(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let period = period_of(&id)?;
    let f = &post.form;
    let mut errors = Vec::new();
    let scheme = match f.get("number_scheme").map(NumberScheme::parse) {
        Some(Ok(s)) => Some(s),
        Some(Err(e)) => {
            errors.push(("number_scheme".to_owned(), e.to_string()));
            None
        }
        None => None,
    };
    let mut rooms = Vec::new();
    for i in 0.. {
        let Some(venue) = f.get(&format!("venues[{i}].venue_id")) else { break };
        let venue = VenueId::parse(venue).map_err(|_| ApiError::not_found())?;
        let number =
            |name: &str| f.get(&format!("venues[{i}].{name}")).and_then(|v| v.parse().ok());
        match (number("room_capacity"), number("room_columns")) {
            (Some(capacity), Some(columns)) => match RoomLayout::new(capacity, columns) {
                Ok(layout) => rooms.push((venue, layout)),
                Err(e) => errors.push((format!("venues[{i}]"), e.to_string())),
            },
            _ => errors.push((format!("venues[{i}]"), "请填写 1–999 的整数".to_owned())),
        }
    }
    if errors.is_empty() {
        let change = SettingsChange { scheme, rooms };
        let (actor, now) = (post.me.staff.audit_actor(role), state.now());
        let saved = state
            .db(move |conn| tickets::update_settings(conn, period, &change, &actor, now))
            .await;
        match saved {
            Ok(_) => return after(period, Ok("settings".into())),
            Err(e) if e.status().is_client_error() => errors = e.field_messages(),
            Err(e) => return Err(e.into()),
        }
    }
    // Refused: the form again, with the message next to the field.
    let settings = state.db(move |conn| tickets::settings(conn, period)).await?;
    let body = html! {
        p.error role="alert" { "设置有问题，请按提示修改。" }
        (settings_form(&post.me, &settings, &errors))
        p { a href=(back(period)) { "返回准考证" } }
    };
    Ok(layout::html(
        actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
        page(&post.me, "准考证设置", "/admin/tickets", body),
    ))
}

fn options(post: &ConsolePost) -> AssignBody {
    AssignBody {
        seed: post.form.get("seed").map(str::to_owned),
        force: post.form.checked("force"),
        extra_rooms: post.form.get("extra_rooms").and_then(|v| v.parse().ok()).unwrap_or(0),
    }
}

pub(super) async fn plan(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    post.me.require(ADMINS)?;
    let period = period_of(&id)?;
    let body = options(&post);
    let (force, extra_rooms) = (body.force, body.extra_rooms);
    let planned = match assign_options(body) {
        Ok(options) => plan_in(&state, period, options, None).await,
        Err(e) => Err(e),
    };
    let plan = match planned {
        Ok(plan) => plan,
        Err(e) => return after(period, Err(e)),
    };
    let body = html! {
        p {
            "试排结果（尚未保存）：共 " strong { (plan.tickets) } " 张，其中新编 " (plan.created) " 张、保留 " (plan.kept) " 张"
            @if plan.replaced > 0 { "、替换 " (plan.replaced) " 张" }
            "；随机种子 " code { (plan.seed) } "。"
        }
        @if plan.unmet.is_empty() {
            p.notice role="status" { "所有约束均已满足：同单位考生不相邻，并尽量分在不同考场。" }
        } @else {
            section {
                h2 { "未满足的约束（" (plan.unmet.len()) "）" }
                ul { @for u in &plan.unmet { li { (u.message) } } }
            }
        }
        form.inline method="post" action=(format!("/admin/tickets/{period}/assign")) {
            (csrf(&post.me))
            input type="hidden" name="seed" value=(plan.seed);
            input type="hidden" name="extra_rooms" value=(extra_rooms);
            @if force { input type="hidden" name="force" value="1"; }
            button.primary type="submit" { "按此方案正式编排" }
        }
        " " a href=(back(period)) { "放弃，返回" }
        (seat_maps(&plan))
    };
    Ok(layout::ok(page(&post.me, "试排考场与座位", "/admin/tickets", body)))
}

fn seat_maps(plan: &PlanView) -> Markup {
    html! {
        @for room in &plan.rooms {
            section.room {
                h2 { "第 " (room.site) " 考点（" (room.venue_name) "）第 " (room.room) " 考场 · " (room.occupied) "/" (room.capacity) " 人"
                    @if room.kept { " " span.tag { "已有" } } }
                table.seats {
                    tbody {
                        @for row in &room.rows {
                            tr {
                                @for seat in row {
                                    @match seat {
                                        Some(s) => {
                                            td class=[s.kept.then_some("kept")] {
                                                strong { (s.seat) } " " (s.name.clone().unwrap_or_default()) br; small { (s.ticket_number) }
                                            }
                                        }
                                        None => { td.empty { "空" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub(super) async fn assign(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let period = period_of(&id)?;
    let body = options(&post);
    if body.seed.is_none() {
        return after(period, Err(ApiError::field("seed", "invalid_seed", "请先试排再正式编排")));
    }
    let commit = Some((post.me.staff.audit_actor(role), state.now()));
    let done = match assign_options(body) {
        Ok(options) => plan_in(&state, period, options, commit).await,
        Err(e) => Err(e),
    };
    after(period, done.map(|plan| format!("assigned-{}", plan.tickets)))
}

pub(super) async fn publish(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let period = period_of(&id)?;
    let (actor, now) = (post.me.staff.audit_actor(role), state.now());
    let done = state.db(move |conn| tickets::publish(conn, period, &actor, now)).await;
    after(period, done.map(|d| if d.already { "already" } else { "published" }.to_owned()))
}

pub(super) async fn retry(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let period = period_of(&id)?;
    let (actor, now) = (post.me.staff.audit_actor(role), state.now());
    let done = state.db(move |conn| tickets::retry_failed(conn, period, &actor, now)).await;
    after(period, done.map(|_| "retried".to_owned()))
}
