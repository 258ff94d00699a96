//! Two api instances on one database, as behind a load balancer: what one changes, the other's
//! in-process caches honour within the bound (`baoming_api::cache_feed::BOUND`).

use std::time::{Duration, Instant};

use baoming_api::cache_feed::BOUND;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{TestApp, TestDb, form};

crate::on_both_backends!(
    a_logout_on_one_instance_is_refused_on_the_other,
    a_period_edit_on_one_instance_shows_on_the_other,
    a_staff_user_disabled_on_one_instance_is_refused_on_the_other,
);

/// The request's latency on top of the bound, for a loaded test machine.
const SLACK: Duration = Duration::from_secs(1);

/// Polls `done` until it holds; fails when that took longer than the bound since `since`.
pub(crate) async fn within_bound<F, Fut>(what: &str, since: Instant, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    loop {
        if done().await {
            eprintln!("{what}: after {:?}", since.elapsed());
            return;
        }
        assert!(since.elapsed() < BOUND + SLACK, "{what}: not within {BOUND:?}");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn a_logout_on_one_instance_is_refused_on_the_other(a: TestApp) {
    let b = a.another_instance().await;
    let token = a.login("user1").await;
    // B knows the session (the first call reads it from the database and caches it).
    for _ in 0..3 {
        assert_eq!(b.get("/api/v1/profile", &token).await.0, StatusCode::OK);
    }
    let (status, body) = a.call(Method::POST, "/api/v1/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let logged_out = Instant::now();
    assert_eq!(a.get("/api/v1/profile", &token).await.0, StatusCode::UNAUTHORIZED);
    within_bound("B refuses the logged-out token", logged_out, || async {
        b.get("/api/v1/profile", &token).await.0 == StatusCode::UNAUTHORIZED
    })
    .await;
    // And keeps refusing.
    actix_web::rt::time::sleep(BOUND).await;
    assert_eq!(b.get("/api/v1/profile", &token).await.0, StatusCode::UNAUTHORIZED);
}

async fn a_period_edit_on_one_instance_shows_on_the_other(a: TestApp) {
    let b = a.another_instance().await;
    let admin = a.staff("admin1", "admin").await;
    let (token, photo) = a.ready_participant(1).await;
    let period = a.period(&token).await;
    let (status, body) =
        a.post("/api/v1/registrations", &token, form(&period, &photo, 0, "exempt_basic")).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // B shows "My exams" with the period's name (and caches the period).
    let name_on_b = || async {
        let (status, mine) = b.get("/api/v1/my-exams", &token).await;
        assert_eq!(status, StatusCode::OK, "{mine}");
        mine["tabs"]
            .as_array()
            .expect("tabs")
            .iter()
            .flat_map(|t| t["registrations"].as_array().expect("registrations").clone())
            .map(|r| r["period_name"].as_str().expect("name").to_owned())
            .next()
            .expect("a registration")
    };
    let old = period["name"].as_str().expect("name").to_owned();
    assert_eq!(name_on_b().await, old);
    assert_eq!(name_on_b().await, old);

    let (_, list) = a.admin(Method::GET, "/api/v1/admin/periods", Some(&admin), None).await;
    let mut edit = super::period_body(&list[0]);
    edit["name"] = json!("2026年第二期（改期）");
    let path = format!("/api/v1/admin/periods/{}", period["id"].as_str().expect("id"));
    let (status, edited) = a.admin(Method::PUT, &path, Some(&admin), Some(edit)).await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let saved = Instant::now();
    within_bound("B shows the new name", saved, || async {
        name_on_b().await == "2026年第二期（改期）"
    })
    .await;
}

async fn a_staff_user_disabled_on_one_instance_is_refused_on_the_other(a: TestApp) {
    let b = a.another_instance().await;
    let admin = a.staff("admin1", "admin").await;
    let reviewer = a.staff("reviewer1", "reviewer").await;
    let (status, who) = me(&b, &reviewer).await;
    assert_eq!(status, StatusCode::OK, "{who}");
    let id = baoming_store::staff::find_by_username(&mut a.conn(), "reviewer1")
        .expect("lookup")
        .expect("reviewer1")
        .id;
    let path = format!("/api/v1/admin/staff/{id}/enabled");
    let (status, body) =
        a.admin(Method::POST, &path, Some(&admin), Some(json!({"enabled": false}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // Staff sessions are not cached: B refuses at once, on reads and on writes.
    assert_eq!(me(&b, &reviewer).await.0, StatusCode::UNAUTHORIZED);
    let (status, _): (StatusCode, Value) =
        b.admin(Method::POST, "/api/v1/admin/auth/logout", Some(&reviewer), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&b, &admin).await.0, StatusCode::OK, "the admin works on B");
}

async fn me(app: &TestApp, staff: &super::Staff) -> (StatusCode, Value) {
    app.admin(Method::GET, "/api/v1/admin/me", Some(staff), None).await
}
