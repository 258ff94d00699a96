//! WeChat Pay API v3 for baoming: pure protocol functions plus a small client over them.
//!
//! Signing a request as the merchant, and verifying a notification as WeChat Pay sends it
//! (here with the published development keys of the local simulator, `baoming-dev-keys`;
//! production loads real ones from configuration):
//!
//! ```
//! use baoming_dev_keys as dev;
//! use baoming_payments::keys::{MerchantSigner, RsaSigningKey, VerifierKeys};
//! use baoming_payments::sign::{authorization, verify_request};
//! use baoming_payments::verify::{VerifyError, sign_response, verify};
//! use chrono::{TimeZone, Utc};
//!
//! let now = Utc.timestamp_opt(1_780_000_000, 0).single().ok_or("time")?;
//!
//! // The merchant signs a request (`METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, SHA256withRSA).
//! let merchant = MerchantSigner::from_pem(dev::MCHID, dev::MERCHANT_SERIAL_NO, dev::MERCHANT_PRIVATE_KEY_PEM)?;
//! let path = "/v3/pay/transactions/out-trade-no/BM0193A1B2C3?mchid=1900000109";
//! let header = authorization(&merchant, "GET", path, "", now.timestamp(), "593BEC0C930BF1AFEB40B4A08C8FB242")?;
//! assert!(header.starts_with("WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\""));
//! // WeChat Pay (or a simulator) checks it with the merchant's public key.
//! let merchant_keys = VerifierKeys::new();
//! merchant_keys.add_public_key(dev::MERCHANT_SERIAL_NO, dev::MERCHANT_PUBLIC_KEY_PEM)?;
//! verify_request(&merchant_keys, &header, "GET", path, b"", now)?;
//!
//! // WeChat Pay signs a notification (`TIMESTAMP\nNONCE\nBODY\n`); the service verifies it over
//! // the raw body bytes with the WeChat Pay public key trusted under that serial.
//! let wechat_pay = RsaSigningKey::from_pem(dev::PLATFORM_PRIVATE_KEY_1_PEM)?;
//! let body = br#"{"id":"EV-2018022511223320873","event_type":"TRANSACTION.SUCCESS"}"#;
//! let headers = sign_response(&wechat_pay, dev::PLATFORM_PUB_KEY_ID_1, now.timestamp(), "fdasfwqewlkja484w", body)?;
//! let trusted = VerifierKeys::new();
//! trusted.add_public_key(dev::PLATFORM_PUB_KEY_ID_1, dev::PLATFORM_PUBLIC_KEY_1_PEM)?;
//! verify(&trusted, &headers, body, now)?;
//!
//! // One byte changed, or the same message replayed ten minutes later: refused.
//! let forged = br#"{"id":"EV-2018022511223320874","event_type":"TRANSACTION.SUCCESS"}"#;
//! assert_eq!(verify(&trusted, &headers, forged, now), Err(VerifyError::BadSignature));
//! let later = now + chrono::Duration::minutes(10);
//! assert_eq!(verify(&trusted, &headers, body, later), Err(VerifyError::TimestampSkew));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! * [`keys`]: the merchant signing key ([`keys::MerchantSigner`]) and the trusted WeChat Pay
//!   public keys by serial ([`keys::VerifierKeys`]; public-key ids and platform
//!   certificates, several at once for rotation).
//! * [`sign`]: request signing (`METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, the
//!   `Authorization: WECHATPAY2-SHA256-RSA2048 …` header, nonces) and, for tests and
//!   simulators, parsing and checking that header.
//! * [`verify`](mod@verify): checking `Wechatpay-*` signatures on responses and notifications over the
//!   raw body bytes; pure (the time is a parameter), every refusal a typed
//!   [`verify::VerifyError`]. [`verify::sign_response`] is the other side.
//! * [`notify`]: notification envelopes, AES-256-GCM resource decryption with the APIv3 key,
//!   and the typed payloads ([`notify::Transaction`], [`notify::RefundNotice`]).
//! * [`numbers`]: merchant order and refund numbers, derived deterministically from uuids
//!   so that retries reuse them.
//! * [`bill`]: parsing (and rendering) the daily trade bill, exact yuan → fen, SHA1 check.
//! * [`errors`]: WeChat Pay error codes and [`errors::PayError`] with
//!   [`errors::PayError::retryable`].
//! * [`client`]: [`client::WechatPayClient`]: JSAPI orders, `wx.requestPayment` parameters,
//!   order query and close, refunds, trade bills. Every request is signed and every answer
//!   verified before it is read.
//!
//! The main items are also re-exported at the crate root.
//!
//! Nothing here uses floating point for money, and no function panics on bad input.

#![warn(missing_docs)]

pub mod bill;
pub mod client;
pub mod errors;
pub mod keys;
pub mod notify;
pub mod numbers;
pub mod reconcile;
pub mod sign;
pub mod verify;

pub use crate::bill::{
    BillError, BillRow, BillSummary, TradeBill, check_hash, parse_trade_bill, render_trade_bill,
    sha1_hex,
};
pub use crate::client::{
    BillDownload, DEFAULT_BASE_URL, JsapiOrder, PrepayId, Refund, RefundAmount, RefundRequest,
    RequestPayment, WechatPayClient, WechatPayConfig, request_payment_params,
};
pub use crate::errors::{ApiError, ErrorCode, PayError};
pub use crate::keys::{
    KeyError, MerchantSigner, RsaPublicKey, RsaSigningKey, SignError, VerifierKeys,
};
pub use crate::notify::{
    ApiV3Key, ApiV3KeyError, DecryptError, EVENT_REFUND_ABNORMAL, EVENT_REFUND_CLOSED,
    EVENT_REFUND_SUCCESS, EVENT_TRANSACTION_SUCCESS, EncryptedResource, Notification, Payer,
    RefundNotice, RefundNoticeAmount, RefundStatus, TradeState, Transaction, TransactionAmount,
    decrypt_refund, decrypt_resource, decrypt_transaction, encrypt_resource, new_resource_nonce,
};
pub use crate::numbers::{NumberError, OutRefundNo, OutTradeNo};
pub use crate::sign::{
    AuthorizationError, AuthorizationHeader, authorization, new_nonce, parse_authorization,
    signing_message, verify_request,
};
pub use crate::verify::{SignedHeaders, VerifyError, sign_response, verify};
