//! The simulator over real HTTP, driven with reqwest and a minimal request signer written
//! here (not the project's client), with a tiny actix-web receiver for notifications.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use baoming_wechatpay_sim::{
    ApiFailure, Faults, NotificationFate, SimConfig, Simulator, dev_keys, start,
    start_in_background,
};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::{PrivateKey, PublicKey};
use serde_json::{Value, json};
use sha1::{Digest as _, Sha1};

const MCHID: &str = "1900000109";
const APPID: &str = "wx1234567890abcdef";
const OPENID: &str = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o";
/// Retry delays are WeChat's × 0.001: 15 s → 15 ms.
const TIME_SCALE: f64 = 0.001;

fn config() -> SimConfig {
    SimConfig {
        time_scale: TIME_SCALE,
        refund_settle_delay: Duration::from_millis(30),
        ..SimConfig::dev(MCHID, APPID)
    }
}

async fn sim() -> Simulator {
    start(config(), SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("simulator starts")
}

// ----- a minimal merchant-side signer and verifier -----

fn merchant_key() -> &'static SigningKey<Sha256> {
    static KEY: OnceLock<SigningKey<Sha256>> = OnceLock::new();
    KEY.get_or_init(|| {
        let key = PrivateKey::from_pkcs8_pem(dev_keys::MERCHANT_PRIVATE_KEY_PEM).expect("dev key");
        SigningKey::new(key)
    })
}

fn platform_key(pem: &str) -> VerifyingKey<Sha256> {
    VerifyingKey::new(PublicKey::from_public_key_pem(pem).expect("platform public key"))
}

fn platform_key_for(serial: &str) -> VerifyingKey<Sha256> {
    match serial {
        dev_keys::PLATFORM_PUB_KEY_ID_1 => platform_key(dev_keys::PLATFORM_PUBLIC_KEY_1_PEM),
        dev_keys::PLATFORM_PUB_KEY_ID_2 => platform_key(dev_keys::PLATFORM_PUBLIC_KEY_2_PEM),
        other => panic!("unknown platform serial {other}"),
    }
}

fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("N{:031}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn authorization_at(method: &str, url: &str, body: &str, timestamp: i64, serial: &str) -> String {
    let nonce = nonce();
    let message = format!("{method}\n{url}\n{timestamp}\n{nonce}\n{body}\n");
    let signature = BASE64.encode(merchant_key().sign(message.as_bytes()).to_bytes());
    format!(
        r#"WECHATPAY2-SHA256-RSA2048 mchid="{MCHID}",nonce_str="{nonce}",timestamp="{timestamp}",serial_no="{serial}",signature="{signature}""#
    )
}

fn authorization(method: &str, url: &str, body: &str) -> String {
    authorization_at(method, url, body, now(), dev_keys::MERCHANT_SERIAL_NO)
}

/// A response as received: status, headers (lower-case names) and raw body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn code(&self) -> String {
        self.json()["code"].as_str().unwrap_or_default().to_owned()
    }

    /// Checks the WeChat Pay signature with the given platform key.
    fn verifies_with(&self, key: &VerifyingKey<Sha256>) -> bool {
        let mut message =
            format!("{}\n{}\n", self.header("wechatpay-timestamp"), self.header("wechatpay-nonce"))
                .into_bytes();
        message.extend_from_slice(&self.body);
        message.push(b'\n');
        let Ok(bytes) = BASE64.decode(self.header("wechatpay-signature")) else {
            return false;
        };
        let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
            return false;
        };
        key.verify(&message, &signature).is_ok()
    }

    /// Signed by the key its `Wechatpay-Serial` names.
    fn assert_signed(&self) {
        let serial = self.header("wechatpay-serial");
        assert!(self.verifies_with(&platform_key_for(serial)), "bad signature: {self:?}");
        assert!(!self.header("request-id").is_empty());
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().expect("client")
}

async fn read_answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("").to_owned()))
        .collect();
    let body = response.bytes().await.expect("body").to_vec();
    Answer { status, headers, body }
}

async fn get(sim: &Simulator, url: &str) -> Answer {
    let response = client()
        .get(format!("{}{url}", sim.base_url()))
        .header("Accept", "application/json")
        .header("Authorization", authorization("GET", url, ""))
        .send()
        .await
        .expect("request");
    read_answer(response).await
}

async fn post(sim: &Simulator, url: &str, body: &Value) -> Answer {
    let body = body.to_string();
    let response = client()
        .post(format!("{}{url}", sim.base_url()))
        .header("Accept", "application/json")
        .header("Content-Type", "application/json")
        .header("Authorization", authorization("POST", url, &body))
        .body(body)
        .send()
        .await
        .expect("request");
    read_answer(response).await
}

async fn control(sim: &Simulator, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", sim.base_url());
    let request = if method == "POST" { client().post(url) } else { client().get(url) };
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request.send().await.expect("control request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn order_body(out_trade_no: &str, notify_url: &str, total: i64) -> Value {
    json!({
        "appid": APPID,
        "mchid": MCHID,
        "description": "2025 春季考试报名费",
        "out_trade_no": out_trade_no,
        "notify_url": notify_url,
        "amount": { "total": total, "currency": "CNY" },
        "payer": { "openid": OPENID },
    })
}

async fn order(sim: &Simulator, out_trade_no: &str, notify_url: &str, total: i64) -> String {
    let answer =
        post(sim, "/v3/pay/transactions/jsapi", &order_body(out_trade_no, notify_url, total)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    answer.assert_signed();
    answer.json()["prepay_id"].as_str().expect("prepay_id").to_owned()
}

async fn query(sim: &Simulator, out_trade_no: &str) -> Value {
    let answer =
        get(sim, &format!("/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={MCHID}")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    answer.assert_signed();
    answer.json()
}

fn refund_body(
    out_trade_no: &str,
    out_refund_no: &str,
    refund: i64,
    total: i64,
    notify_url: &str,
) -> Value {
    json!({
        "out_trade_no": out_trade_no,
        "out_refund_no": out_refund_no,
        "reason": "考试取消",
        "notify_url": notify_url,
        "amount": { "refund": refund, "total": total, "currency": "CNY" },
    })
}

// ----- a notification receiver -----

#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    at: Instant,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("notification JSON")
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    fn verifies_with(&self, key: &VerifyingKey<Sha256>) -> bool {
        Answer { status: 200, headers: self.headers.clone(), body: self.body.clone() }
            .verifies_with(key)
    }

    /// Decrypts `resource` with the APIv3 key (checking the algorithm first).
    fn resource(&self) -> Value {
        let body = self.json();
        let resource = &body["resource"];
        assert_eq!(resource["algorithm"], "AEAD_AES_256_GCM");
        let key: [u8; 32] = dev_keys::APIV3_KEY.as_bytes().try_into().expect("32 bytes");
        let nonce_text = resource["nonce"].as_str().expect("nonce");
        assert_eq!(nonce_text.len(), 12);
        let nonce = Nonce::try_from(nonce_text.as_bytes()).expect("12-byte nonce");
        let ciphertext =
            BASE64.decode(resource["ciphertext"].as_str().expect("ciphertext")).expect("base64");
        let aad = resource["associated_data"].as_str().unwrap_or_default();
        let plain = Aes256Gcm::new(&key.into())
            .decrypt(&nonce, Payload { msg: &ciphertext, aad: aad.as_bytes() })
            .expect("decrypts");
        serde_json::from_slice(&plain).expect("resource JSON")
    }
}

#[derive(Debug, Default)]
struct ReceiverState {
    /// Statuses to answer, in order; 204 once exhausted.
    script: VecDeque<u16>,
    received: Vec<Received>,
}

#[derive(Debug)]
struct Receiver {
    url: String,
    state: Arc<Mutex<ReceiverState>>,
    handle: ServerHandle,
}

impl Receiver {
    async fn start(script: &[u16]) -> Self {
        let state = Arc::new(Mutex::new(ReceiverState {
            script: script.iter().copied().collect(),
            received: Vec::new(),
        }));
        let data = web::Data::from(Arc::clone(&state));
        let server = HttpServer::new(move || {
            App::new().app_data(data.clone()).route("/notify", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .bind(("127.0.0.1", 0))
        .expect("receiver binds");
        let addr = server.addrs()[0];
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Self { url: format!("http://{addr}/notify"), state, handle }
    }

    fn received(&self) -> Vec<Received> {
        self.state.lock().expect("receiver state").received.clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<Received> {
        wait_until(|| self.received().len() >= count).await;
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn receive(
    state: web::Data<Mutex<ReceiverState>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or("").to_owned()))
        .collect();
    let mut state = state.lock().expect("receiver state");
    state.received.push(Received { headers, body: body.to_vec(), at: Instant::now() });
    let status = state.script.pop_front().unwrap_or(204);
    if status == 204 {
        HttpResponse::NoContent().finish()
    } else {
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
            .json(json!({ "code": "FAIL", "message": "scripted failure" }))
    }
}

async fn wait_until(mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

// ----- tests -----

#[tokio::test]
async fn bad_authorization_is_401_sign_error() {
    let sim = sim().await;
    let url = format!("/v3/pay/transactions/out-trade-no/nosuch1?mchid={MCHID}");
    let send = |auth: Option<String>| {
        let request = client().get(format!("{}{url}", sim.base_url()));
        let request = match auth {
            Some(auth) => request.header("Authorization", auth),
            None => request,
        };
        async move { read_answer(request.send().await.expect("request")).await }
    };
    let cases = [
        None,
        Some("Bearer abc".to_owned()),
        // Signed over another URL.
        Some(authorization("GET", "/v3/pay/transactions/out-trade-no/other1?mchid=1900000109", "")),
        // Signed over the right URL but another method.
        Some(authorization("POST", &url, "")),
        // Stale timestamp.
        Some(authorization_at("GET", &url, "", now() - 301, dev_keys::MERCHANT_SERIAL_NO)),
        // Wrong certificate serial.
        Some(authorization_at("GET", &url, "", now(), "0000000000000000000000000000000000000000")),
        // Garbage signature.
        Some(
            authorization("GET", &url, "")
                .rsplit_once("signature=")
                .map(|(head, _)| format!("{head}signature=\"AAAA\""))
                .unwrap_or_default(),
        ),
    ];
    for auth in cases {
        let answer = send(auth.clone()).await;
        assert_eq!(answer.status, 401, "{auth:?}: {:?}", answer.json());
        assert_eq!(answer.code(), "SIGN_ERROR");
        answer.assert_signed();
    }
    // A tampered body: signed over one body, sent with another.
    let body = order_body("tamper01", "http://127.0.0.1:1/notify", 100).to_string();
    let response = client()
        .post(format!("{}/v3/pay/transactions/jsapi", sim.base_url()))
        .header("Content-Type", "application/json")
        .header("Authorization", authorization("POST", "/v3/pay/transactions/jsapi", &body))
        .body(body.replace("100", "1"))
        .send()
        .await
        .expect("request");
    let answer = read_answer(response).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.code(), "SIGN_ERROR");
    // The right signature gets through (to a 404 for an unknown order).
    let answer = get(&sim, &url).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.code(), "ORDER_NOT_EXIST");
    answer.assert_signed();
}

#[tokio::test]
async fn order_pay_and_notification_verify_and_decrypt() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    let prepay_id = order(&sim, "order0001", &receiver.url, 12000).await;
    assert!(prepay_id.starts_with("wx"), "{prepay_id}");
    assert_eq!(prepay_id.len(), 36);

    let before = query(&sim, "order0001").await;
    assert_eq!(before["trade_state"], "NOTPAY");
    assert_eq!(before["amount"]["total"], 12000);
    assert!(before.get("transaction_id").is_none());
    assert!(before.get("payer").is_none());

    let (status, paid) = control(&sim, "POST", "/_sim/pay/orders/order0001/pay", None).await;
    assert_eq!(status, 200, "{paid}");
    assert_eq!(paid["trade_state"], "SUCCESS");

    let received = receiver.wait_for(1).await;
    let notification = &received[0];
    assert_eq!(notification.header("wechatpay-serial"), dev_keys::PLATFORM_PUB_KEY_ID_1);
    assert_eq!(notification.header("wechatpay-signature-type"), "WECHATPAY2-SHA256-RSA2048");
    assert!(notification.header("content-type").starts_with("application/json"));
    assert_eq!(notification.header("wechatpay-nonce").len(), 32);
    assert!(notification.verifies_with(&platform_key(dev_keys::PLATFORM_PUBLIC_KEY_1_PEM)));
    assert!(!notification.verifies_with(&platform_key(dev_keys::PLATFORM_PUBLIC_KEY_2_PEM)));
    let body = notification.json();
    assert_eq!(body["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(body["resource_type"], "encrypt-resource");
    assert_eq!(body["resource"]["original_type"], "transaction");
    assert_eq!(body["resource"]["associated_data"], "transaction");
    assert!(body["create_time"].as_str().unwrap_or_default().ends_with("+08:00"));
    let transaction = notification.resource();
    assert_eq!(transaction["out_trade_no"], "order0001");
    assert_eq!(transaction["trade_state"], "SUCCESS");
    assert_eq!(transaction["trade_type"], "JSAPI");
    assert_eq!(transaction["mchid"], MCHID);
    assert_eq!(transaction["appid"], APPID);
    assert_eq!(transaction["payer"]["openid"], OPENID);
    assert_eq!(transaction["amount"]["total"], 12000);
    assert_eq!(transaction["amount"]["payer_total"], 12000);
    let transaction_id = transaction["transaction_id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(transaction_id.len(), 28);

    let after = query(&sim, "order0001").await;
    assert_eq!(after["trade_state"], "SUCCESS");
    assert_eq!(after["transaction_id"], transaction_id.as_str());
    assert_eq!(after["success_time"], transaction["success_time"]);
    let by_id = get(&sim, &format!("/v3/pay/transactions/id/{transaction_id}?mchid={MCHID}")).await;
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.json()["out_trade_no"], "order0001");

    // Paying twice is refused; the order stays paid; exactly one notification.
    let (status, again) = control(&sim, "POST", "/_sim/pay/orders/order0001/pay", None).await;
    assert_eq!(status, 400);
    assert_eq!(again["code"], "ORDERPAID");
    wait_until(|| sim.notifications()[0].fate == NotificationFate::Delivered).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(receiver.received().len(), 1);
}

#[tokio::test]
async fn failed_deliveries_are_retried_on_the_scaled_schedule() {
    let sim = sim().await;
    let receiver = Receiver::start(&[500, 500]).await;
    order(&sim, "retry0001", &receiver.url, 100).await;
    sim.pay("retry0001").expect("paid");

    let received = receiver.wait_for(3).await;
    // Nothing more comes once it is accepted.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(receiver.received().len(), 3);
    let ids: Vec<Value> = received.iter().map(|r| r.json()["id"].clone()).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "one notification id: {ids:?}");
    // Same body, signed anew each time.
    assert!(received.iter().all(|r| r.body == received[0].body));
    assert_ne!(received[0].header("wechatpay-nonce"), received[1].header("wechatpay-nonce"));
    let key = platform_key(dev_keys::PLATFORM_PUBLIC_KEY_1_PEM);
    assert!(received.iter().all(|r| r.verifies_with(&key)));
    // 15 s and 15 s, × 0.001.
    for pair in received.windows(2) {
        let gap = pair[1].at.duration_since(pair[0].at);
        assert!(gap >= Duration::from_millis(14), "gap {gap:?}");
    }
    let deliveries = sim.deliveries();
    let statuses: Vec<(u32, Option<u16>)> =
        deliveries.iter().map(|d| (d.attempt, d.status)).collect();
    assert_eq!(statuses, vec![(1, Some(500)), (2, Some(500)), (3, Some(204))]);

    // Over HTTP too.
    let (status, listed) = control(&sim, "GET", "/_sim/pay/deliveries", None).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().map(Vec::len), Some(3));
    assert_eq!(listed[2]["status"], 204);
    assert_eq!(listed[0]["event_type"], "TRANSACTION.SUCCESS");
    assert_eq!(listed[0]["out_trade_no"], "retry0001");
}

#[tokio::test]
async fn an_unreachable_receiver_is_retried_then_given_up() {
    // 0.00001: the whole 24-hour schedule takes under a second.
    let config = SimConfig { time_scale: 0.000_01, ..config() };
    let sim = start(config, SocketAddr::from(([127, 0, 0, 1], 0))).await.expect("starts");
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    order(&sim, "gone00001", &format!("http://127.0.0.1:{port}/notify"), 100).await;
    sim.pay("gone00001").expect("paid");
    wait_until(|| sim.notifications()[0].fate == NotificationFate::GaveUp).await;
    let deliveries = sim.deliveries();
    assert_eq!(deliveries.len(), 16, "1 attempt + 15 retries");
    assert!(deliveries.iter().all(|d| d.status.is_none() && d.error.is_some()));
}

#[tokio::test]
async fn drop_fault_loses_the_notification_but_the_order_is_paid() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    let (status, faults) =
        control(&sim, "POST", "/_sim/pay/faults", Some(json!({ "drop_notifications": 1 }))).await;
    assert_eq!(status, 200, "{faults}");
    assert_eq!(faults["drop_notifications"], 1);
    order(&sim, "drop00001", &receiver.url, 100).await;
    sim.pay("drop00001").expect("paid");
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(receiver.received().is_empty());
    assert!(sim.deliveries().is_empty());
    assert_eq!(sim.notifications()[0].fate, NotificationFate::Dropped);
    assert_eq!(query(&sim, "drop00001").await["trade_state"], "SUCCESS");
    // Only the next one was dropped.
    order(&sim, "drop00002", &receiver.url, 100).await;
    sim.pay("drop00002").expect("paid");
    receiver.wait_for(1).await;
}

#[tokio::test]
async fn duplicate_fault_delivers_twice() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    sim.set_faults(Faults { duplicate_notifications: Some(true), ..Faults::default() })
        .expect("set");
    order(&sim, "dup000001", &receiver.url, 100).await;
    sim.pay("dup000001").expect("paid");
    let received = receiver.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(received[0].json()["id"], received[1].json()["id"]);
    wait_until(|| sim.deliveries().len() == 2).await;
    let copies: Vec<u32> = sim.deliveries().iter().map(|d| d.copy).collect();
    assert_eq!(copies, vec![1, 2]);
}

#[tokio::test]
async fn held_notifications_are_released_newest_first() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    sim.set_faults(Faults { hold_notifications: Some(true), ..Faults::default() }).expect("hold");
    order(&sim, "held00001", &receiver.url, 100).await;
    order(&sim, "held00002", &receiver.url, 100).await;
    sim.pay("held00001").expect("paid");
    sim.pay("held00002").expect("paid");
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(receiver.received().is_empty());
    assert_eq!(sim.faults().held_notifications, 2);
    let (status, _) =
        control(&sim, "POST", "/_sim/pay/faults", Some(json!({ "hold_notifications": false })))
            .await;
    assert_eq!(status, 200);
    let received = receiver.wait_for(2).await;
    let order_of =
        |r: &Received| r.resource()["out_trade_no"].as_str().unwrap_or_default().to_owned();
    assert_eq!(order_of(&received[0]), "held00002");
    assert_eq!(order_of(&received[1]), "held00001");
}

#[tokio::test]
async fn signature_probes_precede_notifications() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    sim.set_faults(Faults { sign_test_probes: Some(1), ..Faults::default() }).expect("set");
    order(&sim, "probe0001", &receiver.url, 100).await;
    sim.pay("probe0001").expect("paid");
    let received = receiver.wait_for(2).await;
    assert!(received[0].header("wechatpay-signature").starts_with("WECHATPAY/SIGNTEST/"));
    let key = platform_key(dev_keys::PLATFORM_PUBLIC_KEY_1_PEM);
    assert!(!received[0].verifies_with(&key));
    assert!(received[1].verifies_with(&key));
    wait_until(|| sim.deliveries().len() == 2).await;
    let probes: Vec<bool> = sim.deliveries().iter().map(|d| d.probe).collect();
    assert_eq!(probes, vec![true, false]);
}

#[tokio::test]
async fn orders_are_idempotent_and_validated() {
    let sim = sim().await;
    let url = "http://127.0.0.1:9/notify";
    let first = order(&sim, "same00001", url, 500).await;
    let again = order(&sim, "same00001", url, 500).await;
    assert_eq!(first, again);
    let other = post(&sim, "/v3/pay/transactions/jsapi", &order_body("same00001", url, 501)).await;
    assert_eq!(other.status, 403);
    assert_eq!(other.code(), "OUT_TRADE_NO_USED");
    other.assert_signed();

    let mut bad_cases = vec![
        order_body("short", url, 100),
        order_body("has space 1", url, 100),
        order_body("valid0001", url, 0),
        order_body("valid0001", "http://example.com/notify", 100),
        order_body("valid0001", "https://example.com/notify?x=1", 100),
    ];
    let mut long = order_body("valid0001", url, 100);
    long["description"] = json!("长".repeat(128));
    bad_cases.push(long);
    let mut usd = order_body("valid0001", url, 100);
    usd["amount"]["currency"] = json!("USD");
    bad_cases.push(usd);
    let mut no_payer = order_body("valid0001", url, 100);
    no_payer["payer"] = json!({});
    bad_cases.push(no_payer);
    let mut bad_expiry = order_body("valid0001", url, 100);
    bad_expiry["time_expire"] = json!("tomorrow");
    bad_cases.push(bad_expiry);
    let mut float_total = order_body("valid0001", url, 100);
    float_total["amount"]["total"] = json!(1.5);
    bad_cases.push(float_total);
    bad_cases.push(json!([1, 2, 3]));
    for body in bad_cases {
        let answer = post(&sim, "/v3/pay/transactions/jsapi", &body).await;
        assert_eq!(answer.status, 400, "{body}: {:?}", answer.json());
        assert_eq!(answer.code(), "PARAM_ERROR", "{body}");
    }
    let mut other_app = order_body("valid0001", url, 100);
    other_app["appid"] = json!("wx0000000000000000");
    let answer = post(&sim, "/v3/pay/transactions/jsapi", &other_app).await;
    assert_eq!((answer.status, answer.code().as_str()), (400, "APPID_MCHID_NOT_MATCH"));
    let mut other_mch = order_body("valid0001", url, 100);
    other_mch["mchid"] = json!("1900000000");
    let answer = post(&sim, "/v3/pay/transactions/jsapi", &other_mch).await;
    assert_eq!((answer.status, answer.code().as_str()), (400, "MCH_NOT_EXISTS"));
    // The loopback http exception and https both pass.
    order(&sim, "valid0001", "https://pay.example.com/notify", 100).await;
    order(&sim, "valid0002", "http://localhost:8080/pay/notify", 100).await;
    // A POST without a JSON content type.
    let body = order_body("valid0003", url, 100).to_string();
    let response = client()
        .post(format!("{}/v3/pay/transactions/jsapi", sim.base_url()))
        .header("Content-Type", "text/plain")
        .header("Authorization", authorization("POST", "/v3/pay/transactions/jsapi", &body))
        .body(body)
        .send()
        .await
        .expect("request");
    assert_eq!(read_answer(response).await.code(), "INVALID_REQUEST");
}

#[tokio::test]
async fn close_then_pay_is_order_closed() {
    let sim = sim().await;
    let url = "http://127.0.0.1:9/notify";
    order(&sim, "close0001", url, 100).await;
    let closed =
        post(&sim, "/v3/pay/transactions/out-trade-no/close0001/close", &json!({ "mchid": MCHID }))
            .await;
    assert_eq!(closed.status, 204);
    assert!(closed.body.is_empty());
    closed.assert_signed();
    assert_eq!(query(&sim, "close0001").await["trade_state"], "CLOSED");
    let (status, error) = control(&sim, "POST", "/_sim/pay/orders/close0001/pay", None).await;
    assert_eq!(status, 400);
    assert_eq!(error["code"], "ORDER_CLOSED");
    // Ordering the closed number again.
    let again = post(&sim, "/v3/pay/transactions/jsapi", &order_body("close0001", url, 100)).await;
    assert_eq!((again.status, again.code().as_str()), (400, "ORDER_CLOSED"));
    // Closing again is fine; closing a paid order is not.
    let twice =
        post(&sim, "/v3/pay/transactions/out-trade-no/close0001/close", &json!({ "mchid": MCHID }))
            .await;
    assert_eq!(twice.status, 204);
    order(&sim, "close0002", url, 100).await;
    sim.pay("close0002").expect("paid");
    let paid =
        post(&sim, "/v3/pay/transactions/out-trade-no/close0002/close", &json!({ "mchid": MCHID }))
            .await;
    assert_eq!((paid.status, paid.code().as_str()), (400, "ORDERPAID"));
    let unknown =
        post(&sim, "/v3/pay/transactions/out-trade-no/nosuch001/close", &json!({ "mchid": MCHID }))
            .await;
    assert_eq!((unknown.status, unknown.code().as_str()), (404, "ORDER_NOT_EXIST"));
}

#[tokio::test]
async fn expired_orders_read_closed() {
    let sim = sim().await;
    let url = "http://127.0.0.1:9/notify";
    let mut body = order_body("expire001", url, 100);
    body["time_expire"] = json!("2020-01-01T00:00:00+08:00");
    let answer = post(&sim, "/v3/pay/transactions/jsapi", &body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(query(&sim, "expire001").await["trade_state"], "CLOSED");
    assert_eq!(sim.pay("expire001").map_err(|e| e.code), Err("ORDER_CLOSED".to_owned()));

    order(&sim, "expire002", url, 100).await;
    let (status, _) =
        control(&sim, "POST", "/_sim/pay/faults", Some(json!({ "expire_order": "expire002" })))
            .await;
    assert_eq!(status, 200);
    assert_eq!(query(&sim, "expire002").await["trade_state"], "CLOSED");
    let (status, error) =
        control(&sim, "POST", "/_sim/pay/faults", Some(json!({ "expire_order": "nosuch001" })))
            .await;
    assert_eq!((status, error["code"].as_str()), (404, Some("ORDER_NOT_EXIST")));
}

#[tokio::test]
async fn a_refund_is_made_once_per_out_refund_no() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    order(&sim, "refund001", &receiver.url, 10000).await;
    sim.pay("refund001").expect("paid");
    receiver.wait_for(1).await;

    let body = refund_body("refund001", "R-refund001-1", 4000, 10000, &receiver.url);
    let first = post(&sim, "/v3/refund/domestic/refunds", &body).await;
    assert_eq!(first.status, 200, "{:?}", first.json());
    first.assert_signed();
    let refund = first.json();
    assert_eq!(refund["status"], "PROCESSING");
    assert_eq!(refund["amount"]["refund"], 4000);
    let second = post(&sim, "/v3/refund/domestic/refunds", &body).await;
    assert_eq!(second.status, 200);
    assert_eq!(second.json()["refund_id"], refund["refund_id"]);

    let (status, counts) = control(&sim, "GET", "/_sim/pay/refund-requests", None).await;
    assert_eq!(status, 200);
    assert_eq!(counts, json!({ "R-refund001-1": 2 }));
    assert_eq!(query(&sim, "refund001").await["trade_state"], "REFUND");

    let received = receiver.wait_for(2).await;
    let notification = &received[1];
    assert_eq!(notification.json()["event_type"], "REFUND.SUCCESS");
    assert_eq!(notification.json()["resource"]["associated_data"], "refund");
    assert!(notification.verifies_with(&platform_key(dev_keys::PLATFORM_PUBLIC_KEY_1_PEM)));
    let resource = notification.resource();
    assert_eq!(resource["out_refund_no"], "R-refund001-1");
    assert_eq!(resource["refund_status"], "SUCCESS");
    assert_eq!(resource["amount"]["refund"], 4000);
    assert_eq!(resource["refund_id"], refund["refund_id"]);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.received().len(), 2, "one refund, one notification");

    let queried = get(&sim, "/v3/refund/domestic/refunds/R-refund001-1").await;
    assert_eq!(queried.status, 200);
    queried.assert_signed();
    assert_eq!(queried.json()["status"], "SUCCESS");
    assert!(queried.json()["success_time"].is_string());

    // The same number with other parameters; more than is left; a wrong total.
    let changed = refund_body("refund001", "R-refund001-1", 3000, 10000, &receiver.url);
    let answer = post(&sim, "/v3/refund/domestic/refunds", &changed).await;
    assert_eq!((answer.status, answer.code().as_str()), (400, "INVALID_REQUEST"));
    let too_much = refund_body("refund001", "R-refund001-2", 6001, 10000, &receiver.url);
    let answer = post(&sim, "/v3/refund/domestic/refunds", &too_much).await;
    assert_eq!((answer.status, answer.code().as_str()), (400, "INVALID_REQUEST"));
    let wrong_total = refund_body("refund001", "R-refund001-3", 100, 9999, &receiver.url);
    let answer = post(&sim, "/v3/refund/domestic/refunds", &wrong_total).await;
    assert_eq!((answer.status, answer.code().as_str()), (400, "INVALID_REQUEST"));
    let rest = refund_body("refund001", "R-refund001-4", 6000, 10000, &receiver.url);
    assert_eq!(post(&sim, "/v3/refund/domestic/refunds", &rest).await.status, 200);
    assert_eq!(sim.refund_requests()["R-refund001-1"], 3);
    let unknown = get(&sim, "/v3/refund/domestic/refunds/nosuch").await;
    assert_eq!((unknown.status, unknown.code().as_str()), (404, "RESOURCE_NOT_EXISTS"));
    // An unpaid order cannot be refunded.
    order(&sim, "refund002", &receiver.url, 100).await;
    let unpaid = post(
        &sim,
        "/v3/refund/domestic/refunds",
        &refund_body("refund002", "R2", 100, 100, &receiver.url),
    )
    .await;
    assert_eq!((unpaid.status, unpaid.code().as_str()), (400, "INVALID_REQUEST"));
}

#[tokio::test]
async fn abnormal_refund_fault() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    order(&sim, "abnorm001", &receiver.url, 100).await;
    sim.pay("abnorm001").expect("paid");
    sim.set_faults(Faults { abnormal_refunds: Some(1), ..Faults::default() }).expect("set");
    let answer = post(
        &sim,
        "/v3/refund/domestic/refunds",
        &refund_body("abnorm001", "RA1", 100, 100, &receiver.url),
    )
    .await;
    assert_eq!(answer.status, 200);
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].json()["event_type"], "REFUND.ABNORMAL");
    assert_eq!(received[1].resource()["refund_status"], "ABNORMAL");
    assert_eq!(get(&sim, "/v3/refund/domestic/refunds/RA1").await.json()["status"], "ABNORMAL");
}

#[tokio::test]
async fn closed_refund_fault_frees_the_amount_for_a_new_refund() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    order(&sim, "closed001", &receiver.url, 100).await;
    sim.pay("closed001").expect("paid");
    let status =
        sim.set_faults(Faults { closed_refunds: Some(1), ..Faults::default() }).expect("set");
    assert_eq!(status.closed_refunds, 1);
    let answer = post(
        &sim,
        "/v3/refund/domestic/refunds",
        &refund_body("closed001", "RC1", 100, 100, &receiver.url),
    )
    .await;
    assert_eq!(answer.status, 200);
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].json()["event_type"], "REFUND.CLOSED");
    assert_eq!(received[1].resource()["refund_status"], "CLOSED");
    assert_eq!(get(&sim, "/v3/refund/domestic/refunds/RC1").await.json()["status"], "CLOSED");
    // The money was not refunded: a new refund number may ask for it, and it succeeds.
    let again = post(
        &sim,
        "/v3/refund/domestic/refunds",
        &refund_body("closed001", "RC2", 100, 100, &receiver.url),
    )
    .await;
    assert_eq!(again.status, 200);
    let received = receiver.wait_for(3).await;
    assert_eq!(received[2].json()["event_type"], "REFUND.SUCCESS");
    assert_eq!(sim.refund_requests().get("RC1"), Some(&1));
    assert_eq!(sim.refund_requests().get("RC2"), Some(&1));
    // Whereas an abnormal refund keeps the amount taken.
    order(&sim, "abnorm002", &receiver.url, 100).await;
    sim.pay("abnorm002").expect("paid");
    sim.set_faults(Faults { abnormal_refunds: Some(1), ..Faults::default() }).expect("set");
    let first = post(
        &sim,
        "/v3/refund/domestic/refunds",
        &refund_body("abnorm002", "RA2", 100, 100, &receiver.url),
    )
    .await;
    assert_eq!(first.status, 200);
    let _ = receiver.wait_for(5).await;
    let second = post(
        &sim,
        "/v3/refund/domestic/refunds",
        &refund_body("abnorm002", "RA3", 100, 100, &receiver.url),
    )
    .await;
    assert_eq!((second.status, second.code().as_str()), (400, "INVALID_REQUEST"));
}

#[tokio::test]
async fn injected_errors_answer_once() {
    let sim = sim().await;
    let url = "http://127.0.0.1:9/notify";
    sim.set_faults(Faults {
        fail_next: Some(ApiFailure::system_error("/v3/pay/transactions/jsapi")),
        ..Faults::default()
    })
    .expect("set");
    let failed = post(&sim, "/v3/pay/transactions/jsapi", &order_body("fault0001", url, 100)).await;
    assert_eq!((failed.status, failed.code().as_str()), (500, "SYSTEM_ERROR"));
    failed.assert_signed();
    // Not processed: the order does not exist; the retry succeeds.
    assert!(sim.order("fault0001").is_err());
    order(&sim, "fault0001", url, 100).await;
    sim.pay("fault0001").expect("paid");

    // A lost answer: the refund is made, the merchant sees 500 and retries with the same number.
    let (status, _) = control(
        &sim,
        "POST",
        "/_sim/pay/faults",
        Some(json!({ "fail_next": { "path_prefix": "/v3/refund", "after_processing": true } })),
    )
    .await;
    assert_eq!(status, 200);
    let body = refund_body("fault0001", "RF1", 100, 100, url);
    let lost = post(&sim, "/v3/refund/domestic/refunds", &body).await;
    assert_eq!(lost.status, 500);
    let retried = post(&sim, "/v3/refund/domestic/refunds", &body).await;
    assert_eq!(retried.status, 200);
    assert_eq!(sim.refund_requests()["RF1"], 2);
    let view = sim.order("fault0001").expect("order");
    assert_eq!(view["refunds"].as_array().map(Vec::len), Some(1));
    assert_eq!(view["refunded"], 100);

    // Rate limiting, by code.
    sim.set_faults(Faults {
        fail_next: Some(ApiFailure {
            status: 429,
            code: "FREQUENCY_LIMITED".to_owned(),
            ..ApiFailure::system_error("/v3/")
        }),
        ..Faults::default()
    })
    .expect("set");
    let limited =
        get(&sim, &format!("/v3/pay/transactions/out-trade-no/fault0001?mchid={MCHID}")).await;
    assert_eq!((limited.status, limited.code().as_str()), (429, "FREQUENCY_LIMITED"));
    let (status, error) = control(
        &sim,
        "POST",
        "/_sim/pay/faults",
        Some(json!({ "fail_next": { "path_prefix": "/v3", "status": 200 } })),
    )
    .await;
    assert_eq!((status, error["code"].as_str()), (400, Some("PARAM_ERROR")));
    let (status, _) =
        control(&sim, "POST", "/_sim/pay/faults", Some(json!({ "no_such_switch": 1 }))).await;
    assert_eq!(status, 400);
}

fn beijing_today() -> String {
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("offset");
    chrono::Utc::now().with_timezone(&beijing).format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn the_trade_bill_matches_its_hash_and_lists_the_day() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    order(&sim, "bill00001", &receiver.url, 12345).await;
    order(&sim, "bill00002", &receiver.url, 100).await;
    order(&sim, "bill00003", &receiver.url, 100).await; // never paid: not in the bill
    sim.pay("bill00001").expect("paid");
    sim.pay("bill00002").expect("paid");
    let refund = refund_body("bill00001", "RB1", 2345, 12345, &receiver.url);
    assert_eq!(post(&sim, "/v3/refund/domestic/refunds", &refund).await.status, 200);
    wait_until(|| sim.notifications().len() == 3).await;
    let today = beijing_today();
    // Make sure the refund settled before asking.
    wait_until(|| {
        sim.order("bill00001").map(|o| o["refunds"][0]["status"] == "SUCCESS").unwrap_or(false)
    })
    .await;

    let answer = get(&sim, &format!("/v3/bill/tradebill?bill_date={today}&bill_type=ALL")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    answer.assert_signed();
    let bill = answer.json();
    assert_eq!(bill["hash_type"], "SHA1");
    let download_url = bill["download_url"].as_str().expect("download_url");
    let path = download_url.strip_prefix(&sim.base_url()).expect("points at the simulator");
    assert!(path.starts_with("/v3/billdownload/file?token="), "{path}");

    let file = get(&sim, path).await;
    assert_eq!(file.status, 200);
    assert!(file.header("wechatpay-signature").is_empty(), "bill files are not signed");
    assert_eq!(
        hex::encode(Sha1::digest(&file.body)),
        bill["hash_value"].as_str().unwrap_or_default()
    );
    let text = String::from_utf8(file.body.clone()).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号")
    );
    assert!(lines[0].ends_with("手续费,费率,订单金额,申请退款金额,费率备注"));
    let header: Vec<&str> = lines[0].split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).expect("column");
    let details: Vec<Vec<&str>> =
        lines[1..4].iter().map(|line| line.split(',').collect()).collect();
    assert!(
        details
            .iter()
            .all(|row| row.len() == header.len() && row.iter().all(|f| f.starts_with('`')))
    );
    let find = |no: &str, state: &str| {
        details
            .iter()
            .find(|row| {
                row[column("商户订单号")] == format!("`{no}")
                    && row[column("交易状态")] == format!("`{state}")
            })
            .unwrap_or_else(|| panic!("row {no} {state} in {text}"))
    };
    assert_eq!(find("bill00001", "SUCCESS")[column("应结订单金额")], "`123.45");
    assert_eq!(find("bill00002", "SUCCESS")[column("应结订单金额")], "`1.00");
    let refund_row = find("bill00001", "REFUND");
    assert_eq!(refund_row[column("商户退款单号")], "`RB1");
    assert_eq!(refund_row[column("退款金额")], "`23.45");
    assert_eq!(refund_row[column("退款状态")], "`SUCCESS");
    assert!(refund_row[column("交易时间")].starts_with(&format!("`{today} ")));
    assert!(!text.contains("bill00003"));
    assert_eq!(
        lines[4],
        "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
    );
    assert!(lines[5].starts_with("`3,`124.45,`23.45,`0.00,"), "{}", lines[5]);
    assert!(text.ends_with("\r\n"));

    // Only refunds; a day without transactions; a bad date; an unknown token.
    let refunds =
        get(&sim, &format!("/v3/bill/tradebill?bill_date={today}&bill_type=REFUND")).await;
    assert_eq!(refunds.status, 200);
    let empty = get(&sim, "/v3/bill/tradebill?bill_date=2020-01-01&bill_type=ALL").await;
    assert_eq!((empty.status, empty.code().as_str()), (400, "NO_STATEMENT_EXIST"));
    empty.assert_signed();
    let bad = get(&sim, "/v3/bill/tradebill?bill_date=2020-1-1").await;
    assert_eq!((bad.status, bad.code().as_str()), (400, "PARAM_ERROR"));
    let gone = get(&sim, "/v3/billdownload/file?token=nosuchtoken").await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn bill_date_override_moves_new_successes() {
    let sim = sim().await;
    let (status, _) =
        control(&sim, "POST", "/_sim/pay/bill-date", Some(json!({ "date": "2024-03-01" }))).await;
    assert_eq!(status, 200);
    order(&sim, "billdate1", "http://127.0.0.1:9/notify", 100).await;
    sim.pay("billdate1").expect("paid");
    let answer = get(&sim, "/v3/bill/tradebill?bill_date=2024-03-01").await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());
    let today = get(&sim, &format!("/v3/bill/tradebill?bill_date={}", beijing_today())).await;
    assert_eq!(today.code(), "NO_STATEMENT_EXIST");
}

#[tokio::test]
async fn key_rotation_signs_with_the_new_key_and_old_answers_still_verify() {
    let sim = sim().await;
    let receiver = Receiver::start(&[]).await;
    order(&sim, "rotate001", &receiver.url, 100).await;
    let old =
        get(&sim, &format!("/v3/pay/transactions/out-trade-no/rotate001?mchid={MCHID}")).await;
    assert_eq!(old.header("wechatpay-serial"), dev_keys::PLATFORM_PUB_KEY_ID_1);

    let (status, rotated) = control(&sim, "POST", "/_sim/pay/rotate-key", Some(json!({}))).await;
    assert_eq!(status, 200, "{rotated}");
    assert_eq!(rotated["current"], dev_keys::PLATFORM_PUB_KEY_ID_2);
    assert_eq!(
        rotated["keys"],
        json!([dev_keys::PLATFORM_PUB_KEY_ID_1, dev_keys::PLATFORM_PUB_KEY_ID_2])
    );

    let new =
        get(&sim, &format!("/v3/pay/transactions/out-trade-no/rotate001?mchid={MCHID}")).await;
    assert_eq!(new.header("wechatpay-serial"), dev_keys::PLATFORM_PUB_KEY_ID_2);
    assert!(new.verifies_with(&platform_key(dev_keys::PLATFORM_PUBLIC_KEY_2_PEM)));
    assert!(!new.verifies_with(&platform_key(dev_keys::PLATFORM_PUBLIC_KEY_1_PEM)));
    assert!(old.verifies_with(&platform_key(dev_keys::PLATFORM_PUBLIC_KEY_1_PEM)));

    sim.pay("rotate001").expect("paid");
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].header("wechatpay-serial"), dev_keys::PLATFORM_PUB_KEY_ID_2);
    assert!(received[0].verifies_with(&platform_key(dev_keys::PLATFORM_PUBLIC_KEY_2_PEM)));

    // Back to the first key by id; no third key to rotate to; unknown ids refused.
    assert_eq!(
        sim.rotate_key(Some(dev_keys::PLATFORM_PUB_KEY_ID_1)).as_deref(),
        Ok(dev_keys::PLATFORM_PUB_KEY_ID_1)
    );
    assert_eq!(sim.current_key_id(), dev_keys::PLATFORM_PUB_KEY_ID_1);
    assert_eq!(sim.rotate_key(None).as_deref(), Ok(dev_keys::PLATFORM_PUB_KEY_ID_2));
    assert!(sim.rotate_key(None).is_err());
    assert_eq!(sim.rotate_key(Some("PUB_KEY_ID_X")).map_err(|e| e.status), Err(404));
    let (status, keys) = control(&sim, "GET", "/_sim/pay/platform-keys", None).await;
    assert_eq!(status, 200);
    assert_eq!(keys.as_array().map(Vec::len), Some(2));
    assert_eq!(keys[1]["current"], true);
    assert_eq!(
        keys[1]["public_key_pem"].as_str().map(str::trim),
        Some(dev_keys::PLATFORM_PUBLIC_KEY_2_PEM.trim())
    );
}

#[tokio::test]
async fn control_views_answer_unknown_orders_with_404() {
    let sim = sim().await;
    let (status, error) = control(&sim, "GET", "/_sim/pay/orders/nosuch001", None).await;
    assert_eq!((status, error["code"].as_str()), (404, Some("ORDER_NOT_EXIST")));
    let (status, error) = control(&sim, "POST", "/_sim/pay/orders/nosuch001/pay", None).await;
    assert_eq!((status, error["code"].as_str()), (404, Some("ORDER_NOT_EXIST")));
    order(&sim, "view00001", "http://127.0.0.1:9/notify", 100).await;
    let (status, view) = control(&sim, "GET", "/_sim/pay/orders/view00001", None).await;
    assert_eq!(status, 200);
    assert_eq!(view["trade_state"], "NOTPAY");
    assert_eq!(view["transaction"]["trade_state"], "NOTPAY");
    let (status, faults) = control(&sim, "GET", "/_sim/pay/faults", None).await;
    assert_eq!(status, 200);
    assert_eq!(faults["drop_notifications"], 0);
    let unknown_api = get(&sim, "/v3/certificates").await;
    assert_eq!(unknown_api.status, 404);
}

#[test]
fn starts_in_the_background_for_synchronous_callers() {
    let sim = start_in_background(config()).expect("starts");
    assert!(sim.base_url().starts_with("http://127.0.0.1:"));
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        order(&sim, "bg0000001", "http://127.0.0.1:9/notify", 100).await;
        assert_eq!(query(&sim, "bg0000001").await["trade_state"], "NOTPAY");
    });
    sim.pay("bg0000001").expect("paid from a thread without a runtime");
    drop(sim);
}

#[test]
fn bad_configurations_are_errors() {
    let mut bad = config();
    bad.apiv3_key = "short".to_owned();
    assert!(start_in_background(bad).is_err());
    let mut bad = config();
    bad.platform_keys.clear();
    assert!(start_in_background(bad).is_err());
    let mut bad = config();
    bad.merchant_public_key_pem = "not a key".to_owned();
    assert!(start_in_background(bad).is_err());
    let mut bad = config();
    bad.time_scale = f64::NAN;
    assert!(start_in_background(bad).is_err());
}
