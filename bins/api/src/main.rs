//! `baoming-api`: serve the API (default) or apply migrations.

use std::path::PathBuf;
use std::process::ExitCode;

use baoming_api::config::{LogFormat, RawConfig, Settings};
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(name = "baoming-api", version, about = "The baoming mini-program backend")]
struct Cli {
    /// TOML configuration file (see docs/configuration.md).
    #[arg(long, env = "BAOMING_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default): migrations are applied first.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

fn init_logs(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(true).init(),
        LogFormat::Text => builder.init(),
    }
}

fn settings(cli: &Cli) -> Result<Settings, String> {
    RawConfig::load(cli.config.as_deref()).and_then(RawConfig::validate).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match settings(&cli) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("baoming-api: {message}");
            return ExitCode::from(2);
        }
    };
    init_logs(settings.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => baoming_api::open_database(&settings)
            .map(|(_, applied)| tracing::info!(applied = applied.len(), names = ?applied, "migrations done"))
            .map_err(|e| e.to_string()),
        Command::Serve => serve(settings),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!(%message, "baoming-api failed");
            eprintln!("baoming-api: {message}");
            ExitCode::FAILURE
        }
    }
}

fn serve(settings: Settings) -> Result<(), String> {
    actix_web::rt::System::new().block_on(async move {
        let running = baoming_api::start(settings).await.map_err(|e| e.to_string())?;
        // actix-web stops gracefully on SIGTERM and SIGINT: no new connections, in-flight
        // requests get up to 30 s to finish.
        let result = running.server.await.map_err(|e| e.to_string());
        tracing::info!("baoming api stopped");
        result
    })
}
