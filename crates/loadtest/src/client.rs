//! The API as the mini-program and the back office call it.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::stats::Outcome;

/// A failure of the set-up or of an invariant: the run stops with this message.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Failure(pub String);

/// Shorthand for a failure.
pub fn fail(message: impl Into<String>) -> Failure {
    Failure(message.into())
}

/// An HTTP client of one api.
#[derive(Debug, Clone)]
pub struct Api {
    base: String,
    http: reqwest::Client,
}

/// A back-office session.
#[derive(Debug, Clone)]
pub struct StaffSession {
    cookie: String,
    csrf: String,
}

impl Api {
    /// A client with up to `connections` pooled connections.
    pub fn new(base: &str, connections: usize) -> Result<Self, Failure> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(connections)
            // Shorter than actix-web's 5 s keep-alive: never reuse a connection the server is
            // closing at that very moment (that race shows as 408s and resets, not as load).
            .pool_idle_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| fail(format!("HTTP client: {e}")))?;
        Ok(Api { base: base.trim_end_matches('/').to_owned(), http })
    }

    /// Sends a request; the outcome (status, latency) and the JSON body (Null if none).
    pub async fn send(&self, req: reqwest::RequestBuilder) -> (Outcome, Value) {
        let started = Instant::now();
        match req.send().await {
            Ok(res) => {
                let status = res.status().as_u16();
                let body = res.bytes().await.ok();
                let latency = started.elapsed();
                let value =
                    body.and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null);
                (Outcome { status: Some(status), latency }, value)
            }
            Err(_) => (Outcome { status: None, latency: started.elapsed() }, Value::Null),
        }
    }

    /// A request to a path.
    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{path}", self.base))
    }

    /// A request with a participant's bearer token.
    pub fn as_participant(
        &self,
        method: Method,
        path: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.request(method, path).bearer_auth(token)
    }

    /// A request with a staff session.
    pub fn as_staff(
        &self,
        method: Method,
        path: &str,
        staff: &StaffSession,
    ) -> reqwest::RequestBuilder {
        self.request(method, path)
            .header("cookie", &staff.cookie)
            .header("x-csrf-token", &staff.csrf)
    }

    /// WeChat login with a simulator code: the bearer token.
    pub async fn login(&self, code: &str) -> Result<(Outcome, String), Failure> {
        let (outcome, body) = self
            .send(
                self.request(Method::POST, "/api/v1/auth/wechat-login")
                    .json(&json!({"code": code})),
            )
            .await;
        let token = body["token"].as_str().map(str::to_owned);
        match token {
            Some(token) => Ok((outcome, token)),
            None => Err(fail(format!("login {code}: {:?} {body}", outcome.status))),
        }
    }

    /// Staff login.
    pub async fn staff_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<StaffSession, Failure> {
        let res = self
            .request(Method::POST, "/api/v1/admin/auth/login")
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .map_err(|e| fail(format!("staff login: {e}")))?;
        let cookie =
            res.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(
                |v| {
                    v.split(';')
                        .next()
                        .filter(|pair| pair.starts_with("baoming_staff="))
                        .map(str::to_owned)
                },
            );
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        match (cookie, body["csrf_token"].as_str()) {
            (Some(cookie), Some(csrf)) => Ok(StaffSession { cookie, csrf: csrf.to_owned() }),
            _ => Err(fail(format!("staff login refused: {status} {body}"))),
        }
    }

    /// Waits until the hello server answers.
    pub async fn wait_ready_hello(&self) -> Result<(), Failure> {
        self.wait_for("/hello", Duration::from_secs(30)).await
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self, within: Duration) -> Result<(), Failure> {
        self.wait_for("/readyz", within).await
    }

    async fn wait_for(&self, path: &str, within: Duration) -> Result<(), Failure> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Ok(res) = self.request(Method::GET, path).send().await
                && res.status().is_success()
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(fail(format!("{} did not become ready", self.base)))
    }
}
