//! The job queue, the periodic schedules and the clock sweep.

use std::collections::BTreeSet;
use std::sync::{Arc, Barrier};

use baoming_domain::ids::{JobId, RegistrationId};
use baoming_domain::lifecycle::{Actor, EventKind, Flag, State};
use baoming_store::clock::{self, SweepReport};
use baoming_store::jobs::{self, Claimed, Failed, Job, JobState, Schedule};
use baoming_store::registrations;
use baoming_store::testing::{Fixture, TestDb, now};
use baoming_store::{Db, StoreError, write_tx};
use chrono::{DateTime, Duration, Utc};

baoming_store::on_both_backends!(
    due_jobs_are_claimed_oldest_first_and_once,
    failures_back_off_then_park_and_rerun_from_the_back_office,
    an_expired_lease_is_claimed_again_and_the_old_token_is_refused,
    a_job_abandoned_on_its_last_attempt_is_parked,
    released_jobs_do_not_count_an_attempt,
    concurrent_workers_never_share_a_job,
    completion_commits_with_the_handler_change,
    keys_stay_taken_after_completion,
    schedules_neither_skip_nor_double,
    concurrent_ticks_enqueue_one_run,
    the_sweep_closes_flags_and_completes_exactly_once,
    the_sweep_pages_through_many_registrations,
    the_queue_migration_reverts_and_reapplies,
);

// ---------------------------------------------------------------------------------------------
// Fixtures

const LEASE: i64 = 300;

fn lease() -> Duration {
    Duration::seconds(LEASE)
}

fn close_order() -> Job {
    Job::CloseProviderOrder { registration: baoming_store::new_id::<RegistrationId>() }
}

fn enqueue(db: &Db, job: &Job, run_at: DateTime<Utc>) -> JobId {
    jobs::enqueue(&mut db.conn().expect("connection"), job, run_at, run_at).expect("enqueued")
}

fn claim(db: &Db, worker: &str, at: DateTime<Utc>, limit: i64) -> Vec<Claimed> {
    jobs::claim(&mut db.conn().expect("connection"), worker, at, lease(), limit).expect("claimed")
}

fn info(db: &Db, id: JobId) -> jobs::JobInfo {
    jobs::get(&mut db.conn().expect("connection"), id).expect("job")
}

fn ids(claimed: &[Claimed]) -> Vec<JobId> {
    claimed.iter().map(|c| c.id).collect()
}

// ---------------------------------------------------------------------------------------------
// Claiming, completing, failing

fn due_jobs_are_claimed_oldest_first_and_once(test: TestDb) {
    let db = &test.db;
    let t = now();
    let second = enqueue(db, &close_order(), t - Duration::minutes(1));
    let first = enqueue(db, &close_order(), t - Duration::minutes(2));
    let third = enqueue(db, &close_order(), t);
    let later = enqueue(db, &close_order(), t + Duration::minutes(1));

    let a = claim(db, "worker-a", t, 2);
    assert_eq!(ids(&a), vec![first, second]);
    assert_eq!(a[0].attempt, 1);
    assert_eq!(a[0].worker, "worker-a");
    assert_eq!(a[0].locked_until, t + lease());
    assert!(matches!(a[0].job, Ok(Job::CloseProviderOrder { .. })));
    let b = claim(db, "worker-b", t, 10);
    assert_eq!(ids(&b), vec![third], "the job due later and the leased ones are not claimed");
    assert!(claim(db, "worker-c", t, 10).is_empty());

    let counts = jobs::counts(&mut db.conn().expect("connection"), t).expect("counts");
    assert_eq!(counts, jobs::JobCounts { pending: 1, running: 3, failed: 0, completed: 0 });
    jobs::complete(&mut db.conn().expect("connection"), &a[0], t).expect("completed");
    let done = info(db, first);
    assert_eq!(done.completed_at, Some(t));
    assert_eq!(done.state(t), JobState::Completed);
    assert_eq!(done.locked_until, None);
    // Completing twice: the token no longer owns the row.
    assert!(matches!(
        jobs::complete(&mut db.conn().expect("connection"), &a[0], t),
        Err(StoreError::LeaseLost { job }) if job == first
    ));
    let pending = jobs::pending(&mut db.conn().expect("connection")).expect("pending");
    assert_eq!(pending.iter().map(|j| j.id).collect::<Vec<_>>(), vec![second, third, later]);
    let running =
        jobs::list(&mut db.conn().expect("connection"), JobState::Running, t, 10).expect("list");
    assert_eq!(running.len(), 2);
    assert_eq!(running[0].locked_by.as_deref(), Some("worker-a"));
}

fn failures_back_off_then_park_and_rerun_from_the_back_office(test: TestDb) {
    let db = &test.db;
    let mut t = now();
    let job = close_order();
    let id = enqueue(db, &job, t);
    let max = job.max_attempts();
    for attempt in 1..=max {
        let claimed = claim(db, "w", t, 1);
        assert_eq!(ids(&claimed), vec![id], "attempt {attempt}");
        assert_eq!(claimed[0].attempt, attempt);
        let outcome = jobs::fail(
            &mut db.conn().expect("connection"),
            &claimed[0],
            &format!("WeChat Pay answered 500 (attempt {attempt})"),
            t,
        )
        .expect("failed");
        if attempt < max {
            let Failed::Retry { at } = outcome else { panic!("parked too early: {outcome:?}") };
            let nominal = (10.0 * 2f64.powi(attempt - 1)).min(3600.0);
            let waited = (at - t).num_milliseconds() as f64 / 1000.0;
            assert!(
                waited >= nominal * 0.8 - 0.001 && waited <= nominal * 1.2 + 0.001,
                "attempt {attempt}: waited {waited} s, nominal {nominal} s"
            );
            assert!(claim(db, "w", at - Duration::milliseconds(1), 1).is_empty(), "not due yet");
            t = at;
        } else {
            assert_eq!(outcome, Failed::Parked);
        }
    }
    assert!(claim(db, "w", t + Duration::days(1), 1).is_empty(), "a parked job is not claimed");
    let failed = jobs::list_failed(&mut db.conn().expect("connection"), 50).expect("failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, id);
    assert_eq!(failed[0].attempts, max);
    assert_eq!(failed[0].last_error.as_deref(), Some("WeChat Pay answered 500 (attempt 10)"));
    assert_eq!(failed[0].state(t), JobState::Failed);
    assert!(failed[0].payload.contains("close_provider_order"));

    let mut conn = db.conn().expect("connection");
    let rerun_at = t + Duration::hours(1);
    assert!(jobs::rerun(&mut conn, id, rerun_at).expect("rerun"));
    assert!(!jobs::rerun(&mut conn, id, rerun_at).expect("not failed any more"));
    assert!(matches!(
        jobs::rerun(&mut conn, baoming_store::new_id(), rerun_at),
        Err(StoreError::NotFound { entity: "job" })
    ));
    let again = info(db, id);
    assert_eq!((again.attempts, again.failed_at, again.run_at), (0, None, rerun_at));
    let claimed = claim(db, "w", rerun_at, 1);
    assert_eq!(claimed[0].attempt, 1);
    jobs::complete(&mut conn, &claimed[0], rerun_at).expect("done at last");
    assert!(jobs::list_failed(&mut conn, 50).expect("failed").is_empty());
}

fn an_expired_lease_is_claimed_again_and_the_old_token_is_refused(test: TestDb) {
    let db = &test.db;
    let t = now();
    let id = enqueue(db, &close_order(), t);
    let old = claim(db, "crashed", t, 1);
    assert!(claim(db, "other", t + lease() - Duration::seconds(1), 1).is_empty());
    let new = claim(db, "other", t + lease(), 1);
    assert_eq!(ids(&new), vec![id]);
    assert_eq!(new[0].attempt, 2);
    let mut conn = db.conn().expect("connection");
    assert!(matches!(jobs::complete(&mut conn, &old[0], t), Err(StoreError::LeaseLost { .. })));
    assert!(matches!(jobs::fail(&mut conn, &old[0], "late", t), Err(StoreError::LeaseLost { .. })));
    assert!(matches!(jobs::release(&mut conn, &old[0]), Err(StoreError::LeaseLost { .. })));
    jobs::complete(&mut conn, &new[0], t + lease()).expect("the new attempt completes");
    let done = info(db, id);
    assert_eq!(done.attempts, 2);
    assert_eq!(done.locked_by.as_deref(), Some("other"));
    assert_eq!(done.last_error, None);
}

fn a_job_abandoned_on_its_last_attempt_is_parked(test: TestDb) {
    let db = &test.db;
    let mut t = now();
    let job = Job::ClockSweep { slot: t };
    let id = enqueue(db, &job, t);
    for attempt in 1..=job.max_attempts() {
        let claimed = claim(db, "crashes", t, 1);
        assert_eq!(claimed[0].attempt, attempt);
        // The worker dies: nothing is recorded, the lease runs out.
        t += lease();
    }
    assert!(claim(db, "next", t, 1).is_empty());
    let parked = info(db, id);
    assert_eq!(parked.failed_at, Some(t));
    assert_eq!(parked.last_error.as_deref(), Some(jobs::ABANDONED));
}

fn released_jobs_do_not_count_an_attempt(test: TestDb) {
    let db = &test.db;
    let t = now();
    let id = enqueue(db, &close_order(), t);
    let claimed = claim(db, "stopping", t, 1);
    jobs::release(&mut db.conn().expect("connection"), &claimed[0]).expect("released");
    let again = claim(db, "next", t, 1);
    assert_eq!(ids(&again), vec![id]);
    assert_eq!(again[0].attempt, 1);
}

fn concurrent_workers_never_share_a_job(test: TestDb) {
    let db = &test.db;
    let t = now();
    let total = 120;
    let mut all = BTreeSet::new();
    for _ in 0..total {
        all.insert(enqueue(db, &close_order(), t));
    }
    let workers = 4;
    let barrier = Arc::new(Barrier::new(workers));
    let handles: Vec<_> = (0..workers)
        .map(|w| {
            let (db, barrier) = (db.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut conn = db.conn().expect("connection");
                let name = format!("worker-{w}");
                let mut mine = Vec::new();
                barrier.wait();
                loop {
                    let batch = jobs::claim(&mut conn, &name, t, lease(), 7).expect("claim");
                    if batch.is_empty() {
                        break;
                    }
                    for claimed in &batch {
                        jobs::complete(&mut conn, claimed, t).expect("complete");
                        mine.push(claimed.id);
                    }
                }
                mine
            })
        })
        .collect();
    let mut seen = Vec::new();
    for handle in handles {
        seen.extend(handle.join().expect("worker thread"));
    }
    assert_eq!(seen.len(), total, "every job exactly once");
    assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), all);
    let counts = jobs::counts(&mut db.conn().expect("connection"), t).expect("counts");
    assert_eq!(counts.completed, i64::try_from(total).expect("small"));
}

fn completion_commits_with_the_handler_change(test: TestDb) {
    let db = &test.db;
    let t = now();
    let id = enqueue(db, &close_order(), t);
    let claimed = claim(db, "w", t, 1).remove(0);
    let mut conn = db.conn().expect("connection");
    // The handler's change fails after completing: both roll back.
    let result: Result<(), StoreError> = write_tx(&mut conn, |conn| {
        jobs::complete_in(conn, &claimed, t)?;
        Err(StoreError::NotFound { entity: "order" })
    });
    assert!(result.is_err());
    assert_eq!(info(db, id).completed_at, None);
    // The lease was lost: the handler's change rolls back with the refused completion.
    let stolen = claim(db, "other", t + lease(), 1).remove(0);
    let follow_up = close_order();
    let result: Result<(), StoreError> = write_tx(&mut conn, |conn| {
        jobs::enqueue(conn, &follow_up, t, t)?;
        jobs::complete_in(conn, &claimed, t)
    });
    assert!(matches!(result, Err(StoreError::LeaseLost { .. })));
    assert_eq!(jobs::pending(&mut conn).expect("pending").len(), 1, "only the stolen job");
    write_tx(&mut conn, |conn| jobs::complete_in(conn, &stolen, t)).expect("completed");
    assert!(info(db, id).completed_at.is_some());
}

fn keys_stay_taken_after_completion(test: TestDb) {
    let db = &test.db;
    let t = now();
    let refund = Job::Refund { refund: baoming_store::new_id() };
    enqueue(db, &refund, t);
    let claimed = claim(db, "w", t, 1).remove(0);
    jobs::complete(&mut db.conn().expect("connection"), &claimed, t).expect("done");
    assert!(matches!(
        jobs::enqueue(&mut db.conn().expect("connection"), &refund, t, t),
        Err(StoreError::Duplicate { what: "job" })
    ));
}

// ---------------------------------------------------------------------------------------------
// Schedules

const SWEEP_EVERY_MINUTE: &[Schedule] =
    &[Schedule { name: "test_sweep", every_secs: 60, job: |slot| Job::ClockSweep { slot } }];

fn slots(db: &Db) -> Vec<DateTime<Utc>> {
    jobs::pending(&mut db.conn().expect("connection"))
        .expect("pending")
        .into_iter()
        .map(|row| match row.job {
            Job::ClockSweep { slot } => slot,
            other => panic!("unexpected job {other:?}"),
        })
        .collect()
}

fn schedules_neither_skip_nor_double(test: TestDb) {
    let db = &test.db;
    let mut conn = db.conn().expect("connection");
    let t = now() + Duration::milliseconds(250);
    let start = now();
    let tick = |conn: &mut baoming_store::Conn, at| {
        jobs::tick(conn, SWEEP_EVERY_MINUTE, at).expect("tick").len()
    };
    // The first tick creates the row and runs at once (slot: whole seconds).
    assert_eq!(tick(&mut conn, t), 1);
    // A restart (or a second tick) in the same minute runs nothing.
    assert_eq!(tick(&mut conn, t), 0);
    assert_eq!(tick(&mut conn, t + Duration::seconds(59)), 0);
    assert_eq!(tick(&mut conn, start + Duration::seconds(60)), 1);
    // Down for five hours: the missed slots run once, and the schedule stays aligned.
    let back = start + Duration::hours(5) + Duration::seconds(10);
    assert_eq!(tick(&mut conn, back), 1);
    assert_eq!(tick(&mut conn, back), 0);
    assert_eq!(
        slots(db),
        vec![start, start + Duration::seconds(60), start + Duration::seconds(120)]
    );
    let rows = jobs::schedule_rows(&mut conn).expect("rows");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].name, "test_sweep");
    assert_eq!(rows[0].interval_secs, 60);
    assert_eq!(rows[0].next_run_at, start + Duration::hours(5) + Duration::seconds(60));
    assert_eq!(rows[0].last_run_at, Some(back));
    // Every run is keyed by schedule and slot.
    let keys: BTreeSet<Option<String>> = jobs::list(&mut conn, JobState::Pending, back, 10)
        .expect("list")
        .into_iter()
        .map(|j| j.unique_key)
        .collect();
    assert!(keys.contains(&Some("test_sweep:2026-05-05T08:00:00Z".into())), "{keys:?}");
    // The declared schedules tick the same way.
    assert_eq!(jobs::tick_schedules(&mut conn, t).expect("tick").len(), jobs::SCHEDULES.len());
    assert!(jobs::tick_schedules(&mut conn, t).expect("tick").is_empty());
}

fn concurrent_ticks_enqueue_one_run(test: TestDb) {
    let db = &test.db;
    for minute in 0..3 {
        let at = now() + Duration::minutes(minute);
        let threads = 6;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (db, barrier) = (db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut conn = db.conn().expect("connection");
                    barrier.wait();
                    jobs::tick(&mut conn, SWEEP_EVERY_MINUTE, at).expect("tick").len()
                })
            })
            .collect();
        let runs: usize = handles.into_iter().map(|h| h.join().expect("thread")).sum();
        assert_eq!(runs, 1, "minute {minute}");
    }
    assert_eq!(slots(db).len(), 3);
}

// ---------------------------------------------------------------------------------------------
// The clock sweep

fn clock_events(f: &Fixture, id: RegistrationId) -> Vec<(EventKind, State, Option<Flag>)> {
    registrations::history(&mut f.db.conn().expect("connection"), id)
        .expect("history")
        .into_iter()
        .filter(|e| e.actor == Actor::Clock)
        .map(|e| (e.event, e.to.state, e.to.flag))
        .collect()
}

fn sweep(f: &Fixture, at: DateTime<Utc>) -> SweepReport {
    clock::sweep(&mut f.db.conn().expect("connection"), at, Some("job:test")).expect("sweep")
}

fn the_sweep_closes_flags_and_completes_exactly_once(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    let unpaid = f.in_state(1, "02", State::AwaitingPayment);
    let transfer = f.in_state(2, "02", State::AwaitingTransfer);
    let unreviewed = f.in_state(3, "02", State::PendingReview);
    let checked_in = f.in_state(4, "02", State::CheckedIn);
    let paid = f.in_state(5, "02", State::Paid);
    assert_eq!(f.seats_taken("02"), 4);
    let state = |id| registrations::get(&mut f.db.conn().expect("connection"), id).expect("r");

    // Nothing is due before the deadline.
    assert_eq!(sweep(&f, now() + Duration::days(1)), SweepReport::default());

    let deadline = f.after_deadline();
    assert_eq!(sweep(&f, deadline), SweepReport { moved: 2, unchanged: 0, skipped: 0 });
    assert_eq!(state(unpaid).status.state, State::Closed);
    assert_eq!(f.seats_taken("02"), 3, "the unpaid registration's seat is released");
    let transfer_now = state(transfer).status;
    assert_eq!(
        (transfer_now.state, transfer_now.flag),
        (State::AwaitingTransfer, Some(Flag::TransferOverdue)),
        "a declared transfer is only flagged to finance"
    );
    let log = registrations::history(&mut f.db.conn().expect("connection"), unpaid).expect("log");
    let last = log.last().expect("event");
    assert_eq!((last.actor, last.event), (Actor::Clock, EventKind::PaymentDeadlinePassed));
    assert_eq!(last.at, deadline);
    assert_eq!(last.request_id.as_deref(), Some("job:test"));
    // No WeChat order was opened: no CloseProviderOrder job (only subscribe messages).
    let pending = jobs::pending(&mut f.db.conn().expect("connection")).expect("jobs");
    assert!(pending.iter().all(|j| matches!(j.job, Job::Notify { .. })), "{pending:?}");

    // A second sweep after the deadline writes nothing.
    assert_eq!(sweep(&f, deadline + Duration::hours(1)), SweepReport::default());
    assert_eq!(
        clock_events(&f, transfer),
        vec![(
            EventKind::PaymentDeadlinePassed,
            State::AwaitingTransfer,
            Some(Flag::TransferOverdue)
        )]
    );

    let ended = f.after_sitting();
    assert_eq!(sweep(&f, ended), SweepReport { moved: 3, unchanged: 0, skipped: 0 });
    assert_eq!(state(transfer).status.state, State::Closed);
    assert_eq!(state(unreviewed).status.state, State::Closed);
    assert_eq!(state(checked_in).status.state, State::Completed);
    assert_eq!(state(paid).status.state, State::Paid, "paid and not checked in: untouched");
    assert_eq!(f.seats_taken("02"), 2, "completed and paid keep their seats");
    assert_eq!(sweep(&f, ended + Duration::days(1)), SweepReport::default());
    for (id, expected) in [
        (unpaid, vec![(EventKind::PaymentDeadlinePassed, State::Closed, None)]),
        (
            transfer,
            vec![
                (
                    EventKind::PaymentDeadlinePassed,
                    State::AwaitingTransfer,
                    Some(Flag::TransferOverdue),
                ),
                (EventKind::SittingEnded, State::Closed, None),
            ],
        ),
        (unreviewed, vec![(EventKind::SittingEnded, State::Closed, None)]),
        (checked_in, vec![(EventKind::SittingEnded, State::Completed, None)]),
        (paid, vec![]),
    ] {
        assert_eq!(clock_events(&f, id), expected, "{id}");
    }
}

fn the_sweep_pages_through_many_registrations(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    let mut all = BTreeSet::new();
    for n in 0..12 {
        all.insert(f.in_state(100 + n, "01", State::PendingReview));
    }
    let mut conn = f.db.conn().expect("connection");
    let ended = f.after_sitting();
    // Page by page, in id order, each once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = clock::due_clock_events(&mut conn, ended, after, 5).expect("page");
        let Some(&(last, _)) = page.last() else { break };
        after = Some(last);
        seen.extend(page.into_iter().map(|(id, event)| {
            assert_eq!(event, baoming_domain::lifecycle::Event::SittingEnded);
            id
        }));
    }
    assert_eq!(seen.len(), 12);
    assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), all);
    assert!(seen.windows(2).all(|w| w[0].to_string() < w[1].to_string()));
    assert!(
        clock::due_clock_events(&mut conn, f.after_deadline(), None, 100).expect("none").is_empty(),
        "pending review is only closed when the sitting ends"
    );
    assert_eq!(clock::sweep(&mut conn, ended, None).expect("sweep").moved, 12);
}

// ---------------------------------------------------------------------------------------------
// The migration

fn the_queue_migration_reverts_and_reapplies(test: TestDb) {
    use baoming_store::DbConnection;
    use baoming_store::db::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};
    use diesel_migrations::MigrationHarness;
    let mut conn = test.db.conn().expect("connection");
    let mut reverted = 0;
    loop {
        let name = match &mut *conn {
            DbConnection::Pg(c) => c.revert_last_migration(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.revert_last_migration(SQLITE_MIGRATIONS),
        }
        .expect("reverted")
        .to_string();
        reverted += 1;
        // 2026-11-28-000004_job_queue (later migrations are reverted first).
        if name.contains("000004") {
            break;
        }
    }
    drop(conn);
    assert_eq!(test.db.run_migrations().expect("re-applied").len(), reverted);
    let t = now();
    enqueue(&test.db, &close_order(), t);
    assert_eq!(claim(&test.db, "w", t, 1).len(), 1);
}
