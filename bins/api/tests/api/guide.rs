//! docs/miniprogram.md kept true: the participant's journey walked over real HTTP with the
//! requests written in the guide, each answer compared with the guide's example after the
//! values that change from run to run (ids, times, tokens, signatures) are replaced by
//! placeholders. `BAOMING_UPDATE_DOCS=1` rewrites the answers in the guide instead.
//!
//! In the guide, `<!-- request: NAME -->` precedes a fenced block with the request line, headers
//! (for the reader) and the JSON body; `<!-- response: NAME -->` a block with the status line
//! and the JSON answer; `<!-- example: NAME -->` a ```json block of another captured value (a
//! subscribe message as WeChat receives it). `<name>` in a request is replaced by the run's
//! value of that name; an answer's string equal to (or containing) one of those values shows
//! `<name>` instead.

use std::collections::BTreeMap;
use std::path::PathBuf;

use baoming_domain::lifecycle::{Action, State, Tab, Tag};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::payments::until_state;
use super::{TestApp, TestDb};

fn guide_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/miniprogram.md")
}

fn updating() -> bool {
    std::env::var_os("BAOMING_UPDATE_DOCS").is_some()
}

const HOW_TO_UPDATE: &str = "If the server's answer is right, run \
    `BAOMING_UPDATE_DOCS=1 cargo nextest run -p baoming-api -E 'test(guide::)'` to write it into \
    docs/miniprogram.md, and read the diff.";

/// A fenced block after a marker: (byte range of its content, content).
fn block_after(doc: &str, marker: &str) -> Option<(std::ops::Range<usize>, String)> {
    let at = doc.find(marker)?;
    let fence = at + doc[at..].find("```")?;
    let start = fence + doc[fence..].find('\n')? + 1;
    let end = start + doc[start..].find("```")?;
    Some((start..end, doc[start..end].to_owned()))
}

/// Every `<!-- KIND: NAME -->` of the guide.
fn markers(doc: &str, kind: &str) -> Vec<String> {
    let open = format!("<!-- {kind}: ");
    doc.match_indices(&open)
        .filter_map(|(at, _)| {
            let rest = &doc[at + open.len()..];
            rest.find(" -->").map(|end| rest[..end].to_owned())
        })
        .collect()
}

/// A request of the guide.
struct Request {
    method: Method,
    path: String,
    body: Option<Value>,
}

/// The guide's examples, the run's values and the answers seen.
struct Guide {
    doc: String,
    vars: Vec<(String, String)>,
    /// Answers (with their status) and other examples (without), by name.
    seen: BTreeMap<String, (Option<StatusCode>, Value)>,
    requests_used: Vec<String>,
}

impl Guide {
    fn load() -> Guide {
        let doc = std::fs::read_to_string(guide_path()).expect("docs/miniprogram.md");
        Guide { doc, vars: Vec::new(), seen: BTreeMap::new(), requests_used: Vec::new() }
    }

    /// A value of this run, shown as `<name>` in the guide.
    fn var(&mut self, name: &str, value: impl Into<String>) {
        let value = value.into();
        assert!(!value.is_empty(), "{name} is empty");
        self.vars.retain(|(n, _)| n != name);
        self.vars.push((name.to_owned(), value));
    }

    fn substitute(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (name, value) in &self.vars {
            out = out.replace(&format!("<{name}>"), value);
        }
        out
    }

    /// The request `name` of the guide, with this run's values.
    fn request(&mut self, name: &str) -> Request {
        let (_, text) = block_after(&self.doc, &format!("<!-- request: {name} -->"))
            .unwrap_or_else(|| panic!("docs/miniprogram.md has no `<!-- request: {name} -->`"));
        self.requests_used.push(name.to_owned());
        let text = self.substitute(&text);
        let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        let line = head.lines().next().expect("request line");
        let (method, path) = line.split_once(' ').expect("METHOD PATH");
        let body = body.trim();
        // A multipart body is described, not written out: the walk uploads the file itself.
        let body = if body.is_empty() || head.contains("multipart/form-data") {
            None
        } else {
            Some(serde_json::from_str(body).unwrap_or_else(|e| {
                panic!("docs/miniprogram.md: the body of request {name} is not JSON ({e}): {body}")
            }))
        };
        Request { method: method.parse().expect("method"), path: path.trim().to_owned(), body }
    }

    /// Sends the guide's request `name` (as the participant holding `token`) and keeps the
    /// answer as the example `response`.
    async fn call(
        &mut self,
        app: &TestApp,
        name: &str,
        response: &str,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let req = self.request(name);
        let (status, body) = app.call(req.method, &req.path, token, req.body).await;
        self.keep(response, status, &body);
        (status, body)
    }

    /// Keeps an answer as the example `name` (again, after a value it holds was named).
    fn keep(&mut self, name: &str, status: StatusCode, body: &Value) {
        let shown = self.normalise(None, body);
        self.seen.insert(name.to_owned(), (Some(status), shown));
    }

    /// Keeps a JSON example that is not an answer (`<!-- example: NAME -->`, a ```json block).
    fn example(&mut self, name: &str, value: &Value) {
        let shown = self.normalise(None, value);
        self.seen.insert(name.to_owned(), (None, shown));
    }

    fn normalise(&self, key: Option<&str>, value: &Value) -> Value {
        match value {
            Value::Object(map) => Value::Object(
                map.iter().map(|(k, v)| (k.clone(), self.normalise(Some(k), v))).collect(),
            ),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.normalise(key, v)).collect())
            }
            Value::String(s) => Value::String(self.normalise_text(key, s)),
            other => other.clone(),
        }
    }

    fn normalise_text(&self, key: Option<&str>, s: &str) -> String {
        // Values that differ on every run whatever they look like.
        let varying = [
            ("token", "<token>"),
            ("touser", "<openid>"),
            ("timeStamp", "<timeStamp>"),
            ("nonceStr", "<nonceStr>"),
            ("paySign", "<paySign>"),
            ("out_trade_no", "<out_trade_no>"),
            ("reference", "BM-<reference>"),
            ("ticket_number", "<ticket_number>"),
            ("qr_text", "<qr_text>"),
            ("time", "<YYYY年MM月DD日 HH:MM–HH:MM>"),
        ];
        if let Some((_, shown)) = varying.iter().find(|(k, _)| Some(*k) == key) {
            return (*shown).to_owned();
        }
        if key == Some("package") {
            return "prepay_id=<prepay_id>".to_owned();
        }
        if chrono::DateTime::parse_from_rfc3339(s).is_ok() {
            return "<time>".to_owned();
        }
        let mut out = s.to_owned();
        for (name, value) in &self.vars {
            if value.len() >= 8 {
                out = out.replace(value.as_str(), &format!("<{name}>"));
            } else if out == *value {
                out = format!("<{name}>");
            }
        }
        replace_uuids(&out)
    }

    /// Compares every answer with the guide (or writes them with `BAOMING_UPDATE_DOCS=1`).
    fn finish(self) {
        let mut doc = self.doc.clone();
        let mut problems = Vec::new();
        for kind in ["response", "example"] {
            for name in markers(&self.doc, kind) {
                if !self.seen.contains_key(&name) {
                    problems
                        .push(format!("{kind} {name}: in the guide, but the walk never made it"));
                }
            }
        }
        for name in markers(&self.doc, "request") {
            if !self.requests_used.contains(&name) {
                problems.push(format!("request {name}: in the guide, but the walk never sent it"));
            }
        }
        // From the end, so the ranges stay valid while rewriting.
        let mut blocks: Vec<(std::ops::Range<usize>, String, String)> = Vec::new();
        for (name, (status, body)) in &self.seen {
            let kind = if status.is_some() { "response" } else { "example" };
            let Some((range, text)) = block_after(&self.doc, &format!("<!-- {kind}: {name} -->"))
            else {
                problems.push(format!(
                    "{kind} {name}: add `<!-- {kind}: {name} -->` and a fenced block to docs/miniprogram.md"
                ));
                continue;
            };
            let parse = |text: &str| -> Value {
                let text = text.trim();
                if text.is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()))
                }
            };
            let (expected, same, documented_text) = match status {
                Some(status) => {
                    let reason = status.canonical_reason().unwrap_or_default();
                    let mut expected = format!("HTTP/1.1 {} {reason}\n", status.as_u16());
                    if !body.is_null() && body != &Value::String(String::new()) {
                        expected.push('\n');
                        expected.push_str(&pretty(body, 0, 0));
                        expected.push('\n');
                    }
                    let (line, rest) = text.split_once('\n').unwrap_or((&text, ""));
                    let documented = parse(rest);
                    let same_status = line.trim() == expected.lines().next().unwrap_or_default();
                    let same_body = documented == *body
                        || (documented.is_null() && body == &Value::String(String::new()));
                    let documented_text = if documented.is_null() {
                        line.to_owned()
                    } else {
                        format!("{line}\n\n{}", pretty(&documented, 0, 0))
                    };
                    (expected, same_status && same_body, documented_text)
                }
                None => {
                    let documented = parse(&text);
                    (
                        format!("{}\n", pretty(body, 0, 0)),
                        documented == *body,
                        pretty(&documented, 0, 0),
                    )
                }
            };
            if !same {
                problems.push(format!(
                    "{kind} {name} differs (- docs/miniprogram.md, + the server now):\n{}",
                    diff(&documented_text, &expected)
                ));
            }
            blocks.push((range, text, expected));
        }
        if updating() {
            blocks.sort_by_key(|(range, _, _)| std::cmp::Reverse(range.start));
            for (range, _, expected) in blocks {
                doc.replace_range(range, &expected);
            }
            if doc != self.doc {
                std::fs::write(guide_path(), doc).expect("writing docs/miniprogram.md");
            }
            problems.retain(|p| !p.contains(" differs ("));
        }
        assert!(problems.is_empty(), "{}\n\n{HOW_TO_UPDATE}", problems.join("\n\n"));
    }
}

/// The lines of `old` and `new` that differ, `-`/`+` marked, from their longest common
/// subsequence.
fn diff(old: &str, new: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] =
                if a[i] == b[j] { lcs[i + 1][j + 1] + 1 } else { lcs[i + 1][j].max(lcs[i][j + 1]) };
        }
    }
    let (mut i, mut j, mut out) = (0, 0, String::new());
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            (i, j) = (i + 1, j + 1);
        } else if j < b.len() && (i == a.len() || lcs[i][j + 1] >= lcs[i + 1][j]) {
            out.push_str(&format!("+ {}\n", b[j]));
            j += 1;
        } else {
            out.push_str(&format!("- {}\n", a[i]));
            i += 1;
        }
    }
    out
}

/// JSON for the reader: a value on one line when it fits in 100 columns, else one member a line.
/// `indent`: the indentation of the value's line; `column`: where the value starts on it.
fn pretty(value: &Value, indent: usize, column: usize) -> String {
    fn flat(value: &Value) -> String {
        match value {
            Value::Object(map) => {
                let members: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{}: {}", Value::from(k.as_str()), flat(v)))
                    .collect();
                format!("{{{}}}", members.join(", "))
            }
            Value::Array(items) => {
                format!("[{}]", items.iter().map(flat).collect::<Vec<_>>().join(", "))
            }
            scalar => scalar.to_string(),
        }
    }
    let one_line = flat(value);
    if column + one_line.chars().count() <= 100 {
        return one_line;
    }
    let pad = " ".repeat(indent + 2);
    let (open, close, members): (char, char, Vec<String>) = match value {
        Value::Object(map) => (
            '{',
            '}',
            map.iter()
                .map(|(k, v)| {
                    let key = Value::from(k.as_str()).to_string();
                    format!(
                        "{pad}{key}: {}",
                        pretty(v, indent + 2, indent + 4 + key.chars().count())
                    )
                })
                .collect(),
        ),
        Value::Array(items) => (
            '[',
            ']',
            items.iter().map(|v| format!("{pad}{}", pretty(v, indent + 2, indent + 2))).collect(),
        ),
        _ => return one_line,
    };
    format!("{open}\n{}\n{}{close}", members.join(",\n"), " ".repeat(indent))
}

/// Every UUID in `s` as `<uuid>`.
fn replace_uuids(s: &str) -> String {
    let shape = |w: &str| {
        w.len() == 36
            && w.char_indices().all(|(i, c)| {
                if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() }
            })
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s.is_char_boundary(i)
            && i + 36 <= s.len()
            && s.is_char_boundary(i + 36)
            && shape(&s[i..i + 36])
        {
            out.push_str("<uuid>");
            i += 36;
        } else {
            let c = s[i..].chars().next().expect("char");
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// The participant's journey of docs/miniprogram.md, page by page (on SQLite: the answers
/// are the same on both databases, and every call is tested on both elsewhere).
#[actix_web::test]
async fn the_guide_walk() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let mut g = Guide::load();
    let admin = app.staff("admin1", "admin").await;
    let checkin = app.staff("checkin1", "checkin").await;

    // 登录
    g.var("code", "guide-user-1");
    let (status, login) = g.call(&app, "login", "login", None).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let token = login["token"].as_str().expect("token").to_owned();
    g.var("participant_id", login["participant_id"].as_str().expect("participant"));
    g.keep("login", status, &login);
    let t = Some(token.as_str());

    // 个人信息
    let (status, _) = g.call(&app, "profile_get", "profile_empty", t).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(super::resident_id(7), "350102199008080156", "the guide's ID number");
    let (status, body) = g.call(&app, "profile_invalid", "profile_invalid", t).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = g.call(&app, "profile_put", "profile_put", t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["complete"], true);

    // 在线报名: the period, the fee, the invoice title, the photo, the form.
    let (status, periods) = g.call(&app, "periods", "periods", None).await;
    assert_eq!(status, StatusCode::OK, "{periods}");
    let period = &periods[0];
    g.var("period_id", period["id"].as_str().expect("period"));
    g.var("region_id", period["regions"][0]["id"].as_str().expect("region"));
    let exam_type = period["exam_types"]
        .as_array()
        .expect("types")
        .iter()
        .find(|e| e["code"] == "exempt_basic");
    g.var("exam_type_id", exam_type.expect("exempt_basic")["id"].as_str().expect("id"));
    g.var("venue_id", period["venues"][0]["id"].as_str().expect("venue"));
    g.keep("periods", status, &periods);
    let (status, body) = g.call(&app, "quote", "quote", None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, title) = g.call(&app, "invoice_title_create", "invoice_title_create", t).await;
    assert_eq!(status, StatusCode::CREATED, "{title}");
    g.var("invoice_title_id", title["id"].as_str().expect("title"));
    g.keep("invoice_title_create", status, &title);
    let (status, body) = g.call(&app, "invoice_titles", "invoice_titles", t).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let upload = g.request("photo_upload");
    assert_eq!((upload.method, upload.path.as_str()), (Method::POST, "/api/v1/photos"));
    let (status, body) = app.upload(&token, super::id_photo(200, 280, super::WHITE), "a.jpg").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    g.keep("photo_too_small", status, &body);
    let (status, photo) =
        app.upload(&token, super::id_photo(590, 826, super::WHITE), "me.jpg").await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    g.var("photo_id", photo["id"].as_str().expect("photo"));
    g.keep("photo_upload", status, &photo);

    let (status, submitted) = g.call(&app, "submit", "submit", t).await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    let id = submitted["id"].as_str().expect("registration").to_owned();
    g.var("registration_id", id.clone());
    g.keep("submit", status, &submitted);
    let (status, body) = g.call(&app, "submit", "submit_again", t).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // 隐私: the export, deletion refused while the registration waits for review, and an
    // account with nothing live deleted.
    let (status, body) = g.call(&app, "profile_export", "profile_export", t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["profile"]["id_number"], super::resident_id(7));
    let (status, body) = g.call(&app, "profile_delete", "profile_delete_refused", t).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("account_not_deletable"))
    );
    let someone = app.login("guide-user-2").await;
    let (status, _) = g.call(&app, "profile_delete", "profile_deleted", Some(&someone)).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // 我的考试: 审核中, then rejected (审核不通过) and 重新报名.
    let (status, _) = g.call(&app, "my_exams", "my_exams_pending", t).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{id}/reject"),
            Some(&admin),
            Some(json!({"template": 0})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = g.call(&app, "registration", "registration_rejected", t).await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("rejected")));
    let (status, body) = g.call(&app, "resubmit", "resubmit", t).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{id}/approve"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = g.call(&app, "my_exams", "my_exams_awaiting_payment", t).await;
    assert_eq!(status, StatusCode::OK);

    // 支付: the order, WeChat's payment sheet (the simulator pays), "check my payment".
    let (status, order) = g.call(&app, "pay_wechat", "pay_wechat", t).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    app.pay_sim.pay(order["out_trade_no"].as_str().expect("out_trade_no")).expect("paid");
    until_state(&app, &id, State::Paid).await;
    let (status, body) = g.call(&app, "pay_check", "pay_check", t).await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("paid")));
    let (status, body) = g.call(&app, "pay_wechat", "pay_wechat_paid", t).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // 退款: asked, then taken back.
    let (status, body) = g.call(&app, "refund_request", "refund_request", t).await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("refund_requested")));
    let (status, body) = g.call(&app, "refund_cancel", "refund_cancel", t).await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("paid")));

    // 报到: inside the window, with the code the venue's screen shows.
    let opens: chrono::DateTime<chrono::Utc> =
        period["checkin_opens"].as_str().expect("opens").parse().expect("time");
    app.clock.set(opens + chrono::Duration::minutes(30));
    let venue = period["venues"][0]["id"].as_str().expect("venue");
    let (status, code) = app
        .admin(Method::GET, &format!("/api/v1/admin/venues/{venue}/code"), Some(&checkin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{code}");
    g.var("scanned_code", code["code"].as_str().expect("code"));
    let (status, _) = g.call(&app, "my_exams", "my_exams_awaiting_check_in", t).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = g.call(&app, "check_in", "check_in", t).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // 准考证: assigned and published by staff (back to the real time: the worker claims the
    // jobs of the publication by it).
    app.clock.set(chrono::Utc::now());
    let tickets = format!("/api/v1/admin/periods/{}/tickets", period["id"].as_str().expect("id"));
    let (status, body) = app
        .admin(Method::POST, &format!("{tickets}/assign"), Some(&admin), Some(json!({"seed": "1"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) =
        app.admin(Method::POST, &format!("{tickets}/publish"), Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = g.call(&app, "my_exams", "my_exams_checked_in", t).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = g.call(&app, "ticket", "ticket", t).await;
    assert_eq!((status, body["status"].as_str()), (StatusCode::OK, Some("rendering")));
    let (status, body) = g.call(&app, "ticket_png", "ticket_png_rendering", t).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // 单位转账: a second participant.
    let (token2, id2) = super::payments::approved(&app, &admin, 8).await;
    g.var("registration_id", id2);
    let (status, body) = g.call(&app, "transfer", "transfer", Some(&token2)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = g.call(&app, "my_exams", "my_exams_awaiting_transfer", Some(&token2)).await;
    assert_eq!(status, StatusCode::OK);

    // 取消报名: a third one, still under review.
    let (token3, photo3) = app.ready_participant(9).await;
    let form = super::form(period, &photo3, 0, "exempt_basic");
    let (status, body) = app.post("/api/v1/registrations", &token3, form).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    g.var("registration_id", body["id"].as_str().expect("id"));
    let (status, body) = g.call(&app, "withdraw", "withdraw", Some(&token3)).await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("withdrawn")));

    // 订阅消息: what the worker sends for the changes above, as WeChat receives it.
    app.run_worker().await;
    g.var("registration_id", id.clone());
    let sent = app.sim.sent_messages();
    let approved = sent
        .iter()
        .find(|m| {
            m.template_id == "dev_approved" && m.page.as_deref().is_some_and(|p| p.contains(&id))
        })
        .unwrap_or_else(|| panic!("no approval message: {sent:?}"));
    g.example(
        "subscribe_message",
        &json!({"touser": approved.touser, "template_id": approved.template_id,
                "page": approved.page, "data": approved.data}),
    );
    let mut told: Vec<&str> = Vec::new();
    for m in &sent {
        let notice = m.template_id.strip_prefix("dev_").expect("a dev template");
        let section =
            &g.doc[g.doc.find("## 订阅消息").expect("the section of subscribe messages")..];
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| `{notice}` |")))
            .unwrap_or_else(|| panic!("docs/miniprogram.md has no row for the notice `{notice}`"));
        let keywords: Vec<&String> = m.data.as_object().expect("data").keys().collect();
        assert_eq!(keywords, ["phrase2", "thing1", "thing3"], "{m:?}");
        let status = m.data["phrase2"]["value"].as_str().expect("phrase2");
        let note = m.data["thing3"]["value"].as_str().expect("thing3");
        assert!(
            row.contains(&format!("| {status} |")),
            "{notice}: the guide's row lacks {status}: {row}"
        );
        assert!(
            row.contains(&format!("| {note} |")) || row.contains("reason |"),
            "{notice}: the guide's row lacks the note {note}: {row}"
        );
        told.push(notice);
    }
    for notice in ["approved", "rejected", "paid", "ticket_published"] {
        assert!(told.contains(&notice), "{notice} was not sent: {told:?}");
    }

    // Logged out: the token no longer works.
    let (status, _) = g.call(&app, "logout", "logout", t).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = g.call(&app, "my_exams", "unauthorized", t).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    g.finish();
}

/// The tags and tabs table of the guide is the code's.
#[test]
fn the_guides_tags_are_the_codes() {
    let doc = std::fs::read_to_string(guide_path()).expect("guide");
    let mut rows = String::from("| `tag` | 标签 | under the tab |\n|---|---|---|\n");
    for tag in Tag::ALL {
        let tabs: Vec<Tab> = Tab::ALL
            .into_iter()
            .filter(|tab| {
                State::ALL.iter().any(|s| Tag::of(*s) == tag && Tab::of(*s, false) == *tab)
            })
            .collect();
        let mut under: Vec<String> =
            tabs.iter().map(|t| format!("{} `{}`", t.label_zh(), t.as_str())).collect();
        let expired = tag.label_zh(Tab::Expired);
        let label = tabs.first().map_or(expired, |t| tag.label_zh(*t));
        if !tabs.contains(&Tab::Expired) {
            under.push(if expired == label {
                format!("{} `expired` after the sitting", Tab::Expired.label_zh())
            } else {
                format!("{} `expired` after the sitting, as {expired}", Tab::Expired.label_zh())
            });
        }
        rows.push_str(&format!("| `{}` | {label} | {} |\n", tag.as_str(), under.join("; ")));
    }
    let start = "<!-- generated: tags -->\n";
    let at = doc.find(start).expect("docs/miniprogram.md has no `<!-- generated: tags -->`");
    let from = at + start.len();
    let to = from + doc[from..].find("<!-- /generated -->").expect("<!-- /generated -->");
    if doc[from..to] != rows {
        if updating() {
            let mut updated = doc.clone();
            updated.replace_range(from..to, &rows);
            std::fs::write(guide_path(), updated).expect("writing the guide");
        } else {
            panic!(
                "the tags table differs:\n--- docs/miniprogram.md\n{}\n+++ the code\n{rows}\n{HOW_TO_UPDATE}",
                &doc[from..to]
            );
        }
    }
    // Every action a button, with a call the server has.
    for action in Action::ALL {
        let row = format!("| `{}` |", action.as_str());
        let line = doc.lines().find(|l| l.starts_with(&row)).unwrap_or_else(|| {
            panic!("docs/miniprogram.md does not say which button `{}` is", action.as_str())
        });
        let calls: Vec<(String, &str)> = line
            .split('`')
            .filter_map(|part| part.split_once(" /api/"))
            .map(|(method, path)| (method.to_lowercase(), path))
            .collect();
        assert!(!calls.is_empty(), "the row of `{}` names no call", action.as_str());
        for (method, path) in calls {
            let path = format!("/api/{path}");
            assert!(
                baoming_api::routes::ROUTES.iter().any(|(m, p)| *m == method && *p == path),
                "the row of `{}` names {method} {path}, which the server does not have",
                action.as_str()
            );
        }
    }
}
