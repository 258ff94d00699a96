//! Venue check-in (扫码报到): at the venue, a paid participant scans the venue's QR code in the
//! mini-program, inside the period's check-in window. This crate derives and verifies the
//! venue codes, checks an optional geofence, and renders QR codes. It is pure: the secret
//! bytes and the time are passed in.
//!
//! ```
//! use baoming_checkin::{CheckinKey, CodeError, CodeKind, PeriodSecret, ScannedCode, SliceLength, VenueNumber, qr};
//! use chrono::{DateTime, TimeDelta};
//! use uuid::Uuid;
//!
//! let period = Uuid::from_u128(0x0190_f3a2_7c4e_7b1a_9d2e_5f60_7182_93a4);
//! let secret = PeriodSecret::from_bytes(&[7u8; 32])?; // the store keeps random bytes
//! let key = CheckinKey::new(period, secret, SliceLength::DEFAULT);
//! let venue = VenueNumber::new(3);
//! let now = DateTime::parse_from_rfc3339("2026-06-13T08:00:07+08:00")?.to_utc();
//!
//! // The venue screen shows this and fetches the next one at `turns_at`.
//! let shown = key.rotating(venue, now)?;
//! assert_eq!(shown.token.len(), 28);
//! assert_eq!(shown.seconds_until_turn, 8);
//! let svg = qr::svg(&shown.token, qr::Ecc::Medium)?;
//! assert!(svg.starts_with("<svg"));
//!
//! // The participant scans it 10 s later: the server reads the venue, then verifies.
//! let scanned = ScannedCode::parse(&shown.token)?;
//! assert_eq!(scanned.venue(), venue);
//! let later = now + TimeDelta::seconds(10);
//! assert_eq!(key.verify(&scanned, Some(venue), false, later)?, CodeKind::Rotating);
//!
//! // A photo of it forwarded to a colleague is refused half a minute later.
//! let stale = now + TimeDelta::seconds(30);
//! assert_eq!(key.verify(&scanned, Some(venue), false, stale), Err(CodeError::Expired));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Token format (version 1)
//!
//! A token is 21 bytes written as 28 characters of base64url without padding (RFC 4648 §5,
//! alphabet `A–Z a–z 0–9 - _`). 21 is a multiple of 3, so every character carries 6 bits and
//! no trailing bits are left over. 28 characters fit the 32-character `scene` of a
//! mini-program code and a small plain QR code alike.
//!
//! | bytes | field | value |
//! |---|---|---|
//! | 0 | kind and version | `0x44` rotating v1, `0x48` static v1 (so the token starts with `R` or `S`); any other value is malformed |
//! | 1–2 | venue number | `u16`, big-endian |
//! | 3–6 | slice index | `u32`, big-endian; always 0 in a static code |
//! | 7–20 | MAC | the first 14 bytes (112 bits) of HMAC-SHA256 |
//!
//! The HMAC is keyed with the period's 32-byte [`PeriodSecret`] and computed over
//!
//! ```text
//! label ‖ 0x00 ‖ period id (16 bytes, RFC 9562 byte order) ‖ bytes 0–6 of the token
//! ```
//!
//! where `label` is the ASCII text `baoming-checkin rotating v1` for a rotating code and
//! `baoming-checkin static v1` for a static one. So the MAC covers the kind, the venue, the
//! slice, the period and the purpose; the fields in clear only let the server answer
//! precisely (expired, another venue, forged) and find the venue without trying each one.
//! The MAC is compared in constant time.
//!
//! # Acceptance rule
//!
//! Time is cut into slices of the period's [`SliceLength`] (default 15 s, 5–300 s); the
//! slice index of an instant is ⌊unix seconds / length⌋. A rotating code of slice `s` is
//! accepted when the server's current slice is `s` or `s + 1`: from the start of its own
//! slice until the end of the next one, so a scan made just as the screen turns still works.
//! A current slice of `s − 1` or earlier is [`CodeError::NotYetValid`] (clocks disagree), one of
//! `s + 2` or later [`CodeError::Expired`]. A photo forwarded to a colleague elsewhere is therefore stale
//! within two slices (30 s by default): to check in one has to see the screen.
//!
//! [`CheckinKey::verify`] checks, in order: the MAC under this period's key (a code of another
//! period, another secret, or altered in any way is [`CodeError::Forged`]); the venue against
//! the one expected, if any ([`CodeError::WrongVenue`]); for a static code, that the venue
//! enables static codes ([`CodeError::StaticNotEnabled`]); for a rotating code, the slice.
//! The check-in window and the registration's state are the caller's business.
//!
//! A static code (kind `0x48`) is the optional printed fallback of a venue, for when the
//! screen fails. It never rotates and is off by default; it proves only that someone saw the
//! paper, so pair it with a geofence. Giving the period a new secret revokes every printed
//! code (and changes the rotating ones from the next fetch on).
//!
//! # Geofence
//!
//! A venue may have a [`Geofence`]: a centre and a radius of 10–5000 m, in GCJ-02
//! coordinates as `wx.getLocation({ type: 'gcj02' })` reports them (pick the centre with the
//! Tencent map, which also uses GCJ-02, so no datum conversion is needed). The participant is
//! inside when the great-circle (haversine) distance on a sphere of 6 371 008.8 m is at most
//! the radius. Outside, [`GeofenceError::Outside`] carries the distance and the radius; a
//! venue with a fence and a request without a position is [`GeofenceError::PositionMissing`].
//!
//! # QR codes
//!
//! [`qr::svg`] and [`qr::png`] render any text with a 4-module quiet zone.

#![warn(missing_docs)]

mod code;
mod geofence;
pub mod qr;

pub use code::{
    CheckinKey, CodeError, CodeKind, DisplayedCode, HEADER_LEN, KIND_ROTATING_V1, KIND_STATIC_V1,
    LABEL_ROTATING_V1, LABEL_STATIC_V1, MAC_LEN, PeriodSecret, SECRET_LEN, ScannedCode,
    SecretError, SliceLength, SliceLengthError, TOKEN_BYTES, TOKEN_CHARS, VenueNumber,
};
pub use geofence::{CoordinateError, EARTH_RADIUS_M, Geofence, GeofenceError, Position};
