//! A local, protocol-faithful simulator of the **WeChat Pay API v3** (微信支付 APIv3) server,
//! served over real HTTP (actix-web) on loopback, for development runs and tests.
//!
//! It is an independent implementation of the server side, written from the project's
//! protocol notes and WeChat Pay's documentation, and shares no code with the project's client
//! (`baoming-payments`): a mistake made the same way on both sides cannot hide.
//!
//! # Signatures
//!
//! * **Requests.** Every `/v3/…` request must carry
//!   `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`.
//!   The signature (SHA256withRSA, PKCS#1 v1.5, base64) must verify with the merchant public
//!   key over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, where URL is the path and `?query`
//!   exactly as sent and BODY the raw body bytes (empty for GET). `mchid` and `serial_no`
//!   must be the configured ones and the timestamp within 5 minutes of now. Otherwise:
//!   `401 {"code":"SIGN_ERROR","message":"…"}`.
//! * **Responses.** Every `/v3` answer (errors and `204`s too; a 204 signs an empty body)
//!   carries `Wechatpay-Timestamp`, `Wechatpay-Nonce`, `Wechatpay-Signature` (SHA256withRSA
//!   over `TIMESTAMP\nNONCE\nBODY\n`), `Wechatpay-Serial` (the current platform key id, e.g.
//!   `PUB_KEY_ID_0000000000000000000000000000000001`) and `Request-ID`. The one exception is
//!   a bill file download, which is not signed (as WeChat's is not).
//! * **Keys.** The simulator works in WeChat Pay *public-key mode*: platform keys are named by
//!   `PUB_KEY_ID_…`. Development keys ship in [`dev_keys`]. Rotation
//!   ([`Simulator::rotate_key`], `POST /_sim/pay/rotate-key`) switches the signing key while
//!   the old key stays valid for what it signed.
//!
//! # API endpoints
//!
//! * `POST /v3/pay/transactions/jsapi` `{appid, mchid, description, out_trade_no,
//!   time_expire?, attach?, notify_url, amount:{total, currency?}, payer:{openid}}` →
//!   `200 {"prepay_id":"wx…"}`. Checks: `mchid` is the merchant's (else `400
//!   MCH_NOT_EXISTS`), `appid` the configured one (else `400 APPID_MCHID_NOT_MATCH`),
//!   `description` 1–127 characters, `out_trade_no` 6–32 of `[0-9A-Za-z_-|*]`, `time_expire`
//!   RFC 3339, `attach` ≤ 128 characters, `notify_url` an absolute URL without query,
//!   `amount.total` a positive integer (fen), currency `CNY`, `payer.openid` present (else `400
//!   PARAM_ERROR`). The order starts NOTPAY. Ordering an existing `out_trade_no` again with
//!   the *identical* body returns the same `prepay_id`; with a different body `403
//!   OUT_TRADE_NO_USED`; if that order is closed (or expired) `400 ORDER_CLOSED`; if it is paid
//!   `400 ORDERPAID`.
//! * `GET /v3/pay/transactions/out-trade-no/{out_trade_no}?mchid=…` and
//!   `GET /v3/pay/transactions/id/{transaction_id}?mchid=…` → the transaction: `appid`,
//!   `mchid`, `out_trade_no`, `trade_state`, `trade_state_desc`, `attach`, `amount{total,
//!   currency, payer_currency}`, and once paid also `transaction_id`, `trade_type:"JSAPI"`,
//!   `bank_type`, `success_time`, `payer{openid}` and `amount.payer_total`. Unknown: `404
//!   ORDER_NOT_EXIST`. An unpaid order past its `time_expire` reads `CLOSED`. `trade_state`
//!   is one of NOTPAY, SUCCESS, REFUND (a refund was accepted), CLOSED.
//! * `POST /v3/pay/transactions/out-trade-no/{out_trade_no}/close` `{"mchid"}` → `204`
//!   (also for an order already closed). A paid order: `400 ORDERPAID`.
//! * `POST /v3/refund/domestic/refunds` `{out_trade_no | transaction_id, out_refund_no,
//!   reason?, notify_url?, amount:{refund, total, currency}}` → `200` the refund, status
//!   `PROCESSING`. The order must be paid, `amount.total` its total and `amount.refund` at most
//!   what is left to refund (else `400 INVALID_REQUEST`); unknown order `404
//!   RESOURCE_NOT_EXISTS`. One refund per `out_refund_no` forever: a repeat with the identical
//!   body answers the existing refund (in its current status), a different body `400
//!   INVALID_REQUEST`. After the settle delay the refund becomes `SUCCESS` (or `ABNORMAL` or
//!   `CLOSED`, by the fault switches) and `REFUND.SUCCESS` / `REFUND.ABNORMAL` /
//!   `REFUND.CLOSED` goes to its `notify_url`; a `CLOSED` refund's amount becomes refundable
//!   again (a new `out_refund_no` may ask for it), an `ABNORMAL` one's stays taken. The
//!   order's `trade_state` becomes `REFUND` as soon as a refund is accepted. Every correctly
//!   signed POST is counted per `out_refund_no` ([`Simulator::refund_requests`]).
//! * `GET /v3/refund/domestic/refunds/{out_refund_no}` → the refund; unknown `404
//!   RESOURCE_NOT_EXISTS`.
//! * `GET /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL|SUCCESS|REFUND` →
//!   `{"hash_type":"SHA1","hash_value":"…","download_url":"{base}/v3/billdownload/file?token=…"}`;
//!   a day without any row of that type: `400 NO_STATEMENT_EXIST`. The day of a payment is
//!   the Beijing (UTC+8) date of its `success_time`, of a refund that of its success.
//! * `GET /v3/billdownload/file?token=…` (signed request, **unsigned** answer) → the CSV: the
//!   header row (交易时间,公众账号ID,商户号,…,费率备注: 27 columns), one row per payment
//!   (交易状态 `SUCCESS`) and per successful refund (`REFUND`) with every field prefixed by a
//!   backtick, amounts in yuan with two decimals, then the summary header
//!   (总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额)
//!   and one backticked summary row. Lines end in CRLF. The URL is valid for 30 s.
//!
//! Errors are `{"code","message"}` with WeChat's statuses. A POST with a body that is not
//! `Content-Type: application/json` gets `400 INVALID_REQUEST`; unknown `/v3` paths `404
//! NOT_FOUND`.
//!
//! # Notifications
//!
//! `POST {notify_url}` with `Content-Type: application/json`, `Wechatpay-Timestamp`,
//! `Wechatpay-Nonce`, `Wechatpay-Signature`, `Wechatpay-Serial` (the key current *at that
//! attempt*) and `Wechatpay-Signature-Type: WECHATPAY2-SHA256-RSA2048`, and the body
//! `{id, create_time, resource_type:"encrypt-resource", event_type, summary,
//! resource:{original_type, algorithm:"AEAD_AES_256_GCM", ciphertext, associated_data,
//! nonce}}`. The resource is AES-256-GCM with the APIv3 key, a 12-character `[0-9A-Za-z]`
//! nonce and the associated data `transaction` or `refund`; `ciphertext` is base64(ciphertext
//! ‖ tag); the plaintext is the transaction (`TRANSACTION.SUCCESS`) or refund (`REFUND.*`)
//! JSON. A delivery succeeds on HTTP 200 or 204; anything else, a connection error or no
//! answer within 5 s is retried after 15s, 15s, 30s, 3m, 10m, 20m, 30m, 30m, 30m, 60m, 3h, 3h,
//! 3h, 6h, 6h (each multiplied by [`SimConfig::time_scale`]), then given up. Every retry
//! keeps the notification id and body and is signed anew (fresh timestamp and nonce, current
//! key). Each delivery runs as a task on the simulator's runtime and ends when it stops.
//!
//! # Control endpoints (simulator only; never in production)
//!
//! Plain JSON, unsigned; errors are `{"code","message"}` with an HTTP status.
//!
//! * `POST /_sim/pay/orders/{out_trade_no}/pay` (the person taps 确认支付) → `200` the
//!   transaction (now SUCCESS, with a new `transaction_id`), and `TRANSACTION.SUCCESS` goes to
//!   the order's `notify_url`. Closed or expired: `400 ORDER_CLOSED`; already paid: `400
//!   ORDERPAID`; unknown: `404 ORDER_NOT_EXIST`.
//! * `POST /_sim/pay/orders/{out_trade_no}/expire` → `{"out_trade_no","trade_state":"CLOSED"}`
//!   (the order's time runs out now; a paid order: `400 ORDERPAID`).
//! * `GET /_sim/pay/orders/{out_trade_no}` → `{out_trade_no, prepay_id, trade_state,
//!   description, notify_url, total, openid, time_expire, transaction_id, success_time,
//!   bill_date, refunded, transaction:{…as the query API…}, refunds:[…as the refund API…]}`.
//! * `GET /_sim/pay/refund-requests` → `{"<out_refund_no>": <count of signed POSTs>, …}`.
//! * `GET /_sim/pay/deliveries` → every delivery attempt, oldest first:
//!   `[{notification_id, event_type, out_trade_no, out_refund_no, copy, attempt, probe, url,
//!   serial, at, status, error}]` ([`DeliveryAttempt`]).
//! * `GET /_sim/pay/notifications` → every notification produced: `[{id, event_type,
//!   out_trade_no, out_refund_no, url, fate, resource}]` with `fate` one of `sending`,
//!   `dropped`, `held`, `delivered`, `gave_up`, `abandoned` ([`NotificationRecord`]).
//! * `GET /_sim/pay/faults` → the switches in force ([`FaultStatus`]); `POST /_sim/pay/faults`
//!   sets some ([`Faults`], every field optional) and answers the same:
//!   `{"drop_notifications": N, "duplicate_notifications": bool, "notification_delay_ms": ms,
//!   "hold_notifications": bool, "fail_next": {"path_prefix": "/v3/refund", "status": 500,
//!   "code": "SYSTEM_ERROR", "after_processing": false, "unsigned": false}, "abnormal_refunds": N, "closed_refunds": N,
//!   "expire_order": "<out_trade_no>", "sign_test_probes": N}`.
//!   - *drop*: the next N notifications are never sent (no retries) — the order still reads
//!     SUCCESS, so a lost notification must be recovered by querying.
//!   - *duplicate*: each notification is delivered twice (the second copy, same id, right
//!     after the first is accepted).
//!   - *delay*: each notification waits that long before its first attempt.
//!   - *hold* (out of order): notifications are held; setting it back to `false` releases
//!     the batch **newest first** (e.g. REFUND.SUCCESS before TRANSACTION.SUCCESS).
//!   - *fail_next*: the next API call whose path starts with the prefix answers that error
//!     once (default `500 SYSTEM_ERROR`); with `after_processing` the call is carried out
//!     first and only its answer is lost; with `unsigned` the error carries no signature (as
//!     a proxy's or a forger's would). Each POST queues one more.
//!   - *abnormal_refunds*: the next N refunds end ABNORMAL (REFUND.ABNORMAL).
//!   - *closed_refunds*: the next N refunds end CLOSED (REFUND.CLOSED); abnormal ones are
//!     used up first.
//!   - *expire_order*: as the expire endpoint.
//!   - *sign_test_probes*: the next N notifications are each preceded by a probe signed
//!     `WECHATPAY/SIGNTEST/…`, which a correct receiver must refuse (never retried; recorded
//!     with `probe: true`).
//! * `POST /_sim/pay/rotate-key` `{}` or `{"pub_key_id": "…"}` → `{"current": "…", "keys":
//!   [...]}`: without an id the next key becomes current (the second development key
//!   `PUB_KEY_ID_…02` is added when there is no next key); with an id, that key. Old keys are
//!   kept.
//! * `GET /_sim/pay/platform-keys` → `[{pub_key_id, public_key_pem, current}]`.
//! * `POST /_sim/pay/bill-date` `{"date": "YYYY-MM-DD"}` (or `null` to clear) → `{"bill_date"}`:
//!   payments and refunds that succeed from now on are billed on that date (their times stay
//!   real).
//!
//! # Deviations from the real WeChat Pay (on purpose)
//!
//! * `notify_url` may be `http://` for loopback hosts (127.0.0.0/8, `localhost`, `[::1]`);
//!   WeChat takes HTTPS only. Other `http://` URLs are refused as WeChat refuses them.
//! * Only the JSAPI (mini-program) product, public-key mode (no `/v3/certificates`), no
//!   coupons/promotions, no partial-refund funds accounts, no `tar_type=GZIP` bills (refused
//!   with `400 PARAM_ERROR`), no fund-flow bills. Unpaid orders expire only by `time_expire`
//!   (or the fault), not after WeChat's default two hours.
//! * Bills are available at once (WeChat: after 10:00 the next day), and `download_url`
//!   lives 30 s in real time.
//! * Refunds settle after [`SimConfig::refund_settle_delay`]; a refund without `notify_url` is
//!   not notified (WeChat would use the URL configured in the merchant platform).
//! * Closing or re-ordering a paid order answers `400 ORDERPAID` (订单已支付): the code of
//!   WeChat's close-order API (v2 documents it; v3 merchants report it), while the published
//!   v3 error table lists only generic codes (e.g. `403 TRADE_ERROR`) for that case. A client
//!   should treat any refusal to close as "query the order".
//! * Closing an order that is already closed answers `204` again; WeChat's v3 table also lists
//!   `400 ORDER_CLOSED` for the close API, so a client should take both as "closed".
//! * Refund business-rule refusals (unpaid order, wrong total, more than is left) are `400
//!   INVALID_REQUEST` with a message saying which.
//! * An expired or unknown bill token answers `404 RESOURCE_NOT_EXISTS`.
//! * Unknown fields in request bodies are ignored.

#![warn(missing_docs)]

mod bill;
mod crypto;
/// The development keys (the `baoming-dev-keys` crate).
pub use baoming_dev_keys as dev_keys;
mod engine;
mod http;
mod model;
mod state;

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpServer, web};
use chrono::NaiveDate;
use serde_json::Value;

pub use crate::model::{
    ApiFailure, DeliveryAttempt, FaultStatus, Faults, NotificationFate, NotificationRecord,
    SimError,
};

use crate::crypto::{ApiV3Key, PlatformKey};
use crate::engine::{Core, CoreParts};
use crate::state::{KeyRing, State};

/// The merchant the simulator serves, and how it behaves.
#[derive(Clone)]
pub struct SimConfig {
    /// The merchant id (商户号), e.g. `1900000109`.
    pub mchid: String,
    /// The mini-program's appid orders must name.
    pub appid: String,
    /// The merchant's API public key (SPKI or PKCS#1 PEM): request signatures are checked
    /// with it.
    pub merchant_public_key_pem: String,
    /// The merchant API certificate serial expected as `serial_no` in `Authorization`.
    pub merchant_serial_no: String,
    /// The APIv3 key: exactly 32 bytes (ASCII), the AES-256-GCM key of notifications.
    pub apiv3_key: String,
    /// Platform signing keys as `(pub_key_id, private key PEM (PKCS#8 or PKCS#1))`; the first
    /// is current at start. At least one.
    pub platform_keys: Vec<(String, String)>,
    /// Multiplies the notification retry delays: 1.0 is WeChat's real schedule, tests use
    /// e.g. 0.001 (15 s → 15 ms). Must be finite and not negative.
    pub time_scale: f64,
    /// How long a refund stays PROCESSING before it settles.
    pub refund_settle_delay: Duration,
    /// The base URL put in bill `download_url`s; by default `http://{bound address}`.
    pub public_base_url: Option<String>,
}

impl SimConfig {
    /// A configuration with the [`dev_keys`]: merchant key and serial, APIv3 key, platform key
    /// 1 current (key 2 is added by rotation), the real retry schedule and a 2 s refund
    /// settle delay.
    pub fn dev(mchid: impl Into<String>, appid: impl Into<String>) -> Self {
        Self {
            mchid: mchid.into(),
            appid: appid.into(),
            merchant_public_key_pem: dev_keys::MERCHANT_PUBLIC_KEY_PEM.to_owned(),
            merchant_serial_no: dev_keys::MERCHANT_SERIAL_NO.to_owned(),
            apiv3_key: dev_keys::APIV3_KEY.to_owned(),
            platform_keys: vec![(
                dev_keys::PLATFORM_PUB_KEY_ID_1.to_owned(),
                dev_keys::PLATFORM_PRIVATE_KEY_1_PEM.to_owned(),
            )],
            time_scale: 1.0,
            refund_settle_delay: Duration::from_secs(2),
            public_base_url: None,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key_ids: Vec<&str> = self.platform_keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SimConfig")
            .field("mchid", &self.mchid)
            .field("appid", &self.appid)
            .field("merchant_serial_no", &self.merchant_serial_no)
            .field("apiv3_key", &"…")
            .field("platform_keys", &key_ids)
            .field("time_scale", &self.time_scale)
            .field("refund_settle_delay", &self.refund_settle_delay)
            .field("public_base_url", &self.public_base_url)
            .finish_non_exhaustive()
    }
}

fn invalid(message: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, message)
}

/// Checks the configuration and builds the shared core (errors name what is wrong).
fn core_of(config: SimConfig, runtime: tokio::runtime::Handle) -> std::io::Result<Core> {
    let merchant_key = crypto::load_public_key(&config.merchant_public_key_pem)
        .map_err(|e| invalid(format!("merchant_public_key_pem: {e}")))?;
    let apiv3 = ApiV3Key::parse(&config.apiv3_key).map_err(invalid)?;
    if config.platform_keys.is_empty() {
        return Err(invalid("platform_keys: at least one key is needed".to_owned()));
    }
    let mut keys = Vec::with_capacity(config.platform_keys.len());
    for (id, pem) in &config.platform_keys {
        let printable = !id.is_empty() && id.bytes().all(|b| b.is_ascii_graphic());
        if !printable || keys.iter().any(|key: &PlatformKey| key.id == *id) {
            return Err(invalid(format!(
                "platform_keys: the id {id:?} is empty, repeated or not printable ASCII"
            )));
        }
        keys.push(
            PlatformKey::from_pem(id, pem)
                .map_err(|e| invalid(format!("platform key {id}: {e}")))?,
        );
    }
    if !config.time_scale.is_finite() || config.time_scale < 0.0 {
        return Err(invalid(format!(
            "time_scale must be finite and ≥ 0, not {}",
            config.time_scale
        )));
    }
    let state = State::new(config.mchid.clone(), config.appid, apiv3, KeyRing::new(keys));
    Core::new(CoreParts {
        state,
        mchid: config.mchid,
        merchant_key: crypto::verifying_key(merchant_key),
        merchant_serial: config.merchant_serial_no,
        runtime,
        time_scale: config.time_scale,
        refund_settle_delay: config.refund_settle_delay,
    })
}

/// A running simulator. Dropping it stops the server and its background work.
pub struct Simulator {
    addr: SocketAddr,
    core: Arc<Core>,
    handle: Option<ServerHandle>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .field("running", &self.handle.is_some())
            .finish_non_exhaustive()
    }
}

/// Starts the simulator on the current Tokio (or actix) runtime, which also runs its
/// background work (refund settlement, notification deliveries) and must have its time driver
/// enabled (as `#[tokio::main]`, `#[tokio::test]` and `#[actix_web::main]` have). `bind` may
/// use port 0; the chosen address is [`Simulator::addr`]. The server lives until
/// [`Simulator::stop`] or drop.
pub async fn start(config: SimConfig, bind: SocketAddr) -> std::io::Result<Simulator> {
    let runtime = tokio::runtime::Handle::try_current()
        .map_err(|_| std::io::Error::other("start() must be called on a Tokio runtime"))?;
    let public_base_url = config.public_base_url.clone();
    let core = Arc::new(core_of(config, runtime)?);
    let (server, addr) = build(bind, &core, public_base_url)?;
    let handle = server.handle();
    tokio::spawn(async move {
        if let Err(error) = server.await {
            tracing::error!(%error, "WeChat Pay simulator stopped with an error");
        }
    });
    Ok(Simulator { addr, core, handle: Some(handle), thread: None })
}

/// Starts the simulator on `127.0.0.1` (a free port) on its own thread with its own runtime,
/// for synchronous callers (a binary's `main` before its runtime exists, non-async tests).
pub fn start_in_background(config: SimConfig) -> std::io::Result<Simulator> {
    start_in_background_on(config, SocketAddr::from(([127, 0, 0, 1], 0)))
}

/// As [`start_in_background`], on the given address.
pub fn start_in_background_on(config: SimConfig, bind: SocketAddr) -> std::io::Result<Simulator> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let public_base_url = config.public_base_url.clone();
    let core = Arc::new(core_of(config, runtime.handle().clone())?);
    let (server, addr) = build(bind, &core, public_base_url)?;
    let handle = server.handle();
    let thread = std::thread::Builder::new().name("wechatpay-sim".to_owned()).spawn(move || {
        if let Err(error) = runtime.block_on(server) {
            tracing::error!(%error, "WeChat Pay simulator stopped with an error");
        }
    })?;
    Ok(Simulator { addr, core, handle: Some(handle), thread: Some(thread) })
}

fn build(
    bind: SocketAddr,
    core: &Arc<Core>,
    public_base_url: Option<String>,
) -> std::io::Result<(Server, SocketAddr)> {
    let data = web::Data::from(Arc::clone(core));
    let server = HttpServer::new(move || {
        App::new().app_data(data.clone()).configure(http::routes).default_service(web::to(http::v3))
    })
    .workers(1)
    // Like a real API gateway, keep idle connections longer than clients do (clients drop
    // theirs first, so none of them races a closing connection).
    .keep_alive(Duration::from_secs(75))
    .disable_signals()
    .shutdown_timeout(1)
    .bind(bind)?;
    let bound = server
        .addrs()
        .first()
        .copied()
        .ok_or_else(|| std::io::Error::other("the simulator bound no address"))?;
    let addr = match bound.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), bound.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bound.port())
        }
        _ => bound,
    };
    let base = public_base_url
        .map(|url| url.trim_end_matches('/').to_owned())
        .unwrap_or_else(|| format!("http://{addr}"));
    core.set_base_url(base);
    tracing::info!(%addr, "WeChat Pay simulator listening");
    Ok((server.run(), addr))
}

impl Simulator {
    /// The base URL to configure as the WeChat Pay API base, e.g. `http://127.0.0.1:54321`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the simulator listens on (loopback when bound to an unspecified address).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and its background work (pending deliveries and retries end) and
    /// waits until the server has stopped.
    pub async fn stop(mut self) {
        self.core.shut_down();
        if let Some(handle) = self.handle.take() {
            handle.stop(true).await;
        }
        // A background thread ends on its own once its server has stopped.
        drop(self.thread.take());
    }

    /// The person confirms the payment (确认支付): the order becomes SUCCESS with a new
    /// `transaction_id` and TRANSACTION.SUCCESS is sent to its `notify_url`. Returns the
    /// transaction JSON. Errors: `ORDER_CLOSED` (closed or expired), `ORDERPAID`,
    /// `ORDER_NOT_EXIST`.
    pub fn pay(&self, out_trade_no: &str) -> Result<Value, SimError> {
        self.core.pay(out_trade_no)
    }

    /// The simulator's full view of an order (as `GET /_sim/pay/orders/{no}`).
    pub fn order(&self, out_trade_no: &str) -> Result<Value, SimError> {
        self.core.order(out_trade_no)
    }

    /// Expires an unpaid order now: it reads CLOSED from then on.
    pub fn expire_order(&self, out_trade_no: &str) -> Result<(), SimError> {
        self.core.expire_order(out_trade_no)
    }

    /// How many correctly signed refund POSTs each `out_refund_no` received.
    pub fn refund_requests(&self) -> BTreeMap<String, u64> {
        self.core.refund_requests()
    }

    /// Every notification delivery attempt so far, oldest first.
    pub fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.core.deliveries()
    }

    /// Every notification produced so far, with its fate.
    pub fn notifications(&self) -> Vec<NotificationRecord> {
        self.core.notifications()
    }

    /// Sets fault switches (absent fields unchanged); returns the switches now in force.
    pub fn set_faults(&self, faults: Faults) -> Result<FaultStatus, SimError> {
        self.core.set_faults(faults)
    }

    /// The fault switches in force.
    pub fn faults(&self) -> FaultStatus {
        self.core.faults()
    }

    /// Rotates the platform signing key: to `pub_key_id`, or with `None` to the next key
    /// (adding [`dev_keys::PLATFORM_PUB_KEY_ID_2`] when there is none). Returns the new
    /// current id. Old keys stay known.
    pub fn rotate_key(&self, pub_key_id: Option<&str>) -> Result<String, SimError> {
        let result = self.core.rotate_key(pub_key_id)?;
        Ok(result["current"].as_str().unwrap_or_default().to_owned())
    }

    /// The id of the platform key signing now.
    pub fn current_key_id(&self) -> String {
        self.core.current_key_id()
    }

    /// Every platform key as `(pub_key_id, public key PEM (SPKI))`.
    pub fn platform_public_keys(&self) -> Vec<(String, String)> {
        self.core.platform_public_keys()
    }

    /// Bills payments and refunds succeeding from now on under `date` (`None`: their Beijing
    /// date, the default).
    pub fn set_bill_date(&self, date: Option<NaiveDate>) {
        self.core.set_bill_date(date);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.core.shut_down();
        if let Some(handle) = self.handle.take() {
            // The stop command is sent eagerly; the returned future only waits for it.
            drop(handle.stop(false));
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the WeChat Pay simulator thread panicked");
        }
    }
}

#[cfg(test)]
mod dev_key_tests {
    use crate::dev_keys::*;

    #[test]
    fn constants_are_well_formed() {
        assert_eq!(APIV3_KEY.len(), 32);
        assert!(APIV3_KEY.is_ascii());
        assert_eq!(MERCHANT_SERIAL_NO.len(), 40);
        assert_eq!(PLATFORM_PUB_KEY_ID_1.len(), PLATFORM_PUB_KEY_ID_2.len());
        for pem in
            [MERCHANT_PRIVATE_KEY_PEM, PLATFORM_PRIVATE_KEY_1_PEM, PLATFORM_PRIVATE_KEY_2_PEM]
        {
            assert!(crate::crypto::load_private_key(pem).is_ok());
        }
        for pem in [MERCHANT_PUBLIC_KEY_PEM, PLATFORM_PUBLIC_KEY_1_PEM, PLATFORM_PUBLIC_KEY_2_PEM] {
            assert!(crate::crypto::load_public_key(pem).is_ok());
        }
    }

    #[test]
    fn public_halves_match_private_keys() {
        for (private, public) in [
            (MERCHANT_PRIVATE_KEY_PEM, MERCHANT_PUBLIC_KEY_PEM),
            (PLATFORM_PRIVATE_KEY_1_PEM, PLATFORM_PUBLIC_KEY_1_PEM),
            (PLATFORM_PRIVATE_KEY_2_PEM, PLATFORM_PUBLIC_KEY_2_PEM),
        ] {
            let key = crate::crypto::load_private_key(private).expect("private key");
            let derived = crate::crypto::public_pem_of(&key).expect("public pem");
            assert_eq!(derived.trim(), public.trim());
        }
    }
}
