//! A cluster of real processes: two `baoming-api` and two `baoming-worker` processes on one
//! PostgreSQL database and one S3-compatible bucket (moto in CI), with the WeChat and WeChat Pay simulators (run by
//! the test) shared by all, as behind a load balancer. A participant's whole journey alternates
//! between the two api instances; a logout on one is refused on the other within the cache
//! bound; one worker is SIGKILLed in the middle of a batch and the other finishes it, nothing
//! lost and nothing done twice.
//!
//! The worker binary is the one built beside the api's (`cargo nextest run --workspace`, as CI
//! runs, builds both); the test says so when it is missing.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use baoming_domain::ids::{JobId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{Actor, EventKind, State};
use baoming_runtime::storage::S3Settings;
use baoming_store::jobs::{self, Job, JobState};
use baoming_store::testing::Fixture;
use baoming_store::{periods, registrations, seed};
use baoming_wechatpay_sim::dev_keys;
use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::TestDb;
use super::instances::within_bound;

mod postgres {
    #[actix_web::test]
    async fn two_apis_and_two_workers_share_one_database() {
        super::two_apis_and_two_workers(super::TestDb::postgres()).await;
    }
}

/// Seconds a claimed job stays leased (a killed worker's jobs are claimed again after it).
const LEASE_SECS: u64 = 2;
const PASSWORD: &str = "correct horse battery staple";

// ---------------------------------------------------------------------------------------------
// THE SHARED PHOTO STORE: one S3-compatible bucket (moto in CI, at `BAOMING_TEST_S3_URL`).
// Every process has a data directory of its own (`own`); the bucket is all they share besides
// the database, as on machines of their own behind a load balancer.
fn storage_env(bucket: &S3Settings) -> Vec<(String, String)> {
    let mut env = vec![
        ("BAOMING_STORAGE__BACKEND".to_owned(), "s3".to_owned()),
        ("BAOMING_STORAGE__REGION".to_owned(), bucket.region.clone()),
        ("BAOMING_STORAGE__BUCKET".to_owned(), bucket.bucket.clone()),
        ("BAOMING_STORAGE__PATH_STYLE".to_owned(), bucket.path_style.to_string()),
        ("BAOMING_STORAGE__ACCESS_KEY_ID".to_owned(), bucket.access_key_id.clone()),
        ("BAOMING_STORAGE__SECRET_ACCESS_KEY".to_owned(), bucket.secret_access_key.clone()),
    ];
    if let Some(endpoint) = &bucket.endpoint {
        env.push(("BAOMING_STORAGE__ENDPOINT".to_owned(), endpoint.clone()));
    }
    env
}
// ---------------------------------------------------------------------------------------------

/// The worker binary beside the api's.
fn worker_binary() -> PathBuf {
    let api = Path::new(env!("CARGO_BIN_EXE_baoming-api"));
    let worker = api.with_file_name(format!("baoming-worker{}", std::env::consts::EXE_SUFFIX));
    assert!(
        worker.is_file(),
        "the cluster test runs the worker binary built beside the api's, {}, and it is missing: \
         build the workspace first (`cargo build --workspace`; `cargo nextest run --workspace`, \
         as CI runs, does) or `cargo build -p baoming-worker`",
        worker.display()
    );
    worker
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A process of the cluster, SIGKILLed when dropped (a failed test leaves nothing running).
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(
        name: &'static str,
        binary: &Path,
        args: &[&str],
        env: &[(String, String)],
        root: &Path,
    ) -> Process {
        let own = root.join(name);
        std::fs::create_dir_all(&own).expect("process directory");
        let log = root.join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(binary);
        // Only the settings of this test: no BAOMING_* of the caller's shell.
        for (key, _) in std::env::vars() {
            if key.starts_with("BAOMING_") {
                cmd.env_remove(&key);
            }
        }
        cmd.args(args)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env("RUST_LOG", "info")
            .env("BAOMING_DATA_DIR", &own);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd
            .env("BAOMING_CONFIG", root.join("baoming.toml"))
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {name} ({}): {e}", binary.display()));
        Process { name, child, log }
    }

    fn logs(&self) -> String {
        format!("--- {}:\n{}", self.name, std::fs::read_to_string(&self.log).unwrap_or_default())
    }

    fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("{} exited: {status}\n{}", self.name, self.logs());
        }
    }
}

/// Every process's log.
fn logs(root: &Path, what: &str) -> String {
    let mut all = format!("{what}\n");
    for name in ["api-a", "api-b", "worker-1", "worker-2"] {
        let text = std::fs::read_to_string(root.join(format!("{name}.log"))).unwrap_or_default();
        all.push_str(&format!("--- {name}:\n{text}\n"));
    }
    all
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One api instance over HTTP.
struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    fn new(port: u16) -> Api {
        Api {
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::builder()
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .expect("client"),
        }
    }

    async fn ready(&self, process: &mut Process) {
        let started = Instant::now();
        loop {
            process.assert_running();
            if let Ok(res) = self.http.get(format!("{}/readyz", self.base)).send().await
                && res.status() == StatusCode::OK
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{} never ready\n{}",
                process.name,
                process.logs()
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        super::call_json(&self.http, method, &format!("{}{path}", self.base), token, body).await
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// A back-office session: (cookie, CSRF token).
    async fn staff_login(&self, username: &str) -> (String, String) {
        let res = self
            .http
            .post(format!("{}/api/v1/admin/auth/login", self.base))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(res.status(), StatusCode::OK);
        let cookie = res
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("baoming_staff="))
            .and_then(|v| v.split(';').next())
            .expect("session cookie")
            .to_owned();
        let body: Value = res.json().await.expect("json");
        (cookie, body["csrf_token"].as_str().expect("csrf").to_owned())
    }

    async fn admin(
        &self,
        method: Method,
        path: &str,
        staff: &(String, String),
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("cookie", &staff.0)
            .header("x-csrf-token", &staff.1);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let bytes = res.bytes().await.expect("body");
        (status, serde_json::from_slice(&bytes).unwrap_or_else(|_| json!({"bytes": bytes.len()})))
    }
}

/// The settings every process reads (the database, the simulators' endpoints and their
/// development credentials, fixed keys, a quick worker).
fn write_config(root: &Path, database: &str, wechat: &str, pay: &str, notify: &str) {
    let key = |name: &str, pem: &str| {
        let path = root.join(name);
        std::fs::write(&path, pem).expect("key file");
        path.display().to_string()
    };
    let merchant_key = key("merchant.pem", dev_keys::MERCHANT_PRIVATE_KEY_PEM);
    let platform_1 = key("platform-1.pem", dev_keys::PLATFORM_PUBLIC_KEY_1_PEM);
    let platform_2 = key("platform-2.pem", dev_keys::PLATFORM_PUBLIC_KEY_2_PEM);
    let ticket_seed = key("ticket.key", &"5a".repeat(32));
    let text = format!(
        r#"mode = "dev"
database_url = "{database}"
pool_size = 8
demo_data = false

[wechat]
simulator = false
api_base = "{wechat}"
pay_base = "{pay}"
appid = "{appid}"
secret = "{secret}"

[wechatpay]
mchid = "{mchid}"
merchant_serial = "{serial}"
merchant_key_file = "{merchant_key}"
apiv3_key = "{apiv3}"
public_keys = [{{ id = "{id_1}", file = "{platform_1}" }}, {{ id = "{id_2}", file = "{platform_2}" }}]
notify_url = "{notify}"

[pii]
id_encryption_key = "{enc}"
blind_index_key = "{idx}"

[tickets]
signing_keys = [{{ kid = "cluster", seed_file = "{ticket_seed}" }}]

[worker]
lease_secs = {LEASE_SECS}
poll_interval_ms = 50
batch_size = 10
"#,
        appid = dev_keys::APPID,
        secret = dev_keys::APP_SECRET,
        mchid = dev_keys::MCHID,
        serial = dev_keys::MERCHANT_SERIAL_NO,
        apiv3 = dev_keys::APIV3_KEY,
        id_1 = dev_keys::PLATFORM_PUB_KEY_ID_1,
        id_2 = dev_keys::PLATFORM_PUB_KEY_ID_2,
        // The keys of the store's test fixture (`baoming_store::testing::cipher`).
        enc = "11".repeat(32),
        idx = "22".repeat(32),
    );
    std::fs::File::create(root.join("baoming.toml"))
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .expect("config file");
}

fn state_of(test: &TestDb, id: &str) -> State {
    let id = RegistrationId::parse(id).expect("id");
    registrations::get(&mut test.db.conn().expect("connection"), id)
        .expect("registration")
        .status
        .state
}

/// Jobs claimed by the worker process `pid` and not finished.
fn leased_to(test: &TestDb, pid: u32) -> i64 {
    use baoming_store::schema::jobs as j;
    use diesel::prelude::*;
    j::table
        .filter(j::locked_by.like(format!("%/{pid}/%")))
        .filter(j::completed_at.is_null())
        .filter(j::failed_at.is_null())
        .count()
        .get_result(&mut *test.db.conn().expect("connection"))
        .expect("count")
}

async fn two_apis_and_two_workers(test: TestDb) {
    let root = tempfile::tempdir().expect("cluster directory");
    let root = root.path();
    let bucket = baoming_runtime::storage::testing::new_bucket(None);

    // The simulators every process talks to.
    let wechat = baoming_wechat_sim::start_in_background(
        "127.0.0.1:0".parse().expect("address"),
        baoming_wechat_sim::SimConfig {
            appid: dev_keys::APPID.into(),
            secret: dev_keys::APP_SECRET.into(),
        },
    )
    .expect("WeChat simulator");
    let pay = baoming_wechatpay_sim::start_in_background(baoming_wechatpay_sim::SimConfig {
        time_scale: 0.001,
        ..baoming_wechatpay_sim::SimConfig::dev(dev_keys::MCHID, dev_keys::APPID)
    })
    .expect("WeChat Pay simulator");

    // The period and the staff, through the store.
    let now = Utc::now();
    let period =
        periods::create(&mut test.db.conn().expect("connection"), &seed::demo_period(now), now)
            .expect("period");
    {
        use baoming_accounts::{DisplayName, Password, Roles, Username};
        let name = Username::parse("admin1").expect("username");
        let hash =
            baoming_accounts::hash_password(&Password::parse(PASSWORD, &name).expect("password"))
                .expect("hash");
        baoming_store::staff::create(
            &mut test.db.conn().expect("connection"),
            &name,
            &DisplayName::parse("集群管理员").expect("display name"),
            &Roles::parse("admin,reviewer,finance,checkin").expect("roles"),
            &hash,
            now,
        )
        .expect("staff user");
    }
    // A batch for the workers: 150 sweeps over a period whose sitting ended, 40 registrations
    // for them to close or complete (each sweep is a full run of the handler: the first to run
    // does the work, the others find nothing left).
    let f = Fixture::new(&test.db, now - chrono::Duration::days(40));
    let kinds =
        [State::AwaitingPayment, State::AwaitingTransfer, State::PendingReview, State::CheckedIn];
    let swept: Vec<_> = (0..40u32)
        .map(|n| {
            let state = kinds[n as usize % kinds.len()];
            (f.in_state(n, "01", state), state)
        })
        .collect();
    let batch: Vec<JobId> = {
        use baoming_store::schema::jobs as j;
        use diesel::prelude::*;
        let mut conn = test.db.conn().expect("connection");
        // The fixture's approvals queued subscribe messages; the batch is the sweeps.
        diesel::delete(j::table.filter(j::kind.eq("notify"))).execute(&mut *conn).expect("deleted");
        (0..150)
            .map(|i| {
                let slot = f.at + chrono::Duration::minutes(i);
                jobs::enqueue(&mut conn, &Job::ClockSweep { slot }, slot, slot).expect("enqueued")
            })
            .collect()
    };

    // Two apis and two workers. WeChat Pay notifies api B, whichever api opened the order.
    let (port_a, port_b) = (free_port(), free_port());
    write_config(
        root,
        test.url(),
        &wechat.base_url(),
        &pay.base_url(),
        &format!("http://127.0.0.1:{port_b}/api/v1/wechatpay/notify"),
    );
    let api_binary = Path::new(env!("CARGO_BIN_EXE_baoming-api"));
    let worker_binary = worker_binary();
    let env = |port: Option<u16>| {
        let mut env = storage_env(&bucket);
        if let Some(port) = port {
            env.push(("BAOMING_LISTEN".into(), format!("127.0.0.1:{port}")));
        }
        env
    };
    let mut api_a = Process::spawn("api-a", api_binary, &["serve"], &env(Some(port_a)), root);
    let mut api_b = Process::spawn("api-b", api_binary, &["serve"], &env(Some(port_b)), root);
    let mut worker_1 = Process::spawn("worker-1", &worker_binary, &["run"], &env(None), root);
    let mut worker_2 = Process::spawn("worker-2", &worker_binary, &["run"], &env(None), root);
    let (a, b) = (Api::new(port_a), Api::new(port_b));
    a.ready(&mut api_a).await;
    b.ready(&mut api_b).await;
    let logs = |what: &str| logs(root, what);

    // Worker 1 is killed in the middle of the batch: some jobs done, some claimed by it.
    let started = Instant::now();
    let held = loop {
        worker_1.assert_running();
        worker_2.assert_running();
        let done = jobs::counts(&mut test.db.conn().expect("connection"), Utc::now())
            .expect("counts")
            .completed;
        let held = leased_to(&test, worker_1.child.id());
        if done >= 20 && held > 0 {
            worker_1.child.kill().expect("SIGKILL");
            break held;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{}",
            logs("the batch never got going")
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    let status = worker_1.child.wait().expect("reaped");
    assert!(status.code().is_none(), "killed by a signal: {status:?}");
    let at_kill =
        jobs::counts(&mut test.db.conn().expect("connection"), Utc::now()).expect("counts");
    eprintln!("worker 1 killed holding {held} jobs; jobs then: {at_kill:?}");
    assert!(at_kill.completed < 150, "the kill landed before the batch was done: {at_kill:?}");

    // The participant's journey, alternating between the instances.
    let (status, body) = a
        .call(
            Method::POST,
            "/api/v1/auth/wechat-login",
            None,
            Some(json!({"code": "cluster-user"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = body["token"].as_str().expect("token").to_owned();
    let (status, body) =
        b.call(Method::PUT, "/api/v1/profile", Some(&token), Some(super::profile_body(900))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let upload = reqwest::multipart::Form::new().part(
        "photo",
        reqwest::multipart::Part::bytes(super::id_photo(590, 826, super::WHITE))
            .file_name("me.jpg"),
    );
    let res = a
        .http
        .post(format!("{}/api/v1/photos", a.base))
        .bearer_auth(&token)
        .multipart(upload)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::CREATED);
    let photo: Value = res.json().await.expect("json");
    let photo = photo["id"].as_str().expect("photo id").to_owned();
    // The photo stored through A is served by B (one store).
    let res = b
        .http
        .get(format!("{}/api/v1/photos/{photo}", b.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("photo");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(image::load_from_memory(&res.bytes().await.expect("bytes")).is_ok(), "an image");

    let (status, list) = b.get("/api/v1/periods", &token).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let listed = list[0].clone();
    assert_eq!(listed["id"], period.id.to_string());
    let (status, body) = a
        .post("/api/v1/registrations", &token, super::form(&listed, &photo, 0, "exempt_basic"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();

    // Staff log in on B, look at the photo and approve on A.
    let staff = b.staff_login("admin1").await;
    let (status, body) = b
        .admin(Method::GET, &format!("/api/v1/admin/registrations/{id}/photo"), &staff, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = a
        .admin(Method::POST, &format!("/api/v1/admin/registrations/{id}/approve"), &staff, None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Pay on B; WeChat Pay's notification lands on B.
    let (status, order) =
        b.post(&format!("/api/v1/registrations/{id}/pay/wechat"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    pay.pay(order["out_trade_no"].as_str().expect("out_trade_no")).expect("paid");
    let paying = Instant::now();
    while state_of(&test, &id) != State::Paid {
        assert!(paying.elapsed() < Duration::from_secs(15), "{}", logs("never paid"));
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    // Both show it waiting for check-in (and cache the period).
    for api in [&a, &b] {
        let (_, mine) = api.get("/api/v1/my-exams", &token).await;
        let waiting = super::tab(&mine, "awaiting_check_in");
        assert_eq!(waiting.len(), 1, "{mine}");
        let actions = waiting[0]["actions"].as_array().expect("actions");
        assert!(!actions.contains(&json!("check_in")), "check-in is not open yet: {mine}");
    }

    // An admin opens check-in now through A; B's cached period follows within the bound.
    let (_, periods) = a.admin(Method::GET, "/api/v1/admin/periods", &staff, None).await;
    let view = periods
        .as_array()
        .expect("periods")
        .iter()
        .find(|v| v["period"]["id"] == period.id.to_string())
        .expect("the period")
        .clone();
    let mut edit = super::period_body(&view);
    edit["checkin_opens"] = json!((Utc::now() - chrono::Duration::hours(1)).to_rfc3339());
    edit["checkin_closes"] = json!((Utc::now() + chrono::Duration::hours(2)).to_rfc3339());
    let path = format!("/api/v1/admin/periods/{}", period.id);
    let (status, edited) = a.admin(Method::PUT, &path, &staff, Some(edit)).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let opened = Instant::now();
    within_bound("B offers the check-in", opened, || async {
        let (_, mine) = b.get("/api/v1/my-exams", &token).await;
        super::tab(&mine, "awaiting_check_in")[0]["actions"]
            == json!(["check_in", "request_refund"])
    })
    .await;
    let venue = edited["venues"][0]["id"].as_str().expect("venue").to_owned();
    let (status, code) =
        a.admin(Method::GET, &format!("/api/v1/admin/venues/{venue}/code"), &staff, None).await;
    assert_eq!(status, StatusCode::OK, "{code}");
    let (status, body) = b
        .post(
            &format!("/api/v1/registrations/{id}/check-in"),
            &token,
            json!({"code": code["code"]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["registration"]["state"], "checked_in");
    let (_, mine) = a.get("/api/v1/my-exams", &token).await;
    assert_eq!(super::tab(&mine, "checked_in")[0]["id"], id.as_str(), "{mine}");

    // Logged out on A, refused on B within the bound (B has the session cached).
    for _ in 0..3 {
        assert_eq!(b.get("/api/v1/profile", &token).await.0, StatusCode::OK);
    }
    let (status, _) = a.call(Method::POST, "/api/v1/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let logged_out = Instant::now();
    within_bound("B refuses the logged-out token", logged_out, || async {
        b.get("/api/v1/profile", &token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    assert_eq!(a.get("/api/v1/profile", &token).await.0, StatusCode::UNAUTHORIZED);

    // Each step of the journey happened once.
    let history = registrations::history(
        &mut test.db.conn().expect("connection"),
        RegistrationId::parse(&id).expect("id"),
    )
    .expect("history");
    for kind in
        [EventKind::Submit, EventKind::Approve, EventKind::ConfirmPayment, EventKind::CheckIn]
    {
        let times = history.iter().filter(|e| e.event == kind).count();
        assert_eq!(times, 1, "{kind:?}: {history:?}");
    }

    // The surviving worker finishes the batch once the dead one's leases ran out.
    let finishing = Instant::now();
    let mut conn = test.db.conn().expect("connection");
    loop {
        worker_2.assert_running();
        let open = batch
            .iter()
            .filter(|id| {
                jobs::get(&mut conn, **id).expect("job").state(Utc::now()) != JobState::Completed
            })
            .count();
        if open == 0 {
            break;
        }
        assert!(
            finishing.elapsed() < Duration::from_secs(20),
            "{}",
            logs(&format!("{open} jobs left"))
        );
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    for id in &batch {
        let job = jobs::get(&mut conn, *id).expect("job");
        assert!(matches!(job.attempts, 1..=3), "{job:?}");
    }
    // Every registration moved exactly once, by the clock.
    for (id, before) in &swept {
        let history = registrations::history(&mut conn, *id).expect("history");
        let clock: Vec<_> = history.iter().filter(|e| e.actor == Actor::Clock).collect();
        assert_eq!(clock.len(), 1, "{id} ({before:?}): {history:?}");
        assert_eq!(clock[0].event, EventKind::SittingEnded);
        let expected = if *before == State::CheckedIn { State::Completed } else { State::Closed };
        assert_eq!(registrations::get(&mut conn, *id).expect("r").status.state, expected);
    }
    let region =
        periods::region(&mut conn, f.period.region("01").expect("region")).expect("region");
    assert_eq!(region.seats_taken, 10, "only the completed registrations keep their seats");
    api_b.assert_running();
    api_a.assert_running();
}
