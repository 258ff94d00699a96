//! The worker binary against real databases (every test on SQLite and on PostgreSQL): killed
//! with SIGKILL in the middle of a batch and restarted, it loses and doubles nothing; under a
//! systemd-like notify socket it reports readiness, pings the watchdog and stops gracefully on
//! SIGTERM.

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use baoming_domain::ids::JobId;
use baoming_domain::lifecycle::{Actor, EventKind, State};
use baoming_store::jobs::{self, Job, JobState};
use baoming_store::testing::{Fixture, TestDb};
use baoming_store::{Db, periods, registrations};
use chrono::Utc;

baoming_store::on_both_backends!(
    a_killed_worker_loses_and_doubles_nothing,
    sigterm_stops_gracefully,
    payment_jobs_against_the_simulator,
    a_killed_worker_requests_each_refund_once,
    closed_refunds_are_retried_once_by_a_killed_worker,
    render_jobs_render_each_ticket_once,
    retention_command_dry_run_then_run,
);

/// Seconds a claimed job stays leased in these tests.
const LEASE_SECS: u64 = 2;

/// The worker binary with its configuration in the environment, logging to `log`.
fn worker(test: &TestDb, data: &Path, log: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baoming-worker"));
    let log = std::fs::File::create(data.join(log)).expect("log file");
    cmd.args(args)
        .env_remove("BAOMING_CONFIG")
        .env_remove("NOTIFY_SOCKET")
        .env_remove("WATCHDOG_USEC")
        .env_remove("WATCHDOG_PID")
        .env("BAOMING_DATABASE_URL", test.url())
        .env("BAOMING_DATA_DIR", data)
        .env("BAOMING_WORKER__LEASE_SECS", LEASE_SECS.to_string())
        .env("BAOMING_WORKER__POLL_INTERVAL_MS", "50")
        .env("BAOMING_WORKER__BATCH_SIZE", "10")
        .env("RUST_LOG", "info")
        // Fixture participants are not WeChat users the message simulator knows.
        .env("BAOMING_WECHAT__TEMPLATES__APPROVED", "")
        .env("BAOMING_WECHAT__TEMPLATES__REJECTED", "")
        .env("BAOMING_WECHAT__TEMPLATES__PAID", "")
        .env("BAOMING_WECHAT__TEMPLATES__CLOSED", "")
        .env("BAOMING_WECHAT__TEMPLATES__REFUND_APPROVED", "")
        .env("BAOMING_WECHAT__TEMPLATES__REFUND_DENIED", "")
        .env("BAOMING_WECHAT__TEMPLATES__REFUNDED", "")
        .env("BAOMING_WECHAT__TEMPLATES__REFUND_FAILED", "")
        .env("BAOMING_WECHAT__TEMPLATES__TICKET_PUBLISHED", "")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log);
    cmd
}

fn logs(data: &Path) -> String {
    let mut all = String::new();
    for name in ["run.log", "run2.log", "once.log"] {
        if let Ok(text) = std::fs::read_to_string(data.join(name)) {
            all.push_str(&format!("--- {name}\n{text}"));
        }
    }
    all
}

fn wait(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

/// Starts `run`, SIGKILLs it as soon as `kill_when(jobs completed, clock events)` holds, and
/// returns the job counts after the kill.
fn run_until_killed(
    test: &TestDb,
    data: &Path,
    log: &str,
    kill_when: impl Fn(i64, i64) -> bool,
) -> jobs::JobCounts {
    let mut conn = test.db.conn().expect("connection");
    let mut run = worker(test, data, log, &["run"]).spawn().expect("worker");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        let done = jobs::counts(&mut conn, Utc::now()).expect("counts").completed;
        if kill_when(done, clock_event_rows(&test.db)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    run.kill().expect("SIGKILL");
    let status = run.wait().expect("reaped");
    assert!(status.code().is_none(), "killed by a signal: {status:?}\n{}", logs(data));
    let counts = jobs::counts(&mut conn, Utc::now()).expect("counts");
    eprintln!(
        "{log}: killed after {:?} with {} of 40 clock events written, jobs {counts:?}",
        started.elapsed(),
        clock_event_rows(&test.db)
    );
    counts
}

/// Rows of the event log written by the clock.
fn clock_event_rows(db: &Db) -> i64 {
    use baoming_store::schema::registration_events as e;
    use diesel::prelude::*;
    e::table
        .filter(e::actor.eq(Actor::Clock.as_str()))
        .count()
        .get_result(&mut *db.conn().expect("connection"))
        .expect("count")
}

fn a_killed_worker_loses_and_doubles_nothing(test: TestDb) {
    let data = tempfile::tempdir().expect("data dir");
    // A period whose payment deadline passed and whose sitting ended (the worker reads the
    // real clock), with 40 registrations the sweep must close or complete.
    let f = Fixture::new(&test.db, Utc::now() - chrono::Duration::days(40));
    let kinds =
        [State::AwaitingPayment, State::AwaitingTransfer, State::PendingReview, State::CheckedIn];
    let registrations: Vec<_> = (0..40u32)
        .map(|n| {
            let state = kinds[n as usize % kinds.len()];
            (f.in_state(n, "01", state), state)
        })
        .collect();
    // A batch of jobs: sweeps of 150 past slots. Each is a full run of the handler (the first
    // to run does the work, the others find nothing left).
    let mut conn = test.db.conn().expect("connection");
    {
        // The fixture's approvals queued subscribe messages; this test counts sweeps only.
        use baoming_store::schema::jobs as j;
        use diesel::prelude::*;
        diesel::delete(j::table.filter(j::kind.eq("notify"))).execute(&mut *conn).expect("deleted");
    }
    let batch: Vec<JobId> = (0..150)
        .map(|i| {
            let slot = f.at + chrono::Duration::minutes(i);
            jobs::enqueue(&mut conn, &Job::ClockSweep { slot }, slot, slot).expect("enqueued")
        })
        .collect();

    // First kill: in the middle of the first sweep (some registrations moved, not all).
    let first =
        run_until_killed(&test, data.path(), "run.log", |done, events| events > 0 || done > 0);
    // Second kill: after the dead worker's leases ran out, in the middle of the batch (some
    // jobs done, many not).
    std::thread::sleep(Duration::from_millis(LEASE_SECS * 1000 + 500));
    let second = run_until_killed(&test, data.path(), "run2.log", |done, _| done >= 20);
    assert!(second.completed < 150, "the kill landed before the batch was done: {second:?}");
    assert!(first.completed < second.completed);

    // The dead worker's leases run out; a `once` run drains everything.
    std::thread::sleep(Duration::from_millis(LEASE_SECS * 1000 + 500));
    let once = worker(&test, data.path(), "once.log", &["once"]).status().expect("once");
    assert!(once.success(), "once failed: {once:?}\n{}", logs(data.path()));

    let counts = jobs::counts(&mut conn, Utc::now()).expect("counts");
    assert_eq!((counts.running, counts.failed), (0, 0), "{counts:?}\n{}", logs(data.path()));
    // Nothing of the batch is left. After 10:00 Beijing time the day's reconciliation is due
    // too, and it waits to retry here (this test has no WeChat Pay to fetch the bill from).
    let left: Vec<_> = jobs::pending(&mut conn)
        .expect("pending")
        .into_iter()
        .filter(|row| !matches!(row.job, Job::Reconcile { .. }))
        .collect();
    assert!(left.is_empty(), "{left:?}\n{}", logs(data.path()));
    let mut attempts: BTreeMap<i32, usize> = BTreeMap::new();
    for id in &batch {
        let job = jobs::get(&mut conn, *id).expect("job");
        assert_eq!(job.state(Utc::now()), JobState::Completed, "{job:?}");
        assert!(matches!(job.attempts, 1..=3), "{job:?}");
        *attempts.entry(job.attempts).or_default() += 1;
    }
    eprintln!("attempts of the batch's jobs: {attempts:?}");

    // Every registration moved exactly once, by the clock.
    for (id, before) in &registrations {
        let history = registrations::history(&mut conn, *id).expect("history");
        let clock: Vec<_> = history.iter().filter(|e| e.actor == Actor::Clock).collect();
        assert_eq!(clock.len(), 1, "{id} ({before:?}): {history:?}\n{}", logs(data.path()));
        assert_eq!(clock[0].event, EventKind::SittingEnded);
        let expected = if *before == State::CheckedIn { State::Completed } else { State::Closed };
        assert_eq!(clock[0].to.state, expected);
        assert_eq!(registrations::get(&mut conn, *id).expect("r").status.state, expected);
    }
    assert_eq!(clock_event_rows(&test.db), 40);
    let region = periods::region(&mut conn, f.period.region("01").expect("region")).expect("r");
    assert_eq!(region.seats_taken, 10, "only the completed registrations keep their seats");
}

fn sigterm_stops_gracefully(test: TestDb) {
    let data = tempfile::tempdir().expect("data dir");
    let socket_path = data.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).expect("notify socket");
    socket.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let mut child = worker(&test, data.path(), "run.log", &["run"])
        .env("NOTIFY_SOCKET", &socket_path)
        .env("WATCHDOG_USEC", "200000")
        .spawn()
        .expect("worker");
    let next = |what: &str| -> bool {
        let mut buf = [0u8; 512];
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let Ok(n) = socket.recv(&mut buf) else { return false };
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            if message.lines().any(|l| l == what) {
                return true;
            }
        }
        false
    };
    assert!(next("READY=1"), "no readiness\n{}", logs(data.path()));
    assert!(next("WATCHDOG=1"), "no watchdog ping\n{}", logs(data.path()));
    // It works: the clock schedule's first run is done.
    let mut conn = test.db.conn().expect("connection");
    let started = Instant::now();
    while jobs::counts(&mut conn, Utc::now()).expect("counts").completed == 0 {
        assert!(started.elapsed() < Duration::from_secs(30), "no job done\n{}", logs(data.path()));
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed =
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status().expect("kill -TERM");
    assert!(killed.success());
    let status = wait(&mut child, Duration::from_secs(20)).unwrap_or_else(|| {
        let _ = child.kill();
        panic!("still running 20 s after SIGTERM\n{}", logs(data.path()))
    });
    assert_eq!(status.code(), Some(0), "{}", logs(data.path()));
    assert!(next("STOPPING=1"), "no STOPPING=1\n{}", logs(data.path()));
    assert!(logs(data.path()).contains("worker stopped"), "{}", logs(data.path()));
}

#[test]
fn a_bad_setting_exits_with_2_naming_the_key() {
    let data = tempfile::tempdir().expect("data dir");
    let out = Command::new(env!("CARGO_BIN_EXE_baoming-worker"))
        .arg("once")
        .env_remove("BAOMING_CONFIG")
        .env("BAOMING_DATA_DIR", data.path())
        .env("BAOMING_WORKER__BATCH_SIZE", "0")
        .output()
        .expect("worker");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("worker.batch_size"));
}

// ---------------------------------------------------------------------------------------------
// WeChat Pay jobs against the WeChat Pay simulator

use baoming_domain::lifecycle::{Event, Flag, Reason};
use baoming_payments::{JsapiOrder, OutTradeNo};
use baoming_runtime::pay::Pay;
use baoming_store::payments::{self, RefundState};
use baoming_store::testing::staff;
use baoming_store::{DbConnection, participants};
use baoming_wechatpay_sim::{ApiFailure, Faults, SimConfig, Simulator};
use baoming_worker::{Services, Worker};

/// Everything a worker in this process needs, against fresh simulators.
struct PayWorld {
    runtime: tokio::runtime::Runtime,
    pay_sim: Simulator,
    wechat_sim: baoming_wechat_sim::Simulator,
    services: Services,
    settings: baoming_runtime::config::Settings,
}

impl PayWorld {
    fn new(data: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let raw = baoming_runtime::config::RawConfig {
            data_dir: data.to_path_buf(),
            ..baoming_runtime::config::RawConfig::default()
        };
        let settings = raw.validate().expect("dev settings");
        let pay_sim = baoming_wechatpay_sim::start_in_background(SimConfig {
            time_scale: 0.001,
            refund_settle_delay: Duration::from_millis(100),
            ..SimConfig::dev(settings.pay.mchid(), &settings.wechat_appid)
        })
        .expect("pay simulator");
        let wechat_sim = baoming_wechat_sim::start_in_background(
            std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            baoming_wechat_sim::SimConfig {
                appid: settings.wechat_appid.clone(),
                secret: settings.wechat_secret.clone(),
            },
        )
        .expect("wechat simulator");
        // Nobody listens for notifications here: the jobs must manage by querying.
        let pay = Pay::new(
            &settings.pay,
            &settings.wechat_appid,
            &pay_sim.base_url(),
            "http://127.0.0.1:9/api/v1/wechatpay/notify".into(),
        )
        .expect("pay client");
        let wechat = baoming_wechat::WechatClient::new(baoming_wechat::WechatConfig {
            api_base: wechat_sim.base_url(),
            appid: settings.wechat_appid.clone(),
            secret: settings.wechat_secret.clone(),
            timeout: Duration::from_secs(5),
        })
        .expect("wechat client");
        let services = Services {
            pay,
            wechat,
            templates: settings.templates.clone(),
            runtime: runtime.handle().clone(),
            refund_recheck: chrono::Duration::milliseconds(150),
            tickets: baoming_worker::tickets::TicketServices {
                fonts: std::sync::Arc::new(baoming_runtime::tickets::TicketFonts::new(
                    settings.tickets.fonts.clone(),
                )),
                keys: settings.tickets.keys.clone(),
                storage: baoming_runtime::storage::open(&settings.storage).expect("storage"),
                cipher: baoming_store::testing::cipher(),
                threads: 2,
            },
            retention: None,
        };
        PayWorld { runtime, pay_sim, wechat_sim, services, settings }
    }

    fn worker(&self, db: &Db) -> Worker {
        Worker::new(db.clone(), self.settings.worker, self.services.clone())
    }

    /// Opens the registration's order here and at WeChat Pay: its out_trade_no.
    fn order(
        &self,
        conn: &mut DbConnection,
        f: &Fixture,
        id: baoming_domain::ids::RegistrationId,
    ) -> String {
        let order =
            payments::open_order(conn, id, f.owner(id), "测试报名费", Utc::now()).expect("order");
        let request = JsapiOrder {
            description: order.description.clone(),
            out_trade_no: OutTradeNo::parse(&order.out_trade_no).expect("no"),
            time_expire: None,
            attach: None,
            notify_url: self.services.pay.notify_url.clone(),
            total: order.amount,
            payer_openid: order.openid.clone(),
        };
        let prepay =
            self.runtime.block_on(self.services.pay.client.jsapi_order(&request)).expect("prepay");
        payments::set_prepay_id(conn, order.id, prepay.as_str(), Utc::now())
            .expect("prepay stored");
        order.out_trade_no
    }

    /// The person pays at WeChat; the notification is lost.
    fn pay_unnoticed(&self, out_trade_no: &str) {
        self.pay_sim
            .set_faults(Faults { drop_notifications: Some(1), ..Faults::default() })
            .expect("faults");
        self.pay_sim.pay(out_trade_no).expect("paid at WeChat");
    }
}

/// Makes every pending job of `kind` due now.
fn due_now(conn: &mut DbConnection, kind: &str) {
    use baoming_store::schema::jobs as j;
    use diesel::prelude::*;
    diesel::update(j::table.filter(j::kind.eq(kind)).filter(j::completed_at.is_null()))
        .set(j::run_at.eq((Utc::now() - chrono::Duration::seconds(1)).naive_utc()))
        .execute(conn)
        .expect("due");
}

/// Drains the queue until `done` holds (at most ~10 s).
fn drain_until(worker: &Worker, mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        worker.drain().expect("drained");
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the jobs did not get there");
}

fn refund_of(conn: &mut DbConnection, id: baoming_domain::ids::RegistrationId) -> payments::Refund {
    use baoming_store::schema::refunds as r;
    use diesel::prelude::*;
    let refund: String = r::table
        .filter(r::registration_id.eq(id.to_string()))
        .select(r::id)
        .first(conn)
        .expect("a refund");
    payments::get_refund(conn, refund.parse().expect("id")).expect("refund")
}

fn payment_jobs_against_the_simulator(test: TestDb) {
    let data = tempfile::tempdir().expect("data dir");
    let world = PayWorld::new(data.path());
    let worker = world.worker(&test.db);
    let f = Fixture::new(&test.db, Utc::now());
    let mut conn = test.db.conn().expect("connection");
    let state = |conn: &mut DbConnection, id| registrations::get(conn, id).expect("r").status;

    // A lost notification is recovered by the order query.
    let a = f.in_state(1, "01", State::AwaitingPayment);
    let no_a = world.order(&mut conn, &f, a);
    world.pay_unnoticed(&no_a);
    assert_eq!(state(&mut conn, a).state, State::AwaitingPayment);
    due_now(&mut conn, "query_order");
    drain_until(&worker, || state(&mut test.db.conn().expect("c"), a).state == State::Paid);

    // Withdrawing closes the order at WeChat Pay.
    let b = f.in_state(2, "01", State::AwaitingPayment);
    let no_b = world.order(&mut conn, &f, b);
    f.apply(b, Event::Withdraw, registrations::Who::Participant(f.owner(b)), Utc::now())
        .expect("withdrawn");
    drain_until(&worker, || {
        payments::order_of(&mut test.db.conn().expect("c"), b).expect("o").expect("order").state
            == payments::OrderState::Closed
    });
    assert_eq!(world.pay_sim.order(&no_b).expect("order")["trade_state"], "CLOSED");

    // An unsigned ORDER_CLOSED (not WeChat Pay's: anything on the way could have written it)
    // does not close the order here: the job fails and asks again, and the signed answer
    // closes it.
    let e = f.in_state(5, "01", State::AwaitingPayment);
    let no_e = world.order(&mut conn, &f, e);
    world
        .pay_sim
        .set_faults(Faults {
            fail_next: Some(ApiFailure {
                path_prefix: format!("/v3/pay/transactions/out-trade-no/{no_e}/close"),
                status: 400,
                code: "ORDER_CLOSED".into(),
                after_processing: false,
                unsigned: true,
            }),
            ..Faults::default()
        })
        .expect("faults");
    f.apply(e, Event::Withdraw, registrations::Who::Participant(f.owner(e)), Utc::now())
        .expect("withdrawn");
    worker.drain().expect("drained");
    assert!(world.pay_sim.faults().fail_next.is_empty(), "the close was asked and refused");
    let order_e = |conn: &mut DbConnection| payments::order_of(conn, e).expect("o").expect("order");
    assert_eq!(
        order_e(&mut conn).state,
        payments::OrderState::Open,
        "not closed on an unsigned answer"
    );
    assert_eq!(world.pay_sim.order(&no_e).expect("order")["trade_state"], "NOTPAY");
    due_now(&mut conn, "close_provider_order");
    drain_until(&worker, || {
        order_e(&mut test.db.conn().expect("c")).state == payments::OrderState::Closed
    });
    assert_eq!(world.pay_sim.order(&no_e).expect("order")["trade_state"], "CLOSED");

    // Paid at WeChat just before withdrawing: closing finds it paid, the money is recorded and
    // given back, with exactly one refund request.
    let c = f.in_state(3, "01", State::AwaitingPayment);
    let no_c = world.order(&mut conn, &f, c);
    world.pay_unnoticed(&no_c);
    f.apply(c, Event::Withdraw, registrations::Who::Participant(f.owner(c)), Utc::now())
        .expect("withdrawn");
    drain_until(&worker, || {
        let mut conn = test.db.conn().expect("c");
        payments::list_payments(
            &mut conn,
            &payments::PaymentFilter { registration: Some(c), ..Default::default() },
            5,
        )
        .expect("ledger")
        .first()
        .is_some_and(|p| p.refund_state == Some(RefundState::Succeeded))
    });
    let refund_c = refund_of(&mut conn, c);
    assert_eq!(state(&mut conn, c).state, State::Withdrawn);
    let requests = world.pay_sim.refund_requests();
    assert_eq!(
        requests.get(refund_c.out_refund_no.as_deref().expect("no")),
        Some(&1),
        "{requests:?}"
    );

    // A refund WeChat Pay cannot make stays visible: the registration is flagged.
    let d = f.in_state(4, "01", State::AwaitingPayment);
    let no_d = world.order(&mut conn, &f, d);
    world.pay_unnoticed(&no_d);
    due_now(&mut conn, "query_order");
    drain_until(&worker, || state(&mut test.db.conn().expect("c"), d).state == State::Paid);
    let owner = registrations::Who::Participant(f.owner(d));
    f.apply(
        d,
        Event::RequestRefund { reason: Reason::parse("时间冲突").expect("r") },
        owner,
        Utc::now(),
    )
    .expect("requested");
    world
        .pay_sim
        .set_faults(Faults { abnormal_refunds: Some(1), ..Faults::default() })
        .expect("faults");
    f.apply(d, Event::ApproveRefund, staff(Actor::Finance), Utc::now()).expect("approved");
    drain_until(&worker, || {
        refund_of(&mut test.db.conn().expect("c"), d).state == RefundState::Abnormal
    });
    assert_eq!(
        state(&mut conn, d),
        baoming_domain::lifecycle::Status {
            state: State::Refunding,
            flag: Some(Flag::RefundFailed)
        }
    );

    // Subscribe messages: an approval tells a participant who is a WeChat user.
    let e = f.in_state(5, "01", State::PendingReview);
    let session =
        world.runtime.block_on(world.services.wechat.code_to_session("erin")).expect("session");
    {
        use baoming_store::schema::participants as p;
        use diesel::prelude::*;
        diesel::update(p::table.find(f.owner(e).to_string()))
            .set(p::openid.eq(&session.openid))
            .execute(&mut *conn)
            .expect("openid");
    }
    assert_eq!(participants::openid(&mut conn, f.owner(e)).expect("openid"), session.openid);
    f.apply(e, Event::Approve, staff(Actor::Reviewer), Utc::now()).expect("approved");
    drain_until(&worker, || {
        world.wechat_sim.sent_messages().iter().any(|m| m.touser == session.openid)
    });
    let sent: Vec<_> = world
        .wechat_sim
        .sent_messages()
        .into_iter()
        .filter(|m| m.touser == session.openid)
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].template_id, "dev_approved");
    // Notices for fixture participants (not WeChat users) fail and are retried: park none of
    // them here, just check nothing else failed.
    let failed = jobs::list_failed(&mut conn, 100).expect("failed");
    assert!(failed.iter().all(|j| j.kind == "notify"), "{failed:?}");

    // Reconciliation of today (Beijing): every recorded payment and the successful refund
    // match; a payment WeChat has and we never heard of (its query not due yet) is reported.
    let g = f.in_state(6, "01", State::AwaitingPayment);
    let no_g = world.order(&mut conn, &f, g);
    world.pay_unnoticed(&no_g);
    let today = Utc::now()
        .with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("+8"))
        .date_naive();
    let report = baoming_worker::reconcile::reconcile_day(&mut conn, today, &world.services)
        .expect("reconciled")
        .expect("a new report");
    let fee = registrations::get(&mut conn, g).expect("g").fee.fen();
    assert_eq!(
        report.differences,
        serde_json::json!([
            {"difference": "only_in_wechat", "kind": "payment", "number": no_g, "amount": fee}
        ]),
        "{report:?}"
    );
    assert_eq!(report.ledger_lines, 4, "payments a, c, d and c's refund: {report:?}");
    assert_eq!(report.bill_lines, 5, "and g's payment: {report:?}");
    assert!(
        baoming_worker::reconcile::reconcile_day(&mut conn, today, &world.services)
            .expect("again")
            .is_none()
    );
    let stored = baoming_store::reconciliation::get(&mut conn, today).expect("stored");
    assert_eq!(
        (stored.bill_date, stored.bill_lines, stored.ledger_lines, stored.differences),
        (report.bill_date, report.bill_lines, report.ledger_lines, report.differences)
    );
}

fn a_killed_worker_requests_each_refund_once(test: TestDb) {
    let data = tempfile::tempdir().expect("data dir");
    let world = PayWorld::new(data.path());
    let f = Fixture::new(&test.db, Utc::now());
    let mut conn = test.db.conn().expect("connection");
    // 20 registrations paid by WeChat (recorded through the order query), each refund approved.
    let ids: Vec<_> =
        (0..20u32).map(|n| f.in_state(100 + n, "02", State::AwaitingPayment)).collect();
    for &id in &ids {
        let no = world.order(&mut conn, &f, id);
        world.pay_unnoticed(&no);
    }
    due_now(&mut conn, "query_order");
    let inline = world.worker(&test.db);
    drain_until(&inline, || {
        let mut conn = test.db.conn().expect("c");
        ids.iter()
            .all(|&id| registrations::get(&mut conn, id).expect("r").status.state == State::Paid)
    });
    for &id in &ids {
        let owner = registrations::Who::Participant(f.owner(id));
        f.apply(
            id,
            Event::RequestRefund { reason: Reason::parse("时间冲突").expect("r") },
            owner,
            Utc::now(),
        )
        .expect("requested");
        f.apply(id, Event::ApproveRefund, staff(Actor::Finance), Utc::now()).expect("approved");
    }
    // And, in the same batch, registrations of an old period whose deadlines the clock applies.
    let old = Fixture::new(&test.db, Utc::now() - chrono::Duration::days(40));
    let overdue: Vec<_> = (0..12u32)
        .map(|n| {
            old.in_state(
                500 + n,
                "01",
                if n % 2 == 0 { State::AwaitingPayment } else { State::CheckedIn },
            )
        })
        .collect();
    // (A past slot of its own, so it cannot collide with the schedule's current one.)
    let slot = Utc::now() - chrono::Duration::days(1);
    jobs::enqueue(&mut conn, &Job::ClockSweep { slot }, Utc::now(), Utc::now()).expect("enqueued");
    let refunds = |conn: &mut DbConnection| -> Vec<payments::Refund> {
        ids.iter().map(|&id| refund_of(conn, id)).collect()
    };
    let succeeded = |conn: &mut DbConnection| {
        refunds(conn).iter().filter(|r| r.state == RefundState::Succeeded).count()
    };
    let sim_env = |cmd: &mut Command| {
        cmd.env("BAOMING_WECHATPAY__SIMULATOR_LISTEN", world.pay_sim.addr().to_string())
            .env("BAOMING_WORKER__REFUND_RECHECK_SECS", "1");
    };

    // The worker is killed while it works through the refunds.
    let mut run = worker(&test, data.path(), "run.log", &["run"]);
    sim_env(&mut run);
    let mut run = run.spawn().expect("worker");
    let started = Instant::now();
    while world.pay_sim.refund_requests().len() < 5 && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(5));
    }
    run.kill().expect("SIGKILL");
    run.wait().expect("reaped");
    let requested_at_kill = world.pay_sim.refund_requests().len();
    eprintln!("killed after {requested_at_kill} of 20 refunds were requested");
    assert!(requested_at_kill < 20, "the kill came after all the work");

    // Restarted after the leases ran out, it finishes the rest.
    std::thread::sleep(Duration::from_millis(LEASE_SECS * 1000 + 500));
    for round in 0..30 {
        let mut once = worker(&test, data.path(), "once.log", &["once"]);
        sim_env(&mut once);
        assert!(once.status().expect("once").success(), "{}", logs(data.path()));
        if succeeded(&mut conn) == 20 {
            break;
        }
        assert!(
            round < 29,
            "refunds did not finish: {:?}\n{}",
            refunds(&mut conn),
            logs(data.path())
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Exactly one refund request per out_refund_no, every refund done, every registration refunded.
    let requests = world.pay_sim.refund_requests();
    assert_eq!(requests.len(), 20, "{requests:?}");
    assert!(requests.values().all(|&n| n == 1), "{requests:?}");
    for refund in refunds(&mut conn) {
        assert_eq!(refund.state, RefundState::Succeeded);
        assert_eq!(requests.get(refund.out_refund_no.as_deref().expect("no")), Some(&1));
        let status = registrations::get(&mut conn, refund.registration).expect("r").status;
        assert_eq!(status.state, State::Refunded);
    }
    // Every overdue registration moved exactly once, by the clock.
    for &id in &overdue {
        let history = registrations::history(&mut conn, id).expect("history");
        let clock = history.iter().filter(|e| e.actor == Actor::Clock).count();
        assert_eq!(clock, 1, "{id}: {history:?}");
    }
    let counts = jobs::counts(&mut conn, Utc::now()).expect("counts");
    assert_eq!((counts.running, counts.failed), (0, 0), "{counts:?}");
    let refund_jobs = jobs::list(&mut conn, JobState::Completed, Utc::now(), 1000)
        .expect("jobs")
        .into_iter()
        .filter(|j| j.kind == "refund")
        .count();
    assert_eq!(refund_jobs, 20);
}

fn closed_refunds_are_retried_once_by_a_killed_worker(test: TestDb) {
    let data = tempfile::tempdir().expect("data dir");
    let world = PayWorld::new(data.path());
    let f = Fixture::new(&test.db, Utc::now());
    let mut conn = test.db.conn().expect("connection");
    // 12 registrations paid by WeChat, each refund approved; WeChat Pay closes every one.
    let ids: Vec<_> =
        (0..12u32).map(|n| f.in_state(300 + n, "02", State::AwaitingPayment)).collect();
    for &id in &ids {
        let no = world.order(&mut conn, &f, id);
        world.pay_unnoticed(&no);
    }
    due_now(&mut conn, "query_order");
    let inline = world.worker(&test.db);
    drain_until(&inline, || {
        let mut conn = test.db.conn().expect("c");
        ids.iter()
            .all(|&id| registrations::get(&mut conn, id).expect("r").status.state == State::Paid)
    });
    world
        .pay_sim
        .set_faults(Faults { closed_refunds: Some(12), ..Faults::default() })
        .expect("faults");
    for &id in &ids {
        let owner = registrations::Who::Participant(f.owner(id));
        f.apply(
            id,
            Event::RequestRefund { reason: Reason::parse("时间冲突").expect("r") },
            owner,
            Utc::now(),
        )
        .expect("requested");
        f.apply(id, Event::ApproveRefund, staff(Actor::Finance), Utc::now()).expect("approved");
    }
    drain_until(&inline, || {
        let mut conn = test.db.conn().expect("c");
        ids.iter().all(|&id| refund_of(&mut conn, id).state == RefundState::Closed)
    });
    for &id in &ids {
        let status = registrations::get(&mut conn, id).expect("r").status;
        assert_eq!((status.state, status.flag), (State::Refunding, Some(Flag::RefundFailed)));
    }
    let closed: Vec<payments::Refund> = ids.iter().map(|&id| refund_of(&mut conn, id)).collect();

    // Finance retries each: a new refund number linked to the closed one.
    let finance = registrations::Ctx {
        who: staff(Actor::Finance),
        now: Utc::now(),
        request_id: Some("retry".into()),
    };
    let retries: Vec<payments::Refund> = closed
        .iter()
        .map(|old| {
            payments::retry_refund(
                &mut conn,
                old.id,
                &finance,
                &baoming_store::audit::Actor::default(),
            )
            .expect("retried")
        })
        .collect();
    let live = |conn: &mut DbConnection| -> Vec<payments::Refund> {
        retries.iter().map(|r| payments::get_refund(conn, r.id).expect("refund")).collect()
    };
    let sim_env = |cmd: &mut Command| {
        cmd.env("BAOMING_WECHATPAY__SIMULATOR_LISTEN", world.pay_sim.addr().to_string())
            .env("BAOMING_WORKER__REFUND_RECHECK_SECS", "1");
    };
    let new_numbers = |requests: &BTreeMap<String, u64>| {
        retries
            .iter()
            .filter(|r| requests.contains_key(r.out_refund_no.as_deref().expect("no")))
            .count()
    };

    // The worker is killed while it works through the retries.
    let mut run = worker(&test, data.path(), "run.log", &["run"]);
    sim_env(&mut run);
    let mut run = run.spawn().expect("worker");
    let started = Instant::now();
    while new_numbers(&world.pay_sim.refund_requests()) < 3
        && started.elapsed() < Duration::from_secs(60)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    run.kill().expect("SIGKILL");
    run.wait().expect("reaped");
    let at_kill = new_numbers(&world.pay_sim.refund_requests());
    eprintln!("killed after {at_kill} of 12 retries were requested");
    assert!(at_kill < 12, "the kill came after all the work");

    std::thread::sleep(Duration::from_millis(LEASE_SECS * 1000 + 500));
    for round in 0..30 {
        let mut once = worker(&test, data.path(), "once.log", &["once"]);
        sim_env(&mut once);
        assert!(once.status().expect("once").success(), "{}", logs(data.path()));
        if live(&mut conn).iter().all(|r| r.state == RefundState::Succeeded) {
            break;
        }
        assert!(round < 29, "retries did not finish: {:?}\n{}", live(&mut conn), logs(data.path()));
        std::thread::sleep(Duration::from_millis(500));
    }
    // One request per refund number: the closed ones and their retries.
    let requests = world.pay_sim.refund_requests();
    assert_eq!(requests.len(), 24, "{requests:?}");
    assert!(requests.values().all(|&n| n == 1), "{requests:?}");
    for (old, new) in closed.iter().zip(live(&mut conn)) {
        assert_eq!(new.retry_of, Some(old.id));
        assert_eq!(
            payments::get_refund(&mut conn, old.id).expect("old").state,
            RefundState::Closed
        );
        let status = registrations::get(&mut conn, new.registration).expect("r").status;
        assert_eq!((status.state, status.flag), (State::Refunded, None));
    }
    let counts = jobs::counts(&mut conn, Utc::now()).expect("counts");
    assert_eq!((counts.running, counts.failed), (0, 0), "{counts:?}");
}

// ---------------------------------------------------------------------------------------------
// Admission tickets

/// Debian's Noto Sans CJK must be installed (`.ci/run` installs it): a rendering test fails,
/// naming the package, without it.
fn require_fonts() {
    let font = baoming_runtime::tickets::DEFAULT_REGULAR_FONT;
    assert!(Path::new(font).is_file(), "{font} is missing: apt-get install fonts-noto-cjk");
}

/// A 295 × 413 JPEG as the photo pipeline stores it.
fn test_photo() -> Vec<u8> {
    let img = image::RgbImage::from_fn(295, 413, |x, y| {
        let (dx, dy) = (x as f32 - 147.0, y as f32 - 170.0);
        if (dx / 80.0).powi(2) + (dy / 100.0).powi(2) <= 1.0 {
            image::Rgb([210, 170, 140])
        } else {
            image::Rgb([250, 250, 250])
        }
    });
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode(img.as_raw(), 295, 413, image::ExtendedColorType::Rgb8)
        .expect("jpeg");
    out
}

fn ticket_rows(db: &Db) -> BTreeMap<String, (Option<chrono::NaiveDateTime>, Option<String>)> {
    use baoming_store::schema::tickets as t;
    use diesel::prelude::*;
    t::table
        .select((t::registration_id, t::rendered_at, t::render_error_code))
        .load::<(String, Option<chrono::NaiveDateTime>, Option<String>)>(
            &mut *db.conn().expect("c"),
        )
        .expect("tickets")
        .into_iter()
        .map(|(id, at, code)| (id, (at, code)))
        .collect()
}

fn jobs_of(db: &Db, kind: &str, state: JobState) -> usize {
    jobs::list(&mut db.conn().expect("c"), state, Utc::now(), 500)
        .expect("jobs")
        .iter()
        .filter(|j| j.kind == kind)
        .count()
}

fn render_jobs_render_each_ticket_once(test: TestDb) {
    use baoming_store::tickets::{self, AssignOptions};
    require_fonts();
    let data = tempfile::tempdir().expect("data dir");
    let mut world = PayWorld::new(data.path());
    // No subscribe messages to the fixture's participants (they are not WeChat users).
    world.services.templates = baoming_runtime::config::Templates::default();
    let worker = world.worker(&test.db);
    let storage = world.services.tickets.storage.clone();
    let f = Fixture::new(&test.db, Utc::now());
    let mut ids = Vec::new();
    for n in 1..=5 {
        let mut profile = baoming_store::testing::fixture_profile(n, f.at);
        profile.employer = Some(format!("单位{n}"));
        if n == 3 {
            // U+2A6D6 (CJK Extension B) is a valid name character no Noto CJK face has.
            profile.identity.name =
                Some(baoming_domain::PersonName::parse("王\u{2A6D6}").expect("name"));
        }
        ids.push(f.in_state_with(n, "01", State::CheckedIn, &profile));
        storage.put(&format!("photos/{n}/normalized.jpg"), &test_photo()).expect("photo");
    }
    let admin = baoming_store::audit::Actor::default();
    let mut conn = test.db.conn().expect("connection");
    let options = AssignOptions { seed: 42, force: false, extra_rooms: 0 };
    tickets::assign(&mut conn, f.period.id, &options, &admin, f.at).expect("assigned");
    tickets::publish(&mut conn, f.period.id, &admin, f.at).expect("published");
    // A first run recorded ticket 0 before it crashed: the job renders only the rest.
    let earlier = chrono::SubsecRound::trunc_subsecs(f.at, 0).naive_utc();
    {
        use baoming_store::schema::tickets as t;
        use diesel::prelude::*;
        diesel::update(t::table.find(ids[0].to_string()))
            .set((
                t::rendered_at.eq(Some(earlier)),
                t::png_key.eq(Some("tickets/earlier.png")),
                t::pdf_key.eq(Some("tickets/earlier.pdf")),
                t::qr_text.eq(Some("BMT1:EARLIER")),
            ))
            .execute(&mut *conn)
            .expect("marked");
    }
    drain_until(&worker, || jobs_of(&test.db, "render_tickets", JobState::Completed) == 1);
    let rows = ticket_rows(&test.db);
    let row = |i: usize| rows[&ids[i].to_string()].clone();
    assert_eq!(row(0).0, Some(earlier), "recorded before: untouched");
    let (png0, _) = baoming_runtime::tickets::file_keys(f.period.id, ids[0]);
    assert!(storage.get(&png0).is_err(), "ticket 0 was not rendered again");
    for i in [1, 3, 4] {
        assert!(row(i).0.is_some(), "ticket {i} rendered");
        let (png, pdf) = baoming_runtime::tickets::file_keys(f.period.id, ids[i]);
        assert!(storage.get(&png).expect("png").starts_with(b"\x89PNG"));
        assert!(storage.get(&pdf).expect("pdf").starts_with(b"%PDF"));
    }
    // The name with the missing glyph: a failure for staff, not a ticket.
    assert_eq!(row(2), (None, Some("ticket_missing_glyphs".to_owned())));
    let failed = tickets::failed(&mut conn, f.period.id).expect("failed");
    assert_eq!(failed[0].failure.missing, vec!['\u{2A6D6}']);
    assert!(failed[0].failure.message.contains("U+2A6D6"), "{}", failed[0].failure.message);
    assert_eq!(jobs_of(&test.db, "ticket_notice", JobState::Completed), 3, "one notice each");

    // The QR code of a rendered PNG decodes and verifies with the configured keys.
    let (png, _) = baoming_runtime::tickets::file_keys(f.period.id, ids[1]);
    let image = image::load_from_memory(&storage.get(&png).expect("png")).expect("png").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(image);
    let grids = prepared.detect_grids();
    let (_, text) = grids.first().expect("a QR code").decode().expect("decoded");
    let claims = baoming_tickets::signing::verify(&text, world.settings.tickets.keys.verifying())
        .expect("verifies");
    let stored = tickets::get(&mut conn, ids[1]).expect("get").expect("ticket");
    assert_eq!(
        (claims.ticket_number.as_str(), claims.room, claims.seat),
        (stored.number.as_str(), stored.room, stored.seat)
    );

    // The same batch again (say a duplicate job): nothing is rendered or recorded twice.
    let again = Job::RenderTickets {
        period: f.period.id,
        registrations: ids.clone(),
        requested_at: f.at + chrono::Duration::seconds(1),
    };
    jobs::enqueue(&mut conn, &again, Utc::now(), Utc::now()).expect("enqueued");
    drain_until(&worker, || jobs_of(&test.db, "render_tickets", JobState::Completed) == 2);
    assert_eq!(ticket_rows(&test.db), rows);
    assert_eq!(jobs_of(&test.db, "ticket_notice", JobState::Completed), 3);

    // Without fonts the job fails (to be retried) and no ticket is marked failed.
    let mut broken = world.services.clone();
    broken.tickets.fonts = std::sync::Arc::new(baoming_runtime::tickets::TicketFonts::new(
        baoming_runtime::tickets::FontFiles {
            regular: baoming_runtime::tickets::FontFile {
                path: "/nonexistent/font.ttc".into(),
                index: 0,
            },
            bold: None,
            fallbacks: vec![],
        },
    ));
    let broken_worker = Worker::new(test.db.clone(), world.settings.worker, broken);
    assert_eq!(
        tickets::retry_failed(&mut conn, f.period.id, &admin, Utc::now()).expect("retry"),
        1
    );
    let report = broken_worker.drain().expect("drained");
    assert_eq!((report.done, report.retrying), (0, 1));
    let info = jobs::list(&mut conn, JobState::Pending, Utc::now(), 100).expect("jobs");
    let job = info.iter().find(|j| j.kind == "render_tickets").expect("retrying");
    assert!(
        job.last_error.as_deref().is_some_and(|e| e.contains("/nonexistent/font.ttc")),
        "{job:?}"
    );
    assert_eq!(ticket_rows(&test.db)[&ids[2].to_string()], (None, None), "pending, not failed");
}

/// `baoming-worker retention --dry-run` counts and changes nothing; `baoming-worker retention`
/// purges the same and deletes the files (a sitting that ended four years ago: its participant
/// erased, the photo's original and normalised files gone).
fn retention_command_dry_run_then_run(test: TestDb) {
    let data = tempfile::tempdir().expect("data dir");
    let old = Utc::now() - chrono::Months::new(48);
    let f = Fixture::new(&test.db, old);
    let id = f.in_state(1, "01", State::CheckedIn);
    baoming_store::clock::sweep(&mut test.db.conn().expect("conn"), f.after_sitting(), None)
        .expect("sweep");
    let participant = f.owner(id);
    let files = data.path().join("files");
    for key in ["photos/1/original.jpg", "photos/1/normalized.jpg"] {
        let path = files.join(key);
        std::fs::create_dir_all(path.parent().expect("dir")).expect("dir");
        std::fs::write(&path, b"jpeg").expect("file");
    }
    let expected = "sessions: 0\nunused_photos: 0\noriginals: 1\nparticipants: 1\nfiles: 2";
    let run = |args: &[&str], log: &str| {
        let status = worker(&test, data.path(), log, args).status().expect("worker ran");
        assert!(status.success(), "{}", read_log(data.path(), log));
        read_log(data.path(), log)
    };
    let dry = run(&["retention", "--dry-run"], "dry.log");
    assert!(dry.contains("retention: would purge (dry run, nothing changed)"), "{dry}");
    assert!(dry.contains(expected), "{dry}");
    assert!(files.join("photos/1/original.jpg").exists());
    let erased_at = |db: &Db| {
        use baoming_store::schema::participants as p;
        use diesel::prelude::*;
        p::table
            .find(participant.to_string())
            .select(p::erased_at)
            .first::<Option<chrono::NaiveDateTime>>(&mut *db.conn().expect("conn"))
            .expect("participant")
    };
    assert_eq!(erased_at(&test.db), None);

    let purged = run(&["retention"], "run.log");
    assert!(purged.contains("retention: purged"), "{purged}");
    assert!(purged.contains(expected), "{purged}");
    assert!(!files.join("photos/1/original.jpg").exists());
    assert!(!files.join("photos/1/normalized.jpg").exists());
    assert!(erased_at(&test.db).is_some());
    let again = run(&["retention", "--dry-run"], "again.log");
    assert!(
        again.contains("sessions: 0\nunused_photos: 0\noriginals: 0\nparticipants: 0\nfiles: 0"),
        "{again}"
    );
}

/// What the worker wrote to `log` in `data` (stdout and stderr).
fn read_log(data: &Path, log: &str) -> String {
    std::fs::read_to_string(data.join(log)).unwrap_or_default()
}
