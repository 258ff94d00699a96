//! The running simulator's core: request authentication, response signing, background work
//! (refund settlement, notification delivery with WeChat's retry schedule) and the controls
//! shared by the HTTP control endpoints and [`crate::Simulator`].

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use chrono::{NaiveDate, Utc};
use rsa::pkcs1v15::VerifyingKey;
use rsa::sha2::Sha256;
use serde_json::Value;
use tokio::sync::watch;

use crate::crypto::{self, nonce_str, request_message, response_message, rfc3339};
use crate::model::{
    DeliveryAttempt, FaultStatus, Faults, NotificationFate, NotificationRecord, SimError,
};
use crate::state::{Dispatch, Effect, Notification, Plan, State};

/// The retry delays after a failed delivery, in seconds (WeChat Pay: 15s, 15s, 30s, 3m, 10m,
/// 20m, 30m, 30m, 30m, 60m, 3h, 3h, 3h, 6h, 6h), multiplied by the time scale.
pub(crate) const RETRY_SCHEDULE_SECS: [u64; 15] =
    [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10800, 10800, 10800, 21600, 21600];

/// How long a receiver may take to answer a notification.
pub(crate) const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// The authentication scheme of `Authorization` and the notification signature type.
pub(crate) const SCHEME: &str = "WECHATPAY2-SHA256-RSA2048";

/// How far a request timestamp may be from now.
const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// The signature headers of one response or notification attempt.
#[derive(Debug)]
pub(crate) struct Signed {
    pub(crate) timestamp: String,
    pub(crate) nonce: String,
    pub(crate) signature: String,
    pub(crate) serial: String,
}

/// Shared by the HTTP handlers, the background tasks and the [`crate::Simulator`] handle.
pub(crate) struct Core {
    state: Mutex<State>,
    mchid: String,
    merchant_key: VerifyingKey<Sha256>,
    merchant_serial: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Handle,
    shutdown: watch::Sender<bool>,
    time_scale: f64,
    refund_settle_delay: Duration,
    base_url: OnceLock<String>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("mchid", &self.mchid)
            .field("merchant_serial", &self.merchant_serial)
            .field("time_scale", &self.time_scale)
            .field("base_url", &self.base_url.get())
            .finish_non_exhaustive()
    }
}

/// What [`Core::new`] needs.
#[derive(Debug)]
pub(crate) struct CoreParts {
    pub(crate) state: State,
    pub(crate) mchid: String,
    pub(crate) merchant_key: VerifyingKey<Sha256>,
    pub(crate) merchant_serial: String,
    pub(crate) runtime: tokio::runtime::Handle,
    pub(crate) time_scale: f64,
    pub(crate) refund_settle_delay: Duration,
}

impl Core {
    pub(crate) fn new(parts: CoreParts) -> std::io::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(DELIVERY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(std::io::Error::other)?;
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            state: Mutex::new(parts.state),
            mchid: parts.mchid,
            merchant_key: parts.merchant_key,
            merchant_serial: parts.merchant_serial,
            http,
            runtime: parts.runtime,
            shutdown,
            time_scale: parts.time_scale,
            refund_settle_delay: parts.refund_settle_delay,
            base_url: OnceLock::new(),
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn set_base_url(&self, url: String) {
        // Set once, right after binding; a second call would be a bug and changes nothing.
        let _ = self.base_url.set(url);
    }

    pub(crate) fn base_url(&self) -> String {
        self.base_url.get().cloned().unwrap_or_default()
    }

    /// Stops background work: pending retries, timers and deliveries end at their next step.
    pub(crate) fn shut_down(&self) {
        self.shutdown.send_replace(true);
        self.lock().abandon_sending();
    }

    fn scaled(&self, seconds: u64) -> Duration {
        #[allow(clippy::cast_precision_loss)]
        let scaled = seconds as f64 * self.time_scale;
        Duration::try_from_secs_f64(scaled).unwrap_or(Duration::from_secs(seconds))
    }

    // ----- authentication and signing -----

    /// Checks `Authorization` over `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` (raw body bytes).
    pub(crate) fn authenticate(
        &self,
        method: &str,
        url: &str,
        header: Option<&str>,
        body: &[u8],
        now: i64,
    ) -> Result<(), String> {
        let header = header.ok_or("签名错误：缺少 Authorization 头")?;
        let params = parse_authorization(header)?;
        let field = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        if field("mchid") != self.mchid {
            return Err(format!("签名错误：mchid {:?} 与商户不符", field("mchid")));
        }
        if field("serial_no") != self.merchant_serial {
            return Err(format!("签名错误：证书序列号 {:?} 不正确", field("serial_no")));
        }
        let timestamp = field("timestamp");
        let seconds: i64 =
            timestamp.parse().map_err(|_| "签名错误：timestamp 不是 Unix 秒数".to_owned())?;
        if now.abs_diff(seconds) >= MAX_CLOCK_SKEW_SECS {
            return Err("签名错误：timestamp 与当前时间相差 5 分钟以上".to_owned());
        }
        let nonce = field("nonce_str");
        if nonce.is_empty() {
            return Err("签名错误：缺少 nonce_str".to_owned());
        }
        let message = request_message(method, url, timestamp, nonce, body);
        if crypto::verify(&self.merchant_key, &message, field("signature")) {
            Ok(())
        } else {
            Err("签名错误：验签失败 (signature does not verify with the merchant public key)"
                .to_owned())
        }
    }

    /// Signs `body` (`TIMESTAMP\nNONCE\nBODY\n`) with the current platform key, now.
    pub(crate) fn sign(&self, body: &[u8]) -> Signed {
        let key = self.lock().keys.current();
        let timestamp = Utc::now().timestamp().to_string();
        let nonce = nonce_str(32);
        let message = response_message(&timestamp, &nonce, body);
        let (signature, serial) = match key {
            Some(key) => (key.sign(&message).unwrap_or_default(), key.id.clone()),
            None => (String::new(), String::new()),
        };
        Signed { timestamp, nonce, signature, serial }
    }

    // ----- background work -----

    /// Runs `task` on the simulator's runtime until it ends or the simulator stops.
    pub(crate) fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut shutdown = self.shutdown.subscribe();
        if *shutdown.borrow() {
            return;
        }
        self.runtime.spawn(async move {
            tokio::select! {
                () = task => {}
                _ = shutdown.wait_for(|stopped| *stopped) => {}
            }
        });
    }

    pub(crate) fn apply(self: &Arc<Self>, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Notify(notification) => self.dispatch(notification),
                Effect::SettleRefund(out_refund_no) => {
                    let core = Arc::clone(self);
                    let delay = self.refund_settle_delay;
                    self.spawn(async move {
                        tokio::time::sleep(delay).await;
                        let notification = core.lock().settle_refund(&out_refund_no, Utc::now());
                        if let Some(notification) = notification {
                            core.dispatch(notification);
                        }
                    });
                }
            }
        }
    }

    fn dispatch(self: &Arc<Self>, notification: Arc<Notification>) {
        let dispatch = self.lock().plan(&notification);
        match dispatch {
            Dispatch::Dropped => {
                tracing::info!(id = %notification.id, "notification dropped (fault)");
            }
            Dispatch::Held => tracing::info!(id = %notification.id, "notification held (fault)"),
            Dispatch::Send(plan) => {
                let core = Arc::clone(self);
                self.spawn(async move {
                    if !plan.delay.is_zero() {
                        tokio::time::sleep(plan.delay).await;
                    }
                    if plan.probe {
                        core.attempt(&notification, 1, 1, true).await;
                    }
                    let delivered = core.deliver(&notification, 1, 1).await;
                    core.finish(&notification, plan.copies, delivered).await;
                });
            }
        }
    }

    /// Sends released notifications newest first: each one's first attempt completes before
    /// the next one's starts; retries and duplicates then go on independently.
    fn release(self: &Arc<Self>, held: Vec<(Arc<Notification>, Plan)>) {
        if held.is_empty() {
            return;
        }
        let core = Arc::clone(self);
        self.spawn(async move {
            for (notification, plan) in held.into_iter().rev() {
                if plan.probe {
                    core.attempt(&notification, 1, 1, true).await;
                }
                let first = core.attempt(&notification, 1, 1, false).await;
                let inner = Arc::clone(&core);
                core.spawn(async move {
                    let delivered = first || inner.deliver(&notification, 1, 2).await;
                    inner.finish(&notification, plan.copies, delivered).await;
                });
            }
        });
    }

    /// Sends further copies (duplicate fault) once the first is accepted; records the fate.
    async fn finish(&self, notification: &Notification, copies: u32, delivered: bool) {
        let mut delivered = delivered;
        let mut copy = 2;
        while delivered && copy <= copies {
            delivered = self.deliver(notification, copy, 1).await;
            copy += 1;
        }
        let fate = if delivered { NotificationFate::Delivered } else { NotificationFate::GaveUp };
        if !delivered {
            tracing::warn!(id = %notification.id, url = %notification.url, "notification given up");
        }
        self.lock().set_fate(&notification.id, fate);
    }

    /// Attempts `from_attempt`… of one copy, waiting the scaled retry delay before each retry.
    async fn deliver(&self, notification: &Notification, copy: u32, from_attempt: u32) -> bool {
        let last = u32::try_from(RETRY_SCHEDULE_SECS.len()).unwrap_or(u32::MAX).saturating_add(1);
        for attempt in from_attempt.max(1)..=last {
            if attempt > 1 {
                let index = usize::try_from(attempt - 2).unwrap_or(usize::MAX);
                let seconds = RETRY_SCHEDULE_SECS.get(index).copied().unwrap_or_default();
                tokio::time::sleep(self.scaled(seconds)).await;
            }
            if self.attempt(notification, copy, attempt, false).await {
                return true;
            }
        }
        false
    }

    /// One POST of the notification, signed now with the current key (a probe carries a
    /// `WECHATPAY/SIGNTEST/` signature instead). Success = 200 or 204.
    async fn attempt(
        &self,
        notification: &Notification,
        copy: u32,
        attempt: u32,
        probe: bool,
    ) -> bool {
        let signed = self.sign(&notification.body);
        let signature = if probe {
            let mut junk = [0u8; 192];
            crypto::fill_random(&mut junk);
            format!("WECHATPAY/SIGNTEST/{}", crypto::base64(&junk))
        } else {
            signed.signature
        };
        let at = rfc3339(Utc::now());
        let result = self
            .http
            .post(&notification.url)
            .header("Content-Type", "application/json")
            .header("Wechatpay-Timestamp", &signed.timestamp)
            .header("Wechatpay-Nonce", &signed.nonce)
            .header("Wechatpay-Signature", signature)
            .header("Wechatpay-Serial", &signed.serial)
            .header("Wechatpay-Signature-Type", SCHEME)
            .body(notification.body.clone())
            .send()
            .await;
        let (status, error) = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                // Read the answer so the connection can be reused; its content does not matter.
                let _ = response.bytes().await;
                (Some(status), None)
            }
            Err(error) => (None, Some(error.to_string())),
        };
        let delivered = !probe && matches!(status, Some(200 | 204));
        tracing::debug!(
            id = %notification.id, attempt, probe, ?status, ?error, "notification attempt"
        );
        self.lock().record_attempt(DeliveryAttempt {
            notification_id: notification.id.clone(),
            event_type: notification.event_type.clone(),
            out_trade_no: notification.out_trade_no.clone(),
            out_refund_no: notification.out_refund_no.clone(),
            copy,
            attempt,
            probe,
            url: notification.url.clone(),
            serial: signed.serial,
            at,
            status,
            error,
        });
        delivered
    }

    // ----- controls (in-process and over HTTP) -----

    pub(crate) fn pay(self: &Arc<Self>, out_trade_no: &str) -> Result<Value, SimError> {
        let (transaction, effects) = self.lock().pay(out_trade_no, Utc::now())?;
        self.apply(effects);
        Ok(transaction)
    }

    pub(crate) fn order(&self, out_trade_no: &str) -> Result<Value, SimError> {
        self.lock().order_view(out_trade_no, Utc::now())
    }

    pub(crate) fn expire_order(&self, out_trade_no: &str) -> Result<(), SimError> {
        self.lock().expire_order(out_trade_no, Utc::now())
    }

    pub(crate) fn refund_requests(&self) -> BTreeMap<String, u64> {
        self.lock().refund_requests()
    }

    pub(crate) fn deliveries(&self) -> Vec<DeliveryAttempt> {
        self.lock().deliveries()
    }

    pub(crate) fn notifications(&self) -> Vec<NotificationRecord> {
        self.lock().notifications()
    }

    pub(crate) fn faults(&self) -> FaultStatus {
        self.lock().fault_status()
    }

    pub(crate) fn set_faults(self: &Arc<Self>, faults: Faults) -> Result<FaultStatus, SimError> {
        let released = self.lock().set_faults(faults, Utc::now())?;
        self.release(released);
        Ok(self.faults())
    }

    pub(crate) fn rotate_key(&self, pub_key_id: Option<&str>) -> Result<Value, SimError> {
        let result = self.lock().rotate_key(pub_key_id)?;
        tracing::info!(current = %result["current"], "platform key rotated");
        Ok(result)
    }

    pub(crate) fn current_key_id(&self) -> String {
        self.lock().keys.current().map(|key| key.id.clone()).unwrap_or_default()
    }

    pub(crate) fn platform_public_keys(&self) -> Vec<(String, String)> {
        self.lock().platform_keys()
    }

    pub(crate) fn set_bill_date(&self, date: Option<NaiveDate>) {
        self.lock().set_bill_date(date);
    }
}

/// `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`
/// → its parameters (each value must be quoted; order does not matter).
pub(crate) fn parse_authorization(header: &str) -> Result<BTreeMap<String, String>, String> {
    let rest = header
        .strip_prefix(SCHEME)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or_else(|| format!("签名错误：Authorization 须以 {SCHEME} 开头"))?;
    let mut params = BTreeMap::new();
    for part in rest.split(',') {
        let (name, value) = part
            .trim()
            .split_once('=')
            .ok_or_else(|| "签名错误：Authorization 格式不正确".to_owned())?;
        let value = value
            .strip_prefix('"')
            .and_then(|value| value.strip_suffix('"'))
            .ok_or_else(|| format!("签名错误：{name} 的值须加双引号"))?;
        params.insert(name.trim().to_owned(), value.to_owned());
    }
    for name in ["mchid", "nonce_str", "timestamp", "serial_no", "signature"] {
        if !params.contains_key(name) {
            return Err(format!("签名错误：Authorization 缺少 {name}"));
        }
    }
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authorization() {
        let header = r#"WECHATPAY2-SHA256-RSA2048 mchid="1900",nonce_str="abc",timestamp="1",serial_no="AB",signature="x+y/z==""#;
        let params = parse_authorization(header).expect("parses");
        assert_eq!(params["mchid"], "1900");
        assert_eq!(params["signature"], "x+y/z==");
        assert!(parse_authorization("Bearer x").is_err());
        assert!(parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=1900").is_err());
        assert!(parse_authorization(r#"WECHATPAY2-SHA256-RSA2048 mchid="1900""#).is_err());
        assert!(parse_authorization("WECHATPAY2-SHA256-RSA2048 ").is_err());
    }

    #[test]
    fn retry_schedule_is_wechats() {
        let total: u64 = RETRY_SCHEDULE_SECS.iter().sum();
        assert_eq!(RETRY_SCHEDULE_SECS.len(), 15);
        // ≈ 24 hours, as WeChat says: 24 h 4 min in all.
        assert_eq!(total, 24 * 3600 + 4 * 60);
    }
}
