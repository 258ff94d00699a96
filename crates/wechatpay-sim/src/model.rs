//! The simulator's public data types: fault switches, what it records, its errors.

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Fault switches, as `POST /_sim/pay/faults` takes them (every field optional; an absent field
/// leaves its switch as it is). See the crate documentation for what each one does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Drop the next N notifications: never delivered, no retries (replaces the remaining
    /// count; 0 turns dropping off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_notifications: Option<u32>,
    /// Deliver every notification twice (the second copy right after the first is accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_notifications: Option<bool>,
    /// Hold each notification this many milliseconds before its first attempt (0 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_delay_ms: Option<u64>,
    /// Hold notifications instead of sending them; setting it back to `false` releases the
    /// held batch **in reverse order** (newest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_notifications: Option<bool>,
    /// Answer the next API call whose path starts with the given prefix with an error, once.
    /// Each call of the fault endpoint queues one more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_next: Option<ApiFailure>,
    /// The next N refunds end ABNORMAL instead of SUCCESS (replaces the remaining count).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abnormal_refunds: Option<u32>,
    /// The next N refunds end CLOSED instead of SUCCESS (replaces the remaining count; the
    /// abnormal count is used up first). A closed refund's amount may be refunded again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_refunds: Option<u32>,
    /// Expire this (unpaid) order now: it reads CLOSED from then on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_order: Option<String>,
    /// Precede each of the next N notifications by one signature probe: the same body signed
    /// `WECHATPAY/SIGNTEST/…`, which a correct receiver must reject (never retried).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_test_probes: Option<u32>,
}

/// A one-shot API error (see [`Faults::fail_next`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFailure {
    /// The request path prefix it matches, e.g. `/v3/refund/domestic/refunds` or `/v3/` for any.
    pub path_prefix: String,
    /// The HTTP status (400–599, default 500).
    #[serde(default = "default_failure_status")]
    pub status: u16,
    /// The error code (default `SYSTEM_ERROR`; e.g. `FREQUENCY_LIMITED` with status 429).
    #[serde(default = "default_failure_code")]
    pub code: String,
    /// `false` (default): answer the error without doing anything. `true`: do the work (order,
    /// close, refund …) and then answer the error, as when a reply is lost on the way back.
    #[serde(default)]
    pub after_processing: bool,
    /// `true`: answer the error without WeChat Pay's signature, as a proxy or a forger on the
    /// way would (default `false`: signed, as WeChat Pay signs its error answers).
    #[serde(default)]
    pub unsigned: bool,
}

fn default_failure_status() -> u16 {
    500
}

fn default_failure_code() -> String {
    "SYSTEM_ERROR".to_owned()
}

impl ApiFailure {
    /// A `500 SYSTEM_ERROR` before processing, for paths starting with `path_prefix`.
    pub fn system_error(path_prefix: impl Into<String>) -> Self {
        Self {
            path_prefix: path_prefix.into(),
            status: default_failure_status(),
            code: default_failure_code(),
            after_processing: false,
            unsigned: false,
        }
    }
}

/// The fault switches now in force (`GET`/`POST /_sim/pay/faults`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultStatus {
    /// How many of the next notifications will still be dropped.
    pub drop_notifications: u32,
    /// Whether every notification is delivered twice.
    pub duplicate_notifications: bool,
    /// The delay before each first attempt, in milliseconds.
    pub notification_delay_ms: u64,
    /// Whether notifications are being held.
    pub hold_notifications: bool,
    /// How many notifications are held now.
    pub held_notifications: usize,
    /// The one-shot API errors still queued, oldest first.
    pub fail_next: Vec<ApiFailure>,
    /// How many of the next refunds will end ABNORMAL.
    pub abnormal_refunds: u32,
    /// How many of the next refunds will end CLOSED.
    pub closed_refunds: u32,
    /// How many of the next notifications will be preceded by a signature probe.
    pub sign_test_probes: u32,
}

/// What became of a notification (`GET /_sim/pay/notifications`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationFate {
    /// Being delivered (or waiting for a retry).
    Sending,
    /// Dropped by the drop fault: never sent.
    Dropped,
    /// Held by the hold fault until released.
    Held,
    /// Accepted by the receiver (HTTP 200 or 204).
    Delivered,
    /// Every attempt of the retry schedule failed.
    GaveUp,
    /// The simulator stopped before it was delivered.
    Abandoned,
}

/// A notification the simulator produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NotificationRecord {
    /// The notification id (`id` in its body), the same on every attempt.
    pub id: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS` or `REFUND.ABNORMAL`.
    pub event_type: String,
    /// The order it is about.
    pub out_trade_no: String,
    /// The refund it is about, for refund events.
    pub out_refund_no: Option<String>,
    /// Where it is sent.
    pub url: String,
    /// What became of it.
    pub fate: NotificationFate,
    /// The decrypted resource (the transaction or refund JSON), for inspection.
    pub resource: Value,
}

/// One attempt to deliver a notification (`GET /_sim/pay/deliveries`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeliveryAttempt {
    /// The notification id.
    pub notification_id: String,
    /// Its event type.
    pub event_type: String,
    /// The order it is about.
    pub out_trade_no: String,
    /// The refund it is about, for refund events.
    pub out_refund_no: Option<String>,
    /// 1 for the first copy, 2 for the duplicate (duplicate fault).
    pub copy: u32,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// Whether this was a signature probe (`WECHATPAY/SIGNTEST/…`).
    pub probe: bool,
    /// The URL it went to.
    pub url: String,
    /// The platform key id in `Wechatpay-Serial`.
    pub serial: String,
    /// When it was sent (RFC 3339, Beijing time).
    pub at: String,
    /// The HTTP status the receiver answered, if it answered.
    pub status: Option<u16>,
    /// The transport error (connection refused, timeout …), if it did not answer.
    pub error: Option<String>,
}

/// An error of a simulator control (in-process or over HTTP): the HTTP status and the
/// WeChat-style `{code, message}` the control endpoint answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimError {
    /// The HTTP status.
    pub status: u16,
    /// The error code, e.g. `ORDER_CLOSED` or `ORDER_NOT_EXIST`.
    pub code: String,
    /// A human-readable message.
    pub message: String,
}

impl SimError {
    pub(crate) fn new(status: u16, code: &str, message: impl Into<String>) -> Self {
        Self { status, code: code.to_owned(), message: message.into() }
    }

    pub(crate) fn body(&self) -> Value {
        json!({ "code": self.code, "message": self.message })
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for SimError {}
