//! Periods (admin): the list, the create and edit form (regions with capacity, subjects with
//! their exam times, exam types with prices, the windows, venues with region, printed code and
//! geofence, the check-in code's slice, rejection templates), and closing a period.
//!
//! The form is the JSON API's `PeriodBody` written as fields (`regions[0].code`, …); it is
//! checked by the same code, and on a problem it comes back with what was typed and the
//! message next to the field.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use baoming_domain::ids::{PeriodId, TypedId};
use baoming_store::periods;
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use maud::{Markup, html};

use crate::console::auth::{ConsoleError, ConsolePost, ConsoleStaff, Fields};
use crate::console::layout::{self, csrf, field_error, page};
use crate::error::ApiError;
use crate::routes::admin::ADMINS;
use crate::routes::admin::periods::{
    AdminPeriodView, ExamTypeBody, GeofenceBody, PeriodBody, PriceBody, RegionBody, SubjectBody,
    VenueBody, admin_view, close_period, create_period, update_period,
};
use crate::state::AppState;

/// Blank rows offered for additions.
const SPARE_ROWS: usize = 2;

/// `datetime-local` text (Beijing time) of an instant.
fn local(at: DateTime<Utc>) -> String {
    crate::time::beijing(at, "%Y-%m-%dT%H:%M")
}

/// An instant from `datetime-local` text in Beijing time.
fn instant(text: &str) -> Option<DateTime<Utc>> {
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    Some((naive - Duration::hours(8)).and_utc())
}

pub(super) async fn list(
    state: web::Data<AppState>,
    me: ConsoleStaff,
) -> Result<HttpResponse, ConsoleError> {
    me.require(ADMINS)?;
    let views = state
        .db(|conn| {
            periods::all(conn)?
                .iter()
                .map(|detail| admin_view(conn, detail))
                .collect::<Result<Vec<_>, baoming_store::StoreError>>()
        })
        .await?;
    let body = html! {
        p { a.button href="/admin/periods/new" { "新建期次" } }
        table {
            thead { tr { th { "期次" } th { "报名时间" } th { "报到时间" } th { "地区名额" } th { "状态" } th { "操作" } } }
            tbody {
                @for v in &views {
                    @let p = &v.period;
                    tr {
                        td { a href=(format!("/admin/periods/{}", p.id)) { (p.name) } }
                        td { (layout::time(p.registration_opens)) " – " (layout::time(p.registration_closes)) }
                        td { (layout::time(p.checkin_opens)) " – " (layout::time(p.checkin_closes)) }
                        td { @for r in &p.regions { (r.name) " " (r.capacity - r.seats_left) "/" (r.capacity) " " } }
                        td { @if v.closed { "已关闭" } @else if p.registration_open { "报名中" } @else { "—" } }
                        td {
                            @if !v.closed {
                                form.inline method="post" action=(format!("/admin/periods/{}/close", p.id)) data-confirm="关闭后参加者将看不到该期次，确定关闭？" {
                                    (csrf(&me)) button type="submit" { "关闭" }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::ok(page(&me, "期次", "/admin/periods", body)))
}

/// The form's fields of an existing period.
fn fields_of(v: &AdminPeriodView) -> Fields {
    let p = &v.period;
    let mut f = vec![
        ("name".into(), p.name.clone()),
        ("exam_name".into(), p.exam_name.clone()),
        ("registration_opens".into(), local(p.registration_opens)),
        ("registration_closes".into(), local(p.registration_closes)),
        ("payment_deadline".into(), local(p.payment_deadline)),
        ("checkin_opens".into(), local(p.checkin_opens)),
        ("checkin_closes".into(), local(p.checkin_closes)),
        ("exam_ends".into(), local(p.exam_ends)),
        ("checkin_slice_secs".into(), v.checkin_slice_secs.to_string()),
        ("rejection_templates".into(), v.rejection_templates.join("\n")),
    ];
    for (i, r) in p.regions.iter().enumerate() {
        f.push((format!("regions[{i}].id"), r.id.clone()));
        f.push((format!("regions[{i}].code"), r.code.clone()));
        f.push((format!("regions[{i}].name"), r.name.clone()));
        f.push((format!("regions[{i}].capacity"), r.capacity.to_string()));
    }
    for (i, s) in p.subjects.iter().enumerate() {
        f.push((format!("subjects[{i}].id"), s.id.clone()));
        f.push((format!("subjects[{i}].code"), s.code.clone()));
        f.push((format!("subjects[{i}].name"), s.name.clone()));
        f.push((format!("subjects[{i}].specialties"), s.specialties.join("，")));
        f.push((format!("subjects[{i}].exam_starts_at"), local(s.exam_starts_at)));
        f.push((format!("subjects[{i}].exam_ends_at"), local(s.exam_ends_at)));
    }
    for (i, e) in p.exam_types.iter().enumerate() {
        f.push((format!("exam_types[{i}].id"), e.id.clone()));
        f.push((format!("exam_types[{i}].code"), e.code.clone()));
        f.push((format!("exam_types[{i}].name"), e.name.clone()));
        f.push((format!("exam_types[{i}].subject_codes"), e.subject_codes.join("，")));
        f.push((format!("exam_types[{i}].min_subjects"), e.min_subjects.to_string()));
        f.push((format!("exam_types[{i}].max_subjects"), e.max_subjects.to_string()));
        let prices: Vec<String> =
            e.prices.iter().map(|x| format!("{}:{}", x.subjects, x.fee_yuan)).collect();
        f.push((format!("exam_types[{i}].prices"), prices.join("，")));
    }
    for (i, venue) in v.venues.iter().enumerate() {
        f.push((format!("venues[{i}].id"), venue.id.clone()));
        f.push((format!("venues[{i}].name"), venue.name.clone()));
        f.push((format!("venues[{i}].address"), venue.address.clone()));
        f.push((format!("venues[{i}].region_code"), venue.region_code.clone().unwrap_or_default()));
        if venue.static_code {
            f.push((format!("venues[{i}].static_code"), "on".into()));
        }
        if let Some(g) = venue.geofence {
            f.push((format!("venues[{i}].latitude"), g.latitude.to_string()));
            f.push((format!("venues[{i}].longitude"), g.longitude.to_string()));
            f.push((format!("venues[{i}].radius_m"), g.radius_m.to_string()));
        }
    }
    Fields(f)
}

/// How many rows of `list` the fields hold (the highest index + 1).
fn rows(f: &Fields, list: &str) -> usize {
    let prefix = format!("{list}[");
    f.0.iter()
        .filter_map(|(k, _)| k.strip_prefix(&prefix)?.split(']').next()?.parse::<usize>().ok())
        .max()
        .map_or(0, |n| n + 1)
}

fn list_items(text: &str) -> Vec<String> {
    text.split([',', '，', '、', ';', '；'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The fields as the JSON API's form; problems of typing (a date, a number) named by field.
fn body_of(f: &Fields) -> Result<PeriodBody, Vec<(String, String)>> {
    let problems = std::cell::RefCell::new(Vec::new());
    let problem =
        |field: String, message: &str| problems.borrow_mut().push((field, message.to_owned()));
    let when = |name: &str, required: bool| -> Option<DateTime<Utc>> {
        match f.get(name) {
            None if !required => None,
            Some(text) if instant(text).is_some() => instant(text),
            _ => {
                problem(name.to_owned(), "请填写日期和时间");
                None
            }
        }
    };
    let registration_opens = when("registration_opens", true);
    let registration_closes = when("registration_closes", true);
    let payment_deadline = when("payment_deadline", false);
    let checkin_opens = when("checkin_opens", true);
    let checkin_closes = when("checkin_closes", true);
    let exam_ends = when("exam_ends", true);
    let blank_row = |list: &str, i: usize, keys: &[&str]| {
        keys.iter().all(|k| f.get(&format!("{list}[{i}].{k}")).is_none())
    };
    let number = |name: String| -> u32 {
        match f.get(&name).map(str::parse::<u32>) {
            Some(Ok(n)) => n,
            _ => {
                problem(name, "请填写数字");
                0
            }
        }
    };
    let mut regions = Vec::new();
    for i in 0..rows(f, "regions") {
        if blank_row("regions", i, &["id", "code", "name", "capacity"]) {
            continue;
        }
        let key = |k: &str| format!("regions[{i}].{k}");
        regions.push(RegionBody {
            id: f.get(&key("id")).map(str::to_owned),
            code: f.text(&key("code")),
            name: f.text(&key("name")),
            capacity: number(key("capacity")),
        });
    }
    let mut exam_types = Vec::new();
    for i in 0..rows(f, "exam_types") {
        if blank_row("exam_types", i, &["id", "code", "name", "subject_codes", "prices"]) {
            continue;
        }
        let key = |k: &str| format!("exam_types[{i}].{k}");
        let mut prices = Vec::new();
        for item in list_items(&f.text(&key("prices"))) {
            match item.split_once([':', '：']) {
                Some((n, fee)) if n.trim().parse::<u8>().is_ok() => prices.push(PriceBody {
                    subjects: n.trim().parse().unwrap_or(0),
                    fee_yuan: fee.trim().to_owned(),
                }),
                _ => problem(key("prices"), "价格格式为“科目数:金额”，如 2:680.00"),
            }
        }
        exam_types.push(ExamTypeBody {
            id: f.get(&key("id")).map(str::to_owned),
            code: f.text(&key("code")),
            name: f.text(&key("name")),
            subject_codes: list_items(&f.text(&key("subject_codes"))),
            min_subjects: u8::try_from(number(key("min_subjects"))).unwrap_or(u8::MAX),
            max_subjects: u8::try_from(number(key("max_subjects"))).unwrap_or(u8::MAX),
            prices,
        });
    }
    let mut subjects = Vec::new();
    for i in 0..rows(f, "subjects") {
        if blank_row("subjects", i, &["id", "code", "name", "exam_starts_at"]) {
            continue;
        }
        let key = |k: &str| format!("subjects[{i}].{k}");
        let starts = f.get(&key("exam_starts_at")).and_then(instant);
        let ends = f.get(&key("exam_ends_at")).and_then(instant);
        if starts.is_none() || ends.is_none() {
            problem(key("exam_starts_at"), "请填写考试开始和结束时间");
        }
        subjects.push(SubjectBody {
            id: f.get(&key("id")).map(str::to_owned),
            code: f.text(&key("code")),
            name: f.text(&key("name")),
            specialties: list_items(&f.text(&key("specialties"))),
            exam_starts_at: starts.unwrap_or_default(),
            exam_ends_at: ends.unwrap_or_default(),
        });
    }
    let mut venues = Vec::new();
    for i in 0..rows(f, "venues") {
        if blank_row("venues", i, &["id", "name", "address"]) {
            continue;
        }
        let key = |k: &str| format!("venues[{i}].{k}");
        let geofence =
            match (f.get(&key("latitude")), f.get(&key("longitude")), f.get(&key("radius_m"))) {
                (None, None, None) => None,
                (Some(lat), Some(lon), Some(radius)) => {
                    match (lat.parse(), lon.parse(), radius.parse()) {
                        (Ok(latitude), Ok(longitude), Ok(radius_m)) => {
                            Some(GeofenceBody { latitude, longitude, radius_m })
                        }
                        _ => {
                            problem(key("geofence"), "经纬度和半径应为数字");
                            None
                        }
                    }
                }
                _ => {
                    problem(key("geofence"), "请同时填写纬度、经度和半径，或都不填");
                    None
                }
            };
        venues.push(VenueBody {
            id: f.get(&key("id")).map(str::to_owned),
            name: f.text(&key("name")),
            address: f.text(&key("address")),
            region_code: f.get(&key("region_code")).map(str::to_owned),
            static_code: f.checked(&key("static_code")),
            geofence,
        });
    }
    let slice = f.get("checkin_slice_secs").map(str::parse::<u32>);
    let checkin_slice_secs = match slice {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            problem("checkin_slice_secs".into(), "请填写秒数");
            None
        }
    };
    let rejection_templates = f
        .text("rejection_templates")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let problems = problems.into_inner();
    match (registration_opens, registration_closes, checkin_opens, checkin_closes, exam_ends) {
        (Some(ro), Some(rc), Some(co), Some(cc), Some(ee)) if problems.is_empty() => {
            Ok(PeriodBody {
                name: f.text("name"),
                exam_name: f.text("exam_name"),
                registration_opens: ro,
                registration_closes: rc,
                payment_deadline,
                checkin_opens: co,
                checkin_closes: cc,
                exam_ends: ee,
                regions,
                subjects,
                exam_types,
                venues,
                rejection_templates,
                checkin_slice_secs,
            })
        }
        _ => Err(problems),
    }
}

fn input(f: &Fields, errors: &[(String, String)], name: &str, label: &str, kind: &str) -> Markup {
    html! {
        label {
            (label)
            input type=(kind) name=(name) value=(f.get(name).unwrap_or_default());
            (field_error(errors, name))
        }
    }
}

fn form(me: &ConsoleStaff, action: &str, f: &Fields, errors: &[(String, String)]) -> Markup {
    let cell = |name: String, kind: &str, size: &str| {
        html! { td { input type=(kind) name=(name) value=(f.get(&name).unwrap_or_default()) class=(size); } }
    };
    let regions = rows(f, "regions") + SPARE_ROWS;
    let subjects = rows(f, "subjects") + SPARE_ROWS;
    let exam_types = rows(f, "exam_types") + SPARE_ROWS;
    let venues = rows(f, "venues") + SPARE_ROWS;
    html! {
        @if !errors.is_empty() { p.error role="alert" { "表单有问题，请按提示修改（共 " (errors.len()) " 处）。" } }
        (field_error(errors, ""))
        form.period method="post" action=(action) {
            (csrf(me))
            fieldset {
                legend { "基本信息" }
                (input(f, errors, "name", "期次名称", "text"))
                (input(f, errors, "exam_name", "考试名称", "text"))
            }
            fieldset {
                legend { "时间（北京时间）" }
                (field_error(errors, "schedule"))
                (input(f, errors, "registration_opens", "报名开始", "datetime-local"))
                (input(f, errors, "registration_closes", "报名截止", "datetime-local"))
                (input(f, errors, "payment_deadline", "缴费截止（默认同报名截止）", "datetime-local"))
                (input(f, errors, "checkin_opens", "报到开始", "datetime-local"))
                (input(f, errors, "checkin_closes", "报到截止", "datetime-local"))
                (input(f, errors, "exam_ends", "考试结束", "datetime-local"))
                (input(f, errors, "checkin_slice_secs", "报到二维码刷新间隔（秒，5–300）", "number"))
            }
            fieldset {
                legend { "地区" }
                (field_error(errors, "regions"))
                table {
                    thead { tr { th { "代码（两位数字）" } th { "名称" } th { "名额" } } }
                    tbody {
                        @for i in 0..regions {
                            tr {
                                input type="hidden" name=(format!("regions[{i}].id")) value=(f.get(&format!("regions[{i}].id")).unwrap_or_default());
                                (cell(format!("regions[{i}].code"), "text", "short"))
                                (cell(format!("regions[{i}].name"), "text", ""))
                                (cell(format!("regions[{i}].capacity"), "number", "short"))
                                td { (field_error(errors, &format!("regions[{i}]"))) }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { "科目" }
                (field_error(errors, "subjects"))
                table {
                    thead { tr { th { "代码" } th { "名称" } th { "专业（逗号分隔）" } th { "考试开始" } th { "考试结束" } } }
                    tbody {
                        @for i in 0..subjects {
                            tr {
                                input type="hidden" name=(format!("subjects[{i}].id")) value=(f.get(&format!("subjects[{i}].id")).unwrap_or_default());
                                (cell(format!("subjects[{i}].code"), "text", "short"))
                                (cell(format!("subjects[{i}].name"), "text", ""))
                                (cell(format!("subjects[{i}].specialties"), "text", ""))
                                (cell(format!("subjects[{i}].exam_starts_at"), "datetime-local", ""))
                                (cell(format!("subjects[{i}].exam_ends_at"), "datetime-local", ""))
                                td { (field_error(errors, &format!("subjects[{i}]"))) }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { "考试类型与收费" }
                (field_error(errors, "exam_types"))
                table {
                    thead { tr { th { "代码" } th { "名称" } th { "可选科目代码" } th { "最少" } th { "最多" } th { "价格（科目数:金额）" } } }
                    tbody {
                        @for i in 0..exam_types {
                            tr {
                                input type="hidden" name=(format!("exam_types[{i}].id")) value=(f.get(&format!("exam_types[{i}].id")).unwrap_or_default());
                                (cell(format!("exam_types[{i}].code"), "text", "short"))
                                (cell(format!("exam_types[{i}].name"), "text", ""))
                                (cell(format!("exam_types[{i}].subject_codes"), "text", ""))
                                (cell(format!("exam_types[{i}].min_subjects"), "number", "short"))
                                (cell(format!("exam_types[{i}].max_subjects"), "number", "short"))
                                (cell(format!("exam_types[{i}].prices"), "text", ""))
                                td { (field_error(errors, &format!("exam_types[{i}]"))) }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { "考点" }
                (field_error(errors, "venues"))
                table {
                    thead { tr { th { "名称" } th { "地址" } th { "服务地区代码" } th { "启用固定码" } th { "纬度" } th { "经度" } th { "半径（米）" } } }
                    tbody {
                        @for i in 0..venues {
                            tr {
                                input type="hidden" name=(format!("venues[{i}].id")) value=(f.get(&format!("venues[{i}].id")).unwrap_or_default());
                                (cell(format!("venues[{i}].name"), "text", ""))
                                (cell(format!("venues[{i}].address"), "text", ""))
                                (cell(format!("venues[{i}].region_code"), "text", "short"))
                                td { input type="checkbox" name=(format!("venues[{i}].static_code")) checked[f.checked(&format!("venues[{i}].static_code"))]; }
                                (cell(format!("venues[{i}].latitude"), "text", "short"))
                                (cell(format!("venues[{i}].longitude"), "text", "short"))
                                (cell(format!("venues[{i}].radius_m"), "number", "short"))
                                td { (field_error(errors, &format!("venues[{i}]"))) }
                            }
                        }
                    }
                }
            }
            fieldset {
                legend { "驳回原因模板（每行一条）" }
                textarea name="rejection_templates" rows="4" { (f.text("rejection_templates")) }
                (field_error(errors, "rejection_templates"))
            }
            button.primary type="submit" { "保存" }
        }
    }
}

pub(super) async fn new_form(me: ConsoleStaff) -> Result<HttpResponse, ConsoleError> {
    me.require(ADMINS)?;
    let f = Fields(vec![("checkin_slice_secs".into(), "15".into())]);
    Ok(layout::ok(page(
        &me,
        "新建期次",
        "/admin/periods",
        form(&me, "/admin/periods/new", &f, &[]),
    )))
}

pub(super) async fn edit_form(
    state: web::Data<AppState>,
    me: ConsoleStaff,
    id: web::Path<String>,
) -> Result<HttpResponse, ConsoleError> {
    me.require(ADMINS)?;
    let id = PeriodId::parse(&id).map_err(|_| ApiError::not_found())?;
    let view = state.db(move |conn| crate::routes::admin::periods::view(conn, id)).await?;
    let action = format!("/admin/periods/{id}");
    let body = form(&me, &action, &fields_of(&view), &[]);
    Ok(layout::ok(page(&me, &format!("编辑期次：{}", view.period.name), "/admin/periods", body)))
}

/// Answers a submitted form: the saved period's page, or the form again with the problems.
async fn answer(
    me: &ConsoleStaff,
    title: &str,
    action: &str,
    fields: &Fields,
    result: Result<AdminPeriodView, ApiError>,
) -> Result<HttpResponse, ConsoleError> {
    match result {
        Ok(view) => Ok(layout::see_other(&format!("/admin/periods/{}?done=1", view.period.id))),
        Err(e) if e.status().is_client_error() && e.status() != StatusCode::FORBIDDEN => {
            let errors = e.field_messages();
            Ok(layout::html(
                e.status(),
                page(me, title, "/admin/periods", form(me, action, fields, &errors)),
            ))
        }
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn create(
    state: web::Data<AppState>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let result = match body_of(&post.form) {
        Ok(body) => create_period(&state, &post.me.staff, role, body).await,
        Err(problems) => Err(problems_error(problems)),
    };
    answer(&post.me, "新建期次", "/admin/periods/new", &post.form, result).await
}

pub(super) async fn update(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let id = PeriodId::parse(&id).map_err(|_| ApiError::not_found())?;
    let result = match body_of(&post.form) {
        Ok(body) => update_period(&state, &post.me.staff, role, id, body).await,
        Err(problems) => Err(problems_error(problems)),
    };
    answer(&post.me, "编辑期次", &format!("/admin/periods/{id}"), &post.form, result).await
}

fn problems_error(problems: Vec<(String, String)>) -> ApiError {
    ApiError::fields(
        problems
            .into_iter()
            .map(|(field, message)| crate::error::FieldProblem {
                field,
                code: "invalid".into(),
                message,
            })
            .collect(),
    )
}

pub(super) async fn close(
    state: web::Data<AppState>,
    id: web::Path<String>,
    post: ConsolePost,
) -> Result<HttpResponse, ConsoleError> {
    let role = post.me.require(ADMINS)?;
    let id = PeriodId::parse(&id).map_err(|_| ApiError::not_found())?;
    close_period(&state, &post.me.staff, role, id).await?;
    Ok(layout::see_other("/admin/periods"))
}
