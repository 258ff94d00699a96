//! Admission ticket numbers (准考证号): a [`NumberScheme`] per period and the [`TicketNumber`]
//! it produces.
//!
//! # Pattern syntax
//!
//! A scheme is written as a pattern string of placeholders and literal characters:
//!
//! | placeholder      | value                                          | width            |
//! |------------------|------------------------------------------------|------------------|
//! | `{yy}`           | the exam year, last two digits (2026 → `26`)   | 2                |
//! | `{yyyy}`         | the exam year, four digits                     | 4                |
//! | `{region}` / `{region:N}` | the region code (digits, e.g. `35`)   | `N` (default 2)  |
//! | `{site}` / `{site:N}`     | the site (考点) number, 1-based       | `N` (default 2)  |
//! | `{room}` / `{room:N}`     | the room (考场) number, 1-based       | `N` (default 2)  |
//! | `{seat}` / `{seat:N}`     | the seat (座号), 1-based              | `N` (default 2)  |
//!
//! Widths `N` are 1 to 6. Every value is zero-padded on the left to its width; a value that
//! needs more digits than its width is an error ([`NumberError::ValueTooWide`]), never
//! truncated. Literal characters may be ASCII digits, ASCII capital letters and `-`.
//! `{site}`, `{room}` and `{seat}` must each appear exactly once, the others at most once,
//! and the whole number is at most [`TicketNumber::MAX_LEN`] characters.
//!
//! Because every placeholder has a fixed width, all numbers of one scheme have the same length
//! and split back into their fields unambiguously: distinct (site, room, seat) give distinct
//! numbers within a period (same year and region code) *and* across regions.
//!
//! The default scheme ([`NumberScheme::DEFAULT_PATTERN`]) is
//! `{yy}{region:2}{site:2}{room:2}{seat:2}`, 10 digits:
//!
//! ```
//! use baoming_tickets::number::{NumberScheme, SeatFacts};
//!
//! let scheme = NumberScheme::default();
//! let number = scheme.format(&SeatFacts { year: 2026, region: "35", site: 1, room: 3, seat: 7 })?;
//! assert_eq!(number.as_str(), "2635010307");
//! # Ok::<(), baoming_tickets::number::NumberError>(())
//! ```

use std::fmt;

/// Why a pattern or a ticket number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    /// A `{…}` placeholder this module does not know.
    #[error("准考证号规则含有未知的占位符 {{{0}}}，可用 yy、yyyy、region、site、room、seat")]
    UnknownPlaceholder(String),
    /// A `{` without its `}`, or a stray `}`.
    #[error("准考证号规则的花括号不成对")]
    UnbalancedBrace,
    /// A width that is not a number from 1 to 6, or a width on `{yy}`/`{yyyy}`.
    #[error("准考证号规则中 {placeholder} 的位数 “{width}” 无效，应为 1 到 6")]
    BadWidth {
        /// The placeholder name.
        placeholder: String,
        /// The width text as written.
        width: String,
    },
    /// A literal character other than an ASCII digit, capital letter or `-`.
    #[error("准考证号规则只能包含数字、大写字母和 “-”，不能包含 “{0}”")]
    BadLiteral(char),
    /// `{site}`, `{room}` or `{seat}` is missing (numbers would not be unique).
    #[error("准考证号规则缺少 {{{0}}}，否则准考证号不唯一")]
    MissingPlaceholder(&'static str),
    /// A placeholder appears twice.
    #[error("准考证号规则中 {{{0}}} 出现了多次")]
    DuplicatePlaceholder(&'static str),
    /// The numbers would be longer than [`TicketNumber::MAX_LEN`].
    #[error("准考证号规则生成的号码有 {len} 位，最多 {max} 位")]
    TooLong {
        /// Length of the numbers the pattern produces.
        len: usize,
        /// The maximum, [`TicketNumber::MAX_LEN`].
        max: usize,
    },
    /// A value needs more digits than its placeholder's width.
    #[error("{field} “{value}” 超出准考证号规则的 {width} 位，请调整规则")]
    ValueTooWide {
        /// The field (`year`, `region`, `site`, `room`, `seat`).
        field: &'static str,
        /// The value as text.
        value: String,
        /// The width the pattern allows.
        width: u8,
    },
    /// A region code that is not 1 to 6 ASCII digits.
    #[error("地区代码 “{0}” 应为 1 到 6 位数字")]
    BadRegion(String),
    /// A site, room or seat number of 0 (they count from 1).
    #[error("{0} 编号应从 1 开始")]
    ZeroNumber(&'static str),
    /// A year that does not have four digits.
    #[error("年份 {0} 无效")]
    BadYear(u16),
    /// Text that is not a ticket number (empty, too long, or other characters).
    #[error("准考证号 “{0}” 格式不正确")]
    InvalidTicketNumber(String),
}

impl NumberError {
    /// Stable machine-readable code (e.g. `ticket_number_value_too_wide`).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownPlaceholder(_) => "ticket_number_unknown_placeholder",
            Self::UnbalancedBrace => "ticket_number_unbalanced_brace",
            Self::BadWidth { .. } => "ticket_number_bad_width",
            Self::BadLiteral(_) => "ticket_number_bad_literal",
            Self::MissingPlaceholder(_) => "ticket_number_missing_placeholder",
            Self::DuplicatePlaceholder(_) => "ticket_number_duplicate_placeholder",
            Self::TooLong { .. } => "ticket_number_too_long",
            Self::ValueTooWide { .. } => "ticket_number_value_too_wide",
            Self::BadRegion(_) => "ticket_number_bad_region",
            Self::ZeroNumber(_) => "ticket_number_zero",
            Self::BadYear(_) => "ticket_number_bad_year",
            Self::InvalidTicketNumber(_) => "ticket_number_invalid",
        }
    }
}

/// An admission ticket number: 1 to [`TicketNumber::MAX_LEN`] characters of ASCII digits,
/// ASCII capital letters and `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TicketNumber(String);

impl TicketNumber {
    /// The longest ticket number (characters); the QR payload budget assumes it.
    pub const MAX_LEN: usize = 20;

    /// Checks a stored ticket number.
    ///
    /// # Errors
    /// [`NumberError::InvalidTicketNumber`] when empty, longer than [`Self::MAX_LEN`] or
    /// containing other characters.
    pub fn parse(text: &str) -> Result<Self, NumberError> {
        if text.is_empty() || text.len() > Self::MAX_LEN || !text.chars().all(is_literal_char) {
            return Err(NumberError::InvalidTicketNumber(text.to_owned()));
        }
        Ok(Self(text.to_owned()))
    }

    /// The number as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_literal_char(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_uppercase() || c == '-'
}

/// The facts a ticket number is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeatFacts<'a> {
    /// The exam year, e.g. 2026.
    pub year: u16,
    /// The region code (地区代码), ASCII digits, e.g. `"35"`.
    pub region: &'a str,
    /// The site number (1-based).
    pub site: u32,
    /// The room number within the site (1-based).
    pub room: u32,
    /// The seat within the room (1-based).
    pub seat: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Year2,
    Year4,
    Region(u8),
    Site(u8),
    Room(u8),
    Seat(u8),
}

/// A period's rule for ticket numbers, parsed from a pattern (see the [module docs](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NumberScheme {
    pattern: String,
    parts: Vec<Part>,
}

impl Default for NumberScheme {
    fn default() -> Self {
        Self {
            pattern: Self::DEFAULT_PATTERN.to_owned(),
            parts: vec![Part::Year2, Part::Region(2), Part::Site(2), Part::Room(2), Part::Seat(2)],
        }
    }
}

const MAX_WIDTH: u8 = 6;
const DEFAULT_WIDTH: u8 = 2;

impl NumberScheme {
    /// The default pattern: year (2) + region code (2) + site (2) + room (2) + seat (2).
    pub const DEFAULT_PATTERN: &'static str = "{yy}{region:2}{site:2}{room:2}{seat:2}";

    /// Parses a pattern.
    ///
    /// # Errors
    /// Unknown placeholders, bad widths or literals, missing or repeated placeholders, and
    /// patterns whose numbers would exceed [`TicketNumber::MAX_LEN`] characters.
    pub fn parse(pattern: &str) -> Result<Self, NumberError> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '{' => {
                    let mut inner = String::new();
                    let mut closed = false;
                    for c in chars.by_ref() {
                        match c {
                            '}' => {
                                closed = true;
                                break;
                            }
                            '{' => return Err(NumberError::UnbalancedBrace),
                            c => inner.push(c),
                        }
                    }
                    if !closed {
                        return Err(NumberError::UnbalancedBrace);
                    }
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(parse_placeholder(&inner)?);
                }
                '}' => return Err(NumberError::UnbalancedBrace),
                c if is_literal_char(c) => literal.push(c),
                c => return Err(NumberError::BadLiteral(c)),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        for (name, required) in [
            ("yy", false),
            ("yyyy", false),
            ("region", false),
            ("site", true),
            ("room", true),
            ("seat", true),
        ] {
            let count = parts.iter().filter(|p| part_name(p) == Some(name)).count();
            if required && count == 0 {
                return Err(NumberError::MissingPlaceholder(name));
            }
            if count > 1 {
                return Err(NumberError::DuplicatePlaceholder(name));
            }
        }
        if parts.iter().any(|p| matches!(p, Part::Year2))
            && parts.iter().any(|p| matches!(p, Part::Year4))
        {
            return Err(NumberError::DuplicatePlaceholder("yy"));
        }
        let scheme = Self { pattern: pattern.to_owned(), parts };
        let len = scheme.len();
        if len > TicketNumber::MAX_LEN {
            return Err(NumberError::TooLong { len, max: TicketNumber::MAX_LEN });
        }
        Ok(scheme)
    }

    /// The pattern this scheme was parsed from.
    #[must_use]
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The length (characters) of every number this scheme produces.
    #[must_use]
    pub fn len(&self) -> usize {
        self.parts
            .iter()
            .map(|p| match p {
                Part::Literal(s) => s.len(),
                Part::Year2 => 2,
                Part::Year4 => 4,
                Part::Region(w) | Part::Site(w) | Part::Room(w) | Part::Seat(w) => usize::from(*w),
            })
            .sum()
    }

    /// Always `false`: a scheme has at least the site, room and seat.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The largest site, room and seat numbers the scheme can hold, in that order
    /// (e.g. `(99, 99, 99)` for the default). Check a seating plan against it before issuing.
    #[must_use]
    pub fn capacity(&self) -> (u32, u32, u32) {
        let mut out = (0, 0, 0);
        for p in &self.parts {
            match p {
                Part::Site(w) => out.0 = max_for_width(*w),
                Part::Room(w) => out.1 = max_for_width(*w),
                Part::Seat(w) => out.2 = max_for_width(*w),
                _ => {}
            }
        }
        out
    }

    /// Formats the number of one seat.
    ///
    /// # Errors
    /// [`NumberError::ValueTooWide`] when a value needs more digits than its width,
    /// [`NumberError::BadRegion`], [`NumberError::ZeroNumber`] or [`NumberError::BadYear`].
    pub fn format(&self, facts: &SeatFacts<'_>) -> Result<TicketNumber, NumberError> {
        if !(1000..=9999).contains(&facts.year) {
            return Err(NumberError::BadYear(facts.year));
        }
        let region = facts.region;
        if region.is_empty()
            || region.len() > usize::from(MAX_WIDTH)
            || !region.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(NumberError::BadRegion(region.to_owned()));
        }
        for (name, value) in [("site", facts.site), ("room", facts.room), ("seat", facts.seat)] {
            if value == 0 {
                return Err(NumberError::ZeroNumber(name));
            }
        }
        let mut out = String::with_capacity(self.len());
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Year2 => out.push_str(&format!("{:02}", facts.year % 100)),
                Part::Year4 => out.push_str(&format!("{:04}", facts.year)),
                Part::Region(w) => push_padded(&mut out, "region", region, *w)?,
                Part::Site(w) => push_padded(&mut out, "site", &facts.site.to_string(), *w)?,
                Part::Room(w) => push_padded(&mut out, "room", &facts.room.to_string(), *w)?,
                Part::Seat(w) => push_padded(&mut out, "seat", &facts.seat.to_string(), *w)?,
            }
        }
        Ok(TicketNumber(out))
    }
}

impl std::str::FromStr for NumberScheme {
    type Err = NumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn max_for_width(w: u8) -> u32 {
    10u32.pow(u32::from(w)) - 1
}

fn push_padded(
    out: &mut String,
    field: &'static str,
    digits: &str,
    width: u8,
) -> Result<(), NumberError> {
    let w = usize::from(width);
    if digits.len() > w {
        return Err(NumberError::ValueTooWide { field, value: digits.to_owned(), width });
    }
    out.extend(std::iter::repeat_n('0', w - digits.len()));
    out.push_str(digits);
    Ok(())
}

fn part_name(p: &Part) -> Option<&'static str> {
    match p {
        Part::Literal(_) => None,
        Part::Year2 => Some("yy"),
        Part::Year4 => Some("yyyy"),
        Part::Region(_) => Some("region"),
        Part::Site(_) => Some("site"),
        Part::Room(_) => Some("room"),
        Part::Seat(_) => Some("seat"),
    }
}

fn parse_placeholder(inner: &str) -> Result<Part, NumberError> {
    let (name, width) = match inner.split_once(':') {
        Some((n, w)) => (n, Some(w)),
        None => (inner, None),
    };
    let parse_width = |w: Option<&str>| -> Result<u8, NumberError> {
        match w {
            None => Ok(DEFAULT_WIDTH),
            Some(text) => match text.parse::<u8>() {
                Ok(n)
                    if (1..=MAX_WIDTH).contains(&n) && text.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    Ok(n)
                }
                _ => Err(NumberError::BadWidth {
                    placeholder: name.to_owned(),
                    width: text.to_owned(),
                }),
            },
        }
    };
    match name {
        "yy" | "yyyy" => {
            if let Some(w) = width {
                return Err(NumberError::BadWidth {
                    placeholder: name.to_owned(),
                    width: w.to_owned(),
                });
            }
            Ok(if name == "yy" { Part::Year2 } else { Part::Year4 })
        }
        "region" => Ok(Part::Region(parse_width(width)?)),
        "site" => Ok(Part::Site(parse_width(width)?)),
        "room" => Ok(Part::Room(parse_width(width)?)),
        "seat" => Ok(Part::Seat(parse_width(width)?)),
        _ => Err(NumberError::UnknownPlaceholder(inner.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn facts(site: u32, room: u32, seat: u32) -> SeatFacts<'static> {
        SeatFacts { year: 2026, region: "35", site, room, seat }
    }

    #[test]
    fn worked_example() {
        let n = NumberScheme::default().format(&facts(1, 3, 7)).unwrap();
        assert_eq!(n.as_str(), "2635010307");
        assert_eq!(n.to_string(), "2635010307");
        assert_eq!(TicketNumber::parse("2635010307").unwrap(), n);
    }

    #[test]
    fn the_brief_pattern_equals_the_default() {
        let s = NumberScheme::parse("{yy}{region}{site:2}{room:2}{seat:2}").unwrap();
        assert_eq!(s.format(&facts(1, 3, 7)).unwrap().as_str(), "2635010307");
        assert_eq!(s.len(), 10);
        assert_eq!(s.capacity(), (99, 99, 99));
        assert_eq!(
            NumberScheme::parse(NumberScheme::DEFAULT_PATTERN).unwrap(),
            NumberScheme::default()
        );
    }

    #[test]
    fn custom_patterns() {
        let s: NumberScheme = "ZK-{yyyy}{region:3}{site:1}{room:3}{seat:2}".parse().unwrap();
        assert_eq!(s.format(&facts(4, 12, 30)).unwrap().as_str(), "ZK-2026035401230");
        assert_eq!(s.capacity(), (9, 999, 99));
        assert_eq!(s.pattern(), "ZK-{yyyy}{region:3}{site:1}{room:3}{seat:2}");
    }

    #[test]
    fn refuses_bad_patterns() {
        let cases: &[(&str, &str)] = &[
            ("{yy}{region}{site}{room}{seat}{bogus}", "ticket_number_unknown_placeholder"),
            ("{yy}{region}{site}{room}{seat", "ticket_number_unbalanced_brace"),
            ("{yy}}{site}{room}{seat}", "ticket_number_unbalanced_brace"),
            ("{yy:3}{site}{room}{seat}", "ticket_number_bad_width"),
            ("{site:0}{room}{seat}", "ticket_number_bad_width"),
            ("{site:7}{room}{seat}", "ticket_number_bad_width"),
            ("{site:x}{room}{seat}", "ticket_number_bad_width"),
            ("{site:+2}{room}{seat}", "ticket_number_bad_width"),
            ("{yy}{site}{room}", "ticket_number_missing_placeholder"),
            ("{site}{site}{room}{seat}", "ticket_number_duplicate_placeholder"),
            ("{yy}{yyyy}{site}{room}{seat}", "ticket_number_duplicate_placeholder"),
            ("a{site}{room}{seat}", "ticket_number_bad_literal"),
            ("考{site}{room}{seat}", "ticket_number_bad_literal"),
            ("{yyyy}{region:6}{site:6}{room:3}{seat:2}", "ticket_number_too_long"),
        ];
        for (pattern, code) in cases {
            let err = NumberScheme::parse(pattern).unwrap_err();
            assert_eq!(err.code(), *code, "{pattern}: {err}");
        }
    }

    #[test]
    fn refuses_values_that_do_not_fit_and_never_truncates() {
        let s = NumberScheme::default();
        let err = s.format(&facts(1, 3, 100)).unwrap_err();
        assert_eq!(err, NumberError::ValueTooWide { field: "seat", value: "100".into(), width: 2 });
        assert!(err.to_string().contains("100"));
        let err = s.format(&SeatFacts { region: "350", ..facts(1, 1, 1) }).unwrap_err();
        assert_eq!(err.code(), "ticket_number_value_too_wide");
        assert_eq!(
            s.format(&SeatFacts { region: "3a", ..facts(1, 1, 1) }).unwrap_err().code(),
            "ticket_number_bad_region"
        );
        assert_eq!(s.format(&facts(0, 1, 1)).unwrap_err().code(), "ticket_number_zero");
        assert_eq!(
            s.format(&SeatFacts { year: 26, ..facts(1, 1, 1) }).unwrap_err().code(),
            "ticket_number_bad_year"
        );
        // A short region code is zero-padded.
        assert_eq!(
            s.format(&SeatFacts { region: "5", ..facts(1, 1, 1) }).unwrap().as_str(),
            "2605010101"
        );
    }

    #[test]
    fn ticket_number_parse() {
        assert!(TicketNumber::parse("").is_err());
        assert!(TicketNumber::parse("123456789012345678901").is_err());
        assert!(TicketNumber::parse("26 35").is_err());
        assert!(TicketNumber::parse("ZK-2026").is_ok());
    }

    proptest! {
        #[test]
        fn distinct_seats_give_distinct_numbers(
            a in (1u32..100, 1u32..100, 1u32..100),
            b in (1u32..100, 1u32..100, 1u32..100),
            region in "[0-9]{1,2}",
        ) {
            let s = NumberScheme::default();
            let na = s.format(&SeatFacts { year: 2026, region: &region, site: a.0, room: a.1, seat: a.2 }).unwrap();
            let nb = s.format(&SeatFacts { year: 2026, region: &region, site: b.0, room: b.1, seat: b.2 }).unwrap();
            prop_assert_eq!(na.as_str().len(), 10);
            prop_assert_eq!(a == b, na == nb);
        }
    }
}
