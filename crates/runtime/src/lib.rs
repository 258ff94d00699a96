//! What both baoming binaries (`baoming-api` and `baoming-worker`) share, and nothing else:
//!
//! * [`config`]: the layered configuration (defaults → TOML file → `BAOMING_*` environment),
//!   validated once into typed [`Settings`] (the database URL, the keys: parsed here, never
//!   again);
//! * [`logging`]: the log output;
//! * [`systemd`]: readiness, the watchdog and stopping (`Type=notify`);
//! * [`open_database`]: the pool, migrated;
//! * [`wechat_client`] and [`pay::Pay`]: the WeChat mini-program and WeChat Pay clients;
//! * [`storage`]: where the files (photos, originals, tickets) live: the data directory or
//!   S3-compatible object storage, built by [`storage::open`] and checked at start-up;
//! * [`tickets`]: the admission-ticket fonts (loaded once, shared), signing keys and documents;
//! * with the `dev-keys` feature, [`dev`]: the local simulators' published development
//!   credentials, so a process can talk to the simulators in dev mode; with `simulators`
//!   (which implies `dev-keys`), [`simulators`]: the simulators themselves, which the api
//!   starts. Without them the crate has no simulator code and no key material; production
//!   mode refuses the simulators' published credentials in every build ([`dev_material`]).

#![warn(missing_docs)]

pub mod config;
#[cfg(feature = "dev-keys")]
pub mod dev;
pub mod dev_material;
pub mod limits;
pub mod logging;
pub mod pay;
pub mod proxies;
#[cfg(feature = "simulators")]
pub mod simulators;
pub mod storage;
pub mod systemd;
pub mod tickets;

use std::time::Duration;

use baoming_store::{Db, PoolOptions, StoreError};
use baoming_wechat::{WechatClient, WechatConfig, WechatError};

pub use config::{Mode, RawConfig, Settings};

/// Why shared set-up failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(#[from] StoreError),
    /// The data directory or a local simulator.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The cause.
        source: std::io::Error,
    },
    /// The WeChat client could not be built.
    #[error("wechat: {0}")]
    Wechat(#[from] WechatError),
    /// The file storage could not be built or failed its start-up check.
    #[error("storage: {0}")]
    Storage(#[from] storage::StorageSetupError),
}

/// Opens the database and applies pending migrations (what `migrate` and start-up do).
pub fn open_database(settings: &Settings) -> Result<(Db, Vec<String>), SetupError> {
    std::fs::create_dir_all(&settings.data_dir)
        .map_err(|source| SetupError::Io { what: "creating the data directory", source })?;
    let db = Db::connect(
        &settings.database,
        PoolOptions { max_size: settings.pool_size, ..PoolOptions::default() },
    )?;
    let applied = db.run_migrations()?;
    Ok((db, applied))
}

/// Where the WeChat mini-program API is: the configured endpoint, or in dev mode the local
/// WeChat simulator at `wechat.simulator_listen` (which the api starts).
pub fn wechat_api_base(settings: &Settings) -> String {
    if settings.wechat_simulator {
        format!("http://{}", pay::reachable(settings.wechat_simulator_listen))
    } else {
        settings.wechat_api_base.clone()
    }
}

/// The WeChat mini-program client against `api_base` ([`wechat_api_base`], or the address of
/// a simulator this process started).
pub fn wechat_client(settings: &Settings, api_base: &str) -> Result<WechatClient, SetupError> {
    Ok(WechatClient::new(WechatConfig {
        api_base: api_base.to_owned(),
        appid: settings.wechat_appid.clone(),
        secret: settings.wechat_secret.clone(),
        timeout: Duration::from_secs(10),
    })?)
}
