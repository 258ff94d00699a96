//! What every handler shares, and the one way handlers reach the database.

use std::sync::Arc;

use baoming_photos::Limits;
use baoming_photos::storage::PhotoStorage;
use baoming_store::{Db, DbConnection, PiiCipher};
use baoming_wechat::WechatClient;
use tokio::sync::Semaphore;

use crate::error::ApiError;

/// Shared state of the running service.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// Its group-commit writer (`group_commit`; see [`AppState::write`]).
    pub writer: Option<baoming_store::Writer>,
    /// Personal-data cipher.
    pub cipher: PiiCipher,
    /// WeChat mini-program client.
    pub wechat: WechatClient,
    /// Where photos are kept.
    pub photos: Arc<dyn PhotoStorage>,
    /// Photo limits.
    pub photo_limits: Limits,
    /// At most this many photo decodes at once (bounded memory under a burst).
    pub decode_permits: Arc<Semaphore>,
    /// The memory budget of the photo decodes in progress, one permit per MiB of their
    /// estimated cost (`baoming_photos::decode_cost`).
    pub decode_memory: Arc<Semaphore>,
    /// Permits of `decode_memory` (a decode estimated above it takes them all and runs alone).
    pub decode_memory_mib: u32,
    /// Where uploads wait for their decode (unnamed temporary files).
    pub photo_spool: std::path::PathBuf,
    /// Participant session lifetime.
    pub session_ttl: chrono::Duration,
    /// Staff session lifetime.
    pub staff_session_ttl: chrono::Duration,
    /// At most this many staff passwords verified at once (outside the database pool).
    pub login_hashes: Arc<Semaphore>,
    /// Reverse proxies whose `X-Forwarded-For` is believed (see `staff_auth::client_ip`).
    pub trusted_proxies: Arc<baoming_runtime::proxies::TrustedProxies>,
    /// Mark cookies `Secure` (everywhere but dev mode).
    pub secure_cookies: bool,
    /// Period details for registration views.
    pub periods: crate::period_cache::PeriodCache,
    /// Participant sessions recently checked.
    pub sessions: crate::session_cache::SessionCache,
    /// Reads the invalidation feed for both caches (stops with the last clone of the state).
    pub cache_feed: Arc<crate::cache_feed::Reader>,
    /// WeChat Pay.
    pub pay: baoming_runtime::pay::Pay,
    /// Where employers transfer fees.
    pub payee: baoming_runtime::config::Payee,
    /// The service's clock.
    pub clock: crate::time::Clock,
    /// Admission tickets: the fonts (read on first use) and the signing keys.
    pub tickets: TicketState,
    /// Rate limits per participant and per client address.
    pub limits: Arc<crate::rate_limit::RateLimits>,
}

/// The writer thread is gone (it ends only with the process, or on a panic outside a request).
fn writer_stopped(error: impl std::fmt::Display) -> ApiError {
    tracing::error!(%error, "database writer stopped");
    ApiError::unavailable("database_unavailable", "服务繁忙，请稍后再试")
}

/// What the ticket routes share.
#[derive(Debug, Clone)]
pub struct TicketState {
    /// The fonts of the sign-in sheets (read on the first sheet, then shared).
    pub fonts: Arc<baoming_runtime::tickets::TicketFonts>,
    /// The signing keys (their public halves are published).
    pub keys: Arc<baoming_runtime::tickets::TicketKeys>,
}

impl AppState {
    /// Now, by the service's clock.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Runs a short write transaction: by the group-commit writer when there is one (queued
    /// behind the writes waiting, run in a savepoint of their batch's transaction, answered
    /// after that commit), else as [`AppState::db`] does. `work` may open its own transactions
    /// (`write_tx`): they become savepoints.
    pub async fn write<T, E, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let Some(writer) = &self.writer else {
            return self.db(work).await;
        };
        let span = tracing::Span::current();
        let (answer, answered) = tokio::sync::oneshot::channel();
        writer
            .submit(
                move |conn: &mut DbConnection| {
                    let _in_request = span.enter();
                    work(conn).map_err(Into::into)
                },
                move |outcome: Result<T, ApiError>| {
                    // The requester may have gone (its connection closed): nothing to tell.
                    let _ = answer.send(outcome);
                },
            )
            .map_err(writer_stopped)?;
        answered.await.map_err(writer_stopped)?
    }

    /// Runs blocking database work on the blocking pool with a pooled connection.
    pub async fn db<T, E, F>(&self, work: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Into<ApiError> + Send + 'static,
    {
        let db = self.db.clone();
        // Log lines written on the blocking thread keep the request's span (its request id).
        let span = tracing::Span::current();
        actix_web::web::block(move || {
            let _in_request = span.enter();
            let mut conn = db.conn().map_err(ApiError::from)?;
            work(&mut conn).map_err(Into::into)
        })
        .await?
    }
}
