//! Refunds over real HTTP: the participant's request and its cancellation, finance's
//! decisions, WeChat refunds carried out by a worker against the WeChat Pay simulator
//! (closed and abnormal ones retried or refunded offline), and money that could not be taken.

use baoming_domain::ids::{RegistrationId, TypedId};
use baoming_domain::lifecycle::{EventKind, State};
use baoming_store::registrations;
use baoming_wechatpay_sim::Faults;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::payments::{approved, events, genuine, pay_wechat, post_notification, state_of};
use super::{Staff, TestApp, TestDb, count, tab};

crate::on_both_backends!(
    request_cancel_request_approve_and_the_worker_refunds,
    a_denied_refund_keeps_the_seat_and_check_in,
    a_closed_refund_is_retried_and_an_abnormal_one_refunded_offline,
    a_wrong_amount_is_given_back_and_the_fee_paid_with_a_new_order,
);

async fn seats_left(app: &TestApp, token: &str) -> i64 {
    let period = app.period(token).await;
    period["regions"][0]["seats_left"].as_i64().expect("seats")
}

/// A registration of participant `n` paid by WeChat through the simulator.
async fn paid_by_wechat(app: &TestApp, admin: &Staff, n: u32) -> (String, String) {
    let (token, id) = approved(app, admin, n).await;
    let order = pay_wechat(app, &token, &id).await;
    app.pay_sim.pay(order["out_trade_no"].as_str().expect("no")).expect("paid");
    super::payments::until_state(app, &id, State::Paid).await;
    (token, id)
}

async fn ask(app: &TestApp, token: &str, id: &str, reason: &str) -> (StatusCode, Value) {
    app.post(
        &format!("/api/v1/registrations/{id}/refund-request"),
        token,
        json!({"reason": reason}),
    )
    .await
}

async fn take_back(app: &TestApp, token: &str, id: &str) -> (StatusCode, Value) {
    app.call(
        Method::DELETE,
        &format!("/api/v1/registrations/{id}/refund-request"),
        Some(token),
        None,
    )
    .await
}

fn actions(view: &Value) -> Vec<&str> {
    view["actions"].as_array().expect("actions").iter().filter_map(Value::as_str).collect()
}

async fn requests(app: &TestApp, finance: &Staff, query: &str) -> Vec<Value> {
    let (status, body) = app
        .admin(Method::GET, &format!("/api/v1/admin/refund-requests{query}"), Some(finance), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().expect("rows").clone()
}

async fn request_cancel_request_approve_and_the_worker_refunds(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let worker = app.worker();

    // Not paid yet: asking is refused, naming the state.
    let (token, unpaid) = approved(&app, &admin, 9).await;
    let (status, body) = ask(&app, &token, &unpaid, "不想考了").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().expect("message").contains("待支付"), "{body}");

    let (token, id) = paid_by_wechat(&app, &admin, 1).await;
    let seats_paid = seats_left(&app, &token).await;
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), &token).await;
    assert_eq!(actions(&view), ["request_refund"], "only what has a route: {view}");
    // A reason is required; nothing to take back yet.
    let (status, body) = ask(&app, &token, &id, "  ").await;
    assert_eq!(
        (status, body["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let (status, body) = take_back(&app, &token, &id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().expect("message").contains("已支付"), "{body}");
    // Someone else's registration: not found.
    let stranger = app.login("stranger").await;
    assert_eq!(ask(&app, &stranger, &id, "时间冲突").await.0, StatusCode::NOT_FOUND);

    // Request → cancel → request: each answers the registration as it is now.
    let (status, view) = ask(&app, &token, &id, "单位临时安排出差").await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        (view["state"].as_str(), view["tag_label"].as_str()),
        (Some("refund_requested"), Some("退款审核中"))
    );
    assert_eq!(actions(&view), ["cancel_refund_request"]);
    let (status, view) = take_back(&app, &token, &id).await;
    assert_eq!((status, view["state"].as_str()), (StatusCode::OK, Some("paid")), "{view}");
    let (status, view) = ask(&app, &token, &id, "单位临时安排出差").await;
    assert_eq!((status, view["state"].as_str()), (StatusCode::OK, Some("refund_requested")));
    let (status, body) = ask(&app, &token, &id, "again").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Finance sees it with the reason; filters by state, method, period, employer.
    let listed = requests(&app, &finance, "?state=refund_requested&method=wechat_pay").await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["registration_id"], id.as_str());
    assert_eq!(listed[0]["reason"], "单位临时安排出差");
    assert_eq!(listed[0]["actions"], json!(["approve", "deny"]));
    let period = app.period(&token).await;
    let scoped = format!("?period_id={}&employer=监理", period["id"].as_str().expect("id"));
    assert_eq!(requests(&app, &finance, &scoped).await.len(), 1);
    assert!(requests(&app, &finance, "?method=bank_transfer").await.is_empty());
    assert!(requests(&app, &finance, "?employer=别的单位").await.is_empty());
    let (status, _) = app
        .admin(Method::GET, "/api/v1/admin/refund-requests?state=paid", Some(&finance), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let reviewer = app.staff("reviewer1", "reviewer").await;
    let approve = format!("/api/v1/admin/registrations/{id}/approve-refund");
    assert_eq!(
        app.admin(Method::POST, &approve, Some(&reviewer), None).await.0,
        StatusCode::FORBIDDEN
    );

    // Approved (a batch of one, with an id in the wrong state refused on its own).
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/admin/refund-requests/approve",
            Some(&finance),
            Some(json!({"registration_ids": [id, unpaid]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["applied"].as_u64(), body["refused"].as_u64()), (Some(1), Some(1)), "{body}");
    assert_eq!(body["results"][0]["state"], "refunding");
    assert_eq!(body["results"][1]["state"], "awaiting_payment");
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), &token).await;
    assert_eq!((view["tag_label"].as_str(), actions(&view).len()), (Some("退款中"), 0));

    // The worker refunds at WeChat Pay, once: 已退款, the seat released.
    worker.until("refunded", || state_of(&app, &id) == State::Refunded).await;
    let (_, mine) = app.get("/api/v1/my-exams", &token).await;
    let expired = tab(&mine, "expired");
    let row = expired.iter().find(|r| r["id"] == id.as_str()).expect("under 已过期");
    assert_eq!(row["tag_label"], "已退款");
    assert_eq!(seats_left(&app, &token).await, seats_paid + 1);
    let requests_made = app.pay_sim.refund_requests();
    assert_eq!(requests_made.len(), 1, "{requests_made:?}");
    assert!(requests_made.values().all(|&n| n == 1));
    let listed = requests(&app, &finance, "?state=refunded").await;
    assert_eq!(listed[0]["refund"]["state"], "succeeded", "{listed:?}");
    // The participant was told: approved, then refunded.
    worker.drain().await;
    let templates: Vec<String> = app.messages().into_iter().map(|(t, _)| t).collect();
    for expected in ["dev_refund_approved", "dev_refunded"] {
        assert!(templates.iter().any(|t| t == expected), "{expected}: {templates:?}");
    }
    // Audited.
    let (_, audit) = app.admin(Method::GET, "/api/v1/admin/audit", Some(&admin), None).await;
    assert!(audit.to_string().contains("approve_refund"), "{audit}");
}

async fn a_denied_refund_keeps_the_seat_and_check_in(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let worker = app.worker();
    let (token, id) = paid_by_wechat(&app, &admin, 1).await;
    let seats = seats_left(&app, &token).await;
    let (status, _) = ask(&app, &token, &id, "时间冲突").await;
    assert_eq!(status, StatusCode::OK);
    let deny = format!("/api/v1/admin/registrations/{id}/deny-refund");
    let (status, _) =
        app.admin(Method::POST, &deny, Some(&finance), Some(json!({"reason": ""}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .admin(Method::POST, &deny, Some(&finance), Some(json!({"reason": "考试已开始，不予退款"})))
        .await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("refund_denied")), "{body}");
    let (status, body) =
        app.admin(Method::POST, &deny, Some(&finance), Some(json!({"reason": "again"}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), &token).await;
    assert_eq!(
        (view["state"].as_str(), view["tag_label"].as_str()),
        (Some("refund_denied"), Some("退款失败"))
    );
    assert_eq!(seats_left(&app, &token).await, seats, "the seat is kept");
    // A second request is not in the table.
    let (status, body) = ask(&app, &token, &id, "再申请").await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body["message"].as_str().expect("message").contains("退款失败"), "{body}");
    let listed = requests(&app, &finance, "?state=refund_denied").await;
    assert_eq!(listed[0]["denial_reason"], "考试已开始，不予退款");
    // The participant is told why.
    worker
        .until("refusal sent", || {
            app.messages()
                .iter()
                .any(|(t, note)| t == "dev_refund_denied" && note == "考试已开始，不予退款")
        })
        .await;

    // Check-in still works (the venue route arrives with its own issue; staff check in here
    // through the store, inside the period's check-in window).
    {
        use baoming_store::schema::periods as p;
        use diesel::prelude::*;
        let now = chrono::Utc::now().naive_utc();
        diesel::update(p::table)
            .set((
                p::checkin_opens.eq(now - chrono::Duration::hours(1)),
                p::checkin_closes.eq(now + chrono::Duration::hours(1)),
            ))
            .execute(&mut *app.conn())
            .expect("check-in window open");
    }
    // Check-in staff check the person in at the desk (the venue code's way is tested in
    // checkin.rs; here the window was moved in the database, which the cached period details
    // may not show yet).
    let checkin = app.staff("checkin1", "checkin").await;
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{id}/check-in"),
            Some(&checkin),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), &token).await;
    assert_eq!(view["state"], "checked_in");
    assert_eq!(app.pay_sim.refund_requests().len(), 0, "no money moved");
}

async fn a_closed_refund_is_retried_and_an_abnormal_one_refunded_offline(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let worker = app.worker();
    let (token, id) = paid_by_wechat(&app, &admin, 1).await;
    let (token_other, other) = paid_by_wechat(&app, &admin, 2).await;
    assert_eq!(ask(&app, &token, &id, "时间冲突").await.0, StatusCode::OK);
    assert_eq!(ask(&app, &token_other, &other, "生病").await.0, StatusCode::OK);

    // WeChat Pay will close the first refund and report the second abnormal.
    app.pay_sim
        .set_faults(Faults { closed_refunds: Some(1), ..Faults::default() })
        .expect("faults");
    let approve = |r: &str| format!("/api/v1/admin/registrations/{r}/approve-refund");
    assert_eq!(
        app.admin(Method::POST, &approve(&id), Some(&finance), None).await.0,
        StatusCode::OK
    );
    worker.until("closed", || app.pay_sim.refund_requests().len() == 1 && flagged(&app, &id)).await;
    app.pay_sim
        .set_faults(Faults { abnormal_refunds: Some(1), ..Faults::default() })
        .expect("faults");
    assert_eq!(
        app.admin(Method::POST, &approve(&other), Some(&finance), None).await.0,
        StatusCode::OK
    );
    worker.until("abnormal", || flagged(&app, &other)).await;

    // Both are listed for finance, flagged, with what can be done; the tag says 退款中.
    let listed = requests(&app, &finance, "?state=refunding").await;
    assert_eq!(listed.len(), 2);
    for row in &listed {
        assert_eq!(row["flag"], "refund_failed", "{row}");
        assert_eq!(row["actions"], json!(["retry", "offline"]), "{row}");
        assert_eq!(row["tag_label"], "退款中");
    }
    let closed = listed.iter().find(|r| r["registration_id"] == id.as_str()).expect("closed");
    assert_eq!(closed["refund"]["state"], "closed");
    let closed_id = closed["refund"]["id"].as_str().expect("refund id").to_owned();
    let closed_no = closed["refund"]["out_refund_no"].as_str().expect("no").to_owned();

    // Retried: a new refund number linked to the old one, requested once; then refunded.
    let retry = format!("/api/v1/admin/refunds/{closed_id}/retry");
    let (status, new) = app.admin(Method::POST, &retry, Some(&finance), None).await;
    assert_eq!(status, StatusCode::OK, "{new}");
    assert_eq!(new["retry_of"], closed_id.as_str());
    assert_ne!(new["out_refund_no"], closed_no.as_str());
    let (status, body) = app.admin(Method::POST, &retry, Some(&finance), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::CONFLICT, Some("refund_already_retried"))
    );
    let (_, old) = app
        .admin(Method::GET, &format!("/api/v1/admin/refunds/{closed_id}"), Some(&finance), None)
        .await;
    assert_eq!(
        (old["state"].as_str(), old["superseded_by"].as_str()),
        (Some("closed"), new["id"].as_str())
    );
    worker.until("retried refund done", || state_of(&app, &id) == State::Refunded).await;
    let made = app.pay_sim.refund_requests();
    assert_eq!(made.get(&closed_no), Some(&1));
    assert_eq!(made.get(new["out_refund_no"].as_str().expect("no")), Some(&1));
    // A refund that is not failed cannot be retried or settled offline.
    let new_id = new["id"].as_str().expect("id");
    let (status, body) = app
        .admin(Method::POST, &format!("/api/v1/admin/refunds/{new_id}/retry"), Some(&finance), None)
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("refund_not_failed")));

    // The abnormal one: refunded offline, with a note; the registration is 已退款.
    let abnormal =
        listed.iter().find(|r| r["registration_id"] == other.as_str()).expect("abnormal");
    let abnormal_id = abnormal["refund"]["id"].as_str().expect("refund id");
    let offline = format!("/api/v1/admin/refunds/{abnormal_id}/offline");
    let (status, _) =
        app.admin(Method::POST, &offline, Some(&finance), Some(json!({"note": " "}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .admin(
            Method::POST,
            &offline,
            Some(&finance),
            Some(json!({"note": "已于11月28日银行转账退回本人"})),
        )
        .await;
    assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("succeeded")), "{body}");
    assert_eq!(body["offline_note"], "已于11月28日银行转账退回本人");
    assert_eq!(state_of(&app, &other), State::Refunded);
    assert_eq!(events(&app, &other, EventKind::RefundSucceeded), 1);
    let (status, body) =
        app.admin(Method::POST, &offline, Some(&finance), Some(json!({"note": "again"}))).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("refund_not_failed")));
    // Audited; the participant was told of the failure.
    let (_, audit) = app.admin(Method::GET, "/api/v1/admin/audit", Some(&admin), None).await;
    for action in ["refund_retry", "refund_offline"] {
        assert!(audit.to_string().contains(action), "{action}: {audit}");
    }
    worker.drain().await;
    assert!(app.messages().iter().any(|(t, _)| t == "dev_refund_failed"), "{:?}", app.messages());
}

fn flagged(app: &TestApp, id: &str) -> bool {
    let id = RegistrationId::parse(id).expect("id");
    registrations::get(&mut app.conn(), id).expect("registration").status.flag.is_some()
}

async fn a_wrong_amount_is_given_back_and_the_fee_paid_with_a_new_order(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let worker = app.worker();
    let (token, id) = approved(&app, &admin, 1).await;
    let registration = RegistrationId::parse(&id).expect("id");
    // The order at WeChat Pay was opened for another amount (the fee was corrected after).
    let fee = {
        use baoming_store::schema::registrations as r;
        use diesel::prelude::*;
        let fee: i64 = r::table.find(&id).select(r::fee_fen).first(&mut *app.conn()).expect("fee");
        diesel::update(r::table.find(&id))
            .set(r::fee_fen.eq(fee + 5_000))
            .execute(&mut *app.conn())
            .expect("fee");
        fee
    };
    let first = pay_wechat(&app, &token, &id).await;
    assert_eq!(first["amount_fen"].as_i64(), Some(fee + 5_000));
    {
        use baoming_store::schema::registrations as r;
        use diesel::prelude::*;
        diesel::update(r::table.find(&id))
            .set(r::fee_fen.eq(fee))
            .execute(&mut *app.conn())
            .expect("fee");
    }
    let first_no = first["out_trade_no"].as_str().expect("no").to_owned();
    app.pay_sim.pay(&first_no).expect("paid at WeChat");
    // Recorded, flagged, not accepted: still 待支付.
    for _ in 0..100 {
        if count(&mut app.conn(), "payments") == 1 {
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state_of(&app, &id), State::AwaitingPayment);
    let (status, listed) = app
        .admin(Method::GET, "/api/v1/admin/unapplied-payments?open_only=true", Some(&finance), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    assert_eq!(listed.as_array().expect("rows").len(), 1, "{listed}");
    let row = &listed[0];
    assert_eq!(
        (row["cause"].as_str(), row["disposition"].as_str()),
        (Some("amount_mismatch"), Some("mismatch"))
    );
    assert_eq!(row["expected_fen"].as_i64(), Some(fee));
    assert_eq!(row["amount_fen"].as_i64(), Some(fee + 5_000));
    assert_eq!(row["resolution"], "refunding");
    assert!(row["cause_label"].as_str().expect("label").contains("不符"), "{row}");

    // The worker gives it back.
    worker
        .until("given back", || {
            let filter = baoming_store::payments::PaymentFilter {
                registration: Some(registration),
                ..Default::default()
            };
            baoming_store::payments::list_payments(&mut app.conn(), &filter, 5).expect("ledger")[0]
                .refund_state
                == Some(baoming_store::payments::RefundState::Succeeded)
        })
        .await;
    let (_, listed) =
        app.admin(Method::GET, "/api/v1/admin/unapplied-payments", Some(&finance), None).await;
    assert_eq!(listed[0]["resolution"], "refunded", "{listed}");
    let (_, open) = app
        .admin(Method::GET, "/api/v1/admin/unapplied-payments?open_only=true", Some(&finance), None)
        .await;
    assert!(open.as_array().expect("rows").is_empty());
    assert_eq!(app.pay_sim.refund_requests().len(), 1);

    // The participant pays the fee with a new order.
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), &token).await;
    assert!(actions(&view).contains(&"pay_wechat"), "{view}");
    let second = pay_wechat(&app, &token, &id).await;
    assert_ne!(second["out_trade_no"].as_str(), Some(first_no.as_str()));
    assert_eq!(second["amount_fen"].as_i64(), Some(fee));
    app.pay_sim.pay(second["out_trade_no"].as_str().expect("no")).expect("paid");
    super::payments::until_state(&app, &id, State::Paid).await;
    assert_eq!(events(&app, &id, EventKind::ConfirmPayment), 1);

    // A duplicate of the first payment's notification changes nothing.
    let (headers, body) = genuine(&app, &first_no, fee + 5_000);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    assert_eq!(count(&mut app.conn(), "payments"), 2);
}
