//! A short run of every scenario against the real api (in this process, on a random port,
//! talking to WeChat and WeChat Pay simulators run beside it, as the tool runs them), on SQLite
//! and on PostgreSQL: the invariants must hold (pay-notify's among them). Speed is not asserted. Then the tool
//! itself against the api binary, for the api's peak memory in a burst of uploads with the
//! bomb fixtures.

use baoming_loadtest::client::Api;
use baoming_loadtest::paynotify::PaySide;
use baoming_loadtest::scenarios::{self, Config, Scenario, Target};
use baoming_store::testing::TestDb;

async fn short_run(db: TestDb) {
    let data = tempfile::tempdir().expect("data dir");
    let mut raw = baoming_api::runtime::config::RawConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().to_path_buf(),
        database_url: Some(db.url().to_owned()),
        demo_data: false,
        ..Default::default()
    };
    // The simulators outside the api (`wechat.simulator = false`, development credentials).
    use baoming_wechatpay_sim::dev_keys;
    let wechat = baoming_wechat_sim::start_in_background(
        "127.0.0.1:0".parse().expect("address"),
        baoming_wechat_sim::SimConfig {
            appid: dev_keys::APPID.into(),
            secret: dev_keys::APP_SECRET.into(),
        },
    )
    .expect("WeChat simulator");
    let pay = PaySide::start().expect("WeChat Pay simulator and relay");
    let merchant_key = data.path().join("merchant.pem");
    std::fs::write(&merchant_key, dev_keys::MERCHANT_PRIVATE_KEY_PEM).expect("key");
    let platform_key = data.path().join("platform-1.pem");
    std::fs::write(&platform_key, dev_keys::PLATFORM_PUBLIC_KEY_1_PEM).expect("key");
    raw.wechat.simulator = false;
    raw.wechat.api_base = wechat.base_url();
    raw.wechat.pay_base = pay.sim.base_url();
    raw.wechat.appid = Some(dev_keys::APPID.into());
    raw.wechat.secret = Some(dev_keys::APP_SECRET.into());
    raw.wechatpay.mchid = Some(dev_keys::MCHID.into());
    raw.wechatpay.merchant_serial = Some(dev_keys::MERCHANT_SERIAL_NO.into());
    raw.wechatpay.merchant_key_file = Some(merchant_key);
    raw.wechatpay.apiv3_key = Some(dev_keys::APIV3_KEY.into());
    raw.wechatpay.public_keys = vec![baoming_api::runtime::config::RawPublicKey {
        id: dev_keys::PLATFORM_PUB_KEY_ID_1.into(),
        file: platform_key,
    }];
    raw.wechatpay.notify_url = Some(pay.relay.notify_url());
    // The benchmark's PII keys: the submit floor reads the profiles the api stored.
    raw.pii.id_encryption_key = Some(baoming_loadtest::floor::ENCRYPTION_KEY_HEX.into());
    raw.pii.blind_index_key = Some(baoming_loadtest::floor::BLIND_INDEX_KEY_HEX.into());
    let running = baoming_api::start(raw.validate().expect("settings")).await.expect("api");
    let handle = running.handle.clone();
    let addr = running.addr;
    actix_web::rt::spawn(running.server);
    pay.relay.set_target(&format!("http://{addr}"));
    {
        use baoming_accounts::{DisplayName, Password, Roles, Username};
        let name = Username::parse("bench").expect("name");
        let hash = baoming_accounts::hash_password(
            &Password::parse("bench-password-not-secret", &name).expect("pw"),
        )
        .expect("hash");
        let mut conn = db.db.conn().expect("conn");
        baoming_store::staff::create(
            &mut conn,
            &name,
            &DisplayName::parse("压测").expect("display"),
            &Roles::parse("admin,reviewer").expect("roles"),
            &hash,
            chrono::Utc::now(),
        )
        .expect("staff");
    }
    let config = Config {
        participants: 30,
        concurrency: 16,
        runs: 2,
        my_exams: 60,
        logins: 20,
        photos: 2,
        photo_concurrency: 2,
        photo_burst: 8,
        // The api runs in this process: its memory is not its own (the test's binary below).
        burst_memory_limit_kib: None,
        hello: 0,
        floor_threads: 2,
        staff: ("bench".into(), "bench-password-not-secret".into()),
    };
    let target = Target {
        api: Api::new(&format!("http://{addr}"), 16).expect("client"),
        probe: None,
        db: Some(db.db.clone()),
        hello: None,
        pay: Some(pay.clone()),
    };
    let results = scenarios::run(&target, &config, &|_| {}).await.expect("the invariants hold");
    for scenario in [
        Scenario::RushSubmit,
        Scenario::SubmitFloor,
        Scenario::Review,
        Scenario::MyExams,
        Scenario::CheckIn,
        Scenario::PayNotify,
        Scenario::Login,
        Scenario::PhotoUpload,
        Scenario::PhotoBurst,
    ] {
        let runs = &results.runs[&scenario];
        assert_eq!(runs.len(), 2, "{}", scenario.name());
        assert!(runs.iter().all(|m| m.server_errors() == 0), "{}", scenario.name());
    }
    // 30 submissions against 18 seats: 18 approved, 12 refused as full, in each run.
    assert_eq!(results.review_ids, vec![(18, 12), (18, 12)]);
    // 30 orders paid in each run, each notification delivered twice.
    assert_eq!(results.pay_notify, vec![(30, 60), (30, 60)]);
    let text = baoming_loadtest::report::markdown(&results, "test", &[]);
    assert!(text.contains("| rush-submit | 30 |"), "{text}");
    assert!(text.contains("| pay-notify | 60 |"), "{text}");
    // The floor stored all 30 submissions (the round checks them in the database).
    assert!(text.contains("| submit floor (store, no HTTP) | 30 |"), "{text}");
    assert!(text.contains("% of the submit floor"), "{text}");
    assert!(!text.contains("not measured"), "{text}");
    handle.stop(false).await;
    pay.relay.stop().await;
    drop(wechat);
}

/// `baoming-loadtest` (this package's binary) starts the api binary (built next to it by the
/// workspace's test build) and runs one short round whose photo burst is the benchmark's: 64
/// uploads at once, 40 of them bombs, every one answered as it must be, and the api's peak
/// memory under 300 MB (the tool's default limit; over it the tool fails like a broken
/// invariant). The same round's pay-notify runs with the simulators in the tool's process and
/// the api configured to use them (the tool's own wiring): 40 orders paid, 80 deliveries.
/// `database`: `--database` for PostgreSQL, `None` for a fresh SQLite file.
fn burst_within_the_memory_bound(database: Option<&str>) {
    let tool = std::path::Path::new(env!("CARGO_BIN_EXE_baoming-loadtest"));
    let api = tool.with_file_name("baoming-api");
    assert!(
        api.exists(),
        "{} is missing: build it first (`cargo build -p baoming-api`; `just test` does)",
        api.display()
    );
    let mut cmd = std::process::Command::new(tool);
    cmd.args(["--participants", "40", "--concurrency", "8", "--runs", "1", "--my-exams", "20"])
        .args(["--logins", "5", "--photos", "1", "--photo-concurrency", "1"])
        .args(["--photo-burst", "64", "--burst-memory-limit-mb", "300", "--hello", "50"]);
    if let Some(url) = database {
        cmd.args(["--database", url]);
    }
    let out = cmd.output().expect("runs the tool");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the tool failed:\n{stdout}\n{stderr}");
    assert!(
        stderr.contains("every one answered as expected; api peak RSS")
            || stdout.contains("every one answered as expected; api peak RSS"),
        "no photo burst measured:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("| pay-notify | 80 |") && stdout.contains("paid 40 orders"),
        "no pay-notify measured:\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("| submit floor (store, no HTTP) | 40 |"),
        "no submit floor measured:\n{stdout}\n{stderr}"
    );
}

mod sqlite {
    #[actix_web::test]
    async fn a_short_run_keeps_the_invariants() {
        super::short_run(super::TestDb::sqlite()).await;
    }

    #[test]
    fn a_burst_of_bombs_stays_within_the_memory_bound() {
        super::burst_within_the_memory_bound(None);
    }
}

mod postgres {
    #[actix_web::test]
    async fn a_short_run_keeps_the_invariants() {
        super::short_run(super::TestDb::postgres()).await;
    }

    #[test]
    fn a_burst_of_bombs_stays_within_the_memory_bound() {
        let var = baoming_store::testing::POSTGRES_URL_VAR;
        let server = std::env::var(var).unwrap_or_else(|_| panic!("{var} (just test sets it)"));
        super::burst_within_the_memory_bound(Some(&server));
    }
}
