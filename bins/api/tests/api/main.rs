//! The API over real HTTP: the real server on a random port, a real database (every test on
//! SQLite and on PostgreSQL), and the WeChat simulator over real HTTP.

use std::io::Cursor;

use baoming_api::runtime::config::RawConfig;
use baoming_domain::identity::mod11_2_check_char;
use baoming_domain::ids::{RegistrationId, StaffId, TypedId};
use baoming_domain::lifecycle::{Actor, Event, Reason};
use baoming_store::registrations::{self, Ctx, Who};
use baoming_store::testing::TestDb;
use baoming_store::{DbConnection, periods, seed};
use image::{ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[actix_web::test] async fn $name() { super::$name(super::TestApp::spawn(super::TestDb::sqlite()).await).await; })*
        }
        mod postgres {
            $(#[actix_web::test] async fn $name() { super::$name(super::TestApp::spawn(super::TestDb::postgres()).await).await; })*
        }
    };
}

mod back_office;
mod browser;
mod checkin;
mod cluster;
mod console;
mod guide;
mod instances;
mod invoices;
mod limits;
mod participant;
mod payments;
mod privacy;
mod refunds;
mod storage;
mod tickets;

pub(crate) struct TestApp {
    base: String,
    http: reqwest::Client,
    sim: baoming_wechat_sim::Simulator,
    pub(crate) pay_sim: baoming_wechatpay_sim::Simulator,
    handle: actix_web::dev::ServerHandle,
    /// The server's clock: tests move it instead of sleeping.
    pub(crate) clock: baoming_api::time::Clock,
    /// The settings the server runs with (the worker of the ticket tests uses them too).
    pub(crate) settings: baoming_api::runtime::Settings,
    /// Shared with the other instances started by [`TestApp::another_instance`].
    db: std::sync::Arc<TestDb>,
    data: std::sync::Arc<tempfile::TempDir>,
}

impl TestApp {
    pub(crate) async fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// Starts the app with the test settings changed by `configure`.
    pub(crate) async fn spawn_with(db: TestDb, configure: impl FnOnce(&mut RawConfig)) -> TestApp {
        let data = std::sync::Arc::new(tempfile::tempdir().expect("data dir"));
        let mut raw = RawConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: data.path().to_path_buf(),
            database_url: Some(db.url().to_owned()),
            pool_size: 8,
            ..RawConfig::default()
        };
        // WeChat Pay's retry schedule in milliseconds instead of seconds.
        raw.wechatpay.simulator_time_scale = Some(0.001);
        raw.wechatpay.simulator_listen = "127.0.0.1:0".into();
        raw.wechat.simulator_listen = "127.0.0.1:0".into();
        // The in-process worker asks about a refund still processing after a second.
        raw.worker.refund_recheck_secs = 1;
        configure(&mut raw);
        let settings = raw.validate().expect("settings");
        Self::start(settings, std::sync::Arc::new(db), data).await
    }

    /// Another api instance on this one's database, data directory and settings (its own
    /// port, simulators and in-process caches), as behind a load balancer.
    pub(crate) async fn another_instance(&self) -> TestApp {
        Self::start(self.settings.clone(), self.db.clone(), self.data.clone()).await
    }

    async fn start(
        settings: baoming_api::runtime::Settings,
        db: std::sync::Arc<TestDb>,
        data: std::sync::Arc<tempfile::TempDir>,
    ) -> TestApp {
        let mut running = baoming_api::start(settings.clone()).await.expect("started");
        let sim = running.simulator.take().expect("dev mode starts the simulator");
        let pay_sim = running.pay_simulator.take().expect("dev mode starts the pay simulator");
        let handle = running.handle.clone();
        let clock = running.clock.clone();
        actix_web::rt::spawn(running.server);
        TestApp {
            base: format!("http://{}", running.addr),
            // Idle connections are dropped before the server's 5 s keep-alive closes them, so
            // no request races a closing connection when a test pauses (photo generation).
            http: reqwest::Client::builder()
                .pool_idle_timeout(std::time::Duration::from_secs(2))
                .build()
                .expect("client"),
            sim,
            pay_sim,
            handle,
            clock,
            settings,
            db,
            data,
        }
    }

    /// The server's data directory.
    pub(crate) fn data_dir(&self) -> &std::path::Path {
        self.data.path()
    }

    /// A worker in this process, on the app's database, talking to the app's simulators
    /// (WeChat Pay's notifications go to the app's notify endpoint).
    pub(crate) fn worker(&self) -> TestWorker {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("worker runtime");
        let s = &self.settings;
        let pay = baoming_api::runtime::pay::Pay::new(
            &s.pay,
            &s.wechat_appid,
            &self.pay_sim.base_url(),
            self.url("/api/v1/wechatpay/notify"),
        )
        .expect("pay client");
        let wechat = baoming_wechat::WechatClient::new(baoming_wechat::WechatConfig {
            api_base: self.sim.base_url(),
            appid: s.wechat_appid.clone(),
            secret: s.wechat_secret.clone(),
            timeout: std::time::Duration::from_secs(5),
        })
        .expect("wechat client");
        let services = baoming_worker::Services {
            pay,
            wechat,
            templates: s.templates.clone(),
            runtime: runtime.handle().clone(),
            refund_recheck: s.worker.refund_recheck,
            tickets: ticket_services(s),
            retention: s.retention.enabled.then_some(s.retention.policy),
        };
        let worker = baoming_worker::Worker::new(self.db.db.clone(), s.worker, services);
        TestWorker { worker: std::sync::Arc::new(worker), runtime: Some(runtime) }
    }

    /// Subscribe messages the WeChat simulator accepted: (template id, thing3 note).
    pub(crate) fn messages(&self) -> Vec<(String, String)> {
        self.sim
            .sent_messages()
            .into_iter()
            .map(|m| {
                let note = m.data["thing3"]["value"].as_str().unwrap_or_default().to_owned();
                (m.template_id, note)
            })
            .collect()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn conn(&self) -> baoming_store::Conn {
        self.db.db.conn().expect("connection")
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        call_json(&self.http, method, &self.url(path), token, body).await
    }

    pub(crate) async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    pub(crate) async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    pub(crate) async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(token), Some(body)).await
    }

    pub(crate) async fn login(&self, code: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                "/api/v1/auth/wechat-login",
                None,
                Some(json!({"code": code})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().expect("token").to_owned()
    }

    pub(crate) async fn upload(
        &self,
        token: &str,
        bytes: Vec<u8>,
        name: &str,
    ) -> (StatusCode, Value) {
        let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
        let form = reqwest::multipart::Form::new().part("photo", part);
        let res = self
            .http
            .post(self.url("/api/v1/photos"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .expect("upload");
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A participant with a complete profile and a photo: (token, photo id).
    pub(crate) async fn ready_participant(&self, n: u32) -> (String, String) {
        let token = self.login(&format!("user{n}")).await;
        let (status, body) = self.put("/api/v1/profile", &token, profile_body(n)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, photo) = self.upload(&token, id_photo(590, 826, WHITE), "me.jpg").await;
        assert_eq!(status, StatusCode::CREATED, "{photo}");
        (token, photo["id"].as_str().expect("photo id").to_owned())
    }

    pub(crate) async fn period(&self, token: &str) -> Value {
        let (status, periods) = self.get("/api/v1/periods", token).await;
        assert_eq!(status, StatusCode::OK);
        periods[0].clone()
    }
}

/// The worker's ticket rendering on the server's settings and files (its configured storage).
pub(crate) fn ticket_services(
    settings: &baoming_api::runtime::Settings,
) -> baoming_worker::tickets::TicketServices {
    baoming_worker::tickets::TicketServices {
        fonts: std::sync::Arc::new(baoming_api::runtime::tickets::TicketFonts::new(
            settings.tickets.fonts.clone(),
        )),
        keys: settings.tickets.keys.clone(),
        storage: baoming_api::runtime::storage::open(&settings.storage).expect("storage"),
        cipher: baoming_store::PiiCipher::new(settings.pii.clone()),
        threads: 2,
    }
}

/// A worker running in the test's process.
pub(crate) struct TestWorker {
    worker: std::sync::Arc<baoming_worker::Worker>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl TestWorker {
    /// Runs every due job once (on a blocking thread).
    pub(crate) async fn drain(&self) {
        let worker = self.worker.clone();
        actix_web::rt::task::spawn_blocking(move || worker.drain().expect("drained"))
            .await
            .expect("joined");
    }

    /// Drains the queue until `done` holds (at most ~15 s).
    pub(crate) async fn until(&self, what: &str, mut done: impl FnMut() -> bool) {
        for _ in 0..150 {
            self.drain().await;
            if done() {
                return;
            }
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("the worker never got there: {what}");
    }
}

impl Drop for TestWorker {
    fn drop(&mut self) {
        // Dropped inside the test's async runtime: no blocking shutdown there.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

pub(crate) fn resident_id(n: u32) -> String {
    let first17 = format!("3501021990{:02}{:02}{:03}", 1 + n % 12, 1 + n % 28, (n % 400) * 2 + 1);
    format!("{first17}{}", mod11_2_check_char(&first17).expect("17 digits"))
}

pub(crate) fn profile_body(n: u32) -> Value {
    json!({
        "name": "李四",
        "gender": "male",
        "id_kind": "resident_id",
        "id_number": resident_id(n),
        "phone": "13900139000",
        "employer": "福建某监理有限公司",
        "education": "本科"
    })
}

pub(crate) const WHITE: Rgb<u8> = Rgb([250, 250, 250]);

/// A white-background ID photo of `w`×`h` with a dark head and shoulders in the middle.
pub(crate) fn id_photo(w: u32, h: u32, background: Rgb<u8>) -> Vec<u8> {
    let mut img = RgbImage::from_pixel(w, h, background);
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) * 0.45);
    let (rx, ry) = (f64::from(w) * 0.2, f64::from(h) * 0.2);
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (dx, dy) = ((f64::from(x) - cx) / rx, (f64::from(y) - cy) / ry);
        let shoulders =
            f64::from(y) > f64::from(h) * 0.78 && (f64::from(x) - cx).abs() < f64::from(w) * 0.3;
        if dx * dx + dy * dy <= 1.0 || shoulders {
            *px = Rgb([40, 30, 30]);
        }
    }
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg).expect("encode");
    out.into_inner()
}

/// A tiny PNG whose header claims 30000×30000 pixels (a decompression bomb's shape).
pub(crate) fn bomb_png() -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&30_000u32.to_be_bytes());
    ihdr.extend_from_slice(&30_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &[0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(&mut png, b"IEND", &[]);
    png
}

/// The edit form of a period, from its back-office view (ids kept).
pub(crate) fn period_body(view: &Value) -> Value {
    let p = &view["period"];
    json!({
        "name": p["name"], "exam_name": p["exam_name"],
        "registration_opens": p["registration_opens"], "registration_closes": p["registration_closes"],
        "payment_deadline": p["payment_deadline"], "checkin_opens": p["checkin_opens"],
        "checkin_closes": p["checkin_closes"], "exam_ends": p["exam_ends"],
        "regions": p["regions"].as_array().expect("regions").iter()
            .map(|r| json!({"id": r["id"], "code": r["code"], "name": r["name"], "capacity": r["capacity"]})).collect::<Vec<_>>(),
        "subjects": p["subjects"].as_array().expect("subjects").iter()
            .map(|s| json!({"id": s["id"], "code": s["code"], "name": s["name"], "specialties": s["specialties"],
                            "exam_starts_at": s["exam_starts_at"], "exam_ends_at": s["exam_ends_at"]})).collect::<Vec<_>>(),
        "exam_types": p["exam_types"].as_array().expect("exam types").iter()
            .map(|e| json!({"id": e["id"], "code": e["code"], "name": e["name"], "subject_codes": e["subject_codes"],
                            "min_subjects": e["min_subjects"], "max_subjects": e["max_subjects"],
                            "prices": e["prices"].as_array().expect("prices").iter()
                                .map(|x| json!({"subjects": x["subjects"], "fee_yuan": x["fee_yuan"]})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
        "venues": p["venues"].as_array().expect("venues").iter()
            .map(|v| json!({"id": v["id"], "name": v["name"], "address": v["address"]})).collect::<Vec<_>>(),
        "rejection_templates": view["rejection_templates"],
    })
}

pub(crate) fn form(period: &Value, photo: &str, region: usize, exam_type: &str) -> Value {
    let exam = period["exam_types"]
        .as_array()
        .expect("exam types")
        .iter()
        .find(|e| e["code"] == exam_type)
        .expect("exam type")
        .clone();
    let subjects: Vec<Value> = exam["subject_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|code| {
            let specialty = if code == "control" || code == "case" {
                json!("土木建筑")
            } else {
                Value::Null
            };
            json!({"code": code, "specialty": specialty})
        })
        .collect();
    json!({
        "period_id": period["id"],
        "region_id": period["regions"][region]["id"],
        "exam_type_id": exam["id"],
        "subjects": subjects,
        "joint_invoice": false,
        "photo_id": photo,
    })
}

pub(crate) fn tab<'a>(my_exams: &'a Value, tab: &str) -> &'a Vec<Value> {
    my_exams["tabs"].as_array().expect("tabs").iter().find(|t| t["tab"] == tab).expect("tab")["registrations"]
        .as_array()
        .expect("registrations")
}

pub(crate) fn reviewer_ctx() -> Ctx {
    Ctx {
        who: Who::Staff { id: baoming_store::new_id::<StaffId>(), role: Actor::Reviewer },
        now: chrono::Utc::now(),
        request_id: None,
    }
}

pub(crate) fn count(conn: &mut DbConnection, table: &str) -> i64 {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<N>(conn)
        .expect("count")
        .n
}

// ---------------------------------------------------------------------------------------------

#[actix_web::test]
async fn openapi_documents_every_route() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let doc: Value = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")));
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in baoming_api::routes::ROUTES {
        assert!(
            paths.get(*path).and_then(|p| p.get(*method)).is_some(),
            "{method} {path} is missing from /openapi.json"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().map_or(0, |m| m.len())).sum();
    assert_eq!(
        documented,
        baoming_api::routes::ROUTES.len(),
        "/openapi.json documents a route the server does not have"
    );
}

/// A logged-in staff user: the session cookie and the CSRF token.
pub(crate) struct Staff {
    pub(crate) cookie: String,
    pub(crate) csrf: String,
}

impl TestApp {
    /// Creates a staff user with these roles (through the store) and logs in over HTTP.
    pub(crate) async fn staff(&self, username: &str, roles: &str) -> Staff {
        use baoming_accounts::{DisplayName, Password, Roles, Username};
        let name = Username::parse(username).expect("username");
        let password = "correct horse battery staple";
        let hash =
            baoming_accounts::hash_password(&Password::parse(password, &name).expect("password"))
                .expect("hash");
        baoming_store::staff::create(
            &mut self.conn(),
            &name,
            &DisplayName::parse("测试员工").expect("display name"),
            &Roles::parse(roles).expect("roles"),
            &hash,
            chrono::Utc::now(),
        )
        .expect("staff user");
        self.staff_login(username, password).await.expect("logged in")
    }

    /// Logs a staff user in; the error status and body on failure.
    pub(crate) async fn staff_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Staff, (StatusCode, Value)> {
        let res = self
            .http
            .post(self.url("/api/v1/admin/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .expect("login");
        let status = res.status();
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("baoming_staff="))
            .map(str::to_owned);
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match (status, cookie) {
            (StatusCode::OK, Some(cookie)) => {
                let pair = cookie.split(';').next().expect("cookie pair").to_owned();
                assert!(
                    cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
                    "{cookie}"
                );
                Ok(Staff { cookie: pair, csrf: body["csrf_token"].as_str().expect("csrf").into() })
            }
            _ => Err((status, body)),
        }
    }

    /// A back-office request as `staff` (cookie and CSRF header), or anonymous.
    pub(crate) async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        staff: Option<&Staff>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(staff) = staff {
            req = req.header("cookie", &staff.cookie).header("x-csrf-token", &staff.csrf);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let bytes = res.bytes().await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"bytes": bytes.len()})))
    }

    /// A submitted registration of a new ready participant `n` in the first demo region.
    pub(crate) async fn submitted(&self, n: u32, exam_type: &str) -> String {
        let (token, photo) = self.ready_participant(n).await;
        let period = self.period(&token).await;
        let (status, body) =
            self.post("/api/v1/registrations", &token, form(&period, &photo, 0, exam_type)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().expect("id").to_owned()
    }
}

/// One JSON call: `body` as JSON when given, `token` as the bearer; the answer's status and its
/// body as JSON (a body that is not JSON comes back as a string).
pub(crate) async fn call_json(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http.request(method, url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let text = res.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}
