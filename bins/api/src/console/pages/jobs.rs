//! Failed background jobs (admin), with rerun.

use actix_web::{HttpResponse, web};
use baoming_domain::ids::{JobId, TypedId};
use baoming_store::jobs::{self, JobState};
use maud::html;
use serde::Deserialize;

use crate::console::auth::{ConsoleError, ConsolePost, ConsoleStaff};
use crate::console::layout::{self, csrf, page};
use crate::routes::admin::ADMINS;
use crate::routes::admin::jobs::rerun_job;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct Query {
    done: Option<String>,
}

pub(super) async fn list(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    query: web::Query<Query>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(ADMINS)?;
    let now = state.now();
    let (failed, counts) = state
        .db(move |conn| {
            Ok::<_, baoming_store::StoreError>((
                jobs::list(conn, JobState::Failed, now, 200)?,
                jobs::counts(conn, now)?,
            ))
        })
        .await?;
    let body = html! {
        (layout::notice(query.done.as_deref().map(|_| "任务已重新排队")))
        p { "等待 " (counts.pending) " · 运行中 " (counts.running) " · 失败 " (counts.failed) " · 已完成 " (counts.completed) }
        @if failed.is_empty() { p { "没有失败的任务。" } }
        @else {
            table {
                thead { tr { th { "类型" } th { "失败时间" } th.num { "尝试" } th { "最后错误" } th { "操作" } } }
                tbody {
                    @for job in &failed {
                        tr {
                            td { code { (job.kind) } }
                            td { (job.failed_at.map(layout::time).unwrap_or_default()) }
                            td.num { (job.attempts) "/" (job.max_attempts) }
                            td { small { (job.last_error.clone().unwrap_or_default()) } }
                            td {
                                form.inline method="post" action=(format!("/admin/jobs/{}/rerun", job.id)) {
                                    (csrf(&me)) button type="submit" { "重新运行" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::ok(page(&me, "后台任务", "/admin/jobs", body)))
}

pub(super) async fn rerun(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let id = JobId::parse(&id).map_err(|_| crate::error::ApiError::not_found())?;
    rerun_job(&state, &post.me.staff, role, id).await?;
    Ok(layout::see_other("/admin/jobs?done=1"))
}
