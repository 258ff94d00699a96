//! Keys, signatures, the notification cipher, random strings and time formats.
//!
//! Everything here is the server's side of WeChat Pay API v3, written from the protocol notes
//! (never shared with the project's client, so that a symmetric mistake cannot hide).

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, FixedOffset, Offset as _, Utc};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, DecodeRsaPublicKey as _};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _, LineEnding};
use rsa::sha2::{Digest as _, Sha256};
use rsa::signature::{SignatureEncoding as _, Signer as _, Verifier as _};
use rsa::{PrivateKey, PublicKey};

const ALPHANUMERIC: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Loads an RSA private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`, as WeChat's
/// `apiclient_key.pem`) or PKCS#1 (`BEGIN RSA PRIVATE KEY`).
pub(crate) fn load_private_key(pem: &str) -> Result<PrivateKey, String> {
    let pem = pem.trim();
    PrivateKey::from_pkcs8_pem(pem)
        .or_else(|_| PrivateKey::from_pkcs1_pem(pem))
        .map_err(|error| format!("not an RSA private key in PKCS#8 or PKCS#1 PEM: {error}"))
}

/// Loads an RSA public key from PEM: SPKI (`BEGIN PUBLIC KEY`, as WeChat's `pub_key.pem`) or
/// PKCS#1 (`BEGIN RSA PUBLIC KEY`).
pub(crate) fn load_public_key(pem: &str) -> Result<PublicKey, String> {
    let pem = pem.trim();
    PublicKey::from_public_key_pem(pem)
        .or_else(|_| PublicKey::from_pkcs1_pem(pem))
        .map_err(|error| format!("not an RSA public key in SPKI or PKCS#1 PEM: {error}"))
}

/// The SPKI PEM of a private key's public half.
pub(crate) fn public_pem_of(key: &PrivateKey) -> Result<String, String> {
    key.as_ref()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|error| format!("cannot encode the public key: {error}"))
}

/// A platform signing key (WeChat Pay public-key mode: identified by a `PUB_KEY_ID_…`).
#[derive(Debug, Clone)]
pub(crate) struct PlatformKey {
    pub(crate) id: String,
    pub(crate) signing: SigningKey<Sha256>,
    pub(crate) public_pem: String,
}

impl PlatformKey {
    pub(crate) fn from_pem(id: &str, private_pem: &str) -> Result<Self, String> {
        let key = load_private_key(private_pem)?;
        let public_pem = public_pem_of(&key)?;
        Ok(Self { id: id.to_owned(), signing: SigningKey::new(key), public_pem })
    }

    /// SHA256withRSA (PKCS#1 v1.5) over `message`, base64. `None` only if RSA itself fails.
    pub(crate) fn sign(&self, message: &[u8]) -> Option<String> {
        match self.signing.try_sign(message) {
            Ok(signature) => Some(BASE64.encode(signature.to_bytes())),
            Err(error) => {
                tracing::error!(%error, key = %self.id, "signing failed");
                None
            }
        }
    }
}

/// The merchant's public key, to check `Authorization` signatures.
pub(crate) fn verifying_key(key: PublicKey) -> VerifyingKey<Sha256> {
    VerifyingKey::new(key)
}

/// Whether `signature_b64` is a valid SHA256withRSA signature of `message`.
pub(crate) fn verify(key: &VerifyingKey<Sha256>, message: &[u8], signature_b64: &str) -> bool {
    let Ok(bytes) = BASE64.decode(signature_b64.trim()) else {
        return false;
    };
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

/// `TIMESTAMP\nNONCE\nBODY\n`: what a response or notification signature covers.
pub(crate) fn response_message(timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(timestamp.len() + nonce.len() + body.len() + 3);
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(nonce.as_bytes());
    message.push(b'\n');
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// `METHOD\nURL\nTIMESTAMP\nNONCE\nBODY\n`: what a request signature covers.
pub(crate) fn request_message(
    method: &str,
    url: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> Vec<u8> {
    let mut message = Vec::with_capacity(method.len() + url.len() + body.len() + 64);
    for part in [method, url, timestamp, nonce] {
        message.extend_from_slice(part.as_bytes());
        message.push(b'\n');
    }
    message.extend_from_slice(body);
    message.push(b'\n');
    message
}

/// The APIv3 key as the AES-256 key it is (32 ASCII bytes).
#[derive(Clone)]
pub(crate) struct ApiV3Key([u8; 32]);

impl std::fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiV3Key(…)")
    }
}

impl ApiV3Key {
    pub(crate) fn parse(key: &str) -> Result<Self, String> {
        let bytes: [u8; 32] = key
            .as_bytes()
            .try_into()
            .map_err(|_| format!("the APIv3 key must be 32 bytes, not {}", key.len()))?;
        Ok(Self(bytes))
    }

    /// AEAD_AES_256_GCM as WeChat encrypts a notification resource: a fresh 12-character
    /// `[0-9A-Za-z]` nonce (its ASCII bytes are the GCM nonce) and base64(ciphertext ‖ tag).
    /// Returns `(nonce, ciphertext)`.
    pub(crate) fn encrypt(
        &self,
        associated_data: &str,
        plaintext: &[u8],
    ) -> Option<(String, String)> {
        let nonce_text = nonce_str(12);
        let nonce = Nonce::try_from(nonce_text.as_bytes()).ok()?;
        let cipher = Aes256Gcm::new(&self.0.into());
        let sealed = cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad: associated_data.as_bytes() })
            .ok()?;
        Some((nonce_text, BASE64.encode(sealed)))
    }
}

/// Standard base64 with padding.
pub(crate) fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

/// Fills `buf` from the operating system; should that ever fail, from SHA-256 over the time,
/// the process id and a counter (good enough for a simulator's identifiers and nonces).
pub(crate) fn fill_random(buf: &mut [u8]) {
    if getrandom::fill(buf).is_ok() {
        return;
    }
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    for (index, chunk) in buf.chunks_mut(32).enumerate() {
        let mut hasher = Sha256::new();
        hasher.update(nanos.to_le_bytes());
        hasher.update(std::process::id().to_le_bytes());
        hasher.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        hasher.update(index.to_le_bytes());
        let digest = hasher.finalize();
        chunk.copy_from_slice(&digest[..chunk.len()]);
    }
}

/// `len` characters drawn uniformly from `alphabet` (at most 256 symbols).
fn random_from(alphabet: &[u8], len: usize) -> String {
    let n = alphabet.len();
    if n == 0 {
        return String::new();
    }
    // Reject bytes past the largest multiple of n, so that every symbol is equally likely.
    let limit = 256 - 256 % n;
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        fill_random(&mut buf);
        for &byte in &buf {
            if usize::from(byte) < limit && out.len() < len {
                out.push(char::from(alphabet[usize::from(byte) % n]));
            }
        }
    }
    out
}

/// `len` characters of `[0-9A-Za-z]` (nonces).
pub(crate) fn nonce_str(len: usize) -> String {
    random_from(ALPHANUMERIC, len)
}

/// `len` decimal digits.
pub(crate) fn random_digits(len: usize) -> String {
    random_from(b"0123456789", len)
}

/// `len` lowercase hexadecimal digits.
pub(crate) fn random_hex(len: usize) -> String {
    random_from(b"0123456789abcdef", len)
}

/// A random UUID (version 4) in its usual text form: WeChat's notification ids look like this.
pub(crate) fn random_uuid() -> String {
    let mut bytes = [0u8; 16];
    fill_random(&mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// Beijing time (UTC+8), the zone of every time WeChat Pay shows.
pub(crate) fn beijing() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// RFC 3339 in Beijing time with seconds, as WeChat writes times: `2024-05-20T13:29:35+08:00`.
pub(crate) fn rfc3339(time: DateTime<Utc>) -> String {
    time.with_timezone(&beijing()).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decrypts_the_documented_test_vector_shape() {
        // The spec's vector: key a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb, nonce uluk4a9R25RW, AAD
        // associatedData, "message" → ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=. Encrypt with that nonce.
        let key = ApiV3Key::parse("a7cde1ZJB1kG2e7VfTs3jQzaWizur8Gb").expect("32 bytes");
        let nonce = Nonce::try_from(b"uluk4a9R25RW".as_slice()).expect("12 bytes");
        let cipher = Aes256Gcm::new(&key.0.into());
        let sealed = cipher
            .encrypt(&nonce, Payload { msg: b"message", aad: b"associatedData" })
            .expect("encrypts");
        assert_eq!(base64(&sealed), "ulwSiIajGClcvcOYvOQ7+l+0PAbzzwI=");
    }

    #[test]
    fn random_strings_have_the_right_alphabet() {
        let nonce = nonce_str(32);
        assert_eq!(nonce.len(), 32);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(random_digits(20).bytes().all(|b| b.is_ascii_digit()));
        let uuid = random_uuid();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
    }

    #[test]
    fn bad_keys_are_errors_not_panics() {
        assert!(load_private_key("").is_err());
        assert!(
            load_public_key("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----").is_err()
        );
        assert!(ApiV3Key::parse("short").is_err());
    }
}
