//! The back office: staff sessions, roles, the review queue, audit, exports.

use std::collections::BTreeSet;

use reqwest::Method;

use super::*;

on_both_backends!(
    every_endpoint_answers_each_role_exactly,
    logins_are_throttled_and_audited,
    bulk_review_reports_each_id,
    two_reviewers_at_once_one_wins,
    a_full_region_refuses_approval,
    the_queue_filters_and_the_audit_log_records_every_action,
    identity_correction_and_exports,
);

async fn every_endpoint_answers_each_role_exactly(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let reviewer = app.staff("reviewer1", "reviewer").await;
    let finance = app.staff("finance1", "finance").await;
    let checkin = app.staff("checkin1", "checkin").await;
    let participant = app.login("someone").await;
    let period = app.period(&participant).await;
    let period_id = period["id"].as_str().expect("id").to_owned();
    let mut targets = Vec::new();
    for n in 0..8 {
        targets.push(app.submitted(100 + n, "full").await);
    }
    let owner =
        registrations::get(&mut app.conn(), RegistrationId::parse(&targets[0]).expect("id"))
            .expect("registration")
            .participant;

    // (method, path, allowed roles, body); mutating endpoints get a fresh target per caller.
    let mut next = targets.iter().skip(1);
    let mut endpoints: Vec<(Method, String, &[&str], Option<Value>)> = vec![
        (
            Method::GET,
            "/api/v1/admin/me".into(),
            &["admin", "reviewer", "finance", "checkin"],
            None,
        ),
        (
            Method::GET,
            "/api/v1/admin/registrations".into(),
            &["admin", "reviewer", "finance"],
            None,
        ),
        (
            Method::GET,
            "/api/v1/admin/registrations/counts".into(),
            &["admin", "reviewer", "finance"],
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/admin/registrations/{}", targets[0]),
            &["admin", "reviewer", "finance"],
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/admin/registrations/{}/id-number", targets[0]),
            &["admin", "reviewer"],
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/admin/registrations/{}/photo", targets[0]),
            &["admin", "reviewer", "finance"],
            None,
        ),
        (Method::GET, "/api/v1/admin/audit".into(), &["admin"], None),
        (
            Method::GET,
            format!("/api/v1/admin/periods/{period_id}/export"),
            &["admin", "reviewer", "finance"],
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/admin/periods/{period_id}/export?full_id=true"),
            &["admin"],
            None,
        ),
        (
            Method::PUT,
            format!("/api/v1/admin/participants/{owner}/identity"),
            &["admin"],
            Some(
                json!({"name": "李四", "gender": "male", "id_kind": "resident_id", "id_number": resident_id(100), "note": "核对身份证原件"}),
            ),
        ),
    ];
    let approve = |id: &String| format!("/api/v1/admin/registrations/{id}/approve");
    let reject = |id: &String| format!("/api/v1/admin/registrations/{id}/reject");
    let first = next.next().expect("target");
    let second = next.next().expect("target");
    endpoints.push((Method::POST, approve(first), &["admin", "reviewer"], None));
    endpoints.push((
        Method::POST,
        reject(second),
        &["admin", "reviewer"],
        Some(json!({"reason": "资料不全"})),
    ));
    endpoints.push((
        Method::POST,
        "/api/v1/admin/registrations/bulk".into(),
        &["admin", "reviewer"],
        Some(json!({"action": "reject", "ids": [next.next().expect("target")], "reason": "资料不全"})),
    ));

    let callers: [(&str, Option<&Staff>); 4] = [
        ("admin", Some(&admin)),
        ("reviewer", Some(&reviewer)),
        ("finance", Some(&finance)),
        ("checkin", Some(&checkin)),
    ];
    let spare: Vec<String> = next.cloned().collect();
    let mut spare = spare.iter();
    for (method, path, allowed, body) in &endpoints {
        // Anonymous, and a participant's bearer token: 401.
        let (status, _) = app.admin(method.clone(), path, None, body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "anonymous {method} {path}");
        let (status, _) = app.call(method.clone(), path, Some(&participant), body.clone()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "participant {method} {path}");
        for (role, staff) in callers {
            // Allowed mutating calls after the first get a fresh registration.
            let path = if allowed.contains(&role)
                && *method == Method::POST
                && path.contains("/approve")
                && role != allowed[0]
            {
                approve(spare.next().expect("spare"))
            } else if allowed.contains(&role)
                && *method == Method::POST
                && path.contains("/reject")
                && role != allowed[0]
            {
                reject(spare.next().expect("spare"))
            } else {
                path.clone()
            };
            let (status, answer) = app.admin(method.clone(), &path, staff, body.clone()).await;
            let expected =
                if allowed.contains(&role) { StatusCode::OK } else { StatusCode::FORBIDDEN };
            assert_eq!(status, expected, "{role} {method} {path}: {answer}");
        }
    }
    // A state-changing request without the CSRF header is refused.
    let res = app
        .http
        .post(app.url(&approve(&targets[7])))
        .header("cookie", &reviewer.cookie)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(res.json::<Value>().await.expect("json")["code"], "csrf_failed");
    // Logout ends the session.
    let (status, _) =
        app.admin(Method::POST, "/api/v1/admin/auth/logout", Some(&checkin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.admin(Method::GET, "/api/v1/admin/me", Some(&checkin), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn logins_are_throttled_and_audited(app: TestApp) {
    let admin = app.staff("boss", "admin").await;
    let _victim = app.staff("victim", "reviewer").await;
    for attempt in 1..=5 {
        let (status, body) =
            app.staff_login("victim", "wrong password!!").await.err().expect("refused");
        let expected =
            if attempt < 5 { StatusCode::UNAUTHORIZED } else { StatusCode::TOO_MANY_REQUESTS };
        assert_eq!(status, expected, "attempt {attempt}: {body}");
    }
    // Locked: even the right password is refused for now.
    let (status, body) =
        app.staff_login("victim", "correct horse battery staple").await.err().expect("locked");
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::TOO_MANY_REQUESTS, Some("account_locked"))
    );
    // The lock passes (moved into the past here) and the right password works again.
    {
        use baoming_store::schema::staff_users as s;
        use diesel::prelude::*;
        let past = (chrono::Utc::now() - chrono::Duration::minutes(1)).naive_utc();
        diesel::update(s::table.filter(s::username.eq("victim")))
            .set(s::locked_until.eq(Some(past)))
            .execute(&mut *app.conn())
            .expect("unlock");
    }
    assert!(app.staff_login("victim", "correct horse battery staple").await.is_ok());
    // Unknown users get the same answer as a wrong password.
    let (status, _) = app.staff_login("nobody", "whatever password").await.err().expect("refused");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, log) =
        app.admin(Method::GET, "/api/v1/admin/audit?action=login_failed", Some(&admin), None).await;
    assert_eq!(log.as_array().map(Vec::len), Some(7), "{log}");
    let (_, log) =
        app.admin(Method::GET, "/api/v1/admin/audit?action=login", Some(&admin), None).await;
    let users: BTreeSet<&str> =
        log.as_array().expect("list").iter().filter_map(|e| e["username"].as_str()).collect();
    assert_eq!(users, BTreeSet::from(["boss", "victim"]));
}

async fn bulk_review_reports_each_id(app: TestApp) {
    let reviewer = app.staff("rev", "reviewer").await;
    // Region 泉州 (index 2) is shrunk to 2 seats.
    let token = app.login("seed").await;
    let period = app.period(&token).await;
    let region = period["regions"][0]["id"].as_str().expect("region").to_owned();
    {
        use baoming_store::schema::regions as r;
        use diesel::prelude::*;
        diesel::update(r::table.filter(r::id.eq(&region)))
            .set(r::capacity.eq(2))
            .execute(&mut *app.conn())
            .expect("shrink");
    }
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(app.submitted(200 + n, "exempt_basic").await);
    }
    let already = ids[3].clone();
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{already}/reject"),
            Some(&reviewer),
            Some(json!({"reason": "重复"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let mut batch = ids.clone();
    batch.push("not-an-id".into());
    let (status, answer) = app
        .admin(
            Method::POST,
            "/api/v1/admin/registrations/bulk",
            Some(&reviewer),
            Some(json!({"action": "approve", "ids": batch})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let results = answer["results"].as_array().expect("results");
    let codes: Vec<(bool, Option<&str>)> =
        results.iter().map(|r| (r["ok"].as_bool().unwrap_or(false), r["code"].as_str())).collect();
    assert_eq!(
        codes,
        vec![
            (true, None),
            (true, None),
            (false, Some("region_full")),
            (false, Some("not_allowed_in_state")),
            (false, Some("not_found")),
        ]
    );
    assert_eq!((answer["applied"].as_u64(), answer["refused"].as_u64()), (Some(2), Some(3)));
    assert_eq!(results[3]["state"], "rejected");
    // Limits and validation.
    let too_many: Vec<String> = (0..501).map(|_| ids[0].clone()).collect();
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/admin/registrations/bulk",
            Some(&reviewer),
            Some(json!({"action": "approve", "ids": too_many})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/admin/registrations/bulk",
            Some(&reviewer),
            Some(json!({"action": "reject", "ids": [ids[0]]})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a rejection needs a reason");
}

async fn two_reviewers_at_once_one_wins(app: TestApp) {
    let a = app.staff("rev-a", "reviewer").await;
    let b = app.staff("rev-b", "reviewer").await;
    for n in 0..5 {
        let id = app.submitted(300 + n, "full").await;
        let (approve_path, reject_path) = (
            format!("/api/v1/admin/registrations/{id}/approve"),
            format!("/api/v1/admin/registrations/{id}/reject"),
        );
        let approve = app.admin(Method::POST, &approve_path, Some(&a), None);
        let reject =
            app.admin(Method::POST, &reject_path, Some(&b), Some(json!({"reason": "照片不合格"})));
        let ((s1, b1), (s2, b2)) = tokio::join!(approve, reject);
        let statuses = BTreeSet::from([s1, s2]);
        assert_eq!(statuses, BTreeSet::from([StatusCode::OK, StatusCode::CONFLICT]), "{b1} {b2}");
        let (winner, loser) = if s1 == StatusCode::OK { (b1, b2) } else { (b2, b1) };
        let now =
            if winner["state"] == "awaiting_payment" { "待支付" } else { "审核不通过" };
        assert!(loser["message"].as_str().is_some_and(|m| m.contains(now)), "{loser}");
    }
}

async fn a_full_region_refuses_approval(app: TestApp) {
    let reviewer = app.staff("rev", "reviewer").await;
    let token = app.login("seed").await;
    let period = app.period(&token).await;
    let region = period["regions"][0]["id"].as_str().expect("region").to_owned();
    {
        use baoming_store::schema::regions as r;
        use diesel::prelude::*;
        diesel::update(r::table.filter(r::id.eq(&region)))
            .set(r::capacity.eq(1))
            .execute(&mut *app.conn())
            .expect("shrink");
    }
    let first = app.submitted(400, "full").await;
    let second = app.submitted(401, "full").await;
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{first}/approve"),
            Some(&reviewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, answer) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{second}/approve"),
            Some(&reviewer),
            None,
        )
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("region_full")),
        "{answer}"
    );
    assert_eq!(answer["message"], "该地区名额已满");
    let (_, detail) = app
        .admin(Method::GET, &format!("/api/v1/admin/registrations/{second}"), Some(&reviewer), None)
        .await;
    assert_eq!(detail["registration"]["state"], "pending_review");
}

async fn the_queue_filters_and_the_audit_log_records_every_action(app: TestApp) {
    let admin = app.staff("root", "admin").await;
    let reviewer = app.staff("rev", "reviewer,finance").await;
    let a = app.submitted(500, "full").await;
    let b = app.submitted(501, "exempt_basic").await;
    let (status, page) = app
        .admin(Method::GET, "/api/v1/admin/registrations?per_page=1&page=2", Some(&reviewer), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (page["total"].as_i64(), page["items"][0]["id"].as_str()),
        (Some(2), Some(b.as_str()))
    );
    let masked = page["items"][0]["id_number_masked"].as_str().expect("masked");
    assert!(masked.contains("********"));
    // Exact ID number through the blind index; name and state filters.
    let (_, found) = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/registrations?id_number={}", resident_id(500)),
            Some(&reviewer),
            None,
        )
        .await;
    assert_eq!(
        found["items"].as_array().map(|i| i.iter().map(|x| x["id"].clone()).collect::<Vec<_>>()),
        Some(vec![json!(a)])
    );
    let (_, none) = app
        .admin(
            Method::GET,
            "/api/v1/admin/registrations?name=%E7%8E%8B&state=pending_review",
            Some(&reviewer),
            None,
        )
        .await;
    assert_eq!(none["total"], 0);
    let (status, bad) = app
        .admin(Method::GET, "/api/v1/admin/registrations?id_number=123", Some(&reviewer), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (_, counts) =
        app.admin(Method::GET, "/api/v1/admin/registrations/counts", Some(&reviewer), None).await;
    assert_eq!(counts, json!([{"state": "pending_review", "count": 2}]));

    // Actions, then the audit log has each with the right actor.
    let (_, full) = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/registrations/{a}/id-number"),
            Some(&reviewer),
            None,
        )
        .await;
    assert_eq!(full["id_number"], resident_id(500));
    app.admin(
        Method::POST,
        &format!("/api/v1/admin/registrations/{a}/approve"),
        Some(&reviewer),
        None,
    )
    .await;
    app.admin(
        Method::POST,
        &format!("/api/v1/admin/registrations/{b}/reject"),
        Some(&admin),
        Some(json!({"reason": "缺少学历证明"})),
    )
    .await;
    let (_, detail) = app
        .admin(Method::GET, &format!("/api/v1/admin/registrations/{b}"), Some(&reviewer), None)
        .await;
    let events: Vec<&str> = detail["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|e| e["event"].as_str())
        .collect();
    assert_eq!(events, vec!["submit", "reject"]);
    let (_, log) =
        app.admin(Method::GET, "/api/v1/admin/audit?limit=100", Some(&admin), None).await;
    let seen: BTreeSet<(String, String)> = log
        .as_array()
        .expect("log")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["username"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for (action, who) in [
        ("login", "root"),
        ("login", "rev"),
        ("view_id_number", "rev"),
        ("approve", "rev"),
        ("reject", "root"),
    ] {
        assert!(
            seen.contains(&(action.to_owned(), who.to_owned())),
            "{action} by {who} missing from {seen:?}"
        );
    }
    let approve =
        log.as_array().expect("log").iter().find(|e| e["action"] == "approve").expect("approve");
    assert_eq!(
        (approve["role"].as_str(), approve["target_id"].as_str()),
        (Some("reviewer"), Some(a.as_str()))
    );
    assert!(approve["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert_eq!(approve["client_ip"], "127.0.0.1");
    // The log is append-only in the database.
    use diesel::prelude::*;
    let rewritten =
        diesel::sql_query("UPDATE audit_log SET action = 'x'").execute(&mut *app.conn());
    assert!(rewritten.is_err());
}

async fn identity_correction_and_exports(app: TestApp) {
    let admin = app.staff("root", "admin").await;
    let finance = app.staff("money", "finance").await;
    let id = app.submitted(600, "full").await;
    let participant = registrations::get(&mut app.conn(), RegistrationId::parse(&id).expect("id"))
        .expect("r")
        .participant;
    let path = format!("/api/v1/admin/participants/{participant}/identity");
    let body = |note: &str| json!({"name": "李思", "gender": "male", "id_kind": "resident_id", "id_number": resident_id(600), "note": note});
    let (status, _) = app.admin(Method::PUT, &path, Some(&admin), Some(body(" "))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a note is required");
    let (status, profile) =
        app.admin(Method::PUT, &path, Some(&admin), Some(body("身份证原件为“李思”"))).await;
    assert_eq!(status, StatusCode::OK, "{profile}");
    assert_eq!(profile["name"], "李思");
    assert_eq!(profile["locked"], true);
    let (_, log) = app
        .admin(Method::GET, "/api/v1/admin/audit?action=correct_identity", Some(&admin), None)
        .await;
    let entry = &log[0];
    assert_eq!(entry["summary"]["before"]["name"], "李四");
    assert_eq!(entry["summary"]["after"]["name"], "李思");
    assert!(
        !entry.to_string().contains(&resident_id(600)),
        "the audit log holds masked numbers only"
    );

    // Exports: masked for finance, full for admin, both audited.
    let period = registrations::get(&mut app.conn(), RegistrationId::parse(&id).expect("id"))
        .expect("r")
        .period;
    for (who, query, full) in [(&finance, "", false), (&admin, "?full_id=true", true)] {
        let res = app
            .http
            .get(app.url(&format!("/api/v1/admin/periods/{period}/export{query}")))
            .header("cookie", &who.cookie)
            .send()
            .await
            .expect("export");
        assert_eq!(res.status(), StatusCode::OK);
        let bytes = res.bytes().await.expect("bytes");
        assert!(bytes.starts_with(b"PK\x03\x04"), "an xlsx is a zip");
        let _ = full;
    }
    let (status, _) = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/periods/{period}/export?full_id=true"),
            Some(&finance),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, log) = app.admin(Method::GET, "/api/v1/admin/audit", Some(&admin), None).await;
    let actions: Vec<&str> =
        log.as_array().expect("log").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"export") && actions.contains(&"export_full_id"), "{actions:?}");
}
