//! The dashboard: per period, registrations per state and tab, seats left per region, money
//! taken today, failed jobs.

use actix_web::{HttpResponse, web};
use baoming_domain::lifecycle::{State, Tab, Tag};
use baoming_store::{jobs, payments, periods, review};
use chrono::{Duration, FixedOffset, TimeZone};
use maud::html;

use crate::console::auth::{ConsoleError, ConsoleStaff};
use crate::console::layout::{self, page, yuan};
use crate::routes::admin::{ADMINS, ANY_STAFF, READERS};
use crate::state::AppState;

pub(super) async fn redirect() -> HttpResponse {
    layout::see_other("/admin/")
}

pub(super) async fn show(
    state: web::Data<AppState>,
    me: ConsoleStaff,
) -> Result<HttpResponse, ConsoleError> {
    me.require(ANY_STAFF)?;
    let now = state.now();
    let beijing = FixedOffset::east_opt(8 * 3600)
        .ok_or_else(|| crate::error::ApiError::internal(&"offset"))?;
    let local = now.with_timezone(&beijing).date_naive();
    let midnight = beijing
        .from_local_datetime(&local.and_hms_opt(0, 0, 0).unwrap_or_default())
        .single()
        .map_or(now, |t| t.to_utc());
    let readers = me.may(READERS);
    let admins = me.may(ADMINS);
    let (all, taken, job_counts) = state
        .db(move |conn| {
            let all = if readers {
                periods::all(conn)?
                    .into_iter()
                    .map(|p| Ok((review::counts(conn, Some(p.id))?, p)))
                    .collect::<Result<Vec<_>, baoming_store::StoreError>>()?
            } else {
                vec![]
            };
            let taken = payments::taken_between(conn, midnight, midnight + Duration::days(1))?;
            let job_counts = if admins { Some(jobs::counts(conn, now)?) } else { None };
            Ok::<_, baoming_store::StoreError>((all, taken, job_counts))
        })
        .await?;
    let body = html! {
        section.cards {
            @if me.may(crate::routes::admin::FINANCE) {
                div.card { h2 { "今日到账" } p.big { "¥" (yuan(taken)) } }
            }
            @if let Some(j) = &job_counts {
                div.card {
                    h2 { "后台任务" }
                    p.big.alert[j.failed > 0] { (j.failed) " 个失败" }
                    p { "等待 " (j.pending) " · 运行中 " (j.running) }
                    a href="/admin/jobs" { "查看失败任务" }
                }
            }
        }
        @for (counts, p) in &all {
            @let ended = p.schedule.sitting_ended(now);
            section.period {
                h2 { (p.name) @if p.closed { " （已关闭）" } }
                table {
                    thead { tr { th { "状态" } th { "我的考试分栏" } th.num { "人数" } } }
                    tbody {
                        @for (state, n) in counts {
                            tr {
                                td { (Tag::of(*state).label_zh(Tab::of(*state, ended))) " " small { (state.as_str()) } }
                                td { (Tab::of(*state, ended).label_zh()) }
                                td.num { a href=(format!("/admin/review?period_id={}&state={}", p.id, state.as_str())) { (n) } }
                            }
                        }
                    }
                }
                h3 { "各地区名额" }
                table {
                    thead { tr { th { "地区" } th.num { "名额" } th.num { "已占用" } th.num { "剩余" } } }
                    tbody {
                        @for r in &p.regions {
                            tr {
                                td { (r.code) " " (r.name) }
                                td.num { (r.capacity) }
                                td.num { (r.seats_taken) }
                                td.num { (r.capacity.saturating_sub(r.seats_taken)) }
                            }
                        }
                    }
                }
                @let pending = counts.iter().filter(|(s, _)| *s == State::PendingReview).map(|(_, n)| n).sum::<i64>();
                p { "待审核 " (pending) " 人 · " a href=(format!("/admin/review?period_id={}&state=pending_review", p.id)) { "去审核" } }
            }
        }
    };
    Ok(layout::ok(page(&me, "概览", "/admin/", body)))
}
