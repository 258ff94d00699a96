//! Venue codes: derived from a period's secret, never stored. See the crate docs for the format.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::digest::Key;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Length of a [`PeriodSecret`] in bytes.
pub const SECRET_LEN: usize = 32;
/// Length of the truncated MAC inside a token, in bytes.
pub const MAC_LEN: usize = 14;
/// Length of the clear header of a token (kind, venue, slice), in bytes.
pub const HEADER_LEN: usize = 7;
/// Length of a decoded token in bytes: header and truncated MAC.
pub const TOKEN_BYTES: usize = HEADER_LEN + MAC_LEN;
/// Length of a token in characters (base64url without padding of [`TOKEN_BYTES`] bytes).
pub const TOKEN_CHARS: usize = TOKEN_BYTES / 3 * 4;

/// Kind byte of a rotating code, format version 1 (the token starts with `R`).
pub const KIND_ROTATING_V1: u8 = 0x44;
/// Kind byte of a static (printed) code, format version 1 (the token starts with `S`).
pub const KIND_STATIC_V1: u8 = 0x48;
/// Domain-separation label of the MAC of a rotating code.
pub const LABEL_ROTATING_V1: &[u8] = b"baoming-checkin rotating v1";
/// Domain-separation label of the MAC of a static code.
pub const LABEL_STATIC_V1: &[u8] = b"baoming-checkin static v1";

/// A period's check-in secret: 32 random bytes the store generates once per period.
///
/// Its `Debug` output never shows the bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct PeriodSecret([u8; SECRET_LEN]);

impl PeriodSecret {
    /// The secret from stored bytes; exactly [`SECRET_LEN`] of them.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        let bytes = <[u8; SECRET_LEN]>::try_from(bytes)
            .map_err(|_| SecretError::WrongLength { len: bytes.len() })?;
        Ok(Self(bytes))
    }

    /// The bytes, for storing them. Never log them.
    pub fn as_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.0
    }
}

impl From<[u8; SECRET_LEN]> for PeriodSecret {
    fn from(bytes: [u8; SECRET_LEN]) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for PeriodSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PeriodSecret(<redacted>)")
    }
}

/// Why stored bytes are not a [`PeriodSecret`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// Not exactly [`SECRET_LEN`] bytes.
    #[error("报到密钥应为 32 字节，实际为 {len} 字节")]
    WrongLength {
        /// The length given.
        len: usize,
    },
}

impl SecretError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        "checkin_secret_length"
    }
}

/// How long one rotating code is shown: a period setting, 5–300 s, 15 s by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SliceLength(u32);

impl SliceLength {
    /// Shortest allowed slice, in seconds.
    pub const MIN_SECS: u32 = 5;
    /// Longest allowed slice, in seconds.
    pub const MAX_SECS: u32 = 300;
    /// The default slice length.
    pub const DEFAULT: Self = Self(15);

    /// A slice of `secs` seconds, if within [`Self::MIN_SECS`]..=[`Self::MAX_SECS`].
    pub fn new(secs: u32) -> Result<Self, SliceLengthError> {
        if (Self::MIN_SECS..=Self::MAX_SECS).contains(&secs) {
            Ok(Self(secs))
        } else {
            Err(SliceLengthError { secs })
        }
    }

    /// Its length in seconds.
    pub fn secs(self) -> u32 {
        self.0
    }

    /// The index of the slice holding `now`: ⌊unix seconds / length⌋. Before 1970 or after
    /// the year 2650 (where the index no longer fits a `u32`) it is [`CodeError::ClockOutOfRange`].
    pub fn slice_at(self, now: DateTime<Utc>) -> Result<u32, CodeError> {
        let index = now.timestamp().div_euclid(i64::from(self.0));
        u32::try_from(index).map_err(|_| CodeError::ClockOutOfRange)
    }

    /// When slice `index` starts (it may be `u32::MAX + 1`, the end of the last slice).
    pub fn slice_start(self, index: u64) -> Result<DateTime<Utc>, CodeError> {
        let secs = index.checked_mul(u64::from(self.0)).and_then(|s| i64::try_from(s).ok());
        secs.and_then(|s| DateTime::from_timestamp(s, 0)).ok_or(CodeError::ClockOutOfRange)
    }
}

impl Default for SliceLength {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A slice length outside 5–300 s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("二维码刷新间隔应在 5 到 300 秒之间（填写的是 {secs} 秒）")]
pub struct SliceLengthError {
    /// The length given, in seconds.
    pub secs: u32,
}

impl SliceLengthError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        "checkin_slice_length_out_of_range"
    }
}

/// A venue's number inside its period (carried in clear in the token, so the server finds
/// the venue without trying each one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VenueNumber(u16);

impl VenueNumber {
    /// Venue number `n`.
    pub fn new(n: u16) -> Self {
        Self(n)
    }

    /// The number.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl fmt::Display for VenueNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The two kinds of venue code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeKind {
    /// Shown on a screen at the venue; changes every slice.
    Rotating,
    /// Printed; never changes. Accepted only where the venue enables it.
    Static,
}

impl CodeKind {
    fn byte(self) -> u8 {
        match self {
            Self::Rotating => KIND_ROTATING_V1,
            Self::Static => KIND_STATIC_V1,
        }
    }

    fn label(self) -> &'static [u8] {
        match self {
            Self::Rotating => LABEL_ROTATING_V1,
            Self::Static => LABEL_STATIC_V1,
        }
    }
}

/// Why a scanned code does not check the participant in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not a venue code at all (wrong length, alphabet, kind or layout).
    #[error("不是本考点的报到码")]
    Malformed,
    /// A rotating code two or more slices old.
    #[error("二维码已过期，请重新扫描现场最新的二维码")]
    Expired,
    /// A rotating code of a slice that has not started (clocks disagree).
    #[error("二维码尚未生效，请稍后重新扫描")]
    NotYetValid,
    /// A genuine code of this period, but of another venue than the expected one.
    #[error("这是其他考点的报到码，请扫描本考点现场的二维码")]
    WrongVenue {
        /// The venue the caller expected.
        expected: VenueNumber,
        /// The venue of the scanned code.
        scanned: VenueNumber,
    },
    /// The MAC does not match: forged, altered, or a code of another period or secret.
    #[error("报到码无效，请扫描本期考试考点现场的二维码")]
    Forged,
    /// A genuine static code, but static codes are not enabled for this venue.
    #[error("本考点未启用固定报到码，请扫描现场屏幕上的二维码")]
    StaticNotEnabled,
    /// The clock is before 1970 or after 2650: no slice index.
    #[error("服务器时间异常，请联系现场工作人员")]
    ClockOutOfRange,
}

impl CodeError {
    /// Stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed => "checkin_code_malformed",
            Self::Expired => "checkin_code_expired",
            Self::NotYetValid => "checkin_code_not_yet_valid",
            Self::WrongVenue { .. } => "checkin_code_wrong_venue",
            Self::Forged => "checkin_code_invalid",
            Self::StaticNotEnabled => "checkin_static_code_disabled",
            Self::ClockOutOfRange => "checkin_clock_out_of_range",
        }
    }
}

/// A rotating code to show on the venue screen now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayedCode {
    /// The token ([`TOKEN_CHARS`] characters of `[A-Za-z0-9_-]`): put it in the QR code.
    pub token: String,
    /// The venue.
    pub venue: VenueNumber,
    /// Its slice index.
    pub slice: u32,
    /// When the next code replaces it: the screen fetches a new one then.
    pub turns_at: DateTime<Utc>,
    /// Whole seconds from the `now` it was derived at to `turns_at` (1 ..= slice length).
    pub seconds_until_turn: u32,
    /// When it stops being accepted (exclusive): one slice after `turns_at`.
    pub expires_at: DateTime<Utc>,
}

/// A scanned text that has the shape of a venue code, not yet verified.
#[derive(Clone, PartialEq, Eq)]
pub struct ScannedCode {
    kind: CodeKind,
    venue: VenueNumber,
    slice: u32,
    header: [u8; HEADER_LEN],
    mac: [u8; MAC_LEN],
}

impl ScannedCode {
    /// Reads a token (surrounding whitespace ignored) without verifying it; tells the kind and
    /// the venue so the server can load that venue's settings before [`CheckinKey::verify`].
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let text = text.trim();
        if text.len() != TOKEN_CHARS {
            return Err(CodeError::Malformed);
        }
        let mut bytes = [0u8; TOKEN_BYTES];
        let n = URL_SAFE_NO_PAD.decode_slice(text, &mut bytes).map_err(|_| CodeError::Malformed)?;
        if n != TOKEN_BYTES {
            return Err(CodeError::Malformed);
        }
        let (header, mac) = bytes.split_at(HEADER_LEN);
        let header: [u8; HEADER_LEN] = header.try_into().map_err(|_| CodeError::Malformed)?;
        let mac: [u8; MAC_LEN] = mac.try_into().map_err(|_| CodeError::Malformed)?;
        let kind = match header[0] {
            KIND_ROTATING_V1 => CodeKind::Rotating,
            KIND_STATIC_V1 => CodeKind::Static,
            _ => return Err(CodeError::Malformed),
        };
        let venue = VenueNumber(u16::from_be_bytes([header[1], header[2]]));
        let slice = u32::from_be_bytes([header[3], header[4], header[5], header[6]]);
        if kind == CodeKind::Static && slice != 0 {
            return Err(CodeError::Malformed);
        }
        Ok(Self { kind, venue, slice, header, mac })
    }

    /// Rotating or static.
    pub fn kind(&self) -> CodeKind {
        self.kind
    }

    /// The venue it claims (unverified until [`CheckinKey::verify`]).
    pub fn venue(&self) -> VenueNumber {
        self.venue
    }

    /// The slice index it claims (0 for a static code).
    pub fn slice(&self) -> u32 {
        self.slice
    }
}

impl fmt::Debug for ScannedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScannedCode")
            .field("kind", &self.kind)
            .field("venue", &self.venue)
            .field("slice", &self.slice)
            .finish_non_exhaustive()
    }
}

/// Everything needed to derive and verify one period's venue codes.
#[derive(Debug, Clone)]
pub struct CheckinKey {
    period: Uuid,
    secret: PeriodSecret,
    slice_length: SliceLength,
}

impl CheckinKey {
    /// The key of period `period` with its secret and slice length.
    pub fn new(period: Uuid, secret: PeriodSecret, slice_length: SliceLength) -> Self {
        Self { period, secret, slice_length }
    }

    /// The period's slice length.
    pub fn slice_length(&self) -> SliceLength {
        self.slice_length
    }

    /// The rotating code of `venue` to display at `now`.
    pub fn rotating(
        &self,
        venue: VenueNumber,
        now: DateTime<Utc>,
    ) -> Result<DisplayedCode, CodeError> {
        let len = self.slice_length;
        let slice = len.slice_at(now)?;
        let turns_at = len.slice_start(u64::from(slice) + 1)?;
        let expires_at = len.slice_start(u64::from(slice) + 2)?;
        let seconds_until_turn = u32::try_from(turns_at.timestamp() - now.timestamp())
            .map_err(|_| CodeError::ClockOutOfRange)?;
        Ok(DisplayedCode {
            token: self.token(CodeKind::Rotating, venue, slice),
            venue,
            slice,
            turns_at,
            seconds_until_turn,
            expires_at,
        })
    }

    /// The static code of `venue`, to print. It never changes for a given period and secret
    /// (give the period a new secret to revoke every printed code).
    pub fn static_code(&self, venue: VenueNumber) -> String {
        self.token(CodeKind::Static, venue, 0)
    }

    /// Checks a scanned code at `now`, in this order: its MAC under this period's key
    /// ([`CodeError::Forged`]); its venue against `expected_venue`, `None` meaning any venue of
    /// the period ([`CodeError::WrongVenue`]); a static code needs `static_enabled`, the setting
    /// of the scanned venue ([`CodeError::StaticNotEnabled`]); a rotating code must be of the
    /// current slice or the one before ([`CodeError::NotYetValid`], [`CodeError::Expired`]).
    pub fn verify(
        &self,
        scanned: &ScannedCode,
        expected_venue: Option<VenueNumber>,
        static_enabled: bool,
        now: DateTime<Utc>,
    ) -> Result<CodeKind, CodeError> {
        self.mac(scanned.kind, &scanned.header)
            .verify_truncated_left(&scanned.mac)
            .map_err(|_| CodeError::Forged)?;
        if let Some(expected) = expected_venue
            && expected != scanned.venue
        {
            return Err(CodeError::WrongVenue { expected, scanned: scanned.venue });
        }
        match scanned.kind {
            CodeKind::Static if static_enabled => Ok(CodeKind::Static),
            CodeKind::Static => Err(CodeError::StaticNotEnabled),
            CodeKind::Rotating => {
                let current = self.slice_length.slice_at(now)?;
                match current.checked_sub(scanned.slice) {
                    None => Err(CodeError::NotYetValid),
                    Some(0 | 1) => Ok(CodeKind::Rotating),
                    Some(_) => Err(CodeError::Expired),
                }
            }
        }
    }

    fn token(&self, kind: CodeKind, venue: VenueNumber, slice: u32) -> String {
        let mut header = [0u8; HEADER_LEN];
        header[0] = kind.byte();
        header[1..3].copy_from_slice(&venue.0.to_be_bytes());
        header[3..7].copy_from_slice(&slice.to_be_bytes());
        let tag = self.mac(kind, &header).finalize().into_bytes();
        let mut bytes = [0u8; TOKEN_BYTES];
        bytes[..HEADER_LEN].copy_from_slice(&header);
        bytes[HEADER_LEN..].copy_from_slice(&tag[..MAC_LEN]);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// HMAC-SHA256 keyed with the secret, fed label ‖ 0x00 ‖ period ‖ header.
    fn mac(&self, kind: CodeKind, header: &[u8; HEADER_LEN]) -> HmacSha256 {
        // HMAC pads a key shorter than the hash block (64 bytes) with zeros, so keying with
        // the zero-padded secret is HMAC under the 32-byte secret itself, without a fallible
        // constructor. The worked-example test checks this against `new_from_slice`.
        let mut key = [0u8; 64];
        key[..SECRET_LEN].copy_from_slice(&self.secret.0);
        let mut mac = HmacSha256::new(&Key::<HmacSha256>::from(key));
        mac.update(kind.label());
        mac.update(&[0]);
        mac.update(self.period.as_bytes());
        mac.update(header);
        mac
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_texts() {
        assert_eq!(SliceLength::default().secs(), 15);
        assert!(SliceLength::new(4).is_err());
        assert!(SliceLength::new(5).is_ok());
        assert!(SliceLength::new(300).is_ok());
        assert_eq!(SliceLength::new(301), Err(SliceLengthError { secs: 301 }));
        assert_eq!(PeriodSecret::from_bytes(&[1; 31]), Err(SecretError::WrongLength { len: 31 }));
        assert_eq!(PeriodSecret::from_bytes(&[9; 32]).unwrap().as_bytes(), &[9; 32]);
        let debug = format!("{:?}", key());
        assert!(!debug.contains("31") && debug.contains("redacted"), "{debug}");
        assert_eq!(CodeError::Expired.to_string(), "二维码已过期，请重新扫描现场最新的二维码");
        assert_eq!(CodeError::Expired.code(), "checkin_code_expired");
        assert_eq!(CodeError::Malformed.to_string(), "不是本考点的报到码");
    }

    fn key() -> CheckinKey {
        let secret: [u8; 32] = std::array::from_fn(|i| i as u8);
        CheckinKey::new(PERIOD, PeriodSecret::from(secret), SliceLength::DEFAULT)
    }

    const PERIOD: Uuid = Uuid::from_u128(0x0190_f3a2_7c4e_7b1a_9d2e_5f60_7182_93a4);

    fn at(rfc3339: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc()
    }

    /// The documented layout, computed from scratch with `hmac` keyed by `new_from_slice`.
    fn by_the_book(label: &[u8], kind: u8, venue: u16, slice: u32) -> String {
        let secret: Vec<u8> = (0u8..32).collect();
        let mut header = vec![kind];
        header.extend_from_slice(&venue.to_be_bytes());
        header.extend_from_slice(&slice.to_be_bytes());
        let mut message = label.to_vec();
        message.push(0);
        message.extend_from_slice(&PERIOD.as_bytes()[..]);
        message.extend_from_slice(&header);
        let mut mac = <HmacSha256 as KeyInit>::new_from_slice(&secret).unwrap();
        mac.update(&message);
        let tag = mac.finalize().into_bytes();
        let mut token = header;
        token.extend_from_slice(&tag[..14]);
        URL_SAFE_NO_PAD.encode(token)
    }

    #[test]
    fn worked_example_rotating() {
        // Also cross-checked once with Python's hmac/hashlib/base64 modules.
        // 2026-06-13T00:00:07Z is unix 1781308807; ⌊1781308807 / 15⌋ = 118753920.
        let now = at("2026-06-13T00:00:07Z");
        assert_eq!(now.timestamp(), 1_781_308_807);
        let shown = key().rotating(VenueNumber::new(3), now).unwrap();
        assert_eq!(shown.slice, 118_753_920);
        assert_eq!(shown.token, "RAADBxQKgJKknzmqKZkWbkZEQM2w");
        assert_eq!(shown.token, by_the_book(b"baoming-checkin rotating v1", 0x44, 3, 118_753_920));
        assert_eq!(shown.turns_at, at("2026-06-13T00:00:15Z"));
        assert_eq!(shown.expires_at, at("2026-06-13T00:00:30Z"));
        assert_eq!(shown.seconds_until_turn, 8);
    }

    #[test]
    fn worked_example_static() {
        let token = key().static_code(VenueNumber::new(513));
        assert_eq!(token, "SAIBAAAAAHAgPuKEKMjfzNEPLole");
        assert_eq!(token, by_the_book(b"baoming-checkin static v1", 0x48, 513, 0));
        let scanned = ScannedCode::parse(&token).unwrap();
        assert_eq!(scanned.kind(), CodeKind::Static);
        assert_eq!(scanned.venue(), VenueNumber::new(513));
    }

    #[test]
    fn static_code_needs_the_venue_setting_and_ignores_time() {
        let key = key();
        let venue = VenueNumber::new(2);
        let scanned = ScannedCode::parse(&key.static_code(venue)).unwrap();
        for now in [at("2026-01-01T00:00:00Z"), at("2030-12-31T23:59:59Z")] {
            assert_eq!(key.verify(&scanned, Some(venue), true, now), Ok(CodeKind::Static));
            assert_eq!(
                key.verify(&scanned, Some(venue), false, now),
                Err(CodeError::StaticNotEnabled)
            );
        }
    }

    #[test]
    fn static_mac_does_not_verify_as_rotating() {
        // Same header bytes but the rotating kind: the MAC was made under the static label.
        let key = key();
        let token = key.static_code(VenueNumber::new(1));
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[0] = KIND_ROTATING_V1;
        let swapped = ScannedCode::parse(&URL_SAFE_NO_PAD.encode(bytes)).unwrap();
        let now = at("1970-01-01T00:00:01Z");
        assert_eq!(key.verify(&swapped, None, true, now), Err(CodeError::Forged));
    }

    #[test]
    fn parse_refuses_what_is_not_a_token() {
        let good = key().static_code(VenueNumber::new(1));
        let mut nonzero_static = URL_SAFE_NO_PAD.decode(&good).unwrap();
        nonzero_static[6] = 1;
        let mut unknown_kind = URL_SAFE_NO_PAD.decode(&good).unwrap();
        unknown_kind[0] = 0x45;
        for text in [
            String::new(),
            "hello".to_owned(),
            good[..27].to_owned(),
            format!("{good}A"),
            format!("{}=", &good[..27]),
            good.replace(|c: char| c.is_ascii_alphabetic(), "+").chars().take(28).collect(),
            "中".repeat(28),
            URL_SAFE_NO_PAD.encode(nonzero_static),
            URL_SAFE_NO_PAD.encode(unknown_kind),
        ] {
            assert_eq!(ScannedCode::parse(&text), Err(CodeError::Malformed), "{text:?}");
        }
        assert!(ScannedCode::parse(&format!("  {good}\n")).is_ok());
    }

    #[test]
    fn wrong_venue_is_told_apart_from_forged() {
        let key = key();
        let now = at("2026-06-13T00:00:07Z");
        let shown = key.rotating(VenueNumber::new(4), now).unwrap();
        let scanned = ScannedCode::parse(&shown.token).unwrap();
        assert_eq!(
            key.verify(&scanned, Some(VenueNumber::new(5)), false, now),
            Err(CodeError::WrongVenue {
                expected: VenueNumber::new(5),
                scanned: VenueNumber::new(4)
            })
        );
        assert_eq!(key.verify(&scanned, None, false, now), Ok(CodeKind::Rotating));
    }

    #[test]
    fn clock_out_of_range_is_an_error() {
        let key = key();
        let before_1970 = at("1969-12-31T23:59:59Z");
        assert_eq!(key.rotating(VenueNumber::new(1), before_1970), Err(CodeError::ClockOutOfRange));
        let far = at("9999-01-01T00:00:00Z");
        assert_eq!(key.rotating(VenueNumber::new(1), far), Err(CodeError::ClockOutOfRange));
        // The very last slice still has a turn and an expiry.
        let len = SliceLength::new(5).unwrap();
        let last = len.slice_start(u64::from(u32::MAX)).unwrap();
        assert_eq!(len.slice_at(last), Ok(u32::MAX));
    }
}
