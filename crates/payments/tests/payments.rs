//! The client against a minimal in-test WeChat Pay stub (actix-web on loopback) that checks
//! every request's `Authorization` with this crate's own verification and answers signed
//! JSON.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use baoming_domain::money::Money;
use baoming_payments::{
    BillRow, ErrorCode, JsapiOrder, MerchantSigner, OutRefundNo, OutTradeNo, PayError,
    RefundRequest, RefundStatus, RsaSigningKey, TradeState, VerifierKeys, VerifyError,
    WechatPayClient, WechatPayConfig, render_trade_bill, sha1_hex, sign_response, verify_request,
};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{Value, json};

const MERCHANT_KEY: &str = include_str!("../testdata/merchant-test-key.pem");
const MERCHANT_PUB: &str = include_str!("../testdata/merchant-test-pub.pem");
const PLATFORM_KEY_1: &str = include_str!("../testdata/platform-test-key-1.pem");
const PLATFORM_PUB_1: &str = include_str!("../testdata/platform-test-pub-1.pem");
const PLATFORM_KEY_2: &str = include_str!("../testdata/platform-test-key-2.pem");
const PLATFORM_CERT_2: &str = include_str!("../testdata/platform-test-cert-2.pem");
const PUB_KEY_ID: &str = "PUB_KEY_ID_0000000000000024101100397200000006";
const CERT_SERIAL: &str = "D157F09EFDC096DE15EBE81A47057A7232F1B8E1";
const MCHID: &str = "1900000001";
const APPID: &str = "wx1234567890abcdef";
const MERCHANT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD00000001";

/// What the stub saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    path: String,
    body: String,
    content_type: Option<String>,
    accept: Option<String>,
    user_agent: Option<String>,
}

struct Stub {
    merchant_keys: VerifierKeys,
    key_1: RsaSigningKey,
    key_2: RsaSigningKey,
    seen: Mutex<Vec<Seen>>,
    bill: Vec<u8>,
}

type Shared = Arc<Stub>;

/// How the stub signs an answer.
enum Signing {
    /// With WeChat Pay public key 1 (public-key mode).
    Key1,
    /// With key 2 under the platform certificate serial.
    Cert2,
    /// Signed, then the body changed.
    Tampered,
    /// Key 1 under a serial the client does not know.
    UnknownSerial,
    /// Ten minutes old.
    Stale,
    /// No Wechatpay-* headers.
    Unsigned,
}

fn header(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn answer(stub: &Stub, status: StatusCode, body: &[u8], signing: Signing) -> HttpResponse {
    let now = Utc::now().timestamp();
    let (key, serial, ts) = match signing {
        Signing::Key1 | Signing::Tampered => (&stub.key_1, PUB_KEY_ID, now),
        Signing::Cert2 => (&stub.key_2, CERT_SERIAL, now),
        Signing::UnknownSerial => {
            (&stub.key_1, "PUB_KEY_ID_0000000000000000000000000000009999", now)
        }
        Signing::Stale => (&stub.key_1, PUB_KEY_ID, now - 600),
        Signing::Unsigned => {
            return HttpResponse::build(status)
                .content_type("application/json")
                .body(body.to_vec());
        }
    };
    let headers = sign_response(key, serial, ts, "stubnonce0123456789abcdefABCDEF", body)
        .expect("stub signs");
    let mut response = HttpResponse::build(status);
    for (name, value) in headers.to_pairs() {
        response.insert_header((name, value));
    }
    let mut body = body.to_vec();
    if matches!(signing, Signing::Tampered) {
        body = String::from_utf8_lossy(&body).replace("SUCCESS", "REFUND").into_bytes();
    }
    if !body.is_empty() {
        response.content_type("application/json");
    }
    response.body(body)
}

fn error(stub: &Stub, status: StatusCode, code: &str) -> HttpResponse {
    let body = json!({ "code": code, "message": format!("stub {code}") }).to_string();
    answer(stub, status, body.as_bytes(), Signing::Key1)
}

/// Records the request and checks its signature; `Some` is the 401 answer.
fn refuse(stub: &Stub, req: &HttpRequest, body: &[u8]) -> Option<HttpResponse> {
    let path = req.uri().path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    stub.seen.lock().expect("seen").push(Seen {
        method: req.method().to_string(),
        path: path.clone(),
        body: String::from_utf8_lossy(body).into_owned(),
        content_type: header(req, "Content-Type"),
        accept: header(req, "Accept"),
        user_agent: header(req, "User-Agent"),
    });
    let auth = header(req, "Authorization").unwrap_or_default();
    match verify_request(&stub.merchant_keys, &auth, req.method().as_str(), &path, body, Utc::now())
    {
        Ok(parsed) if parsed.mchid == MCHID => None,
        _ => Some(error(stub, StatusCode::UNAUTHORIZED, "SIGN_ERROR")),
    }
}

async fn jsapi(stub: web::Data<Stub>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(response) = refuse(&stub, &req, &body) {
        return response;
    }
    let Ok(order) = serde_json::from_slice::<Value>(&body) else {
        return error(&stub, StatusCode::BAD_REQUEST, "PARAM_ERROR");
    };
    let out_trade_no = order["out_trade_no"].as_str().unwrap_or_default();
    match out_trade_no {
        "systemerror01" => error(&stub, StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR"),
        "paramerror001" => error(&stub, StatusCode::BAD_REQUEST, "PARAM_ERROR"),
        "ratelimited01" => error(&stub, StatusCode::TOO_MANY_REQUESTS, "FREQUENCY_LIMITED"),
        "slowanswer001" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            error(&stub, StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR")
        }
        _ => {
            let reply = json!({ "prepay_id": format!("wx_prepay_{out_trade_no}") }).to_string();
            answer(&stub, StatusCode::OK, reply.as_bytes(), Signing::Key1)
        }
    }
}

fn transaction(out_trade_no: &str, state: &str) -> String {
    json!({
        "appid": APPID, "mchid": MCHID, "out_trade_no": out_trade_no,
        "transaction_id": "4200001234202603140000000001", "trade_type": "JSAPI",
        "trade_state": state, "trade_state_desc": "支付成功", "bank_type": "OTHERS",
        "success_time": "2026-03-14T10:34:56+08:00", "payer": { "openid": "o_payer" },
        "amount": { "total": 128000, "payer_total": 128000, "currency": "CNY", "payer_currency": "CNY" }
    })
    .to_string()
}

async fn query(
    stub: web::Data<Stub>,
    req: HttpRequest,
    no: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(response) = refuse(&stub, &req, &body) {
        return response;
    }
    let no = no.into_inner();
    let ok = transaction(&no, "SUCCESS");
    match no.as_str() {
        "badsig000001" => answer(&stub, StatusCode::OK, ok.as_bytes(), Signing::Tampered),
        "unknownkey01" => answer(&stub, StatusCode::OK, ok.as_bytes(), Signing::UnknownSerial),
        "unsigned0001" => answer(&stub, StatusCode::OK, ok.as_bytes(), Signing::Unsigned),
        "stale0000001" => answer(&stub, StatusCode::OK, ok.as_bytes(), Signing::Stale),
        "certmode0001" => answer(&stub, StatusCode::OK, ok.as_bytes(), Signing::Cert2),
        "notpaid00001" => {
            let body = json!({
                "appid": APPID, "mchid": MCHID, "out_trade_no": no, "trade_state": "NOTPAY",
                "trade_state_desc": "订单未支付", "amount": { "total": 100, "payer_currency": "CNY" }
            })
            .to_string();
            answer(&stub, StatusCode::OK, body.as_bytes(), Signing::Key1)
        }
        "missing00001" => error(&stub, StatusCode::NOT_FOUND, "ORDER_NOT_EXIST"),
        "gateway50201" => HttpResponse::BadGateway().body("<html>502 Bad Gateway</html>"),
        "notjson00001" => answer(&stub, StatusCode::OK, b"not json", Signing::Key1),
        _ => answer(&stub, StatusCode::OK, ok.as_bytes(), Signing::Key1),
    }
}

async fn close(
    stub: web::Data<Stub>,
    req: HttpRequest,
    no: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(response) = refuse(&stub, &req, &body) {
        return response;
    }
    if serde_json::from_slice::<Value>(&body).ok() != Some(json!({ "mchid": MCHID })) {
        return error(&stub, StatusCode::BAD_REQUEST, "PARAM_ERROR");
    }
    match no.as_str() {
        "closed000001" => error(&stub, StatusCode::BAD_REQUEST, "ORDER_CLOSED"),
        "unsigned0002" => {
            let body = json!({ "code": "ORDER_CLOSED", "message": "not from WeChat Pay" });
            answer(&stub, StatusCode::BAD_REQUEST, body.to_string().as_bytes(), Signing::Unsigned)
        }
        "paid00000001" => error(&stub, StatusCode::BAD_REQUEST, "ORDER_PAID"),
        _ => answer(&stub, StatusCode::NO_CONTENT, b"", Signing::Key1),
    }
}

fn refund_json(out_refund_no: &str, out_trade_no: &str, status: &str, refund: i64) -> String {
    json!({
        "refund_id": "50300000012026031400000000001", "out_refund_no": out_refund_no,
        "transaction_id": "4200001234202603140000000001", "out_trade_no": out_trade_no,
        "channel": "ORIGINAL", "user_received_account": "支付用户零钱",
        "create_time": "2026-03-14T11:00:00+08:00", "status": status,
        "amount": { "total": 128000, "refund": refund, "payer_total": 128000,
                    "payer_refund": refund, "currency": "CNY" }
    })
    .to_string()
}

async fn refund(stub: web::Data<Stub>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(response) = refuse(&stub, &req, &body) {
        return response;
    }
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(&stub, StatusCode::BAD_REQUEST, "PARAM_ERROR");
    };
    let reply = refund_json(
        request["out_refund_no"].as_str().unwrap_or_default(),
        request["out_trade_no"].as_str().unwrap_or_default(),
        "PROCESSING",
        request["amount"]["refund"].as_i64().unwrap_or_default(),
    );
    answer(&stub, StatusCode::OK, reply.as_bytes(), Signing::Key1)
}

async fn query_refund(
    stub: web::Data<Stub>,
    req: HttpRequest,
    no: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(response) = refuse(&stub, &req, &body) {
        return response;
    }
    let reply = refund_json(&no, "order0000001", "SUCCESS", 500);
    answer(&stub, StatusCode::OK, reply.as_bytes(), Signing::Key1)
}

#[derive(serde::Deserialize)]
struct BillQuery {
    bill_date: String,
    bill_type: String,
}

async fn trade_bill(
    stub: web::Data<Stub>,
    req: HttpRequest,
    query: web::Query<BillQuery>,
    body: web::Bytes,
) -> HttpResponse {
    if let Some(response) = refuse(&stub, &req, &body) {
        return response;
    }
    if query.bill_type != "ALL" {
        return error(&stub, StatusCode::BAD_REQUEST, "PARAM_ERROR");
    }
    let hash = match query.bill_date.as_str() {
        "2026-03-14" => sha1_hex(&stub.bill),
        "2026-03-15" => sha1_hex(b"something else"),
        _ => return error(&stub, StatusCode::BAD_REQUEST, "NO_STATEMENT_EXIST"),
    };
    let reply = json!({
        "hash_type": "SHA1",
        "hash_value": hash.to_uppercase(),
        // The real host: the client must send the download to its configured base instead.
        "download_url": "https://api.mch.weixin.qq.com/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO",
    })
    .to_string();
    answer(&stub, StatusCode::OK, reply.as_bytes(), Signing::Key1)
}

async fn download(stub: web::Data<Stub>, req: HttpRequest, body: web::Bytes) -> HttpResponse {
    if let Some(response) = refuse(&stub, &req, &body) {
        return response;
    }
    // Bill files are not signed.
    HttpResponse::Ok().content_type("text/plain").body(stub.bill.clone())
}

fn bill_rows() -> Vec<BillRow> {
    let time =
        NaiveDate::from_ymd_opt(2026, 3, 14).and_then(|d| d.and_hms_opt(10, 34, 56)).expect("time");
    vec![BillRow {
        time,
        appid: APPID.to_owned(),
        mchid: MCHID.to_owned(),
        transaction_id: "4200001234202603140000000001".to_owned(),
        out_trade_no: "order0000001".to_owned(),
        trade_state: TradeState::Success,
        settlement_total: Money::from_fen(128_000).expect("fen"),
        refund_id: None,
        out_refund_no: None,
        refund_amount: None,
        refund_status: None,
    }]
}

struct Running {
    base_url: String,
    stub: Shared,
    handle: ServerHandle,
}

impl Running {
    fn seen(&self) -> Vec<Seen> {
        self.stub.seen.lock().expect("seen").clone()
    }
}

async fn start() -> Running {
    let merchant_keys = VerifierKeys::new();
    merchant_keys.add_public_key(MERCHANT_SERIAL, MERCHANT_PUB).expect("merchant pub");
    let stub: Shared = Arc::new(Stub {
        merchant_keys,
        key_1: RsaSigningKey::from_pem(PLATFORM_KEY_1).expect("key 1"),
        key_2: RsaSigningKey::from_pem(PLATFORM_KEY_2).expect("key 2"),
        seen: Mutex::new(Vec::new()),
        bill: render_trade_bill(&bill_rows()).into_bytes(),
    });
    let data = web::Data::from(Arc::clone(&stub));
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/v3/pay/transactions/jsapi", web::post().to(jsapi))
            .route("/v3/pay/transactions/out-trade-no/{no}", web::get().to(query))
            .route("/v3/pay/transactions/out-trade-no/{no}/close", web::post().to(close))
            .route("/v3/refund/domestic/refunds", web::post().to(refund))
            .route("/v3/refund/domestic/refunds/{no}", web::get().to(query_refund))
            .route("/v3/bill/tradebill", web::get().to(trade_bill))
            .route("/v3/billdownload/file", web::get().to(download))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .expect("listen")
    .run();
    let handle = server.handle();
    tokio::spawn(server);
    Running { base_url: format!("http://{addr}"), stub, handle }
}

fn config(base_url: &str) -> WechatPayConfig {
    let signer = MerchantSigner::from_pem(MCHID, MERCHANT_SERIAL, MERCHANT_KEY).expect("signer");
    let verifier = VerifierKeys::new();
    verifier.add_public_key(PUB_KEY_ID, PLATFORM_PUB_1).expect("pub 1");
    verifier.add_platform_certificate(PLATFORM_CERT_2).expect("cert 2");
    WechatPayConfig {
        base_url: base_url.to_owned(),
        mchid: MCHID.to_owned(),
        appid: APPID.to_owned(),
        signer,
        verifier,
        timeout: Duration::from_secs(5),
    }
}

fn client(running: &Running) -> WechatPayClient {
    WechatPayClient::new(config(&running.base_url)).expect("client")
}

fn no(text: &str) -> OutTradeNo {
    OutTradeNo::parse(text).expect("out_trade_no")
}

fn order(out_trade_no: &str) -> JsapiOrder {
    JsapiOrder {
        description: "2026 春季考试报名费".to_owned(),
        out_trade_no: no(out_trade_no),
        time_expire: Some(DateTime::parse_from_rfc3339("2026-03-14T10:00:00+08:00").expect("time")),
        attach: Some("registration:42".to_owned()),
        notify_url: "https://pay.example.com/api/pay/notify".to_owned(),
        total: Money::from_fen(128_000).expect("fen"),
        payer_openid: "o_payer".to_owned(),
    }
}

#[tokio::test]
async fn order_round_trip() {
    let running = start().await;
    let client = client(&running);

    let prepay = client.jsapi_order(&order("order0000001")).await.expect("order");
    assert_eq!(prepay.as_str(), "wx_prepay_order0000001");
    let seen = running.seen();
    let sent = seen.last().expect("request seen");
    assert_eq!((sent.method.as_str(), sent.path.as_str()), ("POST", "/v3/pay/transactions/jsapi"));
    assert_eq!(sent.content_type.as_deref(), Some("application/json"));
    assert_eq!(sent.accept.as_deref(), Some("application/json"));
    assert!(sent.user_agent.as_deref().is_some_and(|ua| ua.starts_with("baoming-payments/")));
    let body: Value = serde_json::from_str(&sent.body).expect("json body");
    assert_eq!(
        body,
        json!({
            "appid": APPID, "mchid": MCHID, "description": "2026 春季考试报名费",
            "out_trade_no": "order0000001", "time_expire": "2026-03-14T10:00:00+08:00",
            "attach": "registration:42", "notify_url": "https://pay.example.com/api/pay/notify",
            "amount": { "total": 128000, "currency": "CNY" }, "payer": { "openid": "o_payer" }
        })
    );

    let params = client.request_payment_params(&prepay, 1_773_456_000, "n0nce").expect("params");
    assert_eq!(params.package, "prepay_id=wx_prepay_order0000001");

    let transaction = client.query_order(&no("order0000001")).await.expect("query");
    assert_eq!(transaction.trade_state, TradeState::Success);
    assert_eq!(transaction.amount.total.fen(), 128_000);
    assert_eq!(transaction.transaction_id.as_deref(), Some("4200001234202603140000000001"));
    let sent = running.seen().last().cloned().expect("seen");
    assert_eq!(sent.path, format!("/v3/pay/transactions/out-trade-no/order0000001?mchid={MCHID}"));
    assert_eq!(sent.content_type, None);

    let unpaid = client.query_order(&no("notpaid00001")).await.expect("query");
    assert_eq!(unpaid.trade_state, TradeState::NotPay);
    assert_eq!((unpaid.transaction_id, unpaid.payer, unpaid.success_time), (None, None, None));

    // Platform-certificate mode works next to public-key mode.
    let by_cert = client.query_order(&no("certmode0001")).await.expect("query");
    assert_eq!(by_cert.out_trade_no, "certmode0001");

    client.close_order(&no("order0000002")).await.expect("close");
    // Closing an already closed order is fine; other errors are not.
    client.close_order(&no("closed000001")).await.expect("close again");
    // An unsigned ORDER_CLOSED (anything between us and WeChat Pay could have written it) is
    // not taken for a closed order: it stays an error, marked unsigned.
    let unsigned = client.close_order(&no("unsigned0002")).await.expect_err("unsigned");
    assert!(
        matches!(&unsigned, PayError::Api { code: ErrorCode::OrderClosed, signed: false, .. }),
        "{unsigned:?}"
    );
    let signed = client.close_order(&no("paid00000001")).await.expect_err("paid");
    assert!(matches!(&signed, PayError::Api { signed: true, .. }), "{signed:?}");
    let paid = client.close_order(&no("paid00000001")).await.expect_err("paid");
    assert_eq!(paid.code(), Some(&ErrorCode::Other("ORDER_PAID".to_owned())));

    let refund = client
        .refund(&RefundRequest {
            out_trade_no: no("order0000001"),
            out_refund_no: OutRefundNo::parse("refund@0000001").expect("out_refund_no"),
            reason: Some("考试取消".to_owned()),
            notify_url: Some("https://pay.example.com/api/pay/refund-notify".to_owned()),
            refund: Money::from_fen(500).expect("fen"),
            total: Money::from_fen(128_000).expect("fen"),
        })
        .await
        .expect("refund");
    assert_eq!(refund.status, RefundStatus::Processing);
    assert_eq!(refund.out_refund_no, "refund@0000001");
    assert_eq!(refund.amount.refund.fen(), 500);
    let sent = running.seen().last().cloned().expect("seen");
    let body: Value = serde_json::from_str(&sent.body).expect("json body");
    assert_eq!(body["amount"], json!({ "refund": 500, "total": 128000, "currency": "CNY" }));

    let again = client
        .query_refund(&OutRefundNo::parse("refund@0000001").expect("no"))
        .await
        .expect("query refund");
    assert_eq!(again.status, RefundStatus::Success);
    assert_eq!(
        running.seen().last().map(|s| s.path.clone()).as_deref(),
        Some("/v3/refund/domestic/refunds/refund@0000001")
    );

    running.handle.stop(true).await;
}

#[tokio::test]
async fn answers_that_fail_verification_are_refused() {
    let running = start().await;
    let client = client(&running);
    let cases = [
        ("badsig000001", VerifyError::BadSignature),
        (
            "unknownkey01",
            VerifyError::UnknownSerial("PUB_KEY_ID_0000000000000000000000000000009999".to_owned()),
        ),
        ("unsigned0001", VerifyError::MissingHeader("Wechatpay-Timestamp")),
        ("stale0000001", VerifyError::TimestampSkew),
    ];
    for (out_trade_no, expected) in cases {
        let error = client.query_order(&no(out_trade_no)).await.expect_err(out_trade_no);
        assert_eq!(error, PayError::Verify(expected), "{out_trade_no}");
        assert!(!error.retryable());
    }
    // Signed but unreadable.
    let error = client.query_order(&no("notjson00001")).await.expect_err("not json");
    assert!(matches!(error, PayError::BadResponse(_)), "{error:?}");

    // A key removed during rotation no longer verifies; adding it back (through another
    // handle of the same set) restores it.
    let keys = client.verifier().clone();
    assert!(keys.remove(CERT_SERIAL));
    let error = client.query_order(&no("certmode0001")).await.expect_err("removed key");
    assert!(matches!(error, PayError::Verify(VerifyError::UnknownSerial(_))), "{error:?}");
    keys.add_platform_certificate(PLATFORM_CERT_2).expect("cert");
    client.query_order(&no("certmode0001")).await.expect("key restored");
    running.handle.stop(true).await;
}

#[tokio::test]
async fn errors_are_classified() {
    let running = start().await;
    let client = client(&running);

    let system = client.jsapi_order(&order("systemerror01")).await.expect_err("500");
    assert!(
        matches!(&system, PayError::Api { status: 500, code: ErrorCode::SystemError, .. }),
        "{system:?}"
    );
    assert!(system.retryable());

    let param = client.jsapi_order(&order("paramerror001")).await.expect_err("400");
    assert!(
        matches!(&param, PayError::Api { status: 400, code: ErrorCode::ParamError, .. }),
        "{param:?}"
    );
    assert!(!param.retryable());

    let limited = client.jsapi_order(&order("ratelimited01")).await.expect_err("429");
    assert_eq!(limited.code(), Some(&ErrorCode::FrequencyLimited));
    assert!(limited.retryable());

    let missing = client.query_order(&no("missing00001")).await.expect_err("404");
    assert_eq!(missing.code(), Some(&ErrorCode::OrderNotExist));
    assert!(!missing.retryable());

    // An unsigned gateway page is an error status, retryable.
    let gateway = client.query_order(&no("gateway50201")).await.expect_err("502");
    assert_eq!(gateway, PayError::UnexpectedStatus { status: 502 });
    assert!(gateway.retryable());

    // A wrong merchant key gets SIGN_ERROR from the stub.
    let mut wrong = config(&running.base_url);
    wrong.signer =
        MerchantSigner::from_pem(MCHID, MERCHANT_SERIAL, PLATFORM_KEY_2).expect("signer");
    let wrong = WechatPayClient::new(wrong).expect("client");
    let sign = wrong.query_order(&no("order0000001")).await.expect_err("401");
    assert!(matches!(&sign, PayError::Api { status: 401, code: ErrorCode::SignError, .. }));
    assert!(!sign.retryable());

    // Invalid requests never leave the process.
    let before = running.seen().len();
    let mut bad = order("order0000009");
    bad.notify_url = "https://pay.example.com/notify?x=1".to_owned();
    assert!(matches!(client.jsapi_order(&bad).await, Err(PayError::InvalidRequest(_))));
    bad = order("order0000009");
    bad.total = Money::ZERO;
    assert!(matches!(client.jsapi_order(&bad).await, Err(PayError::InvalidRequest(_))));
    bad = order("order0000009");
    bad.description = "x".repeat(128);
    assert!(matches!(client.jsapi_order(&bad).await, Err(PayError::InvalidRequest(_))));
    let too_much = RefundRequest {
        out_trade_no: no("order0000001"),
        out_refund_no: OutRefundNo::parse("r1").expect("no"),
        reason: None,
        notify_url: None,
        refund: Money::from_fen(2).expect("fen"),
        total: Money::from_fen(1).expect("fen"),
    };
    assert!(matches!(client.refund(&too_much).await, Err(PayError::InvalidRequest(_))));
    assert_eq!(running.seen().len(), before);

    running.handle.stop(true).await;
}

#[tokio::test]
async fn transport_failures_are_retryable() {
    let running = start().await;
    let mut slow = config(&running.base_url);
    slow.timeout = Duration::from_millis(300);
    let slow = WechatPayClient::new(slow).expect("client");
    let timeout = slow.jsapi_order(&order("slowanswer001")).await.expect_err("timeout");
    assert!(matches!(timeout, PayError::Transport(_)), "{timeout:?}");
    assert!(timeout.retryable());
    running.handle.stop(true).await;

    // Nothing listens on a port that was just released.
    let port = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let refused =
        WechatPayClient::new(config(&format!("http://127.0.0.1:{port}"))).expect("client");
    let error = refused.query_order(&no("order0000001")).await.expect_err("refused");
    assert!(matches!(error, PayError::Transport(_)), "{error:?}");
    assert!(error.retryable());
}

#[tokio::test]
async fn trade_bill_download() {
    let running = start().await;
    let client = client(&running);
    let date = NaiveDate::from_ymd_opt(2026, 3, 14).expect("date");
    let bill = client.trade_bill(date).await.expect("bill");
    assert_eq!(bill.rows, bill_rows());
    assert_eq!(bill.summary.count, 1);
    assert_eq!(bill.summary.settlement_total.fen(), 128_000);
    let seen = running.seen();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v3/bill/tradebill?bill_date=2026-03-14&bill_type=ALL",
            "/v3/billdownload/file?token=6XIv5TUPto7pByrTQKhd6kwvyKLG2uY2wMMR8cNXqaA_Cv_isgaUtBzp4QtiozLO",
        ]
    );

    let wrong_hash = client
        .trade_bill(NaiveDate::from_ymd_opt(2026, 3, 15).expect("date"))
        .await
        .expect_err("hash");
    assert!(
        matches!(wrong_hash, PayError::Bill(baoming_payments::BillError::HashMismatch { .. })),
        "{wrong_hash:?}"
    );
    assert!(!wrong_hash.retryable());

    let none = client
        .trade_bill(NaiveDate::from_ymd_opt(2026, 3, 16).expect("date"))
        .await
        .expect_err("no bill");
    assert_eq!(none.code(), Some(&ErrorCode::NoStatementExist));
    running.handle.stop(true).await;
}
