//! Login, logout, and changing one's own password.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use crate::console::auth::{ConsoleError, ConsolePost, ConsoleStaff};
use crate::console::layout::{self, bare, csrf, field_error, page};
use crate::routes::admin::ANY_STAFF;
use crate::routes::admin::auth::authenticate;
use crate::routes::admin::staff::{PasswordChange, change_own_password};
use crate::staff_auth::{csrf_cookie, removal_cookies, session_cookie};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

/// Only pages of the console are gone back to after a login.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with("/admin") && !n.starts_with("//") && !n.contains("://") => {
            n.to_owned()
        }
        _ => "/admin/".into(),
    }
}

fn login_page(next: &str, username: &str, error: Option<&str>) -> Markup {
    bare(
        "登录",
        "login",
        html! {
            main.narrow {
                h1 { "报名后台登录" }
                @if let Some(error) = error { p.error role="alert" { (error) } }
                form method="post" action="/admin/login" {
                    input type="hidden" name="next" value=(next);
                    label { "用户名" input name="username" value=(username) autocomplete="username" required autofocus; }
                    label { "密码" input name="password" type="password" autocomplete="current-password" required; }
                    button type="submit" { "登录" }
                }
            }
        },
    )
}

pub(super) async fn form(query: web::Query<Next>) -> HttpResponse {
    layout::ok(login_page(&safe_next(query.next.as_deref()), "", None))
}

#[derive(Debug, Deserialize)]
pub(super) struct LoginForm {
    username: String,
    password: String,
    next: Option<String>,
}

pub(super) async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: web::Form<LoginForm>,
) -> HttpResponse {
    let LoginForm { username, password, next } = form.into_inner();
    let next = safe_next(next.as_deref());
    match authenticate(&state, &req, username.clone(), password).await {
        Ok((_, issued, csrf)) => {
            let ttl = state.staff_session_ttl;
            HttpResponse::SeeOther()
                .cookie(session_cookie(&issued.token, state.secure_cookies, ttl))
                .cookie(csrf_cookie(&csrf, state.secure_cookies, ttl))
                .insert_header((actix_web::http::header::LOCATION, next))
                .finish()
        }
        Err(e) => {
            let status =
                if e.status().is_server_error() { e.status() } else { StatusCode::UNAUTHORIZED };
            layout::html(status, login_page(&next, &username, Some(e.message())))
        }
    }
}

pub(super) async fn logout(
    state: web::Data<AppState>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    post.me.staff.log_out(&state).await?;
    let [session, csrf] = removal_cookies(state.secure_cookies);
    Ok(HttpResponse::SeeOther()
        .cookie(session)
        .cookie(csrf)
        .insert_header((actix_web::http::header::LOCATION, "/admin/login"))
        .finish())
}

fn password_page(me: &ConsoleStaff, errors: &[(String, String)], done: bool) -> Markup {
    page(
        me,
        "修改密码",
        "",
        html! {
            @if done { p.notice role="status" { "密码已修改，其他设备上的登录已退出" } }
            form.card method="post" action="/admin/password" {
                (csrf(me))
                label { "当前密码" input name="current_password" type="password" autocomplete="current-password" required; }
                (field_error(errors, "current_password"))
                label { "新密码（至少 12 位，不能包含用户名）" input name="new_password" type="password" autocomplete="new-password" required; }
                (field_error(errors, "new_password"))
                button type="submit" { "修改密码" }
            }
        },
    )
}

#[derive(Debug, Deserialize)]
pub(super) struct Done {
    done: Option<String>,
}

pub(super) async fn password_form(
    me: ConsoleStaff,
    query: web::Query<Done>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(ANY_STAFF)?;
    Ok(layout::ok(password_page(&me, &[], query.done.is_some())))
}

pub(super) async fn password_submit(
    state: web::Data<AppState>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ANY_STAFF)?;
    let change = PasswordChange {
        current_password: post.form.text("current_password"),
        new_password: post.form.text("new_password"),
    };
    match change_own_password(&state, &post.me.staff, role, &change).await {
        Ok(()) => Ok(layout::see_other("/admin/password?done=1")),
        Err(e) if e.status() == StatusCode::UNPROCESSABLE_ENTITY => {
            let errors = e.field_messages();
            Ok(layout::html(e.status(), password_page(&post.me, &errors, false)))
        }
        Err(e) => Err(e.into()),
    }
}
