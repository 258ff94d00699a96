//! Dev mode's credentials for the local simulators (the `dev-keys` feature): the simulators'
//! published merchant, keys and app secret, from the `baoming-dev-keys` crate.

use baoming_dev_keys as keys;
use baoming_payments::{ApiV3Key, MerchantSigner, VerifierKeys};

use crate::config::{ConfigError, PaySettings};

/// The app secret the WeChat simulator accepts.
pub const APP_SECRET: &str = keys::APP_SECRET;

fn dev(problem: impl std::fmt::Display) -> ConfigError {
    ConfigError::Invalid { key: "wechatpay", problem: format!("development keys: {problem}") }
}

/// WeChat Pay with the simulator's development merchant and keys.
pub(crate) fn pay_settings(notify_url: Option<String>) -> Result<PaySettings, ConfigError> {
    let signer = MerchantSigner::from_pem(
        keys::MCHID,
        keys::MERCHANT_SERIAL_NO,
        keys::MERCHANT_PRIVATE_KEY_PEM,
    )
    .map_err(dev)?;
    let verifier = VerifierKeys::new();
    verifier
        .add_public_key(keys::PLATFORM_PUB_KEY_ID_1, keys::PLATFORM_PUBLIC_KEY_1_PEM)
        .map_err(dev)?;
    verifier
        .add_public_key(keys::PLATFORM_PUB_KEY_ID_2, keys::PLATFORM_PUBLIC_KEY_2_PEM)
        .map_err(dev)?;
    let apiv3_key = ApiV3Key::parse(keys::APIV3_KEY).map_err(dev)?;
    Ok(PaySettings { signer, apiv3_key, verifier, notify_url })
}
