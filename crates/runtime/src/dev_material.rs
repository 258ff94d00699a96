//! The simulators' published development credentials, recognised without being kept.
//!
//! The WeChat and WeChat Pay simulators publish their keys (they are committed in
//! `crates/dev-keys/keys/`): anyone can sign as that "merchant". Production must never
//! run with them, whichever build it is — also a build without the `simulators` feature, which
//! carries no simulator code and no key material. So this module keeps only what identifies
//! them: public identifiers as they are, and SHA-256 fingerprints of the keys and secrets (a
//! test checks them against the simulators' keys).

use baoming_payments::RsaPublicKey;
use sha2::{Digest, Sha256};

use crate::config::{ConfigError, PaySettings};

/// The simulator's mini-program app id.
pub const DEV_APPID: &str = "wxdevbaoming0000";
/// The simulated merchant id (WeChat Pay's documentation example).
pub const DEV_MCHID: &str = "1900000109";
/// The serial of the simulated merchant API certificate.
const DEV_MERCHANT_SERIAL: &str = "17F58A443AF6556B452AC7B27130A4BF5888B71E";
/// The ids of the simulator's WeChat Pay public keys.
const DEV_PUB_KEY_IDS: [&str; 2] = [
    "PUB_KEY_ID_0000000000000000000000000000000001",
    "PUB_KEY_ID_0000000000000000000000000000000002",
];
/// SHA-256 of the SubjectPublicKeyInfo DER of the simulator's keys: the merchant key and the
/// two WeChat Pay platform keys ([`RsaPublicKey::fingerprint`]).
const DEV_KEY_FINGERPRINTS: [&str; 3] = [
    "f023ea70ca9d2e6858f82cc37c3ea5b566c2b68e38218be7d7eb01651bf6ad7e",
    "20edbc77090d698607d782d4be32e0f50b5a88ef5760616595547184a46d2d14",
    "b3456162c58978904799709020ea2104d75d129ab0e2ef47c01f6850830be990",
];
/// SHA-256 of the simulator's APIv3 key.
const DEV_APIV3_KEY_SHA256: &str =
    "5852436c75c89caf03f36ca7e5ef8eec053575d40228bf3115131e4c0cad794e";
/// SHA-256 of the simulator's app secret.
const DEV_APP_SECRET_SHA256: &str =
    "f3add08b7924e0ec39f5f2e043a39b076a0445b7dbdce6c227d9c134931f1c25";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether a key is one of the simulators' published keys.
pub fn is_dev_key(key: &RsaPublicKey) -> bool {
    DEV_KEY_FINGERPRINTS.contains(&key.fingerprint().as_str())
}

fn refused(key: &'static str, what: &str) -> ConfigError {
    ConfigError::Invalid {
        key,
        problem: format!(
            "{what} is the local simulator's published development value; production mode \
             needs the organisation's own"
        ),
    }
}

/// Refuses every published development credential (production mode).
pub fn refuse_in_production(
    appid: &str,
    app_secret: &str,
    pay: &PaySettings,
) -> Result<(), ConfigError> {
    if appid == DEV_APPID {
        return Err(refused("wechat.appid", "the app id"));
    }
    if sha256_hex(app_secret.as_bytes()) == DEV_APP_SECRET_SHA256 {
        return Err(refused("wechat.secret", "the app secret"));
    }
    if pay.signer.mchid() == DEV_MCHID {
        return Err(refused("wechatpay.mchid", "the merchant id"));
    }
    if pay.signer.serial_no().eq_ignore_ascii_case(DEV_MERCHANT_SERIAL) {
        return Err(refused("wechatpay.merchant_serial", "the merchant certificate serial"));
    }
    if is_dev_key(&pay.signer.key().public_key()) {
        return Err(refused("wechatpay.merchant_key_file", "the merchant private key"));
    }
    if pay.apiv3_key.fingerprint() == DEV_APIV3_KEY_SHA256 {
        return Err(refused("wechatpay.apiv3_key", "the APIv3 key"));
    }
    for id in pay.verifier.ids() {
        if DEV_PUB_KEY_IDS.contains(&id.as_str()) {
            return Err(refused("wechatpay.public_keys", "the WeChat Pay public key id"));
        }
        if pay.verifier.get(&id).is_some_and(|key| is_dev_key(&key)) {
            return Err(refused("wechatpay.public_keys", "the WeChat Pay public key"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use baoming_dev_keys as dev_keys;
    use baoming_payments::{RsaSigningKey, VerifierKeys};

    use super::*;

    #[test]
    fn the_fingerprints_are_the_simulators_keys() {
        let merchant = RsaSigningKey::from_pem(dev_keys::MERCHANT_PRIVATE_KEY_PEM).expect("key");
        assert!(is_dev_key(&merchant.public_key()));
        for pem in [
            dev_keys::MERCHANT_PUBLIC_KEY_PEM,
            dev_keys::PLATFORM_PUBLIC_KEY_1_PEM,
            dev_keys::PLATFORM_PUBLIC_KEY_2_PEM,
        ] {
            assert!(is_dev_key(&RsaPublicKey::from_pem(pem).expect("key")));
        }
        assert_eq!(
            baoming_payments::ApiV3Key::parse(dev_keys::APIV3_KEY).expect("key").fingerprint(),
            DEV_APIV3_KEY_SHA256
        );
        assert_eq!(dev_keys::MERCHANT_SERIAL_NO, DEV_MERCHANT_SERIAL);
        assert_eq!(
            DEV_PUB_KEY_IDS,
            [dev_keys::PLATFORM_PUB_KEY_ID_1, dev_keys::PLATFORM_PUB_KEY_ID_2]
        );
        assert_eq!(sha256_hex(dev_keys::APP_SECRET.as_bytes()), DEV_APP_SECRET_SHA256);
        assert_eq!(dev_keys::APPID, DEV_APPID);
        assert_eq!(dev_keys::MCHID, DEV_MCHID);
        // Another key is not taken for a dev key.
        let verifier = VerifierKeys::new();
        assert!(verifier.is_empty());
        let other =
            RsaPublicKey::from_pem(include_str!("../../payments/testdata/platform-test-pub-1.pem"))
                .expect("key");
        assert!(!is_dev_key(&other));
    }
}
