//! Properties of venue codes over random times, slice lengths, venues and periods, and QR
//! codes decoded back with an independent reader.

use std::io::Cursor;

use baoming_checkin::qr::{self, Ecc};
use baoming_checkin::{
    CheckinKey, CodeError, CodeKind, PeriodSecret, ScannedCode, SliceLength, TOKEN_CHARS,
    VenueNumber,
};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use uuid::Uuid;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).unwrap()
}

fn key(period: u128, secret: [u8; 32], slice: u32) -> CheckinKey {
    CheckinKey::new(
        Uuid::from_u128(period),
        PeriodSecret::from(secret),
        SliceLength::new(slice).unwrap(),
    )
}

/// What `verify` must answer for a rotating code of slice `shown` checked in slice `now`.
fn expected(shown: i64, now: i64) -> Result<CodeKind, CodeError> {
    match now - shown {
        d if d < 0 => Err(CodeError::NotYetValid),
        0 | 1 => Ok(CodeKind::Rotating),
        _ => Err(CodeError::Expired),
    }
}

fn decode_png(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut reader = png::Decoder::new(Cursor::new(bytes)).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

fn read_qr(w: usize, h: usize, pixel: impl FnMut(usize, usize) -> u8) -> Vec<String> {
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, pixel);
    image.detect_grids().iter().map(|g| g.decode().unwrap().1).collect()
}

/// The modules an SVG from `qr::svg` draws, read back from its single path.
fn svg_modules(svg: &str) -> (usize, Vec<bool>) {
    let view = svg.split(r#"viewBox="0 0 "#).nth(1).unwrap();
    let side: usize = view.split(' ').next().unwrap().parse().unwrap();
    let path = svg.split(r#"<path d=""#).nth(1).unwrap().split('"').next().unwrap();
    let mut dark = vec![false; side * side];
    for cmd in path.split('M').filter(|c| !c.is_empty()) {
        // "{x} {y}h{run}v1h-{run}z"
        let (xy, rest) = cmd.split_once('h').unwrap();
        let (x, y) = xy.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let run: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        assert_eq!(cmd, format!("{x} {y}h{run}v1h-{run}z"));
        for i in x..x + run {
            dark[y * side + i] = true;
        }
    }
    (side, dark)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A code is accepted in its own slice and the next, and in no other.
    #[test]
    fn accepted_in_exactly_two_slices(
        t in 1_000_000_000i64..4_000_000_000,
        len in 5u32..=300,
        venue in any::<u16>(),
        offset in -1000i64..2000,
        secret in any::<[u8; 32]>(),
    ) {
        let key = key(7, secret, len);
        let venue = VenueNumber::new(venue);
        let shown = key.rotating(venue, at(t)).unwrap();
        let scanned = ScannedCode::parse(&shown.token).unwrap();
        let l = i64::from(len);
        prop_assert_eq!(i64::from(shown.slice), t.div_euclid(l));
        prop_assert_eq!(shown.turns_at.timestamp(), (t.div_euclid(l) + 1) * l);
        prop_assert_eq!(shown.expires_at.timestamp(), (t.div_euclid(l) + 2) * l);
        let now = t + offset;
        let got = key.verify(&scanned, Some(venue), false, at(now));
        prop_assert_eq!(got, expected(t.div_euclid(l), now.div_euclid(l)));
    }

    /// The edges, with the time injected at exact slice boundaries.
    #[test]
    fn slice_boundaries(t in 1_000_000_000i64..4_000_000_000, len in 5u32..=300) {
        let key = key(7, [1; 32], len);
        let venue = VenueNumber::new(1);
        let shown = key.rotating(venue, at(t)).unwrap();
        let scanned = ScannedCode::parse(&shown.token).unwrap();
        let l = i64::from(len);
        let start = t.div_euclid(l) * l;
        let verify = |now: i64| key.verify(&scanned, Some(venue), false, at(now));
        prop_assert_eq!(verify(start - 1), Err(CodeError::NotYetValid));
        prop_assert_eq!(verify(start), Ok(CodeKind::Rotating));
        prop_assert_eq!(verify(start + l - 1), Ok(CodeKind::Rotating));
        prop_assert_eq!(verify(start + l), Ok(CodeKind::Rotating));
        prop_assert_eq!(verify(start + 2 * l - 1), Ok(CodeKind::Rotating));
        prop_assert_eq!(verify(start + 2 * l), Err(CodeError::Expired));
        prop_assert_eq!(verify(start + 100 * l), Err(CodeError::Expired));
        // The code shown at the very start and at the last second of a slice is the same.
        prop_assert_eq!(&key.rotating(venue, at(start)).unwrap().token, &shown.token);
        prop_assert_eq!(&key.rotating(venue, at(start + l - 1)).unwrap().token, &shown.token);
        prop_assert_ne!(&key.rotating(venue, at(start + l)).unwrap().token, &shown.token);
        prop_assert_eq!(i64::from(shown.seconds_until_turn), start + l - t);
    }

    /// Changing any one character of a rotating or static token makes it fail.
    #[test]
    fn any_changed_character_fails(
        t in 1_000_000_000i64..4_000_000_000,
        venue in any::<u16>(),
        is_static in any::<bool>(),
        position in 0..TOKEN_CHARS,
        replacement in 0..ALPHABET.len(),
    ) {
        let key = key(7, [2; 32], 15);
        let venue = VenueNumber::new(venue);
        let token = if is_static {
            key.static_code(venue)
        } else {
            key.rotating(venue, at(t)).unwrap().token
        };
        prop_assert_eq!(token.len(), TOKEN_CHARS);
        prop_assert!(token.bytes().all(|b| ALPHABET.contains(&b)));
        let mut bytes = token.clone().into_bytes();
        prop_assume!(bytes[position] != ALPHABET[replacement]);
        bytes[position] = ALPHABET[replacement];
        let changed = String::from_utf8(bytes).unwrap();
        // The original passes, with static codes enabled and any venue.
        let original = ScannedCode::parse(&token).unwrap();
        prop_assert!(key.verify(&original, None, true, at(t)).is_ok());
        if let Ok(scanned) = ScannedCode::parse(&changed) {
            prop_assert_eq!(key.verify(&scanned, None, true, at(t)), Err(CodeError::Forged));
        }
    }

    /// Another expected venue, another period id or another secret fails.
    #[test]
    fn other_venue_period_or_secret_fails(
        t in 1_000_000_000i64..4_000_000_000,
        venue in any::<u16>(),
        other_venue in any::<u16>(),
        period in any::<u128>(),
        other_period in any::<u128>(),
        secret in any::<[u8; 32]>(),
        other_secret in any::<[u8; 32]>(),
        is_static in any::<bool>(),
    ) {
        prop_assume!(venue != other_venue && period != other_period && secret != other_secret);
        let (v, ov) = (VenueNumber::new(venue), VenueNumber::new(other_venue));
        let key = key(period, secret, 15);
        let token = if is_static { key.static_code(v) } else { key.rotating(v, at(t)).unwrap().token };
        let scanned = ScannedCode::parse(&token).unwrap();
        prop_assert!(key.verify(&scanned, Some(v), true, at(t)).is_ok());
        prop_assert_eq!(
            key.verify(&scanned, Some(ov), true, at(t)),
            Err(CodeError::WrongVenue { expected: ov, scanned: v })
        );
        let other_period_key = self::key(other_period, secret, 15);
        prop_assert_eq!(other_period_key.verify(&scanned, Some(v), true, at(t)), Err(CodeError::Forged));
        let other_secret_key = self::key(period, other_secret, 15);
        prop_assert_eq!(other_secret_key.verify(&scanned, Some(v), true, at(t)), Err(CodeError::Forged));
        // The other venue's own code is a different token.
        let theirs = if is_static { key.static_code(ov) } else { key.rotating(ov, at(t)).unwrap().token };
        prop_assert_ne!(theirs, token);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// PNG and SVG both decode back to the text, and draw the same modules.
    #[test]
    fn qr_round_trip(
        text in "[A-Za-z0-9_-]{1,40}|[ -~]{1,120}|\\PC{1,30}",
        module_px in 1u32..=6,
        ecc in prop_oneof![Just(Ecc::Low), Just(Ecc::Medium), Just(Ecc::Quartile), Just(Ecc::High)],
    ) {
        let png = qr::png(&text, ecc, module_px).unwrap();
        prop_assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let (w, h, pixels) = decode_png(&png);
        prop_assert_eq!(w, h);
        prop_assert!(pixels.iter().all(|&p| p == 0 || p == 255));
        let module_px = module_px as usize;
        prop_assert_eq!(w % module_px, 0);
        // The quiet zone: the outer 4 modules are white.
        let quiet = 4 * module_px;
        for y in 0..h {
            for x in 0..w {
                if x < quiet || y < quiet || x >= w - quiet || y >= h - quiet {
                    prop_assert_eq!(pixels[y * w + x], 255);
                }
            }
        }
        // Scale 1-pixel modules up so the reader has room.
        let scale = 4usize.div_ceil(module_px);
        let decoded = read_qr(w * scale, h * scale, |x, y| pixels[(y / scale) * w + x / scale]);
        prop_assert_eq!(decoded, vec![text.clone()]);

        let svg = qr::svg(&text, ecc).unwrap();
        let (side, dark) = svg_modules(&svg);
        prop_assert_eq!(side * module_px, w);
        for (i, &d) in dark.iter().enumerate() {
            let (mx, my) = (i % side, i / side);
            let p = pixels[(my * module_px) * w + mx * module_px];
            prop_assert_eq!(d, p == 0);
        }
        let decoded = read_qr(side * 4, side * 4, |x, y| if dark[(y / 4) * side + x / 4] { 0 } else { 255 });
        prop_assert_eq!(decoded, vec![text]);
    }
}

#[test]
fn a_venue_token_renders_as_a_small_code() {
    let key = key(7, [3; 32], 15);
    let token = key.rotating(VenueNumber::new(12), at(1_781_308_807)).unwrap().token;
    let png = qr::png(&token, Ecc::Medium, 8).unwrap();
    let (w, _, pixels) = decode_png(&png);
    // Version 3 (29 modules) plus the quiet zone, at 8 px per module.
    assert_eq!(w, 37 * 8);
    assert_eq!(read_qr(w, w, |x, y| pixels[y * w + x]), vec![token.clone()]);
    assert!(qr::svg(&token, Ecc::Medium).unwrap().contains(r#"viewBox="0 0 37 37""#));
}
