//! The back office: staff sessions, roles, the review queue, audit, exports.

use std::collections::BTreeSet;

use reqwest::Method;

use super::*;

on_both_backends!(
    every_endpoint_answers_each_role_exactly,
    logins_are_throttled_and_audited,
    unknown_usernames_collapse_in_the_audit_log,
    a_burst_of_staff_guesses_gets_five,
    staff_passwd_and_disable_end_sessions,
    pii_rekey_moves_id_numbers_to_the_new_key,
    forwarded_for_is_ignored_by_default,
    bulk_review_reports_each_id,
    two_reviewers_at_once_one_wins,
    a_full_region_refuses_approval,
    the_queue_filters_and_the_audit_log_records_every_action,
    identity_correction_and_exports,
    periods_are_managed_without_orphaning_data,
    failed_jobs_are_listed_and_rerun,
);

/// What an allowed call answers: 201 for creating a period, 200 otherwise.
fn created_or_ok(method: &Method, path: &str) -> StatusCode {
    if *method == Method::POST && path == "/api/v1/admin/periods" {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    }
}

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
        (Method::GET, "/api/v1/admin/transfers".into(), &["admin", "finance"], None),
        (Method::GET, "/api/v1/admin/payments".into(), &["admin", "finance"], None),
        (Method::GET, "/api/v1/admin/reconciliation".into(), &["admin", "finance"], None),
        (Method::GET, "/api/v1/admin/jobs".into(), &["admin"], None),
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
    let (_, periods) = app.admin(Method::GET, "/api/v1/admin/periods", Some(&admin), None).await;
    let demo_body = period_body(&periods[0]);
    let mut copy = demo_body.clone();
    for list in ["regions", "subjects", "exam_types", "venues"] {
        for row in copy[list].as_array_mut().expect("rows") {
            row.as_object_mut().expect("row").remove("id");
        }
    }
    endpoints.push((
        Method::GET,
        "/api/v1/admin/periods".into(),
        &["admin", "reviewer", "finance"],
        None,
    ));
    endpoints.push((Method::POST, "/api/v1/admin/periods".into(), &["admin"], Some(copy)));
    endpoints.push((
        Method::PUT,
        format!("/api/v1/admin/periods/{period_id}"),
        &["admin"],
        Some(demo_body),
    ));
    endpoints.push((
        Method::POST,
        format!("/api/v1/admin/periods/{period_id}/close"),
        &["admin"],
        None,
    ));
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
            let expected = if allowed.contains(&role) {
                created_or_ok(method, &path)
            } else {
                StatusCode::FORBIDDEN
            };
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

/// The audit entries of `action` about `username`.
async fn audit_of(app: &TestApp, admin: &Staff, action: &str, username: &str) -> Vec<Value> {
    let (status, log) = app
        .admin(Method::GET, &format!("/api/v1/admin/audit?action={action}"), Some(admin), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log.as_array().expect("list").iter().filter(|e| e["username"] == username).cloned().collect()
}

async fn logins_are_throttled_and_audited(app: TestApp) {
    let admin = app.staff("boss", "admin").await;
    let _victim = app.staff("victim", "reviewer").await;
    let (status, wrong) =
        app.staff_login("victim", "wrong password!!").await.err().expect("refused");
    assert_eq!((status, wrong["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("login_failed")));
    for attempt in 2..=5 {
        let (status, body) =
            app.staff_login("victim", "wrong password!!").await.err().expect("refused");
        assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &wrong), "attempt {attempt}");
    }
    // Locked: even the right password is refused, answered exactly like a wrong one (a lock
    // does not tell that the name exists), and so is an unknown name.
    for _ in 0..2 {
        let (status, body) =
            app.staff_login("victim", "correct horse battery staple").await.err().expect("locked");
        assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &wrong));
    }
    let (status, body) = app.staff_login("nobody", "whatever password").await.err().expect("no");
    assert_eq!((status, &body), (StatusCode::UNAUTHORIZED, &wrong));
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
    // Audited: four failures, the lock, and the two attempts refused while locked counted on
    // the next entry instead of one row each.
    assert_eq!(audit_of(&app, &admin, "login_failed", "victim").await.len(), 4);
    let locked = audit_of(&app, &admin, "login_locked", "victim").await;
    assert_eq!(locked.len(), 1, "{locked:?}");
    assert!(locked[0]["summary"]["locked_until"].is_string(), "{locked:?}");
    let logins = audit_of(&app, &admin, "login", "victim").await;
    assert_eq!(logins.len(), 2, "{logins:?}");
    assert_eq!(logins[0]["summary"]["refused_while_locked"], 2, "{logins:?}");
    assert_eq!(audit_of(&app, &admin, "login_failed", "nobody").await.len(), 1);
}

/// Refused logins of unknown usernames from one address write one audit row per 15 minutes;
/// the ones in between are counted on the address's next row.
async fn unknown_usernames_collapse_in_the_audit_log(app: TestApp) {
    let admin = app.staff("boss", "admin").await;
    async fn failed(app: &TestApp, admin: &Staff) -> Vec<Value> {
        let (status, log) = app
            .admin(Method::GET, "/api/v1/admin/audit?action=login_failed", Some(admin), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{log}");
        log.as_array()
            .expect("list")
            .iter()
            .filter(|e| e["username"].as_str().is_some_and(|u| u.starts_with("ghost")))
            .cloned()
            .collect()
    }
    for name in ["ghost1", "ghost2", "ghost3", "ghost1", "ghost4"] {
        let (status, _) = app.staff_login(name, "whatever password").await.err().expect("no");
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let rows = failed(&app, &admin).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["username"], "ghost1");
    assert!(rows[0]["summary"].get("refused_before").is_none(), "{rows:?}");
    // The window passes (moved into the past here): the next refusal writes a row carrying the
    // four that were only counted.
    {
        use baoming_store::schema::login_failure_windows as w;
        use diesel::prelude::*;
        let past = (chrono::Utc::now() - chrono::Duration::minutes(16)).naive_utc();
        diesel::update(w::table)
            .set(w::window_start.eq(past))
            .execute(&mut *app.conn())
            .expect("moved");
    }
    let (status, _) = app.staff_login("ghost5", "whatever password").await.err().expect("no");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let rows = failed(&app, &admin).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    let newest = rows.iter().find(|e| e["username"] == "ghost5").expect("ghost5's row");
    assert_eq!(newest["summary"]["refused_before"], 4, "{newest}");
    assert!(newest["summary"]["refused_since"].is_string(), "{newest}");
    assert_eq!(newest["summary"]["why"], "unknown or disabled user");
}

/// 20 wrong guesses at once: at most 5 passwords are checked (counted before any check), the
/// account is locked, and participants are answered meanwhile (no guess holds a connection
/// while it hashes).
async fn a_burst_of_staff_guesses_gets_five(app: TestApp) {
    let admin = app.staff("boss", "admin").await;
    let _burst = app.staff("burst", "reviewer").await;
    let token = app.login("bystander").await;
    let guesses = futures_util::future::join_all(
        (0..20).map(|_| app.staff_login("burst", "wrong password!!")),
    );
    let participants = futures_util::future::join_all((0..16).map(|_| async {
        let started = std::time::Instant::now();
        let (status, body) = app.get("/api/v1/profile", &token).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        started.elapsed()
    }));
    let (guesses, waits) = tokio::join!(guesses, participants);
    let answers: BTreeSet<String> = guesses
        .into_iter()
        .map(|r| {
            let (status, body) = r.err().expect("refused");
            assert_eq!(status, StatusCode::UNAUTHORIZED);
            body.to_string()
        })
        .collect();
    assert_eq!(answers.len(), 1, "every refusal answers the same: {answers:?}");
    // The pool's connection timeout is 30 s; nobody waited anywhere near it.
    let slowest = waits.into_iter().max().expect("waits");
    assert!(slowest < std::time::Duration::from_secs(10), "a participant waited {slowest:?}");
    let failed = audit_of(&app, &admin, "login_failed", "burst").await;
    let locked = audit_of(&app, &admin, "login_locked", "burst").await;
    assert_eq!((failed.len(), locked.len()), (4, 1), "5 counted guesses: {failed:?} {locked:?}");
    // Locked: the right password is refused too.
    let (status, _) =
        app.staff_login("burst", "correct horse battery staple").await.err().expect("locked");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let row = baoming_store::staff::find_by_username(&mut app.conn(), "burst")
        .expect("read")
        .expect("user");
    assert!(row.failures.locked_until.is_some());
    assert_eq!(row.failures.in_flight, 0, "every reservation settled");
}

/// Runs `baoming-api staff …` on the app's database with `stdin`; its standard output.
fn staff_command(app: &TestApp, args: &[&str], stdin: &str) -> String {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_baoming-api"))
        .arg("staff")
        .args(args)
        .env_remove("BAOMING_CONFIG")
        .env("BAOMING_DATA_DIR", app.data_dir())
        .env("BAOMING_DATABASE_URL", app.db.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("baoming-api");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("ran");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    stdout
}

/// `baoming-api pii rekey` with a second key made current: every stored ID number is
/// re-encrypted with it (counted and audited), a second run rewrites nothing, and afterwards
/// the second key alone opens every row.
async fn pii_rekey_moves_id_numbers_to_the_new_key(app: TestApp) {
    use baoming_domain::ids::{ParticipantId, TypedId};
    use baoming_store::pii::{self, PiiCipher, PiiKeys};
    use baoming_store::schema::participants as p;
    use diesel::prelude::*;

    let admin = app.staff("boss", "admin").await;
    for n in 1..=3 {
        let token = app.login(&format!("user{n}")).await;
        let (status, body) = app.put("/api/v1/profile", &token, profile_body(n)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    // The server runs on dev mode's generated keys: they become key 1 of the rotated file.
    let dev = std::fs::read_to_string(app.data_dir().join("dev-pii-keys.txt")).expect("dev keys");
    let mut lines = dev.lines();
    let (key_1, blind) = (lines.next().expect("key"), lines.next().expect("blind-index key"));
    let config = app.data_dir().join("rotated.toml");
    std::fs::write(
        &config,
        format!(
            "[pii]\nid_encryption_key = \"{key_1}\"\nblind_index_key = \"{blind}\"\n\
             id_encryption_keys = [{{ id = 2, key = \"{}\" }}]\n",
            "33".repeat(32)
        ),
    )
    .expect("config");
    let rekey = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_baoming-api"))
            .args(["pii", "rekey", "--batch-size", "2"])
            .env("BAOMING_CONFIG", &config)
            .env("BAOMING_DATA_DIR", app.data_dir())
            .env("BAOMING_DATABASE_URL", app.db.url())
            .output()
            .expect("baoming-api");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
        stdout
    };
    let out = rekey();
    assert!(out.contains("re-encrypted 3 of 3 stored ID numbers with key 2"), "{out}");
    let out = rekey();
    assert!(out.contains("re-encrypted 0 of 3 stored ID numbers with key 2 (3 already"), "{out}");
    let audited = audit_of(&app, &admin, "pii_rekey", "(command line)").await;
    let rewritten: Vec<&Value> = audited.iter().map(|e| &e["summary"]["rewritten"]).collect();
    assert_eq!(rewritten, [&json!(0), &json!(3)], "newest first: {audited:?}");

    // Key 1 removed: key 2 alone opens every row, each names key 2.
    let blind = pii::key_from_hex("blind", blind).expect("hex");
    let only_2 = PiiCipher::new(PiiKeys::rotating(vec![(2, [0x33; 32])], 2, blind).expect("keys"));
    let mut conn = app.conn();
    let rows: Vec<(String, Vec<u8>)> = p::table
        .filter(p::id_number_enc.is_not_null())
        .select((p::id, p::id_number_enc.assume_not_null()))
        .load(&mut *conn)
        .expect("rows");
    assert_eq!(rows.len(), 3);
    let mut numbers: Vec<String> = rows
        .iter()
        .map(|(id, ct)| {
            assert_eq!(pii::key_id_of(ct), Some(2));
            let id = ParticipantId::parse(id).expect("id");
            let found = baoming_store::participants::get(&mut conn, &only_2, id).expect("opens");
            found.profile.identity.id_number.expect("number").expose().to_owned()
        })
        .collect();
    numbers.sort();
    let mut expected: Vec<String> = (1..=3).map(resident_id).collect();
    expected.sort();
    assert_eq!(numbers, expected);
}

/// Who a staff session belongs to: the status of `GET /api/v1/admin/me`.
async fn me(app: &TestApp, staff: &Staff) -> StatusCode {
    app.admin(Method::GET, "/api/v1/admin/me", Some(staff), None).await.0
}

async fn staff_passwd_and_disable_end_sessions(app: TestApp) {
    let admin = app.staff("boss", "admin").await;
    // An admin's own password is changed with the current one, not reset by the session.
    let (status, users) = app.admin(Method::GET, "/api/v1/admin/staff", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let users = users.as_array().expect("list").clone();
    let own = users.iter().find(|u| u["username"] == "boss").expect("boss")["id"].clone();
    let own = own.as_str().expect("id").to_owned();
    let path = format!("/api/v1/admin/staff/{own}/password");
    let (status, body) = app.admin(Method::POST, &path, Some(&admin), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("cannot_reset_self")));
    assert_eq!(me(&app, &admin).await, StatusCode::OK, "the session lives on");
    let first = app.staff("wang", "reviewer").await;
    let second = app.staff_login("wang", "correct horse battery staple").await.expect("again");
    assert_eq!(me(&app, &first).await, StatusCode::OK);
    let out = staff_command(
        &app,
        &["passwd", "--username", "wang", "--password-stdin"],
        "a brand new password 2026\n",
    );
    assert!(out.contains("2 session(s) ended"), "{out}");
    assert_eq!(me(&app, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me(&app, &second).await, StatusCode::UNAUTHORIZED);
    assert!(app.staff_login("wang", "correct horse battery staple").await.is_err());
    let third = app.staff_login("wang", "a brand new password 2026").await.expect("new password");
    assert_eq!(me(&app, &third).await, StatusCode::OK);

    let out = staff_command(&app, &["disable", "--username", "wang"], "");
    assert!(out.contains("1 session(s) ended"), "{out}");
    assert_eq!(me(&app, &third).await, StatusCode::UNAUTHORIZED);
    assert!(app.staff_login("wang", "a brand new password 2026").await.is_err());
    // Both audited, as the command line.
    for action in ["staff_password_reset", "staff_disable"] {
        let rows = audit_of(&app, &admin, action, "(command line)").await;
        assert_eq!(rows.len(), 1, "{action}: {rows:?}");
    }
}

/// Logs `username` in with an `X-Forwarded-For` header; the client address its audit entry
/// records.
async fn audited_address(app: &TestApp, admin: &Staff, username: &str, forwarded: &str) -> Value {
    let res = app
        .http
        .post(app.url("/api/v1/admin/auth/login"))
        .header("x-forwarded-for", forwarded)
        .json(&json!({"username": username, "password": "correct horse battery staple"}))
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), StatusCode::OK);
    let rows = audit_of(app, admin, "login", username).await;
    rows.first().expect("audited")["client_ip"].clone()
}

/// Without `trusted_proxies` the header is ignored: the connection's address is recorded.
async fn forwarded_for_is_ignored_by_default(app: TestApp) {
    let admin = app.staff("boss", "admin").await;
    let _ = app.staff("wang", "reviewer").await;
    assert_eq!(audited_address(&app, &admin, "wang", "203.0.113.9").await, "127.0.0.1");
}

/// Behind a trusted proxy, the right-most address the proxy did not write itself is recorded
/// (the left-most was written by the client and can be anything).
async fn the_client_behind_a_trusted_proxy_is_audited(db: TestDb) {
    let app = TestApp::spawn_with(db, |raw| {
        raw.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()];
    })
    .await;
    let admin = app.staff("boss", "admin").await;
    let _ = app.staff("wang", "reviewer").await;
    assert_eq!(
        audited_address(&app, &admin, "wang", "198.51.100.1, 203.0.113.9, 10.1.2.3").await,
        "203.0.113.9"
    );
}

mod behind_a_proxy {
    mod sqlite {
        #[actix_web::test]
        async fn the_client_behind_a_trusted_proxy_is_audited() {
            super::super::the_client_behind_a_trusted_proxy_is_audited(
                super::super::TestDb::sqlite(),
            )
            .await;
        }
    }
    mod postgres {
        #[actix_web::test]
        async fn the_client_behind_a_trusted_proxy_is_audited() {
            super::super::the_client_behind_a_trusted_proxy_is_audited(
                super::super::TestDb::postgres(),
            )
            .await;
        }
    }
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
        .admin(Method::GET, "/api/v1/admin/registrations?page=first", Some(&reviewer), None)
        .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_query")),
        "{bad}"
    );
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
    let approve = format!("/api/v1/admin/registrations/{a}/approve");
    let (status, _) = app.admin(Method::POST, &approve, Some(&reviewer), None).await;
    assert_eq!(status, StatusCode::OK);
    let reject = format!("/api/v1/admin/registrations/{b}/reject");
    let (status, _) =
        app.admin(Method::POST, &reject, Some(&admin), Some(json!({"template": 9}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no such template");
    let (status, _) =
        app.admin(Method::POST, &reject, Some(&admin), Some(json!({"template": 0}))).await;
    assert_eq!(status, StatusCode::OK);
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
    assert_eq!(detail["rejection_reason"], "照片不符合一寸白底免冠要求，请重新上传");
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

async fn periods_are_managed_without_orphaning_data(app: TestApp) {
    let admin = app.staff("root", "admin").await;
    let reviewer = app.staff("rev", "reviewer").await;
    let (_, list) = app.admin(Method::GET, "/api/v1/admin/periods", Some(&reviewer), None).await;
    let demo = list[0].clone();
    assert_eq!(demo["closed"], false);
    assert_eq!(demo["rejection_templates"].as_array().map(Vec::len), Some(3));
    let demo_id = demo["period"]["id"].as_str().expect("id").to_owned();

    // Create a copy as a new period (ids dropped), with a bad form first.
    let mut new = period_body(&demo);
    new["name"] = json!("2027年第一期");
    for list in ["regions", "subjects", "exam_types", "venues"] {
        for row in new[list].as_array_mut().expect("rows") {
            row.as_object_mut().expect("row").remove("id");
        }
    }
    let mut bad = new.clone();
    bad["registration_closes"] = bad["registration_opens"].clone();
    bad["exam_types"][0]["subject_codes"] = json!(["nope"]);
    let (status, answer) =
        app.admin(Method::POST, "/api/v1/admin/periods", Some(&admin), Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let fields: Vec<&str> = answer["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    assert_eq!(fields, vec!["schedule"]);
    let (status, answer) =
        app.admin(Method::POST, "/api/v1/admin/periods", Some(&reviewer), Some(new.clone())).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    let (status, created) =
        app.admin(Method::POST, "/api/v1/admin/periods", Some(&admin), Some(new)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let created_id = created["period"]["id"].as_str().expect("id").to_owned();

    // Registrations now refer to the demo period's first region and its 考全科 exam type.
    let reg = app.submitted(700, "full").await;
    let (status, _) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{reg}/approve"),
            Some(&reviewer),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let path = format!("/api/v1/admin/periods/{demo_id}");
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut body = period_body(&demo);
        f(&mut body);
        body
    };
    let cases: [(Value, StatusCode, &str); 4] = [
        (
            edit(&|b| b["regions"][0]["capacity"] = json!(0)),
            StatusCode::CONFLICT,
            "capacity_below_taken",
        ),
        (
            edit(&|b| {
                b["regions"].as_array_mut().expect("regions").remove(0);
            }),
            StatusCode::CONFLICT,
            "referenced_by_registrations",
        ),
        (
            edit(&|b| {
                b["exam_types"].as_array_mut().expect("types").remove(0);
            }),
            StatusCode::CONFLICT,
            "referenced_by_registrations",
        ),
        (
            edit(&|b| b["regions"][0]["id"] = json!(created["period"]["regions"][0]["id"])),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        ),
    ];
    for (body, status, code) in cases {
        let (got, answer) = app.admin(Method::PUT, &path, Some(&admin), Some(body)).await;
        assert_eq!((got, answer["code"].as_str()), (status, Some(code)), "{answer}");
    }
    // A subject someone chose cannot go either (考全科 needs all four, so drop it from the type too).
    let (got, answer) = app
        .admin(
            Method::PUT,
            &path,
            Some(&admin),
            Some(edit(&|b| {
                b["subjects"].as_array_mut().expect("subjects").remove(0);
                b["exam_types"][0]["subject_codes"] = json!(["contract", "control", "case"]);
                b["exam_types"][0]["min_subjects"] = json!(3);
                b["exam_types"][0]["max_subjects"] = json!(3);
                b["exam_types"][0]["prices"] = json!([{"subjects": 3, "fee_yuan": "990.00"}]);
            })),
        )
        .await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("referenced_by_registrations")),
        "{answer}"
    );
    // Two regions swapping codes in one edit: a clear 409, nothing changed.
    let (got, answer) = app
        .admin(
            Method::PUT,
            &path,
            Some(&admin),
            Some(edit(&|b| {
                b["regions"][0]["code"] = json!("02");
                b["regions"][1]["code"] = json!("01");
            })),
        )
        .await;
    assert_eq!(
        (got, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("duplicate_code")),
        "{answer}"
    );
    // Nothing above changed anything; a good edit does (capacity, a new region, a removed
    // unused region, a new price).
    let (status, edited) = app
        .admin(
            Method::PUT,
            &path,
            Some(&admin),
            Some(edit(&|b| {
                b["regions"][0]["capacity"] = json!(1);
                b["regions"].as_array_mut().expect("regions").remove(2);
                b["regions"]
                    .as_array_mut()
                    .expect("regions")
                    .push(json!({"code": "04", "name": "漳州", "capacity": 30}));
                // 厦门 replaced by a new row with the same code (the old one is deleted first).
                b["regions"][1] = json!({"code": "02", "name": "厦门", "capacity": 120});
                b["exam_types"][1]["prices"][0]["fee_yuan"] = json!("700.00");
            })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    let names: Vec<&str> = edited["period"]["regions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(names, vec!["福州", "厦门", "漳州"]);
    assert_eq!(edited["period"]["regions"][0]["seats_left"], 0);
    assert_eq!(edited["period"]["exam_types"][1]["prices"][0]["fee_fen"], 70_000);

    // Closing hides a period from participants.
    let (status, closed) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/periods/{created_id}/close"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!((status, closed["closed"].as_bool()), (StatusCode::OK, Some(true)));
    // …and refuses new registrations, whatever its dates say.
    let (visitor, photo) = app.ready_participant(750).await;
    let (status, _) = app.get(&format!("/api/v1/periods/{created_id}"), &visitor).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, answer) = app
        .post("/api/v1/registrations", &visitor, form(&closed["period"], &photo, 0, "full"))
        .await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::CONFLICT, Some("registration_closed")),
        "{answer}"
    );
    let token = app.login("visitor").await;
    let (_, open) = app.get("/api/v1/periods", &token).await;
    assert!(open.as_array().expect("periods").iter().all(|p| p["id"] != created_id.as_str()));
    let (_, log) = app.admin(Method::GET, "/api/v1/admin/audit", Some(&admin), None).await;
    let actions: BTreeSet<&str> =
        log.as_array().expect("log").iter().filter_map(|e| e["action"].as_str()).collect();
    for action in ["period_create", "period_update", "period_close"] {
        assert!(actions.contains(action), "{action} missing");
    }
}

/// How long the export of 100,000 registrations takes, end to end over HTTP (run by hand:
/// `cargo test --release -p baoming-api --test api export_of_100k -- --ignored --nocapture`;
/// the figure goes to docs/performance.md). Setup rows are inserted directly, in bulk.
#[actix_web::test]
#[ignore = "a measurement, not a check: run by hand"]
async fn export_of_100k_registrations() {
    use baoming_store::schema::{participants as p, registrations as r};
    use diesel::prelude::*;
    const ROWS: usize = 100_000;
    let app = TestApp::spawn(TestDb::sqlite()).await;
    let finance = app.staff("money", "finance").await;
    let token = app.login("seed").await;
    let period = app.period(&token).await;
    let now = chrono::Utc::now().naive_utc();
    let subjects = r#"[{"code":"control","name":"建设工程目标控制","specialty":"水利"},{"code":"case","name":"建设工程监理案例分析","specialty":"水利"}]"#;
    let mut conn = app.conn();
    for chunk in 0..ROWS / 1000 {
        let ids: Vec<(String, String)> = (0..1000)
            .map(|_| (uuid::Uuid::now_v7().to_string(), uuid::Uuid::now_v7().to_string()))
            .collect();
        let people: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, (pid, _))| {
                (
                    p::id.eq(pid.clone()),
                    p::openid.eq(format!("bulk-{chunk}-{i}")),
                    p::name.eq("张三"),
                    p::gender.eq("male"),
                    p::phone.eq("13800138000"),
                    p::employer.eq("福建某监理有限公司"),
                    p::profile_locked.eq(true),
                    p::created_at.eq(now),
                    p::updated_at.eq(now),
                )
            })
            .collect();
        // MultiConnection has no batch insert: one statement per row, one transaction per chunk.
        baoming_store::write_tx(&mut conn, |c| {
            for person in &people {
                diesel::insert_into(p::table).values(person.clone()).execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .expect("participants");
        let regs: Vec<_> = ids
            .iter()
            .map(|(pid, rid)| {
                (
                    r::id.eq(rid.clone()),
                    r::participant_id.eq(pid.clone()),
                    r::period_id.eq(period["id"].as_str().expect("id").to_owned()),
                    r::region_id.eq(period["regions"][0]["id"].as_str().expect("id").to_owned()),
                    r::exam_type_id
                        .eq(period["exam_types"][1]["id"].as_str().expect("id").to_owned()),
                    r::subjects.eq(subjects),
                    r::fee_fen.eq(68_000i64),
                    r::state.eq("pending_review"),
                    r::version.eq(1),
                    r::submitted_at.eq(now),
                    r::updated_at.eq(now),
                )
            })
            .collect();
        baoming_store::write_tx(&mut conn, |c| {
            for reg in &regs {
                diesel::insert_into(r::table).values(reg.clone()).execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        })
        .expect("registrations");
    }
    drop(conn);
    let hwm = || {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM")).map(str::to_owned))
            .unwrap_or_default()
    };
    let before = hwm();
    let started = std::time::Instant::now();
    let res =
        app.http
            .get(app.url(&format!(
                "/api/v1/admin/periods/{}/export",
                period["id"].as_str().expect("id")
            )))
            .header("cookie", &finance.cookie)
            .send()
            .await
            .expect("export");
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.expect("bytes");
    eprintln!(
        "export of {ROWS} registrations: {:.2} s, {} bytes; peak RSS of the test process {before} → {}",
        started.elapsed().as_secs_f64(),
        bytes.len(),
        hwm()
    );
}

async fn failed_jobs_are_listed_and_rerun(app: TestApp) {
    use baoming_store::jobs::{self, Job};
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    // A job that failed its last attempt, recorded through the store as the worker does.
    let job = Job::Refund { refund: baoming_store::new_id() };
    let start = chrono::Utc::now();
    let id = jobs::enqueue(&mut app.conn(), &job, start, start).expect("enqueued");
    for attempt in 1..=job.max_attempts() {
        let at = start + chrono::Duration::days(i64::from(attempt));
        let mut conn = app.conn();
        let claimed = jobs::claim(&mut conn, "test-worker", at, chrono::Duration::minutes(5), 1)
            .expect("claimed");
        assert_eq!(claimed.len(), 1, "attempt {attempt}");
        jobs::fail(&mut conn, &claimed[0], "WeChat Pay: SYSTEM_ERROR", at).expect("failed");
    }

    let (status, failed) = app.admin(Method::GET, "/api/v1/admin/jobs", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{failed}");
    let failed = failed.as_array().expect("list").clone();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["id"], id.to_string());
    assert_eq!(failed[0]["kind"], "refund");
    assert_eq!(failed[0]["state"], "failed");
    assert_eq!(failed[0]["attempts"], job.max_attempts());
    assert_eq!(failed[0]["last_error"], "WeChat Pay: SYSTEM_ERROR");
    assert_eq!(failed[0]["payload"]["kind"], "refund");
    assert!(failed[0]["payload"]["refund"].is_string());
    let (status, pending) =
        app.admin(Method::GET, "/api/v1/admin/jobs?state=pending", Some(&admin), None).await;
    assert_eq!((status, pending), (StatusCode::OK, json!([])));
    let (status, _) =
        app.admin(Method::GET, "/api/v1/admin/jobs?state=lost", Some(&admin), None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let rerun = format!("/api/v1/admin/jobs/{id}/rerun");
    let (status, _) = app.admin(Method::POST, &rerun, Some(&finance), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.admin(Method::POST, &rerun, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, again) = app.admin(Method::POST, &rerun, Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!((again["state"].as_str(), again["attempts"].as_i64()), (Some("pending"), Some(0)));
    assert_eq!(again["last_error"], Value::Null);
    let (status, body) = app.admin(Method::POST, &rerun, Some(&admin), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("job_not_failed")));
    let unknown = format!(
        "/api/v1/admin/jobs/{}/rerun",
        baoming_store::new_id::<baoming_domain::ids::JobId>()
    );
    let (status, _) = app.admin(Method::POST, &unknown, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        app.admin(Method::POST, "/api/v1/admin/jobs/not-an-id/rerun", Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Due again at once, and the worker may claim it.
    let (_, failed) = app.admin(Method::GET, "/api/v1/admin/jobs", Some(&admin), None).await;
    assert_eq!(failed, json!([]));
    let (_, pending) =
        app.admin(Method::GET, "/api/v1/admin/jobs?state=pending", Some(&admin), None).await;
    assert_eq!(pending[0]["id"], id.to_string());
    let claimed = jobs::claim(
        &mut app.conn(),
        "test-worker",
        chrono::Utc::now(),
        chrono::Duration::minutes(5),
        1,
    )
    .expect("claimed");
    assert_eq!((claimed[0].id, claimed[0].attempt), (id, 1));

    // The rerun is in the audit log.
    let (status, audit) =
        app.admin(Method::GET, "/api/v1/admin/audit?action=job_rerun", Some(&admin), None).await;
    assert_eq!(status, StatusCode::OK);
    let audit = audit.as_array().expect("entries").clone();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0]["target_kind"], "job");
    assert_eq!(audit[0]["target_id"], id.to_string());
    assert_eq!(audit[0]["username"], "admin1");
    assert_eq!(audit[0]["summary"]["attempts"], job.max_attempts());
}
