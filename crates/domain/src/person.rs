//! People: gender, names and mainland mobile phone numbers.
//!
//! Every type here follows "parse, don't validate": its field is private, the only way to build
//! one is a `parse` constructor that normalises the input and returns a [`PersonError`] with a
//! short Chinese message a participant can act on.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The problems found while parsing a gender, a name or a mobile phone number.
///
/// The `Display` text of each variant is a short Chinese message meant for the participant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PersonError {
    /// The gender is neither `male`/`female` nor `男`/`女`.
    #[error("性别只能是男或女")]
    GenderInvalid,
    /// The name is empty (or only whitespace).
    #[error("请填写姓名")]
    NameEmpty,
    /// The name has fewer than [`PersonName::MIN_CHARS`] characters.
    #[error("姓名至少需要2个字")]
    NameTooShort,
    /// The name has more than [`PersonName::MAX_CHARS`] characters.
    #[error("姓名不能超过50个字")]
    NameTooLong,
    /// The name contains a digit.
    #[error("姓名中不能包含数字")]
    NameDigit,
    /// The name contains a control or invisible character.
    #[error("姓名中不能包含控制字符或不可见字符")]
    NameControlChar,
    /// The name contains a character that names may not contain (emoji, punctuation, …).
    #[error("姓名中不能包含字符「{0}」")]
    NameInvalidChar(char),
    /// The name has a middle dot `·` at its start or end, or two in a row.
    #[error("姓名中的间隔号「·」不能在开头或结尾，也不能连续出现")]
    NameMisplacedDot,
    /// The name has no letter and no Chinese character (e.g. only `-` and `.`).
    #[error("姓名中须包含汉字或字母")]
    NameNoLetter,
    /// The phone number is empty.
    #[error("请填写手机号码")]
    PhoneEmpty,
    /// The phone number has a country code other than +86.
    #[error("仅支持中国大陆手机号码（+86）")]
    PhoneNotMainland,
    /// The phone number contains something other than digits, spaces, dashes and a `+86` prefix.
    #[error("手机号码只能包含数字")]
    PhoneNonDigit,
    /// The phone number does not have 11 digits (after removing the country code).
    #[error("手机号码应为11位数字")]
    PhoneWrongLength,
    /// The phone number has 11 digits but does not start with 13–19.
    #[error("手机号码应以13至19开头，请核对")]
    PhoneInvalidPrefix,
}

/// Maps a full-width ASCII variant (U+FF01..=U+FF5E, e.g. `１`, `Ａ`, `－`) to its ASCII
/// counterpart and the ideographic space (U+3000) to a plain space; other characters are kept.
pub(crate) fn fold_fullwidth(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        _ => c,
    }
}

// ---------------------------------------------------------------------------------------------
// Gender
// ---------------------------------------------------------------------------------------------

/// A person's gender as recorded on their identity document.
///
/// Serialised as `male` / `female`; deserialised through [`Gender::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gender {
    /// 男.
    Male,
    /// 女.
    Female,
}

impl Gender {
    /// Both genders, in a stable order (for forms and exhaustive tests).
    pub const ALL: [Gender; 2] = [Gender::Male, Gender::Female];

    /// The stable code: `male` or `female`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Gender::Male => "male",
            Gender::Female => "female",
        }
    }

    /// The Chinese label: `男` or `女`.
    pub const fn label_zh(self) -> &'static str {
        match self {
            Gender::Male => "男",
            Gender::Female => "女",
        }
    }

    /// Parses `male`/`female` (ASCII case-insensitive) or `男`/`女`, ignoring surrounding
    /// whitespace.
    pub fn parse(raw: &str) -> Result<Gender, PersonError> {
        let s = raw.trim();
        if s.eq_ignore_ascii_case("male") || s == "男" {
            Ok(Gender::Male)
        } else if s.eq_ignore_ascii_case("female") || s == "女" {
            Ok(Gender::Female)
        } else {
            Err(PersonError::GenderInvalid)
        }
    }
}

impl FromStr for Gender {
    type Err = PersonError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Gender::parse(s)
    }
}

impl Serialize for Gender {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Gender {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Gender::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// PersonName
// ---------------------------------------------------------------------------------------------

/// A person's name as printed on their identity document: Chinese (`张三`), with the middle dot
/// of minority and transliterated names (`阿沛·阿旺晋美`), or Latin (`John O'Brien-Smith`).
///
/// Normalisation: surrounding whitespace trimmed, each inner run of whitespace collapsed to one
/// space, full-width Latin letters and punctuation folded to ASCII, the middle-dot look-alikes
/// (`•`, `‧`, `・`, `･`) folded to `·` (U+00B7) with no spaces around it, `’` folded to `'`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonName(String);

impl PersonName {
    /// The fewest characters (Unicode scalar values, not bytes) a name may have.
    pub const MIN_CHARS: usize = 2;
    /// The most characters (Unicode scalar values, not bytes) a name may have.
    pub const MAX_CHARS: usize = 50;

    /// Normalises and checks a name; see the type's documentation for the rules.
    pub fn parse(raw: &str) -> Result<PersonName, PersonError> {
        let mut out = String::with_capacity(raw.len());
        let mut pending_space = false;
        let mut has_letter = false;
        for c in raw.trim().chars() {
            let c = normalise_name_char(c);
            if c.is_whitespace() {
                pending_space = true;
                continue;
            }
            check_name_char(c)?;
            if pending_space {
                // No space next to a middle dot: `阿沛 · 阿旺晋美` becomes `阿沛·阿旺晋美`.
                if c != '·' && !out.ends_with('·') {
                    out.push(' ');
                }
                pending_space = false;
            }
            has_letter |= is_han(c) || is_latin_letter(c);
            out.push(c);
        }
        if out.is_empty() {
            return Err(PersonError::NameEmpty);
        }
        if out.starts_with('·') || out.ends_with('·') || out.contains("··") {
            return Err(PersonError::NameMisplacedDot);
        }
        if !has_letter {
            return Err(PersonError::NameNoLetter);
        }
        let len = out.chars().count();
        if len < Self::MIN_CHARS {
            return Err(PersonError::NameTooShort);
        }
        if len > Self::MAX_CHARS {
            return Err(PersonError::NameTooLong);
        }
        Ok(PersonName(out))
    }

    /// The normalised name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Folds look-alike characters to the canonical ones a name is stored with.
fn normalise_name_char(c: char) -> char {
    match fold_fullwidth(c) {
        // Bullet, hyphenation point, katakana middle dot, half-width katakana middle dot.
        '\u{2022}' | '\u{2027}' | '\u{30FB}' | '\u{FF65}' => '·',
        // Right single quotation mark, as typed by phones for `O'Brien`.
        '\u{2019}' => '\'',
        other => other,
    }
}

/// Accepts the characters a name may contain (whitespace is handled by the caller).
fn check_name_char(c: char) -> Result<(), PersonError> {
    if is_han(c) || is_latin_letter(c) || matches!(c, '·' | '.' | '-' | '\'') {
        Ok(())
    } else if c.is_numeric() {
        Err(PersonError::NameDigit)
    } else if c.is_control() || is_invisible(c) {
        Err(PersonError::NameControlChar)
    } else {
        Err(PersonError::NameInvalidChar(c))
    }
}

/// CJK unified ideographs: the basic block, extension A, the compatibility blocks and the
/// supplementary-plane extensions (B–I) where rare characters of real names live.
fn is_han(c: char) -> bool {
    matches!(c,
        '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{2A6DF}'
        | '\u{2A700}'..='\u{2EE5F}'
        | '\u{2F800}'..='\u{2FA1F}'
        | '\u{30000}'..='\u{323AF}')
}

/// ASCII letters, Latin-1 letters (without `×` and `÷`) and Latin Extended-A.
fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (matches!(c, '\u{C0}'..='\u{FF}') && c != '\u{D7}' && c != '\u{F7}')
        || matches!(c, '\u{100}'..='\u{17F}')
}

/// Format characters that render as nothing: soft hyphen, zero-width and bidi controls, BOM.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{AD}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}'
        | '\u{FEFF}')
}

impl AsRef<str> for PersonName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PersonName {
    type Err = PersonError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PersonName::parse(s)
    }
}

impl Serialize for PersonName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PersonName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        PersonName::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// MobilePhone
// ---------------------------------------------------------------------------------------------

/// A mainland China mobile phone number, normalised to 11 digits matching `1[3-9]\d{9}`.
///
/// Accepted input: an optional `+86`, `0086` or `86` prefix, spaces and dashes anywhere,
/// full-width digits. Phone numbers are personal data: `Debug` and `Display` print the masked
/// form (`138****1234`); [`MobilePhone::as_str`] gives the full number for sending messages and
/// storage. Serialised as the full 11 digits (the participant sees their own number).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct MobilePhone(String);

impl MobilePhone {
    /// Normalises and checks a mainland mobile number; see the type's documentation.
    pub fn parse(raw: &str) -> Result<MobilePhone, PersonError> {
        let compact: String = raw
            .chars()
            .map(fold_fullwidth)
            .filter(|c| !c.is_whitespace() && !matches!(c, '-' | '\u{2010}'..='\u{2015}'))
            .collect();
        if compact.is_empty() {
            return Err(PersonError::PhoneEmpty);
        }
        let national = if let Some(rest) = compact.strip_prefix('+') {
            rest.strip_prefix("86").ok_or(PersonError::PhoneNotMainland)?
        } else if let Some(rest) = compact.strip_prefix("0086") {
            rest
        } else if compact.len() == 13
            && let Some(rest) = compact.strip_prefix("86")
        {
            rest
        } else {
            compact.as_str()
        };
        if !national.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PersonError::PhoneNonDigit);
        }
        if national.len() != 11 {
            return Err(PersonError::PhoneWrongLength);
        }
        if !matches!(national.as_bytes(), [b'1', b'3'..=b'9', ..]) {
            return Err(PersonError::PhoneInvalidPrefix);
        }
        Ok(MobilePhone(national.to_owned()))
    }

    /// The full 11-digit number. Do not log it; use [`MobilePhone::masked`] for display.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The masked number, first 3 and last 4 digits: `138****1234`.
    pub fn masked(&self) -> String {
        let head = self.0.get(..3).unwrap_or_default();
        let tail = self.0.get(7..).unwrap_or_default();
        format!("{head}****{tail}")
    }
}

impl AsRef<str> for MobilePhone {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for MobilePhone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MobilePhone").field(&self.masked()).finish()
    }
}

impl fmt::Display for MobilePhone {
    /// Prints the masked number (`138****1234`), so a phone never reaches a log by accident.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl FromStr for MobilePhone {
    type Err = PersonError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MobilePhone::parse(s)
    }
}

impl Serialize for MobilePhone {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MobilePhone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        MobilePhone::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    fn de_str<'a>(s: &'a str) -> StrDeserializer<'a, DeError> {
        s.into_deserializer()
    }

    // --- Gender ---

    #[test]
    fn gender_parses_codes_and_chinese() {
        assert_eq!(Gender::parse("male"), Ok(Gender::Male));
        assert_eq!(Gender::parse("FEMALE"), Ok(Gender::Female));
        assert_eq!(Gender::parse(" Male "), Ok(Gender::Male));
        assert_eq!(Gender::parse("男"), Ok(Gender::Male));
        assert_eq!(Gender::parse("女"), Ok(Gender::Female));
        assert_eq!(Gender::parse("m"), Err(PersonError::GenderInvalid));
        assert_eq!(Gender::parse(""), Err(PersonError::GenderInvalid));
        assert_eq!("female".parse::<Gender>(), Ok(Gender::Female));
    }

    #[test]
    fn gender_codes_round_trip() {
        for g in Gender::ALL {
            assert_eq!(Gender::parse(g.as_str()), Ok(g));
            assert_eq!(Gender::parse(g.label_zh()), Ok(g));
        }
        assert_eq!(Gender::Male.as_str(), "male");
        assert_eq!(Gender::Female.label_zh(), "女");
    }

    #[test]
    fn gender_deserialises_through_parse() {
        assert_eq!(Gender::deserialize(de_str("female")), Ok(Gender::Female));
        assert!(Gender::deserialize(de_str("other")).is_err());
    }

    // --- PersonName ---

    #[test]
    fn chinese_names_are_accepted() {
        assert_eq!(PersonName::parse("张三").map(|n| n.0), Ok("张三".to_owned()));
        assert_eq!(PersonName::parse("  欧阳娜娜 ").map(|n| n.0), Ok("欧阳娜娜".to_owned()));
        // Extension A (䶮) and a compatibility ideograph (U+F900).
        assert!(PersonName::parse("刘䶮").is_ok());
        assert!(PersonName::parse("李\u{F900}").is_ok());
        // Extension B.
        assert!(PersonName::parse("王\u{20BB7}").is_ok());
    }

    #[test]
    fn middle_dots_are_normalised() {
        let want = Ok("阿沛·阿旺晋美".to_owned());
        assert_eq!(PersonName::parse("阿沛·阿旺晋美").map(|n| n.0), want);
        assert_eq!(PersonName::parse("阿沛•阿旺晋美").map(|n| n.0), want);
        assert_eq!(PersonName::parse("阿沛・阿旺晋美").map(|n| n.0), want);
        assert_eq!(PersonName::parse("阿沛 · 阿旺晋美").map(|n| n.0), want);
    }

    #[test]
    fn latin_names_are_accepted_and_whitespace_collapsed() {
        assert_eq!(
            PersonName::parse("  John \t  O’Brien-Smith Jr. ").map(|n| n.0),
            Ok("John O'Brien-Smith Jr.".to_owned())
        );
        assert_eq!(PersonName::parse("José Müller").map(|n| n.0), Ok("José Müller".to_owned()));
        assert_eq!(PersonName::parse("Łukasz").map(|n| n.0), Ok("Łukasz".to_owned()));
        // Full-width Latin folds to ASCII; ideographic space is whitespace.
        assert_eq!(PersonName::parse("Ａｎｎ\u{3000}Lee").map(|n| n.0), Ok("Ann Lee".to_owned()));
        assert_eq!(PersonName::parse("Li").map(|n| n.0), Ok("Li".to_owned()));
    }

    #[test]
    fn name_errors_are_specific() {
        assert_eq!(PersonName::parse(""), Err(PersonError::NameEmpty));
        assert_eq!(PersonName::parse(" \u{3000} "), Err(PersonError::NameEmpty));
        assert_eq!(PersonName::parse("张"), Err(PersonError::NameTooShort));
        assert_eq!(PersonName::parse(&"张".repeat(51)), Err(PersonError::NameTooLong));
        assert!(PersonName::parse(&"张".repeat(50)).is_ok());
        assert_eq!(PersonName::parse("张三1"), Err(PersonError::NameDigit));
        assert_eq!(PersonName::parse("张三１"), Err(PersonError::NameDigit));
        assert_eq!(PersonName::parse("张三😀"), Err(PersonError::NameInvalidChar('😀')));
        assert_eq!(PersonName::parse("张三!"), Err(PersonError::NameInvalidChar('!')));
        assert_eq!(PersonName::parse("Ann×Lee"), Err(PersonError::NameInvalidChar('×')));
        assert_eq!(PersonName::parse("张\u{0}三"), Err(PersonError::NameControlChar));
        assert_eq!(PersonName::parse("张\u{200B}三"), Err(PersonError::NameControlChar));
        assert_eq!(PersonName::parse("·阿沛"), Err(PersonError::NameMisplacedDot));
        assert_eq!(PersonName::parse("阿沛·"), Err(PersonError::NameMisplacedDot));
        assert_eq!(PersonName::parse("阿沛··阿旺"), Err(PersonError::NameMisplacedDot));
        assert_eq!(PersonName::parse("阿沛· ·阿旺"), Err(PersonError::NameMisplacedDot));
        assert_eq!(PersonName::parse("-.'"), Err(PersonError::NameNoLetter));
    }

    #[test]
    fn name_error_messages_are_chinese() {
        assert_eq!(PersonError::NameTooShort.to_string(), "姓名至少需要2个字");
        assert_eq!(PersonError::NameInvalidChar('!').to_string(), "姓名中不能包含字符「!」");
    }

    #[test]
    fn name_serde_goes_through_parse() {
        assert_eq!(
            PersonName::deserialize(de_str(" 李  四 ")).map(|n| n.0),
            Ok("李 四".to_owned())
        );
        assert!(PersonName::deserialize(de_str("1")).is_err());
    }

    // --- MobilePhone ---

    #[test]
    fn phones_are_normalised() {
        for raw in [
            "13812341234",
            "138 1234 1234",
            "138-1234-1234",
            "+86 138 1234 1234",
            "+86-13812341234",
            "0086 13812341234",
            "8613812341234",
            "１３８１２３４１２３４",
            " 138\u{3000}1234\u{3000}1234 ",
        ] {
            assert_eq!(MobilePhone::parse(raw).map(|p| p.0), Ok("13812341234".to_owned()), "{raw}");
        }
    }

    #[test]
    fn phone_errors_are_specific() {
        assert_eq!(MobilePhone::parse(""), Err(PersonError::PhoneEmpty));
        assert_eq!(MobilePhone::parse(" - "), Err(PersonError::PhoneEmpty));
        assert_eq!(MobilePhone::parse("+852 91234567"), Err(PersonError::PhoneNotMainland));
        assert_eq!(MobilePhone::parse("138a1234123"), Err(PersonError::PhoneNonDigit));
        assert_eq!(MobilePhone::parse("1381234123"), Err(PersonError::PhoneWrongLength));
        assert_eq!(MobilePhone::parse("138123412345"), Err(PersonError::PhoneWrongLength));
        assert_eq!(MobilePhone::parse("12812341234"), Err(PersonError::PhoneInvalidPrefix));
        assert_eq!(MobilePhone::parse("23812341234"), Err(PersonError::PhoneInvalidPrefix));
        // An 11-digit landline (Beijing 010 + 8 digits).
        assert_eq!(MobilePhone::parse("010 6123 4567"), Err(PersonError::PhoneInvalidPrefix));
    }

    #[test]
    fn phone_is_masked_in_debug_and_display() {
        let p = MobilePhone::parse("13812341234").expect("valid phone");
        assert_eq!(p.masked(), "138****1234");
        assert_eq!(p.to_string(), "138****1234");
        assert_eq!(format!("{p:?}"), "MobilePhone(\"138****1234\")");
        assert_eq!(p.as_str(), "13812341234");
        assert_eq!(p.as_ref(), "13812341234");
    }

    #[test]
    fn phone_serde_goes_through_parse() {
        assert_eq!(
            MobilePhone::deserialize(de_str("+86 139-0000-0000")).map(|p| p.0),
            Ok("13900000000".to_owned())
        );
        assert!(MobilePhone::deserialize(de_str("110")).is_err());
    }

    #[test]
    fn fold_fullwidth_maps_the_block() {
        assert_eq!(fold_fullwidth('０'), '0');
        assert_eq!(fold_fullwidth('９'), '9');
        assert_eq!(fold_fullwidth('Ａ'), 'A');
        assert_eq!(fold_fullwidth('ｚ'), 'z');
        assert_eq!(fold_fullwidth('\u{3000}'), ' ');
        assert_eq!(fold_fullwidth('张'), '张');
    }

    fn any_string() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..80).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn parsers_never_panic(s in any_string()) {
            let _ = Gender::parse(&s);
            let _ = PersonName::parse(&s);
            let _ = MobilePhone::parse(&s);
        }

        #[test]
        fn name_parse_is_idempotent(s in "[张王李阿沛·• a-zA-Z.'\\-]{0,60}") {
            if let Ok(name) = PersonName::parse(&s) {
                let n = name.as_str().chars().count();
                prop_assert!((PersonName::MIN_CHARS..=PersonName::MAX_CHARS).contains(&n));
                prop_assert_eq!(PersonName::parse(name.as_str()), Ok(name.clone()));
            }
        }

        #[test]
        fn valid_phones_parse_and_mask(second in 3u8..=9, rest in "[0-9]{9}") {
            let raw = format!("1{second}{rest}");
            let phone = MobilePhone::parse(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(phone.as_str(), raw.as_str());
            let plus = MobilePhone::parse(&format!("+86 {raw}"));
            prop_assert_eq!(plus, Ok(phone.clone()));
            let masked = phone.masked();
            prop_assert_eq!(masked.len(), 11);
            prop_assert_eq!(&masked[..3], &raw[..3]);
            prop_assert_eq!(&masked[3..7], "****");
            prop_assert_eq!(&masked[7..], &raw[7..]);
        }
    }
}
