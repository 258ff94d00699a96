//! Personal data at rest: ID numbers encrypted with AES-256-GCM, found by a keyed blind index.
//!
//! The ciphertext is bound to its participant and document kind through the associated data,
//! so a ciphertext copied onto another row does not decrypt. The blind index is
//! HMAC-SHA256 over `kind:number` with a second key, so equal numbers find each other (for
//! uniqueness and exact look-up) without the number being stored in the clear.

use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use baoming_domain::ids::{ParticipantId, TypedId};
use baoming_domain::{IdKind, IdNumber};
use chrono::NaiveDate;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::StoreError;

/// Format version of the stored ciphertext (first byte).
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

/// The two 32-byte keys, from configuration.
#[derive(Clone)]
pub struct PiiKeys {
    encryption: [u8; 32],
    blind_index: [u8; 32],
}

impl fmt::Debug for PiiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PiiKeys(…)")
    }
}

impl PiiKeys {
    /// Builds the keys; they must differ (one key for two purposes weakens both).
    pub fn new(encryption: [u8; 32], blind_index: [u8; 32]) -> Result<Self, StoreError> {
        if encryption == blind_index {
            return Err(StoreError::Config(
                "the ID encryption key and the blind-index key must differ".into(),
            ));
        }
        Ok(Self { encryption, blind_index })
    }

    /// Parses both keys from hex (64 hex digits each), naming the bad one.
    pub fn from_hex(encryption: &str, blind_index: &str) -> Result<Self, StoreError> {
        let parse = |name: &str, text: &str| -> Result<[u8; 32], StoreError> {
            let bytes = hex::decode(text.trim())
                .map_err(|_| StoreError::Config(format!("{name}: not hex")))?;
            bytes.try_into().map_err(|_| {
                StoreError::Config(format!("{name}: must be 32 bytes (64 hex digits)"))
            })
        };
        Self::new(parse("id_encryption_key", encryption)?, parse("blind_index_key", blind_index)?)
    }
}

/// An ID number ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedId {
    /// `version ‖ nonce ‖ ciphertext ‖ tag`.
    pub ciphertext: Vec<u8>,
    /// Hex HMAC-SHA256 of `kind:number`.
    pub blind_index: String,
}

/// Encrypts, decrypts and indexes ID numbers.
#[derive(Clone)]
pub struct PiiCipher {
    aead: Aes256Gcm,
    keys: PiiKeys,
}

impl fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PiiCipher(…)")
    }
}

impl PiiCipher {
    /// A cipher over the given keys.
    pub fn new(keys: PiiKeys) -> Self {
        let aead = Aes256Gcm::new(&keys.encryption.into());
        Self { aead, keys }
    }

    /// The blind index of a number (for look-up by exact number).
    pub fn blind_index(&self, number: &IdNumber) -> String {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.keys.blind_index)
            .expect("HMAC takes a key of any length");
        mac.update(number.kind().as_str().as_bytes());
        mac.update(b":");
        mac.update(number.expose().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Encrypts a number for a participant's row.
    pub fn seal(&self, owner: ParticipantId, number: &IdNumber) -> Result<SealedId, StoreError> {
        let mut nonce = Nonce::default();
        getrandom::fill(&mut nonce).map_err(|_| StoreError::Cipher("no randomness"))?;
        let aad = associated_data(owner, number.kind());
        let sealed = self
            .aead
            .encrypt(&nonce, Payload { msg: number.expose().as_bytes(), aad: &aad })
            .map_err(|_| StoreError::Cipher("encryption failed"))?;
        let mut ciphertext = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        ciphertext.push(VERSION);
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&sealed);
        Ok(SealedId { ciphertext, blind_index: self.blind_index(number) })
    }

    /// Decrypts a stored number of a participant.
    pub fn open(
        &self,
        owner: ParticipantId,
        kind: IdKind,
        stored: &[u8],
    ) -> Result<IdNumber, StoreError> {
        let (version, rest) = stored.split_first().ok_or(StoreError::Cipher("empty ciphertext"))?;
        if *version != VERSION || rest.len() < NONCE_LEN {
            return Err(StoreError::Cipher("unknown ciphertext format"));
        }
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| StoreError::Cipher("bad nonce"))?;
        let aad = associated_data(owner, kind);
        let plain = self
            .aead
            .decrypt(&nonce, Payload { msg: sealed, aad: &aad })
            .map_err(|_| StoreError::Cipher("decryption failed (wrong key or tampered row)"))?;
        let text = String::from_utf8(plain).map_err(|_| StoreError::Cipher("not UTF-8"))?;
        // The number was fully validated when it was entered; re-parsing checks its integrity.
        // Its birth date was not in the future then, so "today" does not matter here.
        IdNumber::parse(kind, &text, NaiveDate::MAX).map_err(StoreError::corrupt)
    }
}

fn associated_data(owner: ParticipantId, kind: IdKind) -> Vec<u8> {
    format!("baoming:id_number:v1:{}:{}", owner.as_uuid().hyphenated(), kind.as_str()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cipher() -> PiiCipher {
        PiiCipher::new(PiiKeys::new([7; 32], [9; 32]).expect("distinct keys"))
    }

    fn owner(n: u8) -> ParticipantId {
        ParticipantId::parse(&format!("01932c07-2c7e-7d3a-9b1f-6f1e2a3b4c{n:02x}")).expect("v7")
    }

    fn number() -> IdNumber {
        let today = NaiveDate::from_ymd_opt(2026, 11, 28).expect("date");
        IdNumber::parse(IdKind::ResidentId, "11010519491231002X", today).expect("valid")
    }

    #[test]
    fn round_trip_and_no_plaintext() {
        let c = cipher();
        let sealed = c.seal(owner(1), &number()).expect("sealed");
        let needle = b"11010519491231002X";
        assert!(!sealed.ciphertext.windows(needle.len()).any(|w| w == needle));
        let opened = c.open(owner(1), IdKind::ResidentId, &sealed.ciphertext).expect("opened");
        assert_eq!(opened.expose(), "11010519491231002X");
        // Fresh nonce each time, same blind index.
        let again = c.seal(owner(1), &number()).expect("sealed");
        assert_ne!(again.ciphertext, sealed.ciphertext);
        assert_eq!(again.blind_index, sealed.blind_index);
    }

    #[test]
    fn bound_to_owner_kind_and_key() {
        let c = cipher();
        let sealed = c.seal(owner(1), &number()).expect("sealed");
        assert!(c.open(owner(2), IdKind::ResidentId, &sealed.ciphertext).is_err());
        assert!(c.open(owner(1), IdKind::Passport, &sealed.ciphertext).is_err());
        let other = PiiCipher::new(PiiKeys::new([8; 32], [9; 32]).expect("keys"));
        assert!(other.open(owner(1), IdKind::ResidentId, &sealed.ciphertext).is_err());
        let mut flipped = sealed.ciphertext.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(c.open(owner(1), IdKind::ResidentId, &flipped).is_err());
        assert!(c.open(owner(1), IdKind::ResidentId, &[]).is_err());
        assert!(c.open(owner(1), IdKind::ResidentId, &[1, 2, 3]).is_err());
    }

    #[test]
    fn keys_are_checked() {
        assert!(PiiKeys::new([1; 32], [1; 32]).is_err());
        assert!(PiiKeys::from_hex("zz", &"00".repeat(32)).is_err());
        assert!(PiiKeys::from_hex(&"01".repeat(31), &"00".repeat(32)).is_err());
        assert!(PiiKeys::from_hex(&"01".repeat(32), &"00".repeat(32)).is_ok());
    }
}
