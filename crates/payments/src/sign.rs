//! Request signing (`Authorization: WECHATPAY2-SHA256-RSA2048 …`).
//!
//! The signed message is `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`, where URL is the path plus
//! `?query` (no scheme or host) and BODY is the exact request body (empty for a GET). It is
//! signed with SHA256withRSA (PKCS#1 v1.5) by the merchant private key and base64-encoded.
//!
//! [`parse_authorization`] and [`verify_request`] are the other side, for tests and a
//! simulator standing in for WeChat Pay.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};

use crate::keys::{MerchantSigner, SignError, VerifierKeys, is_header_token};
use crate::verify::{MAX_CLOCK_SKEW_SECS, SIGNATURE_TYPE, VerifyError};

/// The characters of a nonce.
const NONCE_ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The length of a request nonce.
pub const NONCE_LEN: usize = 32;

/// The message a request signature covers: `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`.
///
/// `url_path_and_query` is the path plus `?query` exactly as sent, without scheme and host;
/// `body` is the exact body text sent (empty for a GET).
pub fn signing_message(
    method: &str,
    url_path_and_query: &str,
    timestamp: i64,
    nonce: &str,
    body: &str,
) -> String {
    format!("{method}\n{url_path_and_query}\n{timestamp}\n{nonce}\n{body}\n")
}

/// The `Authorization` header value for a request:
/// `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`.
pub fn authorization(
    signer: &MerchantSigner,
    method: &str,
    url_path_and_query: &str,
    body: &str,
    timestamp: i64,
    nonce: &str,
) -> Result<String, SignError> {
    let message = signing_message(method, url_path_and_query, timestamp, nonce, body);
    let signature = signer.sign_base64(message.as_bytes())?;
    Ok(format!(
        "{SIGNATURE_TYPE} mchid=\"{}\",nonce_str=\"{nonce}\",timestamp=\"{timestamp}\",serial_no=\"{}\",signature=\"{signature}\"",
        signer.mchid(),
        signer.serial_no(),
    ))
}

/// `len` random characters from `[0-9A-Za-z]`, uniformly distributed.
pub(crate) fn random_alphanumeric(len: usize) -> Result<String, SignError> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let mut bytes = [0u8; 64];
        getrandom::fill(&mut bytes).map_err(|_| SignError::Randomness)?;
        // 248 = 4 × 62: rejecting bytes above it keeps the choice uniform.
        for b in bytes.into_iter().filter(|&b| b < 248) {
            if out.len() == len {
                break;
            }
            out.push(char::from(NONCE_ALPHABET[usize::from(b % 62)]));
        }
    }
    Ok(out)
}

/// A fresh 32-character nonce of `[0-9A-Za-z]` from the operating system's randomness.
pub fn new_nonce() -> Result<String, SignError> {
    random_alphanumeric(NONCE_LEN)
}

/// The parameters of a parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader {
    /// The merchant number.
    pub mchid: String,
    /// The request nonce.
    pub nonce_str: String,
    /// The request time, unix seconds.
    pub timestamp: i64,
    /// The merchant API certificate serial.
    pub serial_no: String,
    /// The base64 signature.
    pub signature: String,
}

/// Why an `Authorization` header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// The scheme is not `WECHATPAY2-SHA256-RSA2048`.
    #[error("unsupported authorization scheme")]
    Scheme,
    /// A parameter is not `name="value"`, or is repeated.
    #[error("malformed authorization parameter")]
    Malformed,
    /// A required parameter is missing.
    #[error("authorization parameter {0} missing")]
    Missing(&'static str),
    /// The timestamp is not an integer.
    #[error("authorization timestamp is not a number")]
    BadTimestamp,
}

/// Parses `WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",timestamp="…",serial_no="…",signature="…"`
/// (parameters in any order; unknown parameters are ignored).
pub fn parse_authorization(header: &str) -> Result<AuthorizationHeader, AuthorizationError> {
    let rest = header
        .trim()
        .strip_prefix(SIGNATURE_TYPE)
        .and_then(|rest| rest.strip_prefix(' '))
        .ok_or(AuthorizationError::Scheme)?;
    let mut fields: [Option<&str>; 5] = [None; 5];
    const NAMES: [&str; 5] = ["mchid", "nonce_str", "timestamp", "serial_no", "signature"];
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or(AuthorizationError::Malformed)?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .filter(|v| !v.contains('"'))
            .ok_or(AuthorizationError::Malformed)?;
        if let Some(index) = NAMES.iter().position(|n| *n == name.trim())
            && let Some(slot) = fields.get_mut(index)
            && slot.replace(value).is_some()
        {
            return Err(AuthorizationError::Malformed);
        }
    }
    let [mchid, nonce_str, timestamp, serial_no, signature] = fields;
    let timestamp = timestamp.ok_or(AuthorizationError::Missing("timestamp"))?;
    Ok(AuthorizationHeader {
        mchid: mchid.ok_or(AuthorizationError::Missing("mchid"))?.to_owned(),
        nonce_str: nonce_str.ok_or(AuthorizationError::Missing("nonce_str"))?.to_owned(),
        timestamp: timestamp.parse().map_err(|_| AuthorizationError::BadTimestamp)?,
        serial_no: serial_no.ok_or(AuthorizationError::Missing("serial_no"))?.to_owned(),
        signature: signature.ok_or(AuthorizationError::Missing("signature"))?.to_owned(),
    })
}

/// Checks a merchant's request signature as WeChat Pay would (for tests and a simulator):
/// the key is looked up in `merchant_keys` by `serial_no`, the time must be within 300 s of
/// `now`, and the signature must cover `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n` over the raw
/// body bytes. Returns the parsed header.
pub fn verify_request(
    merchant_keys: &VerifierKeys,
    authorization_header: &str,
    method: &str,
    url_path_and_query: &str,
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<AuthorizationHeader, VerifyError> {
    let auth = parse_authorization(authorization_header).map_err(VerifyError::BadAuthorization)?;
    if !is_header_token(&auth.nonce_str) {
        return Err(VerifyError::BadAuthorization(AuthorizationError::Malformed));
    }
    if now.timestamp().abs_diff(auth.timestamp) >= MAX_CLOCK_SKEW_SECS {
        return Err(VerifyError::TimestampSkew);
    }
    let key = merchant_keys
        .get(&auth.serial_no)
        .ok_or_else(|| VerifyError::UnknownSerial(auth.serial_no.clone()))?;
    let signature = STANDARD.decode(&auth.signature).map_err(|_| VerifyError::BadEncoding)?;
    let mut message = Vec::with_capacity(body.len() + 128);
    for part in [method, url_path_and_query, &auth.timestamp.to_string(), &auth.nonce_str] {
        message.extend_from_slice(part.as_bytes());
        message.push(b'\n');
    }
    message.extend_from_slice(body);
    message.push(b'\n');
    if key.verify(&message, &signature) { Ok(auth) } else { Err(VerifyError::BadSignature) }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::keys::test_keys::*;

    fn signer() -> MerchantSigner {
        MerchantSigner::from_pem("1900000001", "MERCHANT_SERIAL_1", MERCHANT_KEY).expect("key")
    }

    fn merchant_keys() -> VerifierKeys {
        let keys = VerifierKeys::new();
        keys.add_public_key("MERCHANT_SERIAL_1", MERCHANT_PUB).expect("pub");
        keys
    }

    fn at(ts: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(ts, 0).single().expect("valid time")
    }

    #[test]
    fn signing_message_worked_example() {
        assert_eq!(
            signing_message(
                "GET",
                "/v3/certificates",
                1554208460,
                "593BEC0C930BF1AFEB40B4A08C8FB242",
                ""
            ),
            "GET\n/v3/certificates\n1554208460\n593BEC0C930BF1AFEB40B4A08C8FB242\n\n"
        );
        assert_eq!(
            signing_message("POST", "/v3/pay/transactions/jsapi", 1, "n", "{\"a\":1}"),
            "POST\n/v3/pay/transactions/jsapi\n1\nn\n{\"a\":1}\n"
        );
    }

    #[test]
    fn nonce_is_32_alphanumerics_and_fresh() {
        let a = new_nonce().expect("nonce");
        let b = new_nonce().expect("nonce");
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()), "{a}");
        assert_ne!(a, b);
    }

    #[test]
    fn authorization_round_trip() {
        let header =
            authorization(&signer(), "GET", "/v3/certificates", "", 1554208460, "NONCE123")
                .expect("sign");
        assert!(header.starts_with(
            "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000001\",nonce_str=\"NONCE123\",timestamp=\"1554208460\",serial_no=\"MERCHANT_SERIAL_1\",signature=\""
        ), "{header}");
        let parsed = parse_authorization(&header).expect("parse");
        assert_eq!(parsed.mchid, "1900000001");
        assert_eq!(parsed.nonce_str, "NONCE123");
        assert_eq!(parsed.timestamp, 1554208460);
        assert_eq!(parsed.serial_no, "MERCHANT_SERIAL_1");
        let keys = merchant_keys();
        let now = at(1554208460 + 10);
        assert_eq!(verify_request(&keys, &header, "GET", "/v3/certificates", b"", now), Ok(parsed));
        // Another URL, method, body, or a stale time fails.
        assert_eq!(
            verify_request(&keys, &header, "GET", "/v3/certificates?x=1", b"", now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_request(&keys, &header, "POST", "/v3/certificates", b"", now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_request(&keys, &header, "GET", "/v3/certificates", b"x", now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            verify_request(&keys, &header, "GET", "/v3/certificates", b"", at(1554208460 + 300)),
            Err(VerifyError::TimestampSkew)
        );
        assert_eq!(
            verify_request(&VerifierKeys::new(), &header, "GET", "/v3/certificates", b"", now),
            Err(VerifyError::UnknownSerial("MERCHANT_SERIAL_1".to_owned()))
        );
    }

    #[test]
    fn signature_fails_with_another_key() {
        let header = authorization(&signer(), "GET", "/x", "", 100, "N").expect("sign");
        let keys = VerifierKeys::new();
        keys.add_public_key("MERCHANT_SERIAL_1", PLATFORM_PUB_1).expect("pub");
        assert_eq!(
            verify_request(&keys, &header, "GET", "/x", b"", at(100)),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn parse_authorization_refusals() {
        assert_eq!(parse_authorization("Bearer x"), Err(AuthorizationError::Scheme));
        assert_eq!(
            parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=1"),
            Err(AuthorizationError::Malformed)
        );
        assert_eq!(
            parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=\"1\",mchid=\"2\""),
            Err(AuthorizationError::Malformed)
        );
        assert_eq!(
            parse_authorization("WECHATPAY2-SHA256-RSA2048 mchid=\"1\""),
            Err(AuthorizationError::Missing("timestamp"))
        );
        assert_eq!(
            parse_authorization(
                "WECHATPAY2-SHA256-RSA2048 mchid=\"1\",nonce_str=\"n\",timestamp=\"x\",serial_no=\"s\",signature=\"g\""
            ),
            Err(AuthorizationError::BadTimestamp)
        );
        // Parameters in another order, with spaces, and unknown ones are fine.
        let ok = parse_authorization(
            "WECHATPAY2-SHA256-RSA2048 signature=\"g\", serial_no=\"s\",timestamp=\"5\",x=\"y\",nonce_str=\"n\",mchid=\"1\"",
        )
        .expect("parse");
        assert_eq!(ok.timestamp, 5);
        assert_eq!(ok.signature, "g");
    }
}
