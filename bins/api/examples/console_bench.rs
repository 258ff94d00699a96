//! How long the console's pages take with 10,000 registrations in a period (issue: no page
//! over 200 ms). Seeds a period through the store (registrations in every state of the first
//! half of the journey), starts the api in-process, logs an admin in and reads each page in
//! turn, sequentially, from a client on the same machine. The time is the whole request as the
//! browser would wait for it (HTML rendered and sent), not a server-side figure.
//!
//! ```text
//! cargo run --release -p baoming-api --example console_bench -- [--registrations 10000]
//!     [--rounds 20] [--postgres] [--report FILE]
//! ```
//! `--postgres` makes a fresh database on the server of `BAOMING_TEST_POSTGRES_URL` (as the
//! tests do) and drops it afterwards; the default is a fresh SQLite file.
//! (`just bench-console`). Figures go into docs/performance.md.

// A command-line tool: its report goes to standard output.
#![allow(clippy::print_stdout)]

use std::io::Write;
use std::time::{Duration, Instant};

use baoming_api::runtime::config::RawConfig;
use baoming_domain::lifecycle::State;
use baoming_store::testing::{Fixture, TestDb};
use baoming_store::{periods, seed};
use chrono::Utc;

struct Args {
    registrations: u32,
    rounds: usize,
    postgres: bool,
    report: Option<std::path::PathBuf>,
}

fn args() -> Args {
    let mut out = Args { registrations: 10_000, rounds: 20, postgres: false, report: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--registrations" => out.registrations = value().parse().expect("a number"),
            "--rounds" => out.rounds = value().parse().expect("a number"),
            "--postgres" => out.postgres = true,
            "--report" => out.report = Some(value().into()),
            other => panic!("unknown argument {other}"),
        }
    }
    out
}

/// The state of registration `n`: 40 % pending review, 20 % awaiting payment, 10 % awaiting
/// a transfer's confirmation, 20 % paid, 10 % checked in.
fn state_of(n: u32) -> State {
    match n % 10 {
        0..=3 => State::PendingReview,
        4 | 5 => State::AwaitingPayment,
        6 => State::AwaitingTransfer,
        7 | 8 => State::Paid,
        _ => State::CheckedIn,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

#[actix_web::main]
async fn main() {
    let args = args();
    let db = if args.postgres { TestDb::postgres() } else { TestDb::sqlite() };
    let backend = if db.is_sqlite() { "SQLite" } else { "PostgreSQL" };

    // A period with room for everyone.
    let at = Utc::now();
    let mut plan = seed::demo_period(at);
    plan.name = "压测期次".into();
    for region in &mut plan.regions {
        region.capacity = args.registrations;
    }
    let period =
        periods::create(&mut db.db.conn().expect("connection"), &plan, at).expect("period");
    let fixture = Fixture {
        db: db.db.clone(),
        period,
        at,
        request_id: "console-bench".into(),
        openid_prefix: "bench-".into(),
    };
    let started = Instant::now();
    let mut some_registration = None;
    for n in 0..args.registrations {
        let region = ["01", "02", "03"][(n % 3) as usize];
        let id = fixture.in_state(n, region, state_of(n));
        some_registration.get_or_insert(id);
        if n % 1000 == 999 {
            eprintln!("seeded {} registrations ({:.0?})", n + 1, started.elapsed());
        }
    }
    let registration = some_registration.expect("at least one registration");
    let period = fixture.period.id;

    let data = tempfile::tempdir().expect("data dir");
    let raw = RawConfig {
        listen: "127.0.0.1:0".into(),
        data_dir: data.path().to_path_buf(),
        database_url: Some(db.url().to_owned()),
        ..RawConfig::default()
    };
    let mut raw = raw;
    raw.wechat.simulator_listen = "127.0.0.1:0".into();
    raw.wechatpay.simulator_listen = "127.0.0.1:0".into();
    // The store's fixture encrypted the ID numbers under the test keys.
    raw.pii.id_encryption_key = Some("11".repeat(32));
    raw.pii.blind_index_key = Some("22".repeat(32));
    let settings = raw.validate().expect("settings");
    let running = baoming_api::start(settings).await.expect("api started");
    let base = format!("http://{}", running.addr);
    actix_web::rt::spawn(running.server);

    // An admin (every page) logged in over HTTP.
    {
        use baoming_accounts::{DisplayName, Password, Roles, Username};
        let name = Username::parse("bench").expect("username");
        let password = Password::parse("bench-password-not-secret", &name).expect("password");
        baoming_store::staff::create(
            &mut db.db.conn().expect("connection"),
            &name,
            &DisplayName::parse("压测").expect("name"),
            &Roles::parse("admin").expect("roles"),
            &baoming_accounts::hash_password(&password).expect("hash"),
            Utc::now(),
        )
        .expect("staff");
    }
    let http = reqwest::Client::new();
    let login = http
        .post(format!("{base}/api/v1/admin/auth/login"))
        .json(&serde_json::json!({"username": "bench", "password": "bench-password-not-secret"}))
        .send()
        .await
        .expect("login");
    let cookies: Vec<String> = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|c| c.split(';').next().unwrap_or_default().to_owned())
        .collect();
    let cookie = cookies.join("; ");
    let venue = {
        let detail =
            periods::detail(&mut db.db.conn().expect("connection"), period).expect("period");
        detail.venues[0].id
    };

    let pages = [
        ("dashboard", "/admin/".to_owned()),
        ("review queue (pending)", format!("/admin/review?period_id={period}")),
        ("review queue (all states)", format!("/admin/review?period_id={period}&state=")),
        (
            "review queue (employer filter)",
            format!("/admin/review?period_id={period}&state=&employer=%E7%9B%91%E7%90%86"),
        ),
        ("registration", format!("/admin/registrations/{registration}")),
        ("finance: transfers", format!("/admin/finance?period_id={period}")),
        ("finance: refunds", "/admin/finance/refunds".into()),
        ("finance: unapplied", "/admin/finance/unapplied".into()),
        ("finance: ledger", "/admin/finance/ledger".into()),
        ("finance: reconciliation", "/admin/finance/reconciliation".into()),
        ("finance: invoices", format!("/admin/finance/invoices?period_id={period}")),
        ("check-in desk", format!("/admin/checkin?period_id={period}")),
        ("check-in desk search", format!("/admin/checkin?period_id={period}&q=%E5%BC%A0")),
        ("venue display", format!("/admin/checkin/display/{venue}")),
        ("periods", "/admin/periods".into()),
        ("period edit", format!("/admin/periods/{period}")),
        ("staff", "/admin/staff".into()),
        ("audit log", "/admin/audit".into()),
        ("failed jobs", "/admin/jobs".into()),
    ];
    let mut out = String::new();
    out.push_str(&format!(
        "\n### Console pages, {} registrations in the period ({backend}, {} rounds each)\n\n\
         | page | median ms | p95 ms | max ms | KiB |\n|---|---:|---:|---:|---:|\n",
        args.registrations, args.rounds
    ));
    let mut worst = Duration::ZERO;
    for (name, path) in &pages {
        let mut times = Vec::with_capacity(args.rounds);
        let mut size = 0;
        for round in 0..args.rounds + 3 {
            let t = Instant::now();
            let res = http
                .get(format!("{base}{path}"))
                .header("cookie", &cookie)
                .send()
                .await
                .expect("request");
            let status = res.status();
            let body = res.bytes().await.expect("body");
            let took = t.elapsed();
            assert!(status.is_success(), "{path}: {status}");
            size = body.len();
            if round >= 3 {
                times.push(took);
            }
        }
        times.sort();
        let (median, p95, max) =
            (percentile(&times, 0.5), percentile(&times, 0.95), *times.last().expect("times"));
        worst = worst.max(max);
        out.push_str(&format!(
            "| {name} | {} | {} | {} | {} |\n",
            ms(median),
            ms(p95),
            ms(max),
            size / 1024
        ));
    }
    out.push_str(&format!("\nSlowest single request: {} ms.\n", ms(worst)));
    print!("{out}");
    if let Some(path) = &args.report {
        let mut file =
            std::fs::OpenOptions::new().create(true).append(true).open(path).expect("report file");
        file.write_all(out.as_bytes()).expect("report written");
    }
    running.handle.stop(true).await;
}
