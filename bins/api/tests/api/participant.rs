//! The participant's side: the mini-program API.

use super::*;

on_both_backends!(
    the_manual_flow_from_login_to_resubmission,
    bad_inputs_get_their_own_4xx_and_change_nothing,
    participants_never_reach_each_other,
    login_maps_wechat_errors_and_logout_revokes,
    photos_are_checked_and_served_only_to_their_owner,
    a_large_upload_is_stored_whole,
    service_endpoints_answer,
);

/// An upload larger than what the api keeps in memory while it waits for a decode (the rest
/// waits in a temporary file) is put back together byte for byte: a JPEG followed by 700 KiB
/// of appended data (as motion photos carry), stored as the original.
async fn a_large_upload_is_stored_whole(app: TestApp) {
    let token = app.login("large").await;
    let mut upload = id_photo(590, 826, WHITE);
    upload.extend((0..700 * 1024u32).map(|i| (i % 251) as u8));
    let (status, photo) = app.upload(&token, upload.clone(), "motion.jpg").await;
    assert_eq!(status, StatusCode::CREATED, "{photo}");
    let id = photo["id"].as_str().expect("id").parse().expect("photo id");
    let stored = baoming_store::photos::get(&mut app.conn(), id).expect("row");
    let original =
        std::fs::read(app.data_dir().join("files").join(&stored.original_key)).expect("original");
    assert!(original == upload, "the stored original differs from the upload");
    // Nothing is left behind where uploads wait.
    let waiting = std::fs::read_dir(app.data_dir().join("uploads")).map_or(0, |d| d.count());
    assert_eq!(waiting, 0);
}

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
    // An expired session (expired in the database before this server ever saw the token).
    let expired = app.login("user-expired").await;
    {
        use baoming_store::schema::sessions;
        use diesel::prelude::*;
        let past = (chrono::Utc::now() - chrono::Duration::hours(1)).naive_utc();
        diesel::update(sessions::table)
            .set(sessions::expires_at.eq(past))
            .execute(&mut *app.conn())
            .expect("expire");
    }
    let (got, _) = app.get("/api/v1/my-exams", &expired).await;
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
