//! Wiring: settings → database, WeChat client (or the local simulator), file storage →
//! the actix-web server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::{Next, from_fn};
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use baoming_runtime::config::{Mode, Settings};
use baoming_runtime::pay::Pay;
use baoming_runtime::{SetupError, open_database, wechat_client};
use baoming_store::{Db, periods, seed};
use tracing::Instrument;

use crate::auth::RequestId;
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
    /// The shared wiring (database, WeChat clients, simulators) could not be set up.
    #[error(transparent)]
    Runtime(#[from] SetupError),
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
    #[cfg(feature = "simulators")]
    pub simulator: Option<baoming_runtime::simulators::WechatSimulator>,
    /// The local WeChat Pay simulator, in dev mode.
    #[cfg(feature = "simulators")]
    pub pay_simulator: Option<baoming_runtime::simulators::PaySimulator>,
    /// The database (for tests and tooling).
    pub db: Db,
    /// The service's clock (tests move it).
    pub clock: crate::time::Clock,
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
    if settings.mode == Mode::Dev {
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
    {
        // Profiles saved before check-in staff could search by the ID number's last characters.
        let (db, cipher) = (db.clone(), baoming_store::PiiCipher::new(settings.pii.clone()));
        actix_web::rt::task::spawn_blocking(move || backfill_id_tails(&db, &cipher))
            .await
            .map_err(|e| StartError::Io { what: "backfill", source: std::io::Error::other(e) })??;
    }

    #[cfg(feature = "simulators")]
    let simulator =
        if settings.wechat_simulator {
            Some(baoming_runtime::simulators::start_wechat(&settings).map_err(|source| {
                SetupError::Io { what: "starting the WeChat simulator", source }
            })?)
        } else {
            None
        };
    #[cfg(feature = "simulators")]
    let wechat_base = simulator.as_ref().map_or_else(
        || baoming_runtime::wechat_api_base(&settings),
        baoming_runtime::simulators::WechatSimulator::base_url,
    );
    #[cfg(not(feature = "simulators"))]
    let wechat_base = baoming_runtime::wechat_api_base(&settings);
    let wechat = wechat_client(&settings, &wechat_base)?;

    // Bound before the rest, so the notify URL can name the real port.
    let listener = std::net::TcpListener::bind(settings.listen)
        .map_err(|source| StartError::Io { what: "binding the listen address", source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| StartError::Io { what: "binding the listen address", source })?;
    #[cfg(feature = "simulators")]
    let pay_simulator = if settings.wechat_simulator {
        Some(baoming_runtime::simulators::start_pay(&settings).map_err(|source| {
            SetupError::Io { what: "starting the WeChat Pay simulator", source }
        })?)
    } else {
        None
    };
    #[cfg(feature = "simulators")]
    let pay_base = pay_simulator.as_ref().map_or_else(
        || settings.wechat_pay_base.clone(),
        baoming_runtime::simulators::PaySimulator::base_url,
    );
    #[cfg(not(feature = "simulators"))]
    let pay_base = settings.wechat_pay_base.clone();
    let notify_url = baoming_runtime::pay::notify_url(&settings, addr);
    let pay = Pay::new(&settings.pay, &settings.wechat_appid, &pay_base, notify_url)
        .map_err(|e| StartError::Setup(e.to_string()))?;

    // The files' storage, checked (object storage: a probe written, read and deleted) so a wrong
    // setting stops the start here rather than failing the first upload.
    let photos = {
        let config = settings.storage.clone();
        actix_web::rt::task::spawn_blocking(move || {
            let storage = baoming_runtime::storage::open(&config)?;
            baoming_runtime::storage::check(&config, storage.as_ref())?;
            Ok::<_, SetupError>(storage)
        })
        .await
        .map_err(|e| StartError::Io { what: "storage check", source: std::io::Error::other(e) })??
    };

    let clock = crate::time::Clock::default();
    // The caches answer once the invalidation feed has been read (within a poll of the start).
    let trust = crate::cache_feed::Trust::default();
    let periods = crate::period_cache::PeriodCache::new(trust.clone());
    let sessions = crate::session_cache::SessionCache::new(trust.clone());
    let cache_feed = crate::cache_feed::start(db.clone(), trust, sessions.clone(), periods.clone())
        .map_err(|source| StartError::Io { what: "starting the cache feed", source })?;
    let writer = if settings.group_commit {
        let db = db.clone();
        let writer = actix_web::rt::task::spawn_blocking(move || {
            baoming_store::Writer::start(&db, baoming_store::WriterOptions::default())
        })
        .await
        .map_err(|e| StartError::Io { what: "writer", source: std::io::Error::other(e) })??;
        Some(writer)
    } else {
        None
    };
    let state = AppState {
        db: db.clone(),
        writer,
        cipher: baoming_store::PiiCipher::new(settings.pii.clone()),
        wechat,
        photos,
        photo_limits: baoming_photos::Limits {
            max_upload_bytes: settings.photo_max_upload_bytes,
            ..baoming_photos::Limits::default()
        },
        decode_permits: Arc::new(tokio::sync::Semaphore::new(
            settings.photo_max_concurrent_decodes,
        )),
        decode_memory: Arc::new(tokio::sync::Semaphore::new(
            settings.photo_decode_memory_mib as usize,
        )),
        decode_memory_mib: settings.photo_decode_memory_mib,
        photo_spool: settings.data_dir.join("uploads"),
        session_ttl: settings.session_ttl,
        staff_session_ttl: settings.staff_session_ttl,
        login_hashes: Arc::new(tokio::sync::Semaphore::new(settings.staff_login_concurrent_hashes)),
        trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
        secure_cookies: settings.mode != Mode::Dev,
        periods,
        sessions,
        cache_feed: Arc::new(cache_feed),
        pay,
        payee: settings.payee.clone(),
        clock: clock.clone(),
        tickets: crate::state::TicketState {
            fonts: Arc::new(baoming_runtime::tickets::TicketFonts::new(
                settings.tickets.fonts.clone(),
            )),
            keys: settings.tickets.keys.clone(),
        },
        limits: Arc::new(crate::rate_limit::RateLimits::new(&settings.limits)),
    };
    let data = web::Data::new(state);
    let upload_limit = settings.photo_max_upload_bytes;
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let blocking_threads = (settings.pool_size as usize).div_ceil(workers).max(2)
        + settings.photo_max_concurrent_decodes
        + settings.staff_login_concurrent_hashes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(json_config())
            .app_data(query_config())
            .app_data(path_config())
            .app_data(web::PayloadConfig::new(upload_limit + 64 * 1024))
            .wrap(from_fn(request_context))
            .configure(routes::configure)
            .configure(crate::console::configure)
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
    Ok(Running {
        addr,
        handle,
        server,
        #[cfg(feature = "simulators")]
        simulator,
        #[cfg(feature = "simulators")]
        pay_simulator,
        db,
        clock,
    })
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

fn backfill_id_tails(db: &Db, cipher: &baoming_store::PiiCipher) -> Result<(), StartError> {
    let mut conn = db.conn()?;
    let mut filled = 0;
    loop {
        let n = baoming_store::participants::backfill_id_tails(&mut conn, cipher, 1000)?;
        filled += n;
        if n == 0 {
            break;
        }
    }
    if filled > 0 {
        tracing::info!(filled, "ID-number tails filled in for check-in search");
    }
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

/// A path segment that does not parse (a room number that is not a number) finds nothing: the
/// JSON 404 of every other unknown record, not actix-web's plain-text one.
fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| ApiError::not_found().into())
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
