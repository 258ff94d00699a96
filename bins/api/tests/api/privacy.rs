//! Personal data over HTTP: the participant's export and account deletion.

use super::*;

on_both_backends!(export_then_deletion_refused_while_live_and_done_when_not);

async fn export_then_deletion_refused_while_live_and_done_when_not(app: TestApp) {
    let (token, photo) = app.ready_participant(1).await;
    let period = app.period(&token).await;
    let (status, submitted) =
        app.post("/api/v1/registrations", &token, form(&period, &photo, 0, "full")).await;
    assert_eq!(status, StatusCode::CREATED, "{submitted}");
    let id = submitted["id"].as_str().expect("id").to_owned();

    // The export: the full ID number (their own data), the registration with its history,
    // the photo's metadata and link, the sessions.
    let res = app
        .http
        .get(app.url("/api/v1/profile/export"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("export");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let export: Value = res.json().await.expect("json");
    assert_eq!(export["profile"]["id_number"], resident_id(1));
    assert_eq!(export["profile"]["erased_at"], Value::Null);
    let registrations = export["registrations"].as_array().expect("registrations");
    assert_eq!(registrations.len(), 1);
    assert_eq!(registrations[0]["id"], id.as_str());
    assert_eq!(registrations[0]["state"], "pending_review");
    assert_eq!(registrations[0]["events"][0]["to_state"], "pending_review");
    assert_eq!(export["photos"][0]["id"], photo.as_str());
    let (status, _) = app.get(export["photos"][0]["url"].as_str().expect("url"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(export["sessions"]["live"], 1);
    // Without a token: 401.
    let (status, _) = app.call(reqwest::Method::GET, "/api/v1/profile/export", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Deletion is refused while the registration waits for review, naming why.
    let (status, refused) =
        app.call(reqwest::Method::DELETE, "/api/v1/profile", Some(&token), None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "account_not_deletable");
    assert!(refused["message"].as_str().expect("message").contains("awaiting_review"));
    let (status, profile) = app.get("/api/v1/profile", &token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(profile["id_number_masked"].is_string());

    // Withdrawn, nothing is live: the account goes.
    let (status, body) =
        app.post(&format!("/api/v1/registrations/{id}/withdraw"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let photo_dir = app.data_dir().join("files/photos");
    let files_before = walk(&photo_dir);
    assert!(files_before >= 2, "the upload's original and normalised files");
    let (status, body) =
        app.call(reqwest::Method::DELETE, "/api/v1/profile", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");

    // The token no longer works; the ID number, the photo files are gone.
    let (status, body) = app.get("/api/v1/profile", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _) = app.get("/api/v1/profile/export", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(walk(&photo_dir), 0);
    {
        use baoming_store::schema::participants as p;
        use diesel::prelude::*;
        let mut conn = app.conn();
        let left: i64 = p::table
            .filter(p::id_number_enc.is_not_null().or(p::id_number_tail.is_not_null()))
            .count()
            .get_result(&mut *conn)
            .expect("count");
        assert_eq!(left, 0);
        let names: Vec<Option<String>> = p::table.select(p::name).load(&mut *conn).expect("names");
        assert_eq!(names, vec![Some(baoming_store::privacy::ERASED_NAME.to_owned())]);
    }
    // Logging in again with the same WeChat user starts a new, empty account.
    let again = app.login("user1#2").await;
    let (status, profile) = app.get("/api/v1/profile", &again).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(profile["name"], Value::Null);
    let (status, export) = app.get("/api/v1/profile/export", &again).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(export["registrations"], json!([]));
    // And an account with nothing in it may be deleted at once.
    let (status, _) =
        app.call(reqwest::Method::DELETE, "/api/v1/profile", Some(&again), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

/// Files under `dir`, recursively (0 if it does not exist).
fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum()
}
