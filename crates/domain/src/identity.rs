//! Identity documents (证件): the kinds of document a participant can register with, and the
//! checked, normalised document number.
//!
//! ID numbers are sensitive personal information: [`IdNumber`] prints only its masked form
//! (`110105********002X`) through `Debug` and `Display`, has no `Serialize`, and hands out the
//! full number only through [`IdNumber::expose`].

use std::fmt;
use std::str::FromStr;

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::person::{Gender, fold_fullwidth};

/// The weights of GB 11643-1999 MOD 11-2 over the first 17 digits.
const MOD11_2_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/// The check character for each value of the weighted sum mod 11.
const MOD11_2_CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// Birth years before this are refused as impossible (nobody alive was born then).
const MIN_BIRTH_YEAR: i32 = 1800;

/// Computes the GB 11643 MOD 11-2 check character (`0`–`9` or `X`) of the first 17 digits of an
/// 18-character ID number. `None` unless `first17` is exactly 17 ASCII digits.
pub fn mod11_2_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17.bytes().zip(MOD11_2_WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    MOD11_2_CHECK_CHARS.get((sum % 11) as usize).copied()
}

/// The problems found while parsing a document kind or a document number.
///
/// The `Display` text of each variant is a short Chinese message meant for the participant.
/// No variant carries the number itself, so an error can be logged safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    /// The document kind code is not one of [`IdKind::ALL`].
    #[error("不支持的证件类型")]
    UnknownKind,
    /// The number is empty (or only whitespace).
    #[error("请填写证件号码")]
    Empty,
    /// The number has whitespace inside it.
    #[error("证件号码中间不能有空格")]
    ContainsWhitespace,
    /// The number contains a character other than digits and Latin letters.
    #[error("证件号码中不能包含字符「{0}」")]
    InvalidChar(char),
    /// A 15-digit first-generation resident ID number, no longer accepted.
    #[error("不支持15位的一代身份证号码，请填写18位身份证号码")]
    FirstGenerationResidentId,
    /// The number does not have the one length its kind requires.
    #[error("证件号码应为{expected}位，当前为{actual}位")]
    WrongLength {
        /// The length the kind requires.
        expected: usize,
        /// The length of the (normalised) input.
        actual: usize,
    },
    /// The number's length is outside the range its kind allows.
    #[error("证件号码应为{min}至{max}位，当前为{actual}位")]
    LengthOutOfRange {
        /// The shortest allowed length.
        min: usize,
        /// The longest allowed length.
        max: usize,
        /// The length of the (normalised) input.
        actual: usize,
    },
    /// One of the first 17 characters of an 18-character number is not a digit.
    #[error("证件号码前17位只能是数字")]
    NonDigitBody,
    /// The last character of an 18-character number is neither a digit nor `X`.
    #[error("证件号码最后一位只能是数字或X")]
    InvalidCheckChar,
    /// The check character does not match the first 17 digits (a typo somewhere).
    #[error("证件号码校验位不正确，请核对号码")]
    CheckCharMismatch,
    /// The number belongs to another document kind than the one chosen.
    #[error("该号码看起来是{}号码，请将证件类型改为「{}」", .detected.label_zh(), .detected.label_zh())]
    KindMismatch {
        /// The kind the participant chose.
        chosen: IdKind,
        /// The kind the number's prefix belongs to.
        detected: IdKind,
    },
    /// The number lacks the prefix its kind requires (e.g. `810000` for Hong Kong residents).
    #[error("{}号码应以{expected}开头", .kind.label_zh())]
    WrongPrefix {
        /// The kind chosen.
        kind: IdKind,
        /// The prefix that kind requires.
        expected: &'static str,
    },
    /// The birth date in the number does not exist (e.g. 31 February).
    #[error("证件号码中的出生日期无效")]
    InvalidBirthDate,
    /// The birth date in the number is after today.
    #[error("证件号码中的出生日期晚于今天")]
    BirthDateInFuture,
    /// A home-return permit number does not start with `H` or `M`.
    #[error("港澳居民来往内地通行证号码应以H或M开头")]
    HomeReturnPermitPrefix,
    /// A home-return permit number has something other than digits after `H`/`M`.
    #[error("港澳居民来往内地通行证号码在H或M之后只能是数字")]
    HomeReturnPermitDigits,
    /// A home-return permit number is neither 9 nor 11 characters long.
    #[error("港澳居民来往内地通行证号码应为9位或11位，当前为{actual}位")]
    HomeReturnPermitLength {
        /// The length of the (normalised) input.
        actual: usize,
    },
    /// The gender chosen in the profile disagrees with the one the number encodes.
    #[error("所选性别与证件号码不符，请核对")]
    GenderMismatch,
}

// ---------------------------------------------------------------------------------------------
// IdKind
// ---------------------------------------------------------------------------------------------

/// The kinds of identity document a participant can register with.
///
/// Serialised as the stable snake_case code of [`IdKind::as_str`]; deserialised through
/// [`IdKind::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdKind {
    /// 居民身份证 (GB 11643-1999), 18 characters.
    ResidentId,
    /// 港澳台居民居住证 for Hong Kong residents, 18 characters starting `810000`.
    HongKongResidencePermit,
    /// 港澳台居民居住证 for Macao residents, 18 characters starting `820000`.
    MacaoResidencePermit,
    /// 港澳台居民居住证 for Taiwan residents, 18 characters starting `830000`.
    TaiwanResidencePermit,
    /// 外国人永久居留身份证 (2023 edition), 18 characters starting `9`.
    ForeignPermanentResidentCard,
    /// 港澳居民来往内地通行证 (回乡证): `H`/`M` + 8 digits (+ 2-digit renewal count).
    HomeReturnPermit,
    /// 护照: 5–17 letters and digits.
    Passport,
    /// 台湾居民来往大陆通行证 (台胞证): 8–10 letters and digits.
    TaiwanCompatriotPermit,
}

impl IdKind {
    /// Every kind, in the order forms should offer them.
    pub const ALL: [IdKind; 8] = [
        IdKind::ResidentId,
        IdKind::HongKongResidencePermit,
        IdKind::MacaoResidencePermit,
        IdKind::TaiwanResidencePermit,
        IdKind::ForeignPermanentResidentCard,
        IdKind::HomeReturnPermit,
        IdKind::Passport,
        IdKind::TaiwanCompatriotPermit,
    ];

    /// The stable snake_case code, used in the database and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            IdKind::ResidentId => "resident_id",
            IdKind::HongKongResidencePermit => "hk_residence_permit",
            IdKind::MacaoResidencePermit => "macao_residence_permit",
            IdKind::TaiwanResidencePermit => "tw_residence_permit",
            IdKind::ForeignPermanentResidentCard => "foreign_permanent_resident",
            IdKind::HomeReturnPermit => "home_return_permit",
            IdKind::Passport => "passport",
            IdKind::TaiwanCompatriotPermit => "taiwan_compatriot_permit",
        }
    }

    /// Parses a code of [`IdKind::as_str`] (exact, after trimming surrounding whitespace).
    pub fn parse(code: &str) -> Result<IdKind, IdNumberError> {
        let code = code.trim();
        IdKind::ALL.into_iter().find(|k| k.as_str() == code).ok_or(IdNumberError::UnknownKind)
    }

    /// The Chinese name of the document, for forms and messages.
    pub const fn label_zh(self) -> &'static str {
        match self {
            IdKind::ResidentId => "居民身份证",
            IdKind::HongKongResidencePermit => "港澳台居民居住证（香港）",
            IdKind::MacaoResidencePermit => "港澳台居民居住证（澳门）",
            IdKind::TaiwanResidencePermit => "港澳台居民居住证（台湾）",
            IdKind::ForeignPermanentResidentCard => "外国人永久居留身份证",
            IdKind::HomeReturnPermit => "港澳居民来往内地通行证",
            IdKind::Passport => "护照",
            IdKind::TaiwanCompatriotPermit => "台湾居民来往大陆通行证",
        }
    }

    /// Whether numbers of this kind carry a birth date and a gender (resident ID and the three
    /// residence permits).
    pub const fn encodes_birth_date_and_gender(self) -> bool {
        matches!(
            self,
            IdKind::ResidentId
                | IdKind::HongKongResidencePermit
                | IdKind::MacaoResidencePermit
                | IdKind::TaiwanResidencePermit
        )
    }

    /// The prefix an 18-character number of this kind must start with, if any.
    const fn required_prefix(self) -> Option<&'static str> {
        match self {
            IdKind::HongKongResidencePermit => Some("810000"),
            IdKind::MacaoResidencePermit => Some("820000"),
            IdKind::TaiwanResidencePermit => Some("830000"),
            IdKind::ForeignPermanentResidentCard => Some("9"),
            _ => None,
        }
    }
}

impl FromStr for IdKind {
    type Err = IdNumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IdKind::parse(s)
    }
}

impl Serialize for IdKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IdKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        IdKind::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// IdNumber
// ---------------------------------------------------------------------------------------------

/// A checked identity-document number of a given [`IdKind`], normalised: surrounding
/// whitespace trimmed, full-width digits and letters folded to ASCII, letters upper-cased.
///
/// Sensitive personal information: `Debug` and `Display` print [`IdNumber::masked`] only, there
/// is no `Serialize`, and the full number is only available through [`IdNumber::expose`].
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdNumber {
    kind: IdKind,
    value: String,
}

impl IdNumber {
    /// Normalises and checks `raw` as a number of document `kind`.
    ///
    /// - Resident ID: 18 characters = 6-digit region code + birth date `YYYYMMDD` + 3-digit
    ///   sequence + MOD 11-2 check character; a real date not after `today`; not starting with
    ///   `81`/`82`/`83`/`9` (those are permits: the error names the kind to choose). 15-digit
    ///   first-generation numbers are refused.
    /// - Hong Kong / Macao / Taiwan residence permits: the same rule with the prefix
    ///   `810000` / `820000` / `830000`.
    /// - Foreigner permanent residence card: 18 characters starting with `9`, MOD 11-2 check.
    /// - Home-return permit: `H` or `M` + 8 digits, optionally + a 2-digit renewal count.
    /// - Passport: 5–17 letters and digits. Taiwan compatriot permit: 8–10 letters and digits.
    pub fn parse(kind: IdKind, raw: &str, today: NaiveDate) -> Result<IdNumber, IdNumberError> {
        let value = normalise(raw)?;
        match kind {
            IdKind::ResidentId
            | IdKind::HongKongResidencePermit
            | IdKind::MacaoResidencePermit
            | IdKind::TaiwanResidencePermit
            | IdKind::ForeignPermanentResidentCard => check_gb11643(kind, &value, today)?,
            IdKind::HomeReturnPermit => check_home_return_permit(&value)?,
            IdKind::Passport => check_length_range(&value, 5, 17)?,
            IdKind::TaiwanCompatriotPermit => check_length_range(&value, 8, 10)?,
        }
        Ok(IdNumber { kind, value })
    }

    /// The kind of document.
    pub fn kind(&self) -> IdKind {
        self.kind
    }

    /// The full normalised number. Named so that every use stands out in review: use it only
    /// to encrypt, to compute the blind index, or to show the number to a staff role that
    /// needs it. Never log it.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// The birth date encoded in the number, for the resident ID and the residence permits;
    /// `None` for other kinds.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        if self.kind.encodes_birth_date_and_gender() { birth_date_of(&self.value) } else { None }
    }

    /// The gender encoded in the number (17th character odd = male, even = female), for the
    /// resident ID and the residence permits; `None` for other kinds.
    pub fn gender(&self) -> Option<Gender> {
        if !self.kind.encodes_birth_date_and_gender() {
            return None;
        }
        let digit = self.value.as_bytes().get(16).filter(|b| b.is_ascii_digit())?;
        Some(if (digit - b'0') % 2 == 1 { Gender::Male } else { Gender::Female })
    }

    /// Checks that `claimed` agrees with the gender the number encodes. `Ok` when the kind
    /// carries no gender.
    pub fn check_gender(&self, claimed: Gender) -> Result<(), IdNumberError> {
        match self.gender() {
            Some(derived) if derived != claimed => Err(IdNumberError::GenderMismatch),
            _ => Ok(()),
        }
    }

    /// The masked number, the only way to show it to anyone but the staff roles that need it.
    ///
    /// 18-character numbers keep the first 6 and last 4 characters (`110105********002X`);
    /// shorter ones keep at most 2 at each end and never show more than half of the characters
    /// (`H1*****78` for 9 characters, `A***3` for 5).
    pub fn masked(&self) -> String {
        mask(&self.value)
    }

    /// The trailing characters the masked form shows (the last 4 of an 18-character number):
    /// what check-in staff may search by, as the person reads them off their card.
    pub fn tail(&self) -> String {
        let masked = self.masked();
        let hidden = masked.rfind('*').map_or(0, |i| i + 1);
        masked[hidden..].to_owned()
    }
}

impl fmt::Debug for IdNumber {
    /// Prints the kind and the masked number only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdNumber").field("kind", &self.kind).field("value", &self.masked()).finish()
    }
}

impl fmt::Display for IdNumber {
    /// Prints the masked number only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

/// Trims, folds full-width characters, upper-cases, and refuses anything but `[0-9A-Z]`.
fn normalise(raw: &str) -> Result<String, IdNumberError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(IdNumberError::Empty);
    }
    let mut value = String::with_capacity(trimmed.len());
    for c in trimmed.chars() {
        let c = fold_fullwidth(c).to_ascii_uppercase();
        if c.is_ascii_digit() || c.is_ascii_uppercase() {
            value.push(c);
        } else if c.is_whitespace() {
            return Err(IdNumberError::ContainsWhitespace);
        } else {
            return Err(IdNumberError::InvalidChar(c));
        }
    }
    Ok(value)
}

/// The 18-character rule of GB 11643 shared by the resident ID, the residence permits and the
/// foreigner permanent residence card. `value` is normalised ASCII.
fn check_gb11643(kind: IdKind, value: &str, today: NaiveDate) -> Result<(), IdNumberError> {
    let all_digits = value.bytes().all(|b| b.is_ascii_digit());
    if kind == IdKind::ResidentId && value.len() == 15 && all_digits {
        return Err(IdNumberError::FirstGenerationResidentId);
    }
    if value.len() != 18 {
        return Err(IdNumberError::WrongLength { expected: 18, actual: value.len() });
    }
    let (body, check) = value.split_at_checked(17).ok_or(IdNumberError::NonDigitBody)?;
    if !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdNumberError::NonDigitBody);
    }
    if !matches!(check.as_bytes(), [b'0'..=b'9' | b'X']) {
        return Err(IdNumberError::InvalidCheckChar);
    }
    let expected = mod11_2_check_char(body).ok_or(IdNumberError::NonDigitBody)?;
    if !check.starts_with(expected) {
        return Err(IdNumberError::CheckCharMismatch);
    }
    let detected = detect_gb11643_kind(body);
    if detected != kind {
        return Err(IdNumberError::KindMismatch { chosen: kind, detected });
    }
    if let Some(prefix) = kind.required_prefix()
        && !body.starts_with(prefix)
    {
        return Err(IdNumberError::WrongPrefix { kind, expected: prefix });
    }
    if kind.encodes_birth_date_and_gender() {
        let birth = birth_date_of(value).ok_or(IdNumberError::InvalidBirthDate)?;
        if birth > today {
            return Err(IdNumberError::BirthDateInFuture);
        }
    }
    Ok(())
}

/// The kind an 18-character number's leading digits point to: `9` foreigner card, `81`/`82`/
/// `83` the Hong Kong/Macao/Taiwan residence permits, anything else a resident ID.
fn detect_gb11643_kind(body: &str) -> IdKind {
    if body.starts_with('9') {
        IdKind::ForeignPermanentResidentCard
    } else if body.starts_with("81") {
        IdKind::HongKongResidencePermit
    } else if body.starts_with("82") {
        IdKind::MacaoResidencePermit
    } else if body.starts_with("83") {
        IdKind::TaiwanResidencePermit
    } else {
        IdKind::ResidentId
    }
}

/// The `YYYYMMDD` birth date at characters 7–14 of an 18-character number, if it is a real date
/// no earlier than [`MIN_BIRTH_YEAR`].
fn birth_date_of(value: &str) -> Option<NaiveDate> {
    let year = digits_value(value.get(6..10)?)?;
    let month = digits_value(value.get(10..12)?)?;
    let day = digits_value(value.get(12..14)?)?;
    let year = i32::try_from(year).ok().filter(|y| *y >= MIN_BIRTH_YEAR)?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// The value of a short run of ASCII digits (no sign, no whitespace).
fn digits_value(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 9 {
        return None;
    }
    s.bytes().try_fold(0u32, |acc, b| b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0')))
}

/// `H`/`M` + 8 digits, optionally + a 2-digit renewal count.
fn check_home_return_permit(value: &str) -> Result<(), IdNumberError> {
    let rest = value
        .strip_prefix('H')
        .or_else(|| value.strip_prefix('M'))
        .ok_or(IdNumberError::HomeReturnPermitPrefix)?;
    if !rest.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdNumberError::HomeReturnPermitDigits);
    }
    if value.len() != 9 && value.len() != 11 {
        return Err(IdNumberError::HomeReturnPermitLength { actual: value.len() });
    }
    Ok(())
}

/// A length between `min` and `max` (the charset was already checked by [`normalise`]).
fn check_length_range(value: &str, min: usize, max: usize) -> Result<(), IdNumberError> {
    let actual = value.chars().count();
    if (min..=max).contains(&actual) {
        Ok(())
    } else {
        Err(IdNumberError::LengthOutOfRange { min, max, actual })
    }
}

/// Masks a number: 18 characters keep first 6 + last 4; shorter ones keep `k` at each end with
/// `k = min(2, len / 4)`, so at most half of the characters show.
fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let len = chars.len();
    let (head, tail) = if len == 18 {
        (6, 4)
    } else {
        let k = (len / 4).min(2);
        (k, k)
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < head || i + tail >= len { c } else { '*' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 6, 1).expect("valid test date")
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    /// Appends the correct check character to 17 digits.
    fn with_check(first17: &str) -> String {
        let check = mod11_2_check_char(first17).expect("17 digits");
        format!("{first17}{check}")
    }

    fn parse(kind: IdKind, raw: &str) -> Result<IdNumber, IdNumberError> {
        IdNumber::parse(kind, raw, today())
    }

    fn resident(raw: &str) -> Result<IdNumber, IdNumberError> {
        parse(IdKind::ResidentId, raw)
    }

    // --- the check character ---

    #[test]
    fn check_char_of_worked_examples() {
        assert_eq!(mod11_2_check_char("11010519491231002"), Some('X'));
        assert_eq!(mod11_2_check_char("44052418800101001"), Some('4'));
        assert_eq!(mod11_2_check_char("37010119010203997"), Some('3'));
        assert_eq!(mod11_2_check_char("1101051949123100"), None);
        assert_eq!(mod11_2_check_char("110105194912310021"), None);
        assert_eq!(mod11_2_check_char("1101051949123100A"), None);
        assert_eq!(mod11_2_check_char("１1010519491231002"), None);
    }

    // --- the worked examples of docs/domain-rules.md ---

    #[test]
    fn valid_female_1949() {
        let id = resident("11010519491231002X").expect("valid");
        assert_eq!(id.kind(), IdKind::ResidentId);
        assert_eq!(id.expose(), "11010519491231002X");
        assert_eq!(id.birth_date(), Some(date(1949, 12, 31)));
        assert_eq!(id.gender(), Some(Gender::Female));
    }

    #[test]
    fn valid_male_1880() {
        let id = resident("440524188001010014").expect("valid");
        assert_eq!(id.birth_date(), Some(date(1880, 1, 1)));
        assert_eq!(id.gender(), Some(Gender::Male));
    }

    #[test]
    fn valid_1901() {
        let id = resident("370101190102039973").expect("valid");
        assert_eq!(id.birth_date(), Some(date(1901, 2, 3)));
        assert_eq!(id.gender(), Some(Gender::Male));
    }

    #[test]
    fn wrong_check_char_is_refused() {
        assert_eq!(resident("110105194912310021"), Err(IdNumberError::CheckCharMismatch));
    }

    #[test]
    fn thirty_first_of_february_is_refused() {
        // The check character is right: only the date is impossible.
        assert_eq!(with_check("11010519490231002"), "110105194902310026");
        assert_eq!(resident("110105194902310026"), Err(IdNumberError::InvalidBirthDate));
    }

    #[test]
    fn first_generation_number_is_refused() {
        assert_eq!(resident("110105491231002"), Err(IdNumberError::FirstGenerationResidentId));
    }

    #[test]
    fn future_birth_date_is_refused() {
        let tomorrow = with_check("11010520240602002");
        assert_eq!(resident(&tomorrow), Err(IdNumberError::BirthDateInFuture));
        let born_today = with_check("11010520240601002");
        assert_eq!(resident(&born_today).map(|id| id.birth_date()), Ok(Some(today())));
    }

    #[test]
    fn lowercase_x_and_full_width_are_normalised() {
        let id = resident("11010519491231002x").expect("lowercase x");
        assert_eq!(id.expose(), "11010519491231002X");
        let id = resident("１１０１０５１９４９１２３１００２Ｘ").expect("full-width");
        assert_eq!(id.expose(), "11010519491231002X");
        let id = resident("１１０１０５１９４９１２３１００２ｘ").expect("full-width x");
        assert_eq!(id.expose(), "11010519491231002X");
        let id = resident(" \t11010519491231002X\u{3000}").expect("surrounding whitespace");
        assert_eq!(id.expose(), "11010519491231002X");
    }

    // --- other resident ID errors ---

    #[test]
    fn resident_id_shape_errors() {
        assert_eq!(resident(""), Err(IdNumberError::Empty));
        assert_eq!(resident("   "), Err(IdNumberError::Empty));
        assert_eq!(resident("110105 19491231002X"), Err(IdNumberError::ContainsWhitespace));
        assert_eq!(resident("110105-19491231002X"), Err(IdNumberError::InvalidChar('-')));
        assert_eq!(resident("11010519491231002😀"), Err(IdNumberError::InvalidChar('😀')));
        assert_eq!(
            resident("11010519491231002"),
            Err(IdNumberError::WrongLength { expected: 18, actual: 17 })
        );
        assert_eq!(resident("1101051949123100X2"), Err(IdNumberError::NonDigitBody));
        assert_eq!(resident("11010519491231002Y"), Err(IdNumberError::InvalidCheckChar));
        // A 15-digit number is only "first generation" for the resident ID.
        assert_eq!(
            parse(IdKind::HongKongResidencePermit, "110105491231002"),
            Err(IdNumberError::WrongLength { expected: 18, actual: 15 })
        );
    }

    #[test]
    fn birth_year_before_1800_is_refused() {
        assert_eq!(
            resident(&with_check("11010517991231002")),
            Err(IdNumberError::InvalidBirthDate)
        );
        assert!(resident(&with_check("11010518000101002")).is_ok());
    }

    #[test]
    fn permit_numbers_are_refused_as_resident_ids() {
        let cases = [
            ("81000019800101001", IdKind::HongKongResidencePermit),
            ("82000019800101001", IdKind::MacaoResidencePermit),
            ("83000019800101001", IdKind::TaiwanResidencePermit),
            ("81123419800101001", IdKind::HongKongResidencePermit),
            ("93115619800101001", IdKind::ForeignPermanentResidentCard),
        ];
        for (first17, detected) in cases {
            assert_eq!(
                resident(&with_check(first17)),
                Err(IdNumberError::KindMismatch { chosen: IdKind::ResidentId, detected }),
                "{first17}"
            );
        }
        let msg = IdNumberError::KindMismatch {
            chosen: IdKind::ResidentId,
            detected: IdKind::HongKongResidencePermit,
        }
        .to_string();
        assert!(msg.contains("港澳台居民居住证（香港）"), "{msg}");
    }

    // --- residence permits and the foreigner card ---

    #[test]
    fn residence_permits_need_their_prefix() {
        let hk = with_check("81000019800101001");
        let id = parse(IdKind::HongKongResidencePermit, &hk).expect("valid HK permit");
        assert_eq!(id.birth_date(), Some(date(1980, 1, 1)));
        assert_eq!(id.gender(), Some(Gender::Male));

        let mo = with_check("82000019991231002");
        let id = parse(IdKind::MacaoResidencePermit, &mo).expect("valid Macao permit");
        assert_eq!(id.gender(), Some(Gender::Female));

        let tw = with_check("83000020000229003");
        let id = parse(IdKind::TaiwanResidencePermit, &tw).expect("valid Taiwan permit");
        assert_eq!(id.birth_date(), Some(date(2000, 2, 29)));

        // The right prefix for another kind: tell the participant which kind to choose.
        assert_eq!(
            parse(IdKind::HongKongResidencePermit, &mo),
            Err(IdNumberError::KindMismatch {
                chosen: IdKind::HongKongResidencePermit,
                detected: IdKind::MacaoResidencePermit,
            })
        );
        // A resident ID under a permit kind.
        assert_eq!(
            parse(IdKind::TaiwanResidencePermit, "11010519491231002X"),
            Err(IdNumberError::KindMismatch {
                chosen: IdKind::TaiwanResidencePermit,
                detected: IdKind::ResidentId,
            })
        );
        // `81` but not `810000`.
        assert_eq!(
            parse(IdKind::HongKongResidencePermit, &with_check("81123419800101001")),
            Err(IdNumberError::WrongPrefix {
                kind: IdKind::HongKongResidencePermit,
                expected: "810000",
            })
        );
        // Permits check the date as well.
        assert_eq!(
            parse(IdKind::HongKongResidencePermit, &with_check("81000019800230001")),
            Err(IdNumberError::InvalidBirthDate)
        );
    }

    #[test]
    fn foreigner_card_is_checked_by_mod11_2_only() {
        // Digits 7–14 are not a date here, and that is fine.
        let raw = with_check("93115600009999001");
        let id = parse(IdKind::ForeignPermanentResidentCard, &raw).expect("valid card");
        assert_eq!(id.birth_date(), None);
        assert_eq!(id.gender(), None);
        assert_eq!(id.check_gender(Gender::Female), Ok(()));

        let mut wrong = raw.clone();
        let last = if raw.ends_with('0') { "1" } else { "0" };
        wrong.replace_range(17.., last);
        assert_eq!(
            parse(IdKind::ForeignPermanentResidentCard, &wrong),
            Err(IdNumberError::CheckCharMismatch)
        );
        assert_eq!(
            parse(IdKind::ForeignPermanentResidentCard, "11010519491231002X"),
            Err(IdNumberError::KindMismatch {
                chosen: IdKind::ForeignPermanentResidentCard,
                detected: IdKind::ResidentId,
            })
        );
    }

    // --- the other documents ---

    #[test]
    fn home_return_permit() {
        let kind = IdKind::HomeReturnPermit;
        assert_eq!(parse(kind, "H12345678").map(|id| id.masked()), Ok("H1*****78".to_owned()));
        assert_eq!(parse(kind, "H12345678").map(|id| id.tail()), Ok("78".to_owned()));
        assert!(parse(kind, "m1234567801").is_ok());
        assert_eq!(
            parse(kind, "Ｈ１２３４５６７８").map(|id| id.expose().to_owned()),
            Ok("H12345678".to_owned())
        );
        assert_eq!(parse(kind, "C12345678"), Err(IdNumberError::HomeReturnPermitPrefix));
        assert_eq!(parse(kind, "12345678"), Err(IdNumberError::HomeReturnPermitPrefix));
        assert_eq!(parse(kind, "H1234567A"), Err(IdNumberError::HomeReturnPermitDigits));
        assert_eq!(
            parse(kind, "H1234567"),
            Err(IdNumberError::HomeReturnPermitLength { actual: 8 })
        );
        assert_eq!(
            parse(kind, "H123456789"),
            Err(IdNumberError::HomeReturnPermitLength { actual: 10 })
        );
        let id = parse(kind, "H12345678").expect("valid");
        assert_eq!(id.birth_date(), None);
        assert_eq!(id.gender(), None);
    }

    #[test]
    fn passport_and_taiwan_compatriot_permit() {
        assert_eq!(
            parse(IdKind::Passport, "e12345678").map(|id| id.expose().to_owned()),
            Ok("E12345678".to_owned())
        );
        assert!(parse(IdKind::Passport, "AB123").is_ok());
        assert!(parse(IdKind::Passport, "A1234567890123456").is_ok());
        assert_eq!(
            parse(IdKind::Passport, "AB12"),
            Err(IdNumberError::LengthOutOfRange { min: 5, max: 17, actual: 4 })
        );
        assert_eq!(
            parse(IdKind::Passport, "A12345678901234567"),
            Err(IdNumberError::LengthOutOfRange { min: 5, max: 17, actual: 18 })
        );
        assert_eq!(parse(IdKind::Passport, "E1234567/"), Err(IdNumberError::InvalidChar('/')));
        assert!(parse(IdKind::TaiwanCompatriotPermit, "12345678").is_ok());
        assert!(parse(IdKind::TaiwanCompatriotPermit, "1234567890").is_ok());
        assert_eq!(
            parse(IdKind::TaiwanCompatriotPermit, "1234567"),
            Err(IdNumberError::LengthOutOfRange { min: 8, max: 10, actual: 7 })
        );
        assert_eq!(
            parse(IdKind::TaiwanCompatriotPermit, "12345678901"),
            Err(IdNumberError::LengthOutOfRange { min: 8, max: 10, actual: 11 })
        );
    }

    // --- gender ---

    #[test]
    fn check_gender_compares_with_sequence_parity() {
        let female = resident("11010519491231002X").expect("valid");
        assert_eq!(female.check_gender(Gender::Female), Ok(()));
        assert_eq!(female.check_gender(Gender::Male), Err(IdNumberError::GenderMismatch));
        let male = resident("440524188001010014").expect("valid");
        assert_eq!(male.check_gender(Gender::Male), Ok(()));
        assert_eq!(male.check_gender(Gender::Female), Err(IdNumberError::GenderMismatch));
        let passport = parse(IdKind::Passport, "E12345678").expect("valid");
        assert_eq!(passport.check_gender(Gender::Male), Ok(()));
    }

    // --- masking and leaks ---

    #[test]
    fn masking_and_formatting_never_show_the_full_number() {
        let id = resident("11010519491231002X").expect("valid");
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(id.tail(), "002X");
        assert_eq!(id.to_string(), "110105********002X");
        let debug = format!("{id:?}");
        assert_eq!(debug, "IdNumber { kind: ResidentId, value: \"110105********002X\" }");
        assert!(!debug.contains("19491231"));
    }

    #[test]
    fn short_numbers_reveal_at_most_half() {
        assert_eq!(mask("AB123"), "A***3");
        assert_eq!(mask("E1234567"), "E1****67");
        assert_eq!(mask("H1234567801"), "H1*******01");
        assert_eq!(mask("A1234567890123456"), "A1*************56");
    }

    // --- IdKind ---

    #[test]
    fn kind_codes_round_trip_and_are_stable() {
        let codes: Vec<&str> = IdKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            codes,
            [
                "resident_id",
                "hk_residence_permit",
                "macao_residence_permit",
                "tw_residence_permit",
                "foreign_permanent_resident",
                "home_return_permit",
                "passport",
                "taiwan_compatriot_permit",
            ]
        );
        for kind in IdKind::ALL {
            assert_eq!(IdKind::parse(kind.as_str()), Ok(kind));
            assert_eq!(kind.as_str().parse::<IdKind>(), Ok(kind));
            assert!(!kind.label_zh().is_empty());
        }
        assert_eq!(IdKind::parse("ResidentId"), Err(IdNumberError::UnknownKind));
        assert_eq!(IdKind::parse(""), Err(IdNumberError::UnknownKind));
    }

    #[test]
    fn kind_deserialises_through_parse() {
        let de = |s: &'static str| -> StrDeserializer<'static, DeError> { s.into_deserializer() };
        assert_eq!(IdKind::deserialize(de("passport")), Ok(IdKind::Passport));
        assert!(IdKind::deserialize(de("driving_licence")).is_err());
    }

    #[test]
    fn error_messages_are_chinese_and_specific() {
        assert_eq!(
            IdNumberError::CheckCharMismatch.to_string(),
            "证件号码校验位不正确，请核对号码"
        );
        assert_eq!(
            IdNumberError::WrongPrefix { kind: IdKind::MacaoResidencePermit, expected: "820000" }
                .to_string(),
            "港澳台居民居住证（澳门）号码应以820000开头"
        );
        assert_eq!(
            IdNumberError::WrongLength { expected: 18, actual: 17 }.to_string(),
            "证件号码应为18位，当前为17位"
        );
    }

    // --- properties ---

    /// A valid resident ID: a region code not starting with 8 or 9, a birth date between
    /// 1900-01-01 and `today()`, any sequence, and the right check character.
    fn valid_resident_id() -> impl Strategy<Value = String> {
        let days = (today() - date(1900, 1, 1)).num_days();
        ("[1-7][0-9]{5}", 0..=days, 0u32..1000).prop_map(|(region, offset, seq)| {
            let birth = date(1900, 1, 1) + chrono::Duration::days(offset);
            with_check(&format!("{region}{}{seq:03}", birth.format("%Y%m%d")))
        })
    }

    fn any_string() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..40).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn parse_never_panics(kind_index in 0usize..8, s in any_string()) {
            let kind = IdKind::ALL[kind_index];
            let _ = IdNumber::parse(kind, &s, today());
            let _ = IdKind::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_near_misses(kind_index in 0usize..8, s in "[0-9０-９XxHhMm \\-]{0,20}") {
            let kind = IdKind::ALL[kind_index];
            let _ = IdNumber::parse(kind, &s, today());
        }

        #[test]
        fn generated_numbers_with_correct_check_parse(raw in valid_resident_id()) {
            let id = resident(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(id.expose(), raw.as_str());
            let birth = id.birth_date();
            prop_assert!(birth.is_some_and(|b| b <= today()));
            prop_assert!(id.gender().is_some());
            let lower = raw.to_lowercase();
            prop_assert_eq!(resident(&lower), Ok(id));
        }

        #[test]
        fn changing_one_digit_breaks_the_check(
            raw in valid_resident_id(),
            pos in 0usize..18,
            delta in 1u8..10,
        ) {
            let mut bytes = raw.clone().into_bytes();
            let old = bytes[pos];
            let new = if old == b'X' { b'0' + delta } else { b'0' + (old - b'0' + delta) % 10 };
            prop_assume!(new != old && new.is_ascii_digit());
            bytes[pos] = new;
            let changed = String::from_utf8(bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(resident(&changed), Err(IdNumberError::CheckCharMismatch));
        }

        #[test]
        fn masking_keeps_first_6_and_last_4(raw in valid_resident_id()) {
            let id = resident(&raw).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let masked = id.masked();
            prop_assert_eq!(masked.len(), 18);
            prop_assert_eq!(&masked[..6], &raw[..6]);
            prop_assert_eq!(&masked[6..14], "********");
            prop_assert_eq!(&masked[14..], &raw[14..]);
            let debug = format!("{id:?}");
            prop_assert!(!debug.contains(&raw));
        }

        #[test]
        fn short_masks_reveal_at_most_half(raw in "[A-Z0-9]{5,17}") {
            let id = IdNumber::parse(IdKind::Passport, &raw, today())
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let masked = id.masked();
            prop_assert_eq!(masked.chars().count(), raw.len());
            let shown = masked.chars().filter(|c| *c != '*').count();
            prop_assert!(shown * 2 <= raw.len());
        }
    }
}
