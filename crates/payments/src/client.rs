//! A small async WeChat Pay API v3 client over the pure parts of this crate.
//!
//! Every request is signed ([`crate::sign::authorization`]). Every response except the bill
//! file download is verified over its raw bytes ([`crate::verify::verify`], with
//! `chrono::Utc::now()`) before it is parsed. Error answers (non-2xx) are verified when they
//! carry a signature; unsigned error answers (e.g. from a gateway) are accepted as errors,
//! as the official SDKs do, since an error never moves money.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use baoming_domain::money::Money;
use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::bill::{TradeBill, check_hash, parse_trade_bill};
use crate::errors::{ApiError, ErrorCode, PayError};
use crate::keys::{MerchantSigner, SignError, VerifierKeys};
use crate::notify::{RefundStatus, Transaction};
use crate::numbers::{OutRefundNo, OutTradeNo};
use crate::sign::{authorization, new_nonce};
use crate::verify::{HEADER_SIGNATURE, SignedHeaders, VerifyError, verify};

/// WeChat Pay's production API base.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";
/// The longest JSON answer read.
const MAX_JSON_BYTES: usize = 1 << 20;
/// The longest bill file read.
const MAX_BILL_BYTES: usize = 256 << 20;
const USER_AGENT: &str = concat!("baoming-payments/", env!("CARGO_PKG_VERSION"));
/// The longest order description (characters).
const MAX_DESCRIPTION_CHARS: usize = 127;
/// The longest `attach` (characters).
const MAX_ATTACH_CHARS: usize = 128;
/// The longest refund reason (characters).
const MAX_REASON_CHARS: usize = 80;

/// Where and as which merchant to call WeChat Pay.
#[derive(Debug, Clone)]
pub struct WechatPayConfig {
    /// The API base: [`DEFAULT_BASE_URL`] or a simulator's `http://127.0.0.1:port`.
    pub base_url: String,
    /// The merchant number (must equal the signer's).
    pub mchid: String,
    /// The mini-program's appid that orders are made for.
    pub appid: String,
    /// The merchant signing key.
    pub signer: MerchantSigner,
    /// The trusted WeChat Pay keys (a shared handle: add or remove keys at any time).
    pub verifier: VerifierKeys,
    /// Timeout of each whole request (connecting included).
    pub timeout: Duration,
}

impl WechatPayConfig {
    /// A configuration for the production API with a 10-second timeout; the merchant number
    /// is the signer's.
    pub fn new(appid: impl Into<String>, signer: MerchantSigner, verifier: VerifierKeys) -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            mchid: signer.mchid().to_owned(),
            appid: appid.into(),
            signer,
            verifier,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A JSAPI (mini-program) order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsapiOrder {
    /// What is bought (1–127 characters).
    pub description: String,
    /// The merchant order number (reuse it on retries).
    pub out_trade_no: OutTradeNo,
    /// When the order stops accepting payment (sent as RFC 3339 with its offset, e.g.
    /// `2026-03-14T10:00:00+08:00`).
    pub time_expire: Option<DateTime<FixedOffset>>,
    /// Data echoed back in queries and notifications (1–128 characters).
    pub attach: Option<String>,
    /// The payment notification URL (https, no query).
    pub notify_url: String,
    /// The amount to pay (more than zero).
    pub total: Money,
    /// The payer's openid under the appid.
    pub payer_openid: String,
}

/// The prepay id of a created order (valid for two hours).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PrepayId(pub String);

impl PrepayId {
    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The parameters of the mini-program's `wx.requestPayment`, serialised with its camelCase
/// names (`timeStamp`, `nonceStr`, `package`, `signType`, `paySign`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestPayment {
    /// Unix seconds as text.
    pub time_stamp: String,
    /// A 32-character nonce.
    pub nonce_str: String,
    /// `prepay_id=…`.
    pub package: String,
    /// `RSA`.
    pub sign_type: String,
    /// SHA256withRSA over `appId\ntimeStamp\nnonceStr\npackage\n`, base64.
    pub pay_sign: String,
}

/// Builds the `wx.requestPayment` parameters for a prepay id (pure: the time and nonce are
/// given; use [`crate::sign::new_nonce`] for the nonce).
pub fn request_payment_params(
    appid: &str,
    signer: &MerchantSigner,
    prepay_id: &PrepayId,
    timestamp: i64,
    nonce: &str,
) -> Result<RequestPayment, SignError> {
    let package = format!("prepay_id={}", prepay_id.as_str());
    let message = format!("{appid}\n{timestamp}\n{nonce}\n{package}\n");
    Ok(RequestPayment {
        time_stamp: timestamp.to_string(),
        nonce_str: nonce.to_owned(),
        package,
        sign_type: "RSA".to_owned(),
        pay_sign: signer.sign_base64(message.as_bytes())?,
    })
}

/// A refund request (against an out_trade_no).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRequest {
    /// The order to refund.
    pub out_trade_no: OutTradeNo,
    /// The refund number (reuse it on retries: one refund per number, forever).
    pub out_refund_no: OutRefundNo,
    /// Shown to the payer (at most 80 characters).
    pub reason: Option<String>,
    /// The refund notification URL (https, no query).
    pub notify_url: Option<String>,
    /// The amount to refund (more than zero, at most `total`).
    pub refund: Money,
    /// The order total.
    pub total: Money,
}

/// The amounts of a refund, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundAmount {
    /// The order total.
    pub total: Money,
    /// The refund amount.
    pub refund: Money,
    /// What the payer paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<Money>,
    /// What goes back to the payer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_refund: Option<Money>,
    /// The currency, `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
}

/// A refund as WeChat Pay reports it (refund creation and query).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refund {
    /// WeChat Pay's refund number.
    pub refund_id: String,
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// WeChat Pay's order number.
    pub transaction_id: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The refund channel (`ORIGINAL`, `BALANCE`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Where the money goes, e.g. `支付用户零钱`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// When the refund succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<DateTime<FixedOffset>>,
    /// When the refund was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<DateTime<FixedOffset>>,
    /// The refund state.
    pub status: RefundStatus,
    /// The amounts.
    pub amount: RefundAmount,
}

/// The answer of the trade bill request: where to download the file and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillDownload {
    /// `SHA1`.
    pub hash_type: String,
    /// The file's hash (hex).
    pub hash_value: String,
    /// The download URL (valid for 30 s).
    pub download_url: String,
}

#[derive(Serialize)]
struct JsapiBody<'a> {
    appid: &'a str,
    mchid: &'a str,
    description: &'a str,
    out_trade_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    time_expire: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    attach: Option<&'a str>,
    notify_url: &'a str,
    amount: JsapiAmount,
    payer: JsapiPayer<'a>,
}

#[derive(Serialize)]
struct JsapiAmount {
    total: Money,
    currency: &'static str,
}

#[derive(Serialize)]
struct JsapiPayer<'a> {
    openid: &'a str,
}

#[derive(Deserialize)]
struct PrepayReply {
    prepay_id: String,
}

#[derive(Serialize)]
struct CloseBody<'a> {
    mchid: &'a str,
}

#[derive(Serialize)]
struct RefundBody<'a> {
    out_trade_no: &'a str,
    out_refund_no: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    notify_url: Option<&'a str>,
    amount: RefundBodyAmount,
}

#[derive(Serialize)]
struct RefundBodyAmount {
    refund: Money,
    total: Money,
    currency: &'static str,
}

/// Checks a notification URL: https (plain http only on a loopback host, for local runs),
/// a host, no query, no fragment.
fn check_notify_url(url: &str) -> Result<(), PayError> {
    let invalid = |why: &str| PayError::InvalidRequest(format!("notify_url {why}"));
    let parsed = Url::parse(url).map_err(|_| invalid("is not a URL"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(invalid("must be https")),
    }
    if parsed.host_str().is_none() {
        return Err(invalid("has no host"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(())
}

fn check_text(name: &str, text: &str, min: usize, max: usize) -> Result<(), PayError> {
    let len = text.chars().count();
    if len < min || len > max {
        return Err(PayError::InvalidRequest(format!("{name} must be {min}–{max} characters")));
    }
    Ok(())
}

/// The path and query of a URL, as signed.
fn path_and_query(url: &Url) -> String {
    match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    }
}

/// A response read off the wire.
struct Reply {
    body: Vec<u8>,
}

/// How a response is checked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Check {
    /// Verify the Wechatpay-* signature.
    Signed,
    /// The bill file download: not signed.
    Unsigned,
}

struct Inner {
    config: WechatPayConfig,
    base: Url,
}

/// The WeChat Pay client. Cheap to clone; clones share the connection pool and keys.
#[derive(Clone)]
pub struct WechatPayClient {
    http: reqwest::Client,
    inner: Arc<Inner>,
}

impl fmt::Debug for WechatPayClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatPayClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl WechatPayClient {
    /// Builds a client; checks the base URL (http(s) with a host, no path), that the merchant
    /// number is digits and equals the signer's, that the appid is set, and the timeout.
    pub fn new(config: WechatPayConfig) -> Result<Self, PayError> {
        let base_text = config.base_url.trim_end_matches('/');
        let base = Url::parse(base_text)
            .map_err(|error| PayError::Config(format!("base_url is not a URL: {error}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.host_str().is_none() {
            return Err(PayError::Config("base_url must be an http(s) URL with a host".to_owned()));
        }
        if base.path() != "/" || base.query().is_some() {
            return Err(PayError::Config("base_url must not have a path or query".to_owned()));
        }
        if config.mchid.is_empty() || !config.mchid.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PayError::Config("mchid must be digits".to_owned()));
        }
        if config.mchid != config.signer.mchid() {
            return Err(PayError::Config("mchid differs from the signer's".to_owned()));
        }
        if config.appid.trim().is_empty() {
            return Err(PayError::Config("appid is empty".to_owned()));
        }
        if config.timeout.is_zero() {
            return Err(PayError::Config("timeout must be positive".to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent(USER_AGENT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|error| PayError::Config(format!("HTTP client: {error}")))?;
        Ok(Self { http, inner: Arc::new(Inner { config, base }) })
    }

    /// The configuration.
    pub fn config(&self) -> &WechatPayConfig {
        &self.inner.config
    }

    /// The trusted WeChat Pay keys (shared: changes apply to every clone of the client).
    pub fn verifier(&self) -> &VerifierKeys {
        &self.inner.config.verifier
    }

    /// Verifies a notification's signature over its raw body with the trusted keys and the
    /// current time.
    pub fn verify_notification(
        &self,
        headers: &SignedHeaders,
        body: &[u8],
    ) -> Result<(), VerifyError> {
        verify(&self.inner.config.verifier, headers, body, Utc::now())
    }

    /// The `wx.requestPayment` parameters for a prepay id (pure; see
    /// [`request_payment_params`]).
    pub fn request_payment_params(
        &self,
        prepay_id: &PrepayId,
        timestamp: i64,
        nonce: &str,
    ) -> Result<RequestPayment, SignError> {
        let config = &self.inner.config;
        request_payment_params(&config.appid, &config.signer, prepay_id, timestamp, nonce)
    }

    /// Creates a JSAPI order (`POST /v3/pay/transactions/jsapi`) and returns its prepay id.
    /// Retrying with the same out_trade_no and the same parameters is safe.
    pub async fn jsapi_order(&self, order: &JsapiOrder) -> Result<PrepayId, PayError> {
        check_text("description", &order.description, 1, MAX_DESCRIPTION_CHARS)?;
        if let Some(attach) = &order.attach {
            check_text("attach", attach, 1, MAX_ATTACH_CHARS)?;
        }
        check_notify_url(&order.notify_url)?;
        if order.total.is_zero() {
            return Err(PayError::InvalidRequest("total must be more than zero".to_owned()));
        }
        check_text("payer_openid", &order.payer_openid, 1, 128)?;
        let config = &self.inner.config;
        let body = JsapiBody {
            appid: &config.appid,
            mchid: &config.mchid,
            description: &order.description,
            out_trade_no: order.out_trade_no.as_str(),
            time_expire: order.time_expire.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, false)),
            attach: order.attach.as_deref(),
            notify_url: &order.notify_url,
            amount: JsapiAmount { total: order.total, currency: "CNY" },
            payer: JsapiPayer { openid: &order.payer_openid },
        };
        let reply: PrepayReply =
            self.json(Method::POST, "/v3/pay/transactions/jsapi", Some(&body)).await?;
        Ok(PrepayId(reply.prepay_id))
    }

    /// Queries an order by out_trade_no
    /// (`GET /v3/pay/transactions/out-trade-no/{no}?mchid=…`).
    pub async fn query_order(&self, out_trade_no: &OutTradeNo) -> Result<Transaction, PayError> {
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{}?mchid={}",
            out_trade_no.as_str(),
            self.inner.config.mchid
        );
        self.json::<(), _>(Method::GET, &path, None).await
    }

    /// Closes an unpaid order (`POST /v3/pay/transactions/out-trade-no/{no}/close` → 204).
    /// Closing an order that is already closed is `Ok` (a signed `ORDER_CLOSED` answer counts
    /// as success), so the call can be retried freely; an unsigned one stays an error.
    pub async fn close_order(&self, out_trade_no: &OutTradeNo) -> Result<(), PayError> {
        let path = format!("/v3/pay/transactions/out-trade-no/{}/close", out_trade_no.as_str());
        let body = CloseBody { mchid: &self.inner.config.mchid };
        let body = serde_json::to_string(&body)
            .map_err(|error| PayError::InvalidRequest(error.to_string()))?;
        match self.send(Method::POST, &path, Some(body), Check::Signed).await {
            Ok(_) => Ok(()),
            Err(PayError::Api { code: ErrorCode::OrderClosed, signed: true, .. }) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Requests a refund (`POST /v3/refund/domestic/refunds`). Retrying with the same
    /// out_refund_no is safe: WeChat Pay refunds at most once per number.
    pub async fn refund(&self, request: &RefundRequest) -> Result<Refund, PayError> {
        if request.refund.is_zero() {
            return Err(PayError::InvalidRequest("refund must be more than zero".to_owned()));
        }
        if request.refund > request.total {
            return Err(PayError::InvalidRequest("refund exceeds the order total".to_owned()));
        }
        if let Some(reason) = &request.reason {
            check_text("reason", reason, 0, MAX_REASON_CHARS)?;
        }
        if let Some(url) = &request.notify_url {
            check_notify_url(url)?;
        }
        let body = RefundBody {
            out_trade_no: request.out_trade_no.as_str(),
            out_refund_no: request.out_refund_no.as_str(),
            reason: request.reason.as_deref(),
            notify_url: request.notify_url.as_deref(),
            amount: RefundBodyAmount {
                refund: request.refund,
                total: request.total,
                currency: "CNY",
            },
        };
        self.json(Method::POST, "/v3/refund/domestic/refunds", Some(&body)).await
    }

    /// Queries a refund (`GET /v3/refund/domestic/refunds/{out_refund_no}`).
    pub async fn query_refund(&self, out_refund_no: &OutRefundNo) -> Result<Refund, PayError> {
        let path = format!("/v3/refund/domestic/refunds/{}", out_refund_no.as_str());
        self.json::<(), _>(Method::GET, &path, None).await
    }

    /// Downloads and parses the `ALL` trade bill of a day: asks for it
    /// (`GET /v3/bill/tradebill?bill_date=…&bill_type=ALL`), downloads the file with a signed
    /// GET of the download URL's path and query **sent to the configured base URL** (the host
    /// in the answer is not used, so signed requests never go elsewhere), checks its SHA1 and
    /// parses it. The file itself is not signed. Bills of day D are ready after 10:00 on D+1;
    /// before that WeChat Pay answers `NO_STATEMENT_EXIST` or `STATEMENT_CREATING`.
    pub async fn trade_bill(&self, date: NaiveDate) -> Result<TradeBill, PayError> {
        let path =
            format!("/v3/bill/tradebill?bill_date={}&bill_type=ALL", date.format("%Y-%m-%d"));
        let info: BillDownload = self.json::<(), _>(Method::GET, &path, None).await?;
        let download = Url::parse(&info.download_url)
            .map_err(|_| PayError::BadResponse("download_url is not a URL".to_owned()))?;
        let reply =
            self.send(Method::GET, &path_and_query(&download), None, Check::Unsigned).await?;
        check_hash(&reply.body, &info.hash_type, &info.hash_value)?;
        Ok(parse_trade_bill(&reply.body)?)
    }

    /// Sends a JSON request and parses the verified JSON answer.
    async fn json<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, PayError> {
        let body = body
            .map(serde_json::to_string)
            .transpose()
            .map_err(|error| PayError::InvalidRequest(error.to_string()))?;
        let reply = self.send(method, path, body, Check::Signed).await?;
        serde_json::from_slice(&reply.body)
            .map_err(|error| PayError::BadResponse(format!("unexpected JSON: {error}")))
    }

    /// Signs and sends one request; reads, verifies and classifies the answer.
    async fn send(
        &self,
        method: Method,
        path_and_query_text: &str,
        body: Option<String>,
        check: Check,
    ) -> Result<Reply, PayError> {
        let config = &self.inner.config;
        // Built on the configured base (never `join`, which would follow a `//host` path).
        let mut url = self.inner.base.clone();
        let (path, query) = match path_and_query_text.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path_and_query_text, None),
        };
        url.set_path(path);
        url.set_query(query);
        let signed_url = path_and_query(&url);
        let timestamp = Utc::now().timestamp();
        let nonce = new_nonce()?;
        let body_text = body.unwrap_or_default();
        let auth = authorization(
            &config.signer,
            method.as_str(),
            &signed_url,
            &body_text,
            timestamp,
            &nonce,
        )?;
        let accept = if check == Check::Unsigned { "*/*" } else { "application/json" };
        let mut request =
            self.http.request(method, url).header(AUTHORIZATION, auth).header(ACCEPT, accept);
        if !body_text.is_empty() {
            request = request.header(CONTENT_TYPE, "application/json").body(body_text);
        }
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        let headers = signed_headers(response.headers());
        let limit = if check == Check::Unsigned { MAX_BILL_BYTES } else { MAX_JSON_BYTES };
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > limit {
                return Err(PayError::BadResponse(format!("answer larger than {limit} bytes")));
            }
            bytes.extend_from_slice(&chunk);
        }
        let has_signature = response.headers().contains_key(HEADER_SIGNATURE);
        let must_verify = check == Check::Signed && (status.is_success() || has_signature);
        if must_verify {
            let headers = headers.map_err(|error| {
                tracing::warn!(%error, path = signed_url, "unsigned WeChat Pay answer refused");
                PayError::Verify(error)
            })?;
            verify(&config.verifier, &headers, &bytes, Utc::now()).map_err(|error| {
                match &error {
                    VerifyError::UnknownSerial(serial) => tracing::warn!(
                        serial,
                        known = ?config.verifier.ids(),
                        path = signed_url,
                        "WeChat Pay answer signed with an unknown key serial; refused"
                    ),
                    _ => tracing::warn!(%error, path = signed_url, "WeChat Pay answer refused"),
                }
                PayError::Verify(error)
            })?;
        }
        if status.is_success() {
            return Ok(Reply { body: bytes });
        }
        let error = match ApiError::from_body(status.as_u16(), &bytes) {
            Some(api) => match PayError::from(api) {
                // Verified above whenever it carried a signature.
                PayError::Api { status, code, message, .. } => {
                    PayError::Api { status, code, message, signed: must_verify }
                }
                other => other,
            },
            None => PayError::UnexpectedStatus { status: status.as_u16() },
        };
        tracing::debug!(%error, path = signed_url, "WeChat Pay error answer");
        Err(error)
    }
}

fn transport(error: reqwest::Error) -> PayError {
    // Timeouts, refused or reset connections, and broken bodies are all worth a retry with
    // the same numbers.
    PayError::Transport(error.without_url().to_string())
}

fn signed_headers(headers: &HeaderMap) -> Result<SignedHeaders, VerifyError> {
    SignedHeaders::from_lookup(|name| {
        headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
    })
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::keys::RsaPublicKey;
    use crate::keys::test_keys::*;

    #[test]
    fn request_payment_signs_the_documented_message() {
        let signer = MerchantSigner::from_pem("1900000001", "S1", MERCHANT_KEY).expect("key");
        let prepay = PrepayId("wx201410272009395522657a690389285100".to_owned());
        let params = request_payment_params(
            "wx8888888888888888",
            &signer,
            &prepay,
            1414561699,
            "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
        )
        .expect("sign");
        assert_eq!(params.package, "prepay_id=wx201410272009395522657a690389285100");
        assert_eq!(params.sign_type, "RSA");
        assert_eq!(params.time_stamp, "1414561699");
        let message = "wx8888888888888888\n1414561699\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\nprepay_id=wx201410272009395522657a690389285100\n";
        let public = RsaPublicKey::from_pem(MERCHANT_PUB).expect("pub");
        assert!(
            public.verify(message.as_bytes(), &STANDARD.decode(&params.pay_sign).expect("b64"))
        );
        let json = serde_json::to_value(&params).expect("json");
        for key in ["timeStamp", "nonceStr", "package", "signType", "paySign"] {
            assert!(json.get(key).is_some(), "{key} in {json}");
        }
    }

    #[test]
    fn notify_url_rules() {
        assert!(check_notify_url("https://pay.example.com/notify/wechat").is_ok());
        assert!(check_notify_url("http://127.0.0.1:8080/notify").is_ok());
        assert!(check_notify_url("http://pay.example.com/notify").is_err());
        assert!(check_notify_url("https://pay.example.com/notify?x=1").is_err());
        assert!(check_notify_url("not a url").is_err());
    }

    #[test]
    fn config_is_checked() {
        let signer = MerchantSigner::from_pem("1900000001", "S1", MERCHANT_KEY).expect("key");
        let good = WechatPayConfig::new("wxapp", signer, VerifierKeys::new());
        assert_eq!(good.base_url, DEFAULT_BASE_URL);
        assert!(WechatPayClient::new(good.clone()).is_ok());
        let with_path =
            WechatPayConfig { base_url: "https://x.example/v3".to_owned(), ..good.clone() };
        assert!(matches!(WechatPayClient::new(with_path), Err(PayError::Config(_))));
        let other_mchid = WechatPayConfig { mchid: "1900000002".to_owned(), ..good.clone() };
        assert!(matches!(WechatPayClient::new(other_mchid), Err(PayError::Config(_))));
        let no_appid = WechatPayConfig { appid: " ".to_owned(), ..good };
        assert!(matches!(WechatPayClient::new(no_appid), Err(PayError::Config(_))));
    }

    #[test]
    fn time_expire_format() {
        let t = DateTime::parse_from_rfc3339("2026-03-14T10:00:00+08:00").expect("time");
        assert_eq!(t.to_rfc3339_opts(SecondsFormat::Secs, false), "2026-03-14T10:00:00+08:00");
    }
}
