//! Usernames (login names) and display names of staff users.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AccountError;

/// The login name of a staff user: 3–32 characters from `a-z`, `0-9`, `_`, `.` and `-`,
/// starting with a letter.
///
/// Normalisation: surrounding whitespace trimmed, ASCII letters lowercased — so `Alice` and
/// `alice` are the same user. Serialised as the normalised string; deserialised through
/// [`Username::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// The minimum length, in characters.
    pub const MIN_CHARS: usize = 3;
    /// The maximum length, in characters.
    pub const MAX_CHARS: usize = 32;

    /// Parses and normalises a username.
    pub fn parse(raw: &str) -> Result<Username, AccountError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(AccountError::UsernameEmpty);
        }
        if let Some(c) =
            s.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
        {
            return Err(AccountError::UsernameInvalidChar(c));
        }
        // Only ASCII from here on: bytes are characters.
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&s.len()) {
            return Err(AccountError::UsernameLength);
        }
        if !s.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(AccountError::UsernameStart);
        }
        Ok(Username(s.to_ascii_lowercase()))
    }

    /// The normalised username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Username {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Username::parse(s)
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Username {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Username::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The name shown for a staff user in the back office (`张三`, `财务-李四`): 1–50 characters,
/// no control or invisible characters.
///
/// Normalisation: surrounding whitespace trimmed (inner spaces are kept as typed). Serialised
/// as the string; deserialised through [`DisplayName::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// The maximum length, in characters (Unicode scalar values).
    pub const MAX_CHARS: usize = 50;

    /// Parses and trims a display name.
    pub fn parse(raw: &str) -> Result<DisplayName, AccountError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(AccountError::DisplayNameEmpty);
        }
        if s.chars().any(|c| c.is_control() || is_invisible(c)) {
            return Err(AccountError::DisplayNameControlChar);
        }
        if s.chars().count() > Self::MAX_CHARS {
            return Err(AccountError::DisplayNameTooLong);
        }
        Ok(DisplayName(s.to_owned()))
    }

    /// The display name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Format characters that render as nothing: soft hyphen, zero-width and bidi controls, word
/// joiners, BOM (the same set as the participant names of `baoming-domain`).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{2069}'
        | '\u{FEFF}')
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for DisplayName {
    type Err = AccountError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        DisplayName::parse(s)
    }
}

impl AsRef<str> for DisplayName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for DisplayName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for DisplayName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        DisplayName::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn username_good() {
        for (raw, normalised) in [
            ("admin", "admin"),
            ("abc", "abc"),
            ("  Alice.Wang ", "alice.wang"),
            ("zhang_san-2", "zhang_san-2"),
            ("a..", "a.."),
            ("ADMIN", "admin"),
            ("a234567890123456789012345678901b", "a234567890123456789012345678901b"),
        ] {
            let u = Username::parse(raw).unwrap();
            assert_eq!(u.as_str(), normalised, "{raw:?}");
            assert_eq!(u.to_string(), normalised);
            assert_eq!(Username::parse(u.as_str()), Ok(u));
        }
    }

    #[test]
    fn username_bad() {
        use AccountError::*;
        for (raw, err) in [
            ("", UsernameEmpty),
            ("   ", UsernameEmpty),
            ("ab", UsernameLength),
            ("a2345678901234567890123456789012x", UsernameLength),
            ("1admin", UsernameStart),
            ("_admin", UsernameStart),
            (".admin", UsernameStart),
            ("-admin", UsernameStart),
            ("zhang san", UsernameInvalidChar(' ')),
            ("张三丰", UsernameInvalidChar('张')),
            ("admin@x", UsernameInvalidChar('@')),
            ("ａdmin", UsernameInvalidChar('ａ')),
            ("adm\u{200B}in", UsernameInvalidChar('\u{200B}')),
            ("ad\nmin", UsernameInvalidChar('\n')),
        ] {
            assert_eq!(Username::parse(raw), Err(err), "{raw:?}");
        }
        assert_eq!(UsernameStart.to_string(), "用户名必须以字母开头");
    }

    #[test]
    fn username_serde() {
        let u: Username = serde_json::from_str("\"Admin\"").unwrap();
        assert_eq!(u.as_str(), "admin");
        assert_eq!(serde_json::to_string(&u).ok(), Some("\"admin\"".into()));
        assert!(serde_json::from_str::<Username>("\"1x\"").is_err());
    }

    #[test]
    fn display_name_good() {
        for (raw, trimmed) in [
            ("张三", "张三"),
            ("  财务 李四  ", "财务 李四"),
            ("x", "x"),
            ("John O'Brien (审核)", "John O'Brien (审核)"),
        ] {
            assert_eq!(DisplayName::parse(raw).unwrap().as_str(), trimmed, "{raw:?}");
        }
        let fifty = "张".repeat(50);
        assert_eq!(DisplayName::parse(&fifty).unwrap().as_str(), fifty);
    }

    #[test]
    fn display_name_bad() {
        use AccountError::*;
        for (raw, err) in [
            (String::new(), DisplayNameEmpty),
            (" \t ".into(), DisplayNameEmpty),
            ("张".repeat(51), DisplayNameTooLong),
            ("张\u{0}三".into(), DisplayNameControlChar),
            ("张\n三".into(), DisplayNameControlChar),
            ("张\u{200B}三".into(), DisplayNameControlChar),
            ("admin\u{202E}".into(), DisplayNameControlChar),
            ("\u{FEFF}张三".into(), DisplayNameControlChar),
        ] {
            assert_eq!(DisplayName::parse(&raw), Err(err), "{raw:?}");
        }
    }

    #[test]
    fn display_name_serde() {
        let d: DisplayName = serde_json::from_str("\" 张三 \"").unwrap();
        assert_eq!(d.as_str(), "张三");
        assert_eq!(serde_json::to_string(&d).ok(), Some("\"张三\"".into()));
        assert!(serde_json::from_str::<DisplayName>("\"\"").is_err());
    }

    proptest! {
        #[test]
        fn username_parse_is_idempotent(raw in "\\PC{0,40}") {
            if let Ok(u) = Username::parse(&raw) {
                prop_assert_eq!(Username::parse(u.as_str()), Ok(u.clone()));
                let n = u.as_str().len();
                prop_assert!((Username::MIN_CHARS..=Username::MAX_CHARS).contains(&n));
            }
        }

        #[test]
        fn valid_usernames_parse(raw in "[a-zA-Z][a-zA-Z0-9_.-]{2,31}") {
            prop_assert_eq!(Username::parse(&raw).map(|u| u.to_string()), Ok(raw.to_ascii_lowercase()));
        }

        #[test]
        fn display_name_parse_is_idempotent(raw in ".{0,60}") {
            if let Ok(d) = DisplayName::parse(&raw) {
                prop_assert_eq!(DisplayName::parse(d.as_str()), Ok(d.clone()));
            }
        }
    }
}
