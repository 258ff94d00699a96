//! The page shell (head, navigation by role, notices) and small rendering helpers.

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use baoming_accounts::Role;
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::assets;
use super::auth::ConsoleStaff;
use crate::routes::admin::{ADMINS, CHECKIN, FINANCE, READERS};

/// An HTML response.
pub fn html(status: StatusCode, page: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .body(page.into_string())
}

/// A 200 HTML response.
pub fn ok(page: Markup) -> HttpResponse {
    html(StatusCode::OK, page)
}

/// A redirect after a successful form (Post/Redirect/Get).
pub fn see_other(to: &str) -> HttpResponse {
    HttpResponse::SeeOther().insert_header((header::LOCATION, to.to_owned())).finish()
}

/// Percent-encodes a query value.
pub fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                out.push(char::from(b));
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Beijing time, minutes.
pub fn time(at: DateTime<Utc>) -> String {
    crate::time::beijing(at, "%Y-%m-%d %H:%M")
}

/// Fen as yuan (`680.00`).
pub fn yuan(fen: i64) -> String {
    baoming_domain::Money::from_fen(fen).map_or_else(|_| fen.to_string(), |m| m.to_yuan_string())
}

struct NavItem {
    href: &'static str,
    label: &'static str,
    roles: &'static [Role],
}

const NAV: &[NavItem] = &[
    NavItem {
        href: "/admin/",
        label: "概览",
        roles: &[Role::Admin, Role::Reviewer, Role::Finance, Role::Checkin],
    },
    NavItem { href: "/admin/review", label: "报名审核", roles: READERS },
    NavItem { href: "/admin/finance", label: "财务", roles: FINANCE },
    NavItem { href: "/admin/checkin", label: "现场报到", roles: CHECKIN },
    NavItem { href: "/admin/tickets", label: "准考证", roles: CHECKIN },
    NavItem { href: "/admin/periods", label: "期次", roles: ADMINS },
    NavItem { href: "/admin/staff", label: "员工账号", roles: ADMINS },
    NavItem { href: "/admin/audit", label: "审计日志", roles: ADMINS },
    NavItem { href: "/admin/jobs", label: "后台任务", roles: ADMINS },
];

/// A hidden field with the session's CSRF token (every state-changing form carries it).
pub fn csrf(me: &ConsoleStaff) -> Markup {
    html! { input type="hidden" name="csrf_token" value=(me.csrf); }
}

/// A notice shown at the top of a page (`?done=…` after a form).
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.notice role="status" { (text) }
        }
    }
}

/// The page shell: head with the stylesheet and the script, the navigation the user's roles
/// allow, the user's name, logout.
pub fn page(me: &ConsoleStaff, title: &str, active: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="csrf-token" content=(me.csrf);
                title { (title) " · 报名后台" }
                link rel="stylesheet" href=(assets::css_url());
                script src=(assets::js_url()) defer {}
            }
            body {
                header.top {
                    span.brand { "报名后台" }
                    nav {
                        @for item in NAV {
                            @if me.may(item.roles) {
                                a href=(item.href) class=[(item.href == active).then_some("active")] { (item.label) }
                            }
                        }
                    }
                    span.who {
                        (me.staff.display_name) "（" (me.staff.username) "）"
                        a href="/admin/password" { "修改密码" }
                        form.inline method="post" action="/admin/logout" {
                            (csrf(me))
                            button type="submit" { "退出" }
                        }
                    }
                }
                main { h1 { (title) } (body) }
            }
        }
    }
}

/// A page without the navigation (login, errors, the venue display).
pub fn bare(title: &str, class: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · 报名后台" }
                link rel="stylesheet" href=(assets::css_url());
                script src=(assets::js_url()) defer {}
            }
            body class=(class) { (body) }
        }
    }
}

/// An error page.
pub fn error_page(title: &str, message: &str) -> Markup {
    bare(
        title,
        "error",
        html! {
            main.narrow {
                h1 { (title) }
                p { (message) }
                p { a href="/admin/" { "返回后台首页" } }
            }
        },
    )
}

/// An inline SVG produced by this program (QR codes): no script, no style.
pub fn svg(markup: &str) -> Markup {
    PreEscaped(markup.to_owned())
}

/// A field's error message next to it.
pub fn field_error(errors: &[(String, String)], field: &str) -> Markup {
    html! {
        @for (f, message) in errors {
            @if f == field || f.starts_with(&format!("{field}.")) || f.starts_with(&format!("{field}[")) {
                span.field-error { (message) }
            }
        }
    }
}

/// The outcome of a bulk action, one row per registration: its new state, or why not.
pub fn bulk_results(
    results: &[(String, Result<String, String>)],
    back: &str,
    back_label: &str,
) -> Markup {
    html! {
        table {
            thead { tr { th { "报名" } th { "结果" } } }
            tbody {
                @for (id, outcome) in results {
                    tr {
                        td { a href=(format!("/admin/registrations/{id}")) { (id) } }
                        td { @match outcome {
                            Ok(label) => { (label) }
                            Err(message) => { span.error { (message) } }
                        } }
                    }
                }
            }
        }
        p { a href=(back) { (back_label) } }
    }
}
