//! Invoice titles (发票抬头): who the invoice is made out to.
//!
//! A title is personal (a person's name; no tax ID, no special VAT invoice) or company (name and
//! tax ID required; address, phone, bank and bank account optional, but all four required for a
//! special VAT invoice 增值税专用发票 / 专票). An optional email receives the e-invoice (数电发票).
//!
//! [`InvoiceTitleInput`] is what a form sends; [`InvoiceTitle::parse`] checks every field and
//! reports all problems at once, at most one per field, as [`TitleErrors`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::tax_id::{TaxId, TaxIdWarning};
use crate::text::{char_len, fold_fullwidth, is_control_or_invisible};

// ---------------------------------------------------------------------------------------------
// TitleKind
// ---------------------------------------------------------------------------------------------

/// The value given for a title kind is neither personal nor company.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("发票抬头类型只能是个人或单位")]
pub struct InvalidTitleKind;

/// Whether an invoice is made out to a person or to a company (any organisation with a tax ID).
///
/// Serialised as `personal` / `company`; deserialised through [`TitleKind::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TitleKind {
    /// 个人: made out to a person's name.
    Personal,
    /// 单位: made out to a company or other organisation, with its tax ID.
    Company,
}

impl TitleKind {
    /// Both kinds, in a stable order (for forms and exhaustive tests).
    pub const ALL: [TitleKind; 2] = [TitleKind::Personal, TitleKind::Company];

    /// The stable code: `personal` or `company`.
    pub const fn as_str(self) -> &'static str {
        match self {
            TitleKind::Personal => "personal",
            TitleKind::Company => "company",
        }
    }

    /// The Chinese label: `个人` or `单位`.
    pub const fn label_zh(self) -> &'static str {
        match self {
            TitleKind::Personal => "个人",
            TitleKind::Company => "单位",
        }
    }

    /// Parses `personal` / `company` (ASCII case-insensitive) or the Chinese `个人` /
    /// `单位` (also `企业`, `公司`), ignoring surrounding whitespace.
    pub fn parse(raw: &str) -> Result<TitleKind, InvalidTitleKind> {
        let s = raw.trim();
        if s.eq_ignore_ascii_case("personal") || s == "个人" {
            Ok(TitleKind::Personal)
        } else if s.eq_ignore_ascii_case("company") || matches!(s, "单位" | "企业" | "公司") {
            Ok(TitleKind::Company)
        } else {
            Err(InvalidTitleKind)
        }
    }
}

impl fmt::Display for TitleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TitleKind {
    type Err = InvalidTitleKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TitleKind::parse(s)
    }
}

impl Serialize for TitleKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for TitleKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        TitleKind::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// InvoiceType
// ---------------------------------------------------------------------------------------------

/// The value given for an invoice type is neither normal nor special.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("发票类型只能是普通发票或增值税专用发票")]
pub struct InvalidInvoiceType;

/// The kind of VAT invoice requested.
///
/// Serialised as `normal` / `special`; deserialised through [`InvoiceType::parse`]. The default
/// is [`InvoiceType::Normal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum InvoiceType {
    /// 普通发票 (普票): the ordinary invoice, for people and companies alike.
    #[default]
    Normal,
    /// 增值税专用发票 (专票): the special VAT invoice a company can deduct input tax with; needs
    /// the buyer's address, phone, bank and bank account.
    Special,
}

impl InvoiceType {
    /// Both types, in a stable order (for forms and exhaustive tests).
    pub const ALL: [InvoiceType; 2] = [InvoiceType::Normal, InvoiceType::Special];

    /// The stable code: `normal` or `special`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvoiceType::Normal => "normal",
            InvoiceType::Special => "special",
        }
    }

    /// The Chinese label: `普通发票` or `增值税专用发票`.
    pub const fn label_zh(self) -> &'static str {
        match self {
            InvoiceType::Normal => "普通发票",
            InvoiceType::Special => "增值税专用发票",
        }
    }

    /// Parses `normal` / `special` (ASCII case-insensitive) or the Chinese labels
    /// (`普通发票`, `普票`, `增值税专用发票`, `专用发票`, `专票`), ignoring surrounding
    /// whitespace.
    pub fn parse(raw: &str) -> Result<InvoiceType, InvalidInvoiceType> {
        let s = raw.trim();
        if s.eq_ignore_ascii_case("normal") || matches!(s, "普通发票" | "普票") {
            Ok(InvoiceType::Normal)
        } else if s.eq_ignore_ascii_case("special")
            || matches!(s, "增值税专用发票" | "专用发票" | "专票")
        {
            Ok(InvoiceType::Special)
        } else {
            Err(InvalidInvoiceType)
        }
    }
}

impl fmt::Display for InvoiceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InvoiceType {
    type Err = InvalidInvoiceType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InvoiceType::parse(s)
    }
}

impl Serialize for InvoiceType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for InvoiceType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        InvoiceType::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Input and problems
// ---------------------------------------------------------------------------------------------

/// An invoice title as a form sends it, before any check.
///
/// Every field but `kind` may be missing from the JSON. Empty or whitespace-only optional
/// fields count as not given. `invoice_type` defaults to [`InvoiceType::Normal`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceTitleInput {
    /// Personal or company.
    pub kind: TitleKind,
    /// The title itself: the person's or the company's name (购买方名称).
    #[serde(default)]
    pub name: String,
    /// The buyer's tax ID (纳税人识别号 / 统一社会信用代码); company titles only.
    #[serde(default)]
    pub tax_id: Option<String>,
    /// The buyer's registered address (地址).
    #[serde(default)]
    pub address: Option<String>,
    /// The buyer's phone number (电话), usually a landline with area code.
    #[serde(default)]
    pub phone: Option<String>,
    /// The buyer's bank (开户行).
    #[serde(default)]
    pub bank: Option<String>,
    /// The buyer's bank account number (账号).
    #[serde(default)]
    pub bank_account: Option<String>,
    /// Where the e-invoice is sent (购买方邮箱).
    #[serde(default)]
    pub email: Option<String>,
    /// Normal or special VAT invoice.
    #[serde(default)]
    pub invoice_type: InvoiceType,
}

/// One problem with one field of an [`InvoiceTitleInput`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TitleProblem {
    /// The field's name as in [`InvoiceTitleInput`] (`name`, `tax_id`, `address`, `phone`,
    /// `bank`, `bank_account`, `email`, `invoice_type`).
    pub field: &'static str,
    /// A stable machine-readable code: `required`, `too_long`, `control_char`,
    /// `not_allowed`, `invalid`, `invalid_char`, `wrong_length`, `too_short` or
    /// `check_mismatch`.
    pub code: &'static str,
    /// A short Chinese message for the participant.
    pub message: String,
}

impl TitleProblem {
    fn new(field: &'static str, code: &'static str, message: impl Into<String>) -> TitleProblem {
        TitleProblem { field, code, message: message.into() }
    }
}

impl fmt::Display for TitleProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// All the problems found in an [`InvoiceTitleInput`]: never empty, at most one per field, in
/// the order of the form (name, tax ID, invoice type, address, phone, bank, bank account,
/// email).
///
/// Serialised as a list of [`TitleProblem`]s; `Display` joins the messages with `；`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TitleErrors(Vec<TitleProblem>);

impl TitleErrors {
    /// The problems, in form order.
    pub fn problems(&self) -> &[TitleProblem] {
        &self.0
    }

    /// The problem with one field, if any.
    pub fn get(&self, field: &str) -> Option<&TitleProblem> {
        self.0.iter().find(|p| p.field == field)
    }

    /// The problems, owned.
    pub fn into_problems(self) -> Vec<TitleProblem> {
        self.0
    }
}

impl fmt::Display for TitleErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("；")?;
            }
            f.write_str(&problem.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for TitleErrors {}

// ---------------------------------------------------------------------------------------------
// InvoiceTitle
// ---------------------------------------------------------------------------------------------

/// A checked invoice title; build one with [`InvoiceTitle::parse`].
///
/// Normalisation: every text trimmed; phone, bank account and email with full-width characters
/// folded to ASCII; the bank account reduced to its digits; the tax ID as [`TaxId`] normalises
/// it. Empty optional fields are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvoiceTitle {
    kind: TitleKind,
    invoice_type: InvoiceType,
    name: String,
    tax_id: Option<TaxId>,
    address: Option<String>,
    phone: Option<String>,
    bank: Option<String>,
    bank_account: Option<String>,
    email: Option<String>,
}

impl InvoiceTitle {
    /// The most characters a title name (购买方名称) may have.
    pub const NAME_MAX_CHARS: usize = 100;
    /// The most characters an address may have.
    pub const ADDRESS_MAX_CHARS: usize = 100;
    /// The most characters a bank name may have.
    pub const BANK_MAX_CHARS: usize = 100;
    /// The fewest characters a phone number may have.
    pub const PHONE_MIN_CHARS: usize = 5;
    /// The most characters a phone number may have.
    pub const PHONE_MAX_CHARS: usize = 20;
    /// The fewest digits a bank account number may have.
    pub const BANK_ACCOUNT_MIN_DIGITS: usize = 8;
    /// The most digits a bank account number may have.
    pub const BANK_ACCOUNT_MAX_DIGITS: usize = 30;
    /// The most characters an email address may have.
    pub const EMAIL_MAX_CHARS: usize = 254;

    /// Checks every field of a title and returns the title with the tax ID's warning (older
    /// taxpayer IDs), or all the problems found, at most one per field.
    ///
    /// Rules: the name is required, 1–100 characters, without control characters. A personal
    /// title takes no tax ID and cannot have a special VAT invoice. A company title needs a
    /// valid tax ID ([`TaxId::parse`]); a special VAT invoice additionally needs address, phone,
    /// bank and bank account. Optional fields are checked whenever they are given: address and
    /// bank ≤ 100 characters; phone 5–20 characters of digits, spaces, `-`, `+` and
    /// parentheses; bank account 8–30 digits (spaces and dashes allowed and removed); email
    /// with one `@`, a non-empty local part and a dotted domain, ≤ 254 characters.
    pub fn parse(
        input: &InvoiceTitleInput,
    ) -> Result<(InvoiceTitle, Option<TaxIdWarning>), TitleErrors> {
        let mut problems = Vec::new();
        let mut keep = |r: Result<Option<String>, TitleProblem>| match r {
            Ok(v) => v,
            Err(problem) => {
                problems.push(problem);
                None
            }
        };

        let name = keep(parse_name(&input.name));

        let mut warning = None;
        let mut tax_id = None;
        let tax_id_raw = given(input.tax_id.as_deref());
        match (input.kind, tax_id_raw) {
            (TitleKind::Personal, None) => {}
            (TitleKind::Personal, Some(_)) => {
                keep(Err(TitleProblem::new(
                    "tax_id",
                    "not_allowed",
                    "个人抬头无需填写纳税人识别号；如需填写税号，请选择单位抬头",
                )));
            }
            (TitleKind::Company, raw) => match TaxId::parse(raw.unwrap_or_default()) {
                Ok(parsed) => {
                    tax_id = Some(parsed.id);
                    warning = parsed.warning;
                }
                Err(e) => {
                    keep(Err(TitleProblem::new("tax_id", e.code(), e.to_string())));
                }
            },
        }

        let special = input.invoice_type == InvoiceType::Special;
        if special && input.kind == TitleKind::Personal {
            keep(Err(TitleProblem::new(
                "invoice_type",
                "not_allowed",
                "个人抬头不能开具增值税专用发票",
            )));
        }
        let required = special && input.kind == TitleKind::Company;

        let address = keep(require(
            "address",
            "地址",
            required,
            parse_free_text("address", "地址", &input.address, Self::ADDRESS_MAX_CHARS),
        ));
        let phone = keep(require("phone", "电话", required, parse_phone(&input.phone)));
        let bank = keep(require(
            "bank",
            "开户行",
            required,
            parse_free_text("bank", "开户行", &input.bank, Self::BANK_MAX_CHARS),
        ));
        let bank_account = keep(require(
            "bank_account",
            "银行账号",
            required,
            parse_bank_account(&input.bank_account),
        ));
        let email = keep(parse_email(&input.email));

        match name {
            Some(name) if problems.is_empty() => Ok((
                InvoiceTitle {
                    kind: input.kind,
                    invoice_type: input.invoice_type,
                    name,
                    tax_id,
                    address,
                    phone,
                    bank,
                    bank_account,
                    email,
                },
                warning,
            )),
            _ => Err(TitleErrors(problems)),
        }
    }

    /// Personal or company.
    pub fn kind(&self) -> TitleKind {
        self.kind
    }

    /// Normal or special VAT invoice.
    pub fn invoice_type(&self) -> InvoiceType {
        self.invoice_type
    }

    /// The title (购买方名称), trimmed.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The buyer's tax ID; always `Some` for a company title, `None` for a personal one.
    pub fn tax_id(&self) -> Option<&TaxId> {
        self.tax_id.as_ref()
    }

    /// The buyer's address, trimmed.
    pub fn address(&self) -> Option<&str> {
        self.address.as_deref()
    }

    /// The buyer's phone number, trimmed, full-width characters folded to ASCII.
    pub fn phone(&self) -> Option<&str> {
        self.phone.as_deref()
    }

    /// The buyer's bank, trimmed.
    pub fn bank(&self) -> Option<&str> {
        self.bank.as_deref()
    }

    /// The buyer's bank account number, digits only.
    pub fn bank_account(&self) -> Option<&str> {
        self.bank_account.as_deref()
    }

    /// The email address the e-invoice goes to, trimmed, full-width characters folded.
    pub fn email(&self) -> Option<&str> {
        self.email.as_deref()
    }
}

/// The trimmed value of an optional field, `None` when missing or blank.
fn given(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// Turns a missing value of a field that is required into a `required` problem.
fn require(
    field: &'static str,
    label: &str,
    required: bool,
    parsed: Result<Option<String>, TitleProblem>,
) -> Result<Option<String>, TitleProblem> {
    match parsed {
        Ok(None) if required => {
            Err(TitleProblem::new(field, "required", format!("开具增值税专用发票须填写{label}")))
        }
        other => other,
    }
}

fn parse_name(raw: &str) -> Result<Option<String>, TitleProblem> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(TitleProblem::new("name", "required", "请填写发票抬头名称"));
    }
    if name.chars().any(is_control_or_invisible) {
        return Err(TitleProblem::new(
            "name",
            "control_char",
            "发票抬头名称中不能包含控制字符或不可见字符",
        ));
    }
    if char_len(name) > InvoiceTitle::NAME_MAX_CHARS {
        return Err(TitleProblem::new(
            "name",
            "too_long",
            format!("发票抬头名称不能超过{}个字", InvoiceTitle::NAME_MAX_CHARS),
        ));
    }
    Ok(Some(name.to_owned()))
}

/// Address and bank: trimmed free text without control characters, up to `max` characters.
fn parse_free_text(
    field: &'static str,
    label: &str,
    raw: &Option<String>,
    max: usize,
) -> Result<Option<String>, TitleProblem> {
    let Some(text) = given(raw.as_deref()) else {
        return Ok(None);
    };
    if text.chars().any(is_control_or_invisible) {
        return Err(TitleProblem::new(
            field,
            "control_char",
            format!("{label}中不能包含控制字符或不可见字符"),
        ));
    }
    if char_len(text) > max {
        return Err(TitleProblem::new(field, "too_long", format!("{label}不能超过{max}个字")));
    }
    Ok(Some(text.to_owned()))
}

fn parse_phone(raw: &Option<String>) -> Result<Option<String>, TitleProblem> {
    let folded: String = raw.as_deref().unwrap_or_default().chars().map(fold_fullwidth).collect();
    let Some(phone) = given(Some(&folded)) else {
        return Ok(None);
    };
    if !phone.chars().all(|c| c.is_ascii_digit() || matches!(c, '-' | ' ' | '+' | '(' | ')')) {
        return Err(TitleProblem::new(
            "phone",
            "invalid_char",
            "电话号码只能包含数字、空格、“-”、“+”和括号",
        ));
    }
    let len = char_len(phone);
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if len > InvoiceTitle::PHONE_MAX_CHARS {
        return Err(TitleProblem::new(
            "phone",
            "too_long",
            format!("电话号码不能超过{}个字符", InvoiceTitle::PHONE_MAX_CHARS),
        ));
    }
    if len < InvoiceTitle::PHONE_MIN_CHARS || digits < InvoiceTitle::PHONE_MIN_CHARS {
        return Err(TitleProblem::new(
            "phone",
            "too_short",
            "电话号码不完整，请填写含区号的完整号码",
        ));
    }
    Ok(Some(phone.to_owned()))
}

fn parse_bank_account(raw: &Option<String>) -> Result<Option<String>, TitleProblem> {
    let folded: String = raw.as_deref().unwrap_or_default().chars().map(fold_fullwidth).collect();
    let Some(account) = given(Some(&folded)) else {
        return Ok(None);
    };
    let mut digits = String::with_capacity(account.len());
    for c in account.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
        } else if !(c.is_whitespace() || c == '-') {
            return Err(TitleProblem::new("bank_account", "invalid_char", "银行账号只能包含数字"));
        }
    }
    let n = digits.len();
    if !(InvoiceTitle::BANK_ACCOUNT_MIN_DIGITS..=InvoiceTitle::BANK_ACCOUNT_MAX_DIGITS).contains(&n)
    {
        return Err(TitleProblem::new(
            "bank_account",
            "wrong_length",
            format!(
                "银行账号应为{}至{}位数字",
                InvoiceTitle::BANK_ACCOUNT_MIN_DIGITS,
                InvoiceTitle::BANK_ACCOUNT_MAX_DIGITS
            ),
        ));
    }
    Ok(Some(digits))
}

fn parse_email(raw: &Option<String>) -> Result<Option<String>, TitleProblem> {
    let folded: String = raw.as_deref().unwrap_or_default().chars().map(fold_fullwidth).collect();
    let Some(email) = given(Some(&folded)) else {
        return Ok(None);
    };
    if char_len(email) > InvoiceTitle::EMAIL_MAX_CHARS {
        return Err(TitleProblem::new(
            "email",
            "too_long",
            format!("邮箱地址不能超过{}个字符", InvoiceTitle::EMAIL_MAX_CHARS),
        ));
    }
    if !looks_like_email(email) {
        return Err(TitleProblem::new(
            "email",
            "invalid",
            "邮箱地址格式不正确，请核对（例如 name@example.com）",
        ));
    }
    Ok(Some(email.to_owned()))
}

/// One `@`, a non-empty local part, a domain of non-empty dot-separated labels (at least two),
/// no whitespace or control characters anywhere.
fn looks_like_email(s: &str) -> bool {
    if s.chars().any(|c| c.is_whitespace() || is_control_or_invisible(c)) {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn company(name: &str, tax_id: &str) -> InvoiceTitleInput {
        InvoiceTitleInput {
            kind: TitleKind::Company,
            name: name.to_owned(),
            tax_id: Some(tax_id.to_owned()),
            address: None,
            phone: None,
            bank: None,
            bank_account: None,
            email: None,
            invoice_type: InvoiceType::Normal,
        }
    }

    fn personal(name: &str) -> InvoiceTitleInput {
        InvoiceTitleInput { kind: TitleKind::Personal, tax_id: None, ..company(name, "") }
    }

    fn special_company() -> InvoiceTitleInput {
        InvoiceTitleInput {
            address: Some("深圳市南山区科技园".to_owned()),
            phone: Some("0755-86013388".to_owned()),
            bank: Some("招商银行深圳分行".to_owned()),
            bank_account: Some("7559 0123 4567 890".to_owned()),
            invoice_type: InvoiceType::Special,
            ..company("深圳市某某科技有限公司", "914403001922038216")
        }
    }

    fn problems(input: &InvoiceTitleInput) -> Vec<(&'static str, &'static str)> {
        match InvoiceTitle::parse(input) {
            Ok(_) => Vec::new(),
            Err(e) => e.problems().iter().map(|p| (p.field, p.code)).collect(),
        }
    }

    fn ok(input: &InvoiceTitleInput) -> (InvoiceTitle, Option<TaxIdWarning>) {
        InvoiceTitle::parse(input).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn kind_and_type_codes() {
        for k in TitleKind::ALL {
            assert_eq!(TitleKind::parse(k.as_str()), Ok(k));
            assert_eq!(TitleKind::parse(k.label_zh()), Ok(k));
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!(TitleKind::parse(" Company "), Ok(TitleKind::Company));
        assert_eq!(TitleKind::parse("企业"), Ok(TitleKind::Company));
        assert_eq!(TitleKind::parse("x"), Err(InvalidTitleKind));
        assert_eq!("personal".parse::<TitleKind>(), Ok(TitleKind::Personal));
        for t in InvoiceType::ALL {
            assert_eq!(InvoiceType::parse(t.as_str()), Ok(t));
            assert_eq!(InvoiceType::parse(t.label_zh()), Ok(t));
            assert_eq!(t.to_string(), t.as_str());
        }
        assert_eq!(InvoiceType::parse("专票"), Ok(InvoiceType::Special));
        assert_eq!(InvoiceType::parse("普票"), Ok(InvoiceType::Normal));
        assert_eq!(InvoiceType::parse(""), Err(InvalidInvoiceType));
        assert_eq!(InvoiceType::default(), InvoiceType::Normal);
        assert_eq!(serde_json::to_string(&TitleKind::Company).ok(), Some("\"company\"".to_owned()));
        assert_eq!(
            serde_json::to_string(&InvoiceType::Special).ok(),
            Some("\"special\"".to_owned())
        );
        assert!(serde_json::from_str::<TitleKind>("\"bogus\"").is_err());
    }

    #[test]
    fn personal_title() {
        let (title, warning) = ok(&InvoiceTitleInput {
            email: Some(" zhang@example.com ".to_owned()),
            ..personal("  张三 ")
        });
        assert_eq!(warning, None);
        assert_eq!(title.kind(), TitleKind::Personal);
        assert_eq!(title.invoice_type(), InvoiceType::Normal);
        assert_eq!(title.name(), "张三");
        assert_eq!(title.tax_id(), None);
        assert_eq!(title.email(), Some("zhang@example.com"));
        assert_eq!(title.address(), None);
    }

    #[test]
    fn personal_title_takes_no_tax_id_and_no_special_invoice() {
        let input = InvoiceTitleInput {
            tax_id: Some("914403001922038216".to_owned()),
            invoice_type: InvoiceType::Special,
            ..personal("张三")
        };
        assert_eq!(problems(&input), [("tax_id", "not_allowed"), ("invoice_type", "not_allowed")]);
        // A blank tax ID counts as not given.
        assert!(
            InvoiceTitle::parse(&InvoiceTitleInput {
                tax_id: Some("  ".to_owned()),
                ..personal("张三")
            })
            .is_ok()
        );
    }

    #[test]
    fn company_title_needs_a_valid_tax_id() {
        let (title, warning) = ok(&company("福州某某有限公司", " 91350100m000100y43"));
        assert_eq!(warning, None);
        assert_eq!(title.tax_id().map(TaxId::as_str), Some("91350100M000100Y43"));
        assert_eq!(title.kind(), TitleKind::Company);

        let (_, warning) = ok(&company("某某老单位", "110108551385082"));
        assert_eq!(warning, Some(TaxIdWarning::LegacyTaxpayerId));

        assert_eq!(
            problems(&InvoiceTitleInput { tax_id: None, ..company("某某公司", "") }),
            [("tax_id", "required")]
        );
        assert_eq!(problems(&company("某某公司", " ")), [("tax_id", "required")]);
        assert_eq!(
            problems(&company("某某公司", "91350100M000100Y44")),
            [("tax_id", "check_mismatch")]
        );
        assert_eq!(
            problems(&company("某某公司", "91350100M000100I43")),
            [("tax_id", "invalid_char")]
        );
        assert_eq!(problems(&company("某某公司", "123")), [("tax_id", "wrong_length")]);
        let err = InvoiceTitle::parse(&company("某某公司", "91350100M000100Y44"));
        assert_eq!(
            err.err().and_then(|e| e.get("tax_id").map(|p| p.message.clone())),
            Some("统一社会信用代码校验位不正确，请核对".to_owned())
        );
    }

    #[test]
    fn name_rules() {
        assert_eq!(problems(&personal("")), [("name", "required")]);
        assert_eq!(problems(&personal(" \u{3000} ")), [("name", "required")]);
        assert_eq!(problems(&personal("张\n三")), [("name", "control_char")]);
        assert_eq!(problems(&personal("张\u{200B}三")), [("name", "control_char")]);
        assert!(InvoiceTitle::parse(&personal("张")).is_ok());
        assert!(InvoiceTitle::parse(&personal(&"公".repeat(100))).is_ok());
        assert_eq!(problems(&personal(&"公".repeat(101))), [("name", "too_long")]);
        // Full-width parentheses of official company names are kept as they are.
        let (title, _) = ok(&company("腾讯科技（深圳）有限公司", "91440300708461136T"));
        assert_eq!(title.name(), "腾讯科技（深圳）有限公司");
    }

    #[test]
    fn special_invoice_needs_address_phone_bank_and_account() {
        let (title, warning) = ok(&special_company());
        assert_eq!(warning, None);
        assert_eq!(title.invoice_type(), InvoiceType::Special);
        assert_eq!(title.address(), Some("深圳市南山区科技园"));
        assert_eq!(title.phone(), Some("0755-86013388"));
        assert_eq!(title.bank(), Some("招商银行深圳分行"));
        assert_eq!(title.bank_account(), Some("755901234567890"));

        let bare = InvoiceTitleInput {
            address: None,
            phone: Some(" ".to_owned()),
            bank: None,
            bank_account: None,
            ..special_company()
        };
        assert_eq!(
            problems(&bare),
            [
                ("address", "required"),
                ("phone", "required"),
                ("bank", "required"),
                ("bank_account", "required"),
            ]
        );
        let err = InvoiceTitle::parse(&bare).err();
        assert_eq!(
            err.as_ref().and_then(|e| e.get("bank")).map(|p| p.message.as_str()),
            Some("开具增值税专用发票须填写开户行")
        );
        assert_eq!(
            err.map(|e| e.to_string()),
            Some(
                "开具增值税专用发票须填写地址；开具增值税专用发票须填写电话；\
                 开具增值税专用发票须填写开户行；开具增值税专用发票须填写银行账号"
                    .to_owned()
            )
        );
        // A normal invoice for a company needs none of them.
        assert!(
            InvoiceTitle::parse(&InvoiceTitleInput { invoice_type: InvoiceType::Normal, ..bare })
                .is_ok()
        );
    }

    #[test]
    fn all_problems_are_collected_one_per_field() {
        let input = InvoiceTitleInput {
            kind: TitleKind::Company,
            name: String::new(),
            tax_id: Some("91350100M000100Y44".to_owned()),
            address: Some("地址\u{0}".to_owned()),
            phone: Some("电话".to_owned()),
            bank: Some("银".repeat(101)),
            bank_account: Some("12-34".to_owned()),
            email: Some("a@b".to_owned()),
            invoice_type: InvoiceType::Special,
        };
        assert_eq!(
            problems(&input),
            [
                ("name", "required"),
                ("tax_id", "check_mismatch"),
                ("address", "control_char"),
                ("phone", "invalid_char"),
                ("bank", "too_long"),
                ("bank_account", "wrong_length"),
                ("email", "invalid"),
            ]
        );
    }

    #[test]
    fn phone_rules() {
        let with = |p: &str| InvoiceTitleInput { phone: Some(p.to_owned()), ..personal("张三") };
        for good in [
            "0755-86013388",
            "+86 (755) 8601 3388",
            "13800138000",
            "95588",
            "０７５５－８６０１３３８８",
        ] {
            assert!(InvoiceTitle::parse(&with(good)).is_ok(), "{good}");
        }
        assert_eq!(ok(&with("（０７５５）８６０１３３８８")).0.phone(), Some("(0755)86013388"));
        assert_eq!(problems(&with("1234")), [("phone", "too_short")]);
        assert_eq!(problems(&with("(+86)")), [("phone", "too_short")]);
        assert_eq!(problems(&with(&"1".repeat(21))), [("phone", "too_long")]);
        assert_eq!(problems(&with("0755-8601338x")), [("phone", "invalid_char")]);
        assert_eq!(problems(&with("0755/86013388")), [("phone", "invalid_char")]);
    }

    #[test]
    fn bank_account_rules() {
        let with = |a: &str| InvoiceTitleInput {
            bank_account: Some(a.to_owned()),
            ..company("某某公司", "914403001922038216")
        };
        assert_eq!(ok(&with(" 6222-0212 3456 7890 ")).0.bank_account(), Some("6222021234567890"));
        assert_eq!(ok(&with("１２３４５６７８")).0.bank_account(), Some("12345678"));
        assert_eq!(problems(&with("1234567")), [("bank_account", "wrong_length")]);
        assert!(InvoiceTitle::parse(&with(&"1".repeat(30))).is_ok());
        assert_eq!(problems(&with(&"1".repeat(31))), [("bank_account", "wrong_length")]);
        assert_eq!(problems(&with("6222 0212 3456 789X")), [("bank_account", "invalid_char")]);
        assert_eq!(problems(&with("账号12345678")), [("bank_account", "invalid_char")]);
    }

    #[test]
    fn email_rules() {
        let with = |e: &str| InvoiceTitleInput { email: Some(e.to_owned()), ..personal("张三") };
        for good in [
            "a@b.cn",
            "zhang.san+invoice@mail.example.com",
            "张三@例子.中国",
            "ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ",
        ] {
            assert!(InvoiceTitle::parse(&with(good)).is_ok(), "{good}");
        }
        assert_eq!(
            ok(&with("ｚｈａｎｇ＠ｅｘａｍｐｌｅ．ｃｏｍ")).0.email(),
            Some("zhang@example.com")
        );
        for bad in [
            "a@b", "@b.cn", "a@@b.cn", "a@b@c.cn", "ab.cn", "a@.cn", "a@b.", "a@b..cn", "a b@c.cn",
            "a@b.cn\n",
        ] {
            // `\n` at the end is trimmed: that one is fine.
            let got = problems(&with(bad));
            if bad.ends_with('\n') {
                assert!(got.is_empty(), "{bad:?}");
            } else {
                assert_eq!(got, [("email", "invalid")], "{bad:?}");
            }
        }
        let long = format!("{}@example.com", "a".repeat(243));
        assert_eq!(long.chars().count(), 255);
        assert_eq!(problems(&with(&long)), [("email", "too_long")]);
        assert!(InvoiceTitle::parse(&with(&long[1..])).is_ok());
    }

    #[test]
    fn input_deserialises_with_defaults() {
        let input: InvoiceTitleInput = serde_json::from_str(r#"{"kind":"personal","name":"张三"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input, personal("张三"));
        let input: InvoiceTitleInput = serde_json::from_str(
            r#"{"kind":"company","name":"某某","tax_id":"914403001922038216",
                "invoice_type":"special","email":null}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(input.invoice_type, InvoiceType::Special);
        assert_eq!(input.email, None);
        // A missing name is reported by `parse`, not by serde.
        let input: InvoiceTitleInput =
            serde_json::from_str(r#"{"kind":"company"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(problems(&input), [("name", "required"), ("tax_id", "required")]);
        assert!(serde_json::from_str::<InvoiceTitleInput>(r#"{"name":"x"}"#).is_err());
    }

    #[test]
    fn errors_serialise_as_a_list() {
        let err = InvoiceTitle::parse(&personal("")).err();
        assert_eq!(
            err.and_then(|e| serde_json::to_string(&e).ok()),
            Some(
                r#"[{"field":"name","code":"required","message":"请填写发票抬头名称"}]"#.to_owned()
            )
        );
    }

    fn any_text() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..40).prop_map(|v| v.into_iter().collect())
    }

    fn any_opt_text() -> impl Strategy<Value = Option<String>> {
        proptest::option::of(prop_oneof![
            any_text(),
            "[0-9 ()+-]{0,25}",
            "[a-z]{1,5}@[a-z]{1,5}(\\.[a-z]{1,3}){0,2}",
        ])
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_reports_one_problem_per_field(
            kind in proptest::sample::select(TitleKind::ALL.to_vec()),
            invoice_type in proptest::sample::select(InvoiceType::ALL.to_vec()),
            name in any_text(),
            tax_id in any_opt_text(),
            address in any_opt_text(),
            phone in any_opt_text(),
            bank in any_opt_text(),
            bank_account in any_opt_text(),
            email in any_opt_text(),
        ) {
            let input = InvoiceTitleInput {
                kind, name, tax_id, address, phone, bank, bank_account, email, invoice_type,
            };
            match InvoiceTitle::parse(&input) {
                Ok((title, _)) => {
                    prop_assert_eq!(title.tax_id().is_some(), kind == TitleKind::Company);
                    prop_assert!(title.name().chars().count() <= InvoiceTitle::NAME_MAX_CHARS);
                }
                Err(errors) => {
                    let fields: Vec<_> = errors.problems().iter().map(|p| p.field).collect();
                    prop_assert!(!fields.is_empty());
                    let mut unique = fields.clone();
                    unique.sort_unstable();
                    unique.dedup();
                    prop_assert_eq!(unique.len(), fields.len());
                    prop_assert!(errors.problems().iter().all(|p| !p.message.is_empty()));
                }
            }
        }
    }
}
