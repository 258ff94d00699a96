//! Admission tickets: the dry run writes nothing, a commit records its seed and is audited,
//! re-assigning keeps tickets unless forced, publication enqueues each ticket's rendering
//! once, render outcomes are recorded once, failures are listed and retried, rooms and venues.

use std::collections::BTreeSet;

use baoming_domain::ids::{RegistrationId, VenueId};
use baoming_domain::lifecycle::{Actor, CheckInProof, Event, State};
use baoming_domain::profile::Profile;
use baoming_store::audit;
use baoming_store::jobs::{self, Job};
use baoming_store::testing::{Fixture, TestDb, cipher, fixture_profile, now, staff};
use baoming_store::tickets::{
    self, AssignOptions, RENDER_BATCH, RenderOutcome, RenderState, RoomLayout, Seats,
    SettingsChange, TicketError,
};
use baoming_store::{Db, StoreError};
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;

baoming_store::on_both_backends!(
    a_dry_run_writes_nothing_and_a_commit_records_its_seed,
    reassigning_keeps_tickets_unless_forced_and_never_after_publication,
    publication_enqueues_each_ticket_once,
    render_outcomes_are_recorded_once_and_failures_retried,
    seats_follow_the_checkin_venue_then_the_region,
    rooms_and_the_seat_plan_read_back,
    a_new_scheme_needs_a_forced_reassignment,
    a_venue_with_tickets_stays,
);

fn conn(db: &Db) -> baoming_store::Conn {
    db.conn().expect("connection")
}

fn admin() -> audit::Actor {
    audit::Actor {
        username: Some("admin1".into()),
        role: Some("admin".into()),
        ..Default::default()
    }
}

fn options(seed: u64) -> AssignOptions {
    AssignOptions { seed, force: false, extra_rooms: 0 }
}

/// A checked-in registration of participant `n` employed by `employer`.
fn checked_in(f: &Fixture, n: u32, region: &str, employer: &str) -> RegistrationId {
    let profile = Profile { employer: Some(employer.into()), ..fixture_profile(n, f.at) };
    f.in_state_with(n, region, State::CheckedIn, &profile)
}

/// `count` checked-in registrations from participant `from`, over `employers` employers.
fn crowd(f: &Fixture, from: u32, count: u32, employers: u32) -> Vec<RegistrationId> {
    (from..from + count)
        .map(|n| checked_in(f, n, "01", &format!("单位{}", n % employers)))
        .collect()
}

fn table_count(db: &Db, table: &str) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<N>(&mut *conn(db))
        .expect("count")
        .n
}

fn audits(db: &Db, action: &str) -> Vec<audit::Record> {
    audit::list(
        &mut conn(db),
        &audit::Filter { action: Some(action.into()), limit: 100, ..Default::default() },
    )
    .expect("audit")
}

fn render_jobs(db: &Db) -> Vec<(Vec<RegistrationId>, DateTime<Utc>)> {
    jobs::pending(&mut conn(db))
        .expect("jobs")
        .into_iter()
        .filter_map(|j| match j.job {
            Job::RenderTickets { registrations, requested_at, .. } => {
                Some((registrations, requested_at))
            }
            _ => None,
        })
        .collect()
}

fn a_dry_run_writes_nothing_and_a_commit_records_its_seed(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    // 20 employers of two over two rooms: the crate guarantees every constraint.
    let ids = crowd(&f, 1, 40, 20);
    let period = f.period.id;
    let before = (table_count(&test.db, "tickets"), table_count(&test.db, "audit_log"));
    let dry = tickets::plan(&mut conn(&test.db), period, &options(20_261_220)).expect("plan");
    assert_eq!(before, (table_count(&test.db, "tickets"), table_count(&test.db, "audit_log")));
    assert_eq!((dry.tickets.len(), dry.created, dry.kept, dry.replaced), (40, 40, 0, 0));
    assert_eq!(dry.rooms.len(), 2, "40 people in rooms of 30");
    assert_eq!(dry.seed, 20_261_220);
    assert!(dry.unmet.is_empty(), "{:?}", dry.unmet);
    // The default scheme: year 26, region 01, site 1 (the demo venue), room, seat.
    let numbers: BTreeSet<&str> = dry.tickets.iter().map(|t| t.number.as_str()).collect();
    assert_eq!(numbers.len(), 40);
    for t in &dry.tickets {
        assert_eq!(t.number, format!("260101{:02}{:02}", t.room, t.seat), "{t:?}");
        assert!(t.seat <= 30 && t.row <= 6 && t.column <= 5);
    }
    let covered: BTreeSet<RegistrationId> = dry.tickets.iter().map(|t| t.registration).collect();
    assert_eq!(covered, ids.iter().copied().collect());
    // The same seed plans the same; another seed (almost surely) another.
    let again = tickets::plan(&mut conn(&test.db), period, &options(20_261_220)).expect("plan");
    assert_eq!(again, dry);
    let other = tickets::plan(&mut conn(&test.db), period, &options(7)).expect("plan");
    assert_ne!(other.tickets, dry.tickets);

    // The commit writes exactly the dry run's plan, with its seed, audited.
    let committed =
        tickets::assign(&mut conn(&test.db), period, &options(20_261_220), &admin(), f.at)
            .expect("assigned");
    assert_eq!(committed, dry);
    let stored = tickets::list(&mut conn(&test.db), period).expect("list");
    assert_eq!(stored.len(), 40);
    for (s, d) in stored.iter().zip(&dry.tickets) {
        assert_eq!(
            (s.registration, s.number.as_str(), s.site, s.room, s.seat, s.row, s.column),
            (d.registration, d.number.as_str(), d.site, d.room, d.seat, d.row, d.column)
        );
        assert_eq!((s.seed, s.algorithm), (20_261_220, 1));
        assert_eq!(s.render, RenderState::Pending);
    }
    let entries = audits(&test.db, "ticket_assign");
    assert_eq!(entries.len(), 1);
    let summary = entries[0].summary.as_ref().expect("summary");
    assert_eq!(summary["seed"], "20261220");
    assert_eq!(summary["created"], 40);
    assert_eq!(summary["algorithm"], 1);
    assert_eq!(entries[0].username.as_deref(), Some("admin1"));
    // Tickets never change a registration's state; nothing is rendered before publication.
    for id in &ids {
        assert_eq!(f.state(*id), State::CheckedIn);
    }
    assert!(render_jobs(&test.db).is_empty());
    // Participants see nothing before publication.
    let owner = f.owner(ids[0]);
    assert!(matches!(
        tickets::published(&mut conn(&test.db), ids[0], owner),
        Err(StoreError::NotFound { .. })
    ));
    assert!(tickets::published_among(&mut conn(&test.db), &ids).expect("among").is_empty());
}

fn reassigning_keeps_tickets_unless_forced_and_never_after_publication(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    crowd(&f, 1, 35, 7);
    let period = f.period.id;
    let first =
        tickets::assign(&mut conn(&test.db), period, &options(1), &admin(), f.at).expect("first");
    // Nothing new: a second commit keeps everything and creates nothing.
    let same =
        tickets::assign(&mut conn(&test.db), period, &options(2), &admin(), f.at).expect("same");
    assert_eq!((same.kept, same.created), (35, 0));
    // Three late check-ins: seated in a room of their own after the existing ones.
    let late = crowd(&f, 100, 3, 3);
    let more =
        tickets::assign(&mut conn(&test.db), period, &options(3), &admin(), f.at).expect("more");
    assert_eq!((more.kept, more.created, more.replaced), (35, 3, 0));
    let stored = tickets::list(&mut conn(&test.db), period).expect("list");
    for t in &first.tickets {
        let now_stored = stored.iter().find(|s| s.registration == t.registration).expect("kept");
        assert_eq!((now_stored.number.as_str(), now_stored.seed), (t.number.as_str(), 1));
    }
    let max_room = first.tickets.iter().map(|t| t.room).max().expect("rooms");
    for id in &late {
        let t = stored.iter().find(|s| s.registration == *id).expect("late ticket");
        assert_eq!((t.room, t.seed), (max_room + 1, 3));
    }
    // Forced: everybody planned afresh.
    let forced = AssignOptions { seed: 4, force: true, extra_rooms: 0 };
    let fresh =
        tickets::assign(&mut conn(&test.db), period, &forced, &admin(), f.at).expect("force");
    assert_eq!((fresh.kept, fresh.created, fresh.replaced), (0, 38, 38));
    assert_eq!(fresh.rooms.len(), 2);
    assert!(tickets::list(&mut conn(&test.db), period).expect("list").iter().all(|t| t.seed == 4));

    // Published: force is refused; a late check-in is still seated, and rendered.
    tickets::publish(&mut conn(&test.db), period, &admin(), f.at).expect("published");
    let refused = tickets::assign(&mut conn(&test.db), period, &forced, &admin(), f.at);
    assert!(matches!(refused, Err(TicketError::Published)), "{refused:?}");
    assert!(matches!(
        tickets::plan(&mut conn(&test.db), period, &forced),
        Err(TicketError::Published)
    ));
    let latest = crowd(&f, 200, 1, 1)[0];
    let jobs_before = render_jobs(&test.db).len();
    let later = f.at + Duration::minutes(5);
    let added =
        tickets::assign(&mut conn(&test.db), period, &options(5), &admin(), later).expect("late");
    assert_eq!((added.kept, added.created), (38, 1));
    let jobs_now = render_jobs(&test.db);
    assert_eq!(jobs_now.len(), jobs_before + 1);
    assert!(jobs_now.iter().any(|(ids, at)| ids == &vec![latest] && *at == later));
}

fn publication_enqueues_each_ticket_once(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    let ids = crowd(&f, 1, 120, 40);
    let period = f.period.id;
    let nothing = tickets::publish(&mut conn(&test.db), period, &admin(), f.at);
    assert!(matches!(nothing, Err(TicketError::NothingAssigned)), "{nothing:?}");
    tickets::assign(&mut conn(&test.db), period, &options(9), &admin(), f.at).expect("assigned");
    let done = tickets::publish(&mut conn(&test.db), period, &admin(), f.at).expect("published");
    assert!(!done.already);
    assert_eq!((done.tickets, done.jobs), (120, 120usize.div_ceil(RENDER_BATCH)));
    let batches = render_jobs(&test.db);
    assert!(batches.iter().all(|(b, _)| b.len() <= RENDER_BATCH));
    let mut all: Vec<RegistrationId> = batches.into_iter().flat_map(|(b, _)| b).collect();
    all.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(all, expected, "every ticket in exactly one batch");
    let again = tickets::publish(&mut conn(&test.db), period, &admin(), f.at + Duration::hours(1))
        .expect("again");
    assert!(again.already);
    assert_eq!((again.at, again.jobs), (f.at, 0));
    assert_eq!(render_jobs(&test.db).len(), 3);
    assert_eq!(audits(&test.db, "ticket_publish").len(), 1);
    // Now participants find their own ticket, and only theirs.
    let owner = f.owner(ids[0]);
    let (ticket, at) = tickets::published(&mut conn(&test.db), ids[0], owner).expect("own");
    assert_eq!((ticket.registration, at), (ids[0], f.at));
    let stranger = f.owner(ids[1]);
    assert!(tickets::published(&mut conn(&test.db), ids[0], stranger).is_err());
    assert_eq!(tickets::published_among(&mut conn(&test.db), &ids[..5]).expect("among").len(), 5);
    // The settings no longer change.
    let change = SettingsChange { scheme: None, rooms: vec![] };
    assert!(matches!(
        tickets::update_settings(&mut conn(&test.db), period, &change, &admin(), f.at),
        Err(TicketError::Published)
    ));
}

/// Claims every due job and keeps the render jobs.
fn claim_renders(db: &Db, at: DateTime<Utc>) -> Vec<jobs::Claimed> {
    jobs::claim(&mut conn(db), "test-worker", at, Duration::seconds(300), 100)
        .expect("claimed")
        .into_iter()
        .filter(|c| c.kind == "render_tickets")
        .collect()
}

fn render_outcomes_are_recorded_once_and_failures_retried(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    let ids = crowd(&f, 1, 4, 4);
    let period = f.period.id;
    tickets::assign(&mut conn(&test.db), period, &options(11), &admin(), f.at).expect("assigned");
    tickets::publish(&mut conn(&test.db), period, &admin(), f.at).expect("published");
    let claimed = claim_renders(&test.db, f.at);
    let [job] = claimed.as_slice() else { panic!("one render job: {claimed:?}") };
    let Ok(Job::RenderTickets { registrations, .. }) = &job.job else { panic!("{job:?}") };

    // What the worker reads: name, masked ID, subjects with their times, venue, photo.
    let inputs =
        tickets::to_render(&mut conn(&test.db), &cipher(), period, registrations).expect("inputs");
    assert_eq!(inputs.len(), 4);
    let first = &inputs[0];
    assert_eq!(first.name.as_deref(), Some("王五"));
    assert!(first.masked_id.as_deref().is_some_and(|m| m.contains("********")), "{first:?}");
    assert_eq!(first.site_name, "福建建设培训中心");
    assert_eq!(
        first.subjects.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
        ["建设工程目标控制（土木建筑）", "建设工程监理案例分析（土木建筑）"]
    );
    assert!(first.subjects[0].starts_at < first.subjects[0].ends_at);
    assert!(first.photo_key.as_deref().is_some_and(|k| k.ends_with("normalized.jpg")));
    assert_eq!(first.published_at, Some(f.at));

    let rendered = |id: RegistrationId| RenderOutcome::Rendered {
        registration: id,
        png_key: format!("tickets/{period}/{id}.png"),
        pdf_key: format!("tickets/{period}/{id}.pdf"),
        qr_text: "BMT1:TEST".into(),
    };
    let glyphs = RenderOutcome::Failed {
        registration: ids[3],
        code: "ticket_missing_glyphs".into(),
        message: "以下字符无法显示：“\u{2A6D6}”(U+2A6D6)".into(),
        missing: vec!['\u{2A6D6}'],
    };
    let outcomes = vec![rendered(ids[0]), rendered(ids[1]), rendered(ids[2]), glyphs];
    let at = f.at + Duration::minutes(1);
    let recorded = tickets::record_renders(&mut conn(&test.db), job, &outcomes, at).expect("rec");
    assert_eq!((recorded.rendered, recorded.failed, recorded.skipped), (3, 1, 0));
    assert_eq!(jobs::get(&mut conn(&test.db), job.id).expect("job").completed_at, Some(at));
    let notices: Vec<RegistrationId> = jobs::pending(&mut conn(&test.db))
        .expect("jobs")
        .into_iter()
        .filter_map(|j| match j.job {
            Job::TicketNotice { registration } => Some(registration),
            _ => None,
        })
        .collect();
    assert_eq!(notices, ids[..3].to_vec(), "one notice per rendered ticket");
    // The job runs again (its completion was lost): nothing is read, nothing written twice.
    assert!(
        tickets::to_render(&mut conn(&test.db), &cipher(), period, registrations)
            .expect("inputs")
            .is_empty()
    );
    let duplicate = Job::RenderTickets {
        period,
        registrations: registrations.clone(),
        requested_at: f.at + Duration::minutes(2),
    };
    jobs::enqueue(&mut conn(&test.db), &duplicate, at, at).expect("enqueued");
    let [again] = claim_renders(&test.db, at + Duration::seconds(1)).try_into().expect("one job");
    let twice = tickets::record_renders(&mut conn(&test.db), &again, &outcomes, at).expect("rec");
    assert_eq!((twice.rendered, twice.failed, twice.skipped), (0, 0, 4));
    assert_eq!(
        jobs::pending(&mut conn(&test.db))
            .expect("jobs")
            .iter()
            .filter(|j| matches!(j.job, Job::TicketNotice { .. }))
            .count(),
        3
    );
    let stored = tickets::get(&mut conn(&test.db), ids[0]).expect("get").expect("ticket");
    assert!(matches!(stored.render, RenderState::Rendered { at: when, .. } if when == at));

    // Staff see the failure with the character named, and render it again once fixed.
    let failed = tickets::failed(&mut conn(&test.db), period).expect("failed");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].ticket.registration, ids[3]);
    assert_eq!(failed[0].failure.code, "ticket_missing_glyphs");
    assert_eq!(failed[0].failure.missing, vec!['\u{2A6D6}']);
    assert_eq!(failed[0].name.as_deref(), Some("王五"));
    let retried = tickets::retry_failed(&mut conn(&test.db), period, &admin(), at).expect("retry");
    assert_eq!(retried, 1);
    assert!(tickets::failed(&mut conn(&test.db), period).expect("failed").is_empty());
    let retry_jobs = render_jobs(&test.db);
    assert!(retry_jobs.iter().any(|(b, _)| b == &vec![ids[3]]), "{retry_jobs:?}");
    let inputs = tickets::to_render(&mut conn(&test.db), &cipher(), period, &[ids[3]]).expect("in");
    assert_eq!(inputs.len(), 1);
    assert_eq!(audits(&test.db, "ticket_render_retry").len(), 1);
}

/// Adds venue number 2, serving region 02 only, to the fixture's period.
fn second_venue(f: &Fixture, db: &Db) -> VenueId {
    use baoming_store::schema::venues as v;
    let id: VenueId = baoming_store::new_id();
    diesel::insert_into(v::table)
        .values((
            v::id.eq(id.to_string()),
            v::period_id.eq(f.period.id.to_string()),
            v::name.eq("厦门考点"),
            v::address.eq("厦门市思明区 2 号"),
            v::number.eq(2),
            v::region_id.eq(Some(f.period.region("02").expect("region").to_string())),
            v::static_code.eq(false),
        ))
        .execute(&mut *conn(db))
        .expect("venue");
    id
}

fn seats_follow_the_checkin_venue_then_the_region(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    let xiamen = second_venue(&f, &test.db);
    let period = f.period.id;
    let general = f.period.venues[0];
    // Venue 1 (everyone) seats 10 per room in rows of 5.
    let change = SettingsChange {
        scheme: None,
        rooms: vec![(general, RoomLayout::new(10, 5).expect("layout"))],
    };
    let settings =
        tickets::update_settings(&mut conn(&test.db), period, &change, &admin(), f.at).expect("ok");
    assert_eq!(settings.venue(general).expect("venue").layout.capacity(), 10);
    assert_eq!(settings.venue(xiamen).expect("venue").layout, RoomLayout::default());
    let fuzhou: Vec<RegistrationId> =
        (1..=25).map(|n| checked_in(&f, n, "01", &format!("福州单位{n}"))).collect();
    let xm = checked_in(&f, 30, "02", "厦门单位");
    // A Fuzhou participant checked in at the Xiamen venue sits there.
    let (participant, photo) = f.participant_with(31, &fixture_profile(31, f.at));
    let moved = f.submit(&f.form(participant, photo, "01"));
    f.apply(moved, Event::Approve, staff(Actor::Reviewer), f.at).expect("approved");
    f.confirm_transfer(
        &[moved],
        baoming_domain::Money::from_fen(baoming_store::seed::TWO_SUBJECT_FEE_FEN).expect("fee"),
        staff(Actor::Finance),
        f.at,
    )
    .expect("paid");
    f.apply(
        moved,
        Event::CheckIn { proof: CheckInProof::Staff, venue: Some(xiamen) },
        staff(Actor::CheckinStaff),
        f.checkin_time(),
    )
    .expect("checked in at Xiamen");

    let plan = tickets::plan(&mut conn(&test.db), period, &options(5)).expect("plan");
    let site_of = |id: RegistrationId| {
        plan.tickets.iter().find(|t| t.registration == id).map(|t| (t.site, t.venue))
    };
    for id in &fuzhou {
        assert_eq!(site_of(*id), Some((1, general)));
    }
    assert_eq!(site_of(xm), Some((2, xiamen)));
    assert_eq!(site_of(moved), Some((2, xiamen)));
    // 25 people at 10 a room: 3 rooms at site 1, one at site 2; the region code in the number.
    assert_eq!(plan.rooms.iter().filter(|r| r.site == 1).count(), 3);
    assert!(plan.rooms.iter().filter(|r| r.site == 1).all(|r| r.layout.capacity() == 10));
    let xm_number = &plan.tickets.iter().find(|t| t.registration == xm).expect("t").number;
    assert!(xm_number.starts_with("260202"), "{xm_number}");
    let moved_number = &plan.tickets.iter().find(|t| t.registration == moved).expect("t").number;
    assert!(moved_number.starts_with("260102"), "{moved_number}");
    assert_eq!(audits(&test.db, "ticket_settings").len(), 1);

    // A region nobody serves cannot be seated: named in the refusal.
    diesel::update(baoming_store::schema::venues::table)
        .filter(baoming_store::schema::venues::id.eq(general.to_string()))
        .set(
            baoming_store::schema::venues::region_id
                .eq(Some(f.period.region("03").expect("region").to_string())),
        )
        .execute(&mut *conn(&test.db))
        .expect("venue 1 now serves 泉州 only");
    match tickets::plan(&mut conn(&test.db), period, &options(5)) {
        Err(e @ TicketError::NoVenue { .. }) => {
            assert_eq!(e.code(), "ticket_no_venue");
            assert!(e.to_string().contains("福州"), "{e}");
        }
        other => panic!("expected no venue, got {other:?}"),
    }
}

fn rooms_and_the_seat_plan_read_back(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    crowd(&f, 1, 33, 11);
    let period = f.period.id;
    let plan =
        tickets::assign(&mut conn(&test.db), period, &options(21), &admin(), f.at).expect("plan");
    let venue = f.period.venues[0];
    let room1 = tickets::seated(&mut conn(&test.db), &cipher(), Seats::Room { venue, room: 1 })
        .expect("room 1");
    let expected: Vec<u32> = plan.tickets.iter().filter(|t| t.room == 1).map(|t| t.seat).collect();
    assert_eq!(room1.iter().map(|s| s.ticket.seat).collect::<Vec<_>>(), expected);
    assert!(room1.windows(2).all(|w| w[0].ticket.seat < w[1].ticket.seat));
    for s in &room1 {
        assert_eq!(s.name.as_deref(), Some("王五"));
        assert!(s.masked_id.as_deref().is_some_and(|m| m.contains("********")));
        assert!(s.employer.as_deref().is_some_and(|e| e.starts_with("单位")));
        assert!(s.photo_key.is_some());
    }
    // 11 employers of three over two rooms: two of an employer share a room, reported; every
    // report is true of the plan.
    assert!(plan.unmet.iter().any(|u| matches!(u, tickets::Unmet::SameRoom { .. })));
    for u in &plan.unmet {
        if let tickets::Unmet::SameRoom { room, keys, .. } = u {
            for key in keys {
                let t = plan.tickets.iter().find(|t| t.registration.to_string() == *key);
                assert_eq!(t.map(|t| t.room), Some(*room));
            }
        }
    }
    let all = tickets::seated(&mut conn(&test.db), &cipher(), Seats::Period(period)).expect("all");
    assert_eq!(all.len(), 33);
    let empty = tickets::seated(&mut conn(&test.db), &cipher(), Seats::Room { venue, room: 9 })
        .expect("empty room");
    assert!(empty.is_empty());
    let names = tickets::names_of(
        &mut conn(&test.db),
        &all.iter().map(|s| s.ticket.registration).collect::<Vec<_>>(),
    )
    .expect("names");
    assert_eq!(names.len(), 33);
}

fn a_new_scheme_needs_a_forced_reassignment(test: TestDb) {
    let f = Fixture::new(&test.db, now());
    crowd(&f, 1, 5, 5);
    let period = f.period.id;
    tickets::assign(&mut conn(&test.db), period, &options(1), &admin(), f.at).expect("assigned");
    let scheme = tickets::NumberScheme::parse("JL{yyyy}-{site:1}{room:3}{seat:2}").expect("scheme");
    let change = SettingsChange { scheme: Some(scheme), rooms: vec![] };
    tickets::update_settings(&mut conn(&test.db), period, &change, &admin(), f.at).expect("ok");
    crowd(&f, 10, 1, 1);
    let mixed = tickets::assign(&mut conn(&test.db), period, &options(2), &admin(), f.at);
    assert!(matches!(mixed, Err(TicketError::SchemeChanged)), "{mixed:?}");
    let forced = AssignOptions { seed: 2, force: true, extra_rooms: 0 };
    let plan = tickets::assign(&mut conn(&test.db), period, &forced, &admin(), f.at).expect("ok");
    assert_eq!(plan.tickets.len(), 6);
    for t in &plan.tickets {
        assert_eq!(t.number, format!("JL2026-1{:03}{:02}", t.room, t.seat));
    }
    // A scheme too narrow for the seats is refused with the value named (12 people take
    // seats beyond 9).
    crowd(&f, 20, 6, 6);
    let narrow = tickets::NumberScheme::parse("{site:1}{room:1}{seat:1}").expect("scheme");
    let change = SettingsChange { scheme: Some(narrow), rooms: vec![] };
    tickets::update_settings(&mut conn(&test.db), period, &change, &admin(), f.at).expect("ok");
    let too_wide = tickets::plan(&mut conn(&test.db), period, &forced);
    assert!(
        matches!(&too_wide, Err(e) if e.code() == "ticket_number_value_too_wide"),
        "{too_wide:?}"
    );
}

fn a_venue_with_tickets_stays(test: TestDb) {
    use baoming_store::periods;
    let f = Fixture::new(&test.db, now());
    crowd(&f, 1, 2, 2);
    let period = f.period.id;
    tickets::assign(&mut conn(&test.db), period, &options(1), &admin(), f.at).expect("assigned");
    // The period edited without its only venue: refused, the venue is referenced.
    let mut plan = baoming_store::seed::demo_period(f.at);
    let detail = periods::detail(&mut conn(&test.db), period).expect("detail");
    for (row, region) in plan.regions.iter_mut().zip(&detail.regions) {
        row.id = Some(region.id);
    }
    for (row, subject) in plan.subjects.iter_mut().zip(&detail.subjects) {
        row.id = Some(subject.id);
    }
    for (row, exam_type) in plan.exam_types.iter_mut().zip(&detail.exam_types) {
        row.id = Some(exam_type.id);
    }
    plan.venues[0].name = "新考点".into();
    let refused = periods::update(&mut conn(&test.db), period, &plan, f.at);
    assert!(
        matches!(&refused, Err(periods::PlanError::Referenced { what: "venue", .. })),
        "{refused:?}"
    );
}
