//! The API over real HTTP: the real server on a random port, a real database (every test on
//! SQLite and on PostgreSQL), and the WeChat simulator over real HTTP.

use std::io::Cursor;

use baoming_api::config::RawConfig;
use baoming_domain::identity::mod11_2_check_char;
use baoming_domain::ids::{RegistrationId, StaffId, TypedId};
use baoming_domain::lifecycle::{Actor, Event, Reason};
use baoming_store::registrations::{self, Ctx, Who};
use baoming_store::testing::TestDb;
use baoming_store::{DbConnection, periods, seed};
use image::{ImageFormat, Rgb, RgbImage};
use reqwest::StatusCode;
use serde_json::{Value, json};

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

on_both_backends!(
    the_manual_flow_from_login_to_resubmission,
    bad_inputs_get_their_own_4xx_and_change_nothing,
    participants_never_reach_each_other,
    login_maps_wechat_errors_and_logout_revokes,
    photos_are_checked_and_served_only_to_their_owner,
    service_endpoints_answer,
);

struct TestApp {
    base: String,
    http: reqwest::Client,
    sim: baoming_wechat_sim::Simulator,
    handle: actix_web::dev::ServerHandle,
    db: TestDb,
    _data: tempfile::TempDir,
}

impl TestApp {
    async fn spawn(db: TestDb) -> TestApp {
        let data = tempfile::tempdir().expect("data dir");
        let raw = RawConfig {
            listen: "127.0.0.1:0".into(),
            data_dir: data.path().to_path_buf(),
            database_url: Some(db.url().to_owned()),
            pool_size: 8,
            ..RawConfig::default()
        };
        let settings = raw.validate().expect("settings");
        let mut running = baoming_api::start(settings).await.expect("started");
        let sim = running.simulator.take().expect("dev mode starts the simulator");
        let handle = running.handle.clone();
        actix_web::rt::spawn(running.server);
        TestApp {
            base: format!("http://{}", running.addr),
            http: reqwest::Client::new(),
            sim,
            handle,
            db,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn conn(&self) -> baoming_store::Conn {
        self.db.db.conn().expect("connection")
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
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

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, Some(token), None).await
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    async fn put(&self, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PUT, path, Some(token), Some(body)).await
    }

    async fn login(&self, code: &str) -> String {
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

    async fn upload(&self, token: &str, bytes: Vec<u8>, name: &str) -> (StatusCode, Value) {
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
    async fn ready_participant(&self, n: u32) -> (String, String) {
        let token = self.login(&format!("user{n}")).await;
        let (status, body) = self.put("/api/v1/profile", &token, profile_body(n)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let (status, photo) = self.upload(&token, id_photo(590, 826, WHITE), "me.jpg").await;
        assert_eq!(status, StatusCode::CREATED, "{photo}");
        (token, photo["id"].as_str().expect("photo id").to_owned())
    }

    async fn period(&self, token: &str) -> Value {
        let (status, periods) = self.get("/api/v1/periods", token).await;
        assert_eq!(status, StatusCode::OK);
        periods[0].clone()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn resident_id(n: u32) -> String {
    let first17 = format!("3501021990{:02}{:02}{:03}", 1 + n % 12, 1 + n % 28, (n % 400) * 2 + 1);
    format!("{first17}{}", mod11_2_check_char(&first17).expect("17 digits"))
}

fn profile_body(n: u32) -> Value {
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

const WHITE: Rgb<u8> = Rgb([250, 250, 250]);

/// A white-background ID photo of `w`×`h` with a dark head and shoulders in the middle.
fn id_photo(w: u32, h: u32, background: Rgb<u8>) -> Vec<u8> {
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
fn bomb_png() -> Vec<u8> {
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

fn form(period: &Value, photo: &str, region: usize, exam_type: &str) -> Value {
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

fn tab<'a>(my_exams: &'a Value, tab: &str) -> &'a Vec<Value> {
    my_exams["tabs"].as_array().expect("tabs").iter().find(|t| t["tab"] == tab).expect("tab")["registrations"]
        .as_array()
        .expect("registrations")
}

fn reviewer_ctx() -> Ctx {
    Ctx {
        who: Who::Staff { id: baoming_store::new_id::<StaffId>(), role: Actor::Reviewer },
        now: chrono::Utc::now(),
        request_id: None,
    }
}

fn count(conn: &mut DbConnection, table: &str) -> i64 {
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

async fn the_manual_flow_from_login_to_resubmission(app: TestApp) {
    // Step 1: WeChat login, profile.
    let token = app.login("alice").await;
    let (status, profile) = app.get("/api/v1/profile", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["complete"], false);
    let (status, profile) = app.put("/api/v1/profile", &token, profile_body(1)).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    let masked = profile["id_number_masked"].as_str().expect("masked");
    assert_eq!(masked.len(), 18);
    assert!(masked.contains("********") && !masked.contains(&resident_id(1)[6..14]));
    assert_eq!(profile["complete"], true);

    // Step 2: invoice title, photo, period, submit.
    let (status, title) = app
        .post(
            "/api/v1/invoice-titles",
            &token,
            json!({"kind": "company", "name": "福建某监理有限公司", "tax_id": "91350100M000100Y43", "email": "cw@example.com"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{title}");
    let (status, photo) = app.upload(&token, id_photo(3000, 4000, WHITE), "phone.jpg").await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    let photo_id = photo["id"].as_str().expect("id").to_owned();
    let res = app
        .http
        .get(app.url(&format!("/api/v1/photos/{photo_id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK);
    let jpeg = res.bytes().await.expect("bytes");
    let decoded = image::load_from_memory(&jpeg).expect("a JPEG");
    assert_eq!((decoded.width(), decoded.height()), (295, 413));
    assert!(jpeg.len() < 100 * 1024);

    let period = app.period(&token).await;
    assert_eq!(period["registration_open"], true);
    let (status, quote) = app
        .post(&format!("/api/v1/periods/{}/quote", period["id"].as_str().expect("id")), &token, {
            let f = form(&period, &photo_id, 0, "full");
            json!({"exam_type_id": f["exam_type_id"], "subjects": f["subjects"]})
        })
        .await;
    assert_eq!(status, StatusCode::OK, "{quote}");
    assert_eq!(quote["fee_fen"], seed::FULL_FEE_FEN);
    let mut body = form(&period, &photo_id, 0, "full");
    body["invoice_title_id"] = title["id"].clone();
    body["joint_invoice"] = json!(true);
    body["joint_invoice_remark"] = json!("与张三、王五合开");
    let (status, registration) = app.post("/api/v1/registrations", &token, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{registration}");
    assert_eq!(registration["fee_yuan"], "1280.00");
    assert_eq!(registration["invoice"]["tax_id"], "91350100M000100Y43");

    // Step 3: My exams shows 待审核 / 审核中.
    let (_, my) = app.get("/api/v1/my-exams", &token).await;
    let pending = tab(&my, "pending_review");
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["tag_label"], "审核中");
    assert_eq!(pending[0]["actions"], json!(["withdraw"]));

    // The profile is locked now.
    let (status, _) = app.put("/api/v1/profile", &token, json!({"name": "李四四"})).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // A reviewer rejects (through the store; the back office comes later).
    let id = RegistrationId::parse(registration["id"].as_str().expect("id")).expect("id");
    let reject = Event::Reject {
        reason: Reason::parse("照片不清晰，请重新上传").expect("reason")
    };
    registrations::apply(&mut app.conn(), id, &reject, &reviewer_ctx()).expect("rejected");
    let (_, my) = app.get("/api/v1/my-exams", &token).await;
    let rejected = &tab(&my, "pending_review")[0];
    assert_eq!(rejected["tag_label"], "审核不通过");
    assert_eq!(rejected["rejection_reason"], "照片不清晰，请重新上传");
    assert_eq!(rejected["actions"], json!(["resubmit", "withdraw"]));

    // 重新报名 with a new photo and another region.
    let (_, photo2) = app.upload(&token, id_photo(590, 826, WHITE), "again.jpg").await;
    let mut again = form(&period, photo2["id"].as_str().expect("id"), 1, "full");
    again["invoice_title_id"] = title["id"].clone();
    let (status, resubmitted) =
        app.put(&format!("/api/v1/registrations/{id}"), &token, again).await;
    assert_eq!(status, StatusCode::OK, "{resubmitted}");
    assert_eq!(resubmitted["tag_label"], "审核中");
    assert_eq!(resubmitted["region_id"], period["regions"][1]["id"]);
    assert_eq!(resubmitted["rejection_reason"], Value::Null);
    let (_, my) = app.get("/api/v1/my-exams", &token).await;
    assert_eq!(tab(&my, "pending_review")[0]["tag_label"], "审核中");

    // Withdraw.
    let (status, withdrawn) =
        app.post(&format!("/api/v1/registrations/{id}/withdraw"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{withdrawn}");
    assert_eq!(withdrawn["tab"], "expired");
    assert_eq!(withdrawn["tag_label"], "已取消");
}

async fn bad_inputs_get_their_own_4xx_and_change_nothing(app: TestApp) {
    let (token, photo) = app.ready_participant(1).await;
    let period = app.period(&token).await;
    let (_, before) = app.get("/api/v1/profile", &token).await;

    // Every invalid example of the domain spec, and the wrong gender.
    let future = {
        let first17 = "11010520990101001";
        format!("{first17}{}", mod11_2_check_char(first17).expect("17 digits"))
    };
    let profile_cases = [
        (json!({"id_number": "110105194912310021"}), "invalid_id_number"),
        (json!({"id_number": "110105194902310026"}), "invalid_id_number"),
        (json!({"id_number": "110105491231002"}), "invalid_id_number"),
        (json!({"id_number": future}), "invalid_id_number"),
        (json!({"id_kind": "driving_licence", "id_number": "X"}), "invalid_id_kind"),
        (json!({"gender": "female"}), "gender_mismatch"),
        (json!({"name": "1"}), "invalid_name"),
        (json!({"phone": "12345"}), "invalid_phone"),
    ];
    for (body, code) in profile_cases {
        let (status, answer) = app.put("/api/v1/profile", &token, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body} → {answer}");
        let codes: Vec<&str> = answer["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .filter_map(|f| f["code"].as_str())
            .collect();
        assert!(codes.contains(&code), "{body} → {answer}");
        assert!(!answer["message"].as_str().unwrap_or_default().is_empty());
    }
    let (_, after) = app.get("/api/v1/profile", &token).await;
    assert_eq!(before, after, "a refused profile change changed the profile");

    // Photos.
    let photo_cases: [(Vec<u8>, StatusCode, &str); 6] = [
        (id_photo(200, 280, WHITE), StatusCode::UNPROCESSABLE_ENTITY, "photo_too_small"),
        (id_photo(1800, 600, WHITE), StatusCode::UNPROCESSABLE_ENTITY, "photo_wrong_aspect_ratio"),
        (
            id_photo(590, 826, Rgb([30, 90, 200])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "photo_background_not_white",
        ),
        (
            b"this is not an image".to_vec(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "photo_unsupported_format",
        ),
        (vec![0xFF; 20 * 1024 * 1024], StatusCode::PAYLOAD_TOO_LARGE, "photo_too_large"),
        (bomb_png(), StatusCode::UNPROCESSABLE_ENTITY, "photo_too_many_pixels"),
    ];
    let photos_before = count(&mut app.conn(), "photos");
    for (bytes, status, code) in photo_cases {
        let (got, answer) = app.upload(&token, bytes, "x.jpg").await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{answer}");
    }
    assert_eq!(count(&mut app.conn(), "photos"), photos_before);

    // Registrations.
    let regs_before = count(&mut app.conn(), "registrations");
    let mut unknown_subject = form(&period, &photo, 0, "exempt_basic");
    unknown_subject["subjects"][0]["code"] = json!("theory");
    let mut bad_specialty = form(&period, &photo, 0, "exempt_basic");
    bad_specialty["subjects"][0]["specialty"] = json!("航天");
    let mut no_photo = form(&period, &photo, 0, "exempt_basic");
    no_photo["photo_id"] = Value::Null;
    let mut joint_without_remark = form(&period, &photo, 0, "exempt_basic");
    joint_without_remark["joint_invoice"] = json!(true);
    let mut bad_id = form(&period, &photo, 0, "exempt_basic");
    bad_id["region_id"] = json!("not-an-id");
    let cases = [
        (unknown_subject, StatusCode::UNPROCESSABLE_ENTITY, "invalid_choice"),
        (bad_specialty, StatusCode::UNPROCESSABLE_ENTITY, "invalid_choice"),
        (no_photo, StatusCode::UNPROCESSABLE_ENTITY, "photo_missing"),
        (joint_without_remark, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (bad_id, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
    ];
    for (body, status, code) in cases {
        let (got, answer) = app.post("/api/v1/registrations", &token, body.clone()).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{body} → {answer}");
    }
    // A period outside its registration window.
    let closed = {
        let mut p = seed::demo_period(chrono::Utc::now() - chrono::Duration::days(20));
        p.name = "已截止的期次".into();
        periods::create(&mut app.conn(), &p, chrono::Utc::now()).expect("period")
    };
    let (_, closed_view) = app.get(&format!("/api/v1/periods/{}", closed.id), &token).await;
    assert_eq!(closed_view["registration_open"], false);
    let (got, answer) =
        app.post("/api/v1/registrations", &token, form(&closed_view, &photo, 0, "full")).await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("registration_closed")),
        "{answer}"
    );
    assert_eq!(count(&mut app.conn(), "registrations"), regs_before);

    // A second live registration in the same period.
    let (got, first) =
        app.post("/api/v1/registrations", &token, form(&period, &photo, 0, "full")).await;
    assert_eq!(got, StatusCode::CREATED, "{first}");
    let (got, answer) =
        app.post("/api/v1/registrations", &token, form(&period, &photo, 1, "full")).await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate_registration"))
    );

    // Locked identity.
    let (got, answer) = app.put("/api/v1/profile", &token, json!({"name": "王五"})).await;
    assert_eq!((got, answer["code"].as_str()), (StatusCode::CONFLICT, Some("profile_locked")));
    let (got, answer) = app.put("/api/v1/profile", &token, json!({"employer": "新单位"})).await;
    assert_eq!(got, StatusCode::OK, "{answer}");

    // Expired, forged and missing tokens.
    for bad in ["forged-token", ""] {
        let (got, answer) = app.get("/api/v1/my-exams", bad).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized"))
        );
    }
    {
        use baoming_store::schema::sessions;
        use diesel::prelude::*;
        let past = (chrono::Utc::now() - chrono::Duration::hours(1)).naive_utc();
        diesel::update(sessions::table)
            .set(sessions::expires_at.eq(past))
            .execute(&mut *app.conn())
            .expect("expire");
    }
    let (got, _) = app.get("/api/v1/my-exams", &token).await;
    assert_eq!(got, StatusCode::UNAUTHORIZED);

    // Malformed JSON is a 400 with a code, not a 5xx.
    let token = app.login("user-json").await;
    let res = app
        .http
        .put(app.url("/api/v1/profile"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "bad_json");
}

async fn participants_never_reach_each_other(app: TestApp) {
    let (alice, alice_photo) = app.ready_participant(1).await;
    let (bob, _) = app.ready_participant(2).await;
    let period = app.period(&alice).await;
    let (_, registration) =
        app.post("/api/v1/registrations", &alice, form(&period, &alice_photo, 0, "full")).await;
    let id = registration["id"].as_str().expect("id");
    let (_, title) = app
        .post("/api/v1/invoice-titles", &alice, json!({"kind": "personal", "name": "李四"}))
        .await;
    let title_id = title["id"].as_str().expect("id");

    for (method, path) in [
        (reqwest::Method::GET, format!("/api/v1/registrations/{id}")),
        (reqwest::Method::POST, format!("/api/v1/registrations/{id}/withdraw")),
        (reqwest::Method::GET, format!("/api/v1/photos/{alice_photo}")),
        (reqwest::Method::DELETE, format!("/api/v1/invoice-titles/{title_id}")),
        (
            reqwest::Method::GET,
            "/api/v1/registrations/0193aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee".to_owned(),
        ),
        (reqwest::Method::GET, "/api/v1/registrations/not-a-uuid".to_owned()),
    ] {
        let (status, answer) = app.call(method.clone(), &path, Some(&bob), Some(json!({}))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {answer}");
    }
    let (status, answer) = app
        .put(&format!("/api/v1/registrations/{id}"), &bob, form(&period, &alice_photo, 0, "full"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    // Bob may not attach Alice's photo to his own registration either.
    let (status, answer) =
        app.post("/api/v1/registrations", &bob, form(&period, &alice_photo, 0, "full")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("photo_missing"))
    );
    let (_, mine) = app.get(&format!("/api/v1/registrations/{id}"), &alice).await;
    assert_eq!(mine["state"], "pending_review");
    let (_, titles) = app.get("/api/v1/invoice-titles", &alice).await;
    assert_eq!(titles.as_array().map(Vec::len), Some(1));
}

async fn login_maps_wechat_errors_and_logout_revokes(app: TestApp) {
    let first = app.login("carol").await;
    let again = app.login("carol.second-device").await;
    let (_, a) = app.get("/api/v1/profile", &first).await;
    let (_, b) = app.get("/api/v1/profile", &again).await;
    assert_eq!(a, b, "the same WeChat user is the same participant");
    let login = |code: &str| {
        app.call(
            reqwest::Method::POST,
            "/api/v1/auth/wechat-login",
            None,
            Some(json!({"code": code})),
        )
    };
    // A code is single-use.
    let (status, answer) = login("carol").await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("wechat_code_invalid"))
    );
    for (errcode, status, code) in [
        (40029, StatusCode::BAD_REQUEST, "wechat_code_invalid"),
        (45011, StatusCode::TOO_MANY_REQUESTS, "wechat_rate_limited"),
        (40226, StatusCode::FORBIDDEN, "wechat_high_risk"),
        (-1, StatusCode::SERVICE_UNAVAILABLE, "wechat_unavailable"),
    ] {
        app.sim.fail_next_login(errcode);
        let (got, answer) = login("dave").await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "errcode {errcode}");
    }
    let (status, answer) = login("  ").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    // The WeChat session_key never leaves the server.
    let (_, answer) = login("erin").await;
    assert!(answer.get("session_key").is_none() && !answer.to_string().contains("session_key"));

    let (status, _) = app.post("/api/v1/auth/logout", &first, json!({})).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/v1/profile", &first).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = app.get("/api/v1/profile", &again).await;
    assert_eq!(status, StatusCode::OK, "other sessions stay valid");
}

async fn photos_are_checked_and_served_only_to_their_owner(app: TestApp) {
    let (alice, photo) = app.ready_participant(1).await;
    let bob = app.login("bob").await;
    let res = app
        .http
        .get(app.url(&format!("/api/v1/photos/{photo}")))
        .bearer_auth(&alice)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::OK, "{:?}", res.text().await);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    let res = app
        .http
        .get(app.url(&format!("/api/v1/photos/{photo}")))
        .bearer_auth(&bob)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = app.http.get(app.url(&format!("/api/v1/photos/{photo}"))).send().await.expect("get");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // A PNG is accepted too.
    let mut png = Cursor::new(Vec::new());
    image::load_from_memory(&id_photo(295, 413, WHITE))
        .expect("jpeg")
        .write_to(&mut png, ImageFormat::Png)
        .expect("png");
    let (status, answer) = app.upload(&alice, png.into_inner(), "me.png").await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    // No `photo` field.
    let form = reqwest::multipart::Form::new().text("other", "x");
    let res = app
        .http
        .post(app.url("/api/v1/photos"))
        .bearer_auth(&alice)
        .multipart(form)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn service_endpoints_answer(app: TestApp) {
    let res = app.http.get(app.url("/healthz")).send().await.expect("healthz");
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers().contains_key("x-request-id"));
    let res = app.http.get(app.url("/readyz")).send().await.expect("readyz");
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.http.get(app.url("/no/such/route")).send().await.expect("404");
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "not_found");
    // Demo data: one period, seeded once.
    let token = app.login("frank").await;
    let (_, periods) = app.get("/api/v1/periods", &token).await;
    assert_eq!(periods.as_array().map(Vec::len), Some(1));
    assert_eq!(periods[0]["subjects"].as_array().map(Vec::len), Some(4));
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
