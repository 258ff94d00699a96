//! Small helpers: base64 (standard and URL-safe), identifier derivation and a
//! non-cryptographic random source good enough for a simulator.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = (u32::from(b0) << 16) | (u32::from(b1) << 8) | u32::from(b2);
        let symbols = chunk.len() + 1;
        for i in 0..4 {
            if i < symbols {
                let index = ((n >> (18 - 6 * i)) & 0x3f) as usize;
                out.push(char::from(alphabet[index]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (`+`, `/`, `=`), as WeChat's `session_key`.
pub(crate) fn base64_standard(bytes: &[u8]) -> String {
    encode(bytes, STANDARD, true)
}

/// URL-safe base64 without padding (`-`, `_`).
pub(crate) fn base64_url(bytes: &[u8]) -> String {
    encode(bytes, URL_SAFE, false)
}

/// The part of a `js_code` that identifies the simulated person: everything before the
/// first `.` or `#`. `user1`, `user1#2` and `user1.phone` all have the stem `user1`.
pub(crate) fn code_stem(js_code: &str) -> &str {
    match js_code.find(['.', '#']) {
        Some(end) => &js_code[..end],
        None => js_code,
    }
}

/// A 28-character WeChat-looking identifier: `o` followed by the first 27 characters of
/// URL-safe base64 of SHA-256(`material`).
fn derive_id(material: &str) -> String {
    let digest = Sha256::digest(material.as_bytes());
    let encoded = base64_url(&digest);
    let mut id = String::with_capacity(28);
    id.push('o');
    id.extend(encoded.chars().take(27));
    id
}

/// The openid of a code stem: `o` + first 27 chars of base64url(SHA-256(appid ":" stem)).
pub(crate) fn derive_openid(appid: &str, stem: &str) -> String {
    derive_id(&format!("{appid}:{stem}"))
}

/// The unionid of a code stem (independent of the app, as a unionid is shared by all apps
/// of one open-platform account): `o` + first 27 chars of base64url(SHA-256("unionid:" stem)).
pub(crate) fn derive_unionid(stem: &str) -> String {
    derive_id(&format!("unionid:{stem}"))
}

/// Whether `value` looks like an identifier produced by [`derive_openid`].
pub(crate) fn is_well_formed_openid(value: &str) -> bool {
    value.len() == 28
        && value.starts_with('o')
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A non-cryptographic random source: SHA-256 over a per-process random seed and a counter.
/// Simulated session keys and tokens only need to be unique and unpredictable-looking.
#[derive(Debug)]
pub(crate) struct Rng {
    seed: [u8; 32],
    counter: u64,
}

impl Rng {
    pub(crate) fn new() -> Self {
        let mut hasher = RandomState::new().build_hasher();
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        hasher.write_u128(nanos);
        hasher.write_u32(std::process::id());
        let first = hasher.finish();
        let second = RandomState::new().build_hasher().finish();
        let mut material = Vec::with_capacity(32);
        material.extend_from_slice(&first.to_le_bytes());
        material.extend_from_slice(&second.to_le_bytes());
        material.extend_from_slice(&nanos.to_le_bytes());
        Self { seed: Sha256::digest(&material).into(), counter: 0 }
    }

    /// 32 fresh bytes.
    pub(crate) fn next_bytes(&mut self) -> [u8; 32] {
        self.counter = self.counter.wrapping_add(1);
        let mut hasher = Sha256::new();
        hasher.update(self.seed);
        hasher.update(self.counter.to_le_bytes());
        hasher.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64_standard(input.as_bytes()), expected);
        }
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn stems_cut_at_first_dot_or_hash() {
        assert_eq!(code_stem("user1"), "user1");
        assert_eq!(code_stem("user1#2"), "user1");
        assert_eq!(code_stem("user1.anything#x"), "user1");
        assert_eq!(code_stem("#x"), "");
    }

    #[test]
    fn openids_are_wechat_shaped() {
        let id = derive_openid("wx123", "user1");
        assert_eq!(id.len(), 28);
        assert!(is_well_formed_openid(&id));
        assert_eq!(id, derive_openid("wx123", "user1"));
        assert_ne!(id, derive_openid("wx124", "user1"));
    }

    #[test]
    fn session_keys_are_24_chars() {
        let mut rng = Rng::new();
        let a = base64_standard(&rng.next_bytes()[..16]);
        let b = base64_standard(&rng.next_bytes()[..16]);
        assert_eq!(a.len(), 24);
        assert_ne!(a, b);
    }
}
