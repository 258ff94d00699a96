//! Key material: the merchant's signing key and the set of WeChat Pay public keys.
//!
//! * [`RsaSigningKey`]: an RSA private key for SHA256withRSA (PKCS#1 v1.5), loaded from PEM
//!   (PKCS#1 `BEGIN RSA PRIVATE KEY` or PKCS#8 `BEGIN PRIVATE KEY`). Its `Debug` never shows
//!   the key.
//! * [`MerchantSigner`]: the merchant number, the merchant API certificate serial and the
//!   merchant private key; everything needed to sign requests.
//! * [`VerifierKeys`]: the WeChat Pay public keys that may sign responses and notifications,
//!   keyed by the `Wechatpay-Serial` they come with: a public-key id
//!   (`PUB_KEY_ID_…`, WeChat Pay public-key mode) or a platform certificate serial
//!   (platform-certificate mode). Both modes can be mixed, and several keys may be valid at
//!   once during a rotation.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use x509_cert::Certificate;
use x509_cert::der::{DecodePem, Encode};

/// The smallest RSA modulus accepted, in bits. WeChat Pay's scheme is
/// `WECHATPAY2-SHA256-RSA2048`.
pub const MIN_RSA_BITS: usize = 2048;

/// Why a key or certificate could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not PEM (no `-----BEGIN …-----` line).
    #[error("not a PEM document")]
    NotPem,
    /// The PEM is of a kind this crate does not load here (the label is given).
    #[error("unsupported PEM type {0:?} (expected {1})")]
    UnsupportedPem(String, &'static str),
    /// The private key is password-protected (`BEGIN ENCRYPTED PRIVATE KEY`); decrypt it first.
    #[error("encrypted private keys are not supported; store the key unencrypted")]
    EncryptedKey,
    /// The PEM body is not a valid RSA key of the announced kind.
    #[error("invalid RSA key: {0}")]
    InvalidKey(String),
    /// The RSA key is smaller than [`MIN_RSA_BITS`].
    #[error("RSA key too small: {bits} bits (at least 2048 required)")]
    KeyTooSmall {
        /// The modulus size in bits.
        bits: usize,
    },
    /// The certificate could not be parsed.
    #[error("invalid certificate: {0}")]
    InvalidCertificate(String),
    /// A key id or serial is empty or contains characters that cannot appear in a header.
    #[error("invalid key id {0:?}")]
    InvalidId(String),
    /// A merchant number or serial given to [`MerchantSigner::from_pem`] is empty or unusable
    /// in the `Authorization` header.
    #[error("invalid merchant field {0}")]
    InvalidMerchantField(&'static str),
}

/// Signing failed (practically only on a broken key or no randomness).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The RSA signature could not be computed.
    #[error("RSA signing failed")]
    Rsa,
    /// The operating system gave no random bytes (nonce generation).
    #[error("no randomness available")]
    Randomness,
}

/// The PEM label on the first `-----BEGIN …-----` line, if any.
fn pem_label(pem: &str) -> Option<&str> {
    let start = pem.find("-----BEGIN ")? + "-----BEGIN ".len();
    let rest = &pem[start..];
    let end = rest.find("-----")?;
    Some(&rest[..end])
}

fn check_size(bits: usize) -> Result<(), KeyError> {
    if bits < MIN_RSA_BITS { Err(KeyError::KeyTooSmall { bits }) } else { Ok(()) }
}

/// An RSA private key that makes SHA256withRSA (PKCS#1 v1.5) signatures, base64-encoded as
/// WeChat Pay writes them. `Debug` shows only the key size.
#[derive(Clone)]
pub struct RsaSigningKey {
    key: SigningKey<Sha256>,
    bits: usize,
}

impl RsaSigningKey {
    /// Loads a private key from PEM text: PKCS#1 (`-----BEGIN RSA PRIVATE KEY-----`) or
    /// PKCS#8 (`-----BEGIN PRIVATE KEY-----`, the format of WeChat's `apiclient_key.pem`).
    /// Encrypted keys, other PEM types and keys under 2048 bits are refused.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        let key = match pem_label(pem) {
            None => return Err(KeyError::NotPem),
            Some("RSA PRIVATE KEY") => PrivateKey::from_pkcs1_pem(pem)
                .map_err(|error| KeyError::InvalidKey(error.to_string()))?,
            Some("PRIVATE KEY") => PrivateKey::from_pkcs8_pem(pem)
                .map_err(|error| KeyError::InvalidKey(error.to_string()))?,
            Some("ENCRYPTED PRIVATE KEY") => return Err(KeyError::EncryptedKey),
            Some(other) => {
                return Err(KeyError::UnsupportedPem(
                    other.to_owned(),
                    "RSA PRIVATE KEY or PRIVATE KEY",
                ));
            }
        };
        let bits = key.size() * 8;
        check_size(bits)?;
        Ok(Self { key: SigningKey::new(key), bits })
    }

    /// Signs `message` with SHA256withRSA and returns the signature in standard base64.
    pub fn sign_base64(&self, message: &[u8]) -> Result<String, SignError> {
        let signature: Signature = self.key.try_sign(message).map_err(|_| SignError::Rsa)?;
        Ok(STANDARD.encode(signature.to_bytes()))
    }

    /// The matching public key (e.g. to register it in a [`VerifierKeys`] of a simulator).
    pub fn public_key(&self) -> RsaPublicKey {
        let public: PublicKey = self.key.as_ref().to_public_key();
        RsaPublicKey { key: VerifyingKey::new(public), bits: self.bits }
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }
}

impl fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaSigningKey").field("bits", &self.bits).finish_non_exhaustive()
    }
}

/// An RSA public key that checks SHA256withRSA (PKCS#1 v1.5) signatures.
#[derive(Clone)]
pub struct RsaPublicKey {
    key: VerifyingKey<Sha256>,
    bits: usize,
}

impl RsaPublicKey {
    /// Loads a public key from SPKI PEM (`-----BEGIN PUBLIC KEY-----`), the format of the
    /// WeChat Pay public key (`pub_key.pem`). Keys under 2048 bits are refused.
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        match pem_label(pem) {
            None => return Err(KeyError::NotPem),
            Some("PUBLIC KEY") => {}
            Some(other) => return Err(KeyError::UnsupportedPem(other.to_owned(), "PUBLIC KEY")),
        }
        let key = PublicKey::from_public_key_pem(pem)
            .map_err(|error| KeyError::InvalidKey(error.to_string()))?;
        Self::from_key(key)
    }

    /// Takes the RSA public key out of an X.509 certificate in PEM
    /// (`-----BEGIN CERTIFICATE-----`) and returns it with the certificate serial in uppercase
    /// hex (leading zero bytes dropped), as WeChat writes it in `Wechatpay-Serial`.
    ///
    /// The certificate's own signature and validity period are not checked here.
    pub fn from_certificate_pem(pem: &str) -> Result<(String, Self), KeyError> {
        match pem_label(pem) {
            None => return Err(KeyError::NotPem),
            Some("CERTIFICATE") => {}
            Some(other) => return Err(KeyError::UnsupportedPem(other.to_owned(), "CERTIFICATE")),
        }
        let cert = Certificate::from_pem(pem.as_bytes())
            .map_err(|error| KeyError::InvalidCertificate(error.to_string()))?;
        let tbs = cert.tbs_certificate();
        let serial = serial_hex(tbs.serial_number().as_bytes());
        let spki_der = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|error| KeyError::InvalidCertificate(error.to_string()))?;
        let key = PublicKey::from_public_key_der(&spki_der)
            .map_err(|error| KeyError::InvalidKey(error.to_string()))?;
        Ok((serial, Self::from_key(key)?))
    }

    fn from_key(key: PublicKey) -> Result<Self, KeyError> {
        let bits = key.size() * 8;
        check_size(bits)?;
        Ok(Self { key: VerifyingKey::new(key), bits })
    }

    /// Whether `signature` (raw bytes) is a valid SHA256withRSA signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        // A signature must be exactly as long as the modulus.
        if signature.len() * 8 != self.bits {
            return false;
        }
        match Signature::try_from(signature) {
            Ok(signature) => self.key.verify(message, &signature).is_ok(),
            Err(_) => false,
        }
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        self.bits
    }

    /// The key's fingerprint: SHA-256 over its SubjectPublicKeyInfo DER, lowercase hex. The
    /// same key always has the same fingerprint, whichever PEM form (SPKI, certificate,
    /// PKCS#1 or PKCS#8 private key) it was loaded from, so a key can be recognised without
    /// keeping the key itself (e.g. to refuse a published development key in production).
    pub fn fingerprint(&self) -> String {
        use rsa::pkcs8::EncodePublicKey;
        use rsa::sha2::Digest;
        match self.key.as_ref().to_public_key_der() {
            Ok(der) => hex::encode(Sha256::digest(der.as_bytes())),
            // Encoding an RSA public key cannot fail; an empty fingerprint matches nothing.
            Err(_) => String::new(),
        }
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey").field("bits", &self.bits).finish_non_exhaustive()
    }
}

/// A certificate serial as uppercase hex without leading zero bytes (at least one byte).
fn serial_hex(bytes: &[u8]) -> String {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len().saturating_sub(1));
    hex::encode_upper(bytes.get(first..).unwrap_or(bytes))
}

/// Whether `value` may appear inside a double-quoted `Authorization` parameter or a
/// `Wechatpay-Serial` header: printable ASCII without quotes, commas or backslashes.
pub(crate) fn is_header_token(value: &str) -> bool {
    !value.is_empty()
        && value.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b'\\'))
}

/// Everything needed to sign WeChat Pay requests as one merchant: the merchant number
/// (`mchid`), the serial of the merchant API certificate, and its private key.
///
/// `Debug` shows the merchant number and serial, never the key.
#[derive(Debug, Clone)]
pub struct MerchantSigner {
    mchid: String,
    serial_no: String,
    key: RsaSigningKey,
}

impl MerchantSigner {
    /// Builds a signer from the merchant number, the merchant API certificate serial and the
    /// private key PEM (PKCS#1 or PKCS#8, see [`RsaSigningKey::from_pem`]).
    pub fn from_pem(
        mchid: impl Into<String>,
        serial_no: impl Into<String>,
        private_key_pem: &str,
    ) -> Result<Self, KeyError> {
        let key = RsaSigningKey::from_pem(private_key_pem)?;
        Self::new(mchid, serial_no, key)
    }

    /// Builds a signer from an already loaded key.
    pub fn new(
        mchid: impl Into<String>,
        serial_no: impl Into<String>,
        key: RsaSigningKey,
    ) -> Result<Self, KeyError> {
        let (mchid, serial_no) = (mchid.into(), serial_no.into());
        if !is_header_token(&mchid) {
            return Err(KeyError::InvalidMerchantField("mchid"));
        }
        if !is_header_token(&serial_no) {
            return Err(KeyError::InvalidMerchantField("serial_no"));
        }
        Ok(Self { mchid, serial_no, key })
    }

    /// The merchant number.
    pub fn mchid(&self) -> &str {
        &self.mchid
    }

    /// The merchant API certificate serial (`serial_no` in the `Authorization` header).
    pub fn serial_no(&self) -> &str {
        &self.serial_no
    }

    /// The private key.
    pub fn key(&self) -> &RsaSigningKey {
        &self.key
    }

    /// SHA256withRSA over `message`, base64.
    pub fn sign_base64(&self, message: &[u8]) -> Result<String, SignError> {
        self.key.sign_base64(message)
    }
}

/// The WeChat Pay public keys trusted for responses and notifications, by serial / key id.
///
/// This is a shared handle: clones see the same set, so a key added or removed through one
/// clone (e.g. by a rotation job) is seen by every client holding another clone.
/// A lookup of an unknown serial finds nothing, and verification then fails.
#[derive(Clone, Default)]
pub struct VerifierKeys {
    keys: Arc<RwLock<BTreeMap<String, RsaPublicKey>>>,
}

impl VerifierKeys {
    /// An empty set (nothing verifies until keys are added).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) a WeChat Pay public key (SPKI PEM) under its id, e.g.
    /// `PUB_KEY_ID_0000000000000024101100397200000006` (public-key mode).
    pub fn add_public_key(&self, id: &str, pem: &str) -> Result<(), KeyError> {
        let key = RsaPublicKey::from_pem(pem)?;
        self.insert(id, key)
    }

    /// Adds (or replaces) the key of a platform certificate (PEM), under the certificate
    /// serial in uppercase hex (platform-certificate mode). Returns that serial.
    ///
    /// The certificate's validity period is not checked: remove expired certificates with
    /// [`VerifierKeys::remove`].
    pub fn add_platform_certificate(&self, pem: &str) -> Result<String, KeyError> {
        let (serial, key) = RsaPublicKey::from_certificate_pem(pem)?;
        self.insert(&serial, key)?;
        Ok(serial)
    }

    /// Adds (or replaces) an already loaded key under `id`.
    pub fn insert(&self, id: &str, key: RsaPublicKey) -> Result<(), KeyError> {
        if !is_header_token(id) {
            return Err(KeyError::InvalidId(id.chars().take(80).collect()));
        }
        self.keys.write().unwrap_or_else(PoisonError::into_inner).insert(id.to_owned(), key);
        Ok(())
    }

    /// Removes the key under `id`; returns whether there was one.
    pub fn remove(&self, id: &str) -> bool {
        self.keys.write().unwrap_or_else(PoisonError::into_inner).remove(id).is_some()
    }

    /// The key for a `Wechatpay-Serial` value. Ids match exactly; certificate serials (hex)
    /// also match case-insensitively.
    pub fn get(&self, serial: &str) -> Option<RsaPublicKey> {
        let keys = self.keys.read().unwrap_or_else(PoisonError::into_inner);
        keys.get(serial).or_else(|| keys.get(&serial.to_ascii_uppercase())).cloned()
    }

    /// The ids of all keys, sorted.
    pub fn ids(&self) -> Vec<String> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).keys().cloned().collect()
    }

    /// Whether no key is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).is_empty()
    }
}

impl fmt::Debug for VerifierKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifierKeys").field("ids", &self.ids()).finish()
    }
}

#[cfg(test)]
pub(crate) mod test_keys {
    //! The test-only fixture keys of `testdata/`.

    pub const MERCHANT_KEY: &str = include_str!("../testdata/merchant-test-key.pem");
    pub const MERCHANT_PUB: &str = include_str!("../testdata/merchant-test-pub.pem");
    pub const PLATFORM_KEY_1: &str = include_str!("../testdata/platform-test-key-1.pem");
    pub const PLATFORM_PUB_1: &str = include_str!("../testdata/platform-test-pub-1.pem");
    pub const PLATFORM_KEY_2: &str = include_str!("../testdata/platform-test-key-2.pem");
    pub const PLATFORM_PUB_2: &str = include_str!("../testdata/platform-test-pub-2.pem");
    pub const PLATFORM_CERT_2: &str = include_str!("../testdata/platform-test-cert-2.pem");
    pub const CERT_2_SERIAL: &str = "D157F09EFDC096DE15EBE81A47057A7232F1B8E1";
    pub const PUB_KEY_ID_1: &str = "PUB_KEY_ID_0000000000000024101100397200000006";
}

#[cfg(test)]
mod tests {
    use super::test_keys::*;
    use super::*;

    #[test]
    fn loads_pkcs8_and_pkcs1_private_keys() {
        let pkcs8 = RsaSigningKey::from_pem(MERCHANT_KEY).expect("pkcs8");
        assert_eq!(pkcs8.bits(), 2048);
        let pkcs1 = RsaSigningKey::from_pem(PLATFORM_KEY_1).expect("pkcs1");
        assert_eq!(pkcs1.bits(), 2048);
    }

    #[test]
    fn private_key_errors_are_clear() {
        assert_eq!(RsaSigningKey::from_pem("hello").unwrap_err(), KeyError::NotPem);
        assert!(matches!(
            RsaSigningKey::from_pem(MERCHANT_PUB).unwrap_err(),
            KeyError::UnsupportedPem(label, _) if label == "PUBLIC KEY"
        ));
        assert_eq!(
            RsaSigningKey::from_pem("-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n").unwrap_err(),
            KeyError::EncryptedKey
        );
        let garbage = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert!(matches!(RsaSigningKey::from_pem(garbage), Err(KeyError::InvalidKey(_))));
        // A PKCS#1 body under a PKCS#8 label is refused, not misread.
        let mislabelled = PLATFORM_KEY_1.replace("RSA PRIVATE KEY", "PRIVATE KEY");
        assert!(matches!(RsaSigningKey::from_pem(&mislabelled), Err(KeyError::InvalidKey(_))));
    }

    #[test]
    fn debug_never_shows_the_key() {
        let signer = MerchantSigner::from_pem("1900000001", "SERIAL1", MERCHANT_KEY).expect("key");
        let debug = format!("{signer:?}");
        assert!(debug.contains("1900000001") && debug.contains("SERIAL1"), "{debug}");
        assert!(!debug.contains("MII") && debug.len() < 200, "{debug}");
    }

    #[test]
    fn merchant_fields_are_checked() {
        let key = RsaSigningKey::from_pem(MERCHANT_KEY).expect("key");
        assert_eq!(
            MerchantSigner::new("", "S", key.clone()).unwrap_err(),
            KeyError::InvalidMerchantField("mchid")
        );
        assert_eq!(
            MerchantSigner::new("1900000001", "a\"b", key).unwrap_err(),
            KeyError::InvalidMerchantField("serial_no")
        );
    }

    #[test]
    fn signature_verifies_with_the_matching_public_key_only() {
        let key = RsaSigningKey::from_pem(MERCHANT_KEY).expect("key");
        let signature = key.sign_base64(b"hello").expect("sign");
        let bytes = STANDARD.decode(signature).expect("base64");
        let good = RsaPublicKey::from_pem(MERCHANT_PUB).expect("pub");
        let other = RsaPublicKey::from_pem(PLATFORM_PUB_1).expect("pub");
        assert!(good.verify(b"hello", &bytes));
        assert!(key.public_key().verify(b"hello", &bytes));
        assert!(!good.verify(b"hellO", &bytes));
        assert!(!other.verify(b"hello", &bytes));
        assert!(!good.verify(b"hello", &bytes[1..]));
        assert!(!good.verify(b"hello", &[]));
    }

    #[test]
    fn certificate_serial_and_key() {
        let (serial, key) = RsaPublicKey::from_certificate_pem(PLATFORM_CERT_2).expect("cert");
        assert_eq!(serial, CERT_2_SERIAL);
        let signer = RsaSigningKey::from_pem(PLATFORM_KEY_2).expect("key");
        let signature = signer.sign_base64(b"m").expect("sign");
        assert!(key.verify(b"m", &STANDARD.decode(signature).expect("base64")));
        assert!(matches!(
            RsaPublicKey::from_certificate_pem(PLATFORM_PUB_2),
            Err(KeyError::UnsupportedPem(..))
        ));
        let broken = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            RsaPublicKey::from_certificate_pem(broken),
            Err(KeyError::InvalidCertificate(_))
        ));
    }

    #[test]
    fn serial_hex_drops_leading_zero_bytes() {
        assert_eq!(serial_hex(&[0x00, 0xd1, 0x0a]), "D10A");
        assert_eq!(serial_hex(&[0x0a]), "0A");
        assert_eq!(serial_hex(&[0x00]), "00");
        assert_eq!(serial_hex(&[]), "");
    }

    #[test]
    fn verifier_keys_are_shared_and_keyed_by_serial() {
        let keys = VerifierKeys::new();
        assert!(keys.is_empty());
        keys.add_public_key(PUB_KEY_ID_1, PLATFORM_PUB_1).expect("pub key");
        let clone = keys.clone();
        let serial = clone.add_platform_certificate(PLATFORM_CERT_2).expect("cert");
        assert_eq!(serial, CERT_2_SERIAL);
        assert_eq!(keys.ids(), vec![CERT_2_SERIAL.to_owned(), PUB_KEY_ID_1.to_owned()]);
        assert!(keys.get(PUB_KEY_ID_1).is_some());
        assert!(keys.get(&CERT_2_SERIAL.to_ascii_lowercase()).is_some());
        assert!(keys.get("PUB_KEY_ID_unknown").is_none());
        assert!(keys.remove(PUB_KEY_ID_1));
        assert!(clone.get(PUB_KEY_ID_1).is_none());
        assert_eq!(
            keys.add_public_key("", PLATFORM_PUB_1),
            Err(KeyError::InvalidId(String::new()))
        );
        assert!(format!("{keys:?}").contains(CERT_2_SERIAL));
    }
}
