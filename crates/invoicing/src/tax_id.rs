//! The buyer's tax identifier on an invoice (购买方纳税人识别号).
//!
//! Since 2015 every organisation has an 18-character Unified Social Credit Code (统一社会信用代码,
//! GB 32100-2015, "USCC"), which doubles as its taxpayer ID. Older taxpayer IDs of 15, 17 or 20
//! characters are still met on old records; they are accepted with a
//! [`TaxIdWarning::LegacyTaxpayerId`] so a form can ask the participant to double-check.
//!
//! Any 18-character value is treated as a USCC and checked strictly: charset and check character.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::fold_fullwidth;

/// The 31 characters a USCC is written with, in value order: `0-9 A-H J-N P-R T-U W-Y`
/// (no `I`, `O`, `S`, `V`, `Z`). The value of a character is its index in this alphabet.
pub const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weights of the first 17 characters of a USCC (3^i mod 31).
pub const USCC_WEIGHTS: [u32; 17] =
    [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// The length of a Unified Social Credit Code.
pub const USCC_LEN: usize = 18;

/// The lengths of the older taxpayer IDs (纳税人识别号) that are still accepted, with a warning.
pub const LEGACY_LENGTHS: [usize; 3] = [15, 17, 20];

/// The problems found while parsing a tax identifier.
///
/// The `Display` text of each variant is a short Chinese message meant for the participant;
/// [`TaxIdError::code`] gives a stable machine-readable code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TaxIdError {
    /// The value is empty (or only whitespace).
    #[error("请填写纳税人识别号（统一社会信用代码）")]
    Empty,
    /// The value has a length other than 18 (USCC) or 15, 17, 20 (older taxpayer IDs); the
    /// field is the length found, in characters after normalisation.
    #[error("纳税人识别号应为18位统一社会信用代码（或15、17、20位旧税号），当前为{0}位")]
    WrongLength(usize),
    /// An 18-character code contains a character outside the USCC alphabet (e.g. `I`, `O`,
    /// `S`, `V`, `Z`, or punctuation).
    #[error("统一社会信用代码中不能包含字符「{0}」（只能是数字和除I、O、S、V、Z以外的大写字母）")]
    UsccInvalidChar(char),
    /// An 18-character code whose last character does not match its check character.
    #[error("统一社会信用代码校验位不正确，请核对")]
    UsccCheckMismatch,
    /// An older taxpayer ID contains something other than digits and Latin letters.
    #[error("纳税人识别号中不能包含字符「{0}」（只能是数字和大写字母）")]
    InvalidChar(char),
}

impl TaxIdError {
    /// A stable machine-readable code for the problem: `required`, `wrong_length`,
    /// `invalid_char` or `check_mismatch`.
    pub const fn code(self) -> &'static str {
        match self {
            TaxIdError::Empty => "required",
            TaxIdError::WrongLength(_) => "wrong_length",
            TaxIdError::UsccInvalidChar(_) | TaxIdError::InvalidChar(_) => "invalid_char",
            TaxIdError::UsccCheckMismatch => "check_mismatch",
        }
    }
}

/// Something worth telling the participant about a tax identifier that was nevertheless
/// accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaxIdWarning {
    /// The value is an older 15-, 17- or 20-character taxpayer ID, not an 18-character USCC.
    /// Its check character cannot be verified.
    LegacyTaxpayerId,
}

impl TaxIdWarning {
    /// A stable machine-readable code: `legacy_taxpayer_id`.
    pub const fn code(self) -> &'static str {
        match self {
            TaxIdWarning::LegacyTaxpayerId => "legacy_taxpayer_id",
        }
    }

    /// A short Chinese message for the participant.
    pub const fn message(self) -> &'static str {
        match self {
            TaxIdWarning::LegacyTaxpayerId => {
                "该税号不是18位统一社会信用代码，无法校验，请与单位财务核对后再提交"
            }
        }
    }
}

impl fmt::Display for TaxIdWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

/// The value of a character in the USCC alphabet, or `None` if it is not in it.
fn uscc_value(c: char) -> Option<u32> {
    USCC_ALPHABET.chars().position(|a| a == c).and_then(|i| u32::try_from(i).ok())
}

/// The character of a value in the USCC alphabet (`None` for values of 31 and above).
fn uscc_char(value: u32) -> Option<char> {
    USCC_ALPHABET.chars().nth(usize::try_from(value).ok()?)
}

/// Computes the USCC check character of the first 17 characters of a code.
///
/// `first17` must be exactly 17 characters of [`USCC_ALPHABET`] (uppercase, no normalisation
/// is done here); otherwise the result is `None`. The check is `31 − (S mod 31)`, where `S` is
/// the sum of each character's value times its weight in [`USCC_WEIGHTS`], with 31 mapped to 0,
/// and the result mapped back into the alphabet.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let mut chars = first17.chars();
    let mut sum = 0u32;
    for weight in USCC_WEIGHTS {
        sum += uscc_value(chars.next()?)? * weight;
    }
    if chars.next().is_some() {
        return None;
    }
    let check = (31 - sum % 31) % 31;
    uscc_char(check)
}

/// A buyer's tax identifier: an 18-character Unified Social Credit Code whose check character
/// is correct, or an older 15-, 17- or 20-character taxpayer ID of digits and uppercase letters.
///
/// Normalisation: surrounding and inner whitespace removed (including the ideographic space),
/// full-width digits and letters folded to ASCII, letters uppercased. Serialised as the
/// normalised string; deserialised through [`TaxId::parse`] (the warning is dropped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaxId(String);

/// The result of [`TaxId::parse`]: the accepted identifier and, for an older taxpayer ID, a
/// warning to show the participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedTaxId {
    /// The normalised, accepted identifier.
    pub id: TaxId,
    /// `Some` when the identifier was accepted but deserves a second look.
    pub warning: Option<TaxIdWarning>,
}

impl TaxId {
    /// Normalises and checks a tax identifier; see the type's documentation for the rules.
    pub fn parse(raw: &str) -> Result<ParsedTaxId, TaxIdError> {
        let normalised: String = raw
            .chars()
            .map(fold_fullwidth)
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let len = normalised.chars().count();
        if len == 0 {
            return Err(TaxIdError::Empty);
        }
        if len == USCC_LEN {
            check_uscc(&normalised)?;
            return Ok(ParsedTaxId { id: TaxId(normalised), warning: None });
        }
        if LEGACY_LENGTHS.contains(&len) {
            if let Some(bad) =
                normalised.chars().find(|c| !(c.is_ascii_digit() || c.is_ascii_uppercase()))
            {
                return Err(TaxIdError::InvalidChar(bad));
            }
            return Ok(ParsedTaxId {
                id: TaxId(normalised),
                warning: Some(TaxIdWarning::LegacyTaxpayerId),
            });
        }
        Err(TaxIdError::WrongLength(len))
    }

    /// The normalised identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is an 18-character Unified Social Credit Code (as opposed to an older
    /// taxpayer ID).
    pub fn is_uscc(&self) -> bool {
        self.0.len() == USCC_LEN
    }
}

/// Checks an 18-character, already normalised code: charset, then check character.
fn check_uscc(code: &str) -> Result<(), TaxIdError> {
    if let Some(bad) = code.chars().find(|&c| uscc_value(c).is_none()) {
        return Err(TaxIdError::UsccInvalidChar(bad));
    }
    // All 18 characters are ASCII here, so byte 17 is the check character.
    let body = code.get(..USCC_LEN - 1).unwrap_or_default();
    let check = code.get(USCC_LEN - 1..).unwrap_or_default();
    match uscc_check_char(body) {
        Some(expected) if check.chars().eq([expected]) => Ok(()),
        _ => Err(TaxIdError::UsccCheckMismatch),
    }
}

impl AsRef<str> for TaxId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaxId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TaxId {
    type Err = TaxIdError;

    /// Parses through [`TaxId::parse`], dropping the warning.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaxId::parse(s).map(|parsed| parsed.id)
    }
}

impl Serialize for TaxId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for TaxId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        TaxId::parse(&s).map(|parsed| parsed.id).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPEC_VALID: [&str; 4] =
        ["91350100M000100Y43", "914403001922038216", "91440300708461136T", "91110108551385082Q"];

    fn parse_id(raw: &str) -> Result<String, TaxIdError> {
        TaxId::parse(raw).map(|p| p.id.0)
    }

    #[test]
    fn alphabet_and_weights_are_as_specified() {
        assert_eq!(USCC_ALPHABET.chars().count(), 31);
        for forbidden in ['I', 'O', 'S', 'V', 'Z'] {
            assert!(!USCC_ALPHABET.contains(forbidden));
        }
        // The weights are 3^i mod 31.
        let mut w = 1;
        for weight in USCC_WEIGHTS {
            assert_eq!(weight, w);
            w = w * 3 % 31;
        }
    }

    #[test]
    fn spec_examples_are_valid() {
        for code in SPEC_VALID {
            let parsed = TaxId::parse(code);
            assert_eq!(
                parsed,
                Ok(ParsedTaxId { id: TaxId(code.to_owned()), warning: None }),
                "{code}"
            );
            assert!(parsed.is_ok_and(|p| p.id.is_uscc()));
            let (body, check) = code.split_at(17);
            assert_eq!(uscc_check_char(body).map(String::from), Some(check.to_owned()));
        }
    }

    #[test]
    fn check_value_31_maps_to_zero() {
        // An all-zero body sums to 0, so the check is 31 − 0 = 31, which maps to 0.
        assert_eq!(uscc_check_char("00000000000000000"), Some('0'));
        assert_eq!(parse_id("000000000000000000"), Ok("000000000000000000".to_owned()));
    }

    #[test]
    fn input_is_normalised() {
        assert_eq!(parse_id("  91350100m000100y43 "), Ok("91350100M000100Y43".to_owned()));
        assert_eq!(
            parse_id("９１４４０３００７０８４６１１３６Ｔ"),
            Ok("91440300708461136T".to_owned())
        );
        assert_eq!(parse_id("9111 0108\u{3000}5513 8508 2q"), Ok("91110108551385082Q".to_owned()));
        assert_eq!(parse_id("\t914403001922038216\n"), Ok("914403001922038216".to_owned()));
    }

    #[test]
    fn changed_char_or_wrong_check_fails() {
        // One body character changed.
        assert_eq!(parse_id("91350100M000100Y44"), Err(TaxIdError::UsccCheckMismatch));
        assert_eq!(parse_id("914403001922038226"), Err(TaxIdError::UsccCheckMismatch));
        // Two adjacent characters swapped.
        assert_eq!(parse_id("91440300708461163T"), Err(TaxIdError::UsccCheckMismatch));
        // Wrong check character.
        assert_eq!(parse_id("91110108551385082R"), Err(TaxIdError::UsccCheckMismatch));
    }

    #[test]
    fn forbidden_letters_fail_with_the_char() {
        for (code, bad) in [
            ("91350100M000100I43", 'I'),
            ("91350100O000100Y43", 'O'),
            ("9135010SM000100Y43", 'S'),
            ("91350100M000100V43", 'V'),
            ("Z1350100M000100Y43", 'Z'),
            ("91350100M000100Y4-", '-'),
            ("91350100M00010中Y43", '中'),
        ] {
            assert_eq!(parse_id(code), Err(TaxIdError::UsccInvalidChar(bad)), "{code}");
        }
        // Lowercase forbidden letters are uppercased first.
        assert_eq!(parse_id("91350100M000100i43"), Err(TaxIdError::UsccInvalidChar('I')));
    }

    #[test]
    fn legacy_taxpayer_ids_are_accepted_with_a_warning() {
        for raw in [
            "110108551385082",      // 15
            "11010855138508212",    // 17
            "11010519491231002X01", // 20
            "44030071234567a",      // 15, lowercase
        ] {
            let parsed = TaxId::parse(raw);
            assert_eq!(
                parsed.as_ref().map(|p| p.warning),
                Ok(Some(TaxIdWarning::LegacyTaxpayerId)),
                "{raw}"
            );
            assert!(parsed.is_ok_and(|p| !p.id.is_uscc()));
        }
        assert_eq!(parse_id("44030071234567a"), Ok("44030071234567A".to_owned()));
        assert_eq!(parse_id("4403007123456-7"), Err(TaxIdError::InvalidChar('-')));
        assert_eq!(parse_id("4403007123456张7"), Err(TaxIdError::InvalidChar('张')));
    }

    #[test]
    fn other_lengths_fail() {
        assert_eq!(parse_id(""), Err(TaxIdError::Empty));
        assert_eq!(parse_id(" \u{3000}\t"), Err(TaxIdError::Empty));
        assert_eq!(parse_id("12345"), Err(TaxIdError::WrongLength(5)));
        // A USCC with one character dropped has 17 characters: it can only be accepted as an
        // older taxpayer ID, with the warning.
        assert_eq!(
            TaxId::parse("91350100M000100Y4").map(|p| p.warning),
            Ok(Some(TaxIdWarning::LegacyTaxpayerId))
        );
        assert_eq!(parse_id("1234567890123456"), Err(TaxIdError::WrongLength(16)));
        assert_eq!(parse_id("9135010000M000100Y43"), Ok("9135010000M000100Y43".to_owned()));
        assert_eq!(parse_id("91350100M000100Y433"), Err(TaxIdError::WrongLength(19)));
        assert_eq!(parse_id(&"1".repeat(21)), Err(TaxIdError::WrongLength(21)));
        // Length is counted in characters.
        assert_eq!(parse_id("华为技术有限公司"), Err(TaxIdError::WrongLength(8)));
    }

    #[test]
    fn check_char_needs_exactly_17_alphabet_chars() {
        assert_eq!(uscc_check_char(""), None);
        assert_eq!(uscc_check_char("91350100M000100Y"), None);
        assert_eq!(uscc_check_char("91350100M000100Y43"), None);
        assert_eq!(uscc_check_char("91350100m000100Y4"), None);
        assert_eq!(uscc_check_char("91350100I000100Y4"), None);
        assert_eq!(uscc_check_char("9135010中000100Y4"), None);
    }

    #[test]
    fn error_codes_and_messages() {
        assert_eq!(TaxIdError::Empty.code(), "required");
        assert_eq!(TaxIdError::WrongLength(3).code(), "wrong_length");
        assert_eq!(TaxIdError::UsccInvalidChar('I').code(), "invalid_char");
        assert_eq!(TaxIdError::InvalidChar('-').code(), "invalid_char");
        assert_eq!(TaxIdError::UsccCheckMismatch.code(), "check_mismatch");
        assert!(TaxIdError::WrongLength(3).to_string().contains("当前为3位"));
        assert!(TaxIdError::UsccInvalidChar('O').to_string().contains("「O」"));
        assert_eq!(TaxIdWarning::LegacyTaxpayerId.code(), "legacy_taxpayer_id");
        assert!(!TaxIdWarning::LegacyTaxpayerId.to_string().is_empty());
    }

    #[test]
    fn display_from_str_and_serde() {
        let id: TaxId = " 91350100m000100y43".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(id.to_string(), "91350100M000100Y43");
        assert_eq!(id.as_str(), "91350100M000100Y43");
        assert_eq!(AsRef::<str>::as_ref(&id), "91350100M000100Y43");
        assert_eq!(serde_json::to_string(&id).ok(), Some("\"91350100M000100Y43\"".to_owned()));
        let back: Result<TaxId, _> = serde_json::from_str("\"91350100m000100y43\"");
        assert_eq!(back.ok(), Some(id));
        // A legacy ID deserialises (the warning is dropped); a bad code does not.
        assert!(serde_json::from_str::<TaxId>("\"110108551385082\"").is_ok());
        assert!(serde_json::from_str::<TaxId>("\"91350100M000100Y44\"").is_err());
        assert_eq!("91350100M000100Y44".parse::<TaxId>(), Err(TaxIdError::UsccCheckMismatch));
    }

    fn alphabet() -> Vec<char> {
        USCC_ALPHABET.chars().collect()
    }

    fn body17() -> impl Strategy<Value = String> {
        proptest::collection::vec(proptest::sample::select(alphabet()), 17)
            .prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn generated_codes_parse(body in body17()) {
            let check = uscc_check_char(&body);
            prop_assert!(check.is_some());
            let code = format!("{body}{}", check.unwrap_or('?'));
            let parsed = TaxId::parse(&code);
            prop_assert_eq!(
                parsed,
                Ok(ParsedTaxId { id: TaxId(code.clone()), warning: None })
            );
            // Lowercase and spaced-out input parses to the same code.
            let spaced: String = code
                .to_lowercase()
                .chars()
                .flat_map(|c| [c, ' '])
                .collect();
            prop_assert_eq!(parse_id(&spaced), Ok(code));
        }

        #[test]
        fn any_single_char_change_breaks_the_check(
            body in body17(),
            pos in 0usize..18,
            delta in 1usize..31,
        ) {
            let check = uscc_check_char(&body).unwrap_or('?');
            let mut chars: Vec<char> = format!("{body}{check}").chars().collect();
            let abc = alphabet();
            let old = abc.iter().position(|&a| a == chars[pos]).unwrap_or(0);
            chars[pos] = abc[(old + delta) % 31];
            let changed: String = chars.into_iter().collect();
            prop_assert_eq!(parse_id(&changed), Err(TaxIdError::UsccCheckMismatch));
        }

        #[test]
        fn parse_never_panics(s in proptest::collection::vec(any::<char>(), 0..40)) {
            let s: String = s.into_iter().collect();
            if let Ok(parsed) = TaxId::parse(&s) {
                // Whatever is accepted is stable under re-parsing.
                prop_assert_eq!(TaxId::parse(parsed.id.as_str()), Ok(parsed));
            }
        }

        #[test]
        fn parse_never_panics_near_valid_lengths(
            s in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(alphabet()),
                    any::<char>(),
                    Just('Ｉ'),
                    Just('ｓ'),
                ],
                14..22,
            )
        ) {
            let s: String = s.into_iter().collect();
            let _ = TaxId::parse(&s);
            let _ = uscc_check_char(&s);
        }
    }
}
