//! Rate limits (`[limits]`): a call over its allowance answers 429 `rate_limited` with
//! `Retry-After`, and is answered again once the window has refilled. The limits live in the
//! api's memory, not in the database: SQLite is enough.

use std::time::Duration;

use baoming_api::runtime::limits::RawLimits;

use super::*;

/// Every limit off but the ones a test sets, with a window of one second.
fn only(set: impl FnOnce(&mut RawLimits)) -> impl FnOnce(&mut RawConfig) {
    move |raw| {
        let mut limits = RawLimits {
            window_seconds: 1,
            wechat_login_per_address: 0,
            payment_check_per_participant: 0,
            payment_check_per_address: 0,
            photo_upload_per_participant: 0,
            photo_upload_per_address: 0,
            photo_uploads_per_day: 0,
            profile_change_per_participant: 0,
            profile_change_per_address: 0,
            checkin_per_participant: 0,
            checkin_per_address: 0,
            staff_login_per_address: 0,
        };
        set(&mut limits);
        raw.limits = limits;
    }
}

/// A raw call: status, `Retry-After` (seconds) and the JSON body.
async fn send(req: reqwest::RequestBuilder) -> (StatusCode, Option<u64>, Value) {
    let res = req.send().await.expect("request");
    let status = res.status();
    let retry_after =
        res.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    (status, retry_after, res.json().await.unwrap_or(Value::Null))
}

fn assert_limited(answer: &(StatusCode, Option<u64>, Value), max_wait: u64) {
    let (status, retry_after, body) = answer;
    assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["code"], "rate_limited", "{body}");
    let wait = retry_after.expect("Retry-After");
    assert!((1..=max_wait).contains(&wait), "Retry-After {wait}");
    assert_eq!(body["message"], format!("操作过于频繁，请 {wait} 秒后再试"));
}

#[actix_web::test]
async fn wechat_login_per_address_answers_429_and_recovers() {
    let app = TestApp::spawn_with(TestDb::sqlite(), only(|l| l.wechat_login_per_address = 3)).await;
    let login = |code: &str| {
        app.http.post(app.url("/api/v1/auth/wechat-login")).json(&json!({"code": code}))
    };
    for n in 0..3 {
        let (status, _, body) = send(login(&format!("limit{n}"))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let refused = send(login("limit3")).await;
    assert_limited(&refused, 1);
    // After the window the address may log in again.
    tokio::time::sleep(Duration::from_secs(refused.1.unwrap_or(1))).await;
    let (status, _, body) = send(login("limit3")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[actix_web::test]
async fn profile_changes_are_limited_per_participant() {
    let app =
        TestApp::spawn_with(TestDb::sqlite(), only(|l| l.profile_change_per_participant = 2)).await;
    let (one, two) = (app.login("one").await, app.login("two").await);
    for _ in 0..2 {
        let (status, body) = app.put("/api/v1/profile", &one, profile_body(1)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let put = |token: &str, n: u32| {
        app.http.put(app.url("/api/v1/profile")).bearer_auth(token).json(&profile_body(n))
    };
    let refused = send(put(&one, 1)).await;
    assert_limited(&refused, 1);
    // Another participant from the same address is not held back.
    let (status, _, body) = send(put(&two, 2)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    tokio::time::sleep(Duration::from_secs(refused.1.unwrap_or(1))).await;
    let (status, _, body) = send(put(&one, 1)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[actix_web::test]
async fn payment_checks_and_withdrawals_share_a_per_participant_allowance() {
    let app =
        TestApp::spawn_with(TestDb::sqlite(), only(|l| l.payment_check_per_participant = 2)).await;
    let token = app.login("payer").await;
    let id: RegistrationId = baoming_store::new_id();
    let call = |what: &str| {
        app.http.post(app.url(&format!("/api/v1/registrations/{id}/{what}"))).bearer_auth(&token)
    };
    // Counted before the registration is looked up: a stranger's id costs the same.
    assert_eq!(send(call("pay/check")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(call("withdraw")).await.0, StatusCode::NOT_FOUND);
    let refused = send(call("pay/check")).await;
    assert_limited(&refused, 1);
    assert_limited(&send(call("withdraw")).await, 1);
    tokio::time::sleep(Duration::from_secs(refused.1.unwrap_or(1))).await;
    assert_eq!(send(call("pay/check")).await.0, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn check_ins_are_limited_per_address() {
    let app = TestApp::spawn_with(TestDb::sqlite(), only(|l| l.checkin_per_address = 2)).await;
    let (a, b) = (app.login("a").await, app.login("b").await);
    let id: RegistrationId = baoming_store::new_id();
    let check_in = |token: &str| {
        app.http
            .post(app.url(&format!("/api/v1/registrations/{id}/check-in")))
            .bearer_auth(token)
            .json(&json!({"code": "x"}))
    };
    assert_ne!(send(check_in(&a)).await.0, StatusCode::TOO_MANY_REQUESTS);
    assert_ne!(send(check_in(&b)).await.0, StatusCode::TOO_MANY_REQUESTS);
    // A third person behind the same address waits.
    let c = app.login("c").await;
    assert_limited(&send(check_in(&c)).await, 1);
}

#[actix_web::test]
async fn photo_uploads_have_a_daily_quota() {
    let app = TestApp::spawn_with(TestDb::sqlite(), only(|l| l.photo_uploads_per_day = 2)).await;
    let token = app.login("photographer").await;
    for _ in 0..2 {
        let (status, body) = app.upload(&token, b"not a photo".to_vec(), "x.jpg").await;
        assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{body}");
    }
    let form = reqwest::multipart::Form::new()
        .part("photo", reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.jpg"));
    let refused =
        send(app.http.post(app.url("/api/v1/photos")).bearer_auth(&token).multipart(form)).await;
    // The allowance refills over a day: the next upload in half a day (2 per 24 h).
    assert_limited(&refused, 12 * 60 * 60);
    assert!(refused.1.unwrap_or(0) > 12 * 60 * 60 - 60, "{:?}", refused.1);
    // Someone else may upload.
    let other = app.login("other").await;
    let (status, _) = app.upload(&other, b"not a photo".to_vec(), "x.jpg").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[actix_web::test]
async fn staff_logins_are_limited_per_address() {
    let app = TestApp::spawn_with(TestDb::sqlite(), only(|l| l.staff_login_per_address = 2)).await;
    for _ in 0..2 {
        let refused = app.staff_login("nobody", "wrong").await.err();
        assert_eq!(refused.map(|r| r.0), Some(StatusCode::UNAUTHORIZED));
    }
    let answer = send(
        app.http
            .post(app.url("/api/v1/admin/auth/login"))
            .json(&json!({"username": "nobody", "password": "wrong"})),
    )
    .await;
    assert_limited(&answer, 1);
}

#[actix_web::test]
async fn the_defaults_do_not_hold_back_ordinary_use() {
    let app = TestApp::spawn(TestDb::sqlite()).await;
    assert_eq!(app.settings.limits, RawLimits::default());
    // A person correcting their profile a few times in a row.
    let token = app.login("ordinary").await;
    for _ in 0..5 {
        let (status, body) = app.put("/api/v1/profile", &token, profile_body(7)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
}
