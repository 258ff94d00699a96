//! The errors of the WeChat client, classified from WeChat's `errcode`s.

/// What went wrong talking to WeChat. Texts never contain the app secret, access tokens or
/// session keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WechatError {
    /// `-1`: WeChat is busy; retry shortly.
    #[error("WeChat is busy (errcode -1)")]
    Busy,
    /// `40029` invalid code, `40163` code already used, `41008` missing code: the login code
    /// cannot be exchanged; the mini-program must call `wx.login` again.
    #[error("the login code is invalid or already used")]
    InvalidCode,
    /// `45011` (per-user minute quota) or `45009` (daily API quota): retry after a pause.
    #[error("WeChat rate limit reached")]
    RateLimited,
    /// `40226`: WeChat flags the user as high-risk and blocks the login.
    #[error("WeChat blocked a high-risk user (errcode 40226)")]
    HighRisk,
    /// `43101`: the user has not accepted (or has cancelled) the subscription; not an error
    /// to retry.
    #[error("the user has not subscribed to this message (errcode 43101)")]
    UserRefused,
    /// `47003` argument invalid (e.g. a template value over its length limit) or `47001`
    /// data format error.
    #[error("WeChat rejected the message data")]
    BadData,
    /// WeChat rejected the app's credentials or an identifier: `40001`/`40014`/`42001`
    /// (access token invalid/expired), `40013`/`40125`/`40164`/`41002`/`41004` (appid,
    /// secret, IP whitelist), `40002` (grant type), `40003` (openid), `40037` (template id).
    #[error("WeChat rejected a credential or identifier (errcode {errcode})")]
    InvalidCredential {
        /// WeChat's errcode.
        errcode: i64,
    },
    /// Any other WeChat error.
    #[error("WeChat error {errcode}: {errmsg}")]
    Other {
        /// WeChat's errcode.
        errcode: i64,
        /// WeChat's errmsg (shortened).
        errmsg: String,
    },
    /// The request did not complete: no connection, a timeout, or an HTTP 5xx/429 from a
    /// gateway. Retryable.
    #[error("could not reach WeChat: {0}")]
    Transport(String),
    /// WeChat answered something this client does not understand.
    #[error("unexpected response from WeChat: {0}")]
    BadResponse(String),
    /// The client's configuration is unusable (bad base URL, empty appid or secret).
    #[error("invalid WeChat client configuration: {0}")]
    Config(String),
}

impl WechatError {
    /// Classifies a non-zero WeChat `errcode`.
    pub fn from_errcode(errcode: i64, errmsg: &str) -> Self {
        match errcode {
            -1 => Self::Busy,
            40029 | 40163 | 41008 => Self::InvalidCode,
            45009 | 45011 => Self::RateLimited,
            40226 => Self::HighRisk,
            43101 => Self::UserRefused,
            47001 | 47003 => Self::BadData,
            40001 | 40002 | 40003 | 40013 | 40014 | 40037 | 40125 | 40164 | 41001 | 41002
            | 41004 | 42001 => Self::InvalidCredential { errcode },
            _ => Self::Other { errcode, errmsg: errmsg.chars().take(200).collect() },
        }
    }

    /// Whether repeating the same request later may succeed (busy, rate limited, transport
    /// failures). Retry with backoff; a login must retry with the same code within minutes.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Busy | Self::RateLimited | Self::Transport(_))
    }

    /// WeChat's errcode behind this error, when WeChat answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Busy => Some(-1),
            Self::InvalidCredential { errcode } | Self::Other { errcode, .. } => Some(*errcode),
            Self::HighRisk => Some(40226),
            Self::UserRefused => Some(43101),
            Self::InvalidCode
            | Self::RateLimited
            | Self::BadData
            | Self::Transport(_)
            | Self::BadResponse(_)
            | Self::Config(_) => None,
        }
    }

    /// Whether this is WeChat saying the access token is invalid or expired.
    pub(crate) fn is_token_rejection(&self) -> bool {
        matches!(self, Self::InvalidCredential { errcode: 40001 | 40014 | 42001 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        assert_eq!(WechatError::from_errcode(-1, ""), WechatError::Busy);
        assert_eq!(WechatError::from_errcode(40163, ""), WechatError::InvalidCode);
        assert_eq!(
            WechatError::from_errcode(42001, ""),
            WechatError::InvalidCredential { errcode: 42001 }
        );
        assert!(WechatError::from_errcode(42001, "").is_token_rejection());
        assert!(!WechatError::from_errcode(40003, "").is_token_rejection());
        assert!(WechatError::Busy.is_retryable());
        assert!(!WechatError::UserRefused.is_retryable());
        let long = "x".repeat(1000);
        match WechatError::from_errcode(99999, &long) {
            WechatError::Other { errmsg, .. } => assert_eq!(errmsg.len(), 200),
            other => panic!("unexpected {other:?}"),
        }
    }
}
