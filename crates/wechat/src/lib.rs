//! A small async client for the WeChat mini-program server APIs the backend uses:
//! login (`jscode2session`), the stable access token, and subscribe messages.
//!
//! The API base is configuration, so development and tests point it at the
//! `baoming-wechat-sim` simulator on loopback. WeChat answers errors with HTTP 200 and an
//! `errcode`; those become [`WechatError`] variants.
//!
//! Secrets stay secret: the app secret, access tokens and session keys never appear in
//! errors, logs or `Debug` output.
//!
//! Logging a user in with the code of `wx.login` and sending a subscribe message, against the
//! local simulator (`baoming-wechat-sim`) standing in for `api.weixin.qq.com`:
//!
//! ```
//! use std::net::SocketAddr;
//! use std::time::Duration;
//!
//! use baoming_wechat::{SubscribeMessage, WechatClient, WechatConfig, WechatError};
//! use baoming_wechat_sim::{SimConfig, start};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (appid, secret) = ("wx1234567890abcdef", "s3cr3t-0123456789abcdef");
//! let local = SocketAddr::from(([127, 0, 0, 1], 0));
//! let sim = start(local, SimConfig { appid: appid.into(), secret: secret.into() }).await?;
//! let client = WechatClient::new(WechatConfig {
//!     api_base: sim.base_url(),
//!     appid: appid.into(),
//!     secret: secret.into(),
//!     timeout: Duration::from_secs(5),
//! })?;
//!
//! // The mini-program sends the code of `wx.login`; the server learns who the user is.
//! let session = client.code_to_session("alice").await?;
//! assert!(session.openid.starts_with('o'));
//! // A code works once (WeChat's errcode 40163).
//! assert!(matches!(client.code_to_session("alice").await, Err(WechatError::InvalidCode)));
//!
//! // A subscribe message the user consented to (`wx.requestSubscribeMessage`).
//! let message = SubscribeMessage::new(&session.openid, "TPL_registration_approved")
//!     .with_page("pages/my-exams/index")
//!     .with_field("phrase1", "审核通过");
//! client.send_subscribe_message(&message).await?;
//! assert_eq!(sim.sent_messages().len(), 1);
//! sim.stop().await;
//! # Ok(())
//! # }
//! ```

#![warn(missing_docs)]

mod error;
mod message;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{RequestBuilder, StatusCode, Url};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::Mutex;

pub use crate::error::WechatError;
pub use crate::message::{Lang, MiniprogramState, SubscribeMessage};

/// WeChat's production API base.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

/// How long before an access token's expiry it is refreshed (at most half its lifetime).
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Token lifetimes beyond this are treated as this (guards against absurd `expires_in`).
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Longest login code sent to WeChat (real codes are 32 characters).
const MAX_CODE_LEN: usize = 512;

/// Where and as which app to call WeChat.
#[derive(Clone)]
pub struct WechatConfig {
    /// The API base, e.g. [`DEFAULT_API_BASE`] or a simulator's `http://127.0.0.1:port`.
    pub api_base: String,
    /// The mini-program's appid.
    pub appid: String,
    /// The mini-program's app secret.
    pub secret: String,
    /// Timeout for each whole request (connecting included).
    pub timeout: Duration,
}

impl WechatConfig {
    /// A configuration for the production API with a 10-second timeout.
    pub fn new(appid: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            api_base: DEFAULT_API_BASE.to_owned(),
            appid: appid.into(),
            secret: secret.into(),
            timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for WechatConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatConfig")
            .field("api_base", &self.api_base)
            .field("appid", &self.appid)
            .field("secret", &"…")
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A user's WeChat session key. It must never leave the server; `Debug` does not show it and
/// there is no `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKey(String);

impl SessionKey {
    /// Wraps a session key.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The key itself (base64), for decrypting data the mini-program sends (e.g. a phone
    /// number). Do not log or return it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionKey(…)")
    }
}

/// The result of a login: who the user is for this app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The user's openid for this mini-program.
    pub openid: String,
    /// The user's unionid, when the mini-program is bound to an open-platform account.
    pub unionid: Option<String>,
    /// The session key (server-side only).
    pub session_key: SessionKey,
}

#[derive(Debug)]
struct CachedToken {
    value: String,
    refresh_at: Instant,
    expires_at: Instant,
}

struct Inner {
    config: WechatConfig,
    base: String,
    token: Mutex<Option<CachedToken>>,
}

/// The WeChat API client. Cheap to clone; clones share the HTTP connection pool and the
/// access-token cache.
#[derive(Clone)]
pub struct WechatClient {
    http: reqwest::Client,
    inner: Arc<Inner>,
}

impl fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WechatClient").field("config", &self.inner.config).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct ErrorFields {
    #[serde(default)]
    errcode: Option<i64>,
    #[serde(default)]
    errmsg: Option<String>,
}

#[derive(Deserialize)]
struct SessionReply {
    openid: String,
    session_key: String,
    #[serde(default)]
    unionid: Option<String>,
}

#[derive(Deserialize)]
struct TokenReply {
    access_token: String,
    expires_in: u64,
}

impl WechatClient {
    /// Builds a client; checks that the base URL is http(s) and the appid and secret are set.
    pub fn new(config: WechatConfig) -> Result<Self, WechatError> {
        let base = config.api_base.trim_end_matches('/').to_owned();
        let parsed = Url::parse(&base)
            .map_err(|error| WechatError::Config(format!("api_base is not a URL: {error}")))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(WechatError::Config(
                "api_base must be an http(s) URL with a host".to_owned(),
            ));
        }
        if config.appid.trim().is_empty() {
            return Err(WechatError::Config("appid is empty".to_owned()));
        }
        if config.secret.trim().is_empty() {
            return Err(WechatError::Config("secret is empty".to_owned()));
        }
        if config.timeout.is_zero() {
            return Err(WechatError::Config("timeout must be positive".to_owned()));
        }
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            // Idle connections are dropped well before a server's keep-alive (commonly 60 s)
            // would close them, so a request never races a closing connection.
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .map_err(|error| {
                WechatError::Config(format!("cannot build the HTTP client: {error}"))
            })?;
        Ok(Self { http, inner: Arc::new(Inner { config, base, token: Mutex::new(None) }) })
    }

    /// The configured appid.
    pub fn appid(&self) -> &str {
        &self.inner.config.appid
    }

    /// Exchanges a `wx.login` code for the user's openid, unionid and session key
    /// (`GET /sns/jscode2session`). An empty or absurdly long code is
    /// [`WechatError::InvalidCode`] without asking WeChat.
    pub async fn code_to_session(&self, js_code: &str) -> Result<Session, WechatError> {
        if js_code.is_empty() || js_code.len() > MAX_CODE_LEN {
            return Err(WechatError::InvalidCode);
        }
        let config = &self.inner.config;
        let mut url = self.endpoint("/sns/jscode2session")?;
        url.query_pairs_mut()
            .append_pair("appid", &config.appid)
            .append_pair("secret", &config.secret)
            .append_pair("js_code", js_code)
            .append_pair("grant_type", "authorization_code");
        let reply: SessionReply = self
            .call(self.http.get(url), "jscode2session")
            .await
            .inspect_err(|error| log_failure("jscode2session", error))?;
        if reply.openid.is_empty() || reply.session_key.is_empty() {
            return Err(WechatError::BadResponse(
                "jscode2session returned no openid or session_key".to_owned(),
            ));
        }
        Ok(Session {
            openid: reply.openid,
            unionid: reply.unionid.filter(|id| !id.is_empty()),
            session_key: SessionKey(reply.session_key),
        })
    }

    /// The app's access token (`POST /cgi-bin/stable_token`), cached and refreshed about
    /// 5 minutes (at most half its lifetime) before it expires. Concurrent callers share one
    /// refresh. If that early refresh fails, the cached token is used while it lasts.
    pub async fn access_token(&self) -> Result<String, WechatError> {
        let mut cache = self.inner.token.lock().await;
        let now = Instant::now();
        if let Some(cached) = cache.as_ref()
            && now < cached.refresh_at
        {
            return Ok(cached.value.clone());
        }
        match self.fetch_token(false).await {
            Ok(fresh) => {
                let value = fresh.value.clone();
                *cache = Some(fresh);
                Ok(value)
            }
            Err(error) => match cache.as_ref() {
                Some(cached) if Instant::now() < cached.expires_at => {
                    tracing::warn!(%error, "access token refresh failed; using the cached token");
                    Ok(cached.value.clone())
                }
                _ => Err(error),
            },
        }
    }

    /// Replaces a token WeChat rejected (40001/40014/42001). Another caller may already have
    /// replaced it; otherwise the normal-mode stable token is fetched (which hands out a
    /// token another process refreshed, without invalidating it), and only if WeChat hands
    /// back the very token it rejected is a `force_refresh` made.
    async fn renew_rejected_token(&self, rejected: &str) -> Result<String, WechatError> {
        let mut cache = self.inner.token.lock().await;
        if let Some(cached) = cache.as_ref() {
            if cached.value != rejected && Instant::now() < cached.refresh_at {
                return Ok(cached.value.clone());
            }
            if cached.value == rejected {
                *cache = None;
            }
        }
        let mut fresh = self.fetch_token(false).await?;
        if fresh.value == rejected {
            tracing::info!("WeChat still hands out the rejected access token; forcing a refresh");
            fresh = self.fetch_token(true).await?;
        }
        let value = fresh.value.clone();
        *cache = Some(fresh);
        Ok(value)
    }

    async fn fetch_token(&self, force_refresh: bool) -> Result<CachedToken, WechatError> {
        let config = &self.inner.config;
        let body = serde_json::json!({
            "grant_type": "client_credential",
            "appid": config.appid,
            "secret": config.secret,
            "force_refresh": force_refresh,
        });
        let requested_at = Instant::now();
        let url = self.endpoint("/cgi-bin/stable_token")?;
        let reply: TokenReply = self
            .call(self.http.post(url).json(&body), "stable_token")
            .await
            .inspect_err(|error| log_failure("stable_token", error))?;
        if reply.access_token.is_empty() || reply.expires_in == 0 {
            return Err(WechatError::BadResponse(
                "stable_token returned no token or no lifetime".to_owned(),
            ));
        }
        let lifetime = Duration::from_secs(reply.expires_in).min(MAX_TOKEN_LIFETIME);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        let refresh_at = requested_at.checked_add(lifetime - margin).unwrap_or(requested_at);
        let expires_at = requested_at.checked_add(lifetime).unwrap_or(refresh_at);
        tracing::debug!(
            expires_in = reply.expires_in,
            force_refresh,
            "fetched a WeChat access token"
        );
        Ok(CachedToken { value: reply.access_token, refresh_at, expires_at })
    }

    /// Sends a subscribe message (`POST /cgi-bin/message/subscribe/send`). When WeChat says
    /// the access token is invalid or expired, the token is renewed and the send retried
    /// once.
    pub async fn send_subscribe_message(&self, msg: &SubscribeMessage) -> Result<(), WechatError> {
        let token = self.access_token().await?;
        let result = match self.post_message(&token, msg).await {
            Err(error) if error.is_token_rejection() => {
                tracing::info!(
                    errcode = error.errcode(),
                    "WeChat rejected the access token; renewing it and retrying once"
                );
                let token = self.renew_rejected_token(&token).await?;
                self.post_message(&token, msg).await
            }
            other => other,
        };
        result.inspect_err(|error| log_failure("subscribe/send", error))
    }

    async fn post_message(&self, token: &str, msg: &SubscribeMessage) -> Result<(), WechatError> {
        let mut url = self.endpoint("/cgi-bin/message/subscribe/send")?;
        url.query_pairs_mut().append_pair("access_token", token);
        let _: ErrorFields = self.call(self.http.post(url).json(msg), "subscribe/send").await?;
        Ok(())
    }

    fn endpoint(&self, path: &str) -> Result<Url, WechatError> {
        Url::parse(&format!("{}{path}", self.inner.base))
            .map_err(|error| WechatError::Config(format!("api_base: {error}")))
    }

    /// Sends a request and decodes WeChat's answer: a non-zero `errcode` becomes the matching
    /// error, anything else must decode as `T`.
    async fn call<T: DeserializeOwned>(
        &self,
        request: RequestBuilder,
        what: &str,
    ) -> Result<T, WechatError> {
        let response = request.send().await.map_err(|error| self.request_error(error))?;
        let status = response.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(WechatError::Transport(format!("{what} answered HTTP {status}")));
        }
        if !status.is_success() {
            return Err(WechatError::BadResponse(format!("{what} answered HTTP {status}")));
        }
        let body = response.bytes().await.map_err(|error| self.request_error(error))?;
        // WeChat sometimes labels JSON `text/plain`, so the body is parsed whatever its type.
        let fields: ErrorFields = serde_json::from_slice(&body).map_err(|_| {
            WechatError::BadResponse(format!("{what} answered something other than WeChat JSON"))
        })?;
        if let Some(errcode) = fields.errcode.filter(|code| *code != 0) {
            return Err(WechatError::from_errcode(
                errcode,
                fields.errmsg.as_deref().unwrap_or_default(),
            ));
        }
        serde_json::from_slice(&body)
            .map_err(|error| WechatError::BadResponse(format!("{what}: {error}")))
    }

    /// A transport error's text, without the URL (whose query holds the secret or token)
    /// and with the secret scrubbed should any layer have echoed it.
    fn request_error(&self, error: reqwest::Error) -> WechatError {
        let decode = error.is_decode();
        let kind = if error.is_timeout() {
            "timed out"
        } else if error.is_connect() {
            "could not connect"
        } else {
            "request failed"
        };
        let error = error.without_url();
        let mut text = kind.to_owned();
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        let text = text.replace(self.inner.config.secret.as_str(), "…");
        if decode { WechatError::BadResponse(text) } else { WechatError::Transport(text) }
    }
}

fn log_failure(what: &str, error: &WechatError) {
    match error {
        WechatError::Transport(_) | WechatError::Busy | WechatError::RateLimited => {
            tracing::warn!(api = what, %error, "WeChat call failed (retryable)");
        }
        WechatError::InvalidCode | WechatError::UserRefused | WechatError::HighRisk => {
            tracing::info!(api = what, %error, "WeChat refused the request");
        }
        _ => tracing::error!(api = what, %error, "WeChat call failed"),
    }
}
