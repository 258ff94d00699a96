//! The WeChat Pay side of the benchmark: the simulators run in this process (so signing and
//! encrypting the notifications costs the client, not the api), and a relay between the
//! WeChat Pay simulator and the api's notify endpoint times each delivery as the api answers it.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use baoming_wechatpay_sim::{SimConfig, Simulator, dev_keys};

use crate::client::{Failure, fail};
use crate::stats::Outcome;

/// The api's notify endpoint.
pub const NOTIFY_PATH: &str = "/api/v1/wechatpay/notify";

#[derive(Debug)]
struct Inner {
    target: Mutex<Option<String>>,
    http: reqwest::Client,
    outcomes: Mutex<Vec<Outcome>>,
    answered: AtomicUsize,
    signal: tokio::sync::Notify,
}

/// A relay in front of the api's notify endpoint: forwards each notification as it came
/// (headers and body) and records the api's status and the time it took to answer.
#[derive(Debug, Clone)]
pub struct NotifyRelay {
    addr: SocketAddr,
    inner: Arc<Inner>,
    handle: ServerHandle,
}

async fn forward(req: HttpRequest, body: web::Bytes, inner: web::Data<Inner>) -> HttpResponse {
    let target = inner.target.lock().map(|t| t.clone()).unwrap_or_default();
    let Some(target) = target else {
        return HttpResponse::ServiceUnavailable().finish();
    };
    let mut out = inner.http.post(format!("{target}{NOTIFY_PATH}")).body(body);
    for (name, value) in req.headers() {
        let name = name.as_str();
        if name.starts_with("wechatpay-") || name == "content-type" || name == "user-agent" {
            out = out.header(name, value.as_bytes());
        }
    }
    let started = Instant::now();
    let answer = match out.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            response.bytes().await.ok().map(|b| (status, b))
        }
        Err(_) => None,
    };
    let outcome = Outcome { status: answer.as_ref().map(|(s, _)| *s), latency: started.elapsed() };
    if let Ok(mut all) = inner.outcomes.lock() {
        all.push(outcome);
    }
    inner.answered.fetch_add(1, Ordering::SeqCst);
    inner.signal.notify_waiters();
    match answer {
        Some((status, bytes)) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status)
                .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY),
        )
        .content_type("application/json")
        .body(bytes),
        None => HttpResponse::BadGateway().finish(),
    }
}

impl NotifyRelay {
    /// Starts the relay on a free loopback port, in its own thread.
    pub fn start() -> Result<Self, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| fail(format!("relay: {e}")))?;
        let addr = listener.local_addr().map_err(|e| fail(format!("relay: {e}")))?;
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(4))
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| fail(format!("relay client: {e}")))?;
        let inner = Arc::new(Inner {
            target: Mutex::new(None),
            http,
            outcomes: Mutex::new(Vec::new()),
            answered: AtomicUsize::new(0),
            signal: tokio::sync::Notify::new(),
        });
        let data = web::Data::from(Arc::clone(&inner));
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("notify-relay".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new().app_data(data.clone()).default_service(web::to(forward))
                    })
                    .workers(1)
                    .max_connections(100_000)
                    .listen(listener);
                    match server {
                        Ok(server) => {
                            let server = server.run();
                            let _ = tx.send(Ok(server.handle()));
                            let _ = server.await;
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e.to_string()));
                        }
                    }
                });
            })
            .map_err(|e| fail(format!("relay thread: {e}")))?;
        let handle = rx
            .recv()
            .map_err(|e| fail(format!("relay: {e}")))?
            .map_err(|e| fail(format!("relay: {e}")))?;
        Ok(NotifyRelay { addr, inner, handle })
    }

    /// The notify URL to give the api (`wechatpay.notify_url`).
    pub fn notify_url(&self) -> String {
        format!("http://{}{NOTIFY_PATH}", self.addr)
    }

    /// Where to forward: the api's base URL (known only once the api listens).
    pub fn set_target(&self, api_base: &str) {
        if let Ok(mut target) = self.inner.target.lock() {
            *target = Some(api_base.trim_end_matches('/').to_owned());
        }
    }

    /// Deliveries answered (or failed) so far.
    pub fn answered(&self) -> usize {
        self.inner.answered.load(Ordering::SeqCst)
    }

    /// Waits until more than `seen` deliveries were answered, or `within` passed.
    pub async fn wait_past(&self, seen: usize, within: Duration) {
        let notified = self.inner.signal.notified();
        if self.answered() > seen {
            return;
        }
        let _ = tokio::time::timeout(within, notified).await;
    }

    /// Takes the outcomes recorded so far.
    pub fn take(&self) -> Vec<Outcome> {
        self.inner.outcomes.lock().map(|mut all| std::mem::take(&mut *all)).unwrap_or_default()
    }

    /// Stops the relay.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

/// The WeChat Pay side: the simulator and the relay its notifications go through.
#[derive(Debug, Clone)]
pub struct PaySide {
    /// The WeChat Pay simulator the api opens its orders at.
    pub sim: Arc<Simulator>,
    /// The relay in front of the api's notify endpoint.
    pub relay: NotifyRelay,
}

impl PaySide {
    /// Starts the WeChat Pay simulator (development keys, retries 1000× faster than WeChat's)
    /// and the relay.
    pub fn start() -> Result<Self, Failure> {
        let sim = baoming_wechatpay_sim::start_in_background(SimConfig {
            time_scale: 0.001,
            ..SimConfig::dev(dev_keys::MCHID, dev_keys::APPID)
        })
        .map_err(|e| fail(format!("WeChat Pay simulator: {e}")))?;
        Ok(PaySide { sim: Arc::new(sim), relay: NotifyRelay::start()? })
    }
}

/// The settings file of an api that talks to simulators run outside it (`wechat.simulator =
/// false`, the development credentials): written into `dir` with the key files it names;
/// returns its path (for `BAOMING_CONFIG`).
pub fn write_api_config(
    dir: &Path,
    wechat_base: &str,
    pay_base: &str,
    notify_url: &str,
) -> Result<std::path::PathBuf, Failure> {
    let key = |name: &str, pem: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem).map_err(|e| fail(format!("{}: {e}", path.display())))?;
        Ok::<_, Failure>(path.display().to_string())
    };
    let merchant_key = key("merchant.pem", dev_keys::MERCHANT_PRIVATE_KEY_PEM)?;
    let platform_1 = key("platform-1.pem", dev_keys::PLATFORM_PUBLIC_KEY_1_PEM)?;
    let text = format!(
        r#"mode = "dev"

[wechat]
simulator = false
api_base = "{wechat_base}"
pay_base = "{pay_base}"
appid = "{appid}"
secret = "{secret}"

[wechatpay]
mchid = "{mchid}"
merchant_serial = "{serial}"
merchant_key_file = "{merchant_key}"
apiv3_key = "{apiv3}"
public_keys = [{{ id = "{id_1}", file = "{platform_1}" }}]
notify_url = "{notify_url}"

[pii]
id_encryption_key = "{pii_key}"
blind_index_key = "{blind_key}"
"#,
        pii_key = crate::floor::ENCRYPTION_KEY_HEX,
        blind_key = crate::floor::BLIND_INDEX_KEY_HEX,
        appid = dev_keys::APPID,
        secret = dev_keys::APP_SECRET,
        mchid = dev_keys::MCHID,
        serial = dev_keys::MERCHANT_SERIAL_NO,
        apiv3 = dev_keys::APIV3_KEY,
        id_1 = dev_keys::PLATFORM_PUB_KEY_ID_1,
    );
    let path = dir.join("baoming.toml");
    std::fs::write(&path, text).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    Ok(path)
}
