//! WeChat Pay wiring: the client with its keys, the notify URL, and the translation of what
//! WeChat reports into the ledger's terms. The rules live in the domain and the store.

use std::sync::Arc;

use baoming_payments::{
    ApiV3Key, MerchantSigner, TradeState, Transaction, VerifierKeys, WechatPayClient,
    WechatPayConfig,
};
use baoming_store::payments::WechatPaid;
use chrono::Utc;

use crate::config::PaySettings;

/// Why WeChat Pay could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum PaySetupError {
    /// A key did not load.
    #[error("wechatpay: {0}")]
    Key(String),
}

/// Everything the api needs to take WeChat payments.
#[derive(Clone)]
pub struct Pay {
    /// The client (signs requests, verifies responses).
    pub client: WechatPayClient,
    /// The keys WeChat Pay signs with (responses and notifications).
    pub verifier: VerifierKeys,
    /// Decrypts notifications.
    pub apiv3_key: Arc<ApiV3Key>,
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
    /// Loads the keys and builds the client against `base_url`.
    pub fn new(
        settings: &PaySettings,
        appid: &str,
        base_url: &str,
        notify_url: String,
    ) -> Result<Self, PaySetupError> {
        let key = |e: &dyn std::fmt::Display| PaySetupError::Key(e.to_string());
        let signer = MerchantSigner::from_pem(
            &settings.mchid,
            &settings.merchant_serial,
            &settings.merchant_key_pem,
        )
        .map_err(|e| key(&e))?;
        let verifier = VerifierKeys::new();
        for (id, pem) in &settings.public_keys {
            verifier.add_public_key(id, pem).map_err(|e| key(&e))?;
        }
        for pem in &settings.platform_certificates {
            verifier.add_platform_certificate(pem).map_err(|e| key(&e))?;
        }
        let apiv3_key = ApiV3Key::parse(&settings.apiv3_key).map_err(|e| key(&e))?;
        let client = WechatPayClient::new(WechatPayConfig {
            base_url: base_url.to_owned(),
            mchid: settings.mchid.clone(),
            appid: appid.to_owned(),
            signer,
            verifier: verifier.clone(),
            timeout: std::time::Duration::from_secs(10),
        })
        .map_err(|e| key(&e))?;
        Ok(Pay {
            client,
            verifier,
            apiv3_key: Arc::new(apiv3_key),
            appid: appid.to_owned(),
            mchid: settings.mchid.clone(),
            notify_url,
        })
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
        }))
    }
}

/// A listening address as a local client reaches it (`0.0.0.0` → `127.0.0.1`).
fn reachable(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    if addr.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

/// Where WeChat Pay posts notifications: the configured URL, or (dev mode) the api listening
/// at `api`.
pub fn notify_url(settings: &crate::config::Settings, api: std::net::SocketAddr) -> String {
    settings
        .pay
        .notify_url
        .clone()
        .unwrap_or_else(|| format!("http://{}/api/v1/wechatpay/notify", reachable(api)))
}

/// What an order query says, in the ledger's terms.
#[derive(Debug, Clone)]
pub enum OrderAtWechat {
    /// Paid (or paid and since refunded): the money to record.
    Paid(WechatPaid),
    /// Closed or revoked at WeChat Pay: it can no longer be paid.
    Closed,
    /// The person is paying right now.
    Paying,
    /// Not paid (yet).
    Unpaid,
}

impl Pay {
    /// Reads an order query's answer (checked to be ours).
    pub fn order_state(&self, transaction: &Transaction) -> Result<OrderAtWechat, NotOurs> {
        Ok(match (self.paid(transaction, None)?, &transaction.trade_state) {
            (Some(paid), _) => OrderAtWechat::Paid(paid),
            (None, TradeState::Closed | TradeState::Revoked) => OrderAtWechat::Closed,
            (None, TradeState::UserPaying) => OrderAtWechat::Paying,
            (None, _) => OrderAtWechat::Unpaid,
        })
    }
}

/// What a refund status WeChat Pay reports means for our refund row.
pub fn refund_progress(
    status: &baoming_payments::RefundStatus,
    provider_refund_id: String,
) -> baoming_store::payments::RefundProgress {
    use baoming_payments::RefundStatus as S;
    use baoming_store::payments::RefundProgress as P;
    match status {
        S::Success => P::Succeeded { provider_refund_id },
        S::Abnormal => P::Abnormal { provider_refund_id },
        S::Closed => P::Closed { provider_refund_id },
        _ => P::Processing { provider_refund_id },
    }
}

/// A transaction for another merchant or app (never ours to record).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("the transaction belongs to another merchant or app")]
pub struct NotOurs;

impl Pay {
    /// WeChat Pay for a process beside the api (the worker): the configured endpoint — in dev
    /// mode the api's simulator at `wechatpay.simulator_listen` — and the api's notify URL.
    pub fn for_worker(settings: &crate::config::Settings) -> Result<Self, PaySetupError> {
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
}
