//! Joint invoices (同单位合开发票): several registrations of one employer share one invoice.
//!
//! Each registration that asks for a joint invoice carries a [`JointInvoiceRemark`] naming who
//! shares it; finance issues one invoice per group whose remark lists the period and the names
//! ([`invoice_remark`]), at most [`REMARK_MAX_CHARS`] characters, the full list going into a
//! separate sheet when it does not fit.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::{char_len, is_control_or_invisible, take_chars};

/// The most characters (not bytes) an invoice remark (备注) may have.
pub const REMARK_MAX_CHARS: usize = 230;

/// The problems found while parsing a joint-invoice remark.
///
/// The `Display` text of each variant is a short Chinese message meant for the participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RemarkError {
    /// A joint invoice was chosen but the remark is empty (or only whitespace).
    #[error("选择同单位合开发票时，请在备注中填写合开人员")]
    Empty,
    /// The remark has more than [`JointInvoiceRemark::MAX_CHARS`] characters.
    #[error("合开发票备注不能超过200个字")]
    TooLong,
    /// The remark contains a control character (e.g. a line break) or an invisible character.
    #[error("合开发票备注中不能包含换行、控制字符或不可见字符")]
    ControlChar,
}

impl RemarkError {
    /// A stable machine-readable code: `required`, `too_long` or `control_char`.
    pub const fn code(self) -> &'static str {
        match self {
            RemarkError::Empty => "required",
            RemarkError::TooLong => "too_long",
            RemarkError::ControlChar => "control_char",
        }
    }
}

/// The remark a participant writes when choosing a joint invoice, naming who shares it
/// (e.g. `与张三、李四合开`): trimmed, non-empty, at most 200 characters, one line without
/// control or invisible characters.
///
/// Serialised as the string; deserialised through [`JointInvoiceRemark::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JointInvoiceRemark(String);

impl JointInvoiceRemark {
    /// The most characters (Unicode scalar values, not bytes) a remark may have.
    pub const MAX_CHARS: usize = 200;

    /// Trims and checks a remark; see the type's documentation for the rules.
    pub fn parse(raw: &str) -> Result<JointInvoiceRemark, RemarkError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(RemarkError::Empty);
        }
        if s.chars().any(is_control_or_invisible) {
            return Err(RemarkError::ControlChar);
        }
        if char_len(s) > Self::MAX_CHARS {
            return Err(RemarkError::TooLong);
        }
        Ok(JointInvoiceRemark(s.to_owned()))
    }

    /// The remark of a registration form: required and parsed when `joint` is chosen;
    /// when it is not, `Ok(None)` whatever was sent (a remark left over in the form is ignored).
    pub fn parse_choice(
        joint: bool,
        raw: Option<&str>,
    ) -> Result<Option<JointInvoiceRemark>, RemarkError> {
        if joint { JointInvoiceRemark::parse(raw.unwrap_or_default()).map(Some) } else { Ok(None) }
    }

    /// The trimmed remark.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for JointInvoiceRemark {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JointInvoiceRemark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for JointInvoiceRemark {
    type Err = RemarkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        JointInvoiceRemark::parse(s)
    }
}

impl Serialize for JointInvoiceRemark {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for JointInvoiceRemark {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        JointInvoiceRemark::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The remark (备注) of a joint invoice, built by [`invoice_remark`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemarkText {
    /// The remark, at most [`REMARK_MAX_CHARS`] characters.
    pub remark: String,
    /// `true` when the remark is not the full text: the list of names was cut (the remark ends
    /// with `等N人（名单见附表）`) and the full list must go into a separate sheet.
    pub overflow: bool,
}

/// Builds the finance remark of a joint invoice: `{period}：{name}、{name}、…`, at most
/// [`REMARK_MAX_CHARS`] characters (counted as characters, not bytes).
///
/// Control and invisible characters are replaced by spaces, whitespace runs collapsed and each
/// part trimmed; blank names are skipped. When the full list does not fit, as many names as fit
/// are kept, in order, followed by `等N人（名单见附表）` where N is the number of all names, and
/// `overflow` is `true`. The period name is always kept whole unless it is so long that it
/// alone leaves no room for that ending (more than 200 characters); it is then cut and ends
/// with `…`.
pub fn invoice_remark(period_name: &str, names: &[&str]) -> RemarkText {
    let period = clean(period_name);
    let names: Vec<String> = names.iter().map(|n| clean(n)).filter(|n| !n.is_empty()).collect();

    if names.is_empty() {
        return if char_len(&period) <= REMARK_MAX_CHARS {
            RemarkText { remark: period, overflow: false }
        } else {
            RemarkText {
                remark: format!("{}…", take_chars(&period, REMARK_MAX_CHARS - 1)),
                overflow: true,
            }
        };
    }

    let prefix = if period.is_empty() { String::new() } else { format!("{period}：") };
    let full = format!("{prefix}{}", names.join("、"));
    if char_len(&full) <= REMARK_MAX_CHARS {
        return RemarkText { remark: full, overflow: false };
    }

    let suffix = format!("等{}人（名单见附表）", names.len());
    let budget = REMARK_MAX_CHARS.saturating_sub(char_len(&suffix));
    let mut remark;
    let prefix_len = char_len(&prefix);
    if prefix_len > budget {
        // The period name alone leaves no room for the ending: cut it.
        let keep = budget.saturating_sub(2);
        remark = format!("{}…：", take_chars(&period, keep));
    } else {
        remark = prefix;
        let mut used = prefix_len;
        for (i, name) in names.iter().enumerate() {
            let cost = char_len(name) + usize::from(i > 0);
            if used + cost > budget {
                break;
            }
            if i > 0 {
                remark.push('、');
            }
            remark.push_str(name);
            used += cost;
        }
    }
    remark.push_str(&suffix);
    RemarkText { remark, overflow: true }
}

/// Replaces control and invisible characters by spaces, collapses whitespace runs to one
/// space and trims.
fn clean(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut pending_space = false;
    for c in raw.chars() {
        if c.is_whitespace() || is_control_or_invisible(c) {
            pending_space = true;
            continue;
        }
        if pending_space && !out.is_empty() {
            out.push(' ');
        }
        pending_space = false;
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PERIOD: &str = "2025年第一期监理工程师考前培训";

    #[test]
    fn remark_parse_rules() {
        assert_eq!(
            JointInvoiceRemark::parse("  与张三、李四合开 ").map(|r| r.0),
            Ok("与张三、李四合开".to_owned())
        );
        assert_eq!(JointInvoiceRemark::parse(""), Err(RemarkError::Empty));
        assert_eq!(JointInvoiceRemark::parse(" \u{3000}\n "), Err(RemarkError::Empty));
        assert_eq!(JointInvoiceRemark::parse("张三\n李四"), Err(RemarkError::ControlChar));
        assert_eq!(JointInvoiceRemark::parse("张三\u{200B}李四"), Err(RemarkError::ControlChar));
        assert!(JointInvoiceRemark::parse(&"张".repeat(200)).is_ok());
        assert_eq!(JointInvoiceRemark::parse(&"张".repeat(201)), Err(RemarkError::TooLong));
        assert_eq!(RemarkError::Empty.code(), "required");
        assert_eq!(RemarkError::TooLong.code(), "too_long");
        assert_eq!(RemarkError::ControlChar.code(), "control_char");
    }

    #[test]
    fn remark_is_required_only_when_joint_is_chosen() {
        assert_eq!(JointInvoiceRemark::parse_choice(false, None), Ok(None));
        assert_eq!(JointInvoiceRemark::parse_choice(false, Some("stale")), Ok(None));
        assert_eq!(JointInvoiceRemark::parse_choice(true, None), Err(RemarkError::Empty));
        assert_eq!(
            JointInvoiceRemark::parse_choice(true, Some(" 与李四合开 "))
                .map(|r| r.map(|r| r.to_string())),
            Ok(Some("与李四合开".to_owned()))
        );
    }

    #[test]
    fn remark_serde() {
        let r: Result<JointInvoiceRemark, _> = serde_json::from_str("\" 与李四合开 \"");
        assert_eq!(r.as_ref().map(JointInvoiceRemark::as_str).ok(), Some("与李四合开"));
        assert_eq!(
            r.ok().and_then(|r| serde_json::to_string(&r).ok()),
            Some("\"与李四合开\"".to_owned())
        );
        assert!(serde_json::from_str::<JointInvoiceRemark>("\"\"").is_err());
    }

    #[test]
    fn short_list_is_kept_whole() {
        assert_eq!(
            invoice_remark(PERIOD, &["张三", "李四", "王五"]),
            RemarkText { remark: format!("{PERIOD}：张三、李四、王五"), overflow: false }
        );
        // Blank names are skipped, whitespace and control characters cleaned.
        assert_eq!(
            invoice_remark(&format!(" {PERIOD}\n"), &[" 张三 ", "", "  ", "李\t四"]).remark,
            format!("{PERIOD}：张三、李 四")
        );
        assert_eq!(invoice_remark(PERIOD, &[]).remark, PERIOD);
        assert_eq!(invoice_remark("", &["张三"]).remark, "张三");
    }

    #[test]
    fn long_list_is_cut_with_the_count() {
        let names: Vec<String> = (0..100).map(|i| format!("学员{i:03}")).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let text = invoice_remark(PERIOD, &refs);
        assert!(text.overflow);
        assert!(text.remark.chars().count() <= REMARK_MAX_CHARS);
        assert!(text.remark.starts_with(&format!("{PERIOD}：学员000、学员001、")));
        assert!(text.remark.ends_with("等100人（名单见附表）"));
        // Only whole names: the last kept name is followed directly by the ending.
        let listed = text
            .remark
            .strip_prefix(&format!("{PERIOD}："))
            .and_then(|s| s.strip_suffix("等100人（名单见附表）"))
            .unwrap_or_default();
        let kept: Vec<&str> = listed.split('、').collect();
        assert_eq!(kept, refs[..kept.len()]);
        // As many as fit: one more would not.
        let with_one_more =
            format!("{PERIOD}：{}、{}等100人（名单见附表）", listed, refs[kept.len()]);
        assert!(with_one_more.chars().count() > REMARK_MAX_CHARS);
    }

    #[test]
    fn the_limit_is_in_characters_and_inclusive() {
        // prefix "P：" is 2 characters; a 228-character name makes exactly 230.
        let exactly = "张".repeat(228);
        let text = invoice_remark("P", &[&exactly]);
        assert!(!text.overflow);
        assert_eq!(text.remark.chars().count(), 230);
        let over = "张".repeat(229);
        let text = invoice_remark("P", &[&over]);
        assert!(text.overflow);
        assert_eq!(text.remark, "P：等1人（名单见附表）");
    }

    #[test]
    fn overlong_period_is_cut() {
        let period = "期".repeat(300);
        let text = invoice_remark(&period, &["张三"]);
        assert!(text.overflow);
        assert_eq!(text.remark.chars().count(), REMARK_MAX_CHARS);
        assert!(text.remark.ends_with("…：等1人（名单见附表）"));
        let text = invoice_remark(&period, &[]);
        assert!(text.overflow);
        assert_eq!(text.remark.chars().count(), REMARK_MAX_CHARS);
        assert!(text.remark.ends_with('…'));
        // A 200-character period is still kept whole, even with a large group.
        let period = "期".repeat(200);
        let many = vec!["张三"; 100_000];
        let text = invoice_remark(&period, &many);
        assert!(text.remark.starts_with(&period));
        assert!(text.remark.chars().count() <= REMARK_MAX_CHARS);
        assert!(text.remark.ends_with("等100000人（名单见附表）"));
    }

    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..max).prop_map(|v| v.into_iter().collect())
    }

    fn chinese_name() -> impl Strategy<Value = String> {
        "[\u{4e00}-\u{9fa5}]{2,4}(·[\u{4e00}-\u{9fa5}]{2,4})?"
    }

    proptest! {
        #[test]
        fn remark_never_panics(s in text(250)) {
            if let Ok(r) = JointInvoiceRemark::parse(&s) {
                prop_assert!(r.as_str().chars().count() <= JointInvoiceRemark::MAX_CHARS);
                prop_assert_eq!(JointInvoiceRemark::parse(r.as_str()), Ok(r.clone()));
            }
        }

        #[test]
        fn invoice_remark_fits_and_keeps_the_period(
            period in text(201),
            names in proptest::collection::vec(
                prop_oneof![chinese_name(), text(30)],
                0..120,
            ),
        ) {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let out = invoice_remark(&period, &refs);
            prop_assert!(out.remark.chars().count() <= REMARK_MAX_CHARS);
            prop_assert!(out.remark.contains(&clean(&period)));
            let cleaned: Vec<String> =
                names.iter().map(|n| clean(n)).filter(|n| !n.is_empty()).collect();
            if out.overflow {
                let ending = format!("等{}人（名单见附表）", cleaned.len());
                prop_assert!(out.remark.ends_with(&ending));
            } else {
                for name in &cleaned {
                    prop_assert!(out.remark.contains(name.as_str()));
                }
            }
        }

        #[test]
        fn invoice_remark_never_panics(
            period in text(400),
            names in proptest::collection::vec(text(300), 0..20),
        ) {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let out = invoice_remark(&period, &refs);
            prop_assert!(out.remark.chars().count() <= REMARK_MAX_CHARS);
        }
    }
}
