//! The audit log (admin), with filters.

use actix_web::{HttpResponse, web};
use baoming_store::audit::{self, Filter};
use chrono::{DateTime, Utc};
use maud::html;
use serde::Deserialize;

use crate::console::auth::{ConsoleError, ConsoleStaff};
use crate::console::layout::{self, page};
use crate::routes::admin::ADMINS;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct Query {
    action: Option<String>,
    username: Option<String>,
    target_id: Option<String>,
    since: Option<String>,
    until: Option<String>,
    page: Option<i64>,
}

fn day(raw: Option<&str>) -> Option<DateTime<Utc>> {
    let date = chrono::NaiveDate::parse_from_str(raw?.trim(), "%Y-%m-%d").ok()?;
    Some((date.and_hms_opt(0, 0, 0)? - chrono::Duration::hours(8)).and_utc())
}

pub(super) async fn list(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<Query>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(ADMINS)?;
    let q = query.into_inner();
    let blank = |v: &Option<String>| {
        v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
    };
    let page_no = q.page.unwrap_or(1).max(1);
    let filter = Filter {
        staff: None,
        action: blank(&q.action),
        target_id: blank(&q.target_id),
        since: day(q.since.as_deref()),
        until: day(q.until.as_deref()).map(|d| d + chrono::Duration::days(1)),
        limit: 100,
        offset: (page_no - 1) * 100,
    };
    let username = blank(&q.username);
    let entries = state.db(move |conn| audit::list(conn, &filter)).await?;
    let entries: Vec<_> = entries
        .into_iter()
        .filter(|e| username.as_deref().is_none_or(|u| e.username.as_deref() == Some(u)))
        .collect();
    let value = |v: &Option<String>| v.clone().unwrap_or_default();
    let body = html! {
        form.filters method="get" action="/admin/audit" {
            label { "操作" input name="action" value=(value(&q.action)) placeholder="如 approve、login_failed"; }
            label { "用户名" input name="username" value=(value(&q.username)); }
            label { "对象编号" input name="target_id" value=(value(&q.target_id)); }
            label { "起始日期" input type="date" name="since" value=(value(&q.since)); }
            label { "截止日期" input type="date" name="until" value=(value(&q.until)); }
            button type="submit" { "筛选" }
        }
        table {
            thead { tr { th { "时间" } th { "员工" } th { "角色" } th { "操作" } th { "对象" } th { "摘要" } th { "IP" } } }
            tbody {
                @for e in &entries {
                    tr {
                        td { (layout::time(e.at)) }
                        td { (e.username.clone().unwrap_or_default()) }
                        td { (e.role.clone().unwrap_or_default()) }
                        td { code { (e.action) } }
                        td { (e.target_kind.clone().unwrap_or_default()) " " small { (e.target_id.clone().unwrap_or_default()) } }
                        td { small { (e.summary.as_ref().map(|s| s.to_string()).unwrap_or_default()) } }
                        td { (e.client_ip.clone().unwrap_or_default()) }
                    }
                }
            }
        }
        @if entries.len() == 100 {
            a href=(format!("/admin/audit?page={}&action={}&target_id={}", page_no + 1, layout::url_encode(&value(&q.action)), layout::url_encode(&value(&q.target_id)))) { "下一页" }
        }
    };
    Ok(layout::ok(page(&me, "审计日志", "/admin/audit", body)))
}
