//! Paying over real HTTP: WeChat Pay through the WeChat Pay simulator (orders, notifications,
//! queries, key rotation), bank transfers confirmed by finance, and notifications forged,
//! replayed, raced and lost.

use std::time::Duration;

use baoming_domain::ids::{RegistrationId, TypedId};
use baoming_domain::lifecycle::{EventKind, State};
use baoming_payments::{ApiV3Key, RsaPublicKey, RsaSigningKey, encrypt_resource, sign_response};
use baoming_store::payments::{self, Disposition, PaymentFilter};
use baoming_store::registrations;
use baoming_wechatpay_sim::{Faults, dev_keys};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{Staff, TestApp, TestDb, count, tab};

crate::on_both_backends!(
    the_wechat_journey,
    one_notification_delivered_many_times_pays_once,
    a_lost_notification_is_recovered_by_checking,
    forged_and_stale_notifications_change_nothing,
    money_that_cannot_be_taken_is_recorded_and_refunded,
    the_bank_transfer_journey,
    a_batch_of_twenty_transfers,
    wechat_and_finance_racing_pay_once,
    key_rotation_keeps_orders_in_flight_verifiable,
    refund_notifications_settle_refunds,
    finance_returns_a_transfer_by_hand,
    notifications_we_cannot_apply_are_kept_for_finance,
);

/// An approved registration of a new participant `n`: (participant token, registration id).
pub(crate) async fn approved(app: &TestApp, admin: &Staff, n: u32) -> (String, String) {
    let (token, photo) = app.ready_participant(n).await;
    let period = app.period(&token).await;
    let (status, body) = app
        .post("/api/v1/registrations", &token, super::form(&period, &photo, 0, "exempt_basic"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/registrations/{id}/approve"),
            Some(admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (token, id)
}

pub(crate) async fn pay_wechat(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, body) =
        app.post(&format!("/api/v1/registrations/{id}/pay/wechat"), token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

pub(crate) fn state_of(app: &TestApp, id: &str) -> State {
    let id = RegistrationId::parse(id).expect("id");
    registrations::get(&mut app.conn(), id).expect("registration").status.state
}

pub(crate) fn events(app: &TestApp, id: &str, kind: EventKind) -> usize {
    let id = RegistrationId::parse(id).expect("id");
    registrations::history(&mut app.conn(), id)
        .expect("history")
        .iter()
        .filter(|e| e.event == kind)
        .count()
}

pub(crate) fn ledger(app: &TestApp, id: &str) -> Vec<payments::PaymentRecord> {
    let filter = PaymentFilter {
        registration: Some(RegistrationId::parse(id).expect("id")),
        ..PaymentFilter::default()
    };
    payments::list_payments(&mut app.conn(), &filter, 100).expect("ledger")
}

/// Waits (up to 10 s) until the registration reaches `state`.
pub(crate) async fn until_state(app: &TestApp, id: &str, state: State) {
    for _ in 0..200 {
        if state_of(app, id) == state {
            return;
        }
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("registration {id} is {:?}, never {state:?}", state_of(app, id));
}

/// The openid an order was opened for (WeChat Pay reports it as the payer), or a stranger's
/// for an order we never opened.
pub(crate) fn payer_of(app: &TestApp, out_trade_no: &str) -> String {
    payments::order_by_out_trade_no(&mut app.conn(), out_trade_no)
        .expect("order")
        .map_or_else(|| "o-stranger".to_owned(), |order| order.openid)
}

/// A TRANSACTION.SUCCESS notification for `out_trade_no`, encrypted with the APIv3 key and
/// signed with `key` under `serial`, `age` seconds old: (headers, body).
fn notification(
    app: &TestApp,
    out_trade_no: &str,
    total_fen: i64,
    key_pem: &str,
    serial: &str,
    age: i64,
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let transaction = json!({
        "appid": baoming_api::runtime::dev_material::DEV_APPID,
        "mchid": baoming_api::runtime::dev_material::DEV_MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": format!("4200000{out_trade_no}").chars().take(28).collect::<String>(),
        "trade_type": "JSAPI",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "success_time": "2026-11-28T10:00:00+08:00",
        "payer": {"openid": payer_of(app, out_trade_no)},
        "amount": {"total": total_fen, "payer_total": total_fen, "currency": "CNY", "payer_currency": "CNY"}
    });
    signed_transaction(&transaction, &format!("EV-{out_trade_no}"), key_pem, serial, age)
}

/// A TRANSACTION.SUCCESS notification (`id`) of `transaction`, encrypted with the APIv3 key
/// and signed with `key_pem` under `serial`, `age` seconds old: (headers, body).
pub(crate) fn signed_transaction(
    transaction: &Value,
    id: &str,
    key_pem: &str,
    serial: &str,
    age: i64,
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let key = ApiV3Key::parse(dev_keys::APIV3_KEY).expect("apiv3 key");
    let resource = encrypt_resource(
        &key,
        "n0nce0n0nce0",
        "transaction",
        transaction.to_string().as_bytes(),
        "transaction",
    )
    .expect("encrypted");
    let body = json!({
        "id": id,
        "create_time": "2026-11-28T10:00:01+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": resource,
    })
    .to_string()
    .into_bytes();
    let signer = RsaSigningKey::from_pem(key_pem).expect("signing key");
    let ts = chrono::Utc::now().timestamp() - age;
    let headers = sign_response(&signer, serial, ts, "nonce-of-the-test", &body).expect("signed");
    (headers.to_pairs(), body)
}

pub(crate) async fn post_notification(
    app: &TestApp,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> StatusCode {
    let mut req = app
        .http
        .post(app.url("/api/v1/wechatpay/notify"))
        .header("content-type", "application/json")
        .body(body);
    for (name, value) in headers {
        req = req.header(*name, value);
    }
    req.send().await.expect("notify").status()
}

pub(crate) fn genuine(
    app: &TestApp,
    out_trade_no: &str,
    total_fen: i64,
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    notification(
        app,
        out_trade_no,
        total_fen,
        dev_keys::PLATFORM_PRIVATE_KEY_1_PEM,
        dev_keys::PLATFORM_PUB_KEY_ID_1,
        0,
    )
}

// ---------------------------------------------------------------------------------------------

async fn the_wechat_journey(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let (token, id) = approved(&app, &admin, 1).await;
    let first = pay_wechat(&app, &token, &id).await;
    let fee = first["amount_fen"].as_i64().expect("amount");
    assert!(fee > 0);
    let params = &first["request_payment"];
    for field in ["timeStamp", "nonceStr", "package", "signType", "paySign"] {
        assert!(params[field].as_str().is_some_and(|v| !v.is_empty()), "{field}: {first}");
    }
    assert_eq!(params["signType"], "RSA");
    assert!(params["package"].as_str().expect("package").starts_with("prepay_id="));
    // paySign verifies with the merchant's public key over appId\ntimeStamp\nnonceStr\npackage\n.
    let message = format!(
        "{}\n{}\n{}\n{}\n",
        baoming_api::runtime::dev_material::DEV_APPID,
        params["timeStamp"].as_str().expect("ts"),
        params["nonceStr"].as_str().expect("nonce"),
        params["package"].as_str().expect("package"),
    );
    let public = RsaPublicKey::from_pem(dev_keys::MERCHANT_PUBLIC_KEY_PEM).expect("public key");
    let signature = base64_decode(params["paySign"].as_str().expect("paySign"));
    assert!(public.verify(message.as_bytes(), &signature), "paySign does not verify");

    // Asking again: the same order, fresh parameters.
    let again = pay_wechat(&app, &token, &id).await;
    assert_eq!(again["out_trade_no"], first["out_trade_no"]);
    assert_eq!(again["request_payment"]["package"], first["request_payment"]["package"]);
    assert_eq!(count(&mut app.conn(), "payment_orders"), 1);
    let order = app.pay_sim.order(first["out_trade_no"].as_str().expect("no")).expect("order");
    assert_eq!(order["total"], fee);

    // The person taps 确认支付: the simulator notifies; My exams shows 待报到 / 已支付.
    app.pay_sim.pay(first["out_trade_no"].as_str().expect("no")).expect("paid");
    until_state(&app, &id, State::Paid).await;
    let (_, mine) = app.get("/api/v1/my-exams", &token).await;
    let waiting = tab(&mine, "awaiting_check_in");
    assert_eq!(waiting.len(), 1, "{mine}");
    assert_eq!(waiting[0]["tag_label"], "已支付");
    assert_eq!(events(&app, &id, EventKind::ConfirmPayment), 1);
    let rows = ledger(&app, &id);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].disposition, Disposition::Applied);
    assert_eq!(rows[0].amount_fen, fee);
    assert!(rows[0].transaction_id.is_some());
    assert_eq!(count(&mut app.conn(), "payment_notifications"), 1);
    // Paying again is refused: the registration is paid.
    let (status, body) =
        app.post(&format!("/api/v1/registrations/{id}/pay/wechat"), &token, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).expect("base64")
}

async fn one_notification_delivered_many_times_pays_once(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let (token, id) = approved(&app, &admin, 1).await;
    let order = pay_wechat(&app, &token, &id).await;
    let no = order["out_trade_no"].as_str().expect("no").to_owned();
    let fee = order["amount_fen"].as_i64().expect("fee");
    let (headers, body) = genuine(&app, &no, fee);
    for _ in 0..10 {
        assert_eq!(post_notification(&app, &headers, body.clone()).await, StatusCode::NO_CONTENT);
    }
    let concurrent: Vec<_> =
        (0..10).map(|_| post_notification(&app, &headers, body.clone())).collect();
    for status in futures_util::future::join_all(concurrent).await {
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    assert_eq!(state_of(&app, &id), State::Paid);
    assert_eq!(events(&app, &id, EventKind::ConfirmPayment), 1);
    assert_eq!(ledger(&app, &id).len(), 1);

    // A second registration: ten copies at once, first contact.
    let (token, id) = approved(&app, &admin, 2).await;
    let order = pay_wechat(&app, &token, &id).await;
    let (headers, body) = genuine(&app, order["out_trade_no"].as_str().expect("no"), fee);
    let concurrent: Vec<_> =
        (0..10).map(|_| post_notification(&app, &headers, body.clone())).collect();
    for status in futures_util::future::join_all(concurrent).await {
        assert_eq!(status, StatusCode::NO_CONTENT);
    }
    assert_eq!(events(&app, &id, EventKind::ConfirmPayment), 1);
    assert_eq!(ledger(&app, &id).len(), 1);

    // The simulator's own duplicate delivery changes nothing either.
    let (token, id) = approved(&app, &admin, 3).await;
    let order = pay_wechat(&app, &token, &id).await;
    app.pay_sim
        .set_faults(Faults { duplicate_notifications: Some(true), ..Faults::default() })
        .expect("faults");
    app.pay_sim.pay(order["out_trade_no"].as_str().expect("no")).expect("paid");
    until_state(&app, &id, State::Paid).await;
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(events(&app, &id, EventKind::ConfirmPayment), 1);
}

async fn a_lost_notification_is_recovered_by_checking(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let (token, id) = approved(&app, &admin, 1).await;
    let order = pay_wechat(&app, &token, &id).await;
    app.pay_sim
        .set_faults(Faults { drop_notifications: Some(1), ..Faults::default() })
        .expect("faults");
    app.pay_sim.pay(order["out_trade_no"].as_str().expect("no")).expect("paid");
    actix_web::rt::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(state_of(&app, &id), State::AwaitingPayment, "the notification was dropped");
    let (status, view) =
        app.post(&format!("/api/v1/registrations/{id}/pay/check"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["state"], "paid");
    assert_eq!(view["tag_label"], "已支付");
    assert_eq!(events(&app, &id, EventKind::ConfirmPayment), 1);
    // Checking again changes nothing.
    let (status, view) =
        app.post(&format!("/api/v1/registrations/{id}/pay/check"), &token, json!({})).await;
    assert_eq!((status, view["state"].as_str()), (StatusCode::OK, Some("paid")));
    assert_eq!(ledger(&app, &id).len(), 1);
    // Someone else's registration: not found.
    let other = app.login("stranger").await;
    let (status, _) =
        app.post(&format!("/api/v1/registrations/{id}/pay/check"), &other, json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn forged_and_stale_notifications_change_nothing(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let (token, id) = approved(&app, &admin, 1).await;
    let order = pay_wechat(&app, &token, &id).await;
    let no = order["out_trade_no"].as_str().expect("no").to_owned();
    let fee = order["amount_fen"].as_i64().expect("fee");

    // Signed with a key WeChat Pay does not have (the merchant's own), under WeChat's serial.
    let (headers, body) = notification(
        &app,
        &no,
        fee,
        dev_keys::MERCHANT_PRIVATE_KEY_PEM,
        dev_keys::PLATFORM_PUB_KEY_ID_1,
        0,
    );
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::UNAUTHORIZED);
    // 301 seconds old.
    let (headers, body) = notification(
        &app,
        &no,
        fee,
        dev_keys::PLATFORM_PRIVATE_KEY_1_PEM,
        dev_keys::PLATFORM_PUB_KEY_ID_1,
        301,
    );
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::UNAUTHORIZED);
    // An unknown serial.
    let (headers, body) = notification(
        &app,
        &no,
        fee,
        dev_keys::PLATFORM_PRIVATE_KEY_1_PEM,
        "PUB_KEY_ID_0000000000000000000000000000000099",
        0,
    );
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::UNAUTHORIZED);
    // A signature probe.
    let (mut headers, body) = genuine(&app, &no, fee);
    for (name, value) in &mut headers {
        if *name == "Wechatpay-Signature" {
            *value = format!("WECHATPAY/SIGNTEST/{value}");
        }
    }
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::UNAUTHORIZED);
    // The body changed after signing.
    let (headers, body) = genuine(&app, &no, fee);
    let mut changed = String::from_utf8(body).expect("utf-8");
    changed = changed.replace("支付成功", "支付成功 ");
    assert_eq!(
        post_notification(&app, &headers, changed.into_bytes()).await,
        StatusCode::UNAUTHORIZED
    );
    // Signed correctly, but the ciphertext was tampered with before signing: not decryptable.
    let (_, body) = genuine(&app, &no, fee);
    let mut parsed: Value = serde_json::from_slice(&body).expect("json");
    let ciphertext = parsed["resource"]["ciphertext"].as_str().expect("ct").to_owned();
    let mut raw = base64_decode(&ciphertext);
    raw[0] ^= 0x01;
    use base64::Engine as _;
    parsed["resource"]["ciphertext"] = json!(base64::engine::general_purpose::STANDARD.encode(raw));
    let body = parsed.to_string().into_bytes();
    let signer = RsaSigningKey::from_pem(dev_keys::PLATFORM_PRIVATE_KEY_1_PEM).expect("key");
    let headers = sign_response(
        &signer,
        dev_keys::PLATFORM_PUB_KEY_ID_1,
        chrono::Utc::now().timestamp(),
        "nonce",
        &body,
    )
    .expect("signed")
    .to_pairs();
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::BAD_REQUEST);
    // No headers at all.
    let (_, body) = genuine(&app, &no, fee);
    assert_eq!(post_notification(&app, &[], body).await, StatusCode::UNAUTHORIZED);

    assert_eq!(state_of(&app, &id), State::AwaitingPayment);
    assert!(ledger(&app, &id).is_empty());
    assert_eq!(count(&mut app.conn(), "payment_notifications"), 0);
    // The genuine one still works.
    let (headers, body) = genuine(&app, &no, fee);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    assert_eq!(state_of(&app, &id), State::Paid);
}

async fn money_that_cannot_be_taken_is_recorded_and_refunded(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    // Paid after withdrawing (the order was open when the person tapped pay).
    let (token, id) = approved(&app, &admin, 1).await;
    let order = pay_wechat(&app, &token, &id).await;
    let no = order["out_trade_no"].as_str().expect("no").to_owned();
    let fee = order["amount_fen"].as_i64().expect("fee");
    let (status, body) =
        app.post(&format!("/api/v1/registrations/{id}/withdraw"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (headers, body) = genuine(&app, &no, fee);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    assert_eq!(state_of(&app, &id), State::Withdrawn);
    let rows = ledger(&app, &id);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].disposition, Disposition::Refund);
    assert_eq!(count(&mut app.conn(), "refunds"), 1);
    let jobs = baoming_store::jobs::pending(&mut app.conn()).expect("jobs");
    assert_eq!(
        jobs.iter().filter(|j| matches!(j.job, baoming_store::jobs::Job::Refund { .. })).count(),
        1
    );
    // Finance sees it in the ledger.
    let finance = app.staff("finance1", "finance").await;
    let (status, listed) = app
        .admin(Method::GET, "/api/v1/admin/payments?disposition=refund", Some(&finance), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed.as_array().expect("rows").len(), 1);

    // The wrong amount: recorded and flagged, never paid.
    let (token, id) = approved(&app, &admin, 2).await;
    let order = pay_wechat(&app, &token, &id).await;
    let (headers, body) = genuine(&app, order["out_trade_no"].as_str().expect("no"), fee - 1);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    assert_eq!(state_of(&app, &id), State::AwaitingPayment);
    let (status, flagged) = app
        .admin(Method::GET, "/api/v1/admin/payments?disposition=mismatch", Some(&finance), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(flagged.as_array().expect("rows").len(), 1, "{flagged}");
    assert_eq!(flagged[0]["amount_fen"], fee - 1);
    // An order we never opened: acknowledged (WeChat Pay would retry a failure for a day),
    // not in the ledger, kept for finance.
    let (headers, body) = genuine(&app, "0123456789abcdef0123456789abcdef", fee);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    assert_eq!(count(&mut app.conn(), "payments"), 2);
    assert_eq!(count(&mut app.conn(), "unmatched_notifications"), 1);
}

/// A failure answer of the notify endpoint: WeChat Pay's `{code, message}`.
async fn post_raw_notification(app: &TestApp, body: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .http
        .post(app.url("/api/v1/wechatpay/notify"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("notify");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn notifications_we_cannot_apply_are_kept_for_finance(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let reviewer = app.staff("reviewer1", "reviewer").await;
    let (token, id) = approved(&app, &admin, 1).await;
    let order = pay_wechat(&app, &token, &id).await;
    let no = order["out_trade_no"].as_str().expect("no").to_owned();
    let fee = order["amount_fen"].as_i64().expect("fee");
    let transaction = |payer: &str, currency: &str| {
        json!({
            "appid": baoming_api::runtime::dev_material::DEV_APPID,
            "mchid": baoming_api::runtime::dev_material::DEV_MCHID,
            "out_trade_no": no,
            "transaction_id": "4200000000202611280000000009",
            "trade_type": "JSAPI",
            "trade_state": "SUCCESS",
            "trade_state_desc": "支付成功",
            "success_time": "2026-11-28T10:00:00+08:00",
            "payer": {"openid": payer},
            "amount": {"total": fee, "payer_total": fee, "currency": currency, "payer_currency": currency}
        })
    };
    let app_ref = &app;
    let send = |transaction: Value, id: &'static str| {
        let (headers, body) = signed_transaction(
            &transaction,
            id,
            dev_keys::PLATFORM_PRIVATE_KEY_1_PEM,
            dev_keys::PLATFORM_PUB_KEY_ID_1,
            0,
        );
        async move { post_notification(app_ref, &headers, body).await }
    };
    // Another payer than the order's, another currency: acknowledged, not applied.
    assert_eq!(
        send(transaction("o-someone-else", "CNY"), "EV-payer").await,
        StatusCode::NO_CONTENT
    );
    let payer = payer_of(&app, &no);
    assert_eq!(send(transaction(&payer, "USD"), "EV-usd").await, StatusCode::NO_CONTENT);
    // An order we never opened, delivered twice: kept once.
    for _ in 0..2 {
        let (headers, body) = genuine(&app, "0123456789abcdef0123456789abcdef", 12_300);
        assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    }
    assert_eq!(state_of(&app, &id), State::AwaitingPayment);
    assert!(ledger(&app, &id).is_empty());

    let (status, kept) =
        app.admin(Method::GET, "/api/v1/admin/unmatched-notifications", Some(&finance), None).await;
    assert_eq!(status, StatusCode::OK, "{kept}");
    let mut reasons: Vec<(String, String, i64)> = kept
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["reason"].as_str().expect("reason").to_owned(),
                r["out_trade_no"].as_str().expect("no").to_owned(),
                r["amount_fen"].as_i64().expect("fen"),
            )
        })
        .collect();
    reasons.sort();
    assert_eq!(
        reasons,
        vec![
            ("currency".to_owned(), no.clone(), fee),
            ("payer".to_owned(), no.clone(), fee),
            ("unknown_order".to_owned(), "0123456789abcdef0123456789abcdef".to_owned(), 12_300),
        ],
        "{kept}"
    );
    let (status, _) = app
        .admin(Method::GET, "/api/v1/admin/unmatched-notifications", Some(&reviewer), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The console lists them on the unapplied-money page.
    let page = app
        .http
        .get(app.url("/admin/finance/unapplied"))
        .header("cookie", &finance.cookie)
        .send()
        .await
        .expect("page");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("html");
    assert!(page.contains("0123456789abcdef0123456789abcdef"), "{page}");
    for label in ["本系统没有该订单", "币种不是人民币", "付款人与订单不符"] {
        assert!(page.contains(label), "{label}");
    }

    // The genuine one pays.
    let (headers, body) = genuine(&app, &no, fee);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    assert_eq!(state_of(&app, &id), State::Paid);

    // Over 64 KiB: refused before anything is read, in WeChat Pay's terms.
    let (status, answer) = post_raw_notification(&app, vec![b' '; 64 * 1024 + 1]).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer["code"], "FAIL", "{answer}");
    assert!(answer["message"].is_string(), "{answer}");
    // Every other failure answers the same shape.
    let (status, answer) = post_raw_notification(&app, b"{}".to_vec()).await;
    assert_eq!((status, answer["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("FAIL")));
}

async fn the_bank_transfer_journey(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let (token, id) = approved(&app, &admin, 1).await;
    let (status, declared) =
        app.post(&format!("/api/v1/registrations/{id}/pay/transfer"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{declared}");
    assert_eq!(declared["registration"]["state"], "awaiting_transfer");
    for field in ["name", "bank", "account"] {
        assert!(declared["payee"][field].as_str().is_some_and(|v| !v.is_empty()), "{declared}");
    }
    let reference = declared["reference"].as_str().expect("reference").to_owned();
    assert!(reference.starts_with("BM-"), "{reference}");
    // Again: the same answer; and it can be read back.
    let (status, again) =
        app.post(&format!("/api/v1/registrations/{id}/pay/transfer"), &token, json!({})).await;
    assert_eq!((status, &again["reference"]), (StatusCode::OK, &declared["reference"]));
    let (status, read) = app.get(&format!("/api/v1/registrations/{id}/pay/transfer"), &token).await;
    assert_eq!((status, &read["reference"]), (StatusCode::OK, &declared["reference"]));
    let (_, mine) = app.get("/api/v1/my-exams", &token).await;
    assert_eq!(tab(&mine, "awaiting_payment").len(), 1);

    // Finance finds it by the reference as typed from the bank statement.
    let typed = reference.to_lowercase().replace('-', " ");
    let (status, found) = app
        .admin(
            Method::GET,
            &format!("/api/v1/admin/transfers?reference={typed}"),
            Some(&finance),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found.as_array().expect("rows").len(), 1);
    assert_eq!(found[0]["registration_id"], id.as_str());
    let (status, _) = app
        .admin(Method::GET, "/api/v1/admin/transfers?reference=nonsense", Some(&finance), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // Not received: back to 待支付 (a note is required).
    let not_received = format!("/api/v1/admin/registrations/{id}/transfer-not-received");
    let (status, _) =
        app.admin(Method::POST, &not_received, Some(&finance), Some(json!({"note": " "}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = app
        .admin(Method::POST, &not_received, Some(&finance), Some(json!({"note": "未查到到账记录"})))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(state_of(&app, &id), State::AwaitingPayment);
    let (status, _) =
        app.post(&format!("/api/v1/registrations/{id}/pay/transfer"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK);

    // Confirmed: 待报到 / 已支付; audited; a reviewer may not confirm.
    let fee = declared["amount_yuan"].as_str().expect("amount").to_owned();
    let confirm =
        json!({"registration_ids": [id], "amount_yuan": fee, "bank_reference": "20261128-0001"});
    let reviewer = app.staff("reviewer1", "reviewer").await;
    let (status, _) = app
        .admin(
            Method::POST,
            "/api/v1/admin/transfers/confirm",
            Some(&reviewer),
            Some(confirm.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app
        .admin(
            Method::POST,
            "/api/v1/admin/transfers/confirm",
            Some(&finance),
            Some(confirm.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["outcome"], "paid");
    let (_, mine) = app.get("/api/v1/my-exams", &token).await;
    assert_eq!(tab(&mine, "awaiting_check_in")[0]["tag_label"], "已支付");
    // Confirming twice: refused, nothing more recorded.
    let (status, body) = app
        .admin(Method::POST, "/api/v1/admin/transfers/confirm", Some(&finance), Some(confirm))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(ledger(&app, &id).len(), 1);
    let (_, audit) = app.admin(Method::GET, "/api/v1/admin/audit", Some(&admin), None).await;
    let actions: Vec<&str> = audit["entries"]
        .as_array()
        .or_else(|| audit.as_array())
        .expect("entries")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(actions.contains(&"confirm_transfer"), "{actions:?}");
    assert!(actions.contains(&"transfer_not_received"), "{actions:?}");
}

async fn a_batch_of_twenty_transfers(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let mut ids = Vec::new();
    let mut fee = 0i64;
    for n in 0..20 {
        let (token, id) = approved(&app, &admin, 100 + n).await;
        let (status, declared) =
            app.post(&format!("/api/v1/registrations/{id}/pay/transfer"), &token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{declared}");
        fee = declared["registration"]["fee_fen"].as_i64().expect("fee");
        ids.push(id);
    }
    let (_, listed) =
        app.admin(Method::GET, "/api/v1/admin/transfers?employer=监理", Some(&finance), None).await;
    assert_eq!(listed.as_array().expect("rows").len(), 20);
    let yuan = |fen: i64| format!("{}.{:02}", fen / 100, fen % 100);
    let short = json!({"registration_ids": ids, "amount_yuan": yuan(fee * 20 - 1)});
    let (status, body) = app
        .admin(Method::POST, "/api/v1/admin/transfers/confirm", Some(&finance), Some(short))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["fields"][0]["code"], "amount_mismatch", "{body}");
    assert_eq!(count(&mut app.conn(), "payments"), 0, "all or nothing");
    let exact = json!({"registration_ids": ids, "amount_yuan": yuan(fee * 20)});
    let (status, body) = app
        .admin(Method::POST, "/api/v1/admin/transfers/confirm", Some(&finance), Some(exact))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"].as_array().expect("results").len(), 20);
    for id in &ids {
        assert_eq!(state_of(&app, id), State::Paid);
        assert_eq!(events(&app, id, EventKind::ConfirmPayment), 1);
    }
    assert_eq!(count(&mut app.conn(), "payments"), 20);
    let (_, listed) = app.admin(Method::GET, "/api/v1/admin/transfers", Some(&finance), None).await;
    assert!(listed.as_array().expect("rows").is_empty());
}

async fn wechat_and_finance_racing_pay_once(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    for n in 0..4 {
        let (token, id) = approved(&app, &admin, 10 + n).await;
        // The order was opened, then the participant chose a transfer; both monies arrive.
        let order = pay_wechat(&app, &token, &id).await;
        let (status, declared) =
            app.post(&format!("/api/v1/registrations/{id}/pay/transfer"), &token, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{declared}");
        let (headers, body) = genuine(
            &app,
            order["out_trade_no"].as_str().expect("no"),
            order["amount_fen"].as_i64().expect("fee"),
        );
        let confirm = json!({"registration_ids": [id], "amount_yuan": declared["amount_yuan"]});
        let (wechat, finance_answer) = futures_util::future::join(
            post_notification(&app, &headers, body),
            app.admin(
                Method::POST,
                "/api/v1/admin/transfers/confirm",
                Some(&finance),
                Some(confirm),
            ),
        )
        .await;
        assert_eq!(wechat, StatusCode::NO_CONTENT);
        assert_eq!(finance_answer.0, StatusCode::OK, "{}", finance_answer.1);
        assert_eq!(state_of(&app, &id), State::Paid);
        assert_eq!(events(&app, &id, EventKind::ConfirmPayment), 1);
        let rows = ledger(&app, &id);
        let mut dispositions: Vec<&str> = rows.iter().map(|p| p.disposition.as_str()).collect();
        dispositions.sort_unstable();
        assert_eq!(dispositions, ["applied", "refund"], "{rows:?}");
        let loser = rows.iter().find(|p| p.disposition == Disposition::Refund).expect("loser");
        assert_eq!(loser.refund_state, Some(payments::RefundState::Pending));
    }
}

async fn key_rotation_keeps_orders_in_flight_verifiable(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let (token_a, a) = approved(&app, &admin, 1).await;
    let (token_b, b) = approved(&app, &admin, 2).await;
    let order_a = pay_wechat(&app, &token_a, &a).await;
    let order_b = pay_wechat(&app, &token_b, &b).await;
    app.pay_sim.pay(order_a["out_trade_no"].as_str().expect("no")).expect("paid");
    until_state(&app, &a, State::Paid).await;
    let rotated = app.pay_sim.rotate_key(None).expect("rotated");
    assert_eq!(rotated, dev_keys::PLATFORM_PUB_KEY_ID_2);
    // Responses (the order query) and notifications now come signed with the new key.
    app.pay_sim.pay(order_b["out_trade_no"].as_str().expect("no")).expect("paid");
    until_state(&app, &b, State::Paid).await;
    // A query of an unpaid order: its answer is signed with the new key.
    let (token_c, c) = approved(&app, &admin, 3).await;
    let order_c = pay_wechat(&app, &token_c, &c).await;
    let (status, view) =
        app.post(&format!("/api/v1/registrations/{c}/pay/check"), &token_c, json!({})).await;
    assert_eq!((status, view["state"].as_str()), (StatusCode::OK, Some("awaiting_payment")));
    // A notification still signed with the old key verifies too.
    let (headers, body) = genuine(
        &app,
        order_c["out_trade_no"].as_str().expect("no"),
        order_c["amount_fen"].as_i64().expect("fee"),
    );
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    assert_eq!(state_of(&app, &c), State::Paid);
}

/// A REFUND.* notification for a refund, signed with the simulator's first platform key.
fn refund_notification(
    out_trade_no: &str,
    out_refund_no: &str,
    status: &str,
    fen: i64,
) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let refund = json!({
        "mchid": baoming_api::runtime::dev_material::DEV_MCHID,
        "out_trade_no": out_trade_no,
        "transaction_id": "4200000000202611280000000001",
        "out_refund_no": out_refund_no,
        "refund_id": "50000000002026112800000000001",
        "refund_status": status,
        "success_time": "2026-11-28T10:05:00+08:00",
        "user_received_account": "支付用户零钱",
        "amount": {"total": fen, "refund": fen, "payer_total": fen, "payer_refund": fen}
    });
    let key = ApiV3Key::parse(dev_keys::APIV3_KEY).expect("apiv3 key");
    let resource =
        encrypt_resource(&key, "r3fundn0nce0", "refund", refund.to_string().as_bytes(), "refund")
            .expect("encrypted");
    let body = json!({
        "id": format!("EV-{out_refund_no}-{status}"),
        "create_time": "2026-11-28T10:05:01+08:00",
        "resource_type": "encrypt-resource",
        "event_type": format!("REFUND.{status}"),
        "summary": "退款结果",
        "resource": resource,
    })
    .to_string()
    .into_bytes();
    let signer = RsaSigningKey::from_pem(dev_keys::PLATFORM_PRIVATE_KEY_1_PEM).expect("key");
    let headers = sign_response(
        &signer,
        dev_keys::PLATFORM_PUB_KEY_ID_1,
        chrono::Utc::now().timestamp(),
        "refund-nonce",
        &body,
    )
    .expect("signed");
    (headers.to_pairs(), body)
}

async fn refund_notifications_settle_refunds(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    // Money for a withdrawn registration: recorded, and a refund is pending.
    let (token, id) = approved(&app, &admin, 1).await;
    let order = pay_wechat(&app, &token, &id).await;
    let no = order["out_trade_no"].as_str().expect("no").to_owned();
    let fee = order["amount_fen"].as_i64().expect("fee");
    let (status, _) =
        app.post(&format!("/api/v1/registrations/{id}/withdraw"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (headers, body) = genuine(&app, &no, fee);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    let registration = RegistrationId::parse(&id).expect("id");
    let refund_no = {
        use baoming_store::schema::refunds as r;
        use diesel::prelude::*;
        r::table
            .filter(r::registration_id.eq(registration.to_string()))
            .select(r::out_refund_no)
            .first::<Option<String>>(&mut *app.conn())
            .expect("refund")
            .expect("a WeChat refund number")
    };
    // WeChat Pay reports it done: the ledger shows it; again changes nothing.
    for _ in 0..2 {
        let (headers, body) = refund_notification(&no, &refund_no, "SUCCESS", fee);
        assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    }
    let (_, rows) = app
        .admin(Method::GET, "/api/v1/admin/payments?disposition=refund", Some(&finance), None)
        .await;
    assert_eq!(rows[0]["refund_state"], "succeeded", "{rows}");
    assert_eq!(state_of(&app, &id), State::Withdrawn);
    // A refund we did not make (the merchant platform's): acknowledged, nothing changed, kept
    // for finance; so is a notice of our refund with another amount or order.
    let (headers, body) =
        refund_notification(&no, "ffffffffffffffffffffffffffffffff", "SUCCESS", fee);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    let (headers, body) = refund_notification(&no, &refund_no, "ABNORMAL", fee - 1);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    let (headers, body) =
        refund_notification("0123456789abcdef0123456789abcdef", &refund_no, "CLOSED", fee);
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    let (_, kept) =
        app.admin(Method::GET, "/api/v1/admin/unmatched-notifications", Some(&finance), None).await;
    let mut reasons: Vec<&str> =
        kept.as_array().expect("rows").iter().filter_map(|r| r["reason"].as_str()).collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["refund_mismatch", "refund_mismatch", "unknown_refund"], "{kept}");
    // A notification forged with the wrong key: 401.
    let (mut headers, body) = refund_notification(&no, &refund_no, "ABNORMAL", fee);
    for (name, value) in &mut headers {
        if *name == "Wechatpay-Serial" {
            *value = "PUB_KEY_ID_0000000000000000000000000000000099".into();
        }
    }
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::UNAUTHORIZED);
    let (_, rows) = app
        .admin(Method::GET, "/api/v1/admin/payments?disposition=refund", Some(&finance), None)
        .await;
    assert_eq!(rows[0]["refund_state"], "succeeded");
}

async fn finance_returns_a_transfer_by_hand(app: TestApp) {
    let admin = app.staff("admin1", "admin").await;
    let finance = app.staff("finance1", "finance").await;
    let reviewer = app.staff("reviewer1", "reviewer").await;
    // The employer's transfer arrives after the participant withdrew.
    let (token, id) = approved(&app, &admin, 1).await;
    let (_, view) = app.get(&format!("/api/v1/registrations/{id}"), &token).await;
    let fee = view["fee_yuan"].as_str().expect("fee").to_owned();
    let (status, _) =
        app.post(&format!("/api/v1/registrations/{id}/withdraw"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let confirm = json!({"registration_ids": [id], "amount_yuan": fee});
    let (status, body) = app
        .admin(Method::POST, "/api/v1/admin/transfers/confirm", Some(&finance), Some(confirm))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["results"][0]["outcome"], "refund");
    let (_, rows) = app
        .admin(Method::GET, "/api/v1/admin/payments?disposition=refund", Some(&finance), None)
        .await;
    assert_eq!(rows[0]["refund_state"], "pending", "{rows}");
    let refund = rows[0]["refund_id"].as_str().expect("refund id").to_owned();
    let returned = format!("/api/v1/admin/refunds/{refund}/returned");
    let (status, _) = app.admin(Method::POST, &returned, Some(&reviewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = app.admin(Method::POST, &returned, Some(&finance), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["state"], "succeeded");
    let (status, body) = app.admin(Method::POST, &returned, Some(&finance), None).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("already_returned")));
    assert_eq!(state_of(&app, &id), State::Withdrawn);

    // A WeChat refund is the worker's to carry out.
    let (token, id) = approved(&app, &admin, 2).await;
    let order = pay_wechat(&app, &token, &id).await;
    let (status, _) =
        app.post(&format!("/api/v1/registrations/{id}/withdraw"), &token, json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (headers, body) = genuine(
        &app,
        order["out_trade_no"].as_str().expect("no"),
        order["amount_fen"].as_i64().expect("fee"),
    );
    assert_eq!(post_notification(&app, &headers, body).await, StatusCode::NO_CONTENT);
    let wechat_refund = ledger(&app, &id)[0].refund_id.expect("refund");
    let (status, body) = app
        .admin(
            Method::POST,
            &format!("/api/v1/admin/refunds/{wechat_refund}/returned"),
            Some(&finance),
            None,
        )
        .await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::CONFLICT, Some("not_by_hand")));
    let (_, audit) = app.admin(Method::GET, "/api/v1/admin/audit", Some(&admin), None).await;
    assert!(audit.to_string().contains("refund_returned"), "{audit}");
}
