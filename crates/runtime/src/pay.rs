//! WeChat Pay wiring: the client with its keys and the notify URL, and the reading of what
//! WeChat Pay reports (an order query's answer, a refund's status) in the ledger's terms. The
//! rules live in the domain and the store.

use baoming_payments::{
    ApiV3Key, RefundStatus, TradeState, Transaction, VerifierKeys, WechatPayClient, WechatPayConfig,
};
use baoming_store::payments::{OrderAnswer, RefundProgress, WechatPaid};
use chrono::Utc;

use crate::config::{PaySettings, Settings};

/// Why WeChat Pay could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PaySetupError {
    /// The HTTP client could not be built.
    #[error("wechatpay: {0}")]
    Client(String),
}

/// Everything a binary needs to talk to WeChat Pay.
#[derive(Clone)]
pub struct Pay {
    /// The client (signs requests, verifies responses).
    pub client: WechatPayClient,
    /// The keys WeChat Pay signs with (responses and notifications).
    pub verifier: VerifierKeys,
    /// Decrypts notifications.
    pub apiv3_key: ApiV3Key,
    /// The mini-program's appid.
    pub appid: String,
    /// Our merchant id.
    pub mchid: String,
    /// Where WeChat Pay posts notifications.
    pub notify_url: String,
}

impl std::fmt::Debug for Pay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pay")
            .field("appid", &self.appid)
            .field("mchid", &self.mchid)
            .field("notify_url", &self.notify_url)
            .finish_non_exhaustive()
    }
}

impl Pay {
    /// Builds the client with the loaded keys against `base_url`.
    pub fn new(
        settings: &PaySettings,
        appid: &str,
        base_url: &str,
        notify_url: String,
    ) -> Result<Self, PaySetupError> {
        let client = WechatPayClient::new(WechatPayConfig {
            base_url: base_url.to_owned(),
            mchid: settings.mchid().to_owned(),
            appid: appid.to_owned(),
            signer: settings.signer.clone(),
            verifier: settings.verifier.clone(),
            timeout: std::time::Duration::from_secs(10),
        })
        .map_err(|e| PaySetupError::Client(e.to_string()))?;
        Ok(Pay {
            client,
            verifier: settings.verifier.clone(),
            apiv3_key: settings.apiv3_key.clone(),
            appid: appid.to_owned(),
            mchid: settings.mchid().to_owned(),
            notify_url,
        })
    }

    /// WeChat Pay for a process beside the api (the worker): the configured endpoint — in dev
    /// mode the api's simulator at `wechatpay.simulator_listen` — and the api's notify URL.
    pub fn for_worker(settings: &Settings) -> Result<Self, PaySetupError> {
        let base = if settings.wechat_simulator {
            format!("http://{}", reachable(settings.pay_simulator_listen))
        } else {
            settings.wechat_pay_base.clone()
        };
        Pay::new(
            &settings.pay,
            &settings.wechat_appid,
            &base,
            notify_url(settings, settings.listen),
        )
    }

    /// What a paid transaction means for the ledger, once it is checked to be ours: `None`
    /// while it is not paid.
    pub fn paid(
        &self,
        transaction: &Transaction,
        notification: Option<(String, String)>,
    ) -> Result<Option<WechatPaid>, NotOurs> {
        if transaction.mchid != self.mchid || transaction.appid != self.appid {
            return Err(NotOurs);
        }
        if !matches!(transaction.trade_state, TradeState::Success | TradeState::Refund) {
            return Ok(None);
        }
        Ok(Some(WechatPaid {
            out_trade_no: transaction.out_trade_no.clone(),
            transaction_id: transaction.transaction_id.clone(),
            // The order total (coupons may lower what the payer paid; the merchant is owed the total).
            amount: transaction.amount.total,
            success_time: transaction.success_time.map(|t| t.with_timezone(&Utc)),
            notification,
            currency: transaction.amount.currency.clone(),
            payer_openid: transaction.payer.as_ref().map(|p| p.openid.clone()),
        }))
    }

    /// Reads an order query's answer (checked to be ours) in the ledger's terms; the store's
    /// `payments::apply_order_answer` records it.
    pub fn order_answer(&self, transaction: &Transaction) -> Result<OrderAnswer, NotOurs> {
        Ok(match (self.paid(transaction, None)?, &transaction.trade_state) {
            (Some(paid), _) => OrderAnswer::Paid(paid),
            (None, TradeState::Closed | TradeState::Revoked) => OrderAnswer::Closed,
            (None, TradeState::UserPaying) => OrderAnswer::Paying,
            (None, _) => OrderAnswer::Unpaid,
        })
    }
}

/// A listening address as a local client reaches it (`0.0.0.0` → `127.0.0.1`).
pub(crate) fn reachable(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    if addr.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// Where WeChat Pay posts notifications: the configured URL, or (dev mode) the api listening
/// at `api`.
pub fn notify_url(settings: &Settings, api: std::net::SocketAddr) -> String {
    settings
        .pay
        .notify_url
        .clone()
        .unwrap_or_else(|| format!("http://{}/api/v1/wechatpay/notify", reachable(api)))
}

/// What a refund status WeChat Pay reports means for our refund row.
pub fn refund_progress(status: &RefundStatus, provider_refund_id: String) -> RefundProgress {
    match status {
        RefundStatus::Success => RefundProgress::Succeeded { provider_refund_id },
        RefundStatus::Abnormal => RefundProgress::Abnormal { provider_refund_id },
        RefundStatus::Closed => RefundProgress::Closed { provider_refund_id },
        _ => RefundProgress::Processing { provider_refund_id },
    }
}

/// A transaction for another merchant or app (never ours to record).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the transaction belongs to another merchant or app")]
pub struct NotOurs;
