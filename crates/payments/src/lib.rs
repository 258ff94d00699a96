//! WeChat Pay API v3 for baoming: pure protocol functions plus a small client over them.
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
