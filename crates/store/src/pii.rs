//! Personal data at rest: ID numbers encrypted with AES-256-GCM, found by a keyed blind index.
//!
//! The ciphertext is bound to its participant and document kind through the associated data,
//! so a ciphertext copied onto another row does not decrypt. The blind index is
//! HMAC-SHA256 over `kind:number` with a second key, so equal numbers find each other (for
//! uniqueness and exact look-up) without the number being stored in the clear.
//!
//! # Key rotation
//!
//! The encryption key rotates; the blind-index key does not (a new one would change every
//! stored index, and look-ups and the uniqueness check would stop finding the old rows until
//! every index was recomputed from the decrypted numbers: a re-indexing this module does not
//! do). Several encryption keys are configured, each with a key id (1–255); the *current* one
//! seals, every one opens. Stored ciphertexts are, by their first byte:
//!
//! - version 1: `1 ‖ nonce ‖ ciphertext ‖ tag`, written before keys had ids: opened with key
//!   id [`LEGACY_KEY_ID`] (the single `id_encryption_key` of older configurations);
//! - version 2: `2 ‖ key id ‖ nonce ‖ ciphertext ‖ tag`.
//!
//! [`rekey`] re-encrypts every stored number that is not sealed with the current key, in
//! batches, so an old key can then be removed from the configuration.

use std::collections::BTreeMap;
use std::fmt;

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use baoming_domain::ids::{ParticipantId, TypedId};
use baoming_domain::{IdKind, IdNumber};
use chrono::NaiveDate;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::schema::participants;
use crate::sql;

/// Format version of ciphertexts without a key id (sealed with [`LEGACY_KEY_ID`]).
const VERSION_1: u8 = 1;
/// Format version of ciphertexts that name their key: `2 ‖ key id ‖ nonce ‖ ct ‖ tag`.
const VERSION_2: u8 = 2;
const NONCE_LEN: usize = 12;

/// The key id that opens version-1 ciphertexts (those stored before keys had ids), and the id
/// of the single key of a configuration that lists no ids.
pub const LEGACY_KEY_ID: u8 = 1;

/// The ID-number encryption keys (by key id, one of them current) and the blind-index key,
/// from configuration.
#[derive(Clone)]
pub struct PiiKeys {
    encryption: BTreeMap<u8, [u8; 32]>,
    current: u8,
    blind_index: [u8; 32],
}

impl fmt::Debug for PiiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PiiKeys(ids {:?}, current {}, …)", self.key_ids(), self.current)
    }
}

impl PiiKeys {
    /// One encryption key (key id [`LEGACY_KEY_ID`]) and the blind-index key; they must
    /// differ (one key for two purposes weakens both).
    pub fn new(encryption: [u8; 32], blind_index: [u8; 32]) -> Result<Self, StoreError> {
        Self::rotating(vec![(LEGACY_KEY_ID, encryption)], LEGACY_KEY_ID, blind_index)
    }

    /// Several encryption keys by key id (1–255, each id and each key once), `current` being
    /// the one that seals, and the blind-index key (different from every encryption key).
    pub fn rotating(
        encryption: Vec<(u8, [u8; 32])>,
        current: u8,
        blind_index: [u8; 32],
    ) -> Result<Self, StoreError> {
        let bad = |text: String| Err(StoreError::Config(text));
        let mut keys = BTreeMap::new();
        for (id, key) in encryption {
            if id == 0 {
                return bad("ID encryption key ids are 1–255, not 0".into());
            }
            if key == blind_index {
                return bad(format!("ID encryption key {id} and the blind-index key must differ"));
            }
            if let Some(other) = keys.iter().find_map(|(other, k)| (*k == key).then_some(*other)) {
                return bad(format!("ID encryption keys {other} and {id} are the same key"));
            }
            if keys.insert(id, key).is_some() {
                return bad(format!("ID encryption key id {id} is given twice"));
            }
        }
        if keys.is_empty() {
            return bad("no ID encryption key".into());
        }
        if !keys.contains_key(&current) {
            return bad(format!("the current ID encryption key {current} is not configured"));
        }
        Ok(Self { encryption: keys, current, blind_index })
    }

    /// Parses both keys from hex (64 hex digits each), naming the bad one; the encryption key
    /// gets key id [`LEGACY_KEY_ID`].
    pub fn from_hex(encryption: &str, blind_index: &str) -> Result<Self, StoreError> {
        Self::new(
            key_from_hex("id_encryption_key", encryption)?,
            key_from_hex("blind_index_key", blind_index)?,
        )
    }

    /// The key id that seals new ciphertexts.
    pub fn current_key_id(&self) -> u8 {
        self.current
    }

    /// Every configured encryption key id, ascending.
    pub fn key_ids(&self) -> Vec<u8> {
        self.encryption.keys().copied().collect()
    }
}

/// Parses a 32-byte key from 64 hex digits (surrounding white space ignored); `name` names it
/// in the error.
pub fn key_from_hex(name: &str, text: &str) -> Result<[u8; 32], StoreError> {
    let bytes =
        hex::decode(text.trim()).map_err(|_| StoreError::Config(format!("{name}: not hex")))?;
    bytes
        .try_into()
        .map_err(|_| StoreError::Config(format!("{name}: must be 32 bytes (64 hex digits)")))
}

/// An ID number ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedId {
    /// `2 ‖ key id ‖ nonce ‖ ciphertext ‖ tag`.
    pub ciphertext: Vec<u8>,
    /// Hex HMAC-SHA256 of `kind:number`.
    pub blind_index: String,
}

/// Encrypts, decrypts and indexes ID numbers.
#[derive(Clone)]
pub struct PiiCipher {
    aeads: BTreeMap<u8, Aes256Gcm>,
    current: u8,
    blind_index: [u8; 32],
}

impl fmt::Debug for PiiCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PiiCipher(…)")
    }
}

impl PiiCipher {
    /// A cipher over the given keys.
    pub fn new(keys: PiiKeys) -> Self {
        let aeads =
            keys.encryption.iter().map(|(id, key)| (*id, Aes256Gcm::new(&(*key).into()))).collect();
        Self { aeads, current: keys.current, blind_index: keys.blind_index }
    }

    /// The key id that seals new ciphertexts.
    pub fn current_key_id(&self) -> u8 {
        self.current
    }

    /// The blind index of a number (for look-up by exact number).
    pub fn blind_index(&self, number: &IdNumber) -> String {
        let mut mac = <Hmac<Sha256>>::new_from_slice(&self.blind_index)
            .expect("HMAC takes a key of any length");
        mac.update(number.kind().as_str().as_bytes());
        mac.update(b":");
        mac.update(number.expose().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Encrypts a number for a participant's row, with the current key.
    pub fn seal(&self, owner: ParticipantId, number: &IdNumber) -> Result<SealedId, StoreError> {
        Ok(SealedId {
            ciphertext: self.seal_bytes(owner, number)?,
            blind_index: self.blind_index(number),
        })
    }

    fn seal_bytes(&self, owner: ParticipantId, number: &IdNumber) -> Result<Vec<u8>, StoreError> {
        let aead = self.aeads.get(&self.current).ok_or(StoreError::Cipher("no current key"))?;
        let mut nonce = Nonce::default();
        getrandom::fill(&mut nonce).map_err(|_| StoreError::Cipher("no randomness"))?;
        let aad = associated_data(owner, number.kind());
        let sealed = aead
            .encrypt(&nonce, Payload { msg: number.expose().as_bytes(), aad: &aad })
            .map_err(|_| StoreError::Cipher("encryption failed"))?;
        let mut ciphertext = Vec::with_capacity(2 + NONCE_LEN + sealed.len());
        ciphertext.extend_from_slice(&[VERSION_2, self.current]);
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&sealed);
        Ok(ciphertext)
    }

    /// Decrypts a stored number of a participant, with the key its ciphertext names.
    pub fn open(
        &self,
        owner: ParticipantId,
        kind: IdKind,
        stored: &[u8],
    ) -> Result<IdNumber, StoreError> {
        let (key_id, rest) = split_key_id(stored)?;
        if rest.len() < NONCE_LEN {
            return Err(StoreError::Cipher("unknown ciphertext format"));
        }
        let aead = self.aeads.get(&key_id).ok_or(StoreError::Cipher(
            "the ciphertext's key id is not configured (pii.id_encryption_keys)",
        ))?;
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_from(nonce).map_err(|_| StoreError::Cipher("bad nonce"))?;
        let aad = associated_data(owner, kind);
        let plain = aead
            .decrypt(&nonce, Payload { msg: sealed, aad: &aad })
            .map_err(|_| StoreError::Cipher("decryption failed (wrong key or tampered row)"))?;
        let text = String::from_utf8(plain).map_err(|_| StoreError::Cipher("not UTF-8"))?;
        // The number was fully validated when it was entered; re-parsing checks its integrity.
        // Its birth date was not in the future then, so "today" does not matter here.
        IdNumber::parse(kind, &text, NaiveDate::MAX).map_err(StoreError::corrupt)
    }

    /// Whether a stored ciphertext is sealed with the current key in the current format (then
    /// [`rekey`] leaves it alone).
    pub fn is_current(&self, stored: &[u8]) -> bool {
        matches!(stored, [VERSION_2, id, ..] if *id == self.current)
    }

    /// The ciphertext re-encrypted with the current key (fresh nonce, same owner and kind), or
    /// `None` when it already is.
    pub fn reseal(
        &self,
        owner: ParticipantId,
        kind: IdKind,
        stored: &[u8],
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if self.is_current(stored) {
            return Ok(None);
        }
        let number = self.open(owner, kind, stored)?;
        self.seal_bytes(owner, &number).map(Some)
    }
}

/// The key id a stored ciphertext was sealed with (version 1: [`LEGACY_KEY_ID`]), and what
/// follows the header.
fn split_key_id(stored: &[u8]) -> Result<(u8, &[u8]), StoreError> {
    match stored {
        [] => Err(StoreError::Cipher("empty ciphertext")),
        [VERSION_1, rest @ ..] => Ok((LEGACY_KEY_ID, rest)),
        [VERSION_2, id, rest @ ..] => Ok((*id, rest)),
        _ => Err(StoreError::Cipher("unknown ciphertext format")),
    }
}

/// The key id a stored ciphertext names (version 1: [`LEGACY_KEY_ID`]); `None` for what is not
/// a ciphertext of a known format.
pub fn key_id_of(stored: &[u8]) -> Option<u8> {
    split_key_id(stored).ok().map(|(id, _)| id)
}

fn associated_data(owner: ParticipantId, kind: IdKind) -> Vec<u8> {
    format!("baoming:id_number:v1:{}:{}", owner.as_uuid().hyphenated(), kind.as_str()).into_bytes()
}

/// What [`rekey`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RekeyReport {
    /// The key everything is now sealed with.
    pub current_key_id: u8,
    /// Stored ID numbers looked at.
    pub scanned: u64,
    /// Re-encrypted with the current key.
    pub rewritten: u64,
    /// Changed by someone else between being read and rewritten, so left as that writer left
    /// it (normally sealed with the current key already; running [`rekey`] again settles it).
    pub changed_meanwhile: u64,
}

/// Re-encrypts every stored ID number that is not sealed with the current key, `batch_size`
/// participants at a time, each batch in its own write transaction (so a large table is never
/// locked for long and an interruption keeps what was done). Idempotent: a second run rewrites
/// nothing. The blind index does not change (its key does not rotate). A row that cannot be
/// opened (its key is not configured) stops the run with an error; the batches before it stay
/// committed.
pub fn rekey(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    batch_size: i64,
) -> Result<RekeyReport, StoreError> {
    let batch_size = batch_size.clamp(1, 10_000);
    let mut report =
        RekeyReport { current_key_id: cipher.current_key_id(), ..RekeyReport::default() };
    let mut after = String::new();
    loop {
        let batch = write_tx(conn, |conn| {
            let rows: Vec<(String, Option<String>, Option<Vec<u8>>)> = participants::table
                .filter(participants::id_number_enc.is_not_null())
                .filter(participants::id.gt(&after))
                .order(participants::id)
                .limit(batch_size)
                .select((participants::id, participants::id_kind, participants::id_number_enc))
                .load(conn)?;
            let mut batch = RekeyReport::default();
            for (id, kind, stored) in &rows {
                let Some(stored) = stored else { continue };
                batch.scanned += 1;
                if cipher.is_current(stored) {
                    continue;
                }
                let kind = kind
                    .as_deref()
                    .ok_or_else(|| StoreError::corrupt("participant id_number without id_kind"))?;
                let kind = IdKind::parse(kind).map_err(StoreError::corrupt)?;
                let owner: ParticipantId = sql::id(id)?;
                let Some(fresh) = cipher.reseal(owner, kind, stored)? else { continue };
                let updated = diesel::update(
                    participants::table
                        .filter(participants::id.eq(id))
                        .filter(participants::id_number_enc.eq(stored)),
                )
                .set(participants::id_number_enc.eq(&fresh))
                .execute(conn)?;
                if updated == 1 {
                    batch.rewritten += 1;
                } else {
                    batch.changed_meanwhile += 1;
                }
            }
            let full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= batch_size;
            Ok::<_, StoreError>((batch, rows.last().map(|(id, _, _)| id.clone()).filter(|_| full)))
        })?;
        let (batch, next) = batch;
        report.scanned += batch.scanned;
        report.rewritten += batch.rewritten;
        report.changed_meanwhile += batch.changed_meanwhile;
        match next {
            Some(next) => after = next,
            None => return Ok(report),
        }
    }
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
        // Rotation: ids 1–255 once each, distinct keys, none equal to the blind-index key, the
        // current one among them.
        let blind = [9; 32];
        assert!(PiiKeys::rotating(vec![(1, [1; 32]), (2, [2; 32])], 2, blind).is_ok());
        assert!(PiiKeys::rotating(vec![(0, [1; 32])], 0, blind).is_err());
        assert!(PiiKeys::rotating(vec![(1, [1; 32]), (1, [2; 32])], 1, blind).is_err());
        assert!(PiiKeys::rotating(vec![(1, [1; 32]), (2, [1; 32])], 2, blind).is_err());
        assert!(PiiKeys::rotating(vec![(1, [1; 32]), (2, blind)], 1, blind).is_err());
        assert!(PiiKeys::rotating(vec![(1, [1; 32])], 2, blind).is_err());
        assert!(PiiKeys::rotating(vec![], 1, blind).is_err());
        let keys = PiiKeys::rotating(vec![(7, [1; 32]), (3, [2; 32])], 3, blind).expect("keys");
        assert_eq!((keys.key_ids(), keys.current_key_id()), (vec![3, 7], 3));
        assert!(!format!("{keys:?}").contains("01"), "Debug shows no key: {keys:?}");
    }

    fn keys(list: &[(u8, u8)], current: u8) -> PiiCipher {
        let list = list.iter().map(|(id, fill)| (*id, [*fill; 32])).collect();
        PiiCipher::new(PiiKeys::rotating(list, current, [9; 32]).expect("keys"))
    }

    /// A version-1 ciphertext as stored before keys had ids: `1 ‖ nonce ‖ ct ‖ tag`, made here
    /// directly with the AEAD (the code that wrote it is gone).
    fn version_1(key: [u8; 32], owner: ParticipantId, number: &IdNumber) -> Vec<u8> {
        let nonce = Nonce::from([5u8; NONCE_LEN]);
        let aad = associated_data(owner, number.kind());
        let sealed = Aes256Gcm::new(&key.into())
            .encrypt(&nonce, Payload { msg: number.expose().as_bytes(), aad: &aad })
            .expect("encrypts");
        [&[VERSION_1][..], &nonce[..], &sealed].concat()
    }

    #[test]
    fn new_ciphertexts_name_the_current_key() {
        let c = keys(&[(1, 7), (4, 8)], 4);
        let sealed = c.seal(owner(1), &number()).expect("sealed");
        assert_eq!(&sealed.ciphertext[..2], &[VERSION_2, 4]);
        assert_eq!(sealed.ciphertext.len(), 2 + NONCE_LEN + 18 + 16);
        assert_eq!(key_id_of(&sealed.ciphertext), Some(4));
        assert!(c.is_current(&sealed.ciphertext));
        assert_eq!(c.reseal(owner(1), IdKind::ResidentId, &sealed.ciphertext).expect("ok"), None);
        // The key id is bound: naming another configured key does not open it.
        let mut renamed = sealed.ciphertext.clone();
        renamed[1] = 1;
        assert!(c.open(owner(1), IdKind::ResidentId, &renamed).is_err());
        // An unknown version or a key id that is not configured is an error, not a panic.
        renamed[1] = 200;
        assert!(c.open(owner(1), IdKind::ResidentId, &renamed).is_err());
        assert!(c.open(owner(1), IdKind::ResidentId, &[3, 1, 2]).is_err());
        assert!(c.open(owner(1), IdKind::ResidentId, &[VERSION_2]).is_err());
        assert_eq!(key_id_of(&[3, 1]), None);
    }

    #[test]
    fn rotation_round_trip() {
        let n = number();
        // Before rotation: one key (id 1), as configured with `id_encryption_key` alone; rows
        // of the old format (version 1) and of the new one.
        let before = keys(&[(1, 7)], 1);
        let legacy = version_1([7; 32], owner(1), &n);
        assert_eq!(key_id_of(&legacy), Some(LEGACY_KEY_ID));
        assert_eq!(
            before.open(owner(1), IdKind::ResidentId, &legacy).expect("v1").expose(),
            n.expose()
        );
        let sealed_1 = before.seal(owner(2), &n).expect("sealed").ciphertext;
        assert_eq!(&sealed_1[..2], &[VERSION_2, 1]);
        // A version-1 row is never current, even under key 1: it is rewritten to name its key.
        assert!(!before.is_current(&legacy));
        assert!(before.is_current(&sealed_1));

        // Key 2 added and made current: old rows still open, new ones use key 2.
        let during = keys(&[(1, 7), (2, 8)], 2);
        for (who, stored) in [(1, &legacy), (2, &sealed_1)] {
            assert_eq!(
                during.open(owner(who), IdKind::ResidentId, stored).expect("old").expose(),
                n.expose()
            );
            assert!(!during.is_current(stored));
        }
        let sealed_2 = during.seal(owner(3), &n).expect("sealed");
        assert_eq!(key_id_of(&sealed_2.ciphertext), Some(2));
        // The blind index does not rotate.
        assert_eq!(sealed_2.blind_index, before.blind_index(&n));

        // Re-sealed under key 2, key 1 removed: everything still opens.
        let rekeyed: Vec<(u8, Vec<u8>)> = [(1, legacy.clone()), (2, sealed_1.clone())]
            .into_iter()
            .map(|(who, stored)| {
                let fresh = during.reseal(owner(who), IdKind::ResidentId, &stored).expect("reseal");
                (who, fresh.expect("not current before"))
            })
            .chain([(3, sealed_2.ciphertext.clone())])
            .collect();
        let after = keys(&[(2, 8)], 2);
        for (who, stored) in &rekeyed {
            assert!(after.is_current(stored));
            assert_eq!(
                after.open(owner(*who), IdKind::ResidentId, stored).expect("new").expose(),
                n.expose()
            );
        }
        // The old rows do not open without key 1: the removal is real.
        assert!(after.open(owner(1), IdKind::ResidentId, &legacy).is_err());
        assert!(after.open(owner(2), IdKind::ResidentId, &sealed_1).is_err());
    }
}
