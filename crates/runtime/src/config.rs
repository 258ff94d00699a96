//! Configuration: defaults → TOML file → environment (`BAOMING_…`), validated at start-up with
//! messages that name the bad key. docs/configuration.md lists every key.
//!
//! [`RawConfig`] is what the layers say; [`Settings`] is what the binaries run with: every
//! value parsed once here (the database URL, the keys), never a string to parse again.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use baoming_payments::{ApiV3Key, MerchantSigner, VerifierKeys};
use baoming_store::{DatabaseUrl, PiiKeys};
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// How the service runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Local development: demo data, the local WeChat simulator, generated dev keys.
    Dev,
    /// Production: every secret must be configured; simulators are refused.
    Production,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line (for journald/collectors).
    Json,
}

/// The raw configuration as read (every key optional where a default exists).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// `dev` or `production`.
    pub mode: Mode,
    /// Address to listen on.
    pub listen: String,
    /// Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Data directory (SQLite file, photos, dev keys).
    pub data_dir: PathBuf,
    /// Database URL; default: the SQLite file `baoming.sqlite3` in the data directory.
    pub database_url: Option<String>,
    /// Most pooled database connections.
    pub pool_size: u32,
    /// Commit the requests' writes in groups, by one writer per database (see
    /// `baoming_store::writer`); off, each request commits its own transaction on a pooled
    /// connection. Default: on for SQLite, off for PostgreSQL (docs/performance.md measures
    /// both).
    pub group_commit: Option<bool>,
    /// Lifetime of a participant session, in hours.
    pub session_ttl_hours: u32,
    /// Lifetime of a back-office session, in hours.
    pub staff_session_ttl_hours: u32,
    /// Staff passwords verified at once (each Argon2 check holds about 19 MiB and a core for
    /// a few tens of milliseconds); more logins wait their turn, holding no connection.
    pub staff_login_concurrent_hashes: u32,
    /// Log format.
    pub log_format: LogFormat,
    /// Seed the demo period into an empty database (dev mode only).
    pub demo_data: bool,
    /// WeChat.
    pub wechat: RawWechat,
    /// Personal-data keys.
    pub pii: RawPii,
    /// Photo uploads.
    pub photos: RawPhotos,
    /// The background worker (`baoming-worker`).
    pub worker: RawWorker,
    /// WeChat Pay (merchant account, keys).
    pub wechatpay: RawWechatPay,
    /// The account employers transfer fees to.
    pub payee: RawPayee,
    /// Admission tickets: fonts and signing keys.
    pub tickets: RawTickets,
    /// Rate limits per participant and per client address.
    pub limits: crate::limits::RawLimits,
    /// Retention of personal data (the worker's retention job).
    pub retention: RawRetention,
    /// Where the files (photos, originals, tickets) live.
    pub storage: RawStorage,
}

/// `[storage]`: the data directory's `files/` (default) or an S3-compatible bucket.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStorage {
    /// `local` (default: `<data_dir>/files`) or `s3`.
    #[serde(default)]
    pub backend: StorageBackend,
    /// S3: the service endpoint URL without the bucket (default: AWS S3 in `region`).
    pub endpoint: Option<String>,
    /// S3: the region requests are signed for.
    pub region: Option<String>,
    /// S3: the bucket.
    pub bucket: Option<String>,
    /// S3: keys are stored under `<prefix>/` in the bucket.
    pub prefix: Option<String>,
    /// S3: path-style requests (MinIO, moto) instead of virtual-hosted style.
    #[serde(default)]
    pub path_style: bool,
    /// S3: the access key id.
    pub access_key_id: Option<String>,
    /// S3: the secret access key (or `secret_access_key_file`).
    pub secret_access_key: Option<String>,
    /// S3: a file holding the secret access key.
    pub secret_access_key_file: Option<PathBuf>,
    /// S3: seconds one request may take (default 30).
    pub timeout_secs: Option<u32>,
}

impl fmt::Debug for RawStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawStorage")
            .field("backend", &self.backend)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key_file", &self.secret_access_key_file)
            .finish_non_exhaustive()
    }
}

/// `storage.backend`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StorageBackend {
    /// `<data_dir>/files`.
    #[default]
    Local,
    /// An S3-compatible bucket.
    S3,
}

/// `[tickets]`: the fonts tickets are drawn with and the keys their QR codes are signed with.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTickets {
    /// The regular face (default: Debian's Noto Sans CJK SC, face 2 of
    /// `NotoSansCJK-Regular.ttc`).
    pub font: RawFont,
    /// The bold face of titles (default: face 2 of `NotoSansCJK-Bold.ttc`).
    pub bold_font: Option<RawFont>,
    /// Faces tried, in order, for characters the regular face lacks.
    #[serde(default)]
    pub fallback_fonts: Vec<RawFont>,
    /// The signing keys `[{ kid, seed_file }]`: the first signs new tickets, every one
    /// verifies (keep an old key listed while its tickets are in use). Required in production;
    /// dev mode generates one into the data directory.
    #[serde(default)]
    pub signing_keys: Vec<RawSigningKey>,
}

impl Default for RawTickets {
    fn default() -> Self {
        Self {
            font: RawFont {
                path: PathBuf::from(crate::tickets::DEFAULT_REGULAR_FONT),
                index: crate::tickets::DEFAULT_FACE_INDEX,
            },
            bold_font: Some(RawFont {
                path: PathBuf::from(crate::tickets::DEFAULT_BOLD_FONT),
                index: crate::tickets::DEFAULT_FACE_INDEX,
            }),
            fallback_fonts: Vec::new(),
            signing_keys: Vec::new(),
        }
    }
}

/// A font file and the face in it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFont {
    /// The file.
    pub path: PathBuf,
    /// The face within a collection (`.ttc`); 0 for a single font.
    #[serde(default)]
    pub index: u32,
}

/// A ticket signing key: its id and the file holding its Ed25519 seed (64 hex digits).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSigningKey {
    /// The key id (1–8 of `A-Z a-z 0-9 . _ -`), printed in every QR code it signs.
    pub kid: String,
    /// The file holding the 32-byte seed as 64 hex digits (`openssl rand -hex 32`).
    pub seed_file: PathBuf,
}

/// `[wechatpay]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWechatPay {
    /// Merchant id (商户号).
    pub mchid: Option<String>,
    /// Serial number of the merchant API certificate (商户API证书序列号).
    pub merchant_serial: Option<String>,
    /// The merchant API private key (`apiclient_key.pem`, PKCS#8 or PKCS#1).
    pub merchant_key_file: Option<PathBuf>,
    /// The APIv3 key (32 characters).
    pub apiv3_key: Option<String>,
    /// File holding `apiv3_key`.
    pub apiv3_key_file: Option<PathBuf>,
    /// WeChat Pay public keys (public-key mode): `[{ id = "PUB_KEY_ID_…", file = "…pem" }]`.
    #[serde(default)]
    pub public_keys: Vec<RawPublicKey>,
    /// WeChat Pay platform certificates (certificate mode), PEM files.
    #[serde(default)]
    pub platform_certificates: Vec<PathBuf>,
    /// The public https URL WeChat Pay posts notifications to (our `/api/v1/wechatpay/notify`).
    pub notify_url: Option<String>,
    /// Dev mode: how the simulator scales WeChat's notification retry delays (1.0 = real).
    pub simulator_time_scale: Option<f64>,
    /// Dev mode: where the WeChat Pay simulator listens (its `/_sim/pay/…` endpoints stand in
    /// for the person paying); `127.0.0.1:0` picks a free port.
    pub simulator_listen: String,
}

impl Default for RawWechatPay {
    fn default() -> Self {
        Self {
            mchid: None,
            merchant_serial: None,
            merchant_key_file: None,
            apiv3_key: None,
            apiv3_key_file: None,
            public_keys: Vec::new(),
            platform_certificates: Vec::new(),
            notify_url: None,
            simulator_time_scale: None,
            simulator_listen: "127.0.0.1:8091".into(),
        }
    }
}

/// A WeChat Pay public key and its id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPublicKey {
    /// `PUB_KEY_ID_…`.
    pub id: String,
    /// The PEM file (`-----BEGIN PUBLIC KEY-----`).
    pub file: PathBuf,
}

/// `[payee]`: shown to participants who pay by bank transfer.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPayee {
    /// Account name (收款单位).
    pub name: Option<String>,
    /// Bank and branch (开户行).
    pub bank: Option<String>,
    /// Account number (账号).
    pub account: Option<String>,
}

/// `[wechat]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWechat {
    /// Mini-program app id.
    pub appid: Option<String>,
    /// Mini-program app secret.
    pub secret: Option<String>,
    /// File holding the app secret (instead of `secret`).
    pub secret_file: Option<PathBuf>,
    /// Base URL of the mini-program APIs.
    pub api_base: String,
    /// Base URL of WeChat Pay.
    pub pay_base: String,
    /// Use the local simulators (dev mode only): the api starts the WeChat simulator at
    /// `simulator_listen` and the WeChat Pay simulator at `wechatpay.simulator_listen`; the
    /// worker talks to both there.
    pub simulator: bool,
    /// Dev mode: where the api's WeChat simulator listens; `127.0.0.1:0` picks a free port.
    pub simulator_listen: String,
    /// Subscribe-message templates the worker sends with (a notice without a template is
    /// not sent).
    #[serde(default)]
    pub templates: RawTemplates,
}

/// `[wechat.templates]`: subscribe-message template ids, one per notice. Each template must
/// have the keywords `thing1` (the period), `phrase2` (the new status) and `thing3` (a note).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplates {
    /// 审核通过 (approved: pay now).
    pub approved: Option<String>,
    /// 审核未通过 (rejected, with the reason).
    pub rejected: Option<String>,
    /// 支付成功 (payment confirmed).
    pub paid: Option<String>,
    /// 报名关闭 (closed by a deadline).
    pub closed: Option<String>,
    /// 退款审核通过 (finance approved the refund).
    pub refund_approved: Option<String>,
    /// 退款申请未通过 (finance refused the refund, with the reason).
    pub refund_denied: Option<String>,
    /// 退款成功 (the money went back).
    pub refunded: Option<String>,
    /// 退款未成功 (WeChat Pay could not refund; finance is handling it).
    pub refund_failed: Option<String>,
    /// 准考证已发布 (the admission ticket is ready).
    pub ticket_published: Option<String>,
}

/// `[pii]`
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPii {
    /// AES-256 key for ID numbers, 64 hex digits: key id 1 (the single key of a configuration
    /// without rotation; with `id_encryption_keys`, the oldest).
    pub id_encryption_key: Option<String>,
    /// File holding `id_encryption_key`.
    pub id_encryption_key_file: Option<PathBuf>,
    /// Further ID encryption keys with their ids (key rotation).
    #[serde(default)]
    pub id_encryption_keys: Vec<RawIdKey>,
    /// The key id that encrypts new ID numbers (default: the highest configured id).
    pub current_key_id: Option<u8>,
    /// HMAC key of the ID-number blind index, 64 hex digits.
    pub blind_index_key: Option<String>,
    /// File holding `blind_index_key`.
    pub blind_index_key_file: Option<PathBuf>,
}

/// One entry of `pii.id_encryption_keys`: a key id and the key, given or in a file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIdKey {
    /// The key id (1–255), stored in every ciphertext the key seals.
    pub id: u8,
    /// The AES-256 key, 64 hex digits …
    pub key: Option<String>,
    /// … or a file holding it.
    pub key_file: Option<PathBuf>,
}

/// `[photos]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhotos {
    /// Largest upload accepted, in bytes.
    pub max_upload_bytes: usize,
    /// Photos decoded at once (each decode holds a full-size image in memory).
    pub max_concurrent_decodes: usize,
    /// The memory the decodes in progress may hold together, by their headers' estimate, in
    /// MiB (a photo estimated above it is decoded alone).
    pub decode_memory_mib: u32,
}

/// `[worker]`: the background worker (`baoming-worker` reads the same configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWorker {
    /// Milliseconds between looks at the queue while no job is due.
    pub poll_interval_ms: u64,
    /// Jobs claimed at once.
    pub batch_size: u32,
    /// Seconds a claimed job stays leased (longer than the longest job): after that a crashed
    /// worker's job is claimed again.
    pub lease_secs: u32,
    /// Seconds a stopping worker waits for the running job to finish.
    pub shutdown_grace_secs: u32,
    /// Seconds before a refund WeChat Pay is still processing is asked about again (its
    /// notification usually comes first).
    pub refund_recheck_secs: u32,
}

/// `[retention]`: how long personal data is kept (the worker's hourly retention job,
/// `baoming-worker retention --dry-run` for its report).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRetention {
    /// Run the retention job (sessions, unused photos, originals, erasure after the period).
    pub enabled: bool,
    /// Hours after its upload a photo no registration uses is deleted.
    pub unused_photo_hours: u32,
    /// Months after the end of a participant's last sitting their personal data is erased.
    pub erase_after_months: u32,
}

impl Default for RawRetention {
    fn default() -> Self {
        Self {
            enabled: true,
            unused_photo_hours: 24,
            erase_after_months: baoming_domain::privacy::DEFAULT_ERASE_AFTER_MONTHS,
        }
    }
}

/// Validated retention settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSettings {
    /// Whether the worker runs the job.
    pub enabled: bool,
    /// What it purges.
    pub policy: baoming_store::privacy::Policy,
}

impl Default for RawWorker {
    fn default() -> Self {
        Self {
            poll_interval_ms: 1000,
            batch_size: 10,
            lease_secs: 300,
            shutdown_grace_secs: 30,
            refund_recheck_secs: 60,
        }
    }
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            mode: Mode::Dev,
            listen: "127.0.0.1:8080".into(),
            trusted_proxies: Vec::new(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            pool_size: 16,
            group_commit: None,
            session_ttl_hours: 24 * 30,
            staff_session_ttl_hours: 12,
            staff_login_concurrent_hashes: 2,
            log_format: LogFormat::Text,
            demo_data: true,
            wechat: RawWechat {
                appid: None,
                secret: None,
                secret_file: None,
                api_base: "https://api.weixin.qq.com".into(),
                pay_base: "https://api.mch.weixin.qq.com".into(),
                simulator: cfg!(feature = "dev-keys"),
                simulator_listen: "127.0.0.1:8092".into(),
                templates: RawTemplates::default(),
            },
            pii: RawPii::default(),
            photos: RawPhotos {
                max_upload_bytes: 10 * 1024 * 1024,
                max_concurrent_decodes: std::thread::available_parallelism()
                    .map_or(2, |n| n.get().min(2)),
                decode_memory_mib: 128,
            },
            wechatpay: RawWechatPay::default(),
            payee: RawPayee::default(),
            worker: RawWorker::default(),
            tickets: RawTickets::default(),
            limits: crate::limits::RawLimits::default(),
            retention: RawRetention::default(),
            storage: RawStorage::default(),
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Reading or typing the layers failed (figment names the key and the source).
    #[error("configuration: {0}")]
    Read(#[from] Box<figment::Error>),
    /// A key has a bad value.
    #[error("configuration key `{key}`: {problem}")]
    Invalid {
        /// The key, dotted (`wechat.appid`).
        key: &'static str,
        /// What is wrong.
        problem: String,
    },
}

/// The longest participant session: a year.
pub const MAX_SESSION_TTL_HOURS: u32 = 24 * 366;

fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid { key, problem: problem.into() }
}

impl RawConfig {
    /// Reads the layers: defaults, then the TOML file (if given, it must exist), then
    /// `BAOMING_*` environment variables (`__` separates sections: `BAOMING_WECHAT__APPID`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Some(file) = file {
            if !file.is_file() {
                return Err(invalid("--config", format!("no such file: {}", file.display())));
            }
            figment = figment.merge(Toml::file_exact(file));
        }
        figment = figment.merge(
            Env::prefixed("BAOMING_")
                // Variables of the tooling, not of the service.
                .ignore(&["config", "test_postgres_url", "test_s3_url", "chromium", "chromedriver"])
                .split("__"),
        );
        figment.extract().map_err(|e| ConfigError::Read(Box::new(e)))
    }
}

/// Validated settings the service runs with: every value parsed once, here.
#[derive(Clone)]
pub struct Settings {
    /// Mode.
    pub mode: Mode,
    /// Listen address.
    pub listen: SocketAddr,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: crate::proxies::TrustedProxies,
    /// Data directory.
    pub data_dir: PathBuf,
    /// The database: its backend and where it lives.
    pub database: DatabaseUrl,
    /// Pool size.
    pub pool_size: u32,
    /// Group commit of the requests' writes (the backend's default when not set).
    pub group_commit: bool,
    /// Participant session lifetime.
    pub session_ttl: chrono::Duration,
    /// Staff session lifetime.
    pub staff_session_ttl: chrono::Duration,
    /// Staff passwords verified at once.
    pub staff_login_concurrent_hashes: usize,
    /// Log format.
    pub log_format: LogFormat,
    /// Seed demo data.
    pub demo_data: bool,
    /// WeChat app id.
    pub wechat_appid: String,
    /// WeChat app secret.
    pub wechat_secret: String,
    /// Mini-program API base URL (replaced by the simulator's in dev mode).
    pub wechat_api_base: String,
    /// WeChat Pay base URL.
    pub wechat_pay_base: String,
    /// Start the local simulators (dev mode, builds with the `simulators` feature only).
    pub wechat_simulator: bool,
    /// Personal-data keys.
    pub pii: PiiKeys,
    /// Photo limits.
    pub photo_max_upload_bytes: usize,
    /// Concurrent photo decodes.
    pub photo_max_concurrent_decodes: usize,
    /// The memory budget of the photo decodes in progress, in MiB.
    pub photo_decode_memory_mib: u32,
    /// Subscribe-message templates (dev mode with the simulator: `dev_<notice>`).
    pub templates: Templates,
    /// WeChat Pay.
    pub pay: PaySettings,
    /// The transfer payee.
    pub payee: Payee,
    /// Dev mode: the WeChat Pay simulator's time scale.
    pub pay_simulator_time_scale: f64,
    /// Dev mode: where the WeChat Pay simulator listens.
    pub pay_simulator_listen: SocketAddr,
    /// Dev mode: where the WeChat simulator listens.
    pub wechat_simulator_listen: SocketAddr,
    /// The background worker.
    pub worker: WorkerSettings,
    /// Admission tickets.
    pub tickets: TicketSettings,
    /// Rate limits (validated).
    pub limits: crate::limits::RawLimits,
    /// Retention of personal data.
    pub retention: RetentionSettings,
    /// Where the files live.
    pub storage: crate::storage::StorageSettings,
}

/// Validated ticket settings: the font files (read on first use) and the signing keys
/// (loaded).
#[derive(Debug, Clone)]
pub struct TicketSettings {
    /// The faces.
    pub fonts: crate::tickets::FontFiles,
    /// The keys.
    pub keys: std::sync::Arc<crate::tickets::TicketKeys>,
}

/// Subscribe-message template ids, one per notice; a notice without a template is not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Templates {
    /// 审核通过 (approved: pay now).
    pub approved: Option<String>,
    /// 审核未通过 (rejected, with the reason).
    pub rejected: Option<String>,
    /// 支付成功 (payment confirmed).
    pub paid: Option<String>,
    /// 报名关闭 (closed by a deadline).
    pub closed: Option<String>,
    /// 退款审核通过 (finance approved the refund).
    pub refund_approved: Option<String>,
    /// 退款申请未通过 (finance refused the refund, with the reason).
    pub refund_denied: Option<String>,
    /// 退款成功 (the money went back).
    pub refunded: Option<String>,
    /// 退款未成功 (WeChat Pay could not refund; finance is handling it).
    pub refund_failed: Option<String>,
    /// 准考证已发布 (the admission ticket is ready).
    pub ticket_published: Option<String>,
}

/// Validated settings of the background worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerSettings {
    /// Pause between looks at the queue while no job is due.
    pub poll_interval: std::time::Duration,
    /// Jobs claimed at once.
    pub batch_size: u32,
    /// Lease of a claimed job.
    pub lease: chrono::Duration,
    /// How long a stopping worker waits for the running job.
    pub shutdown_grace: std::time::Duration,
    /// How long before a processing refund is asked about again.
    pub refund_recheck: chrono::Duration,
}

/// WeChat Pay settings, with the keys loaded: the merchant's signing key, the APIv3 key and
/// the WeChat Pay public keys trusted for answers and notifications. In dev mode with the
/// simulator, the simulator's development keys.
#[derive(Clone)]
pub struct PaySettings {
    /// Signs requests as our merchant (merchant id, certificate serial, private key).
    pub signer: MerchantSigner,
    /// Decrypts notifications.
    pub apiv3_key: ApiV3Key,
    /// The WeChat Pay public keys (public-key ids and platform certificates).
    pub verifier: VerifierKeys,
    /// Where notifications go; `None` in dev mode: the api's own address once it listens.
    pub notify_url: Option<String>,
}

impl PaySettings {
    /// Our merchant id.
    pub fn mchid(&self) -> &str {
        self.signer.mchid()
    }
}

impl fmt::Debug for PaySettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaySettings")
            .field("mchid", &self.signer.mchid())
            .field("merchant_serial", &self.signer.serial_no())
            .field("verifier", &self.verifier)
            .field("notify_url", &self.notify_url)
            .finish_non_exhaustive()
    }
}

/// The account employers transfer fees to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Payee {
    /// Account name (收款单位).
    pub name: String,
    /// Bank and branch (开户行).
    pub bank: String,
    /// Account number (账号).
    pub account: String,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("mode", &self.mode)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database)
            .field("wechat_appid", &self.wechat_appid)
            .field("wechat_api_base", &self.wechat_api_base)
            .field("wechat_simulator", &self.wechat_simulator)
            .field("pay", &self.pay)
            .field("storage", &self.storage)
            .finish_non_exhaustive()
    }
}

fn secret(
    key: &'static str,
    value: &Option<String>,
    file: &Option<PathBuf>,
) -> Result<Option<String>, ConfigError> {
    match (value, file) {
        (Some(_), Some(_)) => Err(invalid(key, "give the value or a file, not both")),
        (Some(v), None) => Ok(Some(v.trim().to_owned())),
        (None, Some(path)) => std::fs::read_to_string(path)
            .map(|s| Some(s.trim().to_owned()))
            .map_err(|e| invalid(key, format!("cannot read {}: {e}", path.display()))),
        (None, None) => Ok(None),
    }
}

fn is_loopback_url(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let host = rest.split(['/', '?']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = if host.starts_with('[') {
        host.split(']').next().unwrap_or_default().trim_start_matches('[')
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host == "localhost"
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback() || ip.is_unspecified())
}

impl RawConfig {
    /// Validates every key; dev mode fills in what it may (dev keys, dev credentials).
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let dev = self.mode == Mode::Dev;
        let listen: SocketAddr = self.listen.parse().map_err(|_| {
            invalid("listen", format!("not an address like 127.0.0.1:8080: {:?}", self.listen))
        })?;
        if dev && !listen.ip().to_canonical().is_loopback() {
            return Err(invalid(
                "mode",
                format!(
                    "dev mode (the default) serves demo data, simulators and published \
                     development keys, so it only listens on a loopback address; `listen` is \
                     {listen}: use 127.0.0.1 or ::1, or set `mode = \"production\"`"
                ),
            ));
        }
        let trusted_proxies = crate::proxies::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(|problem| invalid("trusted_proxies", problem))?;
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        let database = match &self.database_url {
            Some(url) => DatabaseUrl::parse(url),
            None => Ok(DatabaseUrl::Sqlite(self.data_dir.join("baoming.sqlite3"))),
        }
        .map_err(|e| invalid("database_url", e.to_string()))?;
        if let DatabaseUrl::Sqlite(path) = &database
            && path.to_str().is_none()
        {
            return Err(invalid("data_dir", "path is not UTF-8"));
        }
        if self.pool_size == 0 || self.pool_size > 256 {
            return Err(invalid("pool_size", "must be between 1 and 256"));
        }
        if !(1..=MAX_SESSION_TTL_HOURS).contains(&self.session_ttl_hours) {
            return Err(invalid(
                "session_ttl_hours",
                format!("must be between 1 and {MAX_SESSION_TTL_HOURS} (a year)"),
            ));
        }
        if self.staff_session_ttl_hours == 0 || self.staff_session_ttl_hours > 24 * 7 {
            return Err(invalid("staff_session_ttl_hours", "must be between 1 and 168"));
        }
        if !(1..=64).contains(&self.staff_login_concurrent_hashes) {
            return Err(invalid("staff_login_concurrent_hashes", "must be between 1 and 64"));
        }
        if self.photos.max_upload_bytes < 64 * 1024
            || self.photos.max_upload_bytes > 64 * 1024 * 1024
        {
            return Err(invalid("photos.max_upload_bytes", "must be between 64 KiB and 64 MiB"));
        }
        if self.photos.max_concurrent_decodes == 0 {
            return Err(invalid("photos.max_concurrent_decodes", "must be at least 1"));
        }
        if !(32..=65_536).contains(&self.photos.decode_memory_mib) {
            return Err(invalid("photos.decode_memory_mib", "must be between 32 and 65536"));
        }
        self.limits.check().map_err(|(key, problem)| invalid(key, problem))?;

        let wk = &self.worker;
        if !(10..=60_000).contains(&wk.poll_interval_ms) {
            return Err(invalid("worker.poll_interval_ms", "must be between 10 and 60000"));
        }
        if !(1..=1000).contains(&wk.batch_size) {
            return Err(invalid("worker.batch_size", "must be between 1 and 1000"));
        }
        if !(1..=86_400).contains(&wk.lease_secs) {
            return Err(invalid("worker.lease_secs", "must be between 1 and 86400"));
        }
        if !(1..=600).contains(&wk.shutdown_grace_secs) {
            return Err(invalid("worker.shutdown_grace_secs", "must be between 1 and 600"));
        }
        let worker = WorkerSettings {
            poll_interval: std::time::Duration::from_millis(wk.poll_interval_ms),
            batch_size: wk.batch_size,
            lease: chrono::Duration::seconds(i64::from(wk.lease_secs)),
            shutdown_grace: std::time::Duration::from_secs(u64::from(wk.shutdown_grace_secs)),
            refund_recheck: chrono::Duration::seconds(i64::from(wk.refund_recheck_secs.max(1))),
        };
        let rt = &self.retention;
        if !(1..=24 * 90).contains(&rt.unused_photo_hours) {
            return Err(invalid("retention.unused_photo_hours", "must be between 1 and 2160"));
        }
        if !(1..=1200).contains(&rt.erase_after_months) {
            return Err(invalid("retention.erase_after_months", "must be between 1 and 1200"));
        }
        let retention = RetentionSettings {
            enabled: rt.enabled,
            policy: baoming_store::privacy::Policy {
                unused_photo_after: chrono::Duration::hours(i64::from(rt.unused_photo_hours)),
                erase_after_months: rt.erase_after_months,
            },
        };
        let w = &self.wechat;
        let simulator = dev && w.simulator;
        if !dev && w.simulator {
            return Err(invalid("wechat.simulator", "the WeChat simulator is for dev mode only"));
        }
        if simulator && !cfg!(feature = "dev-keys") {
            return Err(invalid(
                "wechat.simulator",
                "this build has no simulators and no development keys (built without the \
                 `simulators` feature): set wechat.simulator = false and configure WeChat and \
                 WeChat Pay",
            ));
        }
        for (key, url) in [("wechat.api_base", &w.api_base), ("wechat.pay_base", &w.pay_base)] {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(invalid(key, "must be an http(s) URL"));
            }
            if !dev && (!url.starts_with("https://") || is_loopback_url(url)) {
                return Err(invalid(
                    key,
                    "production mode needs the real WeChat endpoint over https, not a local simulator",
                ));
            }
        }
        let (appid, secret_value) = wechat_credentials(w, simulator)?;

        let pii = pii_keys(&self.pii, &self.data_dir, dev)?;
        let pay = pay_settings(&self.wechatpay, simulator, dev)?;
        if !dev {
            crate::dev_material::refuse_in_production(&appid, &secret_value, &pay)?;
        }
        let payee = match (&self.payee.name, &self.payee.bank, &self.payee.account) {
            (Some(name), Some(bank), Some(account))
                if [name, bank, account].iter().all(|v| !v.trim().is_empty()) =>
            {
                Payee {
                    name: name.trim().to_owned(),
                    bank: bank.trim().to_owned(),
                    account: account.trim().to_owned(),
                }
            }
            (None, None, None) if dev => Payee {
                name: "演示培训中心（开发环境）".into(),
                bank: "演示银行福州分行".into(),
                account: "6222 0000 0000 0000 000".into(),
            },
            _ => return Err(invalid("payee", "name, bank and account are all required")),
        };
        if self.demo_data && !dev {
            // Demo data only ever lands in a dev database.
            tracing::warn!("demo_data is ignored in production mode");
        }
        let tickets = ticket_settings(&self.tickets, &self.data_dir, dev)?;
        let storage = storage_settings(&self.storage, &self.data_dir, dev)?;
        let raw = &w.templates;
        let templates = if simulator {
            let dev =
                |t: &Option<String>, name: &str| t.clone().or_else(|| Some(format!("dev_{name}")));
            Templates {
                approved: dev(&raw.approved, "approved"),
                rejected: dev(&raw.rejected, "rejected"),
                paid: dev(&raw.paid, "paid"),
                closed: dev(&raw.closed, "closed"),
                refund_approved: dev(&raw.refund_approved, "refund_approved"),
                refund_denied: dev(&raw.refund_denied, "refund_denied"),
                refunded: dev(&raw.refunded, "refunded"),
                refund_failed: dev(&raw.refund_failed, "refund_failed"),
                ticket_published: dev(&raw.ticket_published, "ticket_published"),
            }
        } else {
            Templates {
                approved: raw.approved.clone(),
                rejected: raw.rejected.clone(),
                paid: raw.paid.clone(),
                closed: raw.closed.clone(),
                refund_approved: raw.refund_approved.clone(),
                refund_denied: raw.refund_denied.clone(),
                refunded: raw.refunded.clone(),
                refund_failed: raw.refund_failed.clone(),
                ticket_published: raw.ticket_published.clone(),
            }
        };
        // One writer serialises SQLite's writes anyway and saves their commits; PostgreSQL
        // writes in parallel on the pool, and one writer's round trips cost more than the
        // commits it saves (docs/performance.md).
        let group_commit = self.group_commit.unwrap_or(database.is_sqlite());
        Ok(Settings {
            mode: self.mode,
            listen,
            trusted_proxies,
            data_dir: self.data_dir,
            database,
            pool_size: self.pool_size,
            group_commit,
            session_ttl: chrono::Duration::hours(i64::from(self.session_ttl_hours)),
            staff_session_ttl: chrono::Duration::hours(i64::from(self.staff_session_ttl_hours)),
            staff_login_concurrent_hashes: self.staff_login_concurrent_hashes as usize,
            log_format: self.log_format,
            demo_data: self.demo_data && dev,
            wechat_appid: appid,
            wechat_secret: secret_value,
            wechat_api_base: w.api_base.trim_end_matches('/').to_owned(),
            wechat_pay_base: w.pay_base.trim_end_matches('/').to_owned(),
            wechat_simulator: simulator,
            pii,
            photo_max_upload_bytes: self.photos.max_upload_bytes,
            photo_max_concurrent_decodes: self.photos.max_concurrent_decodes,
            photo_decode_memory_mib: self.photos.decode_memory_mib,
            templates,
            pay_simulator_time_scale: self.wechatpay.simulator_time_scale.unwrap_or(1.0),
            pay_simulator_listen: self.wechatpay.simulator_listen.parse().map_err(|_| {
                invalid("wechatpay.simulator_listen", "not an address like 127.0.0.1:8091")
            })?,
            wechat_simulator_listen: w.simulator_listen.parse().map_err(|_| {
                invalid("wechat.simulator_listen", "not an address like 127.0.0.1:8092")
            })?,
            pay,
            payee,
            worker,
            tickets,
            limits: self.limits.clone(),
            retention,
            storage,
        })
    }
}

/// `[storage]`: the local directory, or a bucket with everything it needs (checked here as far
/// as it can be without a request; the binaries check the bucket itself at start-up).
fn storage_settings(
    raw: &RawStorage,
    data_dir: &Path,
    dev: bool,
) -> Result<crate::storage::StorageSettings, ConfigError> {
    use crate::storage::{S3Settings, StorageSettings};
    if raw.backend == StorageBackend::Local {
        let s3_only: [(&'static str, bool); 9] = [
            ("storage.endpoint", raw.endpoint.is_some()),
            ("storage.region", raw.region.is_some()),
            ("storage.bucket", raw.bucket.is_some()),
            ("storage.prefix", raw.prefix.is_some()),
            ("storage.path_style", raw.path_style),
            ("storage.access_key_id", raw.access_key_id.is_some()),
            ("storage.secret_access_key", raw.secret_access_key.is_some()),
            ("storage.secret_access_key_file", raw.secret_access_key_file.is_some()),
            ("storage.timeout_secs", raw.timeout_secs.is_some()),
        ];
        if let Some((key, _)) = s3_only.iter().find(|(_, set)| *set) {
            return Err(invalid(key, "only for object storage: set storage.backend = \"s3\""));
        }
        return Ok(StorageSettings::Local { root: data_dir.join("files") });
    }
    let required = |key: &'static str, value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| invalid(key, "required with storage.backend = \"s3\""))
    };
    let bucket = required("storage.bucket", &raw.bucket)?;
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
        && !bucket.starts_with(['-', '.'])
        && !bucket.ends_with(['-', '.']);
    if !bucket_ok {
        return Err(invalid(
            "storage.bucket",
            format!("{bucket:?} is not a bucket name (3 to 63 of a-z, 0-9, '-' and '.')"),
        ));
    }
    let region = required("storage.region", &raw.region)?;
    let endpoint = match raw.endpoint.as_deref().map(str::trim) {
        None => None,
        Some(endpoint) => {
            let url = reqwest::Url::parse(endpoint).map_err(|e| {
                invalid("storage.endpoint", format!("{endpoint:?} is not a URL: {e}"))
            })?;
            if !matches!(url.scheme(), "http" | "https")
                || url.host_str().is_none()
                || !url.username().is_empty()
                || url.password().is_some()
                || url.query().is_some()
                || url.fragment().is_some()
            {
                return Err(invalid(
                    "storage.endpoint",
                    format!(
                        "{endpoint:?}: give an http(s) URL like https://oss-cn-hangzhou.aliyuncs.com"
                    ),
                ));
            }
            if !dev && url.scheme() == "http" && !is_loopback_url(endpoint) {
                return Err(invalid(
                    "storage.endpoint",
                    "production mode sends the files over https only (plain http only to a \
                     loopback address)",
                ));
            }
            Some(endpoint.trim_end_matches('/').to_owned())
        }
    };
    let prefix = match raw.prefix.as_deref().map(|p| p.trim().trim_matches('/')) {
        None | Some("") => None,
        Some(prefix) => {
            baoming_photos::storage::validate_key(prefix).map_err(|_| {
                invalid(
                    "storage.prefix",
                    format!("{prefix:?}: segments of a-z, 0-9, '_', '.' and '-' separated by '/'"),
                )
            })?;
            Some(prefix.to_owned())
        }
    };
    let access_key_id = required("storage.access_key_id", &raw.access_key_id)?;
    let secret_access_key =
        secret("storage.secret_access_key", &raw.secret_access_key, &raw.secret_access_key_file)?
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                invalid(
                    "storage.secret_access_key",
                    "required with storage.backend = \"s3\" (or storage.secret_access_key_file)",
                )
            })?;
    let timeout_secs = raw.timeout_secs.unwrap_or(30);
    if !(1..=600).contains(&timeout_secs) {
        return Err(invalid("storage.timeout_secs", "must be between 1 and 600"));
    }
    Ok(StorageSettings::S3(S3Settings {
        endpoint,
        region,
        bucket,
        prefix,
        path_style: raw.path_style,
        access_key_id,
        secret_access_key,
        timeout: std::time::Duration::from_secs(u64::from(timeout_secs)),
    }))
}

/// `[tickets]`: the font files (in production they must exist; in dev mode a missing font
/// only means tickets cannot be rendered, which the worker reports) and the signing keys
/// (production: required; dev mode without any: one generated once into
/// `<data_dir>/dev-ticket-key.txt`).
fn ticket_settings(
    raw: &RawTickets,
    data_dir: &Path,
    dev: bool,
) -> Result<TicketSettings, ConfigError> {
    use crate::tickets::{FontFile, FontFiles, TicketKeys};
    let file = |f: &RawFont| FontFile { path: f.path.clone(), index: f.index };
    let fonts = FontFiles {
        regular: file(&raw.font),
        bold: raw.bold_font.as_ref().map(file),
        fallbacks: raw.fallback_fonts.iter().map(file).collect(),
    };
    let mut named: Vec<(&'static str, &FontFile)> = vec![("tickets.font", &fonts.regular)];
    named.extend(fonts.bold.iter().map(|f| ("tickets.bold_font", f)));
    named.extend(fonts.fallbacks.iter().map(|f| ("tickets.fallback_fonts", f)));
    for (key, font) in named {
        if !font.path.is_file() {
            let problem = format!(
                "no font file at {} (install Debian's fonts-noto-cjk, or configure the path)",
                font.path.display()
            );
            if dev {
                tracing::warn!(key, %problem, "admission tickets cannot be rendered");
            } else {
                return Err(invalid(key, problem));
            }
        }
    }
    let keys = if raw.signing_keys.is_empty() {
        if !dev {
            return Err(invalid(
                "tickets.signing_keys",
                "required in production mode: [{ kid = \"…\", seed_file = \"…\" }]",
            ));
        }
        vec![dev_ticket_key(data_dir)?]
    } else {
        raw.signing_keys
            .iter()
            .map(|k| {
                let text = std::fs::read_to_string(&k.seed_file).map_err(|e| {
                    invalid(
                        "tickets.signing_keys",
                        format!("key {}: cannot read {}: {e}", k.kid, k.seed_file.display()),
                    )
                })?;
                let seed = seed_hex(text.trim()).ok_or_else(|| {
                    invalid(
                        "tickets.signing_keys",
                        format!("key {}: {} must hold 64 hex digits", k.kid, k.seed_file.display()),
                    )
                })?;
                Ok((k.kid.clone(), seed))
            })
            .collect::<Result<Vec<_>, ConfigError>>()?
    };
    let keys = TicketKeys::new(keys).map_err(|e| invalid("tickets.signing_keys", e))?;
    Ok(TicketSettings { fonts, keys: std::sync::Arc::new(keys) })
}

fn seed_hex(text: &str) -> Option<[u8; 32]> {
    let bytes = hex::decode(text).ok()?;
    <[u8; 32]>::try_from(bytes.as_slice()).ok()
}

/// Dev mode: a ticket signing key generated once and kept in the data directory (`dev1`), so
/// tickets rendered before a restart still verify.
fn dev_ticket_key(data_dir: &Path) -> Result<(String, [u8; 32]), ConfigError> {
    let path = data_dir.join("dev-ticket-key.txt");
    let read = |text: &str| {
        let mut lines = text.lines();
        match (lines.next(), lines.next().and_then(|l| seed_hex(l.trim()))) {
            (Some(kid), Some(seed)) => Some((kid.trim().to_owned(), seed)),
            _ => None,
        }
    };
    if let Ok(text) = std::fs::read_to_string(&path) {
        return read(&text).ok_or_else(|| {
            invalid("tickets.signing_keys", format!("{} is damaged; delete it", path.display()))
        });
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed)
        .map_err(|e| invalid("tickets.signing_keys", format!("no randomness: {e}")))?;
    let text = format!("dev1\n{}\n", hex::encode(seed));
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&path, &text))
        .map_err(|e| invalid("data_dir", format!("cannot write {}: {e}", path.display())))?;
    Ok(("dev1".to_owned(), seed))
}

/// The mini-program's app id and secret: configured, or (dev mode with the simulator) the
/// simulator's.
fn wechat_credentials(w: &RawWechat, simulator: bool) -> Result<(String, String), ConfigError> {
    let appid = match &w.appid {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ if simulator => crate::dev_material::DEV_APPID.to_owned(),
        _ => return Err(invalid("wechat.appid", "required")),
    };
    let secret_value = match secret("wechat.secret", &w.secret, &w.secret_file)? {
        Some(s) if !s.is_empty() => s,
        _ => match simulator_secret(simulator) {
            Some(s) => s,
            None => return Err(invalid("wechat.secret", "required (or wechat.secret_file)")),
        },
    };
    Ok((appid, secret_value))
}

#[cfg(feature = "dev-keys")]
fn simulator_secret(simulator: bool) -> Option<String> {
    simulator.then(|| crate::dev::APP_SECRET.to_owned())
}

#[cfg(not(feature = "dev-keys"))]
fn simulator_secret(_simulator: bool) -> Option<String> {
    None
}

fn read_file(key: &'static str, path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|e| invalid(key, format!("cannot read {}: {e}", path.display())))
}

/// `[wechatpay]`: everything required in production; dev mode with the simulator uses the
/// simulator's development keys. Every key is loaded (and so checked) here.
fn pay_settings(
    raw: &RawWechatPay,
    simulator: bool,
    dev: bool,
) -> Result<PaySettings, ConfigError> {
    #[cfg(feature = "dev-keys")]
    if simulator && raw.mchid.is_none() {
        return crate::dev::pay_settings(raw.notify_url.clone());
    }
    let _ = simulator;
    let required = |key: &'static str, value: &Option<String>| {
        value
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| invalid(key, "required"))
    };
    let mchid = required("wechatpay.mchid", &raw.mchid)?;
    let merchant_serial = required("wechatpay.merchant_serial", &raw.merchant_serial)?;
    let key_file = raw
        .merchant_key_file
        .as_deref()
        .ok_or_else(|| invalid("wechatpay.merchant_key_file", "required"))?;
    let merchant_key_pem = read_file("wechatpay.merchant_key_file", key_file)?;
    let signer = MerchantSigner::from_pem(&mchid, &merchant_serial, &merchant_key_pem)
        .map_err(|e| invalid("wechatpay.merchant_key_file", e.to_string()))?;
    let apiv3_key = secret("wechatpay.apiv3_key", &raw.apiv3_key, &raw.apiv3_key_file)?
        .ok_or_else(|| invalid("wechatpay.apiv3_key", "required (or wechatpay.apiv3_key_file)"))?;
    if apiv3_key.len() != 32 {
        return Err(invalid("wechatpay.apiv3_key", "must be 32 characters"));
    }
    let apiv3_key =
        ApiV3Key::parse(&apiv3_key).map_err(|e| invalid("wechatpay.apiv3_key", e.to_string()))?;
    let verifier = VerifierKeys::new();
    for key in &raw.public_keys {
        let pem = read_file("wechatpay.public_keys", &key.file)?;
        verifier
            .add_public_key(&key.id, &pem)
            .map_err(|e| invalid("wechatpay.public_keys", format!("{}: {e}", key.id)))?;
    }
    for path in &raw.platform_certificates {
        let pem = read_file("wechatpay.platform_certificates", path)?;
        verifier.add_platform_certificate(&pem).map_err(|e| {
            invalid("wechatpay.platform_certificates", format!("{}: {e}", path.display()))
        })?;
    }
    if verifier.is_empty() {
        return Err(invalid(
            "wechatpay.public_keys",
            "give the WeChat Pay public key (or platform certificates) to verify WeChat Pay with",
        ));
    }
    let notify_url = match &raw.notify_url {
        Some(url) if url.starts_with("https://") && !url.contains('?') => Some(url.clone()),
        Some(url) if dev && url.starts_with("http://") => Some(url.clone()),
        Some(_) => {
            return Err(invalid("wechatpay.notify_url", "must be an https URL without a query"));
        }
        None if dev => None,
        None => return Err(invalid("wechatpay.notify_url", "required in production mode")),
    };
    Ok(PaySettings { signer, apiv3_key, verifier, notify_url })
}

/// The ID-number keys: `id_encryption_key` (key id 1) and `id_encryption_keys`, the current
/// one, and the blind-index key; dev mode without any generates them.
fn pii_keys(raw: &RawPii, data_dir: &Path, dev: bool) -> Result<PiiKeys, ConfigError> {
    const KEYS: &str = "pii.id_encryption_keys";
    let legacy =
        secret("pii.id_encryption_key", &raw.id_encryption_key, &raw.id_encryption_key_file)?;
    let idx = secret("pii.blind_index_key", &raw.blind_index_key, &raw.blind_index_key_file)?;
    let mut keys = Vec::new();
    if let Some(text) = &legacy {
        let key = baoming_store::pii::key_from_hex("pii.id_encryption_key", text)
            .map_err(|e| invalid("pii.id_encryption_key", e.to_string()))?;
        keys.push((baoming_store::pii::LEGACY_KEY_ID, key));
    }
    for entry in &raw.id_encryption_keys {
        let id = entry.id;
        if legacy.is_some() && id == baoming_store::pii::LEGACY_KEY_ID {
            return Err(invalid(
                KEYS,
                "key 1 is `pii.id_encryption_key`: give it there or in the list, not both",
            ));
        }
        let text = match (&entry.key, &entry.key_file) {
            (Some(key), None) => key.clone(),
            (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
                invalid(KEYS, format!("key {id}: cannot read {}: {e}", path.display()))
            })?,
            _ => {
                return Err(invalid(
                    KEYS,
                    format!("key {id}: give `key` or `key_file`, one of them"),
                ));
            }
        };
        let key = baoming_store::pii::key_from_hex(&format!("key {id}"), &text)
            .map_err(|e| invalid(KEYS, e.to_string()))?;
        keys.push((id, key));
    }
    let idx = match (keys.is_empty(), idx) {
        (true, None) if dev => {
            if raw.current_key_id.is_some() {
                return Err(invalid("pii.current_key_id", "no ID encryption keys are configured"));
            }
            return dev_keys(data_dir);
        }
        (true, _) => return Err(invalid("pii.id_encryption_key", "required in production mode")),
        (false, None) => return Err(invalid("pii.blind_index_key", "required in production mode")),
        (false, Some(idx)) => baoming_store::pii::key_from_hex("pii.blind_index_key", &idx)
            .map_err(|e| invalid("pii.blind_index_key", e.to_string()))?,
    };
    let newest = keys.iter().map(|(id, _)| *id).max().unwrap_or(baoming_store::pii::LEGACY_KEY_ID);
    let current = raw.current_key_id.unwrap_or(newest);
    if !keys.iter().any(|(id, _)| *id == current) {
        return Err(invalid("pii.current_key_id", format!("key {current} is not configured")));
    }
    PiiKeys::rotating(keys, current, idx).map_err(|e| invalid("pii", e.to_string()))
}

/// Dev mode: random keys generated once and kept in the data directory, so a restart can
/// still decrypt what it stored.
fn dev_keys(data_dir: &Path) -> Result<PiiKeys, ConfigError> {
    let path = data_dir.join("dev-pii-keys.txt");
    let read = |text: &str| {
        let mut lines = text.lines();
        match (lines.next(), lines.next()) {
            (Some(enc), Some(idx)) => PiiKeys::from_hex(enc, idx).ok(),
            _ => None,
        }
    };
    if let Ok(text) = std::fs::read_to_string(&path) {
        return read(&text)
            .ok_or_else(|| invalid("pii", format!("{} is damaged; delete it", path.display())));
    }
    let mut bytes = [0u8; 64];
    getrandom::fill(&mut bytes).map_err(|e| invalid("pii", format!("no randomness: {e}")))?;
    let text = format!("{}\n{}\n", hex::encode(&bytes[..32]), hex::encode(&bytes[32..]));
    std::fs::create_dir_all(data_dir)
        .and_then(|()| std::fs::write(&path, &text))
        .map_err(|e| invalid("data_dir", format!("cannot write {}: {e}", path.display())))?;
    read(&text).ok_or_else(|| invalid("pii", "generated keys did not parse"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn production() -> RawConfig {
        let mut raw = RawConfig { mode: Mode::Production, ..RawConfig::default() };
        raw.wechat.simulator = false;
        raw.wechat.appid = Some("wx123".into());
        raw.wechat.secret = Some("s".into());
        raw.pii.id_encryption_key = Some("01".repeat(32));
        raw.pii.blind_index_key = Some("02".repeat(32));
        let keys = tempfile::tempdir().expect("dir").keep();
        // The payments crate's test keys: not the simulators' published ones, which production
        // refuses.
        let key = keys.join("apiclient_key.pem");
        std::fs::write(&key, include_str!("../../payments/testdata/merchant-test-key.pem"))
            .expect("write");
        let public = keys.join("pub_key.pem");
        std::fs::write(&public, include_str!("../../payments/testdata/platform-test-pub-1.pem"))
            .expect("write");
        raw.wechatpay = RawWechatPay {
            mchid: Some("1900000001".into()),
            merchant_serial: Some("5157F09EFDC096DE15EBE81A47057A72".into()),
            merchant_key_file: Some(key),
            apiv3_key: Some("a".repeat(32)),
            apiv3_key_file: None,
            public_keys: vec![RawPublicKey {
                id: "PUB_KEY_ID_0000000000000024101100397200000006".into(),
                file: public,
            }],
            platform_certificates: vec![],
            notify_url: Some("https://baoming.example.com/api/v1/wechatpay/notify".into()),
            ..RawWechatPay::default()
        };
        raw.payee = RawPayee {
            name: Some("某培训中心".into()),
            bank: Some("某银行".into()),
            account: Some("1234".into()),
        };
        // Production only checks that the font files exist (they are read on first use).
        let font = keys.join("font.ttc");
        std::fs::write(&font, b"not read at start-up").expect("write");
        raw.tickets.font = RawFont { path: font.clone(), index: 2 };
        raw.tickets.bold_font = Some(RawFont { path: font, index: 2 });
        let seed = keys.join("ticket-2026a.key");
        std::fs::write(&seed, format!("{}\n", "5a".repeat(32))).expect("write");
        raw.tickets.signing_keys = vec![RawSigningKey { kid: "2026a".into(), seed_file: seed }];
        raw
    }

    fn key_of(raw: RawConfig) -> String {
        match raw.validate() {
            Err(ConfigError::Invalid { key, .. }) => key.to_owned(),
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn production_needs_secrets_and_real_endpoints() {
        assert!(production().validate().is_ok());
        let mut raw = production();
        raw.wechat.simulator = true;
        assert_eq!(key_of(raw), "wechat.simulator");
        let mut raw = production();
        raw.wechat.api_base = "http://127.0.0.1:9999".into();
        assert_eq!(key_of(raw), "wechat.api_base");
        let mut raw = production();
        raw.wechat.pay_base = "https://localhost:8443".into();
        assert_eq!(key_of(raw), "wechat.pay_base");
        let mut raw = production();
        raw.pii.blind_index_key = None;
        assert_eq!(key_of(raw), "pii.blind_index_key");
        let mut raw = production();
        raw.wechat.appid = None;
        assert_eq!(key_of(raw), "wechat.appid");
        let mut raw = production();
        raw.listen = "nowhere".into();
        assert_eq!(key_of(raw), "listen");
        let mut raw = production();
        raw.database_url = Some("mysql://x".into());
        assert_eq!(key_of(raw), "database_url");
        let mut raw = production();
        raw.wechatpay.mchid = None;
        assert_eq!(key_of(raw), "wechatpay.mchid");
        let mut raw = production();
        raw.wechatpay.apiv3_key = Some("short".into());
        assert_eq!(key_of(raw), "wechatpay.apiv3_key");
        let mut raw = production();
        raw.wechatpay.notify_url = Some("http://baoming.example.com/notify".into());
        assert_eq!(key_of(raw), "wechatpay.notify_url");
        let mut raw = production();
        raw.wechatpay.public_keys.clear();
        assert_eq!(key_of(raw), "wechatpay.public_keys");
        let mut raw = production();
        raw.payee.account = None;
        assert_eq!(key_of(raw), "payee");
        let mut raw = production();
        raw.worker.lease_secs = 0;
        assert_eq!(key_of(raw), "worker.lease_secs");
        let mut raw = production();
        raw.worker.batch_size = 0;
        assert_eq!(key_of(raw), "worker.batch_size");
        for hours in [0, MAX_SESSION_TTL_HOURS + 1, u32::MAX] {
            let mut raw = production();
            raw.session_ttl_hours = hours;
            let (key, problem) = problem_of(raw);
            assert_eq!(key, "session_ttl_hours");
            assert!(problem.contains("between 1 and 8784"), "{problem}");
        }
        let mut raw = production();
        raw.session_ttl_hours = MAX_SESSION_TTL_HOURS;
        assert!(raw.validate().is_ok());
        let mut raw = production();
        raw.staff_login_concurrent_hashes = 0;
        assert_eq!(key_of(raw), "staff_login_concurrent_hashes");
        assert_eq!(production().validate().expect("valid").staff_login_concurrent_hashes, 2);
    }

    fn problem_of(raw: RawConfig) -> (String, String) {
        match raw.validate() {
            Err(ConfigError::Invalid { key, problem }) => (key.to_owned(), problem),
            other => panic!("expected an invalid key, got {other:?}"),
        }
    }

    #[test]
    fn production_needs_ticket_keys_and_fonts() {
        let settings = production().validate().expect("valid");
        assert_eq!(settings.tickets.keys.signer().kid(), "2026a");
        let mut raw = production();
        raw.tickets.signing_keys.clear();
        assert_eq!(key_of(raw), "tickets.signing_keys");
        let mut raw = production();
        raw.tickets.signing_keys[0].seed_file = "/nonexistent/ticket.key".into();
        let (key, problem) = problem_of(raw);
        assert_eq!(key, "tickets.signing_keys");
        assert!(problem.contains("key 2026a"), "{problem}");
        let dir = tempfile::tempdir().expect("dir");
        let short = dir.path().join("short.key");
        std::fs::write(&short, "abcd").expect("write");
        let mut raw = production();
        raw.tickets.signing_keys[0].seed_file = short;
        let (_, problem) = problem_of(raw);
        assert!(problem.contains("64 hex digits") && problem.contains("2026a"), "{problem}");
        let mut raw = production();
        raw.tickets.signing_keys[0].kid = "far too long".into();
        let (key, problem) = problem_of(raw);
        assert_eq!(key, "tickets.signing_keys");
        assert!(problem.contains("far too long"), "{problem}");
        // Several keys: the first signs, all verify; an id twice is refused.
        let mut raw = production();
        let second = RawSigningKey { kid: "2025b".into(), ..raw.tickets.signing_keys[0].clone() };
        raw.tickets.signing_keys.push(second.clone());
        let settings = raw.validate().expect("two keys");
        assert_eq!(settings.tickets.keys.signer().kid(), "2026a");
        assert_eq!(settings.tickets.keys.verifying().iter().count(), 2);
        let mut raw = production();
        raw.tickets.signing_keys.push(RawSigningKey { kid: "2026a".into(), ..second });
        assert!(problem_of(raw).1.contains("twice"));
        let mut raw = production();
        raw.tickets.font.path = "/nonexistent/NotoSansCJK-Regular.ttc".into();
        assert_eq!(key_of(raw), "tickets.font");
        let mut raw = production();
        raw.tickets.bold_font = Some(RawFont { path: "/nonexistent/b.ttc".into(), index: 0 });
        assert_eq!(key_of(raw), "tickets.bold_font");
    }

    #[test]
    fn dev_mode_generates_one_ticket_key_and_keeps_it() {
        let dir = tempfile::tempdir().expect("dir");
        let raw = RawConfig { data_dir: dir.path().to_path_buf(), ..RawConfig::default() };
        let first = raw.clone().validate().expect("dev settings");
        let again = raw.validate().expect("dev settings");
        assert_eq!(first.tickets.keys.signer().kid(), "dev1");
        assert_eq!(
            first.tickets.keys.signer().verifying_key(),
            again.tickets.keys.signer().verifying_key()
        );
        assert!(dir.path().join("dev-ticket-key.txt").is_file());
        assert_eq!(
            first.tickets.fonts.regular.path,
            Path::new("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
        );
        assert_eq!(first.tickets.fonts.regular.index, 2);
    }

    #[test]
    fn production_refuses_the_simulators_published_credentials() {
        use baoming_dev_keys as dev;
        let dir = tempfile::tempdir().expect("dir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        let mut raw = production();
        raw.wechat.appid = Some(dev::APPID.into());
        assert_eq!(key_of(raw), "wechat.appid");
        let mut raw = production();
        raw.wechat.secret = Some(dev::APP_SECRET.into());
        assert_eq!(key_of(raw), "wechat.secret");
        let mut raw = production();
        raw.wechatpay.mchid = Some(dev::MCHID.into());
        assert_eq!(key_of(raw), "wechatpay.mchid");
        let mut raw = production();
        raw.wechatpay.merchant_serial = Some(dev::MERCHANT_SERIAL_NO.into());
        assert_eq!(key_of(raw), "wechatpay.merchant_serial");
        let mut raw = production();
        raw.wechatpay.merchant_key_file = Some(write("dev_key.pem", dev::MERCHANT_PRIVATE_KEY_PEM));
        assert_eq!(key_of(raw), "wechatpay.merchant_key_file");
        let mut raw = production();
        raw.wechatpay.apiv3_key = Some(dev::APIV3_KEY.into());
        assert_eq!(key_of(raw), "wechatpay.apiv3_key");
        for (id, pem) in [
            ("PUB_KEY_ID_0000000000000024101100397200000099", dev::PLATFORM_PUBLIC_KEY_2_PEM),
            (
                dev::PLATFORM_PUB_KEY_ID_1,
                include_str!("../../payments/testdata/platform-test-pub-2.pem"),
            ),
        ] {
            let mut raw = production();
            raw.wechatpay.public_keys =
                vec![RawPublicKey { id: id.into(), file: write("dev_pub.pem", pem) }];
            assert_eq!(key_of(raw), "wechatpay.public_keys");
        }
    }

    #[test]
    fn dev_mode_listens_only_on_loopback() {
        let dir = tempfile::tempdir().expect("dir");
        let dev = |listen: &str| RawConfig {
            listen: listen.into(),
            data_dir: dir.path().to_path_buf(),
            ..RawConfig::default()
        };
        for listen in ["0.0.0.0:8080", "[::]:8080", "192.168.1.10:8080"] {
            let (key, problem) = problem_of(dev(listen));
            assert_eq!(key, "mode", "{listen}");
            assert!(problem.contains("loopback") && problem.contains("production"), "{problem}");
        }
        for listen in ["127.0.0.1:0", "[::1]:8080", "127.0.0.2:8080"] {
            assert!(dev(listen).validate().is_ok(), "{listen}");
        }
        let mut raw = production();
        raw.listen = "0.0.0.0:8080".into();
        assert!(raw.validate().is_ok(), "production listens anywhere");
    }

    #[test]
    fn trusted_proxies_are_parsed() {
        let settings = production().validate().expect("valid");
        assert_eq!(settings.trusted_proxies, crate::proxies::TrustedProxies::default());
        let mut raw = production();
        raw.trusted_proxies = vec!["127.0.0.1".into(), "10.0.0.0/8".into()];
        let settings = raw.validate().expect("valid");
        assert!(settings.trusted_proxies.trusts("10.2.3.4".parse().expect("ip")));
        let mut raw = production();
        raw.trusted_proxies = vec!["10.0.0.0/40".into()];
        let (key, problem) = problem_of(raw);
        assert_eq!(key, "trusted_proxies");
        assert!(problem.contains("10.0.0.0/40"), "{problem}");
    }

    #[test]
    fn dev_mode_fills_in_and_keeps_its_keys() {
        let dir = tempfile::tempdir().expect("dir");
        let raw = RawConfig { data_dir: dir.path().to_path_buf(), ..RawConfig::default() };
        let first = raw.clone().validate().expect("dev settings");
        assert!(first.wechat_simulator);
        assert_eq!(first.wechat_appid, crate::dev_material::DEV_APPID);
        assert!(
            matches!(&first.database, DatabaseUrl::Sqlite(path) if path.ends_with("baoming.sqlite3"))
        );
        let again = raw.validate().expect("dev settings");
        // Same keys on the second start: the same number gives the same blind index.
        let number = baoming_domain::IdNumber::parse(
            baoming_domain::IdKind::ResidentId,
            "11010519491231002X",
            chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date"),
        )
        .expect("id");
        let a = baoming_store::PiiCipher::new(first.pii).blind_index(&number);
        let b = baoming_store::PiiCipher::new(again.pii).blind_index(&number);
        assert_eq!(a, b);
    }

    #[test]
    fn group_commit_defaults_by_backend() {
        let dir = tempfile::tempdir().expect("dir");
        let raw = RawConfig { data_dir: dir.path().to_path_buf(), ..RawConfig::default() };
        let on = |raw: RawConfig| raw.validate().expect("valid").group_commit;
        assert!(on(raw.clone()), "SQLite: one writer by default");
        let postgres = RawConfig { database_url: Some("postgres://u@h/db".into()), ..raw.clone() };
        assert!(!on(postgres.clone()), "PostgreSQL: the pool by default");
        assert!(on(RawConfig { group_commit: Some(true), ..postgres }));
        assert!(!on(RawConfig { group_commit: Some(false), ..raw }));
    }

    #[test]
    fn id_encryption_keys_rotate() {
        let ids = |raw: RawConfig| {
            let pii = raw.validate().expect("valid").pii;
            (pii.key_ids(), pii.current_key_id())
        };
        // The single key of older configurations is key 1.
        assert_eq!(ids(production()), (vec![1], 1));
        // A second key from a file, as TOML writes it: the newest encrypts unless told.
        let dir = tempfile::tempdir().expect("dir");
        let key_file = dir.path().join("id-encryption-2.key");
        std::fs::write(&key_file, format!("{}\n", "03".repeat(32))).expect("write");
        let toml = dir.path().join("pii.toml");
        std::fs::write(
            &toml,
            format!(
                "[pii]\nid_encryption_keys = [{{ id = 2, key_file = \"{}\" }}]\n",
                key_file.display()
            ),
        )
        .expect("write");
        let loaded = RawConfig::load(Some(&toml)).expect("reads");
        let mut raw = production();
        raw.pii.id_encryption_keys = loaded.pii.id_encryption_keys.clone();
        assert_eq!(ids(raw.clone()), (vec![1, 2], 2));
        // Key 2 listed to decrypt only, key 1 still encrypting (the first step of a rotation).
        raw.pii.current_key_id = Some(1);
        assert_eq!(ids(raw.clone()), (vec![1, 2], 1));
        raw.pii.current_key_id = Some(3);
        assert_eq!(key_of(raw.clone()), "pii.current_key_id");
        // Key 1 removed once everything is re-encrypted.
        raw.pii.current_key_id = None;
        raw.pii.id_encryption_key = None;
        assert_eq!(ids(raw.clone()), (vec![2], 2));
        // Mistakes are named.
        let mut twice = production();
        twice.pii.id_encryption_keys =
            vec![RawIdKey { id: 1, key: Some("04".repeat(32)), key_file: None }];
        assert_eq!(key_of(twice), "pii.id_encryption_keys");
        let mut both = production();
        both.pii.id_encryption_keys =
            vec![RawIdKey { id: 2, key: Some("04".repeat(32)), key_file: Some(key_file) }];
        assert_eq!(key_of(both), "pii.id_encryption_keys");
        let mut short = production();
        short.pii.id_encryption_keys =
            vec![RawIdKey { id: 2, key: Some("04".repeat(31)), key_file: None }];
        assert_eq!(key_of(short), "pii.id_encryption_keys");
        let mut same = production();
        same.pii.id_encryption_keys =
            vec![RawIdKey { id: 2, key: Some("01".repeat(32)), key_file: None }];
        assert_eq!(key_of(same), "pii");
        let mut no_index = raw;
        no_index.pii.blind_index_key = None;
        assert_eq!(key_of(no_index), "pii.blind_index_key");
    }

    #[test]
    fn the_deployment_example_reads() {
        let example =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/baoming.toml.example");
        let raw = RawConfig::load(Some(&example)).expect("deploy/baoming.toml.example reads");
        assert_eq!(raw.mode, Mode::Production);
        assert!(!raw.wechat.simulator);
        assert_eq!(raw.worker.lease_secs, 300);
        assert_eq!(raw.tickets.signing_keys[0].kid, "2026a");
        assert_eq!(raw.tickets.font.index, 2);
        assert_eq!(
            raw.wechat.templates.ticket_published.as_deref(),
            Some("TEMPLATE_ID_TICKET_PUBLISHED")
        );
    }

    #[test]
    fn loopback_detection() {
        for url in
            ["http://127.0.0.1:1", "http://localhost/x", "https://[::1]:8443", "http://u@0.0.0.0"]
        {
            assert!(is_loopback_url(url), "{url}");
        }
        assert!(!is_loopback_url("https://api.weixin.qq.com"));
    }

    #[test]
    fn retention_defaults_to_three_years_and_is_bounded() {
        let settings = production().validate().expect("valid");
        assert!(settings.retention.enabled);
        assert_eq!(settings.retention.policy.erase_after_months, 36);
        assert_eq!(settings.retention.policy.unused_photo_after, chrono::Duration::hours(24));
        let mut raw = production();
        raw.retention.erase_after_months = 0;
        assert_eq!(key_of(raw), "retention.erase_after_months");
        let mut raw = production();
        raw.retention.unused_photo_hours = 0;
        assert_eq!(key_of(raw), "retention.unused_photo_hours");
    }

    #[test]
    fn at_most_two_photo_decodes_by_default() {
        let decodes = RawConfig::default().photos.max_concurrent_decodes;
        assert!((1..=2).contains(&decodes), "{decodes}");
        // Two phone photos' estimates (≈ 54 MiB each) fit the default decode budget together.
        assert_eq!(RawConfig::default().photos.decode_memory_mib, 128);
        let mut raw = production();
        raw.photos.decode_memory_mib = 8;
        assert_eq!(key_of(raw), "photos.decode_memory_mib");
    }

    #[test]
    fn storage_is_the_data_directory_by_default_or_a_checked_bucket() {
        use crate::storage::StorageSettings;
        let settings = production().validate().expect("valid");
        assert_eq!(
            settings.storage,
            StorageSettings::Local { root: settings.data_dir.join("files") }
        );
        let s3 = || {
            let mut raw = production();
            raw.storage = RawStorage {
                backend: StorageBackend::S3,
                endpoint: Some("https://oss-cn-hangzhou.aliyuncs.com/".into()),
                region: Some("oss-cn-hangzhou".into()),
                bucket: Some("baoming-files".into()),
                prefix: Some("/prod/".into()),
                access_key_id: Some("LTAI-id".into()),
                secret_access_key: Some("the-secret".into()),
                ..RawStorage::default()
            };
            raw
        };
        let settings = s3().validate().expect("valid");
        let StorageSettings::S3(ref s) = settings.storage else { panic!("{:?}", settings.storage) };
        assert_eq!(s.endpoint.as_deref(), Some("https://oss-cn-hangzhou.aliyuncs.com"));
        assert_eq!((s.bucket.as_str(), s.prefix.as_deref()), ("baoming-files", Some("prod")));
        assert_eq!(s.timeout, std::time::Duration::from_secs(30));
        let shown = format!("{settings:?} {:?}", s3());
        assert!(!shown.contains("the-secret") && shown.contains("baoming-files"), "{shown}");

        let mut raw = s3();
        raw.storage.bucket = None;
        assert_eq!(problem_of(raw).0, "storage.bucket");
        let mut raw = s3();
        raw.storage.bucket = Some("Bad_Bucket".into());
        assert_eq!(problem_of(raw).0, "storage.bucket");
        let mut raw = s3();
        raw.storage.endpoint = Some("oss-cn-hangzhou.aliyuncs.com".into());
        let (key, problem) = problem_of(raw);
        assert_eq!(key, "storage.endpoint", "{problem}");
        let mut raw = s3();
        raw.storage.endpoint = Some("http://minio.internal:9000".into());
        assert_eq!(problem_of(raw).0, "storage.endpoint", "plain http in production");
        let mut raw = s3();
        raw.storage.endpoint = Some("http://127.0.0.1:9000".into());
        assert!(raw.validate().is_ok(), "loopback over http");
        let mut raw = s3();
        raw.storage.prefix = Some("a/../b".into());
        assert_eq!(problem_of(raw).0, "storage.prefix");
        let mut raw = s3();
        raw.storage.secret_access_key = None;
        assert_eq!(problem_of(raw).0, "storage.secret_access_key");
        let mut raw = s3();
        raw.storage.timeout_secs = Some(0);
        assert_eq!(problem_of(raw).0, "storage.timeout_secs");
        // The secret from a file, like the other secrets.
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("s3-secret");
        std::fs::write(&file, "from-file\n").expect("write");
        let mut raw = s3();
        raw.storage.secret_access_key = None;
        raw.storage.secret_access_key_file = Some(file);
        match raw.validate().expect("valid").storage {
            StorageSettings::S3(s) => assert_eq!(s.secret_access_key, "from-file"),
            other => panic!("{other:?}"),
        }
        // Object storage keys with the local backend are a mistake, not ignored.
        let mut raw = production();
        raw.storage.bucket = Some("baoming-files".into());
        assert_eq!(problem_of(raw).0, "storage.bucket");
    }

    #[test]
    fn layers_and_unknown_keys() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("baoming.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\n[wechat]\nappid = \"wxfile\"\n")
            .expect("write");
        let raw = RawConfig::load(Some(&file)).expect("loaded");
        assert_eq!(raw.listen, "127.0.0.1:9000");
        assert_eq!(raw.wechat.appid.as_deref(), Some("wxfile"));
        std::fs::write(&file, "lisen = \"127.0.0.1:9000\"\n").expect("write");
        let err = RawConfig::load(Some(&file)).expect_err("typo refused");
        assert!(err.to_string().contains("lisen"), "{err}");
        assert!(RawConfig::load(Some(&dir.path().join("missing.toml"))).is_err());
    }
}
