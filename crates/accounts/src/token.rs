//! Session and CSRF tokens of the back office.
//!
//! The scheme is the one of participant sessions in `baoming-store` (`sessions.rs`): a token is
//! 32 random bytes from the operating system, base64url-encoded without padding (43
//! characters); only its hex SHA-256 ([`token_hash`]) is stored, so a leaked database does not
//! leak live sessions. Keeping the two identical lets staff sessions live in the same table.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::AccountError;

/// The number of random bytes in a token (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// A fresh random token: [`TOKEN_BYTES`] bytes from the operating system, base64url without
/// padding. Hand it to the client once; store only [`token_hash`] of it.
pub fn new_token() -> Result<String, AccountError> {
    let mut bytes = [0u8; TOKEN_BYTES];
    getrandom::fill(&mut bytes).map_err(|_| AccountError::Randomness)?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token: lowercase hex of its SHA-256 (64 characters).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether the `presented` CSRF token (from a header or form field) is the one whose
/// [`token_hash`] is `expected_hash` (stored with the session).
///
/// The presented token is hashed and the two hashes are compared in constant time (the time
/// depends only on the lengths, which are public: 64 hex digits). Comparing hashes rather than
/// tokens also means the comparison never sees the secret itself. An empty `presented` token
/// never matches.
pub fn csrf_matches(expected_hash: &str, presented: &str) -> bool {
    if presented.is_empty() {
        return false;
    }
    constant_time_eq(expected_hash.as_bytes(), token_hash(presented).as_bytes())
}

/// Byte-string equality whose running time does not depend on where the strings differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tokens_are_43_url_safe_chars_and_distinct() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_ne!(a, b);
        for t in [&a, &b] {
            assert_eq!(t.len(), 43);
            assert!(t.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
            assert_eq!(URL_SAFE_NO_PAD.decode(t).unwrap().len(), TOKEN_BYTES);
        }
    }

    #[test]
    fn token_hash_is_hex_sha256() {
        assert_eq!(
            token_hash(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = new_token().unwrap();
        assert_eq!(token_hash(&t).len(), 64);
        assert_eq!(token_hash(&t), token_hash(&t));
    }

    #[test]
    fn csrf() {
        let t = new_token().unwrap();
        let stored = token_hash(&t);
        assert!(csrf_matches(&stored, &t));
        assert!(!csrf_matches(&stored, &new_token().unwrap()));
        assert!(!csrf_matches(&stored, ""));
        assert!(!csrf_matches(&stored, &t[..42]));
        assert!(!csrf_matches(&stored, &format!("{t} ")));
        // The stored hash, presented as the token, does not match itself.
        assert!(!csrf_matches(&stored, &stored));
        assert!(!csrf_matches("", &t));
        assert!(!csrf_matches(&stored[..63], &t));
        assert!(!csrf_matches(&stored.to_uppercase(), &t));
        assert!(!csrf_matches(&token_hash(""), ""), "empty never matches");
    }

    #[test]
    fn constant_time_eq_basics() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    proptest! {
        #[test]
        fn csrf_matches_exactly_its_own_token(a in "[A-Za-z0-9_-]{1,50}", b in "[A-Za-z0-9_-]{1,50}") {
            prop_assert!(csrf_matches(&token_hash(&a), &a));
            prop_assert_eq!(csrf_matches(&token_hash(&a), &b), a == b);
        }
    }
}
