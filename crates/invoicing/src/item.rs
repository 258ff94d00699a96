//! What the invoices are for: the one goods-or-services line (商品/服务) every training-fee
//! invoice carries, with its tax classification code and VAT rate, and the split of a
//! tax-inclusive amount into amount and tax.
//!
//! # Defaults, and who must confirm them
//!
//! | setting | default | note |
//! | --- | --- | --- |
//! | item name (项目名称) | `*非学历教育服务*培训费` | the domain rules' example |
//! | tax classification code (商品和服务税收编码) | `3070201020000000000` | see below |
//! | VAT rate (税率) | 6% | general taxpayer rate for 生活服务 |
//! | prices include tax (是否含税) | yes | the fee paid is the gross amount |
//! | unit (单位) | `人` | one line per person; blank allowed |
//! | specification (规格型号) | none | |
//! | show the buyer's address and bank (是否展示购买方地址电话银行账号) | yes | only where the title has them |
//!
//! The code `3070201020000000000` is the entry 非学历教育服务 (non-degree education services)
//! of the State Taxation Administration's 商品和服务税收分类编码表: 3 services, 307 生活服务,
//! 30702 教育医疗服务, 3070201 教育服务, 307020102 非学历教育服务. It is the code commonly used
//! for training fees (培训费) by invoicing systems in public code; it was not checked against
//! the current official table here. **Finance must confirm the code, the rate and the item
//! name for the association's own tax situation before the first upload**: a general
//! taxpayer may have chosen simplified taxation at 3% (简易计税) for non-degree education, a
//! small-scale taxpayer invoices at its levy rate (e.g. 1%), and some training is tax-exempt.
//! The 数电 platform may itself prefix the short category name (`*非学历教育服务*`) to the item
//! name; if an issued invoice shows it twice, set the item name to `培训费`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::money::Fen;
use crate::text::{char_len, fold_fullwidth, is_control_or_invisible};

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// A problem with one of the invoice item settings.
///
/// The `Display` text is a short Chinese message for finance staff; [`ItemSettingsError::code`]
/// is a stable machine code and [`ItemSettingsError::field`] names the setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ItemSettingsError {
    /// The item name is empty.
    #[error("请填写开票项目名称")]
    ItemNameEmpty,
    /// The item name has more than [`ItemName::MAX_CHARS`] characters.
    #[error("开票项目名称不能超过100个字")]
    ItemNameTooLong,
    /// The item name contains a control or invisible character.
    #[error("开票项目名称中不能包含换行、控制字符或不可见字符")]
    ItemNameControlChar,
    /// The tax classification code is not 19 digits.
    #[error("商品和服务税收编码应为19位数字")]
    TaxCodeInvalid,
    /// The tax rate is neither a percentage like `6%` nor `免税`.
    #[error("税率格式不正确，请填写如“6%”的百分比（最多两位小数）或“免税”")]
    TaxRateInvalid,
    /// The percentage is 0 or above [`TaxRate::MAX_BASIS_POINTS`].
    #[error("税率应大于0%且不超过20%；免税请填写“免税”")]
    TaxRateOutOfRange,
    /// A unit was required ([`ItemUnit::parse`]) but is blank.
    #[error("请填写单位")]
    UnitEmpty,
    /// The unit has more than [`ItemUnit::MAX_CHARS`] characters.
    #[error("单位不能超过20个字")]
    UnitTooLong,
    /// The unit contains a control or invisible character.
    #[error("单位中不能包含换行、控制字符或不可见字符")]
    UnitControlChar,
    /// A specification was required ([`ItemSpecification::parse`]) but is blank.
    #[error("请填写规格型号")]
    SpecificationEmpty,
    /// The specification has more than [`ItemSpecification::MAX_CHARS`] characters.
    #[error("规格型号不能超过40个字")]
    SpecificationTooLong,
    /// The specification contains a control or invisible character.
    #[error("规格型号中不能包含换行、控制字符或不可见字符")]
    SpecificationControlChar,
}

impl ItemSettingsError {
    /// A stable machine-readable code: `required`, `too_long`, `control_char` or `invalid`.
    pub const fn code(self) -> &'static str {
        match self {
            ItemSettingsError::ItemNameEmpty
            | ItemSettingsError::UnitEmpty
            | ItemSettingsError::SpecificationEmpty => "required",
            ItemSettingsError::ItemNameTooLong
            | ItemSettingsError::UnitTooLong
            | ItemSettingsError::SpecificationTooLong => "too_long",
            ItemSettingsError::ItemNameControlChar
            | ItemSettingsError::UnitControlChar
            | ItemSettingsError::SpecificationControlChar => "control_char",
            ItemSettingsError::TaxCodeInvalid
            | ItemSettingsError::TaxRateInvalid
            | ItemSettingsError::TaxRateOutOfRange => "invalid",
        }
    }

    /// The setting concerned, as named in [`InvoiceItemSettingsInput`]: `item_name`,
    /// `tax_code`, `tax_rate`, `unit` or `specification`.
    pub const fn field(self) -> &'static str {
        match self {
            ItemSettingsError::ItemNameEmpty
            | ItemSettingsError::ItemNameTooLong
            | ItemSettingsError::ItemNameControlChar => "item_name",
            ItemSettingsError::TaxCodeInvalid => "tax_code",
            ItemSettingsError::TaxRateInvalid | ItemSettingsError::TaxRateOutOfRange => "tax_rate",
            ItemSettingsError::UnitEmpty
            | ItemSettingsError::UnitTooLong
            | ItemSettingsError::UnitControlChar => "unit",
            ItemSettingsError::SpecificationEmpty
            | ItemSettingsError::SpecificationTooLong
            | ItemSettingsError::SpecificationControlChar => "specification",
        }
    }
}

/// Implements `Display`, `FromStr`, `AsRef<str>` and string serde (through `parse`) for a
/// string newtype.
macro_rules! string_newtype {
    ($ty:ident) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }

        impl FromStr for $ty {
            type Err = ItemSettingsError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $ty::parse(s)
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $ty::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// Item name, unit, specification
// ---------------------------------------------------------------------------------------------

/// The item name (项目名称) printed on the invoice line: trimmed, 1–100 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemName(String);

impl ItemName {
    /// The most characters an item name may have (the bulk-issue template's limit).
    pub const MAX_CHARS: usize = 100;
    /// The default, `*非学历教育服务*培训费`.
    pub const DEFAULT: &'static str = "*非学历教育服务*培训费";

    /// Trims and checks an item name.
    pub fn parse(raw: &str) -> Result<ItemName, ItemSettingsError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(ItemSettingsError::ItemNameEmpty);
        }
        if s.chars().any(is_control_or_invisible) {
            return Err(ItemSettingsError::ItemNameControlChar);
        }
        if char_len(s) > Self::MAX_CHARS {
            return Err(ItemSettingsError::ItemNameTooLong);
        }
        Ok(ItemName(s.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ItemName {
    /// [`ItemName::DEFAULT`].
    fn default() -> Self {
        ItemName(Self::DEFAULT.to_owned())
    }
}

string_newtype!(ItemName);

/// Checks an optional short text: trimmed, one line, at most `max` characters; blank is `None`.
fn short_text(
    raw: &str,
    max: usize,
    too_long: ItemSettingsError,
    control: ItemSettingsError,
) -> Result<Option<String>, ItemSettingsError> {
    let s = raw.trim();
    if s.is_empty() {
        return Ok(None);
    }
    if s.chars().any(is_control_or_invisible) {
        return Err(control);
    }
    if char_len(s) > max {
        return Err(too_long);
    }
    Ok(Some(s.to_owned()))
}

/// The unit (单位) of the invoice line, e.g. `人`: trimmed, 1–20 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemUnit(String);

impl ItemUnit {
    /// The most characters a unit may have.
    pub const MAX_CHARS: usize = 20;
    /// The default, `人` (one line per person).
    pub const DEFAULT: &'static str = "人";

    /// Trims and checks a unit; a blank unit is [`ItemSettingsError::UnitEmpty`] here (use
    /// [`ItemUnit::parse_optional`] where blank means "no unit").
    pub fn parse(raw: &str) -> Result<ItemUnit, ItemSettingsError> {
        match Self::parse_optional(raw)? {
            Some(unit) => Ok(unit),
            None => Err(ItemSettingsError::UnitEmpty),
        }
    }

    /// Trims and checks a unit; blank means no unit.
    pub fn parse_optional(raw: &str) -> Result<Option<ItemUnit>, ItemSettingsError> {
        short_text(
            raw,
            Self::MAX_CHARS,
            ItemSettingsError::UnitTooLong,
            ItemSettingsError::UnitControlChar,
        )
        .map(|s| s.map(ItemUnit))
    }

    /// The unit.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(ItemUnit);

/// The specification or model (规格型号) of the invoice line: trimmed, 1–40 characters, one line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemSpecification(String);

impl ItemSpecification {
    /// The most characters a specification may have.
    pub const MAX_CHARS: usize = 40;

    /// Trims and checks a specification; a blank one is
    /// [`ItemSettingsError::SpecificationEmpty`] here (use [`ItemSpecification::parse_optional`]
    /// where blank means "none").
    pub fn parse(raw: &str) -> Result<ItemSpecification, ItemSettingsError> {
        match Self::parse_optional(raw)? {
            Some(spec) => Ok(spec),
            None => Err(ItemSettingsError::SpecificationEmpty),
        }
    }

    /// Trims and checks a specification; blank means none.
    pub fn parse_optional(raw: &str) -> Result<Option<ItemSpecification>, ItemSettingsError> {
        short_text(
            raw,
            Self::MAX_CHARS,
            ItemSettingsError::SpecificationTooLong,
            ItemSettingsError::SpecificationControlChar,
        )
        .map(|s| s.map(ItemSpecification))
    }

    /// The specification.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

string_newtype!(ItemSpecification);

// ---------------------------------------------------------------------------------------------
// Tax classification code
// ---------------------------------------------------------------------------------------------

/// A tax classification code (商品和服务税收分类编码): exactly 19 ASCII digits.
///
/// Full-width digits are folded to ASCII; spaces are not allowed inside.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaxCode(String);

impl TaxCode {
    /// The length of a code.
    pub const LEN: usize = 19;
    /// The default: 非学历教育服务 (non-degree education services), see the module docs.
    pub const DEFAULT: &'static str = "3070201020000000000";

    /// Trims, folds full-width digits and checks a code.
    pub fn parse(raw: &str) -> Result<TaxCode, ItemSettingsError> {
        let s: String = raw.trim().chars().map(fold_fullwidth).collect();
        if s.len() == Self::LEN && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(TaxCode(s))
        } else {
            Err(ItemSettingsError::TaxCodeInvalid)
        }
    }

    /// The 19 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for TaxCode {
    /// [`TaxCode::DEFAULT`].
    fn default() -> Self {
        TaxCode(Self::DEFAULT.to_owned())
    }
}

string_newtype!(TaxCode);

// ---------------------------------------------------------------------------------------------
// Tax rate
// ---------------------------------------------------------------------------------------------

/// The VAT rate of the invoice line: a percentage, or tax-exempt (免税).
///
/// A percentage is kept in basis points (hundredths of a percent: 6% is 600), between 0.01%
/// and [`TaxRate::MAX_BASIS_POINTS`]. Zero is refused: the zero rate (零税率) is for exports
/// and never applies to training fees, and tax-exempt is a different thing on the invoice.
///
/// Serialised as [`TaxRate::label`] (`6%`, `1.5%`, `免税`); deserialised through
/// [`TaxRate::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaxRate(Rate);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rate {
    BasisPoints(u16),
    Exempt,
}

impl TaxRate {
    /// Tax-exempt (免税).
    pub const EXEMPT: TaxRate = TaxRate(Rate::Exempt);
    /// 6%, the general rate for 生活服务 including education; the default.
    pub const SIX_PERCENT: TaxRate = TaxRate(Rate::BasisPoints(600));
    /// The highest rate accepted, 20% (no Chinese VAT rate has ever been above 17%).
    pub const MAX_BASIS_POINTS: u16 = 2_000;

    /// A percentage in basis points: `600` is 6%.
    pub fn from_basis_points(basis_points: u16) -> Result<TaxRate, ItemSettingsError> {
        if basis_points == 0 || basis_points > Self::MAX_BASIS_POINTS {
            return Err(ItemSettingsError::TaxRateOutOfRange);
        }
        Ok(TaxRate(Rate::BasisPoints(basis_points)))
    }

    /// Parses `6%`, `1.5%`, `0.5 %` (at most two decimals; full-width `％` and digits
    /// accepted) or `免税` / `exempt`. A number without `%` is refused, because `0.06` and `6`
    /// would be ambiguous.
    pub fn parse(raw: &str) -> Result<TaxRate, ItemSettingsError> {
        let folded: String = raw.trim().chars().map(fold_fullwidth).collect();
        let s = folded.trim();
        if s == "免税" || s.eq_ignore_ascii_case("exempt") {
            return Ok(TaxRate::EXEMPT);
        }
        let number = s.strip_suffix('%').ok_or(ItemSettingsError::TaxRateInvalid)?.trim_end();
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let digits_ok = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || whole.len() > 3 || frac.len() > 2 || !digits_ok(whole) {
            return Err(ItemSettingsError::TaxRateInvalid);
        }
        if number.contains('.') && (frac.is_empty() || !digits_ok(frac)) {
            return Err(ItemSettingsError::TaxRateInvalid);
        }
        let whole: u16 = whole.parse().map_err(|_| ItemSettingsError::TaxRateInvalid)?;
        let frac: u16 =
            format!("{frac:0<2}").parse().map_err(|_| ItemSettingsError::TaxRateInvalid)?;
        let basis_points = whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .ok_or(ItemSettingsError::TaxRateOutOfRange)?;
        TaxRate::from_basis_points(basis_points)
    }

    /// The rate in basis points, or `None` when tax-exempt.
    pub const fn basis_points(self) -> Option<u16> {
        match self.0 {
            Rate::BasisPoints(bp) => Some(bp),
            Rate::Exempt => None,
        }
    }

    /// Whether this is tax-exempt (免税).
    pub const fn is_exempt(self) -> bool {
        matches!(self.0, Rate::Exempt)
    }

    /// The rate for people: `6%`, `1.5%`, `0.01%` or `免税`.
    pub fn label(self) -> String {
        match self.0 {
            Rate::BasisPoints(bp) => {
                let (whole, frac) = (bp / 100, bp % 100);
                if frac == 0 {
                    format!("{whole}%")
                } else if frac % 10 == 0 {
                    format!("{whole}.{}%", frac / 10)
                } else {
                    format!("{whole}.{frac:02}%")
                }
            }
            Rate::Exempt => "免税".to_owned(),
        }
    }

    /// The rate as a decimal fraction, as the bulk-issue template's 税率 column takes it:
    /// 6% is `0.06`, 1.5% is `0.015`; tax-exempt is `0` (the template marks the exemption in
    /// its preferential-policy columns instead).
    pub fn fraction_text(self) -> String {
        match self.0 {
            Rate::BasisPoints(bp) => {
                let digits = format!("{:04}", bp % 10_000);
                let frac = digits.trim_end_matches('0');
                format!("{}.{frac}", bp / 10_000)
            }
            Rate::Exempt => "0".to_owned(),
        }
    }
}

impl Default for TaxRate {
    /// [`TaxRate::SIX_PERCENT`].
    fn default() -> Self {
        TaxRate::SIX_PERCENT
    }
}

impl fmt::Display for TaxRate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

impl FromStr for TaxRate {
    type Err = ItemSettingsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TaxRate::parse(s)
    }
}

impl Serialize for TaxRate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.label())
    }
}

impl<'de> Deserialize<'de> for TaxRate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        TaxRate::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Tax split
// ---------------------------------------------------------------------------------------------

/// A tax-inclusive amount split into the amount without tax (金额) and the tax (税额);
/// `net + tax` is always the gross amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TaxSplit {
    /// The amount without tax (不含税金额).
    pub net: Fen,
    /// The tax (税额).
    pub tax: Fen,
}

/// Splits a tax-inclusive amount (价税合计) into amount without tax and tax, in whole fen.
///
/// Rounding: half away from zero (四舍五入) to the fen, as invoices do. The tax is
/// `gross × rate / (1 + rate)` rounded, and the amount without tax is the rest, with one
/// refinement: when some amount `net` exists whose own tax `round(net × rate)` makes exactly
/// `gross`, that `net` is chosen, so an invoice issued from the amount without tax (是否含税 =
/// 否) adds up to what was paid. For a few amounts no such `net` exists (the sum jumps by two
/// fen there); the tax then still differs from the exact quotient by less than one fen. A
/// tax-exempt amount has no tax. Negative amounts (refunds) are split symmetrically.
///
/// ```
/// use baoming_invoicing::{split_tax_inclusive, Fen, TaxRate, TaxSplit};
///
/// // 680.00 at 6%: 641.51 + 38.49.
/// assert_eq!(
///     split_tax_inclusive(Fen(68_000), TaxRate::SIX_PERCENT),
///     TaxSplit { net: Fen(64_151), tax: Fen(3_849) },
/// );
/// assert_eq!(
///     split_tax_inclusive(Fen(68_000), TaxRate::EXEMPT),
///     TaxSplit { net: Fen(68_000), tax: Fen(0) },
/// );
/// ```
pub fn split_tax_inclusive(gross: Fen, rate: TaxRate) -> TaxSplit {
    let Some(bp) = rate.basis_points() else {
        return TaxSplit { net: gross, tax: Fen::ZERO };
    };
    let bp = i128::from(bp);
    let negative = gross.get() < 0;
    let g = i128::from(gross.get()).abs();
    let tax_of = |net: i128| (net * bp + 5_000) / 10_000;
    let denominator = 10_000 + bp;
    // round_half_up(g / (1 + r)) = round_half_up(g × 10000 / (10000 + bp)).
    let nearest = (2 * g * 10_000 + denominator) / (2 * denominator);
    let net = [nearest, nearest - 1, nearest + 1]
        .into_iter()
        .find(|&n| (0..=g).contains(&n) && n + tax_of(n) == g)
        .unwrap_or(nearest);
    let tax = g - net;
    let signed = |v: i128| {
        let v = if negative { -v } else { v };
        // |v| ≤ |gross|, so it fits.
        Fen(i64::try_from(v).unwrap_or(if negative { i64::MIN } else { i64::MAX }))
    };
    TaxSplit { net: signed(net), tax: signed(tax) }
}

// ---------------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------------

/// The settings of the invoice line (商品/服务) for one bulk-issue workbook, every field
/// checked by its type. [`Default`] gives the documented defaults (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceItemSettings {
    /// The item name (项目名称).
    pub item_name: ItemName,
    /// The tax classification code (商品和服务税收编码).
    pub tax_code: TaxCode,
    /// The VAT rate (税率).
    pub tax_rate: TaxRate,
    /// Whether the amounts in the workbook include tax (是否含税). With `true` the workbook
    /// carries the fees as paid and the platform computes the tax; with `false` it carries
    /// the amounts without tax from [`split_tax_inclusive`].
    pub prices_include_tax: bool,
    /// The unit (单位), e.g. `人`; `None` leaves it blank.
    pub unit: Option<ItemUnit>,
    /// The specification (规格型号); usually `None`.
    pub specification: Option<ItemSpecification>,
    /// Whether the buyer's address, phone, bank and account are printed on the invoice when
    /// the title has them (是否展示购买方地址电话银行账号).
    pub show_buyer_contact: bool,
}

impl Default for InvoiceItemSettings {
    fn default() -> Self {
        InvoiceItemSettings {
            item_name: ItemName::default(),
            tax_code: TaxCode::default(),
            tax_rate: TaxRate::default(),
            prices_include_tax: true,
            unit: Some(ItemUnit(ItemUnit::DEFAULT.to_owned())),
            specification: None,
            show_buyer_contact: true,
        }
    }
}

/// The invoice item settings as a form or a configuration file gives them, before any check.
///
/// A missing field (`None`) takes the default of [`InvoiceItemSettings::default`]. For `unit`
/// and `specification` an empty string means "leave blank".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceItemSettingsInput {
    /// The item name.
    #[serde(default)]
    pub item_name: Option<String>,
    /// The tax classification code.
    #[serde(default)]
    pub tax_code: Option<String>,
    /// The tax rate, e.g. `6%` or `免税`.
    #[serde(default)]
    pub tax_rate: Option<String>,
    /// Whether prices include tax.
    #[serde(default)]
    pub prices_include_tax: Option<bool>,
    /// The unit; `""` for none.
    #[serde(default)]
    pub unit: Option<String>,
    /// The specification; `""` for none.
    #[serde(default)]
    pub specification: Option<String>,
    /// Whether to print the buyer's address and bank details.
    #[serde(default)]
    pub show_buyer_contact: Option<bool>,
}

impl InvoiceItemSettings {
    /// Checks the given settings, taking the default for every missing one; returns the first
    /// problem found, in field order.
    pub fn parse(input: &InvoiceItemSettingsInput) -> Result<Self, ItemSettingsError> {
        let defaults = InvoiceItemSettings::default();
        Ok(InvoiceItemSettings {
            item_name: match &input.item_name {
                Some(raw) => ItemName::parse(raw)?,
                None => defaults.item_name,
            },
            tax_code: match &input.tax_code {
                Some(raw) => TaxCode::parse(raw)?,
                None => defaults.tax_code,
            },
            tax_rate: match &input.tax_rate {
                Some(raw) => TaxRate::parse(raw)?,
                None => defaults.tax_rate,
            },
            prices_include_tax: input.prices_include_tax.unwrap_or(defaults.prices_include_tax),
            unit: match &input.unit {
                Some(raw) => ItemUnit::parse_optional(raw)?,
                None => defaults.unit,
            },
            specification: match &input.specification {
                Some(raw) => ItemSpecification::parse_optional(raw)?,
                None => defaults.specification,
            },
            show_buyer_contact: input.show_buyer_contact.unwrap_or(defaults.show_buyer_contact),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults() {
        let s = InvoiceItemSettings::default();
        assert_eq!(s.item_name.as_str(), "*非学历教育服务*培训费");
        assert_eq!(s.tax_code.as_str(), "3070201020000000000");
        assert_eq!(s.tax_rate, TaxRate::SIX_PERCENT);
        assert!(s.prices_include_tax);
        assert_eq!(s.unit.as_ref().map(ItemUnit::as_str), Some("人"));
        assert_eq!(s.specification, None);
        assert!(s.show_buyer_contact);
        assert_eq!(InvoiceItemSettings::parse(&InvoiceItemSettingsInput::default()), Ok(s));
    }

    #[test]
    fn settings_parse() {
        let input = InvoiceItemSettingsInput {
            item_name: Some(" 培训费 ".into()),
            tax_code: Some("３０７０２０１０２００００００００００".into()),
            tax_rate: Some("3%".into()),
            prices_include_tax: Some(false),
            unit: Some(String::new()),
            specification: Some(" 监理工程师 ".into()),
            show_buyer_contact: Some(false),
        };
        let s = InvoiceItemSettings::parse(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(s.item_name.as_str(), "培训费");
        assert_eq!(s.tax_code.as_str(), "3070201020000000000");
        assert_eq!(s.tax_rate.basis_points(), Some(300));
        assert!(!s.prices_include_tax);
        assert_eq!(s.unit, None);
        assert_eq!(s.specification.as_ref().map(ItemSpecification::as_str), Some("监理工程师"));
        assert!(!s.show_buyer_contact);

        let bad = |input: InvoiceItemSettingsInput| InvoiceItemSettings::parse(&input).err();
        assert_eq!(
            bad(InvoiceItemSettingsInput { item_name: Some("  ".into()), ..Default::default() }),
            Some(ItemSettingsError::ItemNameEmpty)
        );
        assert_eq!(
            bad(InvoiceItemSettingsInput {
                item_name: Some("培\n训".into()),
                ..Default::default()
            }),
            Some(ItemSettingsError::ItemNameControlChar)
        );
        assert_eq!(
            bad(InvoiceItemSettingsInput {
                item_name: Some("培".repeat(101)),
                ..Default::default()
            }),
            Some(ItemSettingsError::ItemNameTooLong)
        );
        assert!(ItemName::parse(&"培".repeat(100)).is_ok());
        assert_eq!(
            bad(InvoiceItemSettingsInput {
                tax_code: Some("307020102000000000".into()),
                ..Default::default()
            }),
            Some(ItemSettingsError::TaxCodeInvalid)
        );
        assert_eq!(
            bad(InvoiceItemSettingsInput {
                tax_code: Some("307020102000000000X".into()),
                ..Default::default()
            }),
            Some(ItemSettingsError::TaxCodeInvalid)
        );
        assert_eq!(
            bad(InvoiceItemSettingsInput { tax_rate: Some("0.06".into()), ..Default::default() }),
            Some(ItemSettingsError::TaxRateInvalid)
        );
        assert_eq!(
            bad(InvoiceItemSettingsInput { unit: Some("人".repeat(21)), ..Default::default() }),
            Some(ItemSettingsError::UnitTooLong)
        );
        assert_eq!(
            bad(InvoiceItemSettingsInput {
                specification: Some("a\tb".into()),
                ..Default::default()
            }),
            Some(ItemSettingsError::SpecificationControlChar)
        );
        let e = ItemSettingsError::TaxCodeInvalid;
        assert_eq!((e.field(), e.code()), ("tax_code", "invalid"));
        assert_eq!(e.to_string(), "商品和服务税收编码应为19位数字");
        assert_eq!(ItemUnit::parse(" "), Err(ItemSettingsError::UnitEmpty));
        assert_eq!(ItemSettingsError::UnitEmpty.code(), "required");
        assert_eq!(ItemUnit::parse(" 次 ").map(|u| u.to_string()), Ok("次".to_owned()));
        assert_eq!(ItemSpecification::parse(""), Err(ItemSettingsError::SpecificationEmpty));
    }

    #[test]
    fn settings_serde_round_trip() {
        let s = InvoiceItemSettings::default();
        let json = serde_json::to_string(&s).unwrap_or_else(|e| panic!("{e}"));
        assert!(json.contains(r#""tax_rate":"6%""#), "{json}");
        assert!(json.contains(r#""tax_code":"3070201020000000000""#), "{json}");
        let back: InvoiceItemSettings =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, s);
        assert!(serde_json::from_str::<InvoiceItemSettings>(&json.replace("6%", "21%")).is_err());
        let input: InvoiceItemSettingsInput =
            serde_json::from_str(r#"{"tax_rate":"免税"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(InvoiceItemSettings::parse(&input).map(|s| s.tax_rate), Ok(TaxRate::EXEMPT));
    }

    #[test]
    fn tax_rate_parse_and_format() {
        let ok = |raw: &str| TaxRate::parse(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
        assert_eq!(ok("6%"), TaxRate::SIX_PERCENT);
        assert_eq!(ok(" 6 %"), TaxRate::SIX_PERCENT);
        assert_eq!(ok("６％"), TaxRate::SIX_PERCENT);
        assert_eq!(ok("6.00%"), TaxRate::SIX_PERCENT);
        assert_eq!(ok("1.5%").basis_points(), Some(150));
        assert_eq!(ok("0.5%").basis_points(), Some(50));
        assert_eq!(ok("0.01%").basis_points(), Some(1));
        assert_eq!(ok("20%").basis_points(), Some(2_000));
        assert_eq!(ok("免税"), TaxRate::EXEMPT);
        assert_eq!(ok("Exempt"), TaxRate::EXEMPT);
        for bad in ["", "6", "0.06", "%", "6.%", ".5%", "6.123%", "-6%", "六%", "6%%", "1e1%"] {
            assert_eq!(TaxRate::parse(bad), Err(ItemSettingsError::TaxRateInvalid), "{bad:?}");
        }
        for out in ["0%", "0.00%", "20.01%", "100%", "655.36%", "999%"] {
            assert_eq!(TaxRate::parse(out), Err(ItemSettingsError::TaxRateOutOfRange), "{out:?}");
        }
        assert_eq!(TaxRate::from_basis_points(0), Err(ItemSettingsError::TaxRateOutOfRange));

        let cases = [
            (600, "6%", "0.06"),
            (1_300, "13%", "0.13"),
            (900, "9%", "0.09"),
            (300, "3%", "0.03"),
            (100, "1%", "0.01"),
            (150, "1.5%", "0.015"),
            (50, "0.5%", "0.005"),
            (1, "0.01%", "0.0001"),
            (1_234, "12.34%", "0.1234"),
        ];
        for (bp, label, fraction) in cases {
            let rate = TaxRate::from_basis_points(bp).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(rate.label(), label);
            assert_eq!(rate.to_string(), label);
            assert_eq!(rate.fraction_text(), fraction);
            assert_eq!(TaxRate::parse(label), Ok(rate));
            assert!(!rate.is_exempt());
        }
        assert_eq!(TaxRate::EXEMPT.label(), "免税");
        assert_eq!(TaxRate::EXEMPT.fraction_text(), "0");
        assert!(TaxRate::EXEMPT.is_exempt());
        assert_eq!(TaxRate::EXEMPT.basis_points(), None);
    }

    #[test]
    fn split_worked_examples() {
        let six = TaxRate::SIX_PERCENT;
        let split = |g: i64, r: TaxRate| {
            let s = split_tax_inclusive(Fen(g), r);
            (s.net.get(), s.tax.get())
        };
        // 680.00 / 1.06 = 641.509… → 641.51; tax 38.49 = round(641.51 × 0.06 = 38.4906).
        assert_eq!(split(68_000, six), (64_151, 3_849));
        // 2040.00 / 1.06 = 1924.528… → 1924.53; 1924.53 × 0.06 = 115.4718 → 115.47.
        assert_eq!(split(204_000, six), (192_453, 11_547));
        let three = TaxRate::from_basis_points(300).unwrap_or_else(|e| panic!("{e}"));
        // 1280.00 / 1.03 = 1242.718… → 1242.72; tax 37.28.
        assert_eq!(split(128_000, three), (124_272, 3_728));
        assert_eq!(split(0, six), (0, 0));
        assert_eq!(split(1, six), (1, 0));
        assert_eq!(split(-68_000, six), (-64_151, -3_849));
        assert_eq!(split(99, TaxRate::EXEMPT), (99, 0));
        let extreme = split_tax_inclusive(Fen(i64::MIN), six);
        assert_eq!(extreme.net.checked_add(extreme.tax), Some(Fen(i64::MIN)));
        let extreme = split_tax_inclusive(Fen(i64::MAX), six);
        assert_eq!(extreme.net.checked_add(extreme.tax), Some(Fen(i64::MAX)));
    }

    /// `round_half_up(net × bp / 10000)` for `net ≥ 0`.
    fn tax_of(net: i64, bp: u16) -> i64 {
        (net * i64::from(bp) + 5_000) / 10_000
    }

    /// The smallest `net` with `net + tax_of(net) ≥ gross`, by binary search: an oracle
    /// independent of the implementation's closed form (`net + tax_of(net)` never decreases).
    fn exact_net(gross: i64, bp: u16) -> Option<i64> {
        let (mut lo, mut hi) = (0, gross);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if mid + tax_of(mid, bp) >= gross {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        (lo + tax_of(lo, bp) == gross).then_some(lo)
    }

    proptest! {
        #[test]
        fn split_adds_up_and_is_within_a_fen(
            gross in 0_i64..10_000_000_000,
            bp in 1_u16..=2_000,
        ) {
            let rate = TaxRate::from_basis_points(bp).unwrap_or(TaxRate::SIX_PERCENT);
            let s = split_tax_inclusive(Fen(gross), rate);
            prop_assert_eq!(s.net.get() + s.tax.get(), gross);
            prop_assert!(s.net.get() >= 0 && s.tax.get() >= 0);
            // |tax − gross × bp / (10000 + bp)| < 1 fen.
            let exact = i128::from(gross) * i128::from(bp);
            let scaled = i128::from(s.tax.get()) * (10_000 + i128::from(bp));
            prop_assert!((scaled - exact).abs() < 10_000 + i128::from(bp));
            // When some net re-adds exactly to the gross, the split found one.
            if exact_net(gross, bp).is_some() {
                prop_assert_eq!(s.net.get() + tax_of(s.net.get(), bp), gross);
            }
            // Symmetric for refunds.
            let neg = split_tax_inclusive(Fen(-gross), rate);
            prop_assert_eq!((neg.net.get(), neg.tax.get()), (-s.net.get(), -s.tax.get()));
        }

        #[test]
        fn tax_rate_parse_never_panics(s in "\\PC{0,12}") {
            if let Ok(rate) = TaxRate::parse(&s) {
                prop_assert_eq!(TaxRate::parse(&rate.label()), Ok(rate));
            }
        }
    }
}
