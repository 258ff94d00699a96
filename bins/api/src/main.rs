//! `baoming-api`: serve the API (default) or apply migrations.

use std::path::PathBuf;
use std::process::ExitCode;

use baoming_accounts::{DisplayName, Password, Roles, Username};
use baoming_runtime::config::{RawConfig, Settings};
use baoming_runtime::{open_database, systemd};
use clap::{Parser, Subcommand};

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
    /// Manage back-office staff accounts.
    #[command(subcommand)]
    Staff(StaffCommand),
    /// Admission tickets.
    #[command(subcommand)]
    Tickets(TicketsCommand),
    /// Personal data at rest.
    #[command(subcommand)]
    Pii(PiiCommand),
}

#[derive(Debug, Subcommand)]
enum PiiCommand {
    /// Re-encrypt every stored ID number with the current key (`pii.current_key_id`, default
    /// the highest configured id), in batches of one transaction each, and print how many were
    /// rewritten. Idempotent: run it again after an interruption. Afterwards the older keys
    /// can be removed from the configuration (docs/operations.md).
    Rekey {
        /// Participants per transaction.
        #[arg(long, default_value_t = 500)]
        batch_size: u32,
    },
}

#[derive(Debug, Subcommand)]
enum TicketsCommand {
    /// Verify a scanned ticket QR code against the configured signing keys: prints what the
    /// code says and whether its signature holds (exit code 0 only when it does).
    Verify {
        /// The scanned text (`BMT1:…`).
        text: String,
    },
}

#[derive(Debug, Subcommand)]
enum StaffCommand {
    /// Create a staff user; prints a generated password unless --password-stdin is given.
    Create {
        /// Login name (3–32 of a-z 0-9 _ . -, starting with a letter).
        #[arg(long)]
        username: String,
        /// Name shown in the back office.
        #[arg(long)]
        display_name: String,
        /// Comma-separated roles: admin, reviewer, finance, checkin.
        #[arg(long)]
        roles: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password (and lift a login lock), ending the user's sessions; prints a
    /// generated one unless --password-stdin.
    Passwd {
        /// Login name.
        #[arg(long)]
        username: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a staff user (their sessions are ended at once).
    Disable {
        /// Login name.
        #[arg(long)]
        username: String,
    },
}

fn settings(cli: &Cli) -> Result<Settings, String> {
    RawConfig::load(cli.config.as_deref()).and_then(RawConfig::validate).map_err(|e| e.to_string())
}

/// The allocator A/B of docs/performance.md: `--features mimalloc` builds the api with it.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match settings(&cli) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("baoming-api: {message}");
            return ExitCode::from(2);
        }
    };
    let _log = baoming_runtime::logging::init(settings.log_format);
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => open_database(&settings)
            .map(|(_, applied)| tracing::info!(applied = applied.len(), names = ?applied, "migrations done"))
            .map_err(|e| e.to_string()),
        Command::Serve => serve(settings),
        Command::Staff(command) => staff(&settings, command),
        Command::Pii(PiiCommand::Rekey { batch_size }) => rekey(&settings, batch_size),
        Command::Tickets(TicketsCommand::Verify { text }) => {
            return verify_ticket(&settings, &text);
        }
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
        // Ready for systemd (Type=notify) once migrations ran (in `start`) and the database
        // answered a round trip; then the watchdog pings while the runtime lives.
        let db = running.db.clone();
        actix_web::rt::task::spawn_blocking(move || db.ping())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("database: {e}"))?;
        systemd::ready();
        actix_web::rt::spawn(systemd::watchdog());
        // actix-web stops gracefully on SIGTERM and SIGINT: no new connections, in-flight
        // requests get up to 30 s to finish.
        let result = running.server.await.map_err(|e| e.to_string());
        systemd::stopping();
        tracing::info!("baoming api stopped");
        result
    })
}

/// `tickets verify`: the facts of a scanned code and the verdict on its signature.
#[allow(clippy::print_stdout)]
fn verify_ticket(settings: &Settings, text: &str) -> ExitCode {
    use baoming_tickets::signing;
    let text = text.trim();
    let keys = settings.tickets.keys.verifying();
    let verdict = signing::verify(text, keys);
    match signing::decode_unverified(text) {
        Ok(read) => {
            let c = &read.claims;
            println!("ticket number: {}", c.ticket_number);
            println!("period:        {}", uuid::Uuid::from_bytes(c.period));
            println!("name:          {}", c.name);
            println!("ID number:     {}", c.masked_id);
            println!("site:          {}", c.site);
            println!("room:          {}", c.room);
            println!("seat:          {}", c.seat);
            println!("key id:        {}", read.kid);
        }
        Err(e) => println!("not a ticket code: {e} ({})", e.code()),
    }
    match verdict {
        Ok(_) => {
            println!("signature:     valid");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("signature:     INVALID — {e} ({})", e.code());
            ExitCode::FAILURE
        }
    }
}

/// `pii rekey`: every ID number re-encrypted with the current key, the count printed and
/// audited.
#[allow(clippy::print_stdout)]
fn rekey(settings: &Settings, batch_size: u32) -> Result<(), String> {
    use baoming_store::{audit, pii};
    let (db, _) = open_database(settings).map_err(|e| e.to_string())?;
    let mut conn = db.conn().map_err(|e| e.to_string())?;
    let cipher = baoming_store::PiiCipher::new(settings.pii.clone());
    let report =
        pii::rekey(&mut conn, &cipher, i64::from(batch_size)).map_err(|e| e.to_string())?;
    let entry = audit::Entry {
        actor: audit::Actor { username: Some("(command line)".into()), ..Default::default() },
        action: "pii_rekey".into(),
        target_kind: None,
        target_id: None,
        summary: Some(serde_json::json!({
            "key_id": report.current_key_id,
            "scanned": report.scanned,
            "rewritten": report.rewritten,
            "changed_meanwhile": report.changed_meanwhile,
        })),
    };
    audit::record(&mut conn, &entry, chrono::Utc::now()).map_err(|e| e.to_string())?;
    println!(
        "re-encrypted {} of {} stored ID numbers with key {} ({} already used it)",
        report.rewritten,
        report.scanned,
        report.current_key_id,
        report.scanned - report.rewritten - report.changed_meanwhile,
    );
    if report.changed_meanwhile > 0 {
        println!(
            "{} changed while being re-encrypted and were left as written: run the command again",
            report.changed_meanwhile
        );
    }
    Ok(())
}

/// The password to set: from standard input, or generated (and then printed).
fn new_password(username: &Username, from_stdin: bool) -> Result<(Password, bool), String> {
    let raw = if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
        line.trim_end_matches(['\r', '\n']).to_owned()
    } else {
        baoming_accounts::generate_password().map_err(|e| e.to_string())?
    };
    Password::parse(&raw, username).map(|p| (p, !from_stdin)).map_err(|e| e.to_string())
}

/// Changes a staff user (`change`) and ends every session of theirs, audited as `action` by
/// the command line, in one transaction: how many sessions were ended.
fn staff_change(
    conn: &mut baoming_store::DbConnection,
    username: &str,
    action: &str,
    change: impl FnOnce(&mut baoming_store::DbConnection) -> Result<(), baoming_store::StoreError>,
) -> Result<usize, String> {
    use baoming_store::{audit, sessions, staff};
    let now = chrono::Utc::now();
    baoming_store::write_tx(conn, |conn| {
        let user = staff::find_by_username(conn, username)?
            .ok_or(baoming_store::StoreError::NotFound { entity: "staff user" })?;
        change(conn)?;
        let ended = sessions::revoke_staff_sessions(conn, user.id, None, now)?;
        let entry = audit::Entry {
            actor: audit::Actor { username: Some("(command line)".into()), ..Default::default() },
            action: action.into(),
            target_kind: Some("staff".into()),
            target_id: Some(user.id.to_string()),
            summary: Some(serde_json::json!({ "sessions_ended": ended })),
        };
        audit::record(conn, &entry, now)?;
        Ok(ended)
    })
    .map_err(|e: baoming_store::StoreError| e.to_string())
}

#[allow(clippy::print_stdout)]
fn staff(settings: &Settings, command: StaffCommand) -> Result<(), String> {
    let (db, _) = open_database(settings).map_err(|e| e.to_string())?;
    let mut conn = db.conn().map_err(|e| e.to_string())?;
    let now = chrono::Utc::now();
    match command {
        StaffCommand::Create { username, display_name, roles, password_stdin } => {
            let username = Username::parse(&username).map_err(|e| e.to_string())?;
            let display = DisplayName::parse(&display_name).map_err(|e| e.to_string())?;
            let roles = Roles::parse(&roles).map_err(|e| e.to_string())?;
            let (password, generated) = new_password(&username, password_stdin)?;
            let hash = baoming_accounts::hash_password(&password).map_err(|e| e.to_string())?;
            baoming_store::staff::create(&mut conn, &username, &display, &roles, &hash, now)
                .map_err(|e| e.to_string())?;
            println!("created staff user {} ({roles})", username.as_str());
            if generated {
                println!("password: {}", password.expose());
            }
        }
        StaffCommand::Passwd { username, password_stdin } => {
            let username = Username::parse(&username).map_err(|e| e.to_string())?;
            let (password, generated) = new_password(&username, password_stdin)?;
            let hash = baoming_accounts::hash_password(&password).map_err(|e| e.to_string())?;
            let ended =
                staff_change(&mut conn, username.as_str(), "staff_password_reset", |conn| {
                    baoming_store::staff::set_password(conn, username.as_str(), &hash, now)
                })?;
            println!("password of {} changed; {ended} session(s) ended", username.as_str());
            if generated {
                println!("password: {}", password.expose());
            }
        }
        StaffCommand::Disable { username } => {
            let ended = staff_change(&mut conn, &username, "staff_disable", |conn| {
                baoming_store::staff::set_enabled(conn, &username, false, now)
            })?;
            println!("staff user {username} disabled; {ended} session(s) ended");
        }
    }
    Ok(())
}
