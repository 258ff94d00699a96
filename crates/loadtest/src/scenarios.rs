//! The set-up, the scenarios and the invariants of the benchmark.

use std::collections::BTreeMap;
use std::io::Cursor;
use std::sync::Arc;
use std::time::Duration;

use baoming_domain::identity::mod11_2_check_char;
use baoming_store::Db;
use chrono::Utc;
use image::{ImageFormat, Rgb, RgbImage};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::bombs::{Fixture, bombs};
use crate::client::{Api, Failure, StaffSession, fail};
use crate::paynotify::PaySide;
use crate::probe::Probe;
use crate::stats::{Measurement, Outcome, drive};

/// The scenarios, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// Every participant submits at once.
    RushSubmit,
    /// The same submissions made by the store in a loop on the api's database, without HTTP
    /// (the embedded-database floor of rush-submit, [`crate::floor`]).
    SubmitFloor,
    /// Reviewers bulk-approve everything (capacity is less than the submissions).
    Review,
    /// Random participants read "My exams".
    MyExams,
    /// Every participant, paid, checks in at once with the venue's current code.
    CheckIn,
    /// WeChat Pay notifications (signed, encrypted, each delivered twice) for every
    /// participant's order, through the notify endpoint at the run's concurrency.
    PayNotify,
    /// WeChat logins through the simulator.
    Login,
    /// Phone-sized photos uploaded and normalised.
    PhotoUpload,
    /// Many participants upload at once, phone photos mixed with the bombs of
    /// [`crate::bombs`]: every upload gets its expected answer; the api's peak memory is the
    /// figure.
    PhotoBurst,
    /// The trivial "hello" endpoint (the HTTP floor of this machine).
    Hello,
}

impl Scenario {
    /// Name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::RushSubmit => "rush-submit",
            Scenario::SubmitFloor => "submit floor (store, no HTTP)",
            Scenario::Review => "review",
            Scenario::MyExams => "my-exams",
            Scenario::CheckIn => "check-in",
            Scenario::PayNotify => "pay-notify",
            Scenario::Login => "login",
            Scenario::PhotoUpload => "photo-upload",
            Scenario::PhotoBurst => "photo-burst",
            Scenario::Hello => "hello (baseline)",
        }
    }
}

/// How big a run is.
#[derive(Debug, Clone)]
pub struct Config {
    /// Participants (each submits once per run).
    pub participants: usize,
    /// Concurrent connections of the client.
    pub concurrency: usize,
    /// Runs (figures are medians over them).
    pub runs: usize,
    /// "My exams" reads per run.
    pub my_exams: usize,
    /// Logins per run.
    pub logins: usize,
    /// Photo uploads per run.
    pub photos: usize,
    /// Concurrent photo uploads.
    pub photo_concurrency: usize,
    /// Uploads of the photo burst, all at once, each by another participant (0: no burst).
    pub photo_burst: usize,
    /// The most the api may hold in memory (peak RSS, KiB) during the photo burst: more breaks
    /// an invariant. Needs the api's process (`Target::probe`); `None`: not checked.
    pub burst_memory_limit_kib: Option<u64>,
    /// Requests to the hello baseline per run.
    pub hello: usize,
    /// Threads (each with its own connection) of the submit floor: 1 on SQLite (one writer at
    /// a time), more on PostgreSQL.
    pub floor_threads: usize,
    /// The back-office user (roles admin and reviewer) and password.
    pub staff: (String, String),
}

/// What the benchmark runs against.
#[derive(Debug, Clone)]
pub struct Target {
    /// The api.
    pub api: Api,
    /// The api process, for memory and CPU figures (when the tool started it).
    pub probe: Option<Probe>,
    /// The api's database, for the invariants that need it.
    pub db: Option<Db>,
    /// The hello baseline server, when there is one.
    pub hello: Option<Api>,
    /// The WeChat Pay simulator the api talks to and the relay in front of its notify
    /// endpoint (when the tool runs them; without, pay-notify is skipped).
    pub pay: Option<PaySide>,
}

/// All figures: per scenario, one measurement per run.
#[derive(Debug, Default)]
pub struct Results {
    /// Measurements.
    pub runs: BTreeMap<Scenario, Vec<Measurement>>,
    /// Per-id results of the bulk reviews: approved, refused as full.
    pub review_ids: Vec<(usize, usize)>,
    /// Per run of pay-notify: orders paid, deliveries (each notification twice).
    pub pay_notify: Vec<(usize, usize)>,
}

struct Participant {
    token: String,
    photo: String,
}

fn resident_id(n: usize) -> String {
    let first17 = format!(
        "3501021985{:02}{:02}{:03}",
        1 + n % 12,
        1 + (n / 12) % 28,
        (n / 336) % 500 * 2 + 1
    );
    let check = mod11_2_check_char(&first17).unwrap_or('0');
    format!("{first17}{check}")
}

/// A white-background photo with a subject; `detailed` adds texture so the JPEG is as heavy as
/// a phone's (≈ 2–3 MB at 3000×4000).
pub fn photo(w: u32, h: u32, detailed: bool) -> Vec<u8> {
    let mut img = RgbImage::from_pixel(w, h, Rgb([250, 250, 250]));
    let (cx, cy) = (f64::from(w) / 2.0, f64::from(h) * 0.45);
    let (rx, ry) = (f64::from(w) * 0.22, f64::from(h) * 0.22);
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for (x, y, px) in img.enumerate_pixels_mut() {
        let (dx, dy) = ((f64::from(x) - cx) / rx, (f64::from(y) - cy) / ry);
        let shoulders =
            f64::from(y) > f64::from(h) * 0.8 && (f64::from(x) - cx).abs() < f64::from(w) * 0.3;
        if dx * dx + dy * dy <= 1.0 || shoulders {
            let noise = if detailed {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed % 90) as u8
            } else {
                0
            };
            *px = Rgb([30 + noise, 25 + noise / 2, 25 + noise / 3]);
        } else if detailed {
            // Sensor noise on the background, still bright and unsaturated.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 6) as u8;
            *px = Rgb([244 + n, 244 + n, 244 + n]);
        }
    }
    let mut out = Cursor::new(Vec::new());
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92);
    if encoder.encode_image(&img).is_err() {
        let _ = img.write_to(&mut out, ImageFormat::Jpeg);
    }
    out.into_inner()
}

fn period_body(participants: usize) -> Value {
    let now = Utc::now();
    let day = |n: i64| now + chrono::Duration::days(n);
    let seats = (participants * 3 / 5).div_ceil(3).max(1);
    let specialties = json!(["土木建筑", "交通运输", "水利"]);
    json!({
        "name": format!("压测期次 {}", now.format("%H%M%S%.3f")),
        "exam_name": "监理工程师",
        "registration_opens": day(-1), "registration_closes": day(14), "payment_deadline": day(16),
        "checkin_opens": day(30), "checkin_closes": day(30) + chrono::Duration::hours(2), "exam_ends": day(31),
        "regions": [
            {"code": "01", "name": "福州", "capacity": seats},
            {"code": "02", "name": "厦门", "capacity": seats},
            {"code": "03", "name": "泉州", "capacity": seats},
        ],
        "subjects": [
            {"code": "control", "name": "建设工程目标控制", "specialties": specialties, "exam_starts_at": day(30), "exam_ends_at": day(30) + chrono::Duration::hours(2)},
            {"code": "case", "name": "建设工程监理案例分析", "specialties": specialties, "exam_starts_at": day(31) - chrono::Duration::hours(4), "exam_ends_at": day(31) - chrono::Duration::hours(1)},
        ],
        "exam_types": [{"code": "exempt_basic", "name": "免考基础科目", "subject_codes": ["control", "case"],
                        "min_subjects": 2, "max_subjects": 2, "prices": [{"subjects": 2, "fee_yuan": "680.00"}]}],
        "venues": [{"name": "培训中心", "address": "湖东路1号"}],
    })
}

/// A period whose check-in window is open now (registration too), one venue for everyone,
/// codes turning every 300 s, room for everyone.
fn checkin_period_body(participants: usize, run: usize) -> Value {
    let now = Utc::now();
    let day = |n: i64| now + chrono::Duration::days(n);
    let specialties = json!(["土木建筑", "交通运输", "水利"]);
    json!({
        "name": format!("压测报到 {} 第{run}轮", now.format("%H%M%S%.3f")),
        "exam_name": "监理工程师",
        "registration_opens": day(-1), "registration_closes": day(14), "payment_deadline": day(16),
        "checkin_opens": day(-1), "checkin_closes": day(1), "exam_ends": day(31),
        "regions": [{"code": "01", "name": "福州", "capacity": participants}],
        "subjects": [
            {"code": "control", "name": "建设工程目标控制", "specialties": specialties, "exam_starts_at": day(30), "exam_ends_at": day(30) + chrono::Duration::hours(2)},
            {"code": "case", "name": "建设工程监理案例分析", "specialties": specialties, "exam_starts_at": day(31) - chrono::Duration::hours(4), "exam_ends_at": day(31) - chrono::Duration::hours(1)},
        ],
        "exam_types": [{"code": "exempt_basic", "name": "免考基础科目", "subject_codes": ["control", "case"],
                        "min_subjects": 2, "max_subjects": 2, "prices": [{"subjects": 2, "fee_yuan": "680.00"}]}],
        "venues": [{"name": "报到大厅", "address": "湖东路1号"}],
        "checkin_slice_secs": 300,
    })
}

/// The set-up shared by the check-in and pay-notify scenarios (not timed): staff create the
/// period of `body`, every participant submits a registration to it, and staff approve them
/// all in bulk. Returns the created period's answer and the registrations' ids, in the
/// participants' order; `what` names the scenario in a failure.
async fn approved_period(
    api: &Api,
    participants: &Arc<Vec<Participant>>,
    staff: &StaffSession,
    body: &Value,
    what: &str,
) -> Result<(Value, Vec<String>), Failure> {
    let n = participants.len();
    let (outcome, created) =
        api.send(api.as_staff(Method::POST, "/api/v1/admin/periods", staff).json(body)).await;
    if outcome.status != Some(201) {
        return Err(fail(format!("creating the {what} period: {:?} {created}", outcome.status)));
    }
    let period = Arc::new(created["period"].clone());
    let (api2, people, p) = (api.clone(), Arc::clone(participants), Arc::clone(&period));
    let (submitted, _) = drive(n, 32, move |i| {
        let (api, people, p) = (api2.clone(), Arc::clone(&people), Arc::clone(&p));
        async move {
            let mut body = submit_body(&p, &people[i].photo, 0);
            body["region_id"] = p["regions"][0]["id"].clone();
            let (o, b) = api
                .send(
                    api.as_participant(Method::POST, "/api/v1/registrations", &people[i].token)
                        .json(&body),
                )
                .await;
            (o.status, b["id"].as_str().map(str::to_owned))
        }
    })
    .await;
    let ids: Vec<String> = submitted
        .into_iter()
        .map(|(status, id)| match (status, id) {
            (Some(201), Some(id)) => Ok(id),
            (status, _) => Err(fail(format!("{what} set-up: a submission answered {status:?}"))),
        })
        .collect::<Result<_, _>>()?;
    for chunk in ids.chunks(500) {
        let (o, b) = api
            .send(
                api.as_staff(Method::POST, "/api/v1/admin/registrations/bulk", staff)
                    .json(&json!({"action": "approve", "ids": chunk})),
            )
            .await;
        let all_ok = b["results"].as_array().is_some_and(|r| r.iter().all(|x| x["ok"] == true));
        if o.status != Some(200) || !all_ok {
            return Err(fail(format!("{what} set-up: approvals {:?} {b}", o.status)));
        }
    }
    Ok((created, ids))
}

/// The check-in scenario of one run: a fresh period (check-in open now), everyone registers,
/// is approved and pays by a confirmed transfer (not timed); then everyone checks in at once
/// with the venue's current code (timed). Invariants: every answer a fresh check-in, each
/// registration checked in exactly once with one event row, the live counts equal the rows.
async fn check_in_round(
    target: &Target,
    config: &Config,
    participants: &Arc<Vec<Participant>>,
    staff: &StaffSession,
    run: usize,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Measurement, Failure> {
    let api = &target.api;
    let n = participants.len();
    let (created, ids) =
        approved_period(api, participants, staff, &checkin_period_body(n, run), "check-in").await?;
    let period = Arc::new(created["period"].clone());
    let venue = created["venues"][0]["id"].as_str().unwrap_or_default().to_owned();
    for chunk in ids.chunks(200) {
        let amount = format!("{}.00", 680 * chunk.len());
        let (o, b) = api
            .send(
                api.as_staff(Method::POST, "/api/v1/admin/transfers/confirm", staff)
                    .json(&json!({"registration_ids": chunk, "amount_yuan": amount})),
            )
            .await;
        if o.status != Some(200) {
            return Err(fail(format!("check-in set-up: transfers {:?} {b}", o.status)));
        }
    }
    let (o, display) = api
        .send(api.as_staff(Method::GET, &format!("/api/v1/admin/venues/{venue}/code"), staff))
        .await;
    let code = match display["code"].as_str() {
        Some(code) if o.status == Some(200) => code.to_owned(),
        _ => return Err(fail(format!("the venue code: {:?} {display}", o.status))),
    };
    log(&format!("run {run}: check-in set up, {} paid", ids.len()));
    let ids = Arc::new(ids);
    let (api2, people, code2) = (api.clone(), Arc::clone(participants), Arc::new(code));
    let (m, fresh) = measured(target, async move {
        let (done, elapsed) = drive(n, config.concurrency, move |i| {
            let (api, people, ids, code) =
                (api2.clone(), Arc::clone(&people), Arc::clone(&ids), Arc::clone(&code2));
            async move {
                let (o, b) = api
                    .send(
                        api.as_participant(
                            Method::POST,
                            &format!("/api/v1/registrations/{}/check-in", ids[i]),
                            &people[i].token,
                        )
                        .json(&json!({"code": code.as_str()})),
                    )
                    .await;
                (o, b["already_checked_in"] == false)
            }
        })
        .await;
        let fresh = done.iter().filter(|(o, fresh)| o.status == Some(200) && *fresh).count();
        (done.into_iter().map(|(o, _)| o).collect(), elapsed, fresh)
    })
    .await;
    if fresh != n {
        return Err(fail(format!("invariant: {fresh} fresh check-ins for {n} participants")));
    }
    let (o, counts) = api
        .send(api.as_staff(
            Method::GET,
            &format!(
                "/api/v1/admin/periods/{}/check-in/counts",
                period["id"].as_str().unwrap_or_default()
            ),
            staff,
        ))
        .await;
    if o.status != Some(200) || counts["total"]["checked_in"].as_u64() != Some(n as u64) {
        return Err(fail(format!("invariant: the live counts say {counts} for {n} check-ins")));
    }
    if let Some(db) = &target.db {
        let id = period["id"]
            .as_str()
            .and_then(|s| baoming_domain::ids::TypedId::parse(s).ok())
            .ok_or_else(|| fail("period id"))?;
        let mut conn = db.conn().map_err(|e| fail(format!("database: {e}")))?;
        let facts = baoming_store::checks::checkin_facts(&mut conn, id)
            .map_err(|e| fail(format!("database: {e}")))?;
        if facts.checked_in != n as i64
            || facts.checkin_events != n as i64
            || facts.checked_in_twice != 0
        {
            return Err(fail(format!("invariant: {facts:?} for {n} check-ins")));
        }
    }
    Ok(m)
}

/// The pay-notify scenario of one run: a fresh period, everyone registers and is approved and
/// opens a WeChat Pay order through the api (not timed); then the simulator pays every order
/// and delivers each notification twice (the duplicate fault), at most `config.concurrency`
/// notifications in flight, through the relay that times the api's answers (timed). Invariants:
/// every delivery answered 2xx; every registration paid exactly once, one applied payment row
/// per order with the order's amount, one recorded notification per order.
async fn pay_notify_round(
    target: &Target,
    pay: &PaySide,
    config: &Config,
    participants: &Arc<Vec<Participant>>,
    staff: &StaffSession,
    run: usize,
) -> Result<(Measurement, usize), Failure> {
    let api = &target.api;
    let n = participants.len();
    let mut body = checkin_period_body(n, run);
    body["name"] = json!(format!("压测支付 {} 第{run}轮", Utc::now().format("%H%M%S%.3f")));
    let (created, ids) = approved_period(api, participants, staff, &body, "pay-notify").await?;
    let period = Arc::new(created["period"].clone());
    let ids = Arc::new(ids);
    let (api2, people, ids2) = (api.clone(), Arc::clone(participants), Arc::clone(&ids));
    let (opened, _) = drive(n, 32, move |i| {
        let (api, people, ids) = (api2.clone(), Arc::clone(&people), Arc::clone(&ids2));
        async move {
            let (o, b) = api
                .send(
                    api.as_participant(
                        Method::POST,
                        &format!("/api/v1/registrations/{}/pay/wechat", ids[i]),
                        &people[i].token,
                    )
                    .json(&json!({})),
                )
                .await;
            match (o.status, b["out_trade_no"].as_str(), b["amount_fen"].as_i64()) {
                (Some(200), Some(no), Some(fen)) => Ok((no.to_owned(), fen)),
                (status, ..) => {
                    Err(fail(format!("pay-notify set-up: opening an order: {status:?} {b}")))
                }
            }
        }
    })
    .await;
    let orders: Vec<(String, i64)> = opened.into_iter().collect::<Result<_, _>>()?;
    let fen: i64 = orders.iter().map(|(_, fen)| fen).sum();
    pay.sim
        .set_faults(baoming_wechatpay_sim::Faults {
            duplicate_notifications: Some(true),
            ..Default::default()
        })
        .map_err(|e| fail(format!("simulator faults: {e}")))?;
    let relay = &pay.relay;
    let _ = relay.take();
    let start_count = relay.answered();
    let expected = 2 * n;
    let window = 2 * config.concurrency;
    if let Some(probe) = &target.probe {
        probe.reset_peak();
    }
    let cpu_before = target.probe.as_ref().and_then(Probe::cpu_time);
    let started = std::time::Instant::now();
    let deadline = Duration::from_secs(60 + (n as u64) / 10);
    for (i, (no, _)) in orders.iter().enumerate() {
        // At most `concurrency` notifications in flight: each is delivered twice, one copy after
        // the other, so 2·i − answered deliveries are still to come.
        while 2 * i >= relay.answered() - start_count + window {
            if started.elapsed() > deadline {
                return Err(fail(
                    "invariant: pay-notify: the notifications stopped being answered",
                ));
            }
            relay.wait_past(relay.answered(), Duration::from_millis(50)).await;
        }
        pay.sim.pay(no).map_err(|e| fail(format!("simulator: paying {no}: {e}")))?;
    }
    while relay.answered() - start_count < expected {
        if started.elapsed() > deadline {
            return Err(fail(format!(
                "invariant: pay-notify: {} of {expected} deliveries answered within {deadline:?}",
                relay.answered() - start_count
            )));
        }
        relay.wait_past(relay.answered(), Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed();
    pay.sim
        .set_faults(baoming_wechatpay_sim::Faults {
            duplicate_notifications: Some(false),
            ..Default::default()
        })
        .map_err(|e| fail(format!("simulator faults: {e}")))?;
    let outcomes = relay.take();
    let mut m = Measurement::new(&outcomes, elapsed);
    if let Some(probe) = &target.probe {
        m.peak_rss_kib = probe.peak_kib();
        m.server_cpu = match (cpu_before, probe.cpu_time()) {
            (Some(a), Some(b)) => b.checked_sub(a),
            _ => None,
        };
    }
    if m.errors() > 0 || outcomes.len() != expected {
        return Err(fail(format!(
            "invariant: pay-notify: {} deliveries for {expected} expected, answered {:?}",
            outcomes.len(),
            m.statuses
        )));
    }
    if let Some(db) = &target.db {
        let id = period["id"]
            .as_str()
            .and_then(|s| baoming_domain::ids::TypedId::parse(s).ok())
            .ok_or_else(|| fail("period id"))?;
        let mut conn = db.conn().map_err(|e| fail(format!("database: {e}")))?;
        let facts = baoming_store::checks::payment_facts(&mut conn, id)
            .map_err(|e| fail(format!("database: {e}")))?;
        let n = n as i64;
        if facts.orders != n
            || facts.orders_paid != n
            || facts.registrations_paid != n
            || facts.payments != n
            || facts.wechat_applied != n
            || facts.orders_without_one_payment != 0
            || facts.registrations_paid_twice != 0
            || facts.amount_mismatches != 0
            || facts.wechat_fen != fen
            || facts.notifications != n
        {
            return Err(fail(format!(
                "invariant: pay-notify: {facts:?} for {n} orders of {fen} fen in all"
            )));
        }
    }
    Ok((m, n))
}

struct Setup {
    staff: StaffSession,
    period: Value,
    participants: Vec<Participant>,
    capacity: usize,
}

async fn setup(target: &Target, config: &Config) -> Result<Setup, Failure> {
    let api = &target.api;
    let staff = api.staff_login(&config.staff.0, &config.staff.1).await?;
    let (outcome, period) = api
        .send(
            api.as_staff(Method::POST, "/api/v1/admin/periods", &staff)
                .json(&period_body(config.participants)),
        )
        .await;
    if outcome.status != Some(201) {
        return Err(fail(format!("creating the benchmark period: {:?} {period}", outcome.status)));
    }
    let period = period["period"].clone();
    let capacity = period["regions"]
        .as_array()
        .map_or(0, |r| r.iter().filter_map(|x| x["capacity"].as_u64()).sum::<u64>())
        as usize;
    let small = Arc::new(photo(590, 826, false));
    let api2 = api.clone();
    let (made, _) = drive(config.participants, 32, move |i| {
        let (api, small) = (api2.clone(), Arc::clone(&small));
        async move {
            let (_, token) = api.login(&format!("bench-{i}")).await?;
            let profile = json!({"name": "张三", "gender": "male", "id_kind": "resident_id", "id_number": resident_id(i),
                                 "phone": "13800138000", "employer": format!("第{}监理公司", i % 50)});
            let (outcome, body) = api.send(api.as_participant(Method::PUT, "/api/v1/profile", &token).json(&profile)).await;
            if outcome.status != Some(200) {
                return Err(fail(format!("profile {i}: {:?} {body}", outcome.status)));
            }
            let form = Form::new().part("photo", Part::bytes(small.to_vec()).file_name("me.jpg"));
            let (outcome, body) = api.send(api.as_participant(Method::POST, "/api/v1/photos", &token).multipart(form)).await;
            match body["id"].as_str() {
                Some(photo) if outcome.status == Some(201) => Ok(Participant { token, photo: photo.to_owned() }),
                _ => Err(fail(format!("photo {i}: {:?} {body}", outcome.status))),
            }
        }
    })
    .await;
    let participants = made.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Setup { staff, period, participants, capacity })
}

fn submit_body(period: &Value, photo: &str, i: usize) -> Value {
    json!({
        "period_id": period["id"], "region_id": period["regions"][i % 3]["id"],
        "exam_type_id": period["exam_types"][0]["id"],
        "subjects": [{"code": "control", "specialty": "水利"}, {"code": "case", "specialty": "水利"}],
        "joint_invoice": false, "photo_id": photo,
    })
}

async fn measured<T>(
    target: &Target,
    work: impl Future<Output = (Vec<Outcome>, Duration, T)>,
) -> (Measurement, T) {
    if let Some(probe) = &target.probe {
        probe.reset_peak();
    }
    let cpu_before = target.probe.as_ref().and_then(Probe::cpu_time);
    let (outcomes, elapsed, extra) = work.await;
    let mut m = Measurement::new(&outcomes, elapsed);
    if let Some(probe) = &target.probe {
        m.peak_rss_kib = probe.peak_kib();
        m.server_cpu = match (cpu_before, probe.cpu_time()) {
            (Some(a), Some(b)) => b.checked_sub(a),
            _ => None,
        };
    }
    (m, extra)
}

/// Runs the set-up, then every scenario `config.runs` times, checking the invariants after each
/// run. Any broken invariant stops the benchmark with an error.
pub async fn run(
    target: &Target,
    config: &Config,
    log: &(dyn Fn(&str) + Sync),
) -> Result<Results, Failure> {
    // The phone photo is made first: it takes a while, and no connection should sit idle meanwhile.
    let big = Arc::new(photo(3000, 4000, true));
    log(&format!("phone photo: {} bytes", big.len()));
    log(&format!(
        "set-up: {} participants logged in with a profile and a photo…",
        config.participants
    ));
    let s = setup(target, config).await?;
    log(&format!(
        "set-up done: total capacity {} for {} submissions",
        s.capacity,
        s.participants.len()
    ));
    let participants = Arc::new(s.participants);
    let period = Arc::new(s.period);
    let burst = Arc::new(burst_mix(&big));
    let mut results = Results::default();
    let mut stored = 0usize;
    for run in 1..=config.runs {
        // rush-submit
        let (api, people, p) = (target.api.clone(), Arc::clone(&participants), Arc::clone(&period));
        let (m, ids) = measured(target, async move {
            let (done, elapsed) = drive(people.len(), config.concurrency, move |i| {
                let (api, people, p) = (api.clone(), Arc::clone(&people), Arc::clone(&p));
                async move {
                    let who = &people[i];
                    let body = submit_body(&p, &who.photo, i);
                    let (o, b) = api
                        .send(
                            api.as_participant(Method::POST, "/api/v1/registrations", &who.token)
                                .json(&body),
                        )
                        .await;
                    (o, b["id"].as_str().map(str::to_owned))
                }
            })
            .await;
            let ids: Vec<Option<String>> = done
                .iter()
                .map(|(o, id)| if o.status == Some(201) { id.clone() } else { None })
                .collect();
            (done.into_iter().map(|(o, _)| o).collect(), elapsed, ids)
        })
        .await;
        let created = ids.iter().flatten().count();
        stored += created;
        log(&format!("run {run}: rush-submit {:.0} req/s, {} created", m.rps(), created));
        results.runs.entry(Scenario::RushSubmit).or_default().push(m);

        // review: bulk approvals of 500, four reviewers at once
        let chunks: Vec<Vec<String>> = ids
            .iter()
            .flatten()
            .cloned()
            .collect::<Vec<_>>()
            .chunks(500)
            .map(<[String]>::to_vec)
            .collect();
        let chunks = Arc::new(chunks);
        let (api, staff) = (target.api.clone(), s.staff.clone());
        let (m, tally) = measured(target, async move {
            let n = chunks.len();
            let (done, elapsed) = drive(n, 4, move |i| {
                let (api, staff, chunks) = (api.clone(), staff.clone(), Arc::clone(&chunks));
                async move {
                    let body = json!({"action": "approve", "ids": chunks[i]});
                    api.send(
                        api.as_staff(Method::POST, "/api/v1/admin/registrations/bulk", &staff)
                            .json(&body),
                    )
                    .await
                }
            })
            .await;
            let mut tally = (0usize, 0usize, Vec::new());
            for (_, body) in &done {
                for r in body["results"].as_array().into_iter().flatten() {
                    match (r["ok"].as_bool(), r["code"].as_str()) {
                        (Some(true), _) => tally.0 += 1,
                        (_, Some("region_full")) => tally.1 += 1,
                        (_, other) => tally.2.push(other.unwrap_or("?").to_owned()),
                    }
                }
            }
            (done.into_iter().map(|(o, _)| o).collect(), elapsed, tally)
        })
        .await;
        let (approved, full, other) = tally;
        log(&format!("run {run}: review {approved} approved, {full} full, {} other", other.len()));
        if !other.is_empty() {
            return Err(fail(format!("invariant: a refused approval was not \"full\": {other:?}")));
        }
        if approved > s.capacity || approved + full != created {
            return Err(fail(format!(
                "invariant: {approved} approved + {full} full for {created} submissions, capacity {}",
                s.capacity
            )));
        }
        results.review_ids.push((approved, full));
        results.runs.entry(Scenario::Review).or_default().push(m);

        // my-exams
        let (api, people) = (target.api.clone(), Arc::clone(&participants));
        let reads = config.my_exams;
        let (m, ()) = measured(target, async move {
            let (done, elapsed) = drive(reads, config.concurrency, move |i| {
                let (api, people) = (api.clone(), Arc::clone(&people));
                async move {
                    let who = &people[(i * 7919) % people.len()];
                    api.send(api.as_participant(Method::GET, "/api/v1/my-exams", &who.token))
                        .await
                        .0
                }
            })
            .await;
            (done, elapsed, ())
        })
        .await;
        results.runs.entry(Scenario::MyExams).or_default().push(m);

        // check-in (its own period each run: a checked-in registration stays)
        let m = check_in_round(target, config, &participants, &s.staff, run, log).await?;
        log(&format!("run {run}: check-in {:.0} req/s, every one checked in once", m.rps()));
        results.runs.entry(Scenario::CheckIn).or_default().push(m);

        // pay-notify (its own period each run, like check-in)
        if let Some(pay) = &target.pay {
            let (m, paid) =
                pay_notify_round(target, pay, config, &participants, &s.staff, run).await?;
            log(&format!(
                "run {run}: pay-notify {:.0} notifications/s, {} orders each paid once ({} deliveries)",
                m.rps(),
                paid,
                m.requests
            ));
            results.pay_notify.push((paid, m.requests));
            results.runs.entry(Scenario::PayNotify).or_default().push(m);
        }

        // login
        let (api, n) = (target.api.clone(), participants.len());
        let logins = config.logins;
        let (m, ()) = measured(target, async move {
            let (done, elapsed) = drive(logins, config.concurrency, move |i| {
                let api = api.clone();
                async move {
                    let req = api
                        .request(Method::POST, "/api/v1/auth/wechat-login")
                        .json(&json!({"code": format!("bench-{}.r{run}.{i}", i % n)}));
                    api.send(req).await.0
                }
            })
            .await;
            (done, elapsed, ())
        })
        .await;
        results.runs.entry(Scenario::Login).or_default().push(m);

        // photo-upload
        let (api, people, big2) = (target.api.clone(), Arc::clone(&participants), Arc::clone(&big));
        let uploads = config.photos;
        let (m, ()) = measured(target, async move {
            let (done, elapsed) = drive(uploads, config.photo_concurrency, move |i| {
                let (api, people, big) = (api.clone(), Arc::clone(&people), Arc::clone(&big2));
                async move {
                    let form =
                        Form::new().part("photo", Part::bytes(big.to_vec()).file_name("phone.jpg"));
                    api.send(
                        api.as_participant(
                            Method::POST,
                            "/api/v1/photos",
                            &people[i % people.len()].token,
                        )
                        .multipart(form),
                    )
                    .await
                    .0
                }
            })
            .await;
            (done, elapsed, ())
        })
        .await;
        results.runs.entry(Scenario::PhotoUpload).or_default().push(m);

        // photo-burst
        if config.photo_burst > 0 {
            let m = photo_burst(target, config, &participants, &burst, run).await?;
            if let Some(limit) = config.burst_memory_limit_kib {
                let peak = m.peak_rss_kib.ok_or_else(|| {
                    fail(
                        "invariant: photo-burst: a memory limit needs the api's process to measure",
                    )
                })?;
                if peak > limit {
                    return Err(fail(format!(
                        "invariant: photo-burst: the api's peak memory {:.1} MiB is over the limit of {:.1} MiB",
                        peak as f64 / 1024.0,
                        limit as f64 / 1024.0
                    )));
                }
            }
            log(&format!(
                "run {run}: photo-burst of {} uploads, every one answered as expected; api peak RSS {}",
                config.photo_burst,
                m.peak_rss_kib.map_or_else(
                    || "not measured".to_owned(),
                    |k| format!("{:.1} MiB", k as f64 / 1024.0)
                )
            ));
            results.runs.entry(Scenario::PhotoBurst).or_default().push(m);
        }

        // submit floor (its own period each run)
        if let Some(db) = &target.db {
            let m = submit_floor_round(target, db, config, &s.staff, &ids, run).await?;
            log(&format!(
                "run {run}: submit floor {:.0} submissions/s on {} thread(s), every one stored",
                m.rps(),
                config.floor_threads
            ));
            results.runs.entry(Scenario::SubmitFloor).or_default().push(m);
        }

        // hello baseline
        if let Some(hello) = &target.hello {
            let hello = hello.clone();
            let count = config.hello;
            let (done, elapsed) = drive(count, config.concurrency, move |_| {
                let hello = hello.clone();
                async move { hello.send(hello.request(Method::GET, "/hello")).await.0 }
            })
            .await;
            results.runs.entry(Scenario::Hello).or_default().push(Measurement::new(&done, elapsed));
        }

        // Invariants of this run.
        for (scenario, ms) in &results.runs {
            if let Some(m) = ms.last()
                && m.server_errors() > 0
            {
                return Err(fail(format!(
                    "invariant: {} answered {:?} (5xx or no answer)",
                    scenario.name(),
                    m.statuses
                )));
            }
        }
        if let Some(db) = &target.db {
            check_database(db, &period, stored)?;
        }
        log(&format!("run {run}: invariants hold"));

        // Reset (not timed): everyone withdraws, freeing seats and the period for the next run.
        let (api, people) = (target.api.clone(), Arc::clone(&participants));
        let ids = Arc::new(ids);
        let (done, _) = drive(people.len(), 32, move |i| {
            let (api, people, ids) = (api.clone(), Arc::clone(&people), Arc::clone(&ids));
            async move {
                match &ids[i] {
                    Some(id) => {
                        api.send(api.as_participant(
                            Method::POST,
                            &format!("/api/v1/registrations/{id}/withdraw"),
                            &people[i].token,
                        ))
                        .await
                        .0
                        .status
                    }
                    None => Some(200),
                }
            }
        })
        .await;
        if let Some(bad) = done.iter().find(|s| **s != Some(200)) {
            return Err(fail(format!("reset: a withdrawal answered {bad:?}")));
        }
    }
    Ok(results)
}

/// The submit floor of one run: a fresh period (not timed), then every participant's
/// rush-submit form submitted to it by the store in a loop (timed, [`crate::floor`]).
/// Invariants: every submission stored, one event row each.
async fn submit_floor_round(
    target: &Target,
    db: &Db,
    config: &Config,
    staff: &StaffSession,
    rush: &[Option<String>],
    run: usize,
) -> Result<Measurement, Failure> {
    let api = &target.api;
    let mut body = period_body(config.participants);
    body["name"] = json!(format!("压测基线 第{run}轮 {}", Utc::now().format("%H%M%S%.3f")));
    let (outcome, created) =
        api.send(api.as_staff(Method::POST, "/api/v1/admin/periods", staff).json(&body)).await;
    if outcome.status != Some(201) {
        return Err(fail(format!("creating the floor period: {:?} {created}", outcome.status)));
    }
    let period = created["period"].clone();
    let ids: Vec<baoming_domain::ids::RegistrationId> = rush
        .iter()
        .flatten()
        .map(|id| baoming_domain::ids::TypedId::parse(id).map_err(|_| fail("a registration id")))
        .collect::<Result<_, _>>()?;
    let (db2, threads, p) = (db.clone(), config.floor_threads, period.clone());
    let (outcomes, elapsed) = tokio::task::spawn_blocking(move || {
        let earlier = {
            let mut conn = db2.conn().map_err(|e| fail(format!("database: {e}")))?;
            baoming_store::registrations::get_many(&mut conn, &ids)
                .map_err(|e| fail(format!("database: {e}")))?
        };
        crate::floor::submit_loop(&db2, &crate::floor::cipher()?, &p, &earlier, threads)
    })
    .await
    .map_err(|e| fail(format!("submit floor: {e}")))??;
    let m = Measurement::new(&outcomes, elapsed);
    if m.errors() > 0 {
        return Err(fail(format!("invariant: submit floor answered {:?}", m.statuses)));
    }
    check_database(db, &period, outcomes.len())?;
    Ok(m)
}

/// The uploads of the burst in the order they are sent (cycled): three phone photos to five
/// bombs.
fn burst_mix(phone: &[u8]) -> Vec<Fixture> {
    let phone = Fixture {
        name: "phone photo 3000×4000 JPEG",
        bytes: phone.to_vec(),
        status: 201,
        code: None,
    };
    let mut bombs = bombs().into_iter();
    let mut mix = Vec::new();
    for _ in 0..3 {
        mix.push(phone.clone());
        mix.extend(bombs.next());
    }
    mix.extend(bombs);
    mix
}

/// `config.photo_burst` uploads at once, each by its own participant (another set each run, so
/// the per-participant limits are not what answers), cycling through `mix`; each must get its
/// fixture's status and error code.
async fn photo_burst(
    target: &Target,
    config: &Config,
    participants: &Arc<Vec<Participant>>,
    mix: &Arc<Vec<Fixture>>,
    run: usize,
) -> Result<Measurement, Failure> {
    let (api, people, mix) = (target.api.clone(), Arc::clone(participants), Arc::clone(mix));
    let n = config.photo_burst;
    let offset = (run - 1) * n + config.photos;
    let (m, wrong) = measured(target, async move {
        let (done, elapsed) = drive(n, n, move |i| {
            let (api, people, mix) = (api.clone(), Arc::clone(&people), Arc::clone(&mix));
            async move {
                let f = &mix[i % mix.len()];
                let file = if f.bytes.starts_with(b"\x89PNG") { "photo.png" } else { "photo.jpg" };
                let form = Form::new().part("photo", Part::bytes(f.bytes.clone()).file_name(file));
                let who = &people[(offset + i) % people.len()];
                let (o, body) = api
                    .send(
                        api.as_participant(Method::POST, "/api/v1/photos", &who.token)
                            .multipart(form),
                    )
                    .await;
                let right = o.status == Some(f.status) && body["code"].as_str() == f.code;
                let wrong = (!right).then(|| {
                    format!(
                        "{}: {:?} {} (expected {} {:?})",
                        f.name, o.status, body["code"], f.status, f.code
                    )
                });
                (o, wrong)
            }
        })
        .await;
        let wrong: Vec<String> = done.iter().filter_map(|(_, w)| w.clone()).collect();
        (done.into_iter().map(|(o, _)| o).collect(), elapsed, wrong)
    })
    .await;
    if let Some(first) = wrong.first() {
        return Err(fail(format!(
            "invariant: photo-burst: {} of {n} uploads answered wrongly, e.g. {first}",
            wrong.len()
        )));
    }
    Ok(m)
}

/// The invariants that need the database: every 2xx submission stored exactly once, no region
/// over capacity (and its counter equal to the seat-holding registrations), one event-log row
/// per state change.
fn check_database(db: &Db, period: &Value, stored: usize) -> Result<(), Failure> {
    let id = period["id"]
        .as_str()
        .and_then(|s| baoming_domain::ids::TypedId::parse(s).ok())
        .ok_or_else(|| fail("period id"))?;
    let mut conn = db.conn().map_err(|e| fail(format!("database: {e}")))?;
    let facts = baoming_store::checks::period_facts(&mut conn, id)
        .map_err(|e| fail(format!("database: {e}")))?;
    if facts.registrations != stored as i64 {
        return Err(fail(format!(
            "invariant: {} registrations stored for {stored} created (2xx) submissions",
            facts.registrations
        )));
    }
    for r in &facts.regions {
        if r.holding > r.capacity || r.seats_taken != r.holding {
            return Err(fail(format!(
                "invariant: region {} holds {} seats, counter {}, capacity {}",
                r.code, r.holding, r.seats_taken, r.capacity
            )));
        }
    }
    if facts.version_sum != facts.events {
        return Err(fail(format!(
            "invariant: {} state changes but {} event-log rows",
            facts.version_sum, facts.events
        )));
    }
    Ok(())
}
