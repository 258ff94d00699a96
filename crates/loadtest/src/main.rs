//! `baoming-loadtest`: starts the api (or targets a running one), runs the scenarios, checks
//! the invariants, prints the report. See docs/performance.md.

use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::Duration;

use baoming_loadtest::client::{Api, Failure, fail};
use baoming_loadtest::paynotify::{PaySide, write_api_config};
use baoming_loadtest::probe::Probe;
use baoming_loadtest::report;
use baoming_loadtest::scenarios::{self, Config, Target};
use clap::{Parser, Subcommand};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

#[derive(Debug, Parser)]
#[command(name = "baoming-loadtest", about = "Load benchmark of the baoming API")]
struct Cli {
    /// Participants (each submits once per run).
    #[arg(long, default_value_t = 1000)]
    participants: usize,
    /// Concurrent client connections.
    #[arg(long, default_value_t = 256)]
    concurrency: usize,
    /// Runs; figures are medians over them (at least 3 for published figures).
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// "My exams" reads per run.
    #[arg(long, default_value_t = 5000)]
    my_exams: usize,
    /// WeChat logins per run.
    #[arg(long, default_value_t = 1000)]
    logins: usize,
    /// Phone-photo uploads per run.
    #[arg(long, default_value_t = 20)]
    photos: usize,
    /// Concurrent photo uploads.
    #[arg(long, default_value_t = 8)]
    photo_concurrency: usize,
    /// Uploads of the photo burst (all at once, each by another participant; phone photos and
    /// bombs mixed); 0 skips it.
    #[arg(long, default_value_t = 64)]
    photo_burst: usize,
    /// The most memory (peak RSS, MB = 10^6 bytes) the api may reach during the photo burst:
    /// more fails the run like a broken invariant (issue 16's bound); 0 does not check. Only
    /// when the tool starts the api (not with --url).
    #[arg(long, default_value_t = 300)]
    burst_memory_limit_mb: u64,
    /// Requests to the hello baseline per run.
    #[arg(long, default_value_t = 20000)]
    hello: usize,
    /// A PostgreSQL server (`postgres://…`): the tool creates a fresh database there and drops
    /// it afterwards. Default: a fresh SQLite file.
    #[arg(long)]
    database: Option<String>,
    /// Target a running api instead of starting one (needs --staff-user/--staff-password;
    /// the database invariants are skipped).
    #[arg(long)]
    url: Option<String>,
    /// Back-office user with roles admin and reviewer (with --url).
    #[arg(long, default_value = "bench")]
    staff_user: String,
    /// Its password (with --url).
    #[arg(long, default_value = "bench-password-not-secret")]
    staff_password: String,
    /// The api binary (default: `baoming-api` next to this executable).
    #[arg(long)]
    api_bin: Option<PathBuf>,
    /// Pin the api and the hello server to this CPU (taskset); run the client under
    /// `taskset -c <other>` for a fairer reading on a small machine.
    #[arg(long)]
    server_cpu: Option<usize>,
    /// MALLOC_ARENA_MAX for the api process (glibc): 2 keeps the per-thread malloc arenas from
    /// holding on to memory (docs/performance.md); 0 leaves glibc's default.
    #[arg(long, default_value_t = 2)]
    malloc_arena_max: usize,
    /// Append the markdown report to this file.
    #[arg(long)]
    report: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Sub>,
}

#[derive(Debug, Subcommand)]
enum Sub {
    /// Serve the hello baseline (started by the tool itself).
    Hello {
        /// Address.
        #[arg(long)]
        listen: SocketAddr,
    },
}

fn free_port() -> Result<SocketAddr, Failure> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| fail(format!("no free port: {e}")))?;
    listener.local_addr().map_err(|e| fail(format!("no free port: {e}")))
}

struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

struct PgDatabase {
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin) {
            let _ =
                conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

fn command(cli: &Cli, program: &std::path::Path) -> Command {
    match cli.server_cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(program);
            c
        }
        None => Command::new(program),
    }
}

fn log(line: &str) {
    eprintln!("[loadtest] {line}");
}

#[allow(clippy::print_stdout)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Sub::Hello { listen }) = cli.command {
        let served =
            actix_web::rt::System::new().block_on(baoming_loadtest::hello::serve(listen, 2));
        return if served.is_ok() { ExitCode::SUCCESS } else { ExitCode::FAILURE };
    }
    match run(&cli) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            log(&format!("FAILED: {e}"));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<String, Failure> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| fail(format!("runtime: {e}")))?;
    let mut children = Children(Vec::new());
    let mut notes = vec![format!(
        "machine: {} cores; client and server {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        match cli.server_cpu {
            Some(cpu) => format!("pinned apart (servers on CPU {cpu})"),
            None => "share the cores (unpinned)".to_owned(),
        }
    )];
    // Threads of the submit floor: one on SQLite (a second would only wait for the write lock),
    // eight on PostgreSQL (each its own server process).
    let floor_threads = if cli.database.is_some() { 8 } else { 1 };
    let _pg_guard;
    let mut wechat_sim = None;
    let tmp = tempfile::tempdir().map_err(|e| fail(format!("temp dir: {e}")))?;
    let (api_url, probe, db, pay) = match &cli.url {
        Some(url) => {
            notes.push(format!(
                "target: running api at {url} (database invariants and pay-notify skipped)"
            ));
            (url.clone(), None, None, None)
        }
        None => {
            let api_bin = match &cli.api_bin {
                Some(path) => path.clone(),
                None => std::env::current_exe()
                    .map_err(|e| fail(format!("own path: {e}")))?
                    .with_file_name("baoming-api"),
            };
            let database_url = match &cli.database {
                Some(server) if server.starts_with("postgres") => {
                    let name = format!("baoming_bench_{}", std::process::id());
                    let mut admin = PgConnection::establish(server)
                        .map_err(|e| fail(format!("PostgreSQL: {e}")))?;
                    // One statement at a time: DROP DATABASE refuses to run in a transaction block.
                    for statement in [
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                        format!("CREATE DATABASE {name}"),
                    ] {
                        admin
                            .batch_execute(&statement)
                            .map_err(|e| fail(format!("PostgreSQL: {e}")))?;
                    }
                    let base = server.rsplit_once('/').map_or(server.as_str(), |(b, _)| b);
                    _pg_guard = Some(PgDatabase { admin: server.clone(), name: name.clone() });
                    format!("{base}/{name}")
                }
                Some(other) => {
                    return Err(fail(format!("--database must be a postgres:// URL, not {other}")));
                }
                None => tmp.path().join("baoming.sqlite3").to_string_lossy().into_owned(),
            };
            notes.push(format!(
                "api: {} on {}, MALLOC_ARENA_MAX={}",
                api_bin.display(),
                if database_url.starts_with("postgres") { "PostgreSQL" } else { "SQLite" },
                if cli.malloc_arena_max > 0 {
                    cli.malloc_arena_max.to_string()
                } else {
                    "glibc default".into()
                }
            ));
            let listen = free_port()?;
            // The WeChat and WeChat Pay simulators run in this process, not in the api: signing
            // and encrypting the payment notifications is the client's work, as it is WeChat
            // Pay's in production.
            let wechat = baoming_wechat_sim::start_in_background(
                "127.0.0.1:0".parse().map_err(|e| fail(format!("address: {e}")))?,
                baoming_wechat_sim::SimConfig {
                    appid: baoming_wechatpay_sim::dev_keys::APPID.into(),
                    secret: baoming_wechatpay_sim::dev_keys::APP_SECRET.into(),
                },
            )
            .map_err(|e| fail(format!("WeChat simulator: {e}")))?;
            let pay = PaySide::start()?;
            pay.relay.set_target(&format!("http://{listen}"));
            let api_config = write_api_config(
                tmp.path(),
                &wechat.base_url(),
                &pay.sim.base_url(),
                &pay.relay.notify_url(),
            )?;
            wechat_sim = Some(wechat);
            let env = |c: &mut Command| {
                c.env("BAOMING_CONFIG", &api_config)
                    .env("BAOMING_DATA_DIR", tmp.path())
                    .env("BAOMING_DATABASE_URL", &database_url)
                    .env("BAOMING_LISTEN", listen.to_string())
                    .env("BAOMING_DEMO_DATA", "false");
                // Every request of the benchmark comes from one loopback address: the
                // per-address rate limits (made for a venue's Wi-Fi, not for a load generator)
                // are off; the per-participant ones stay on.
                for limit in [
                    "WECHAT_LOGIN",
                    "PAYMENT_CHECK",
                    "PHOTO_UPLOAD",
                    "PROFILE_CHANGE",
                    "CHECKIN",
                    "STAFF_LOGIN",
                ] {
                    c.env(format!("BAOMING_LIMITS__{limit}_PER_ADDRESS"), "0");
                }
            };
            let mut create = Command::new(&api_bin);
            env(&mut create);
            create
                .args([
                    "staff",
                    "create",
                    "--username",
                    &cli.staff_user,
                    "--display-name",
                    "压测",
                    "--roles",
                    "admin,reviewer",
                ])
                .arg("--password-stdin")
                .stdin(Stdio::piped())
                .stdout(Stdio::null());
            let mut child =
                create.spawn().map_err(|e| fail(format!("{}: {e}", api_bin.display())))?;
            if let Some(mut stdin) = child.stdin.take() {
                writeln!(stdin, "{}", cli.staff_password)
                    .map_err(|e| fail(format!("staff password: {e}")))?;
            }
            let status = child.wait().map_err(|e| fail(format!("staff create: {e}")))?;
            if !status.success() {
                return Err(fail("creating the benchmark's staff user failed"));
            }
            let log_file = std::fs::File::create(tmp.path().join("api.log"))
                .map_err(|e| fail(format!("log: {e}")))?;
            let mut serve = command(cli, &api_bin);
            env(&mut serve);
            if cli.malloc_arena_max > 0 {
                serve.env("MALLOC_ARENA_MAX", cli.malloc_arena_max.to_string());
            }
            serve
                .arg("serve")
                .stdout(log_file.try_clone().map_err(|e| fail(e.to_string()))?)
                .stderr(log_file);
            let child = serve.spawn().map_err(|e| fail(format!("starting the api: {e}")))?;
            let probe = Probe::new(child.id());
            children.0.push(child);
            let url = baoming_store::DatabaseUrl::parse(&database_url)
                .map_err(|e| fail(format!("database: {e}")))?;
            let db = baoming_store::Db::connect(
                &url,
                baoming_store::PoolOptions {
                    max_size: u32::try_from(floor_threads.max(2)).unwrap_or(2),
                    ..Default::default()
                },
            )
            .map_err(|e| fail(format!("database: {e}")))?;
            (format!("http://{listen}"), Some(probe), Some(db), Some(pay))
        }
    };
    let hello_addr = free_port()?;
    let own = std::env::current_exe().map_err(|e| fail(format!("own path: {e}")))?;
    let mut hello = command(cli, &own);
    hello
        .args(["hello", "--listen", &hello_addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    children.0.push(hello.spawn().map_err(|e| fail(format!("starting the hello server: {e}")))?);

    let config = Config {
        participants: cli.participants.max(1),
        concurrency: cli.concurrency.max(1),
        runs: cli.runs.max(1),
        my_exams: cli.my_exams,
        logins: cli.logins,
        photos: cli.photos,
        photo_concurrency: cli.photo_concurrency.max(1),
        photo_burst: cli.photo_burst,
        burst_memory_limit_kib: (cli.burst_memory_limit_mb > 0 && cli.url.is_none())
            .then(|| cli.burst_memory_limit_mb * 1_000_000 / 1024),
        hello: cli.hello,
        floor_threads,
        staff: (cli.staff_user.clone(), cli.staff_password.clone()),
    };
    notes.push(format!(
        "{} participants, {} connections, {} runs; {} my-exams reads, {} logins, {} phone photos, a burst of {} uploads (phone photos and bombs) per run",
        config.participants, config.concurrency, config.runs, config.my_exams, config.logins, config.photos, config.photo_burst
    ));
    let results = runtime.block_on(async {
        let api = Api::new(&api_url, config.concurrency)?;
        let hello = Api::new(&format!("http://{hello_addr}"), config.concurrency)?;
        api.wait_ready(Duration::from_secs(60)).await?;
        hello.wait_ready_hello().await?;
        let target = Target { api, probe, db, hello: Some(hello), pay };
        scenarios::run(&target, &config, &log).await
    })?;
    let text = report::markdown(
        &results,
        &format!("baoming-loadtest {}", chrono::Utc::now().format("%Y-%m-%d %H:%M UTC")),
        &notes,
    );
    if let Some(path) = &cli.report {
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| fail(format!("{}: {e}", path.display())))?;
        writeln!(file, "{text}").map_err(|e| fail(format!("{}: {e}", path.display())))?;
    }
    drop(wechat_sim);
    Ok(text)
}
