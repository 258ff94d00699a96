//! Verifying WeChat Pay's signatures on responses and notifications.
//!
//! WeChat Pay signs `TIMESTAMP\nNONCE\nBODY\n` (BODY = the **raw** body bytes, never
//! re-serialised JSON) and sends `Wechatpay-Timestamp`, `Wechatpay-Nonce`,
//! `Wechatpay-Signature`, `Wechatpay-Serial` and optionally `Wechatpay-Signature-Type`.
//! [`verify`] is pure: the current time is a parameter.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use crate::keys::{RsaSigningKey, SignError, VerifierKeys};
use crate::sign::AuthorizationError;

/// The only signature scheme: SHA256withRSA with an RSA 2048 key.
pub const SIGNATURE_TYPE: &str = "WECHATPAY2-SHA256-RSA2048";
/// Signatures with this prefix are WeChat Pay's probes and must never verify.
pub const SIGNTEST_PREFIX: &str = "WECHATPAY/SIGNTEST/";
/// A timestamp this many seconds (or more) away from now is refused.
pub const MAX_CLOCK_SKEW_SECS: u64 = 300;

/// The `Wechatpay-Timestamp` header.
pub const HEADER_TIMESTAMP: &str = "Wechatpay-Timestamp";
/// The `Wechatpay-Nonce` header.
pub const HEADER_NONCE: &str = "Wechatpay-Nonce";
/// The `Wechatpay-Signature` header.
pub const HEADER_SIGNATURE: &str = "Wechatpay-Signature";
/// The `Wechatpay-Serial` header.
pub const HEADER_SERIAL: &str = "Wechatpay-Serial";
/// The optional `Wechatpay-Signature-Type` header.
pub const HEADER_SIGNATURE_TYPE: &str = "Wechatpay-Signature-Type";

/// Why a signature was not accepted. Each cause is its own variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required `Wechatpay-*` header is missing (or not text).
    #[error("header {0} missing")]
    MissingHeader(&'static str),
    /// `Wechatpay-Signature-Type` names a scheme other than `WECHATPAY2-SHA256-RSA2048`.
    #[error("unsupported signature type {0:?}")]
    UnsupportedSignatureType(String),
    /// The signature is a `WECHATPAY/SIGNTEST/` probe.
    #[error("signature probe (WECHATPAY/SIGNTEST/) refused")]
    SignatureProbe,
    /// The timestamp is not an integer.
    #[error("timestamp is not a number")]
    BadTimestamp,
    /// The timestamp is 300 s or more away from now.
    #[error("timestamp too far from the current time")]
    TimestampSkew,
    /// No trusted key has this serial / key id.
    #[error("no trusted WeChat Pay key with serial {0:?}")]
    UnknownSerial(String),
    /// The signature is not valid base64.
    #[error("signature is not base64")]
    BadEncoding,
    /// The signature does not match the message and the key.
    #[error("signature does not match")]
    BadSignature,
    /// (Requests only) the `Authorization` header is malformed.
    #[error("bad Authorization header: {0}")]
    BadAuthorization(AuthorizationError),
}

/// The `Wechatpay-*` headers of a response or notification, as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// `Wechatpay-Timestamp`, unix seconds as text.
    pub timestamp: String,
    /// `Wechatpay-Nonce`.
    pub nonce: String,
    /// `Wechatpay-Signature`, base64.
    pub signature: String,
    /// `Wechatpay-Serial`: the key id or certificate serial of the signing key.
    pub serial: String,
    /// `Wechatpay-Signature-Type`, if sent (absent means `WECHATPAY2-SHA256-RSA2048`).
    pub signature_type: Option<String>,
}

impl SignedHeaders {
    /// Collects the headers through a look-up by (case-insensitive) header name, so that any
    /// HTTP library's header map can be used: `SignedHeaders::from_lookup(|name|
    /// headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned))`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, VerifyError> {
        let required = |name: &'static str| get(name).ok_or(VerifyError::MissingHeader(name));
        Ok(Self {
            timestamp: required(HEADER_TIMESTAMP)?,
            nonce: required(HEADER_NONCE)?,
            signature: required(HEADER_SIGNATURE)?,
            serial: required(HEADER_SERIAL)?,
            signature_type: get(HEADER_SIGNATURE_TYPE),
        })
    }

    /// The headers as `(name, value)` pairs, to put on a response.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            (HEADER_TIMESTAMP, self.timestamp.clone()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
            (HEADER_SERIAL, self.serial.clone()),
        ];
        if let Some(kind) = &self.signature_type {
            pairs.push((HEADER_SIGNATURE_TYPE, kind.clone()));
        }
        pairs
    }
}

/// `TIMESTAMP\nNONCE\nBODY\n` over raw bytes.
fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// Verifies a WeChat Pay signature over `TIMESTAMP\nNONCE\nBODY\n` with the raw `body` bytes.
///
/// Checked in this order: the signature type (absent or `WECHATPAY2-SHA256-RSA2048`), the
/// `WECHATPAY/SIGNTEST/` probe prefix, the timestamp (an integer less than 300 s from
/// `now`), the serial (a trusted key), the base64, and finally the signature itself.
pub fn verify(
    keys: &VerifierKeys,
    headers: &SignedHeaders,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<(), VerifyError> {
    if let Some(kind) = &headers.signature_type
        && kind != SIGNATURE_TYPE
    {
        return Err(VerifyError::UnsupportedSignatureType(kind.chars().take(64).collect()));
    }
    if headers.signature.starts_with(SIGNTEST_PREFIX) {
        return Err(VerifyError::SignatureProbe);
    }
    let timestamp: i64 = headers.timestamp.trim().parse().map_err(|_| VerifyError::BadTimestamp)?;
    if now.timestamp().abs_diff(timestamp) >= MAX_CLOCK_SKEW_SECS {
        return Err(VerifyError::TimestampSkew);
    }
    let key = keys
        .get(&headers.serial)
        .ok_or_else(|| VerifyError::UnknownSerial(headers.serial.chars().take(80).collect()))?;
    let signature =
        STANDARD.decode(headers.signature.trim()).map_err(|_| VerifyError::BadEncoding)?;
    let message = response_message(&headers.timestamp, &headers.nonce, body);
    if key.verify(&message, &signature) { Ok(()) } else { Err(VerifyError::BadSignature) }
}

/// Signs a response or notification body as WeChat Pay does and returns the `Wechatpay-*`
/// headers (with `Wechatpay-Signature-Type`). For tests and a simulator.
pub fn sign_response(
    key: &RsaSigningKey,
    serial: &str,
    timestamp: i64,
    nonce: &str,
    body: &[u8],
) -> Result<SignedHeaders, SignError> {
    let timestamp = timestamp.to_string();
    let signature = key.sign_base64(&response_message(&timestamp, nonce, body))?;
    Ok(SignedHeaders {
        timestamp,
        nonce: nonce.to_owned(),
        signature,
        serial: serial.to_owned(),
        signature_type: Some(SIGNATURE_TYPE.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::keys::test_keys::*;

    const TS: i64 = 1_700_000_000;
    const BODY: &[u8] = br#"{"prepay_id":"wx201410272009395522657a690389285100"}"#;

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).single().expect("valid time")
    }

    fn keys() -> VerifierKeys {
        let keys = VerifierKeys::new();
        keys.add_public_key(PUB_KEY_ID_1, PLATFORM_PUB_1).expect("pub 1");
        keys.add_platform_certificate(PLATFORM_CERT_2).expect("cert 2");
        keys
    }

    fn signed(key_pem: &str, serial: &str) -> SignedHeaders {
        let key = RsaSigningKey::from_pem(key_pem).expect("key");
        sign_response(&key, serial, TS, "fdasfwqewlkja484w", BODY).expect("sign")
    }

    #[test]
    fn accepts_both_key_modes() {
        let keys = keys();
        assert_eq!(verify(&keys, &signed(PLATFORM_KEY_1, PUB_KEY_ID_1), BODY, at(TS)), Ok(()));
        assert_eq!(verify(&keys, &signed(PLATFORM_KEY_2, CERT_2_SERIAL), BODY, at(TS)), Ok(()));
        let mut no_type = signed(PLATFORM_KEY_1, PUB_KEY_ID_1);
        no_type.signature_type = None;
        assert_eq!(verify(&keys, &no_type, BODY, at(TS)), Ok(()));
    }

    #[test]
    fn wrong_key_for_the_serial_fails() {
        let headers = signed(PLATFORM_KEY_2, PUB_KEY_ID_1);
        assert_eq!(verify(&keys(), &headers, BODY, at(TS)), Err(VerifyError::BadSignature));
    }

    #[test]
    fn raw_body_matters() {
        let headers = signed(PLATFORM_KEY_1, PUB_KEY_ID_1);
        let reformatted = br#"{"prepay_id": "wx201410272009395522657a690389285100"}"#;
        assert_eq!(verify(&keys(), &headers, reformatted, at(TS)), Err(VerifyError::BadSignature));
        let mut other_nonce = headers.clone();
        other_nonce.nonce.push('x');
        assert_eq!(verify(&keys(), &other_nonce, BODY, at(TS)), Err(VerifyError::BadSignature));
    }

    #[test]
    fn clock_skew_limit_is_300_seconds_either_way() {
        let headers = signed(PLATFORM_KEY_1, PUB_KEY_ID_1);
        let keys = keys();
        assert_eq!(verify(&keys, &headers, BODY, at(TS + 299)), Ok(()));
        assert_eq!(verify(&keys, &headers, BODY, at(TS - 299)), Ok(()));
        assert_eq!(verify(&keys, &headers, BODY, at(TS + 300)), Err(VerifyError::TimestampSkew));
        assert_eq!(verify(&keys, &headers, BODY, at(TS - 300)), Err(VerifyError::TimestampSkew));
        let mut extreme = headers.clone();
        extreme.timestamp = i64::MIN.to_string();
        assert_eq!(verify(&keys, &extreme, BODY, at(TS)), Err(VerifyError::TimestampSkew));
        extreme.timestamp = "1700000000.5".to_owned();
        assert_eq!(verify(&keys, &extreme, BODY, at(TS)), Err(VerifyError::BadTimestamp));
    }

    #[test]
    fn each_refusal_is_typed() {
        let keys = keys();
        let good = signed(PLATFORM_KEY_1, PUB_KEY_ID_1);

        let mut probe = good.clone();
        probe.signature = format!("{SIGNTEST_PREFIX}{}", good.signature);
        assert_eq!(verify(&keys, &probe, BODY, at(TS)), Err(VerifyError::SignatureProbe));

        let mut unknown = good.clone();
        unknown.serial = "PUB_KEY_ID_0000000000000000000000000000000000".to_owned();
        assert_eq!(
            verify(&keys, &unknown, BODY, at(TS)),
            Err(VerifyError::UnknownSerial(unknown.serial.clone()))
        );

        let mut kind = good.clone();
        kind.signature_type = Some("WECHATPAY2-SM2-WITH-SM3".to_owned());
        assert_eq!(
            verify(&keys, &kind, BODY, at(TS)),
            Err(VerifyError::UnsupportedSignatureType("WECHATPAY2-SM2-WITH-SM3".to_owned()))
        );

        let mut encoding = good.clone();
        encoding.signature = "not base64!".to_owned();
        assert_eq!(verify(&keys, &encoding, BODY, at(TS)), Err(VerifyError::BadEncoding));

        let mut short = good.clone();
        short.signature = STANDARD.encode(b"short");
        assert_eq!(verify(&keys, &short, BODY, at(TS)), Err(VerifyError::BadSignature));
    }

    #[test]
    fn headers_from_lookup() {
        let good = signed(PLATFORM_KEY_1, PUB_KEY_ID_1);
        let pairs = good.to_pairs();
        let lookup = |name: &str| {
            pairs.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone())
        };
        assert_eq!(SignedHeaders::from_lookup(lookup), Ok(good.clone()));
        let missing = |name: &str| if name == HEADER_NONCE { None } else { lookup(name) };
        assert_eq!(
            SignedHeaders::from_lookup(missing),
            Err(VerifyError::MissingHeader(HEADER_NONCE))
        );
    }
}
