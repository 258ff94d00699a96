//! Payment and refund notifications: the envelope, AES-256-GCM decryption of its resource,
//! and the typed payloads ([`Transaction`], [`RefundNotice`]).
//!
//! A notification handler first verifies the signature ([`crate::verify::verify`] over the
//! raw body), then parses the envelope ([`Notification::from_json`]), then decrypts the
//! resource with the APIv3 key ([`decrypt_transaction`] / [`decrypt_refund`]). The handling
//! must be idempotent: WeChat Pay repeats a notification until it gets a 200/204.
//!
//! Unknown `trade_state` / `refund_status` values do not fail parsing: they become
//! [`TradeState::Other`] / [`RefundStatus::Other`] so that a new state WeChat introduces
//! cannot make a payment unreadable; callers must treat `Other` as "not final, look again".

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use baoming_domain::money::Money;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::keys::SignError;
use crate::sign::random_alphanumeric;

/// The only resource encryption algorithm.
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";
/// `event_type` of a successful payment.
pub const EVENT_TRANSACTION_SUCCESS: &str = "TRANSACTION.SUCCESS";
/// `event_type` of a successful refund.
pub const EVENT_REFUND_SUCCESS: &str = "REFUND.SUCCESS";
/// `event_type` of a refund that needs manual handling.
pub const EVENT_REFUND_ABNORMAL: &str = "REFUND.ABNORMAL";
/// `event_type` of a closed refund.
pub const EVENT_REFUND_CLOSED: &str = "REFUND.CLOSED";
/// The length of a resource nonce.
pub const RESOURCE_NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// The merchant's APIv3 key: exactly 32 bytes of ASCII. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiV3Key([u8; 32]);

/// Why an APIv3 key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiV3KeyError {
    /// The key is not exactly 32 bytes long.
    #[error("the APIv3 key must be exactly 32 bytes, not {0}")]
    WrongLength(usize),
    /// The key has characters outside printable ASCII.
    #[error("the APIv3 key must be printable ASCII")]
    NotAscii,
}

impl ApiV3Key {
    /// Takes the key as configured in the merchant platform (32 printable ASCII characters).
    pub fn parse(key: &str) -> Result<Self, ApiV3KeyError> {
        if !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ApiV3KeyError::NotAscii);
        }
        let bytes: [u8; 32] =
            key.as_bytes().try_into().map_err(|_| ApiV3KeyError::WrongLength(key.len()))?;
        Ok(Self(bytes))
    }

    /// SHA-256 of the key, lowercase hex: recognises a key without showing it.
    pub fn fingerprint(&self) -> String {
        use rsa::sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(self.0))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

impl fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiV3Key(…)")
    }
}

/// Why a resource could not be decrypted or its payload read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// `algorithm` is not `AEAD_AES_256_GCM`.
    #[error("unsupported resource algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The nonce is not 12 bytes.
    #[error("resource nonce must be 12 bytes")]
    BadNonce,
    /// The ciphertext is not base64.
    #[error("resource ciphertext is not base64")]
    BadBase64,
    /// The ciphertext is shorter than the 16-byte tag.
    #[error("resource ciphertext too short")]
    TooShort,
    /// Authentication failed: wrong key, wrong nonce or associated data, or tampering.
    #[error("resource decryption failed (wrong key or tampered data)")]
    Failed,
    /// The JSON (envelope or decrypted payload) is not what was expected.
    #[error("unexpected notification content: {0}")]
    BadPayload(String),
    /// Encryption only: no randomness for a nonce.
    #[error("no randomness available")]
    Randomness,
}

/// The encrypted `resource` of a notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    /// `AEAD_AES_256_GCM`.
    pub algorithm: String,
    /// base64(ciphertext ‖ 16-byte tag).
    pub ciphertext: String,
    /// The associated data (possibly empty).
    #[serde(default)]
    pub associated_data: String,
    /// The 12-character nonce.
    pub nonce: String,
    /// The type of the plaintext object, e.g. `transaction` or `refund`.
    #[serde(default)]
    pub original_type: String,
}

/// A notification body as WeChat Pay posts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    /// The notification id (the same on every retry).
    pub id: String,
    /// When the notification was created (RFC 3339 text as sent).
    pub create_time: String,
    /// `TRANSACTION.SUCCESS`, `REFUND.SUCCESS`, `REFUND.ABNORMAL` or `REFUND.CLOSED`.
    pub event_type: String,
    /// `encrypt-resource`.
    pub resource_type: String,
    /// A short human summary.
    #[serde(default)]
    pub summary: String,
    /// The encrypted payload.
    pub resource: EncryptedResource,
}

impl Notification {
    /// Parses a notification body (after its signature was verified over the same bytes).
    pub fn from_json(body: &[u8]) -> Result<Self, DecryptError> {
        serde_json::from_slice(body).map_err(|error| DecryptError::BadPayload(error.to_string()))
    }
}

/// Decrypts a notification resource with the APIv3 key. The algorithm is checked first;
/// the AAD is `associated_data` (possibly empty); the ciphertext is base64(ct ‖ tag).
pub fn decrypt_resource(
    key: &ApiV3Key,
    resource: &EncryptedResource,
) -> Result<Vec<u8>, DecryptError> {
    if resource.algorithm != ALGORITHM {
        return Err(DecryptError::UnsupportedAlgorithm(
            resource.algorithm.chars().take(64).collect(),
        ));
    }
    let nonce = Nonce::try_from(resource.nonce.as_bytes()).map_err(|_| DecryptError::BadNonce)?;
    let sealed = STANDARD.decode(&resource.ciphertext).map_err(|_| DecryptError::BadBase64)?;
    if sealed.len() < TAG_LEN {
        return Err(DecryptError::TooShort);
    }
    key.cipher()
        .decrypt(&nonce, Payload { msg: &sealed, aad: resource.associated_data.as_bytes() })
        .map_err(|_| DecryptError::Failed)
}

/// Encrypts a payload as WeChat Pay does (the inverse of [`decrypt_resource`]), for tests and
/// a simulator. `nonce` must be 12 bytes (see [`new_resource_nonce`]).
pub fn encrypt_resource(
    key: &ApiV3Key,
    nonce: &str,
    associated_data: &str,
    plaintext: &[u8],
    original_type: &str,
) -> Result<EncryptedResource, DecryptError> {
    let aes_nonce = Nonce::try_from(nonce.as_bytes()).map_err(|_| DecryptError::BadNonce)?;
    let sealed = key
        .cipher()
        .encrypt(&aes_nonce, Payload { msg: plaintext, aad: associated_data.as_bytes() })
        .map_err(|_| DecryptError::Failed)?;
    Ok(EncryptedResource {
        algorithm: ALGORITHM.to_owned(),
        ciphertext: STANDARD.encode(sealed),
        associated_data: associated_data.to_owned(),
        nonce: nonce.to_owned(),
        original_type: original_type.to_owned(),
    })
}

/// A fresh 12-character resource nonce of `[0-9A-Za-z]`.
pub fn new_resource_nonce() -> Result<String, SignError> {
    random_alphanumeric(RESOURCE_NONCE_LEN)
}

/// Declares a string enum with known variants and an `Other(String)` catch-all, serialised
/// as its WeChat text.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this crate does not know (kept verbatim).
            Other(String),
        }

        impl $name {
            /// The WeChat text of the value.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)*
                    Self::Other(other) => other,
                }
            }

            /// Reads a WeChat value; unknown text becomes `Other`.
            pub fn parse(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <String as ::serde::Deserialize>::deserialize(deserializer)?;
                Ok(Self::parse(&text))
            }
        }
    };
}
pub(crate) use string_enum;

string_enum! {
    /// The state of a payment (`trade_state`).
    TradeState {
        /// Paid.
        Success = "SUCCESS",
        /// Paid, then (partly) refunded.
        Refund = "REFUND",
        /// Not paid (yet).
        NotPay = "NOTPAY",
        /// Closed without payment.
        Closed = "CLOSED",
        /// Revoked (card-present payments only).
        Revoked = "REVOKED",
        /// The user is paying (e.g. entering a password).
        UserPaying = "USERPAYING",
        /// The payment failed.
        PayError = "PAYERROR",
    }
}

string_enum! {
    /// The state of a refund (`refund_status` / `status`).
    RefundStatus {
        /// Refunded.
        Success = "SUCCESS",
        /// Closed.
        Closed = "CLOSED",
        /// Being processed.
        Processing = "PROCESSING",
        /// Failed: needs manual handling in the merchant platform.
        Abnormal = "ABNORMAL",
    }
}

/// The payer of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    /// The payer's openid under the appid.
    pub openid: String,
}

/// The amounts of a transaction, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionAmount {
    /// The order total.
    pub total: Money,
    /// What the payer paid (absent before payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<Money>,
    /// The order currency, `CNY`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// The payer's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// A payment, as decrypted from a `TRANSACTION.SUCCESS` notification or returned by an order
/// query. Fields WeChat leaves out before payment (transaction id, payer, success time, …)
/// are options.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The appid the order was made for.
    pub appid: String,
    /// The merchant number.
    pub mchid: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// WeChat Pay's order number (absent before payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// `JSAPI` etc. (absent before payment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    /// The payment state.
    pub trade_state: TradeState,
    /// A description of the state.
    #[serde(default)]
    pub trade_state_desc: String,
    /// The merchant's `attach` data, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// When the payment succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<DateTime<FixedOffset>>,
    /// Who paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    /// The amounts.
    pub amount: TransactionAmount,
}

/// The amounts of a refund notification, in fen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNoticeAmount {
    /// The order total.
    pub total: Money,
    /// The refund amount.
    pub refund: Money,
    /// What the payer paid.
    pub payer_total: Money,
    /// What goes back to the payer.
    pub payer_refund: Money,
}

/// A refund result, as decrypted from a `REFUND.*` notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundNotice {
    /// The merchant number.
    pub mchid: String,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// WeChat Pay's order number.
    pub transaction_id: String,
    /// The merchant's refund number.
    pub out_refund_no: String,
    /// WeChat Pay's refund number.
    pub refund_id: String,
    /// The refund state.
    pub refund_status: RefundStatus,
    /// When the refund succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<DateTime<FixedOffset>>,
    /// Where the money went, e.g. `支付用户零钱`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_received_account: Option<String>,
    /// The amounts.
    pub amount: RefundNoticeAmount,
}

fn decrypt_json<T: serde::de::DeserializeOwned>(
    key: &ApiV3Key,
    notification: &Notification,
) -> Result<T, DecryptError> {
    let plain = decrypt_resource(key, &notification.resource)?;
    serde_json::from_slice(&plain).map_err(|error| DecryptError::BadPayload(error.to_string()))
}

/// Decrypts the [`Transaction`] of a payment notification.
pub fn decrypt_transaction(
    key: &ApiV3Key,
    notification: &Notification,
) -> Result<Transaction, DecryptError> {
    decrypt_json(key, notification)
}

/// Decrypts the [`RefundNotice`] of a refund notification.
pub fn decrypt_refund(
    key: &ApiV3Key,
    notification: &Notification,
) -> Result<RefundNotice, DecryptError> {
    decrypt_json(key, notification)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const KEY: &str = "a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb";

    fn key() -> ApiV3Key {
        ApiV3Key::parse(KEY).expect("key")
    }

    fn vector() -> EncryptedResource {
        EncryptedResource {
            algorithm: ALGORITHM.to_owned(),
            ciphertext: "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=".to_owned(),
            associated_data: "associatedData".to_owned(),
            nonce: "uluk4a9R25RW".to_owned(),
            original_type: "transaction".to_owned(),
        }
    }

    #[test]
    fn spec_test_vector_decrypts() {
        assert_eq!(decrypt_resource(&key(), &vector()), Ok(b"message".to_vec()));
        let again = encrypt_resource(&key(), "uluk4a9R25RW", "associatedData", b"message", "t")
            .expect("encrypt");
        assert_eq!(again.ciphertext, vector().ciphertext);
    }

    #[test]
    fn key_must_be_32_ascii_bytes() {
        assert_eq!(ApiV3Key::parse("short"), Err(ApiV3KeyError::WrongLength(5)));
        assert_eq!(ApiV3Key::parse(&format!("{KEY}x")), Err(ApiV3KeyError::WrongLength(33)));
        assert_eq!(ApiV3Key::parse(&"密".repeat(11)), Err(ApiV3KeyError::NotAscii));
        assert_eq!(format!("{:?}", key()), "ApiV3Key(…)");
    }

    #[test]
    fn tampering_gives_typed_errors() {
        let k = key();
        let mut flipped = vector();
        let mut bytes = STANDARD.decode(&flipped.ciphertext).expect("b64");
        bytes[0] ^= 1;
        flipped.ciphertext = STANDARD.encode(&bytes);
        assert_eq!(decrypt_resource(&k, &flipped), Err(DecryptError::Failed));

        let mut aad = vector();
        aad.associated_data = "associatedDatA".to_owned();
        assert_eq!(decrypt_resource(&k, &aad), Err(DecryptError::Failed));

        let mut no_aad = vector();
        no_aad.associated_data.clear();
        assert_eq!(decrypt_resource(&k, &no_aad), Err(DecryptError::Failed));

        let other = ApiV3Key::parse("b7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").expect("key");
        assert_eq!(decrypt_resource(&other, &vector()), Err(DecryptError::Failed));

        let mut truncated = vector();
        let bytes = STANDARD.decode(&truncated.ciphertext).expect("b64");
        truncated.ciphertext = STANDARD.encode(&bytes[..bytes.len() - 1]);
        assert_eq!(decrypt_resource(&k, &truncated), Err(DecryptError::Failed));
        truncated.ciphertext = STANDARD.encode(&bytes[..15]);
        assert_eq!(decrypt_resource(&k, &truncated), Err(DecryptError::TooShort));
        truncated.ciphertext = String::new();
        assert_eq!(decrypt_resource(&k, &truncated), Err(DecryptError::TooShort));

        let mut b64 = vector();
        b64.ciphertext = "ulwSiIajGClc*cOYvOQ7".to_owned();
        assert_eq!(decrypt_resource(&k, &b64), Err(DecryptError::BadBase64));

        let mut algorithm = vector();
        algorithm.algorithm = "AEAD_SM4_GCM".to_owned();
        algorithm.ciphertext = "garbage that is not even base64 !".to_owned();
        assert_eq!(
            decrypt_resource(&k, &algorithm),
            Err(DecryptError::UnsupportedAlgorithm("AEAD_SM4_GCM".to_owned()))
        );

        let mut nonce = vector();
        nonce.nonce = "uluk4a9R25R".to_owned();
        assert_eq!(decrypt_resource(&k, &nonce), Err(DecryptError::BadNonce));
        assert_eq!(
            encrypt_resource(&k, "", "", b"", "").map(|r| r.nonce),
            Err(DecryptError::BadNonce)
        );
    }

    const TRANSACTION: &str = r#"{
        "appid":"wxd678efh567hg6787","mchid":"1230000109","out_trade_no":"1217752501201407033233368018",
        "transaction_id":"1217752501201407033233368018","trade_type":"JSAPI","trade_state":"SUCCESS",
        "trade_state_desc":"支付成功","bank_type":"CMC","attach":"自定义数据",
        "success_time":"2018-06-08T10:34:56+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"},
        "scene_info":{"device_id":"013467007045764"},"promotion_detail":[]
    }"#;

    fn notification(resource: EncryptedResource, event_type: &str) -> Notification {
        Notification {
            id: "EV-2018022511223320873".to_owned(),
            create_time: "2015-05-20T13:29:35+08:00".to_owned(),
            event_type: event_type.to_owned(),
            resource_type: "encrypt-resource".to_owned(),
            summary: "支付成功".to_owned(),
            resource,
        }
    }

    #[test]
    fn transaction_notification_round_trip() {
        let k = key();
        let resource = encrypt_resource(
            &k,
            &new_resource_nonce().expect("nonce"),
            "transaction",
            TRANSACTION.as_bytes(),
            "transaction",
        )
        .expect("encrypt");
        let body =
            serde_json::to_vec(&notification(resource, EVENT_TRANSACTION_SUCCESS)).expect("json");
        let parsed = Notification::from_json(&body).expect("envelope");
        assert_eq!(parsed.event_type, EVENT_TRANSACTION_SUCCESS);
        let transaction = decrypt_transaction(&k, &parsed).expect("transaction");
        assert_eq!(transaction.trade_state, TradeState::Success);
        assert_eq!(transaction.amount.total, Money::from_fen(100).expect("fen"));
        assert_eq!(transaction.amount.payer_total, Money::from_fen(100).ok());
        assert_eq!(
            transaction.payer.map(|p| p.openid).as_deref(),
            Some("oUpF8uMuAJO_M2pxb1Q9zNjWeS6o")
        );
        assert_eq!(
            transaction.success_time.map(|t| t.to_rfc3339()).as_deref(),
            Some("2018-06-08T10:34:56+08:00")
        );
        // A refund payload does not pass for a transaction, and vice versa.
        assert!(matches!(decrypt_refund(&k, &parsed), Err(DecryptError::BadPayload(_))));
        assert!(matches!(Notification::from_json(b"{}"), Err(DecryptError::BadPayload(_))));
    }

    #[test]
    fn refund_notice_parses() {
        let plain = r#"{"mchid":"1900000100","transaction_id":"1008450740201411110005820873",
            "out_trade_no":"20150806125346","refund_id":"50200207182018070300011301001",
            "out_refund_no":"7752501201407033233368018","refund_status":"SUCCESS",
            "success_time":"2018-06-08T10:34:56+08:00","user_received_account":"招商银行信用卡0403",
            "amount":{"total":999,"refund":999,"payer_total":999,"payer_refund":999}}"#;
        let resource =
            encrypt_resource(&key(), "abcdefghijkl", "refund", plain.as_bytes(), "refund")
                .expect("encrypt");
        let notice =
            decrypt_refund(&key(), &notification(resource, EVENT_REFUND_SUCCESS)).expect("refund");
        assert_eq!(notice.refund_status, RefundStatus::Success);
        assert_eq!(notice.amount.payer_refund.fen(), 999);
        assert_eq!(notice.user_received_account.as_deref(), Some("招商银行信用卡0403"));
    }

    #[test]
    fn unknown_states_are_kept() {
        assert_eq!(TradeState::parse("NOTPAY"), TradeState::NotPay);
        assert_eq!(TradeState::parse("ACCEPT"), TradeState::Other("ACCEPT".to_owned()));
        assert_eq!(TradeState::Other("X".to_owned()).as_str(), "X");
        assert_eq!(RefundStatus::parse("ABNORMAL").to_string(), "ABNORMAL");
        let json = serde_json::to_string(&RefundStatus::Processing).expect("json");
        assert_eq!(json, "\"PROCESSING\"");
        let back: RefundStatus = serde_json::from_str("\"NEW\"").expect("json");
        assert_eq!(back, RefundStatus::Other("NEW".to_owned()));
        // Negative amounts are refused.
        let bad = TRANSACTION.replace("\"total\":100", "\"total\":-1");
        assert!(serde_json::from_str::<Transaction>(&bad).is_err());
    }

    proptest! {
        #[test]
        fn encrypt_then_decrypt_round_trips_and_any_flip_fails(
            plain in proptest::collection::vec(any::<u8>(), 0..200),
            aad in "[a-z]{0,12}",
            nonce in "[0-9A-Za-z]{12}",
            flip_at in any::<prop::sample::Index>(),
            flip_bit in 0u8..8,
        ) {
            let k = key();
            let resource = encrypt_resource(&k, &nonce, &aad, &plain, "t").expect("encrypt");
            prop_assert_eq!(decrypt_resource(&k, &resource), Ok(plain.clone()));
            let mut sealed = STANDARD.decode(&resource.ciphertext).expect("b64");
            let at = flip_at.index(sealed.len());
            sealed[at] ^= 1 << flip_bit;
            let tampered =
                EncryptedResource { ciphertext: STANDARD.encode(&sealed), ..resource.clone() };
            prop_assert_eq!(decrypt_resource(&k, &tampered), Err(DecryptError::Failed));
        }

        #[test]
        fn decrypt_never_panics(
            ciphertext in "[ -~]{0,80}",
            nonce in "[ -~]{0,16}",
            aad in "[ -~]{0,16}",
        ) {
            let resource = EncryptedResource {
                algorithm: ALGORITHM.to_owned(),
                ciphertext,
                associated_data: aad,
                nonce,
                original_type: String::new(),
            };
            let _ = decrypt_resource(&key(), &resource);
        }
    }
}
