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

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(super::TestDb::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name(super::TestDb::postgres()); })*
        }
    };
}

on_both_backends!(a_killed_worker_loses_and_doubles_nothing, sigterm_stops_gracefully);

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
    assert_eq!((counts.pending, counts.running, counts.failed), (0, 0, 0), "{counts:?}");
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
