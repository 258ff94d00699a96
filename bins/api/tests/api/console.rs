//! The back-office web console: every page refuses the roles that may not see it, a form
//! without the session's CSRF token changes nothing, a refused form keeps what was typed; and
//! the end-to-end walk in a real browser (headless chromium) from a new period to a check-in
//! seen live on the desk, a screenshot of each page under `target/console-screenshots/`.

use baoming_domain::ids::{RegistrationId, TypedId};
use baoming_domain::lifecycle::State;
use baoming_store::registrations;
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::json;

use super::browser::{Browser, decode_qr};
use super::payments::{pay_wechat, until_state};
use super::{Staff, TestApp, TestDb};

crate::on_both_backends!(
    every_page_answers_403_to_roles_that_may_not_see_it,
    a_form_without_the_csrf_token_changes_nothing,
    a_refused_form_keeps_what_was_typed,
    finance_confirms_a_batch_of_transfers_in_the_console,
    from_a_new_period_to_a_live_check_in_in_the_browser,
);

const PASSWORD: &str = "correct horse battery staple";

/// The console as one staff user sees it over plain HTTP (redirects not followed).
struct Console<'a> {
    app: &'a TestApp,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

struct Page {
    status: StatusCode,
    location: Option<String>,
    html: String,
}

impl TestApp {
    async fn console(&self, username: &str, roles: &str) -> Console<'_> {
        let Staff { cookie, csrf } = self.staff(username, roles).await;
        Console {
            app: self,
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            cookie: format!("{cookie}; baoming_csrf={csrf}"),
            csrf,
        }
    }
}

impl Console<'_> {
    async fn send(&self, req: reqwest::RequestBuilder) -> Page {
        let res = req.header("cookie", &self.cookie).send().await.expect("request");
        let status = res.status();
        let location =
            res.headers().get("location").and_then(|v| v.to_str().ok()).map(str::to_owned);
        Page { status, location, html: res.text().await.expect("body") }
    }

    async fn get(&self, path: &str) -> Page {
        self.send(self.http.get(self.app.url(path))).await
    }

    /// Posts a form with the session's CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut fields = fields.to_vec();
        fields.push(("csrf_token", &self.csrf));
        self.post_raw(path, &fields).await
    }

    async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let body = fields
            .iter()
            .map(|(k, v)| format!("{}={}", urlencoded(k), urlencoded(v)))
            .collect::<Vec<_>>()
            .join("&");
        let req = self
            .http
            .post(self.app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(req).await
    }

    fn as_staff(&self) -> Staff {
        let session = self.cookie.split(';').next().expect("cookie").to_owned();
        Staff { cookie: session, csrf: self.csrf.clone() }
    }
}

/// `application/x-www-form-urlencoded` text of a value.
fn urlencoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                char::from(b).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn state_of(app: &TestApp, id: &str) -> State {
    let id = RegistrationId::parse(id).expect("id");
    registrations::get(&mut app.conn(), id).expect("registration").status.state
}

async fn every_page_answers_403_to_roles_that_may_not_see_it(app: TestApp) {
    let admin = app.console("admin1", "admin").await;
    let reviewer = app.console("reviewer1", "reviewer").await;
    let finance = app.console("finance1", "finance").await;
    let checkin = app.console("checkin1", "checkin").await;
    let registration = app.submitted(1, "full").await;
    let (_, periods) =
        app.admin(Method::GET, "/api/v1/admin/periods", Some(&admin.as_staff()), None).await;
    let period = periods[0]["period"]["id"].as_str().expect("period id").to_owned();
    let venue = periods[0]["venues"][0]["id"].as_str().expect("venue id").to_owned();
    let all: &[&str] = &["admin", "reviewer", "finance", "checkin"];
    let readers: &[&str] = &["admin", "reviewer", "finance"];
    let money: &[&str] = &["admin", "finance"];
    let desk: &[&str] = &["admin", "checkin"];
    let admins: &[&str] = &["admin"];
    let pages: Vec<(String, &[&str])> = vec![
        ("/admin/".into(), all),
        ("/admin/password".into(), all),
        ("/admin/review".into(), readers),
        (format!("/admin/registrations/{registration}"), readers),
        ("/admin/finance".into(), money),
        ("/admin/finance/refunds".into(), money),
        ("/admin/finance/unapplied".into(), money),
        ("/admin/finance/ledger".into(), money),
        ("/admin/finance/reconciliation".into(), money),
        ("/admin/finance/invoices".into(), money),
        ("/admin/checkin".into(), desk),
        (format!("/admin/checkin/display/{venue}"), desk),
        (format!("/admin/tickets?period_id={period}"), desk),
        ("/admin/periods".into(), admins),
        ("/admin/periods/new".into(), admins),
        (format!("/admin/periods/{period}"), admins),
        ("/admin/staff".into(), admins),
        ("/admin/audit".into(), admins),
        ("/admin/jobs".into(), admins),
    ];
    let users =
        [("admin", &admin), ("reviewer", &reviewer), ("finance", &finance), ("checkin", &checkin)];
    for (path, allowed) in &pages {
        for (role, console) in &users {
            let page = console.get(path).await;
            if allowed.contains(role) {
                assert_eq!(page.status, StatusCode::OK, "{role} on {path}: {}", page.html);
                assert!(page.html.contains("<!DOCTYPE html>"), "{path}");
            } else {
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{role} on {path}");
                assert!(page.html.contains("没有权限"), "{role} on {path}: {}", page.html);
            }
        }
        // No session: to the login, and back afterwards.
        let anonymous = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client")
            .get(app.url(path))
            .send()
            .await
            .expect("request");
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "{path}");
        let to = anonymous.headers()["location"].to_str().expect("location");
        assert!(to.starts_with("/admin/login?next=/admin/"), "{path} → {to}");
    }

    // The forms: a role that may not act is refused before anything is read.
    let none = "00000000-0000-0000-0000-000000000000";
    let forms: Vec<(String, &[&str])> = vec![
        (format!("/admin/registrations/{registration}/approve"), &["admin", "reviewer"]),
        ("/admin/review/bulk".into(), &["admin", "reviewer"]),
        ("/admin/finance/transfers/confirm".into(), money),
        (format!("/admin/finance/transfers/{none}/not-received"), money),
        ("/admin/finance/requests/approve".into(), money),
        (format!("/admin/finance/requests/{none}/deny"), money),
        (format!("/admin/finance/refunds/{none}/retry"), money),
        (format!("/admin/finance/invoices/{none}/cancel"), money),
        ("/admin/finance/invoices/export".into(), money),
        (format!("/admin/checkin/registrations/{none}"), desk),
        (format!("/admin/periods/{period}/close"), admins),
        (format!("/admin/tickets/{period}/settings"), admins),
        (format!("/admin/tickets/{period}/plan"), admins),
        (format!("/admin/tickets/{period}/assign"), admins),
        (format!("/admin/tickets/{period}/publish"), admins),
        (format!("/admin/tickets/{period}/retry"), admins),
        ("/admin/staff".into(), admins),
        (format!("/admin/jobs/{none}/rerun"), admins),
    ];
    for (path, allowed) in &forms {
        for (role, console) in &users {
            let page = console.post(path, &[]).await;
            if allowed.contains(role) {
                assert_ne!(page.status, StatusCode::FORBIDDEN, "{role} on POST {path}");
            } else {
                assert_eq!(page.status, StatusCode::FORBIDDEN, "{role} on POST {path}");
            }
        }
    }

    // The headers of every page.
    let res = reqwest::get(app.url("/admin/login")).await.expect("login page");
    let csp = res.headers()["content-security-policy"].to_str().expect("csp").to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(res.headers()["x-frame-options"], "DENY");
}

async fn a_form_without_the_csrf_token_changes_nothing(app: TestApp) {
    let reviewer = app.console("reviewer1", "reviewer").await;
    let id = app.submitted(1, "full").await;
    let path = format!("/admin/registrations/{id}/approve");
    for fields in [vec![], vec![("csrf_token", "forged")], vec![("csrf_token", "")]] {
        let page = reviewer.post_raw(&path, &fields).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{fields:?}");
        assert!(page.html.contains("请求校验失败"), "{}", page.html);
    }
    // Another user's token does not do either.
    let other = app.console("reviewer2", "reviewer").await;
    let page = reviewer.post_raw(&path, &[("csrf_token", &other.csrf)]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(state_of(&app, &id), State::PendingReview);
    // A form posted from a page in another site has the cookie only if the browser sends it —
    // SameSite=Strict keeps it home — and no token in any case. With the token: done.
    let page = reviewer.post(&path, &[]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(state_of(&app, &id), State::AwaitingPayment);
    // Logging out is a form too.
    let page = reviewer.post_raw("/admin/logout", &[]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert_eq!(reviewer.get("/admin/").await.status, StatusCode::OK);
}

async fn a_refused_form_keeps_what_was_typed(app: TestApp) {
    let admin = app.console("admin1", "admin").await;
    // A period whose registration closes before it opens, and a region without a name.
    let page = admin
        .post(
            "/admin/periods/new",
            &[
                ("name", "2027年第一期（测试）"),
                ("exam_name", "全国监理工程师职业资格考试"),
                ("registration_opens", "2027-03-10T09:00"),
                ("registration_closes", "2027-03-01T09:00"),
                ("checkin_opens", "2027-04-01T08:00"),
                ("checkin_closes", "2027-04-01T12:00"),
                ("exam_ends", "2027-04-02T18:00"),
                ("checkin_slice_secs", "15"),
                ("regions[0].code", "01"),
                ("regions[0].name", ""),
                ("regions[0].capacity", "120"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.html);
    assert!(page.html.contains("value=\"2027年第一期（测试）\""), "the name is kept");
    assert!(page.html.contains("value=\"2027-03-01T09:00\""), "the times are kept");
    assert!(page.html.contains("value=\"120\""), "the rows are kept");
    assert!(page.html.contains("class=\"field-error\""), "a message next to the field");

    // A staff account with an invalid user name: the typed name and roles come back.
    let page = admin
        .post(
            "/admin/staff",
            &[("username", "9李"), ("display_name", "王会计"), ("roles", "finance")],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", page.html);
    assert!(page.html.contains("value=\"王会计\""));
    assert!(page.html.contains("value=\"finance\" checked"));
    assert!(page.html.contains("class=\"field-error\""));
}

async fn finance_confirms_a_batch_of_transfers_in_the_console(app: TestApp) {
    let finance = app.console("finance1", "finance").await;
    let admin = app.staff("admin1", "admin").await;
    let mut ids = Vec::new();
    let mut fees = 0;
    for n in 1..=2 {
        let (token, photo) = app.ready_participant(n).await;
        let period = app.period(&token).await;
        let (status, body) = app
            .post("/api/v1/registrations", &token, super::form(&period, &photo, 0, "full"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("id").to_owned();
        let path = format!("/api/v1/admin/registrations/{id}/approve");
        let (status, body) = app.admin(Method::POST, &path, Some(&admin), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) =
            app.post(&format!("/api/v1/registrations/{id}/pay/transfer"), &token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let yuan = body["amount_yuan"].as_str().expect("amount");
        let (whole, fen) = yuan.split_once('.').expect("yuan.fen");
        fees += whole.parse::<i64>().expect("yuan") * 100 + fen.parse::<i64>().expect("fen");
        ids.push(id);
    }
    let page = finance.get("/admin/finance").await;
    for id in &ids {
        assert!(page.html.contains(id.as_str()), "{id} listed");
    }
    // The wrong amount: refused, with what was typed and the message next to the amount.
    let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("ids", id.as_str())).collect();
    fields.extend([
        ("amount_yuan", "1.00"),
        ("bank_reference", "HX2027-001"),
        ("back", "/admin/finance"),
    ]);
    let page = finance.post("/admin/finance/transfers/confirm", &fields).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.html);
    assert!(page.html.contains("value=\"1.00\"") && page.html.contains("value=\"HX2027-001\""));
    assert!(page.html.contains("class=\"field-error\""), "{}", page.html);
    assert_eq!(page.html.matches(" checked").count(), 2, "the ticked rows stay ticked");
    assert_eq!(state_of(&app, &ids[0]), State::AwaitingTransfer);
    // The sum of the fees: both paid.
    let amount = format!("{}.{:02}", fees / 100, fees % 100);
    let mut fields: Vec<(&str, &str)> = ids.iter().map(|id| ("ids", id.as_str())).collect();
    fields.extend([("amount_yuan", amount.as_str()), ("back", "/admin/finance")]);
    let page = finance.post("/admin/finance/transfers/confirm", &fields).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.html);
    assert_eq!(page.location.as_deref(), Some("/admin/finance?done=confirmed"));
    for id in &ids {
        assert_eq!(state_of(&app, id), State::Paid);
    }
    let page = finance.get("/admin/finance/ledger").await;
    for id in &ids {
        assert!(page.html.contains(&format!("/admin/registrations/{id}")), "{id} in the ledger");
    }
    // Nothing left to confirm.
    let page = finance.get("/admin/finance").await;
    assert!(page.html.contains("共 0 笔转账待确认"), "{}", page.html);
}

// ---------------------------------------------------------------------------------------------
// The browser

fn local(at: DateTime<Utc>) -> String {
    baoming_api::time::beijing(at, "%Y-%m-%dT%H:%M")
}

async fn log_in(browser: &Browser, app: &TestApp, username: &str, password: &str) {
    browser.goto(&app.url("/admin/")).await;
    browser.until_path("/admin/login").await;
    browser.fill(&[("username", username), ("password", password)]).await;
    browser.click("form[action='/admin/login'] button[type=submit]").await;
    // Logged in: the page has the navigation with the user's name.
    let who = browser.text("header.top .who").await;
    assert!(who.contains(username), "{who}");
}

async fn log_out(browser: &Browser) {
    browser.click("header.top form button[type=submit]").await;
    browser.until_path("/admin/login").await;
}

async fn from_a_new_period_to_a_live_check_in_in_the_browser(app: TestApp) {
    let shots = format!("e2e-{}", if app.db.is_sqlite() { "sqlite" } else { "postgres" });
    let browser = Browser::start(&shots).await;
    app.staff("admin1", "admin").await;
    app.staff("finance1", "finance").await;
    app.staff("checkin1", "checkin").await;

    // The admin logs in and creates a period.
    browser.goto(&app.url("/admin/")).await;
    browser.until_path("/admin/login").await;
    browser.screenshot("login").await;
    log_in(&browser, &app, "admin1", PASSWORD).await;
    browser.screenshot("dashboard").await;
    browser.goto(&app.url("/admin/periods/new")).await;
    let now = Utc::now();
    let (opens, closes) = (now - Duration::hours(1), now + Duration::days(7));
    let (checkin_opens, checkin_closes) =
        (now + Duration::days(8), now + Duration::days(8) + Duration::hours(4));
    let exam = now + Duration::days(9);
    let name = "2027年第一期监理培训（浏览器测试）";
    browser
        .fill(&[
            ("name", name),
            ("exam_name", "全国监理工程师职业资格考试"),
            ("registration_opens", &local(opens)),
            ("registration_closes", &local(closes)),
            ("checkin_opens", &local(checkin_opens)),
            ("checkin_closes", &local(checkin_closes)),
            ("exam_ends", &local(exam + Duration::hours(3))),
            ("checkin_slice_secs", "30"),
            ("regions[0].code", "01"),
            ("regions[0].name", "福州"),
            ("regions[0].capacity", "100"),
            ("subjects[0].code", "law"),
            ("subjects[0].name", "建设工程监理基本理论和相关法规"),
            ("subjects[0].exam_starts_at", &local(exam)),
            ("subjects[0].exam_ends_at", &local(exam + Duration::hours(2))),
            ("exam_types[0].code", "basic"),
            ("exam_types[0].name", "考一科"),
            ("exam_types[0].subject_codes", "law"),
            ("exam_types[0].min_subjects", "1"),
            ("exam_types[0].max_subjects", "1"),
            ("exam_types[0].prices", "1:680"),
            ("venues[0].name", "福州考点"),
            ("venues[0].address", "福州市鼓楼区湖东路 1 号"),
            ("venues[0].region_code", "01"),
            ("rejection_templates", "照片不是白底\n身份证号码与姓名不符"),
        ])
        .await;
    browser.screenshot("period-new").await;
    browser.click("form.period button.primary").await;
    browser
        .until_path_is(|p| p.starts_with("/admin/periods/") && !p.starts_with("/admin/periods/new"))
        .await;
    let text = browser.body_text().await;
    assert!(text.contains(name), "{text}");
    browser.screenshot("period-edit").await;
    let period_id =
        browser.path().await["/admin/periods/".len()..].split('?').next().expect("id").to_owned();

    // … and a reviewer, whose one-time password the page shows.
    browser.goto(&app.url("/admin/staff")).await;
    browser.fill(&[("username", "reviewer1"), ("display_name", "李审核"), ("roles", "")]).await;
    browser.click("input[name=roles][value=reviewer]").await;
    browser.click("form.card button[type=submit]").await;
    let password = browser.text("code.secret").await;
    assert!(password.len() >= 12, "{password}");
    browser.screenshot("staff").await;
    log_out(&browser).await;

    // A participant registers through the API.
    let (token, photo) = app.ready_participant(1).await;
    let (_, periods) = app.get("/api/v1/periods", &token).await;
    let period = periods
        .as_array()
        .expect("periods")
        .iter()
        .find(|p| p["name"] == name)
        .expect("the new period is open")
        .clone();
    let (status, body) =
        app.post("/api/v1/registrations", &token, super::form(&period, &photo, 0, "basic")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();

    // The reviewer approves it with the keyboard: j, Enter, a.
    log_in(&browser, &app, "reviewer1", password.trim()).await;
    browser.goto(&app.url(&format!("/admin/review?period_id={period_id}"))).await;
    browser.screenshot("review-queue").await;
    browser.keys("j").await;
    browser.keys("\u{e007}").await;
    browser.until_path("/admin/registrations/").await;
    browser.screenshot("registration").await;
    browser.keys("a").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while state_of(&app, &id) != State::AwaitingPayment {
        assert!(std::time::Instant::now() < deadline, "not approved: {:?}", state_of(&app, &id));
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    log_out(&browser).await;

    // The participant pays through the WeChat Pay simulator; finance sees the payment.
    let order = pay_wechat(&app, &token, &id).await;
    let out_trade_no = order["out_trade_no"].as_str().expect("order").to_owned();
    app.pay_sim.pay(&out_trade_no).expect("paid");
    until_state(&app, &id, State::Paid).await;
    log_in(&browser, &app, "finance1", PASSWORD).await;
    browser.goto(&app.url("/admin/finance/ledger")).await;
    assert!(browser.body_text().await.contains(&out_trade_no), "the payment is in the ledger");
    for (path, shot) in [
        ("/admin/finance", "finance-transfers"),
        ("/admin/finance/refunds", "finance-refunds"),
        ("/admin/finance/unapplied", "finance-unapplied"),
        ("/admin/finance/ledger", "finance-ledger"),
        ("/admin/finance/reconciliation", "finance-reconciliation"),
        ("/admin/finance/invoices", "finance-invoices"),
    ] {
        browser.goto(&app.url(path)).await;
        browser.screenshot(shot).await;
    }
    log_out(&browser).await;

    // On the day: the venue display's QR code is a code the check-in endpoint accepts, and the
    // desk's count goes up without reloading.
    app.clock.set(checkin_opens + Duration::minutes(10));
    log_in(&browser, &app, "checkin1", PASSWORD).await;
    let (_, views) = app
        .admin(
            Method::GET,
            "/api/v1/admin/periods",
            Some(&app.staff("admin2", "admin").await),
            None,
        )
        .await;
    let venue = views
        .as_array()
        .expect("periods")
        .iter()
        .find(|v| v["period"]["id"] == period_id.as_str())
        .expect("period")["venues"][0]["id"]
        .as_str()
        .expect("venue")
        .to_owned();
    browser.goto(&app.url(&format!("/admin/checkin/display/{venue}"))).await;
    browser.screenshot("checkin-display").await;
    let code = decode_qr(&browser.element_png("[data-qr]").await);
    browser.goto(&app.url(&format!("/admin/checkin?period_id={period_id}"))).await;
    let live = "[data-count=total] [data-field=checked_in]";
    assert_eq!(browser.text(live).await, "0");
    let (status, body) = app
        .post(&format!("/api/v1/registrations/{id}/check-in"), &token, json!({"code": code}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(state_of(&app, &id), State::CheckedIn);
    browser.until_text(live, 10, |t| t == "1").await;
    browser.screenshot("checkin-desk").await;
    log_out(&browser).await;

    // Tickets: the admin's dry run shows the rooms and seats; the commit writes that plan;
    // publishing lets the participant open the ticket once the worker has rendered it. (The
    // server's clock goes back to the worker's, which schedules the render jobs it runs.)
    app.clock.set(Utc::now());
    log_in(&browser, &app, "admin1", PASSWORD).await;
    browser.goto(&app.url(&format!("/admin/tickets?period_id={period_id}"))).await;
    browser.click("form[action$='/plan'] button[type=submit]").await;
    browser.until_path("/admin/tickets/").await;
    let plan = browser.body_text().await;
    assert!(plan.contains("第 1 考点") && plan.contains("李四"), "{plan}");
    assert!(plan.contains("所有约束均已满足"), "{plan}");
    browser.screenshot("tickets-plan").await;
    browser.click("form[action$='/assign'] button[type=submit]").await;
    browser.until_path_is(|p| p.contains("done=assigned-1")).await;
    browser.click("form[action$='/publish'] button[type=submit]").await;
    browser.client().accept_alert().await.expect("the confirmation");
    browser.until_path_is(|p| p.contains("done=published")).await;
    app.run_worker().await;
    browser.goto(&app.url(&format!("/admin/tickets?period_id={period_id}"))).await;
    let page = browser.body_text().await;
    assert!(page.contains("已生成") && page.contains("考场签到表"), "{page}");
    browser.screenshot("tickets").await;
    let (status, ticket) = app.get(&format!("/api/v1/registrations/{id}/ticket"), &token).await;
    assert_eq!(status, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["room"], 1, "{ticket}");

    // The rest of the admin's pages.
    for (path, shot) in [
        ("/admin/periods", "periods"),
        ("/admin/audit", "audit"),
        ("/admin/jobs", "jobs"),
        ("/admin/password", "password"),
    ] {
        browser.goto(&app.url(path)).await;
        browser.screenshot(shot).await;
    }
    browser.finish().await;
}
