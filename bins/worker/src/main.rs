//! `baoming-worker`: run the background worker (default) or drain the due jobs once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use baoming_runtime::config::{RawConfig, Settings};
use baoming_runtime::pay::Pay;
use baoming_runtime::{open_database, systemd, wechat_api_base, wechat_client};
use baoming_worker::Worker;
use clap::{Parser, Subcommand};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

#[derive(Debug, Parser)]
#[command(name = "baoming-worker", version, about = "The baoming background worker")]
struct Cli {
    /// TOML configuration file, the api's (see docs/configuration.md).
    #[arg(long, env = "BAOMING_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run until SIGTERM or SIGINT (the default): migrations first, then claim and run jobs and
    /// tick the periodic schedules.
    Run,
    /// Tick the schedules, run every due job, exit (tests and cron-style runs).
    Once,
    /// Purge personal data past its retention now (the hourly job's work), printing the counts;
    /// with `--dry-run`, print what it would purge and change nothing.
    Retention {
        /// Count only: nothing is deleted, erased or audited.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match RawConfig::load(cli.config.as_deref()).and_then(RawConfig::validate) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("baoming-worker: {e}");
            return ExitCode::from(2);
        }
    };
    let _log = baoming_runtime::logging::init(settings.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("baoming-worker: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command.unwrap_or(Command::Run) {
            Command::Run => run(settings).await,
            Command::Once => once(settings).await,
            Command::Retention { dry_run } => retention(settings, dry_run).await,
        }
    });
    // A job left running past the shutdown grace is abandoned here (its lease expires).
    runtime.shutdown_timeout(Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(%message, "baoming-worker failed");
            eprintln!("baoming-worker: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The clients the handlers call. In dev mode they talk to the api's simulators: WeChat Pay
/// at `wechatpay.simulator_listen`, the message API at `wechat.simulator_listen`.
fn services(settings: &Settings) -> Result<baoming_worker::Services, String> {
    let pay = Pay::for_worker(settings).map_err(|e| e.to_string())?;
    let wechat = wechat_client(settings, &wechat_api_base(settings)).map_err(|e| e.to_string())?;
    let services = baoming_worker::Services {
        pay,
        wechat,
        templates: settings.templates.clone(),
        runtime: tokio::runtime::Handle::current(),
        refund_recheck: settings.worker.refund_recheck,
        tickets: baoming_worker::tickets::TicketServices {
            fonts: Arc::new(baoming_runtime::tickets::TicketFonts::new(
                settings.tickets.fonts.clone(),
            )),
            keys: settings.tickets.keys.clone(),
            storage: baoming_runtime::storage::open(&settings.storage)
                .map_err(|e| format!("storage: {e}"))?,
            cipher: baoming_store::PiiCipher::new(settings.pii.clone()),
            threads: std::thread::available_parallelism().map_or(1, usize::from),
        },
        retention: settings.retention.enabled.then_some(settings.retention.policy),
    };
    Ok(services)
}

/// Opens and migrates the database (like the api), makes one round trip, and builds the
/// worker with its clients.
async fn start(settings: Settings) -> Result<Arc<Worker>, String> {
    let worker = settings.worker;
    let services = services(&settings)?;
    if settings.mode == baoming_runtime::Mode::Production {
        // Production renders tickets: fonts that cannot be read stop the start, naming them.
        let fonts = services.tickets.fonts.clone();
        tokio::task::spawn_blocking(move || fonts.get().map(drop))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("configuration key `tickets.font`: {e}"))?;
    }
    // The files' storage, checked like the api does (object storage: a probe written, read back
    // and deleted).
    let (config, storage) = (settings.storage.clone(), services.tickets.storage.clone());
    tokio::task::spawn_blocking(move || baoming_runtime::storage::check(&config, storage.as_ref()))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("storage: {e}"))?;
    let db = tokio::task::spawn_blocking(move || {
        let (db, applied) = open_database(&settings).map_err(|e| e.to_string())?;
        for name in &applied {
            tracing::info!(migration = %name, "migration applied");
        }
        db.ping().map_err(|e| format!("database: {e}"))?;
        Ok::<_, String>(db)
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok(Arc::new(Worker::new(db, worker, services)))
}

async fn run(settings: Settings) -> Result<(), String> {
    // Installed before readiness: a SIGTERM from then on stops gracefully.
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let worker = start(settings).await?;
    systemd::ready();
    tokio::spawn(systemd::watchdog());
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stop requested: no more claiming");
        systemd::stopping();
        let _ = stop.send(true);
        // The sender lives on so the loop keeps seeing "stop".
        std::future::pending::<()>().await;
    });
    baoming_worker::runner::run(worker, stopped).await;
    Ok(())
}

async fn once(settings: Settings) -> Result<(), String> {
    let worker = start(settings).await?;
    let report = tokio::task::spawn_blocking(move || worker.drain())
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())?;
    tracing::info!(
        scheduled = report.scheduled,
        done = report.done,
        retrying = report.retrying,
        parked = report.parked,
        lease_lost = report.lease_lost,
        "due jobs drained"
    );
    Ok(())
}

/// `baoming-worker retention [--dry-run]`: the retention job's counts, one `name: count` line
/// each (the same settings as the scheduled job; it runs even when `retention.enabled` is
/// false, which only stops the schedule). The report is the command's output, on stdout.
#[allow(clippy::print_stdout)]
async fn retention(settings: Settings, dry_run: bool) -> Result<(), String> {
    let policy = settings.retention.policy;
    let storage =
        baoming_runtime::storage::open(&settings.storage).map_err(|e| format!("storage: {e}"))?;
    let report = tokio::task::spawn_blocking(move || {
        let (db, _) = open_database(&settings).map_err(|e| e.to_string())?;
        let mut conn = db.conn().map_err(|e| e.to_string())?;
        let now = chrono::Utc::now();
        if dry_run {
            baoming_store::privacy::dry_run(&mut conn, &policy, now)
        } else {
            baoming_worker::retention::purge(
                &mut conn,
                &policy,
                storage.as_ref(),
                now,
                Some("cli:retention"),
            )
        }
        .map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())??;
    println!("{}", retention_lines(&report, dry_run));
    Ok(())
}

fn retention_lines(report: &baoming_store::privacy::Report, dry_run: bool) -> String {
    let verb = if dry_run { "would purge (dry run, nothing changed)" } else { "purged" };
    format!(
        "retention: {verb}\nsessions: {}\nunused_photos: {}\noriginals: {}\nparticipants: {}\nfiles: {}",
        report.sessions, report.unused_photos, report.originals, report.participants, report.files
    )
}
