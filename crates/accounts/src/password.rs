//! Staff passwords: the acceptance rules, Argon2id hashing to PHC strings, verification, and
//! generated passwords.
//!
//! # Hashing parameters
//!
//! [`hash_password`] uses `Argon2::default()` of the `argon2` crate (0.6), i.e. the parameters
//! recommended by OWASP and by the crate:
//!
//! - algorithm **Argon2id**, version 0x13 (19);
//! - memory **m = 19 456 KiB** (19 MiB), iterations **t = 2**, parallelism **p = 1**;
//! - 16-byte random salt from the operating system, 32-byte output.
//!
//! The output is a self-describing PHC string such as
//! `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`; [`verify_password`] reads the parameters
//! back from the string, so hashes stay verifiable if the defaults change later.

use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::{ARGON2ID_IDENT, Argon2, Params, PasswordHasher, PasswordVerifier};

use crate::{AccountError, Username};

/// A password that satisfies the rules for staff accounts: 10–128 characters, not one
/// character repeated, not the username.
///
/// The password is kept exactly as typed (no trimming, no normalisation). `Debug` prints
/// `Password(…)` so it never ends up in a log; there is no `Display` and no `Serialize`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// The minimum length, in characters (Unicode scalar values).
    pub const MIN_CHARS: usize = 10;
    /// The maximum length, in characters (Unicode scalar values).
    pub const MAX_CHARS: usize = 128;

    /// Checks a new password of the user `username`.
    ///
    /// Refuses fewer than [`Password::MIN_CHARS`] or more than [`Password::MAX_CHARS`]
    /// characters, a single character repeated (`aaaaaaaaaa`), and the username itself,
    /// compared ignoring ASCII case (usernames are lowercase, so `Admin12345` is refused for
    /// `admin12345`).
    pub fn parse(raw: &str, username: &Username) -> Result<Password, AccountError> {
        let chars = raw.chars().count();
        if chars < Self::MIN_CHARS {
            return Err(AccountError::PasswordTooShort);
        }
        if chars > Self::MAX_CHARS {
            return Err(AccountError::PasswordTooLong);
        }
        let mut it = raw.chars();
        if let Some(first) = it.next()
            && it.all(|c| c == first)
        {
            return Err(AccountError::PasswordRepeated);
        }
        if raw.eq_ignore_ascii_case(username.as_str()) {
            return Err(AccountError::PasswordIsUsername);
        }
        Ok(Password(raw.to_owned()))
    }

    /// The password as typed (to be hashed; never logged).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// The largest memory cost, in KiB, that [`verify_password`] accepts in a stored hash
/// (256 MiB, 13× the default): a corrupted or planted PHC string must not make the server
/// allocate gigabytes.
pub const MAX_VERIFY_M_COST: u32 = 256 * 1024;
/// The largest iteration count that [`verify_password`] accepts in a stored hash.
pub const MAX_VERIFY_T_COST: u32 = 16;
/// The largest parallelism that [`verify_password`] accepts in a stored hash.
pub const MAX_VERIFY_P_COST: u32 = 16;

/// Hashes `password` with Argon2id and the crate's default parameters (see the
/// [module documentation](self)) and a fresh random salt, returning the PHC string to store.
///
/// Two hashes of the same password differ because the salt differs. This takes tens of
/// milliseconds in a release build: call it off the async executor (`spawn_blocking`).
pub fn hash_password(password: &Password) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| AccountError::Hashing(e.to_string()))
}

/// Whether `raw` is the password whose hash is the PHC string `phc`.
///
/// Returns `false` — never panics — for a wrong password and for any PHC string that is
/// malformed, is not Argon2id, lacks a salt or hash, or asks for more than
/// [`MAX_VERIFY_M_COST`] / [`MAX_VERIFY_T_COST`] / [`MAX_VERIFY_P_COST`]. The final comparison
/// is constant-time (done by the `password-hash` crate). The parameters are taken from `phc`,
/// so hashes made with older defaults keep verifying. Slow like [`hash_password`].
///
/// `raw` is not checked against the [`Password`] rules: an existing password that predates a
/// rule must still log in.
pub fn verify_password(raw: &str, phc: &str) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    if hash.algorithm != ARGON2ID_IDENT {
        return false;
    }
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_VERIFY_M_COST
        || params.t_cost() > MAX_VERIFY_T_COST
        || params.p_cost() > MAX_VERIFY_P_COST
    {
        return false;
    }
    Argon2::default().verify_password(raw.as_bytes(), &hash).is_ok()
}

/// The characters of generated passwords: ASCII letters and digits without the look-alikes
/// `0 O o 1 l I` (56 characters, about 5.8 bits each).
const UNAMBIGUOUS: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// The length of [`generate_password`]'s passwords (about 116 bits of entropy).
pub const GENERATED_PASSWORD_CHARS: usize = 20;

/// Generates a random password of [`GENERATED_PASSWORD_CHARS`] characters from an alphabet
/// without look-alike characters (no `0 O o 1 l I`), using the operating system's random
/// number generator without modulo bias — e.g. for the demo administrator of development mode.
///
/// The result satisfies [`Password::parse`] for any username (up to a negligible chance of 20
/// identical characters, which is rejected and redrawn).
pub fn generate_password() -> Result<String, AccountError> {
    // The largest multiple of the alphabet size that fits in a byte: bytes at or above it are
    // rejected so that every character is equally likely.
    let limit = (256 / UNAMBIGUOUS.len() * UNAMBIGUOUS.len()) as u8;
    loop {
        let mut out = String::with_capacity(GENERATED_PASSWORD_CHARS);
        while out.len() < GENERATED_PASSWORD_CHARS {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).map_err(|_| AccountError::Randomness)?;
            for b in bytes.into_iter().filter(|b| *b < limit) {
                if out.len() == GENERATED_PASSWORD_CHARS {
                    break;
                }
                let c = UNAMBIGUOUS[usize::from(b) % UNAMBIGUOUS.len()];
                out.push(char::from(c));
            }
        }
        let mut bytes = out.bytes();
        if let Some(first) = bytes.next()
            && bytes.any(|b| b != first)
        {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::time::Instant;

    fn user(name: &str) -> Username {
        Username::parse(name).unwrap()
    }

    #[test]
    fn password_good() {
        let u = user("admin");
        for raw in [
            "correct horse",
            "0123456789",
            "aaaaaaaaab",
            " leading and trailing ",
            "密码密码密码密码密码1",
            &"x".repeat(127).chars().chain(['y']).collect::<String>(),
            "admin12345",
        ] {
            let p = Password::parse(raw, &u).unwrap();
            assert_eq!(p.expose(), raw, "kept exactly as typed");
        }
    }

    #[test]
    fn password_bad() {
        use AccountError::*;
        let u = user("zhangsan01");
        for (raw, err) in [
            (String::new(), PasswordTooShort),
            ("short".into(), PasswordTooShort),
            ("123456789".into(), PasswordTooShort),
            ("密码密码密码密码密".into(), PasswordTooShort),
            ("x".repeat(129), PasswordTooLong),
            ("aaaaaaaaaa".into(), PasswordRepeated),
            ("          ".into(), PasswordRepeated),
            ("密".repeat(12), PasswordRepeated),
            ("zhangsan01".into(), PasswordIsUsername),
            ("ZhangSan01".into(), PasswordIsUsername),
        ] {
            assert_eq!(Password::parse(&raw, &u), Err(err), "{raw:?}");
        }
        assert_eq!(PasswordTooShort.to_string(), "密码至少需要10个字符");
    }

    #[test]
    fn password_debug_hides_the_secret() {
        let p = Password::parse("s3cret-passw0rd", &user("admin")).unwrap();
        assert_eq!(format!("{p:?}"), "Password(…)");
        assert_eq!(format!("{:?}", Some(&p)), "Some(Password(…))");
    }

    /// Two hashes: round trip, wrong password, salt, tampering. Kept to few Argon2 calls
    /// because Argon2 is slow in debug builds.
    #[test]
    fn hash_round_trip_and_salt() {
        let p = Password::parse("correct horse battery", &user("admin")).unwrap();

        let started = Instant::now();
        let h1 = hash_password(&p).unwrap();
        let one_hash = started.elapsed();

        assert!(h1.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h1}");
        let started = Instant::now();
        assert!(verify_password("correct horse battery", &h1));
        let one_verify = started.elapsed();
        assert!(!verify_password("correct horse batterY", &h1));
        assert!(!verify_password("", &h1));

        let h2 = hash_password(&p).unwrap();
        assert_ne!(h1, h2, "a fresh salt every time");
        assert!(verify_password("correct horse battery", &h2));

        // Tampering with the stored hash output makes it fail.
        let (head, tail) = h1.rsplit_once('$').unwrap();
        let flipped = if tail.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{head}${flipped}{}", &tail[1..]);
        assert!(!verify_password("correct horse battery", &tampered));

        #[allow(clippy::print_stdout)]
        {
            println!(
                "argon2id m=19456,t=2,p=1: hash {one_hash:?}, verify {one_verify:?} ({})",
                if cfg!(debug_assertions) { "debug" } else { "release" }
            );
        }
    }

    #[test]
    fn parameters_are_read_from_the_hash() {
        use argon2::CustomizedPasswordHasher;
        // A cheap hash with other parameters (as if the defaults had changed since).
        let params = Params::new(64, 1, 2, None).unwrap();
        let old = Argon2::default()
            .hash_password_with_params(b"old password 1", b"fixed-salt-16byt", params)
            .unwrap()
            .to_string();
        assert!(old.starts_with("$argon2id$v=19$m=64,t=1,p=2$"), "{old}");
        assert!(verify_password("old password 1", &old));
        assert!(!verify_password("old password 2", &old));
        // The same hash relabelled as Argon2i is refused.
        assert!(!verify_password("old password 1", &old.replacen("argon2id", "argon2i", 1)));
    }

    #[test]
    fn malformed_or_unacceptable_phc_is_false() {
        for phc in [
            "",
            "$",
            "plaintext",
            "correct horse battery",
            "$argon2id$",
            "$argon2id$v=19$m=19456,t=2,p=1",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0",
            "$argon2id$v=19$m=19456,t=2,p=1$!!!!$!!!!",
            "$argon2id$v=99$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            // Not Argon2id.
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
            // Absurd costs are refused before any work is done.
            "$argon2id$v=19$m=4294967295,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=19456,t=4294967295,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=19456,t=2,p=255$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "$argon2id$v=19$m=0,t=2,p=1$c2FsdHNhbHRzYWx0$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        ] {
            assert!(!verify_password("correct horse battery", phc), "{phc:?}");
        }
    }

    #[test]
    fn generated_passwords() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..50 {
            let g = generate_password().unwrap();
            assert_eq!(g.chars().count(), GENERATED_PASSWORD_CHARS);
            assert!(g.bytes().all(|b| UNAMBIGUOUS.contains(&b)), "{g}");
            assert!(!g.contains(['0', 'O', 'o', '1', 'l', 'I']));
            assert!(Password::parse(&g, &user("admin")).is_ok());
            assert!(seen.insert(g), "no repeats");
        }
    }

    #[test]
    fn alphabet_is_unambiguous_and_unique() {
        let mut sorted = UNAMBIGUOUS.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), UNAMBIGUOUS.len());
        assert_eq!(UNAMBIGUOUS.len(), 56);
    }

    /// A cost parameter as text: cheap (`cheap`), refused (above `max`), or garbage — never a
    /// large accepted cost, which would make the test run Argon2 for long.
    fn cost(cheap: std::ops::RangeInclusive<u32>, max: u32) -> impl Strategy<Value = String> {
        prop_oneof![
            cheap.prop_map(|n| n.to_string()),
            (max + 1..=u32::MAX).prop_map(|n| n.to_string()),
            "[0-9]{11,14}",
            "[a-z0-9.-]{0,4}",
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn verify_password_never_panics(raw in ".{0,40}", phc in ".{0,120}") {
            // Arbitrary strings are never valid hashes, so this never runs Argon2.
            prop_assert!(!verify_password(&raw, &phc));
        }

        #[test]
        fn verify_password_never_panics_on_phc_like_strings(
            alg in prop::sample::select(vec!["argon2id", "argon2i", "argon2d", "x"]),
            v in prop::option::of(0u32..40),
            m in prop::option::of(cost(0..=64, MAX_VERIFY_M_COST)),
            t in prop::option::of(cost(0..=3, MAX_VERIFY_T_COST)),
            p in prop::option::of(cost(0..=2, MAX_VERIFY_P_COST)),
            salt in "[A-Za-z0-9+/=]{0,30}",
            out in "[A-Za-z0-9+/=]{0,50}",
        ) {
            let mut phc = format!("${alg}");
            if let Some(v) = v {
                phc.push_str(&format!("$v={v}"));
            }
            let params: Vec<String> = [("m", m), ("t", t), ("p", p)]
                .into_iter()
                .filter_map(|(k, v)| v.map(|v| format!("{k}={v}")))
                .collect();
            if !params.is_empty() {
                phc.push('$');
                phc.push_str(&params.join(","));
            }
            phc.push_str(&format!("${salt}${out}"));
            // Mostly refused while parsing; the few well-formed ones with a small cost may run
            // Argon2 and must then fail (the output is random, not a hash of "pw").
            let _ = verify_password("pw", &phc);
        }
    }
}
