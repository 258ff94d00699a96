//! Staff accounts (admin): create with roles, reset a password, disable or enable.

use actix_web::{HttpResponse, web};
use baoming_accounts::Role;
use baoming_domain::ids::{StaffId, TypedId};
use baoming_store::staff;
use maud::{Markup, html};

use crate::console::auth::{ConsoleError, ConsolePost, ConsoleStaff};
use crate::console::layout::{self, csrf, field_error, page};
use crate::routes::admin::ADMINS;
use crate::routes::admin::staff::{
    NewStaff, StaffWithPassword, create_account, reset_account_password, set_account_enabled,
};
use crate::state::AppState;

const ROLES: [(Role, &str); 4] = [
    (Role::Admin, "管理员"),
    (Role::Reviewer, "审核员"),
    (Role::Finance, "财务"),
    (Role::Checkin, "现场报到"),
];

async fn render(
    state: &AppState,
    me: &ConsoleStaff,
    errors: &[(String, String)],
    typed: Option<&NewStaff>,
    shown: Option<&StaffWithPassword>,
) -> Result<Markup, ConsoleError> {
    let users = state.db(staff::list).await?;
    Ok(page(
        me,
        "员工账号",
        "/admin/staff",
        html! {
            @if let Some(shown) = shown {
                p.notice role="status" {
                    "账号 " strong { (shown.staff.username) } " 的密码为 "
                    code.secret { (shown.password) }
                    " —— 仅显示这一次，请当面交给本人。"
                }
            }
            table {
                thead { tr { th { "用户名" } th { "姓名" } th { "角色" } th { "状态" } th { "操作" } } }
                tbody {
                    @for u in &users {
                        tr {
                            td { (u.username) }
                            td { (u.display_name) }
                            td { (u.roles.iter().map(|r| ROLES.iter().find(|(x, _)| *x == r).map_or(r.as_str(), |(_, l)| l)).collect::<Vec<_>>().join("、")) }
                            td {
                                @if !u.enabled { "已停用" }
                                @else if let Some(until) = u.failures.locked_until { "锁定至 " (layout::time(until)) }
                                @else { "正常" }
                            }
                            td.actions {
                                @if u.id != me.staff.id {
                                    form.inline method="post" action=(format!("/admin/staff/{}/password", u.id)) {
                                        (csrf(me)) button type="submit" { "重置密码" }
                                    }
                                    form.inline method="post" action=(format!("/admin/staff/{}/enabled", u.id)) {
                                        (csrf(me))
                                        input type="hidden" name="enabled" value=(if u.enabled { "false" } else { "true" });
                                        button type="submit" { (if u.enabled { "停用" } else { "启用" }) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "新建账号" }
            form.card method="post" action="/admin/staff" {
                (csrf(me))
                (field_error(errors, ""))
                label { "用户名（3–32 位小写字母、数字、_ . -，以字母开头）" input name="username" value=[typed.map(|t| t.username.as_str())] required; }
                (field_error(errors, "username"))
                label { "姓名" input name="display_name" value=[typed.map(|t| t.display_name.as_str())] required; }
                (field_error(errors, "display_name"))
                fieldset {
                    legend { "角色" }
                    @for (role, label) in ROLES {
                        label.check {
                            input type="checkbox" name="roles" value=(role.as_str()) checked[typed.is_some_and(|t| t.roles.iter().any(|r| r == role.as_str()))];
                            (label)
                        }
                    }
                }
                (field_error(errors, "roles"))
                button type="submit" { "创建（生成初始密码）" }
            }
        },
    ))
}

pub(super) async fn list(
    state: web::Data<AppState>,
    me: ConsoleStaff,
) -> Result<HttpResponse, ConsoleError> {
    me.require(ADMINS)?;
    Ok(layout::ok(render(&state, &me, &[], None, None).await?))
}

pub(super) async fn create(
    state: web::Data<AppState>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let body = NewStaff {
        username: post.form.text("username"),
        display_name: post.form.text("display_name"),
        roles: post.form.all("roles").into_iter().map(str::to_owned).collect(),
    };
    match create_account(&state, &post.me.staff, role, &body).await {
        Ok(created) => Ok(layout::ok(render(&state, &post.me, &[], None, Some(&created)).await?)),
        Err(e)
            if e.status().is_client_error()
                && e.status() != actix_web::http::StatusCode::FORBIDDEN =>
        {
            let errors = e.field_messages();
            let page = render(&state, &post.me, &errors, Some(&body), None).await?;
            Ok(layout::html(e.status(), page))
        }
        Err(e) => Err(e.into()),
    }
}

fn staff_id(raw: &str) -> Result<StaffId, ConsoleError> {
    StaffId::parse(raw).map_err(|_| crate::error::ApiError::not_found().into())
}

pub(super) async fn reset_password(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let reset = reset_account_password(&state, &post.me.staff, role, staff_id(&id)?).await?;
    Ok(layout::ok(render(&state, &post.me, &[], None, Some(&reset)).await?))
}

pub(super) async fn set_enabled(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let enabled = post.form.get("enabled") == Some("true");
    set_account_enabled(&state, &post.me.staff, role, staff_id(&id)?, enabled).await?;
    Ok(layout::see_other("/admin/staff"))
}
