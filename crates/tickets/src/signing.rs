//! The signed payload of the ticket's QR code: COSE_Sign1 (RFC 9052) with Ed25519, as CBOR,
//! in base45 (RFC 9285) behind the prefix [`PREFIX`].
//!
//! An exam-room device verifies a ticket offline with the public keys ([`VerifyingKeys`],
//! exported as a JWK set or PEM). `docs/tickets.md` describes the bytes with a worked example
//! and how to verify them with any COSE library.
//!
//! # Format
//!
//! `BMT1:` + base45( COSE_Sign1 ), where COSE_Sign1 is the CBOR tag 18 around
//! `[protected, unprotected, payload, signature]`:
//!
//! - `protected`: a byte string holding the map `{1: -8, 4: kid}` (alg EdDSA, key id as bytes);
//! - `unprotected`: the empty map;
//! - `payload`: a byte string holding the claims map below;
//! - `signature`: Ed25519 over the RFC 9052 `Sig_structure`
//!   `["Signature1", protected, h'', payload]` (no external data).
//!
//! The claims are a CBOR map with one-letter text keys, written in the order below (the
//! deterministic order of RFC 8949 §4.2.1):
//!
//! | key | claim                         | CBOR type                    |
//! |-----|-------------------------------|------------------------------|
//! | `i` | masked ID number (`110105********002X`) | text, ≤ [`MASKED_ID_MAX`] ASCII chars |
//! | `n` | name, cut by [`payload_name`] | text, ≤ [`NAME_MAX_BYTES`] UTF-8 bytes |
//! | `p` | period id                     | bytes, exactly 16 (the UUID) |
//! | `r` | room number                   | unsigned, ≤ 65535            |
//! | `s` | site number                   | unsigned, ≤ 65535            |
//! | `t` | ticket number                 | text, ≤ 20 chars             |
//! | `z` | seat number (座)               | unsigned, ≤ 65535            |
//!
//! # Size
//!
//! The QR code must stay at version 10 or below at error correction level M, whose
//! alphanumeric capacity is 311 characters; base45 uses exactly the QR alphanumeric alphabet,
//! so the whole text is one alphanumeric segment. 311 − 5 (prefix) = 306 characters carry
//! 204 bytes. With the longest key id (8), ticket number (20), masked ID (20) and numbers up to
//! 65535, everything but the name takes 171 bytes (COSE 86 + claims 85 including the name's
//! 2-byte text header), which leaves [`NAME_MAX_BYTES`] = 33 bytes for the name: 11 Chinese
//! characters. Longer names are cut (see [`payload_name`]); the ticket itself always shows the
//! full name.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use coset::cbor::value::Value;
use coset::{CborSerializable as _, TaggedCborSerializable as _, iana};
use ed25519_dalek::Signer as _;

use crate::number::TicketNumber;

/// The text before the base45 data.
pub const PREFIX: &str = "BMT1:";
/// The longest name in the payload, in UTF-8 bytes.
pub const NAME_MAX_BYTES: usize = 33;
/// The longest masked ID number in the payload, in (ASCII) characters.
pub const MASKED_ID_MAX: usize = 20;
/// The longest key id, in (ASCII) characters.
pub const KID_MAX: usize = 8;
/// What a cut name ends with.
pub const ELLIPSIS: char = '…';

/// The name as it goes into the payload: unchanged when at most [`NAME_MAX_BYTES`] UTF-8
/// bytes; otherwise its longest prefix of whole characters of at most
/// `NAME_MAX_BYTES - 3` bytes followed by `…` (U+2026, 3 bytes).
///
/// ```
/// use baoming_tickets::signing::payload_name;
/// assert_eq!(payload_name("王䶮"), "王䶮");
/// let long = "阿卜杜热合曼·买买提明·艾力";
/// assert_eq!(payload_name(long), "阿卜杜热合曼·买买提…");
/// ```
#[must_use]
pub fn payload_name(name: &str) -> String {
    if name.len() <= NAME_MAX_BYTES {
        return name.to_owned();
    }
    let budget = NAME_MAX_BYTES - ELLIPSIS.len_utf8();
    let mut out = String::with_capacity(NAME_MAX_BYTES);
    for c in name.chars() {
        if out.len() + c.len_utf8() > budget {
            break;
        }
        out.push(c);
    }
    out.push(ELLIPSIS);
    out
}

/// The facts a ticket's QR code vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketClaims {
    /// The ticket number.
    pub ticket_number: TicketNumber,
    /// The period id (the 16 bytes of its UUID).
    pub period: [u8; 16],
    /// The name; [`sign`] cuts it with [`payload_name`], so after [`verify`] it may end in `…`.
    pub name: String,
    /// The masked ID number, e.g. `110105********002X`.
    pub masked_id: String,
    /// Site number.
    pub site: u32,
    /// Room number.
    pub room: u32,
    /// Seat number.
    pub seat: u32,
}

/// Why a payload could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// A key id that is empty, too long or has characters other than `A-Z a-z 0-9 . _ -`.
    #[error("签名密钥编号 “{0}” 无效（1 到 8 位字母、数字、“.”、“_” 或 “-”）")]
    BadKeyId(String),
    /// A masked ID number that is empty, too long or not printable ASCII.
    #[error("证件号码（脱敏）“{0}” 无效")]
    BadMaskedId(String),
    /// An empty name.
    #[error("姓名为空，无法生成准考证二维码")]
    EmptyName,
    /// A site, room or seat number above 65535.
    #[error("{0} 编号过大")]
    NumberTooLarge(&'static str),
    /// 32 bytes that are not an Ed25519 public key.
    #[error("公钥 “{0}” 无效")]
    BadPublicKey(String),
    /// The CBOR encoder failed (cannot happen when writing to memory).
    #[error("准考证二维码编码失败")]
    Encoding,
}

impl SignError {
    /// Stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadKeyId(_) => "ticket_sign_bad_kid",
            Self::BadMaskedId(_) => "ticket_sign_bad_masked_id",
            Self::EmptyName => "ticket_sign_empty_name",
            Self::NumberTooLarge(_) => "ticket_sign_number_too_large",
            Self::BadPublicKey(_) => "ticket_sign_bad_public_key",
            Self::Encoding => "ticket_sign_encoding",
        }
    }
}

/// Why a payload did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Not a ticket code: wrong prefix, not base45, not a COSE_Sign1, or claims missing or of
    /// the wrong type. The text says which.
    #[error("不是有效的准考证二维码（{0}）")]
    Malformed(&'static str),
    /// Signed with a key id that is not among the known public keys.
    #[error("准考证二维码的签名密钥 “{0}” 未知，请更新公钥")]
    UnknownKey(String),
    /// The signature does not match: the code was altered or forged.
    #[error("准考证二维码签名无效，可能被篡改")]
    BadSignature,
}

impl VerifyError {
    /// Stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "ticket_qr_malformed",
            Self::UnknownKey(_) => "ticket_qr_unknown_key",
            Self::BadSignature => "ticket_qr_bad_signature",
        }
    }
}

fn check_kid(kid: &str) -> Result<(), SignError> {
    let ok = !kid.is_empty()
        && kid.len() <= KID_MAX
        && kid.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok { Ok(()) } else { Err(SignError::BadKeyId(kid.to_owned())) }
}

/// A private signing key with its key id. Built from 32 seed bytes (e.g. from configuration);
/// its `Debug` output shows only the key id.
pub struct SigningKey {
    kid: String,
    key: ed25519_dalek::SigningKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A key from its id and its 32-byte Ed25519 seed (RFC 8032 private key).
    ///
    /// # Errors
    /// [`SignError::BadKeyId`] for a key id that is empty, longer than [`KID_MAX`] or has
    /// characters other than `A-Z a-z 0-9 . _ -`.
    pub fn new(kid: &str, seed: &[u8; 32]) -> Result<Self, SignError> {
        check_kid(kid)?;
        Ok(Self { kid: kid.to_owned(), key: ed25519_dalek::SigningKey::from_bytes(seed) })
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The matching public key.
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        VerifyingKey { kid: self.kid.clone(), key: self.key.verifying_key() }
    }
}

/// A public key with its key id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyingKey {
    kid: String,
    key: ed25519_dalek::VerifyingKey,
}

impl VerifyingKey {
    /// A public key from its id and its 32 bytes.
    ///
    /// # Errors
    /// [`SignError::BadKeyId`], or [`SignError::BadPublicKey`] when the bytes are not an
    /// Ed25519 public key.
    pub fn from_bytes(kid: &str, bytes: &[u8; 32]) -> Result<Self, SignError> {
        check_kid(kid)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| SignError::BadPublicKey(kid.to_owned()))?;
        Ok(Self { kid: kid.to_owned(), key })
    }

    /// The key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The 32 bytes of the public key.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// The key as a JWK (RFC 8037): `{"kty":"OKP","crv":"Ed25519","x":…,"kid":…,"use":"sig","alg":"EdDSA"}`.
    #[must_use]
    pub fn to_jwk(&self) -> String {
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(self.key.as_bytes());
        // The key id's alphabet needs no JSON escaping.
        format!(
            r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kid":"{}","use":"sig","alg":"EdDSA"}}"#,
            self.kid
        )
    }

    /// The key as a PEM `PUBLIC KEY` block (SubjectPublicKeyInfo, RFC 8410).
    #[must_use]
    pub fn to_pem(&self) -> String {
        // SEQUENCE { SEQUENCE { OID 1.3.101.112 }, BIT STRING (0 unused bits) key }
        let mut der = vec![0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];
        der.extend_from_slice(self.key.as_bytes());
        let b64 = base64::engine::general_purpose::STANDARD.encode(der);
        format!("-----BEGIN PUBLIC KEY-----\n{b64}\n-----END PUBLIC KEY-----\n")
    }
}

/// The public keys a verifier accepts, by key id (old and new keys side by side while keys
/// rotate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyingKeys {
    keys: BTreeMap<String, VerifyingKey>,
}

impl VerifyingKeys {
    /// No keys.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key (replacing one with the same id).
    pub fn insert(&mut self, key: VerifyingKey) {
        self.keys.insert(key.kid.clone(), key);
    }

    /// The key with this id.
    #[must_use]
    pub fn get(&self, kid: &str) -> Option<&VerifyingKey> {
        self.keys.get(kid)
    }

    /// The keys, by key id.
    pub fn iter(&self) -> impl Iterator<Item = &VerifyingKey> {
        self.keys.values()
    }

    /// The keys as a JWK set: `{"keys":[…]}`, sorted by key id.
    #[must_use]
    pub fn to_jwks(&self) -> String {
        let keys: Vec<String> = self.keys.values().map(VerifyingKey::to_jwk).collect();
        format!(r#"{{"keys":[{}]}}"#, keys.join(","))
    }

    /// The keys as PEM blocks, each preceded by a `# kid: …` comment line, sorted by key id.
    #[must_use]
    pub fn to_pem(&self) -> String {
        self.keys.values().map(|k| format!("# kid: {}\n{}", k.kid, k.to_pem())).collect()
    }
}

impl FromIterator<VerifyingKey> for VerifyingKeys {
    fn from_iter<T: IntoIterator<Item = VerifyingKey>>(iter: T) -> Self {
        let mut keys = Self::new();
        for k in iter {
            keys.insert(k);
        }
        keys
    }
}

const NUMBER_MAX: u32 = 65_535;

/// Encodes the claims map (the COSE payload) exactly as documented.
fn claims_cbor(claims: &TicketClaims) -> Result<Vec<u8>, SignError> {
    let masked = &claims.masked_id;
    if masked.is_empty()
        || masked.len() > MASKED_ID_MAX
        || !masked.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(SignError::BadMaskedId(masked.clone()));
    }
    if claims.name.trim().is_empty() {
        return Err(SignError::EmptyName);
    }
    for (what, n) in [("site", claims.site), ("room", claims.room), ("seat", claims.seat)] {
        if n > NUMBER_MAX {
            return Err(SignError::NumberTooLarge(what));
        }
    }
    let text = |k: &str| Value::Text(k.to_owned());
    let map = Value::Map(vec![
        (text("i"), Value::Text(masked.clone())),
        (text("n"), Value::Text(payload_name(&claims.name))),
        (text("p"), Value::Bytes(claims.period.to_vec())),
        (text("r"), Value::Integer(claims.room.into())),
        (text("s"), Value::Integer(claims.site.into())),
        (text("t"), Value::Text(claims.ticket_number.as_str().to_owned())),
        (text("z"), Value::Integer(claims.seat.into())),
    ]);
    let mut out = Vec::with_capacity(96);
    coset::cbor::into_writer(&map, &mut out).map_err(|_| SignError::Encoding)?;
    Ok(out)
}

/// Signs the claims: returns the QR text (`BMT1:` + base45 of the COSE_Sign1).
///
/// # Errors
/// A masked ID that is empty, longer than [`MASKED_ID_MAX`] or not printable ASCII; an empty
/// name; a site, room or seat above 65535.
pub fn sign(claims: &TicketClaims, key: &SigningKey) -> Result<String, SignError> {
    let payload = claims_cbor(claims)?;
    let protected = coset::HeaderBuilder::new()
        .algorithm(iana::Algorithm::EdDSA)
        .key_id(key.kid.as_bytes().to_vec())
        .build();
    let sign1 = coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", |tbs| key.key.sign(tbs).to_bytes().to_vec())
        .build();
    let bytes = sign1.to_tagged_vec().map_err(|_| SignError::Encoding)?;
    let mut text = String::with_capacity(PREFIX.len() + bytes.len() * 3 / 2 + 2);
    text.push_str(PREFIX);
    text.push_str(&base45::encode(bytes));
    Ok(text)
}

/// Verifies a QR text and returns its claims.
///
/// # Errors
/// [`VerifyError::Malformed`] (wrong prefix, not base45, not a COSE_Sign1 with EdDSA, claims
/// missing or mistyped), [`VerifyError::UnknownKey`], [`VerifyError::BadSignature`].
pub fn verify(text: &str, keys: &VerifyingKeys) -> Result<TicketClaims, VerifyError> {
    let (sign1, kid) = decode(text)?;
    let key = keys.get(&kid).ok_or_else(|| VerifyError::UnknownKey(kid.clone()))?;
    sign1.verify_signature(b"", |sig, data| {
        let sig =
            ed25519_dalek::Signature::from_slice(sig).map_err(|_| VerifyError::BadSignature)?;
        key.key.verify_strict(data, &sig).map_err(|_| VerifyError::BadSignature)
    })?;
    let payload = sign1.payload.as_deref().ok_or(VerifyError::Malformed("payload"))?;
    parse_claims(payload)
}

/// The COSE_Sign1 of a QR text and its key id, checked for form only (prefix, base45, COSE,
/// `alg` EdDSA, a UTF-8 key id).
fn decode(text: &str) -> Result<(coset::CoseSign1, String), VerifyError> {
    let data = text.strip_prefix(PREFIX).ok_or(VerifyError::Malformed("prefix"))?;
    let bytes = base45::decode(data).map_err(|_| VerifyError::Malformed("base45"))?;
    let sign1 =
        coset::CoseSign1::from_tagged_slice(&bytes).map_err(|_| VerifyError::Malformed("cose"))?;
    let header = &sign1.protected.header;
    if header.alg != Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::EdDSA)) {
        return Err(VerifyError::Malformed("alg"));
    }
    let kid =
        String::from_utf8(header.key_id.clone()).map_err(|_| VerifyError::Malformed("kid"))?;
    Ok((sign1, kid))
}

/// What a QR text claims, read **without checking the signature**: for tools that show an
/// operator what a code says next to the verdict of [`verify`] (never for trusting it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    /// The key id the code names.
    pub kid: String,
    /// The claims as written in the payload.
    pub claims: TicketClaims,
}

/// Reads a QR text's key id and claims without checking the signature (see [`Unverified`]).
///
/// ```
/// use baoming_tickets::signing::{self, decode_unverified};
/// use baoming_tickets::{SigningKey, TicketClaims, TicketNumber, VerifyingKeys};
/// let key = SigningKey::new("k1", &[1; 32])?;
/// let claims = TicketClaims {
///     ticket_number: TicketNumber::parse("2635010307")?,
///     period: [0; 16],
///     name: "王䶮".into(),
///     masked_id: "110105********002X".into(),
///     site: 1,
///     room: 3,
///     seat: 7,
/// };
/// let text = signing::sign(&claims, &key)?;
/// let read = decode_unverified(&text)?;
/// assert_eq!((read.kid.as_str(), &read.claims), ("k1", &claims));
/// // Only `verify` says whether it can be trusted.
/// assert!(signing::verify(&text, &VerifyingKeys::new()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`VerifyError::Malformed`] as [`verify`] reports it.
pub fn decode_unverified(text: &str) -> Result<Unverified, VerifyError> {
    let (sign1, kid) = decode(text)?;
    let payload = sign1.payload.as_deref().ok_or(VerifyError::Malformed("payload"))?;
    Ok(Unverified { kid, claims: parse_claims(payload)? })
}

fn parse_claims(payload: &[u8]) -> Result<TicketClaims, VerifyError> {
    let value = Value::from_slice(payload).map_err(|_| VerifyError::Malformed("claims"))?;
    let Value::Map(entries) = value else { return Err(VerifyError::Malformed("claims")) };
    let mut fields: BTreeMap<String, Value> = BTreeMap::new();
    for (k, v) in entries {
        let Value::Text(k) = k else { return Err(VerifyError::Malformed("claims")) };
        if fields.insert(k, v).is_some() {
            return Err(VerifyError::Malformed("claims"));
        }
    }
    let text = |k: &'static str| match fields.get(k) {
        Some(Value::Text(s)) => Ok(s.clone()),
        _ => Err(VerifyError::Malformed(k)),
    };
    let number = |k: &'static str| match fields.get(k) {
        Some(Value::Integer(i)) => {
            u32::try_from(*i).ok().filter(|n| *n <= NUMBER_MAX).ok_or(VerifyError::Malformed(k))
        }
        _ => Err(VerifyError::Malformed(k)),
    };
    let period = match fields.get("p") {
        Some(Value::Bytes(b)) => {
            <[u8; 16]>::try_from(b.as_slice()).map_err(|_| VerifyError::Malformed("p"))?
        }
        _ => return Err(VerifyError::Malformed("p")),
    };
    Ok(TicketClaims {
        ticket_number: TicketNumber::parse(&text("t")?).map_err(|_| VerifyError::Malformed("t"))?,
        period,
        name: text("n")?,
        masked_id: text("i")?,
        site: number("s")?,
        room: number("r")?,
        seat: number("z")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample_claims() -> TicketClaims {
        TicketClaims {
            ticket_number: TicketNumber::parse("2635010307").unwrap(),
            period: *b"\x01\x93\x6f\x3a\x52\x00\x7c\x00\x8a\x1b\x00\x00\x00\x00\x00\x01",
            name: "王䶮".into(),
            masked_id: "110105********002X".into(),
            site: 1,
            room: 3,
            seat: 7,
        }
    }

    fn key() -> SigningKey {
        SigningKey::new("2026a", &[7u8; 32]).unwrap()
    }

    #[test]
    fn round_trip() {
        let k = key();
        let text = sign(&sample_claims(), &k).unwrap();
        assert!(text.starts_with("BMT1:"));
        let keys: VerifyingKeys = [k.verifying_key()].into_iter().collect();
        assert_eq!(verify(&text, &keys).unwrap(), sample_claims());
    }

    #[test]
    fn every_changed_character_fails() {
        let k = key();
        let text = sign(&sample_claims(), &k).unwrap();
        let keys: VerifyingKeys = [k.verifying_key()].into_iter().collect();
        let alphabet: Vec<char> = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".chars().collect();
        for (i, c) in text.char_indices() {
            let replacement = alphabet.iter().find(|&&a| a != c).copied().unwrap_or('0');
            let mut altered = text.clone();
            altered.replace_range(i..i + 1, &replacement.to_string());
            assert!(verify(&altered, &keys).is_err(), "changing char {i} still verified");
        }
    }

    #[test]
    fn errors_are_told_apart() {
        let k = key();
        let text = sign(&sample_claims(), &k).unwrap();
        let other = SigningKey::new("2026b", &[8u8; 32]).unwrap();
        let only_other: VerifyingKeys = [other.verifying_key()].into_iter().collect();
        assert_eq!(
            verify(&text, &only_other).unwrap_err(),
            VerifyError::UnknownKey("2026a".into())
        );
        // Same kid, different key: the signature does not match.
        let impostor = SigningKey::new("2026a", &[9u8; 32]).unwrap();
        let wrong: VerifyingKeys = [impostor.verifying_key()].into_iter().collect();
        assert_eq!(verify(&text, &wrong).unwrap_err(), VerifyError::BadSignature);
        let keys: VerifyingKeys = [k.verifying_key(), other.verifying_key()].into_iter().collect();
        assert_eq!(verify("hello", &keys).unwrap_err().code(), "ticket_qr_malformed");
        assert_eq!(verify("BMT1:%%%", &keys).unwrap_err(), VerifyError::Malformed("base45"));
        assert_eq!(
            verify(&format!("BMT1:{}", base45::encode([0xa0])), &keys).unwrap_err(),
            VerifyError::Malformed("cose")
        );
        // Rotation: both keys verify their own tickets.
        let t2 = sign(&sample_claims(), &other).unwrap();
        assert!(verify(&t2, &keys).is_ok() && verify(&text, &keys).is_ok());
    }

    #[test]
    fn refuses_bad_inputs() {
        assert_eq!(SigningKey::new("", &[0; 32]).unwrap_err().code(), "ticket_sign_bad_kid");
        assert_eq!(
            SigningKey::new("123456789", &[0; 32]).unwrap_err().code(),
            "ticket_sign_bad_kid"
        );
        assert_eq!(SigningKey::new("a b", &[0; 32]).unwrap_err().code(), "ticket_sign_bad_kid");
        let k = key();
        let mut c = sample_claims();
        c.masked_id = "110105********002X110".into();
        assert_eq!(sign(&c, &k).unwrap_err().code(), "ticket_sign_bad_masked_id");
        let mut c = sample_claims();
        c.name = " ".into();
        assert_eq!(sign(&c, &k).unwrap_err(), SignError::EmptyName);
        let mut c = sample_claims();
        c.seat = 65_536;
        assert_eq!(sign(&c, &k).unwrap_err(), SignError::NumberTooLarge("seat"));
        assert!(!format!("{k:?}").contains("7, 7"), "Debug must not show the seed");
    }

    #[test]
    fn name_rule() {
        assert_eq!(payload_name("张三"), "张三");
        let eleven = "一二三四五六七八九十百";
        assert_eq!(payload_name(eleven), eleven, "11 CJK characters are 33 bytes and fit");
        assert_eq!(payload_name("一二三四五六七八九十百千"), "一二三四五六七八九十…");
        let fifty: String = "Maximilian".repeat(5);
        assert_eq!(payload_name(&fifty), format!("{}…", &fifty[..30]));
        // Extension B characters are 4 bytes: 7 fit in 30 bytes.
        let ext_b = "𠀀".repeat(20);
        assert_eq!(payload_name(&ext_b), format!("{}…", "𠀀".repeat(7)));
        for name in [eleven, &fifty, &ext_b] {
            assert!(payload_name(name).len() <= NAME_MAX_BYTES);
        }
    }

    #[test]
    fn key_exports() {
        // RFC 8032 test 1: secret 9d61…7f60 → public d75a…511a.
        let secret: [u8; 32] =
            hex32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let k = SigningKey::new("k1", &secret).unwrap();
        let vk = k.verifying_key();
        assert_eq!(
            vk.to_bytes(),
            hex32("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
        );
        assert_eq!(
            vk.to_jwk(),
            r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k1","use":"sig","alg":"EdDSA"}"#
        );
        let keys: VerifyingKeys = [vk.clone()].into_iter().collect();
        assert_eq!(keys.to_jwks(), format!(r#"{{"keys":[{}]}}"#, vk.to_jwk()));
        // RFC 8410 §10.1 public key example.
        let rfc = VerifyingKey::from_bytes(
            "x",
            &hex32("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"),
        )
        .unwrap();
        assert_eq!(
            rfc.to_pem(),
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
        );
        assert!(keys.to_pem().starts_with("# kid: k1\n-----BEGIN PUBLIC KEY-----\n"));
    }

    fn hex32(s: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }
}
