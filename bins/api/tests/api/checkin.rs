//! Check-in at the venue over real HTTP: venue codes from the display endpoint, the server's
//! clock moved (never slept) into the check-in window and across time slices, the geofence,
//! the printed static code, staff check-in, the live counts, races, and the clock's
//! "sitting ended" that completes a checked-in registration.

use baoming_domain::ids::{RegistrationId, TypedId};
use baoming_domain::lifecycle::{Actor, Event, EventKind, Reason, State};
use baoming_store::registrations::{self, Ctx, Who};
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Staff, TestApp, TestDb, count, tab};

crate::on_both_backends!(
    a_paid_participant_checks_in_once_with_the_venue_code,
    codes_hold_for_their_slice_and_the_next_only,
    other_venues_other_periods_and_the_window_refuse,
    only_paid_registrations_check_in,
    the_static_code_and_the_geofence,
    staff_find_and_check_people_in_and_counts_follow,
    a_double_scan_at_once_is_one_check_in,
    the_sitting_ends_and_checked_in_registrations_complete,
);

/// Venue 1 serves region 01 (福州), venue 2 region 02 (厦门) and accepts its printed static
/// code, venue 3 serves everyone but only within 300 m of (26.08, 119.30); codes turn every
/// 60 s.
struct Venues {
    admin: Staff,
    finance: Staff,
    checkin: Staff,
    period: Value,
    ids: Vec<String>,
}

async fn set_up(app: &TestApp) -> Venues {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let checkin = app.staff("checkin1", "checkin").await;
    let (_, list) = app.admin(Method::GET, "/api/v1/admin/periods", Some(&admin), None).await;
    let view = &list[0];
    let p = &view["period"];
    let mut body = super::period_body(view);
    body["venues"] = json!([
        {"id": view["venues"][0]["id"], "name": "福州考点", "address": "福州市鼓楼区湖东路 1 号", "region_code": "01"},
        {"name": "厦门考点", "address": "厦门市思明区 2 号", "region_code": "02", "static_code": true},
        {"name": "泉州考点", "address": "泉州市丰泽区 3 号", "geofence": {"latitude": 26.08, "longitude": 119.30, "radius_m": 300}},
    ]);
    body["checkin_slice_secs"] = json!(60);
    let path = format!("/api/v1/admin/periods/{}", p["id"].as_str().expect("id"));
    let (status, edited) = app.admin(Method::PUT, &path, Some(&admin), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["checkin_slice_secs"], 60);
    let venues = edited["venues"].as_array().expect("venues");
    assert_eq!(
        venues.iter().map(|v| (v["number"].as_u64(), v["region_code"].clone())).collect::<Vec<_>>(),
        vec![(Some(1), json!("01")), (Some(2), json!("02")), (Some(3), Value::Null)]
    );
    assert_eq!(venues[2]["geofence"]["radius_m"], 300);
    let ids = venues.iter().map(|v| v["id"].as_str().expect("id").to_owned()).collect();
    Venues { admin, finance, checkin, period: edited["period"].clone(), ids }
}

impl Venues {
    fn time(&self, key: &str) -> DateTime<Utc> {
        self.period[key].as_str().expect("time").parse().expect("RFC 3339")
    }

    /// A moment inside the check-in window, at the start of a 60-second slice plus `secs`.
    fn during_checkin(&self, secs: i64) -> DateTime<Utc> {
        let opens = self.time("checkin_opens") + Duration::minutes(30);
        let start = opens.timestamp() - opens.timestamp().rem_euclid(60);
        DateTime::from_timestamp(start + secs, 0).expect("time")
    }

    /// A registration of new participant `n` in region `region` (0: 福州, 1: 厦门), approved and
    /// paid by a transfer finance confirmed: (token, registration id).
    async fn paid(&self, app: &TestApp, n: u32, region: usize) -> (String, String) {
        let (token, id) = self.approved(app, n, region).await;
        let (status, body) =
            app.post(&format!("/api/v1/registrations/{id}/pay/transfer"), &token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, body) = app
            .admin(
                Method::POST,
                "/api/v1/admin/transfers/confirm",
                Some(&self.finance),
                Some(json!({"registration_ids": [id], "amount_yuan": "680.00"})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (token, id)
    }

    async fn approved(&self, app: &TestApp, n: u32, region: usize) -> (String, String) {
        let (token, photo) = app.ready_participant(n).await;
        let (status, body) = app
            .post(
                "/api/v1/registrations",
                &token,
                super::form(&self.period, &photo, region, "exempt_basic"),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["id"].as_str().expect("id").to_owned();
        let path = format!("/api/v1/admin/registrations/{id}/approve");
        let (status, body) = app.admin(Method::POST, &path, Some(&self.admin), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        (token, id)
    }

    /// The display's code of venue `i` (0-based) as the server shows it now.
    async fn code(&self, app: &TestApp, i: usize) -> String {
        let path = format!("/api/v1/admin/venues/{}/code", self.ids[i]);
        let (status, body) = app.admin(Method::GET, &path, Some(&self.checkin), None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["code"].as_str().expect("code").to_owned()
    }
}

async fn scan(app: &TestApp, token: &str, id: &str, body: Value) -> (StatusCode, Value) {
    app.post(&format!("/api/v1/registrations/{id}/check-in"), token, body).await
}

fn events(app: &TestApp, id: &str, kind: EventKind) -> usize {
    let id = RegistrationId::parse(id).expect("id");
    registrations::history(&mut app.conn(), id)
        .expect("history")
        .iter()
        .filter(|e| e.event == kind)
        .count()
}

fn state_of(app: &TestApp, id: &str) -> State {
    let id = RegistrationId::parse(id).expect("id");
    registrations::get(&mut app.conn(), id).expect("registration").status.state
}

async fn a_paid_participant_checks_in_once_with_the_venue_code(app: TestApp) {
    let v = set_up(&app).await;
    let (token, id) = v.paid(&app, 1, 0).await;
    app.clock.set(v.during_checkin(5));
    // "My exams" offers the scan button now.
    let (_, mine) = app.get("/api/v1/my-exams", &token).await;
    let waiting = tab(&mine, "awaiting_check_in");
    assert_eq!(waiting[0]["actions"], json!(["check_in", "request_refund"]));

    let code = v.code(&app, 0).await;
    let (status, body) = scan(&app, &token, &id, json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["already_checked_in"], false);
    assert_eq!(body["message"], "报到成功");
    let registration = &body["registration"];
    assert_eq!(registration["state"], "checked_in");
    assert_eq!(registration["tag_label"], "已报到");
    assert_eq!(registration["checkin"]["venue_name"], "福州考点");
    assert_eq!(registration["checkin"]["proof"], "rotating");
    assert_eq!(events(&app, &id, EventKind::CheckIn), 1);

    // Again: 200, "already", nothing changes.
    let (status, again) = scan(&app, &token, &id, json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["already_checked_in"], true);
    assert_eq!(again["message"], "您已报到，无需重复扫码");
    assert_eq!(events(&app, &id, EventKind::CheckIn), 1);
    let (_, mine) = app.get("/api/v1/my-exams", &token).await;
    assert_eq!(tab(&mine, "checked_in")[0]["id"], id.as_str());

    // Someone else's registration is not found; a malformed id too.
    let (stranger, _) = app.ready_participant(2).await;
    let (status, _) = scan(&app, &stranger, &id, json!({"code": code})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = scan(&app, &token, "nope", json!({"code": code})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The display's PNG holds the same code.
    let res = app
        .http
        .get(app.url(&format!("/api/v1/admin/venues/{}/code.png", v.ids[0])))
        .header("cookie", &v.checkin.cookie)
        .send()
        .await
        .expect("png");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    let png = res.bytes().await.expect("bytes");
    let image = image::load_from_memory(&png).expect("png").to_luma8();
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut prepared = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        image.get_pixel(x as u32, y as u32).0[0]
    });
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1);
    let (_, text) = grids[0].decode().expect("decodes");
    assert_eq!(text, v.code(&app, 0).await);
}

async fn codes_hold_for_their_slice_and_the_next_only(app: TestApp) {
    let v = set_up(&app).await;
    let mut people = Vec::new();
    for n in 0..4 {
        people.push(v.paid(&app, 10 + n, 0).await);
    }
    // A code shown one second into a slice…
    app.clock.set(v.during_checkin(1));
    let shown = v.code(&app, 0).await;
    let path = format!("/api/v1/admin/venues/{}/code", v.ids[0]);
    let (_, display) = app.admin(Method::GET, &path, Some(&v.checkin), None).await;
    assert_eq!(display["seconds_until_turn"], 59);
    assert_eq!(display["slice_secs"], 60);
    // …is accepted to the last second of its own slice,
    app.clock.set(v.during_checkin(59));
    let (status, body) = scan(&app, &people[0].0, &people[0].1, json!({"code": shown})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // and through the whole of the next one (a scan just as the screen turned),
    app.clock.set(v.during_checkin(60));
    assert_ne!(v.code(&app, 0).await, shown, "the display turned");
    let (status, body) = scan(&app, &people[1].0, &people[1].1, json!({"code": shown})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.clock.set(v.during_checkin(119));
    let (status, body) = scan(&app, &people[2].0, &people[2].1, json!({"code": shown})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // but not two slices later: a forwarded photo is stale.
    app.clock.set(v.during_checkin(120));
    let (status, body) = scan(&app, &people[3].0, &people[3].1, json!({"code": shown})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "checkin_code_expired");
    assert_eq!(body["message"], "二维码已过期，请重新扫描现场最新的二维码");
    assert_eq!(state_of(&app, &people[3].1), State::Paid);
    // A code of a slice that has not begun (a display whose server clock ran ahead) waits.
    app.clock.set(v.during_checkin(180));
    let ahead = v.code(&app, 0).await;
    app.clock.set(v.during_checkin(179));
    let (status, body) = scan(&app, &people[3].0, &people[3].1, json!({"code": ahead})).await;
    assert_eq!(body["code"], "checkin_code_not_yet_valid", "{status} {body}");
    // Any single changed character is refused.
    app.clock.set(v.during_checkin(181));
    let mut chars: Vec<char> = ahead.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
    let altered: String = chars.into_iter().collect();
    let (status, body) = scan(&app, &people[3].0, &people[3].1, json!({"code": altered})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "checkin_code_invalid");
    let (status, body) = scan(&app, &people[3].0, &people[3].1, json!({"code": ahead})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn other_venues_other_periods_and_the_window_refuse(app: TestApp) {
    let v = set_up(&app).await;
    let (token, id) = v.paid(&app, 1, 0).await;
    // Before the window opens, and after it closed: the times are in the message.
    app.clock.set(v.time("checkin_opens") - Duration::minutes(1));
    let code = v.code(&app, 0).await;
    let (status, body) = scan(&app, &token, &id, json!({"code": code})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "checkin_closed");
    assert!(body["message"].as_str().expect("message").contains("报到时间为"), "{body}");
    app.clock.set(v.time("checkin_closes"));
    let code = v.code(&app, 0).await;
    let (status, body) = scan(&app, &token, &id, json!({"code": code})).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::CONFLICT, json!("checkin_closed")));

    app.clock.set(v.during_checkin(1));
    // The 厦门 venue's code, for a 福州 registration: names where to go.
    let other = v.code(&app, 1).await;
    let (status, body) = scan(&app, &token, &id, json!({"code": other})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "checkin_other_region");
    assert!(body["message"].as_str().expect("message").contains("福州考点"), "{body}");
    // Another period's venue code (a copy of this period: same venue numbers, its own secret).
    let (_, list) = app.admin(Method::GET, "/api/v1/admin/periods", Some(&v.admin), None).await;
    let mut copy = json!({});
    for (key, value) in list[0]["period"].as_object().expect("period") {
        copy[key] = value.clone();
    }
    let copy = json!({
        "name": "另一期", "exam_name": copy["exam_name"],
        "registration_opens": copy["registration_opens"], "registration_closes": copy["registration_closes"],
        "checkin_opens": copy["checkin_opens"], "checkin_closes": copy["checkin_closes"], "exam_ends": copy["exam_ends"],
        "regions": [{"code": "01", "name": "福州", "capacity": 10}],
        "subjects": copy["subjects"].as_array().expect("subjects").iter()
            .map(|s| json!({"code": s["code"], "name": s["name"], "specialties": s["specialties"],
                            "exam_starts_at": s["exam_starts_at"], "exam_ends_at": s["exam_ends_at"]})).collect::<Vec<_>>(),
        "exam_types": [{"code": "exempt_basic", "name": "免考基础科目", "subject_codes": ["control", "case"],
                         "min_subjects": 2, "max_subjects": 2, "prices": [{"subjects": 2, "fee_yuan": "680.00"}]}],
        "venues": [{"name": "另一考点", "address": "某地", "region_code": "01"}],
        "checkin_slice_secs": 60,
    });
    let (status, created) =
        app.admin(Method::POST, "/api/v1/admin/periods", Some(&v.admin), Some(copy)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let foreign = created["venues"][0]["id"].as_str().expect("venue id");
    let path = format!("/api/v1/admin/venues/{foreign}/code");
    let (_, display) = app.admin(Method::GET, &path, Some(&v.checkin), None).await;
    assert_eq!(display["venue_number"], 1);
    let (status, body) = scan(&app, &token, &id, json!({"code": display["code"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "checkin_code_invalid");
    // Not a code at all, and a position half given.
    let (status, body) = scan(&app, &token, &id, json!({"code": "https://example.com"})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("checkin_code_malformed"))
    );
    let code = v.code(&app, 0).await;
    let (status, body) = scan(&app, &token, &id, json!({"code": code, "latitude": 26.0})).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::BAD_REQUEST, json!("bad_position")));
    let (status, _) = scan(&app, &token, &id, json!({"code": code, "extra": 1})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing of the above changed anything.
    assert_eq!(state_of(&app, &id), State::Paid);
    assert_eq!(events(&app, &id, EventKind::CheckIn), 0);
    let (status, body) = scan(&app, &token, &id, json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn only_paid_registrations_check_in(app: TestApp) {
    let v = set_up(&app).await;
    let (unpaid_token, unpaid) = v.approved(&app, 1, 0).await;
    let (pending_token, photo) = app.ready_participant(2).await;
    let (_, pending) = app
        .post(
            "/api/v1/registrations",
            &pending_token,
            super::form(&v.period, &photo, 0, "exempt_basic"),
        )
        .await;
    let pending = pending["id"].as_str().expect("id").to_owned();
    let (refund_token, refunding) = v.paid(&app, 3, 0).await;
    let (denied_token, denied) = v.paid(&app, 4, 0).await;
    // One asks for the money back; another asked and finance refused (refund denied).
    let owner = |id: &str| {
        Who::Participant(
            registrations::get(&mut app.conn(), RegistrationId::parse(id).expect("id"))
                .expect("registration")
                .participant,
        )
    };
    let reason = Reason::parse("时间冲突").expect("reason");
    for id in [&refunding, &denied] {
        let ctx = Ctx { who: owner(id), now: Utc::now(), request_id: None };
        let event = Event::RequestRefund { reason: reason.clone() };
        registrations::apply(&mut app.conn(), RegistrationId::parse(id).expect("id"), &event, &ctx)
            .expect("refund requested");
    }
    let finance = Ctx {
        who: Who::Staff { id: baoming_store::new_id(), role: Actor::Finance },
        now: Utc::now(),
        request_id: None,
    };
    let deny = Event::DenyRefund { reason: Reason::parse("已过退款期限").expect("reason") };
    registrations::apply(
        &mut app.conn(),
        RegistrationId::parse(&denied).expect("id"),
        &deny,
        &finance,
    )
    .expect("denied");

    app.clock.set(v.during_checkin(1));
    let code = v.code(&app, 0).await;
    let (status, body) = scan(&app, &unpaid_token, &unpaid, json!({"code": code})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "not_allowed_in_state");
    assert!(body["message"].as_str().expect("message").contains("待支付"), "{body}");
    let (status, body) = scan(&app, &pending_token, &pending, json!({"code": code})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().expect("message").contains("审核中"), "{body}");
    let (status, body) = scan(&app, &refund_token, &refunding, json!({"code": code})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], "cancel_refund_first");
    // A refused refund keeps the seat: that person checks in.
    let (status, body) = scan(&app, &denied_token, &denied, json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["registration"]["state"], "checked_in");
    // Withdrawn: refused, naming the state.
    let (status, _) = app
        .post(&format!("/api/v1/registrations/{unpaid}/withdraw"), &unpaid_token, json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = scan(&app, &unpaid_token, &unpaid, json!({"code": code})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().expect("message").contains("已取消"), "{body}");
    for id in [&unpaid, &pending, &refunding] {
        assert_eq!(events(&app, id, EventKind::CheckIn), 0);
    }
}

async fn the_static_code_and_the_geofence(app: TestApp) {
    let v = set_up(&app).await;
    let (xiamen_token, xiamen) = v.paid(&app, 1, 1).await;
    let (fuzhou_token, fuzhou) = v.paid(&app, 2, 0).await;
    let (far_token, far) = v.paid(&app, 3, 0).await;
    app.clock.set(v.during_checkin(1));
    // The printed code: admins see it; it works where enabled and is recorded as such.
    let path = format!("/api/v1/admin/venues/{}/static-code", v.ids[1]);
    let (status, _) = app.admin(Method::GET, &path, Some(&v.checkin), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, printed) = app.admin(Method::GET, &path, Some(&v.admin), None).await;
    assert_eq!(status, StatusCode::OK, "{printed}");
    assert_eq!(printed["enabled"], true);
    assert!(printed["svg"].as_str().expect("svg").starts_with("<svg"));
    let (status, body) = scan(&app, &xiamen_token, &xiamen, json!({"code": printed["code"]})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["registration"]["checkin"]["proof"], "static");
    // Venue 1 has no printed code in use.
    let path = format!("/api/v1/admin/venues/{}/static-code", v.ids[0]);
    let (_, disabled) = app.admin(Method::GET, &path, Some(&v.admin), None).await;
    assert_eq!(disabled["enabled"], false);
    let (status, body) =
        scan(&app, &fuzhou_token, &fuzhou, json!({"code": disabled["code"]})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("checkin_static_code_disabled"))
    );

    // The fenced venue (serves everyone): a position is needed, and it must be near.
    let (_, periods) = app.get("/api/v1/periods", &fuzhou_token).await;
    assert_eq!(periods[0]["venues"][2]["needs_position"], true);
    let fenced = v.code(&app, 2).await;
    let (status, body) = scan(&app, &far_token, &far, json!({"code": fenced})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("checkin_position_missing")),
        "{body}"
    );
    let (status, body) = scan(
        &app,
        &far_token,
        &far,
        json!({"code": fenced, "latitude": 26.09, "longitude": 119.30}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "checkin_outside_geofence");
    let message = body["message"].as_str().expect("message");
    assert!(message.contains("1112 米") && message.contains("300 米"), "{message}");
    let (status, body) = scan(
        &app,
        &far_token,
        &far,
        json!({"code": fenced, "latitude": 26.081, "longitude": 119.3005}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["registration"]["checkin"]["venue_name"], "泉州考点");
}

async fn staff_find_and_check_people_in_and_counts_follow(app: TestApp) {
    let v = set_up(&app).await;
    let mut fuzhou = Vec::new();
    for n in 0..3 {
        fuzhou.push(v.paid(&app, 20 + n, 0).await);
    }
    let (xiamen_token, xiamen) = v.paid(&app, 30, 1).await;
    let _unpaid = v.approved(&app, 31, 0).await;
    let period_id = v.period["id"].as_str().expect("id");
    let counts_path = format!("/api/v1/admin/periods/{period_id}/check-in/counts");
    let (status, counts) = app.admin(Method::GET, &counts_path, Some(&v.checkin), None).await;
    assert_eq!(status, StatusCode::OK, "{counts}");
    assert_eq!(
        counts["total"],
        json!({"expected": 4, "checked_in": 0, "not_yet": 4, "by_static_code": 0, "by_staff": 0})
    );

    app.clock.set(v.during_checkin(1));
    let code = v.code(&app, 0).await;
    let (status, _) = scan(&app, &fuzhou[0].0, &fuzhou[0].1, json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK);
    // Find a person by name, by phone, by the ID number's last characters.
    let search = |q: &str| format!("/api/v1/admin/periods/{period_id}/check-in/search?q={q}");
    let (status, found) = app.admin(Method::GET, &search("李四"), Some(&v.checkin), None).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found.as_array().expect("found").len(), 4, "the paid ones, not the unpaid one");
    let tail = super::resident_id(21);
    let tail = &tail[tail.len() - 4..];
    let (_, by_tail) = app.admin(Method::GET, &search(tail), Some(&v.checkin), None).await;
    assert_eq!(by_tail.as_array().expect("found").len(), 1, "{by_tail}");
    assert_eq!(by_tail[0]["registration_id"], fuzhou[1].1.as_str());
    assert_eq!(by_tail[0]["id_number_tail"], format!("****{tail}"));
    let (_, by_phone) =
        app.admin(Method::GET, &search("13900139000"), Some(&v.checkin), None).await;
    assert_eq!(by_phone.as_array().expect("found").len(), 4);
    let (status, _) = app.admin(Method::GET, &search("李四"), Some(&v.finance), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Staff check the person in by hand, at venue 1: proof staff, audited.
    let staff_path = format!("/api/v1/admin/registrations/{}/check-in", fuzhou[1].1);
    let (status, body) = app
        .admin(Method::POST, &staff_path, Some(&v.finance), Some(json!({"venue_id": v.ids[0]})))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, body) = app
        .admin(Method::POST, &staff_path, Some(&v.checkin), Some(json!({"venue_id": v.ids[0]})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["registration"]["checkin"]["proof"], "staff");
    let (status, again) = app
        .admin(Method::POST, &staff_path, Some(&v.checkin), Some(json!({"venue_id": v.ids[0]})))
        .await;
    assert_eq!((status, again["already_checked_in"].clone()), (StatusCode::OK, json!(true)));
    let (_, audit) =
        app.admin(Method::GET, "/api/v1/admin/audit?action=check_in", Some(&v.admin), None).await;
    let entries = audit.as_array().expect("entries");
    assert_eq!(entries.len(), 1, "{audit}");
    assert_eq!(entries[0]["target_id"], fuzhou[1].1.as_str());
    assert_eq!(entries[0]["username"], "checkin1");
    // A venue of another period, and an unpaid registration: refused.
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{}/check-in", fuzhou[2].1),
            Some(&v.checkin),
            Some(json!({"venue_id": "01900000-0000-7000-8000-000000000000"})),
        )
        .await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("validation_failed")),
        "{body}"
    );
    // The printed code at 厦门.
    let path = format!("/api/v1/admin/venues/{}/static-code", v.ids[1]);
    let (_, printed) = app.admin(Method::GET, &path, Some(&v.admin), None).await;
    let (status, _) = scan(&app, &xiamen_token, &xiamen, json!({"code": printed["code"]})).await;
    assert_eq!(status, StatusCode::OK);

    // The counts agree with the rows.
    let (_, counts) = app.admin(Method::GET, &counts_path, Some(&v.checkin), None).await;
    assert_eq!(
        counts["total"],
        json!({"expected": 4, "checked_in": 3, "not_yet": 1, "by_static_code": 1, "by_staff": 1})
    );
    let region = |code: &str| {
        counts["regions"]
            .as_array()
            .expect("regions")
            .iter()
            .find(|r| r["code"] == code)
            .expect("region")
            .clone()
    };
    assert_eq!(
        (region("01")["expected"].clone(), region("01")["checked_in"].clone()),
        (json!(3), json!(2))
    );
    assert_eq!(
        (region("02")["expected"].clone(), region("02")["checked_in"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(counts["venues"][0]["checked_in"], 2);
    assert_eq!(counts["venues"][1]["checked_in"], 1);
    assert_eq!(counts["venues"][2]["expected"], 4, "the venue that serves everyone");
    let checked_in_rows = {
        use baoming_store::schema::registrations as r;
        use diesel::prelude::*;
        r::table
            .filter(r::state.eq("checked_in"))
            .count()
            .get_result::<i64>(&mut *app.conn())
            .expect("count")
    };
    assert_eq!(counts["total"]["checked_in"], checked_in_rows);
    assert_eq!(count(&mut app.conn(), "audit_log WHERE action = 'check_in'"), 1);
}

async fn a_double_scan_at_once_is_one_check_in(app: TestApp) {
    let v = set_up(&app).await;
    let (token, id) = v.paid(&app, 1, 0).await;
    app.clock.set(v.during_checkin(1));
    let code = v.code(&app, 0).await;
    let body = json!({"code": code});
    let (a, b, c) = tokio::join!(
        scan(&app, &token, &id, body.clone()),
        scan(&app, &token, &id, body.clone()),
        scan(&app, &token, &id, body.clone()),
    );
    let answers = [a, b, c];
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::OK), "{answers:?}");
    let fresh = answers.iter().filter(|(_, body)| body["already_checked_in"] == false).count();
    assert_eq!(fresh, 1, "{answers:?}");
    assert_eq!(events(&app, &id, EventKind::CheckIn), 1);
}

async fn the_sitting_ends_and_checked_in_registrations_complete(app: TestApp) {
    let v = set_up(&app).await;
    let (token, id) = v.paid(&app, 1, 0).await;
    let (absent_token, absent) = v.paid(&app, 2, 0).await;
    app.clock.set(v.during_checkin(1));
    let code = v.code(&app, 0).await;
    let (status, _) = scan(&app, &token, &id, json!({"code": code})).await;
    assert_eq!(status, StatusCode::OK);
    // The worker's clock job (what `baoming-worker` runs on its schedule), after the sitting.
    let after = v.time("exam_ends") + Duration::minutes(1);
    let report =
        baoming_store::clock::sweep(&mut app.conn(), after, Some("job:test")).expect("sweep");
    assert_eq!(report.moved, 1, "{report:?}");
    assert_eq!(state_of(&app, &id), State::Completed);
    assert_eq!(state_of(&app, &absent), State::Paid, "paid, never checked in: may ask a refund");
    app.clock.set(after);
    let (_, mine) = app.get("/api/v1/my-exams", &token).await;
    let expired = tab(&mine, "expired");
    assert_eq!(expired[0]["tag_label"], "已完成");
    assert_eq!(expired[0]["checkin"]["venue_name"], "福州考点");
    let (_, theirs) = app.get("/api/v1/my-exams", &absent_token).await;
    let expired = tab(&theirs, "expired");
    assert_eq!(expired[0]["tag_label"], "已支付");
    assert_eq!(expired[0]["actions"], json!(["request_refund"]));
    // Checking in after the sitting: refused.
    let (status, body) = scan(&app, &absent_token, &absent, json!({"code": code})).await;
    assert_eq!((status, body["code"].clone()), (StatusCode::CONFLICT, json!("checkin_closed")));
}
