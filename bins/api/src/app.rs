//! Wiring: settings → database, WeChat client (or the local simulator), photo storage →
//! the actix-web server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use baoming_photos::storage::FsStorage;
use baoming_store::{Db, PoolOptions, periods, seed};
use baoming_wechat::{WechatClient, WechatConfig};
use baoming_wechat_sim::{SimConfig, Simulator};
use tracing::Instrument;

use crate::auth::RequestId;
use crate::config::Settings;
use crate::error::ApiError;
use crate::routes;
use crate::state::AppState;

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] baoming_store::StoreError),
    /// The data directory or the listen socket.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// Dev-mode set-up (demo admin, demo period) failed.
    #[error("set-up: {0}")]
    Setup(String),
    /// The WeChat client could not be built.
    #[error("wechat: {0}")]
    Wechat(#[from] baoming_wechat::WechatError),
}

/// A started service.
pub struct Running {
    /// Where it listens (the real port when `listen` had port 0).
    pub addr: SocketAddr,
    /// Stops it gracefully.
    pub handle: ServerHandle,
    /// The server future: await it to serve until stopped.
    pub server: Server,
    /// The local WeChat simulator, in dev mode.
    pub simulator: Option<Simulator>,
    /// The local WeChat Pay simulator, in dev mode.
    pub pay_simulator: Option<baoming_wechatpay_sim::Simulator>,
    /// The database (for tests and tooling).
    pub db: Db,
}

/// The WeChat mini-program client; in dev mode against a local WeChat simulator of this
/// process (started here and returned, so it lives as long as the caller keeps it).
pub fn wechat_client(settings: &Settings) -> Result<(WechatClient, Option<Simulator>), StartError> {
    let simulator = if settings.wechat_simulator {
        let sim = baoming_wechat_sim::start_in_background(
            SocketAddr::from(([127, 0, 0, 1], 0)),
            SimConfig {
                appid: settings.wechat_appid.clone(),
                secret: settings.wechat_secret.clone(),
            },
        )
        .map_err(|source| StartError::Io { what: "starting the WeChat simulator", source })?;
        tracing::info!(url = %sim.base_url(), "local WeChat simulator started (dev mode)");
        Some(sim)
    } else {
        None
    };
    let api_base =
        simulator.as_ref().map_or_else(|| settings.wechat_api_base.clone(), Simulator::base_url);
    let wechat = WechatClient::new(WechatConfig {
        api_base,
        appid: settings.wechat_appid.clone(),
        secret: settings.wechat_secret.clone(),
        timeout: Duration::from_secs(10),
    })?;
    Ok((wechat, simulator))
}

/// Opens the database and applies pending migrations (what `migrate` and start-up do).
pub fn open_database(settings: &Settings) -> Result<(Db, Vec<String>), StartError> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|source| StartError::Io { what: "creating the data directory", source })?;
    let db = Db::connect(
        &settings.database_url,
        PoolOptions { max_size: settings.pool_size, ..PoolOptions::default() },
    )?;
    let applied = db.run_migrations()?;
    Ok((db, applied))
}

/// Starts the service: database (migrated; demo data in dev mode), the WeChat simulator in
/// dev mode, and the HTTP server on `settings.listen`. Must run inside an actix runtime.
pub async fn start(settings: Settings) -> Result<Running, StartError> {
    let (db, applied) = {
        let settings = settings.clone();
        actix_web::rt::task::spawn_blocking(move || open_database(&settings))
            .await
            .map_err(|e| StartError::Io { what: "start-up", source: std::io::Error::other(e) })??
    };
    for name in &applied {
        tracing::info!(migration = %name, "migration applied");
    }
    if settings.mode == crate::config::Mode::Dev {
        let db = db.clone();
        actix_web::rt::task::spawn_blocking(move || demo_admin(&db)).await.map_err(|e| {
            StartError::Io { what: "creating the demo admin", source: std::io::Error::other(e) }
        })??;
    }
    if settings.demo_data {
        let db = db.clone();
        actix_web::rt::task::spawn_blocking(move || seed_demo(&db))
            .await
            .map_err(|e| StartError::Io { what: "seeding", source: std::io::Error::other(e) })??;
    }

    let (wechat, simulator) = wechat_client(&settings)?;

    // Bound before the rest, so the notify URL can name the real port.
    let listener = std::net::TcpListener::bind(settings.listen)
        .map_err(|source| StartError::Io { what: "binding the listen address", source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Io { what: "binding the listen address", source })?;
    let pay_simulator = if settings.wechat_simulator {
        let config = baoming_wechatpay_sim::SimConfig {
            time_scale: settings.pay_simulator_time_scale,
            ..baoming_wechatpay_sim::SimConfig::dev(&settings.pay.mchid, &settings.wechat_appid)
        };
        let sim =
            baoming_wechatpay_sim::start_in_background_on(config, settings.pay_simulator_listen)
                .map_err(|source| StartError::Io {
                    what: "starting the WeChat Pay simulator",
                    source,
                })?;
        tracing::info!(url = %sim.base_url(), "local WeChat Pay simulator started (dev mode)");
        Some(sim)
    } else {
        None
    };
    let pay_base = pay_simulator.as_ref().map_or_else(
        || settings.wechat_pay_base.clone(),
        baoming_wechatpay_sim::Simulator::base_url,
    );
    let notify_url = crate::pay::notify_url(&settings, addr);
    let pay = crate::pay::Pay::new(&settings.pay, &settings.wechat_appid, &pay_base, notify_url)
        .map_err(|e| StartError::Setup(e.to_string()))?;

    let state = AppState {
        db: db.clone(),
        cipher: baoming_store::PiiCipher::new(settings.pii.clone()),
        wechat,
        photos: Arc::new(FsStorage::new(settings.data_dir.join("files"))),
        photo_limits: baoming_photos::Limits {
            max_upload_bytes: settings.photo_max_upload_bytes,
            ..baoming_photos::Limits::default()
        },
        decode_permits: Arc::new(tokio::sync::Semaphore::new(
            settings.photo_max_concurrent_decodes,
        )),
        session_ttl: settings.session_ttl,
        staff_session_ttl: settings.staff_session_ttl,
        secure_cookies: settings.mode != crate::config::Mode::Dev,
        periods: crate::period_cache::PeriodCache::default(),
        sessions: crate::session_cache::SessionCache::default(),
        pay,
        payee: settings.payee.clone(),
    };
    let data = web::Data::new(state);
    let upload_limit = settings.photo_max_upload_bytes;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let blocking_threads = (settings.pool_size as usize).div_ceil(workers).max(2)
        + settings.photo_max_concurrent_decodes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(json_config())
            .app_data(query_config())
            .app_data(web::PayloadConfig::new(upload_limit + 64 * 1024))
            .wrap(from_fn(request_context))
            .configure(routes::configure)
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(30)
    // Database work runs on the blocking pool; more threads than pooled connections would only
    // queue on the pool (and each idle thread keeps memory), so the two are sized together.
    .worker_max_blocking_threads(blocking_threads)
    .listen(listener)
    .map_err(|source| StartError::Io { what: "binding the listen address", source })?;
    let server = server.run();
    let handle = server.handle();
    tracing::info!(%addr, mode = ?settings.mode, "baoming api listening");
    Ok(Running { addr, handle, server, simulator, pay_simulator, db })
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("addr", &self.addr).finish_non_exhaustive()
    }
}

/// Dev mode: the first start creates an admin `admin` with a random password, printed once.
fn demo_admin(db: &Db) -> Result<(), StartError> {
    let mut conn = db.conn()?;
    if baoming_store::staff::any(&mut conn)? {
        return Ok(());
    }
    let password =
        baoming_accounts::generate_password().map_err(|e| StartError::Setup(e.to_string()))?;
    let username =
        baoming_accounts::Username::parse("admin").map_err(|e| StartError::Setup(e.to_string()))?;
    let display = baoming_accounts::DisplayName::parse("演示管理员")
        .map_err(|e| StartError::Setup(e.to_string()))?;
    let roles =
        baoming_accounts::Roles::parse("admin").map_err(|e| StartError::Setup(e.to_string()))?;
    let parsed = baoming_accounts::Password::parse(&password, &username)
        .map_err(|e| StartError::Setup(e.to_string()))?;
    let hash =
        baoming_accounts::hash_password(&parsed).map_err(|e| StartError::Setup(e.to_string()))?;
    baoming_store::staff::create(
        &mut conn,
        &username,
        &display,
        &roles,
        &hash,
        chrono::Utc::now(),
    )?;
    // Printed once, on purpose, to the terminal of the developer who started the service.
    eprintln!("baoming-api (dev mode): created back-office user `admin` with password {password}");
    Ok(())
}

fn seed_demo(db: &Db) -> Result<(), StartError> {
    let mut conn = db.conn()?;
    if !periods::any(&mut conn)? {
        let now = chrono::Utc::now();
        let created = periods::create(&mut conn, &seed::demo_period(now), now)
            .map_err(|e| StartError::Setup(format!("demo period: {e}")))?;
        tracing::info!(period = %created.id, "demo period seeded");
    }
    Ok(())
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(256 * 1024).error_handler(|err, _req| {
        let detail = err.to_string();
        ApiError::bad_request("bad_json", format!("请求内容格式不正确（{detail}）")).into()
    })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::bad_request("bad_query", format!("查询参数不正确（{err}）")).into()
    })
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({"code": "not_found", "message": "接口不存在"}))
}

/// Gives every request an id (in the tracing span of every log line, in `X-Request-Id`, and
/// in the event log) and logs one line per request: method, path, status, time. Paths hold
/// only ids; query strings, bodies and headers (tokens) are never logged.
async fn request_context(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = uuid::Uuid::now_v7().to_string();
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id);
    let (method, path) = (req.method().clone(), req.path().to_owned());
    let started = Instant::now();
    let mut res = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static("x-request-id"), value);
    }
    span.in_scope(|| {
        tracing::info!(
            %method,
            %path,
            status = res.status().as_u16(),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
    });
    Ok(res)
}
