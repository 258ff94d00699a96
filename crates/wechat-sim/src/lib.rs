//! A local, protocol-faithful simulator of the WeChat mini-program server API, served over
//! real HTTP (actix-web) on loopback, for development runs and tests.
//!
//! Endpoints (as the project's WeChat protocol notes and WeChat's documentation describe them):
//!
//! * `GET /sns/jscode2session?appid=&secret=&js_code=&grant_type=authorization_code` →
//!   `{"session_key": "…", "openid": "…", "unionid"?: "…"}` (served as `text/plain`, as the
//!   real endpoint does).
//! * `POST /cgi-bin/stable_token` `{grant_type:"client_credential", appid, secret,
//!   force_refresh?}` → `{"access_token": "…", "expires_in": 7200}`.
//! * `POST /cgi-bin/message/subscribe/send?access_token=…` `{touser, template_id, page?,
//!   data:{key:{value}}, miniprogram_state?, lang?}` → `{"errcode":0,"errmsg":"ok"}`.
//! * `GET /_sim/sent_messages` (simulator only) → every recorded subscribe message as JSON.
//!
//! Errors come back as WeChat sends them: HTTP 200 with `{"errcode": n, "errmsg": "…, rid: …"}`.
//!
//! # Login codes
//!
//! * **Stable identities.** The *stem* of a `js_code` is everything before its first `.` or
//!   `#`. The openid is `o` followed by the first 27 characters of URL-safe base64 of
//!   SHA-256(`appid` + `":"` + stem), so `user1`, `user1#2` and `user1.phone` all log in as
//!   the same person, and a developer can log in as that person again with a fresh code.
//!   When unionids are enabled ([`Simulator::set_unionid`]) the unionid is `o` + the first 27
//!   characters of base64url(SHA-256(`"unionid:"` + stem)).
//! * **Single use.** Each exact `js_code` succeeds once; again it answers
//!   `40163 code been used`. Answers with an error do not use the code up.
//! * **Errors on demand over HTTP.** A `js_code` of the form `err_<errcode>_<anything>` (for
//!   example `err_40029_a`, `err_-1_retry`, `err_45011_x`, `err_40226_x`) answers that errcode.
//!   In-process callers can queue errors with [`Simulator::fail_next_login`].
//! * Other checks, in order: missing `appid` 41002, wrong `appid` 40013, missing `secret`
//!   41004, wrong `secret` 40125, `grant_type` other than `authorization_code` 40002, missing
//!   `js_code` 41008, an empty stem or a code longer than 256 bytes 40029.
//!
//! # Access tokens
//!
//! One token is current at a time and is returned (with the seconds it has left as
//! `expires_in`) until less than 5 minutes remain (scaled down for short test lifetimes,
//! see [`Simulator::set_token_ttl`]); then a new one is issued while the old one stays valid
//! until it expires. `force_refresh: true` issues a new token and invalidates all earlier ones.
//! A send with an unknown token answers 40001, with an expired one 42001
//! ([`Simulator::expire_tokens`]), without one 41001.
//!
//! # Subscribe messages
//!
//! `touser` must look like an openid this simulator issues (else 40003), `template_id` must be
//! non-empty `[A-Za-z0-9_-]` (else 40037); `data` must be a non-empty object of
//! `{"value": "…"}` entries whose values respect WeChat's limits per keyword type (`thing` ≤ 20
//! characters, `phrase` ≤ 5, `number` digits ≤ 32, …), `miniprogram_state` one of
//! `developer|trial|formal`, `lang` one of `zh_CN|en_US|zh_HK|zh_TW` (else 47003). A body that
//! is not a JSON object answers 47001 (data format error), as WeChat does.

#![warn(missing_docs)]

mod encoding;
mod state;

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use serde::Serialize;
use serde_json::Value;

use crate::state::State;

/// The app the simulator accepts: requests with another appid or secret are refused.
#[derive(Clone)]
pub struct SimConfig {
    /// The mini-program's appid (for example `wx0000000000000000`).
    pub appid: String,
    /// The mini-program's app secret.
    pub secret: String,
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig").field("appid", &self.appid).field("secret", &"…").finish()
    }
}

/// A subscribe message the simulator accepted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SentMessage {
    /// The recipient's openid.
    pub touser: String,
    /// The template.
    pub template_id: String,
    /// The mini-program page the message opens, if any.
    pub page: Option<String>,
    /// The template data exactly as received: `{"thing1": {"value": "…"}, …}`.
    pub data: Value,
    /// `developer`, `trial` or `formal`, if given.
    pub miniprogram_state: Option<String>,
    /// `zh_CN`, `en_US`, `zh_HK` or `zh_TW`, if given.
    pub lang: Option<String>,
}

type Shared = Arc<Mutex<State>>;

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running simulator. Dropping it stops the server.
pub struct Simulator {
    addr: SocketAddr,
    state: Shared,
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

/// Starts the simulator on the current Tokio (or actix) runtime. `bind` may use port 0; the
/// chosen address is [`Simulator::addr`]. The server lives as long as the runtime, until
/// [`Simulator::stop`] or drop.
pub async fn start(bind: SocketAddr, config: SimConfig) -> std::io::Result<Simulator> {
    let (server, addr, state) = build(bind, config)?;
    let handle = server.handle();
    tokio::spawn(async move {
        if let Err(error) = server.await {
            tracing::error!(%error, "WeChat simulator stopped with an error");
        }
    });
    Ok(Simulator { addr, state, handle: Some(handle), thread: None })
}

/// Starts the simulator on its own thread with its own runtime, for synchronous callers
/// (non-async tests, a binary's `main` before its runtime exists).
pub fn start_in_background(bind: SocketAddr, config: SimConfig) -> std::io::Result<Simulator> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (server, addr, state) = build(bind, config)?;
    let handle = server.handle();
    let thread = std::thread::Builder::new().name("wechat-sim".to_owned()).spawn(move || {
        if let Err(error) = runtime.block_on(server) {
            tracing::error!(%error, "WeChat simulator stopped with an error");
        }
    })?;
    Ok(Simulator { addr, state, handle: Some(handle), thread: Some(thread) })
}

fn build(bind: SocketAddr, config: SimConfig) -> std::io::Result<(Server, SocketAddr, Shared)> {
    let state: Shared = Arc::new(Mutex::new(State::new(config.appid, config.secret)));
    let data = web::Data::from(Arc::clone(&state));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .route("/sns/jscode2session", web::get().to(jscode2session))
            .route("/cgi-bin/stable_token", web::post().to(stable_token))
            .route("/cgi-bin/message/subscribe/send", web::post().to(subscribe_send))
            .route("/_sim/sent_messages", web::get().to(list_sent))
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
    tracing::info!(%addr, "WeChat simulator listening");
    Ok((server.run(), addr, state))
}

impl Simulator {
    /// The base URL to configure as the WeChat API base, e.g. `http://127.0.0.1:54321`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the simulator listens on (loopback when bound to an unspecified address).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits until it has stopped.
    pub async fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.stop(true).await;
        }
        // A background thread ends on its own once its server has stopped.
        drop(self.thread.take());
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Queues an error for the next `jscode2session` request (which answers `errcode` with
    /// its errmsg, whatever it asks, without using its code up). Several calls queue several.
    pub fn fail_next_login(&self, errcode: i64) {
        self.state().push_login_fault(errcode);
    }

    /// Queues an error for the next `stable_token` request.
    pub fn fail_next_token(&self, errcode: i64) {
        self.state().push_token_fault(errcode);
    }

    /// Queues an error for the next subscribe-message send (e.g. 43101 user refused).
    pub fn fail_next_send(&self, errcode: i64) {
        self.state().push_send_fault(errcode);
    }

    /// Every subscribe message accepted so far, oldest first.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.state().sent_messages()
    }

    /// How many access tokens have been issued (a returned cached token does not count).
    pub fn tokens_issued(&self) -> usize {
        self.state().tokens_issued()
    }

    /// How many logins succeeded.
    pub fn logins(&self) -> usize {
        self.state().logins()
    }

    /// Marks every issued access token as expired now: sends with them answer 42001 and the
    /// next `stable_token` issues a new one.
    pub fn expire_tokens(&self) {
        self.state().expire_tokens();
    }

    /// Sets the lifetime of tokens issued from now on (default 7200 s, clamped to 1 s … 366 days). The
    /// renewal window is 5 minutes or half the lifetime, whichever is shorter.
    pub fn set_token_ttl(&self, ttl: Duration) {
        self.state().set_token_ttl(ttl);
    }

    /// Whether logins also return a `unionid` (default: no, as for a mini-program not bound
    /// to an open-platform account).
    pub fn set_unionid(&self, enabled: bool) {
        self.state().set_unionid(enabled);
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            // The stop command is sent eagerly; the returned future only waits for it.
            drop(handle.stop(false));
        }
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!("the WeChat simulator thread panicked");
        }
    }
}

/// Query parameters; the first occurrence of a name wins, an unparsable query is empty.
fn query_params(request: &HttpRequest) -> HashMap<String, String> {
    let pairs = web::Query::<Vec<(String, String)>>::from_query(request.query_string())
        .map(web::Query::into_inner)
        .unwrap_or_default();
    let mut params = HashMap::new();
    for (name, value) in pairs {
        params.entry(name).or_insert(value);
    }
    params
}

fn json_reply(value: &Value, content_type: &str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(value.to_string())
}

async fn jscode2session(state: web::Data<Mutex<State>>, request: HttpRequest) -> HttpResponse {
    let reply = lock(&state).login(&query_params(&request));
    // The real endpoint labels its JSON `text/plain`.
    json_reply(&reply, "text/plain")
}

async fn stable_token(state: web::Data<Mutex<State>>, body: web::Bytes) -> HttpResponse {
    let reply = lock(&state).stable_token(&body);
    json_reply(&reply, "application/json; encoding=utf-8")
}

async fn subscribe_send(
    state: web::Data<Mutex<State>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let reply = lock(&state).send(&query_params(&request), &body);
    json_reply(&reply, "application/json; encoding=utf-8")
}

async fn list_sent(state: web::Data<Mutex<State>>) -> HttpResponse {
    let sent = lock(&state).sent_messages();
    HttpResponse::Ok().json(sent)
}
