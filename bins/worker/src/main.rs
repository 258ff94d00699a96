//! `baoming-worker`: run the background worker (default) or drain the due jobs once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use baoming_api::config::{RawConfig, Settings};
use baoming_api::systemd;
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
    baoming_api::logging::init(settings.log_format);
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

/// Opens and migrates the database (like the api) and makes one round trip.
/// The clients the handlers call. In dev mode WeChat Pay is the api's simulator (at
/// `wechatpay.simulator_listen`) and the message API a simulator of the worker's own.
fn services(
    settings: &Settings,
) -> Result<(baoming_worker::Services, Option<baoming_wechat_sim::Simulator>), String> {
    let pay = baoming_api::pay::Pay::for_worker(settings).map_err(|e| e.to_string())?;
    let (wechat, simulator) =
        baoming_api::app::wechat_client(settings).map_err(|e| e.to_string())?;
    let services = baoming_worker::Services {
        pay,
        wechat,
        templates: settings.templates.clone(),
        runtime: tokio::runtime::Handle::current(),
        refund_recheck: settings.worker.refund_recheck,
    };
    Ok((services, simulator))
}

async fn start(
    settings: Settings,
) -> Result<(Arc<Worker>, Option<baoming_wechat_sim::Simulator>), String> {
    let worker = settings.worker;
    let (services, simulator) = services(&settings)?;
    let db = tokio::task::spawn_blocking(move || {
        let (db, applied) = baoming_api::open_database(&settings).map_err(|e| e.to_string())?;
        for name in &applied {
            tracing::info!(migration = %name, "migration applied");
        }
        db.ping().map_err(|e| format!("database: {e}"))?;
        Ok::<_, String>(db)
    })
    .await
    .map_err(|e| e.to_string())??;
    Ok((Arc::new(Worker::new(db, worker, services)), simulator))
}

async fn run(settings: Settings) -> Result<(), String> {
    // Installed before readiness: a SIGTERM from then on stops gracefully.
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let (worker, _simulator) = start(settings).await?;
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
    let (worker, _simulator) = start(settings).await?;
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
