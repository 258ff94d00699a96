//! WeChat Pay's error answers and the client's error type.

use serde::Deserialize;

use crate::bill::BillError;
use crate::keys::SignError;
use crate::notify::string_enum;
use crate::verify::VerifyError;

string_enum! {
    /// WeChat Pay's error `code`.
    ErrorCode {
        /// 400: a parameter is wrong.
        ParamError = "PARAM_ERROR",
        /// 400: the request is not allowed in the current state (e.g. parameters changed for
        /// an existing out_trade_no).
        InvalidRequest = "INVALID_REQUEST",
        /// 400: the order is closed.
        OrderClosed = "ORDER_CLOSED",
        /// 401: the request signature is wrong.
        SignError = "SIGN_ERROR",
        /// 403: the out_trade_no was already used (paid).
        OutTradeNoUsed = "OUT_TRADE_NO_USED",
        /// 403: the merchant lacks the permission.
        NoAuth = "NO_AUTH",
        /// 403: a business rule limit.
        RuleLimit = "RULE_LIMIT",
        /// 403: a trade error.
        TradeError = "TRADE_ERROR",
        /// 403: insufficient balance (refunds).
        NotEnough = "NOT_ENOUGH",
        /// 429: rate limited.
        RateLimited = "RATE_LIMITED",
        /// 429: too frequent.
        FrequencyLimited = "FREQUENCY_LIMITED",
        /// 500: WeChat Pay failed; retry with the same numbers.
        SystemError = "SYSTEM_ERROR",
        /// 404: no such order.
        OrderNotExist = "ORDER_NOT_EXIST",
        /// 404: no such resource (e.g. refund).
        ResourceNotExists = "RESOURCE_NOT_EXISTS",
        /// 400: no bill for that day (no trades, or not generated yet).
        NoStatementExist = "NO_STATEMENT_EXIST",
        /// 400: the bill is being generated; try again later.
        StatementCreating = "STATEMENT_CREATING",
    }
}

/// A WeChat Pay error answer: `{code, message, detail?}` with its HTTP status.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// The error code.
    pub code: ErrorCode,
    /// WeChat Pay's message.
    pub message: String,
    /// The optional `detail` object.
    pub detail: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: ErrorCode,
    #[serde(default)]
    message: String,
    #[serde(default)]
    detail: Option<serde_json::Value>,
}

impl ApiError {
    /// Reads an error body; `None` when it is not a WeChat Pay error object.
    pub fn from_body(status: u16, body: &[u8]) -> Option<Self> {
        let parsed: ErrorBody = serde_json::from_slice(body).ok()?;
        Some(Self { status, code: parsed.code, message: parsed.message, detail: parsed.detail })
    }
}

impl From<ApiError> for PayError {
    fn from(error: ApiError) -> Self {
        PayError::Api {
            status: error.status,
            code: error.code,
            message: error.message.chars().take(300).collect(),
            signed: false,
        }
    }
}

/// What went wrong in a WeChat Pay call.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PayError {
    /// WeChat Pay answered with an error object.
    #[error("WeChat Pay error {status} {code}: {message}")]
    Api {
        /// The HTTP status.
        status: u16,
        /// The error code.
        code: ErrorCode,
        /// The message (shortened).
        message: String,
        /// The answer carried WeChat Pay's signature and it verified. An unsigned error answer
        /// may come from anything between us and WeChat Pay: it must never change a local
        /// order's state (ask again instead).
        signed: bool,
    },
    /// An error status without a WeChat Pay error object (e.g. a gateway's 502 page).
    #[error("unexpected HTTP status {status}")]
    UnexpectedStatus {
        /// The HTTP status.
        status: u16,
    },
    /// The request did not complete: connection failure or timeout. Retryable.
    #[error("could not reach WeChat Pay: {0}")]
    Transport(String),
    /// The answer could not be read (not JSON as expected, too large, …).
    #[error("unexpected response from WeChat Pay: {0}")]
    BadResponse(String),
    /// The answer's signature did not verify (missing, unknown serial, wrong, stale, …).
    #[error("WeChat Pay response signature rejected: {0}")]
    Verify(VerifyError),
    /// A downloaded bill failed its hash check or could not be parsed.
    #[error("trade bill: {0}")]
    Bill(BillError),
    /// The request could not be signed.
    #[error("request signing failed: {0}")]
    Sign(SignError),
    /// The request itself is invalid (checked before sending).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The client configuration is unusable.
    #[error("invalid WeChat Pay configuration: {0}")]
    Config(String),
}

impl PayError {
    /// Whether the same call (with the same out_trade_no / out_refund_no) may succeed later:
    /// `SYSTEM_ERROR`, `RATE_LIMITED`, `FREQUENCY_LIMITED`, `STATEMENT_CREATING`, any 5xx,
    /// a 429 without error body, and transport failures (timeouts, connection errors).
    /// Everything else needs a change first.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Api { status, code, .. } => {
                *status >= 500
                    || matches!(
                        code,
                        ErrorCode::SystemError
                            | ErrorCode::RateLimited
                            | ErrorCode::FrequencyLimited
                            | ErrorCode::StatementCreating
                    )
            }
            Self::UnexpectedStatus { status } => *status >= 500 || *status == 429,
            Self::Transport(_) => true,
            Self::BadResponse(_)
            | Self::Verify(_)
            | Self::Bill(_)
            | Self::Sign(_)
            | Self::InvalidRequest(_)
            | Self::Config(_) => false,
        }
    }

    /// The WeChat Pay error code, if WeChat Pay answered with one.
    pub fn code(&self) -> Option<&ErrorCode> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

impl From<VerifyError> for PayError {
    fn from(error: VerifyError) -> Self {
        Self::Verify(error)
    }
}

impl From<BillError> for PayError {
    fn from(error: BillError) -> Self {
        Self::Bill(error)
    }
}

impl From<SignError> for PayError {
    fn from(error: SignError) -> Self {
        Self::Sign(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str) -> PayError {
        let body = format!(r#"{{"code":"{code}","message":"m","detail":{{"field":"x"}}}}"#);
        ApiError::from_body(status, body.as_bytes()).expect("error body").into()
    }

    #[test]
    fn error_bodies_parse() {
        let error = ApiError::from_body(400, br#"{"code":"PARAM_ERROR","message":"bad"}"#)
            .expect("error body");
        assert_eq!(error.code, ErrorCode::ParamError);
        assert_eq!(error.message, "bad");
        assert_eq!(error.detail, None);
        let other = ApiError::from_body(403, br#"{"code":"NEW_CODE"}"#).expect("error body");
        assert_eq!(other.code, ErrorCode::Other("NEW_CODE".to_owned()));
        assert_eq!(ApiError::from_body(502, b"<html>bad gateway</html>"), None);
        assert_eq!(ApiError::from_body(400, b"{\"message\":\"no code\"}"), None);
    }

    #[test]
    fn retryable_classification() {
        assert!(api(500, "SYSTEM_ERROR").retryable());
        assert!(api(429, "RATE_LIMITED").retryable());
        assert!(api(429, "FREQUENCY_LIMITED").retryable());
        assert!(api(503, "SOMETHING").retryable());
        assert!(!api(400, "PARAM_ERROR").retryable());
        assert!(!api(400, "ORDER_CLOSED").retryable());
        assert!(!api(401, "SIGN_ERROR").retryable());
        assert!(!api(403, "OUT_TRADE_NO_USED").retryable());
        assert!(!api(403, "NOT_ENOUGH").retryable());
        assert!(!api(404, "ORDER_NOT_EXIST").retryable());
        assert!(PayError::UnexpectedStatus { status: 502 }.retryable());
        assert!(!PayError::UnexpectedStatus { status: 404 }.retryable());
        assert!(PayError::Transport("timeout".to_owned()).retryable());
        assert!(!PayError::Verify(VerifyError::BadSignature).retryable());
        assert!(!PayError::BadResponse("x".to_owned()).retryable());
        assert_eq!(api(400, "PARAM_ERROR").code(), Some(&ErrorCode::ParamError));
    }
}
