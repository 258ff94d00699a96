//! Grouping paid registrations into invoices for the tax bureau's bulk issue (批量开具).
//!
//! The input is one [`PaidRegistration`] per paid registration of one period; the output is
//! one [`InvoiceDraft`] per invoice to issue. The rule ([`group_invoices`]):
//!
//! - registrations that asked for a joint invoice (同单位合开) with a company title become one
//!   invoice per buyer, the buyer being the same tax ID, the same invoice type and the same
//!   title name, each compared after normalisation (full-width ASCII folded, whitespace
//!   dropped, ASCII letters case-insensitive; see [`buyer_key`]). Its amount is the sum of
//!   their paid fees;
//! - everything else is one invoice per registration: no joint invoice asked for, or a
//!   personal title (a person's invoice is not shared), or a company title without a tax ID
//!   (an old snapshot: it cannot be matched safely).
//!
//! Every invoice's remark (备注) is [`invoice_remark`] of the period name and the names of the
//! people it covers, at most [`crate::REMARK_MAX_CHARS`] characters; when the names do not all
//! fit, the remark says how many people there are and that the list is attached, and
//! [`InvoiceDraft::remark_is_cut`] tells the workbook to add the full list in an extra sheet.
//!
//! Everything is deterministic and independent of the order of the input: the people of an
//! invoice are sorted by name, then registration key; the invoices by the smallest
//! registration key they cover.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;

use crate::joint::invoice_remark;
use crate::money::Fen;
use crate::snapshot::InvoiceSnapshot;
use crate::text::{comparison_key, fold_fullwidth};
use crate::title::{InvoiceType, TitleKind};

/// One paid registration to invoice, as the store hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaidRegistration {
    /// The registration's key: opaque to this crate (e.g. its id), unique in one call.
    pub key: String,
    /// The participant's name, as it should appear in the remark.
    pub participant_name: String,
    /// The invoice title the registration stored at submission.
    pub title: InvoiceSnapshot,
    /// Whether the registration asked for a joint invoice (同单位合开).
    pub joint: bool,
    /// The participant's own remark for the joint invoice (e.g. `与张三、李四合开`), kept for
    /// finance to compare with the actual group; not printed.
    pub joint_remark: Option<String>,
    /// The fee paid, in fen; must be positive.
    pub paid: Fen,
}

/// Whether an invoice covers one registration or is a joint invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DraftKind {
    /// One registration's own invoice.
    Single,
    /// A joint invoice (同单位合开) of the registrations that asked for one with the same
    /// buyer. It may cover a single registration when no colleague's has been paid (yet).
    Joint,
}

/// One registration an invoice covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CoveredRegistration {
    /// The registration's key.
    pub key: String,
    /// The participant's name, trimmed.
    pub name: String,
    /// The fee paid.
    pub paid: Fen,
    /// The participant's own joint-invoice remark, if any.
    pub requested_remark: Option<String>,
}

/// One invoice to issue: buyer, amount, the registrations it covers and its remark.
///
/// Only [`group_invoices`] makes drafts, so the amount is always the positive sum of the
/// covered fees and the remark fits the invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceDraft {
    kind: DraftKind,
    buyer: InvoiceSnapshot,
    amount: Fen,
    covers: Vec<CoveredRegistration>,
    remark: String,
    remark_is_cut: bool,
}

impl InvoiceDraft {
    /// Single or joint.
    pub fn kind(&self) -> DraftKind {
        self.kind
    }

    /// The buyer (购买方): title name, tax ID, invoice type, address, phone, bank, account and
    /// email. For a joint invoice: the title of its first covered registration, each missing
    /// optional field (address, phone, bank, account, email) taken from the first covered
    /// registration that has it.
    pub fn buyer(&self) -> &InvoiceSnapshot {
        &self.buyer
    }

    /// Normal or special VAT invoice.
    pub fn invoice_type(&self) -> InvoiceType {
        self.buyer.invoice_type
    }

    /// Whether the buyer is a natural person (受票方自然人标识): a personal title.
    pub fn is_natural_person(&self) -> bool {
        self.buyer.kind == TitleKind::Personal
    }

    /// The amount (价税合计): the sum of the covered fees, positive.
    pub fn amount(&self) -> Fen {
        self.amount
    }

    /// The registrations covered, sorted by name, then key; never empty.
    pub fn covers(&self) -> &[CoveredRegistration] {
        &self.covers
    }

    /// The keys of the covered registrations, in [`InvoiceDraft::covers`] order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.covers.iter().map(|c| c.key.as_str())
    }

    /// The names of the covered people, in [`InvoiceDraft::covers`] order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.covers.iter().map(|c| c.name.as_str())
    }

    /// The fee every covered registration paid, when they all paid the same (so the invoice
    /// line can read "3 × 680.00"); `None` otherwise.
    pub fn uniform_fee(&self) -> Option<Fen> {
        let first = self.covers.first()?.paid;
        self.covers.iter().all(|c| c.paid == first).then_some(first)
    }

    /// The remark (备注): `{period}：{name}、{name}…`, at most [`crate::REMARK_MAX_CHARS`]
    /// characters.
    pub fn remark(&self) -> &str {
        &self.remark
    }

    /// Whether the remark could not name everybody (it ends with `等N人（名单见附表）`): the
    /// full list must go into the workbook's extra sheet.
    pub fn remark_is_cut(&self) -> bool {
        self.remark_is_cut
    }

    /// The smallest covered key: the invoices' sort key.
    fn min_key(&self) -> &str {
        self.covers.iter().map(|c| c.key.as_str()).min().unwrap_or_default()
    }
}

/// Why a batch of registrations cannot be grouped. Nothing is grouped then: the caller fixes
/// the data (or leaves the registration out) and tries again.
///
/// The `Display` text is a short Chinese message for finance staff.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupingError {
    /// Two registrations have the same key.
    #[error("报名记录{key}重复出现")]
    DuplicateKey {
        /// The key.
        key: String,
    },
    /// A registration has no participant name.
    #[error("报名记录{key}缺少姓名，无法开票")]
    MissingName {
        /// The registration's key.
        key: String,
    },
    /// A registration's paid fee is zero or negative: there is nothing to invoice.
    #[error("报名记录{key}的实缴金额为{paid}元，须大于0才能开票")]
    NonPositiveFee {
        /// The registration's key.
        key: String,
        /// The fee given.
        paid: Fen,
    },
    /// The sum of a joint invoice's fees does not fit in an `i64` (corrupt data).
    #[error("合开发票金额超出范围（报名记录{key}）")]
    AmountOverflow {
        /// The key of the registration whose fee overflowed the sum.
        key: String,
    },
}

impl GroupingError {
    /// A stable machine code: `duplicate_key`, `missing_name`, `non_positive_fee` or
    /// `amount_overflow`.
    pub fn code(&self) -> &'static str {
        match self {
            GroupingError::DuplicateKey { .. } => "duplicate_key",
            GroupingError::MissingName { .. } => "missing_name",
            GroupingError::NonPositiveFee { .. } => "non_positive_fee",
            GroupingError::AmountOverflow { .. } => "amount_overflow",
        }
    }

    /// The key of the registration concerned.
    pub fn key(&self) -> &str {
        match self {
            GroupingError::DuplicateKey { key }
            | GroupingError::MissingName { key }
            | GroupingError::NonPositiveFee { key, .. }
            | GroupingError::AmountOverflow { key } => key,
        }
    }
}

/// Who an invoice is made out to, normalised for comparison: two joint requests with equal
/// keys share one invoice.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BuyerKey {
    /// The tax ID, [`comparison_key`]-normalised (upper-case).
    tax_id: String,
    /// The invoice type.
    invoice_type: InvoiceTypeOrd,
    /// The title name, normalised.
    name: String,
}

/// [`InvoiceType`] with an order, for the map of groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum InvoiceTypeOrd {
    Normal,
    Special,
}

/// The buyer key of a title, or `None` when the title cannot be shared: personal, or without
/// a tax ID.
///
/// Normalisation: full-width ASCII folded to ASCII (`（` and `(` are the same), whitespace,
/// control and invisible characters dropped, ASCII letters compared without case; the
/// invoice type must be equal.
pub fn buyer_key(title: &InvoiceSnapshot) -> Option<BuyerKey> {
    if title.kind != TitleKind::Company {
        return None;
    }
    let tax_id = comparison_key(title.tax_id.as_deref().unwrap_or_default()).to_ascii_uppercase();
    if tax_id.is_empty() {
        return None;
    }
    Some(BuyerKey {
        tax_id,
        invoice_type: match title.invoice_type {
            InvoiceType::Normal => InvoiceTypeOrd::Normal,
            InvoiceType::Special => InvoiceTypeOrd::Special,
        },
        name: comparison_key(&title.name),
    })
}

/// Groups one period's paid registrations into invoices; see the module docs for the rule.
///
/// `period_name` starts every remark. The registrations may come in any order; the result
/// does not depend on it.
///
/// # Errors
///
/// A [`GroupingError`] for the first registration (in input order) with a duplicate key, a
/// blank name or a fee that is not positive, or when a joint invoice's sum overflows.
///
/// # Example
///
/// ```
/// use baoming_invoicing::{
///     group_invoices, DraftKind, Fen, InvoiceSnapshot, InvoiceType, PaidRegistration, TitleKind,
/// };
///
/// let employer = InvoiceSnapshot {
///     kind: TitleKind::Company,
///     invoice_type: InvoiceType::Normal,
///     name: "福建某监理有限公司".into(),
///     tax_id: Some("91350100M000100Y43".into()),
///     address: None, phone: None, bank: None, bank_account: None, email: None,
/// };
/// let joint = |key: &str, name: &str| PaidRegistration {
///     key: key.into(),
///     participant_name: name.into(),
///     title: employer.clone(),
///     joint: true,
///     joint_remark: None,
///     paid: Fen(68_000),
/// };
/// let drafts = group_invoices("2026年第一期", &[joint("r2", "李四"), joint("r1", "张三")])?;
/// assert_eq!(drafts.len(), 1);
/// assert_eq!(drafts[0].kind(), DraftKind::Joint);
/// assert_eq!(drafts[0].amount(), Fen(136_000));
/// assert_eq!(drafts[0].remark(), "2026年第一期：张三、李四");
/// # Ok::<(), baoming_invoicing::GroupingError>(())
/// ```
pub fn group_invoices(
    period_name: &str,
    registrations: &[PaidRegistration],
) -> Result<Vec<InvoiceDraft>, GroupingError> {
    let mut seen = HashSet::with_capacity(registrations.len());
    for r in registrations {
        if !seen.insert(r.key.as_str()) {
            return Err(GroupingError::DuplicateKey { key: r.key.clone() });
        }
        if r.participant_name.trim().is_empty() {
            return Err(GroupingError::MissingName { key: r.key.clone() });
        }
        if r.paid.get() <= 0 {
            return Err(GroupingError::NonPositiveFee { key: r.key.clone(), paid: r.paid });
        }
    }

    let mut groups: BTreeMap<BuyerKey, Vec<&PaidRegistration>> = BTreeMap::new();
    let mut drafts = Vec::new();
    for r in registrations {
        match buyer_key(&r.title).filter(|_| r.joint) {
            Some(key) => groups.entry(key).or_default().push(r),
            None => drafts.push(draft(period_name, DraftKind::Single, vec![r])?),
        }
    }
    for members in groups.into_values() {
        drafts.push(draft(period_name, DraftKind::Joint, members)?);
    }
    drafts.sort_by(|a, b| a.min_key().cmp(b.min_key()));
    Ok(drafts)
}

/// Builds the draft of one invoice from its registrations (at least one).
fn draft(
    period_name: &str,
    kind: DraftKind,
    mut members: Vec<&PaidRegistration>,
) -> Result<InvoiceDraft, GroupingError> {
    members.sort_by(|a, b| {
        (a.participant_name.trim(), a.key.as_str()).cmp(&(b.participant_name.trim(), &b.key))
    });
    let mut amount = Fen::ZERO;
    for m in &members {
        amount = amount
            .checked_add(m.paid)
            .ok_or_else(|| GroupingError::AmountOverflow { key: m.key.clone() })?;
    }
    let buyer = merged_buyer(&members);
    let covers: Vec<CoveredRegistration> = members
        .iter()
        .map(|m| CoveredRegistration {
            key: m.key.clone(),
            name: m.participant_name.trim().to_owned(),
            paid: m.paid,
            requested_remark: m
                .joint_remark
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        })
        .collect();
    let names: Vec<&str> = covers.iter().map(|c| c.name.as_str()).collect();
    let text = invoice_remark(period_name, &names);
    Ok(InvoiceDraft {
        kind,
        buyer,
        amount,
        covers,
        remark: text.remark,
        remark_is_cut: text.overflow,
    })
}

/// The buyer of an invoice: the first member's title, tax ID cleaned (full-width folded,
/// whitespace dropped, upper-case), each missing optional field taken from the first member
/// that has it.
fn merged_buyer(members: &[&PaidRegistration]) -> InvoiceSnapshot {
    let mut buyer = members.first().map(|m| m.title.clone()).unwrap_or_else(|| InvoiceSnapshot {
        kind: TitleKind::Personal,
        invoice_type: InvoiceType::Normal,
        name: String::new(),
        tax_id: None,
        address: None,
        phone: None,
        bank: None,
        bank_account: None,
        email: None,
    });
    buyer.name = buyer.name.trim().to_owned();
    buyer.tax_id = buyer.tax_id.as_deref().map(clean_tax_id).filter(|s| !s.is_empty());
    let fields: [fn(&mut InvoiceSnapshot) -> &mut Option<String>; 5] = [
        |s| &mut s.address,
        |s| &mut s.phone,
        |s| &mut s.bank,
        |s| &mut s.bank_account,
        |s| &mut s.email,
    ];
    for field in fields {
        let slot = field(&mut buyer);
        *slot = slot.take().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        if slot.is_none() {
            *slot = members.iter().find_map(|m| {
                let mut title = m.title.clone();
                field(&mut title).take().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
            });
        }
    }
    buyer
}

/// A tax ID as printed: full-width folded, whitespace dropped, upper-case.
fn clean_tax_id(raw: &str) -> String {
    raw.chars()
        .map(fold_fullwidth)
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::joint::REMARK_MAX_CHARS;
    use proptest::prelude::*;

    const PERIOD: &str = "2026年第一期监理工程师考前培训";

    fn company(name: &str, tax_id: &str, invoice_type: InvoiceType) -> InvoiceSnapshot {
        InvoiceSnapshot {
            kind: TitleKind::Company,
            invoice_type,
            name: name.to_owned(),
            tax_id: Some(tax_id.to_owned()),
            address: None,
            phone: None,
            bank: None,
            bank_account: None,
            email: None,
        }
    }

    fn employer() -> InvoiceSnapshot {
        company("福建某监理有限公司", "91350100M000100Y43", InvoiceType::Normal)
    }

    fn personal(name: &str) -> InvoiceSnapshot {
        InvoiceSnapshot {
            kind: TitleKind::Personal,
            tax_id: None,
            ..company(name, "", InvoiceType::Normal)
        }
    }

    fn reg(
        key: &str,
        name: &str,
        title: InvoiceSnapshot,
        joint: bool,
        paid: i64,
    ) -> PaidRegistration {
        PaidRegistration {
            key: key.to_owned(),
            participant_name: name.to_owned(),
            title,
            joint,
            joint_remark: joint.then(|| "同单位合开".to_owned()),
            paid: Fen(paid),
        }
    }

    fn group(regs: &[PaidRegistration]) -> Vec<InvoiceDraft> {
        group_invoices(PERIOD, regs).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn three_colleagues_share_one_invoice() {
        let regs = [
            reg("r3", "王五", employer(), true, 68_000),
            reg("r1", "张三", employer(), true, 68_000),
            reg("r2", "李四", employer(), true, 68_000),
        ];
        let drafts = group(&regs);
        assert_eq!(drafts.len(), 1);
        let d = &drafts[0];
        assert_eq!(d.kind(), DraftKind::Joint);
        assert_eq!(d.amount(), Fen(204_000));
        assert_eq!(d.uniform_fee(), Some(Fen(68_000)));
        // Sorted by name (code point order), then key.
        assert_eq!(d.names().collect::<Vec<_>>(), ["张三", "李四", "王五"]);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["r1", "r2", "r3"]);
        assert_eq!(d.remark(), format!("{PERIOD}：张三、李四、王五"));
        assert!(!d.remark_is_cut());
        assert!(!d.is_natural_person());
        assert_eq!(d.invoice_type(), InvoiceType::Normal);
        assert_eq!(d.buyer().tax_id.as_deref(), Some("91350100M000100Y43"));
        assert_eq!(d.covers()[0].requested_remark.as_deref(), Some("同单位合开"));
    }

    #[test]
    fn personal_and_non_joint_are_one_invoice_each() {
        let regs = [
            reg("r1", "张三", personal("张三"), false, 68_000),
            reg("r2", "李四", employer(), false, 68_000),
            reg("r3", "王五", employer(), false, 50_000),
            // A personal title cannot be shared even when asked.
            reg("r4", "赵六", personal("赵六"), true, 68_000),
        ];
        let drafts = group(&regs);
        assert_eq!(drafts.len(), 4);
        assert!(drafts.iter().all(|d| d.kind() == DraftKind::Single && d.covers().len() == 1));
        assert_eq!(
            drafts.iter().map(|d| d.keys().next().unwrap_or("")).collect::<Vec<_>>(),
            ["r1", "r2", "r3", "r4"]
        );
        assert!(drafts[0].is_natural_person());
        assert_eq!(drafts[0].buyer().tax_id, None);
        assert_eq!(drafts[0].remark(), format!("{PERIOD}：张三"));
        assert_eq!(drafts[2].amount(), Fen(50_000));
        assert!(drafts[3].is_natural_person());
    }

    #[test]
    fn buyers_must_match_in_tax_id_type_and_name() {
        let special = |name: &str| {
            let mut t = company(name, "91350100M000100Y43", InvoiceType::Special);
            t.address = Some("福州市鼓楼区".into());
            t.phone = Some("0591-87654321".into());
            t.bank = Some("中国银行福州分行".into());
            t.bank_account = Some("123456789012".into());
            t
        };
        let regs = [
            reg("a", "甲", employer(), true, 100),
            // Same employer, special invoice: another group.
            reg("b", "乙", special("福建某监理有限公司"), true, 200),
            reg("c", "丙", special("福建某监理有限公司"), true, 300),
            // Another tax ID: another group.
            reg(
                "d",
                "丁",
                company("福建某监理有限公司", "91350100M000100Y4X", InvoiceType::Normal),
                true,
                400,
            ),
            // Another name with the same tax ID: another group.
            reg(
                "e",
                "戊",
                company("福建某监理公司", "91350100M000100Y43", InvoiceType::Normal),
                true,
                500,
            ),
            // Typed differently but the same buyer: grouped with "a".
            reg(
                "f",
                "己",
                company(
                    " 福建某监理有限公司\u{3000}",
                    " ９１３５０１００ｍ０００１００ｙ４３ ",
                    InvoiceType::Normal,
                ),
                true,
                600,
            ),
        ];
        let drafts = group(&regs);
        let summary: Vec<(Vec<&str>, i64)> =
            drafts.iter().map(|d| (d.keys().collect(), d.amount().get())).collect();
        assert_eq!(
            summary,
            [
                (vec!["f", "a"], 700), // names 己 (U+5DF1) < 甲 (U+7532)
                (vec!["c", "b"], 500), // 丙 (U+4E19) < 乙 (U+4E59)
                (vec!["d"], 400),
                (vec!["e"], 500),
            ]
        );
        let special_draft = &drafts[1];
        assert_eq!(special_draft.invoice_type(), InvoiceType::Special);
        assert_eq!(special_draft.buyer().bank_account.as_deref(), Some("123456789012"));
        assert_eq!(special_draft.buyer().address.as_deref(), Some("福州市鼓楼区"));
        // The buyer is the first covered registration's title, tax ID cleaned.
        assert_eq!(drafts[0].buyer().name, "福建某监理有限公司");
        assert_eq!(drafts[0].buyer().tax_id.as_deref(), Some("91350100M000100Y43"));
        assert_eq!(drafts[0].uniform_fee(), None);
    }

    #[test]
    fn missing_buyer_details_come_from_colleagues() {
        let mut with_email = employer();
        with_email.email = Some(" caiwu@example.com ".into());
        let mut with_phone = employer();
        with_phone.phone = Some("0591-87654321".into());
        with_phone.email = Some("other@example.com".into());
        let regs = [
            reg("r1", "张三", employer(), true, 100),
            reg("r2", "李四", with_email, true, 100),
            reg("r3", "王五", with_phone, true, 100),
        ];
        let drafts = group(&regs);
        assert_eq!(drafts.len(), 1);
        let buyer = drafts[0].buyer();
        assert_eq!(buyer.email.as_deref(), Some("caiwu@example.com"));
        assert_eq!(buyer.phone.as_deref(), Some("0591-87654321"));
        assert_eq!(buyer.address, None);
    }

    #[test]
    fn a_company_title_without_tax_id_is_not_shared() {
        let mut old = employer();
        old.tax_id = Some("  ".into());
        let regs = [reg("r1", "张三", old.clone(), true, 100), reg("r2", "李四", old, true, 100)];
        let drafts = group(&regs);
        assert_eq!(drafts.len(), 2);
        assert!(drafts.iter().all(|d| d.kind() == DraftKind::Single));
        assert_eq!(drafts[0].buyer().tax_id, None);
    }

    #[test]
    fn a_long_joint_list_is_cut_and_flagged() {
        let regs: Vec<PaidRegistration> = (0..60)
            .map(|i| reg(&format!("r{i:03}"), &format!("学员{i:03}"), employer(), true, 68_000))
            .collect();
        let drafts = group(&regs);
        assert_eq!(drafts.len(), 1);
        let d = &drafts[0];
        assert_eq!(d.covers().len(), 60);
        assert_eq!(d.amount(), Fen(60 * 68_000));
        assert!(d.remark_is_cut());
        assert!(d.remark().chars().count() <= REMARK_MAX_CHARS);
        assert!(d.remark().starts_with(&format!("{PERIOD}：学员000、学员001")));
        assert!(d.remark().ends_with("等60人（名单见附表）"));
    }

    #[test]
    fn errors() {
        let dup = [reg("r1", "张三", employer(), true, 1), reg("r1", "李四", employer(), true, 1)];
        let err = group_invoices(PERIOD, &dup).err();
        assert_eq!(err, Some(GroupingError::DuplicateKey { key: "r1".into() }));
        assert_eq!(err.as_ref().map(GroupingError::code), Some("duplicate_key"));
        assert_eq!(err.map(|e| e.to_string()).as_deref(), Some("报名记录r1重复出现"));

        let err = group_invoices(PERIOD, &[reg("r9", " ", employer(), false, 1)]).err();
        assert_eq!(err.as_ref().map(GroupingError::code), Some("missing_name"));
        assert_eq!(err.as_ref().map(GroupingError::key), Some("r9"));

        let err = group_invoices(PERIOD, &[reg("r2", "张三", employer(), false, 0)]).err();
        assert_eq!(
            err.map(|e| e.to_string()).as_deref(),
            Some("报名记录r2的实缴金额为0.00元，须大于0才能开票")
        );
        let err = group_invoices(PERIOD, &[reg("r2", "张三", employer(), false, -5)]).err();
        assert_eq!(err.as_ref().map(GroupingError::code), Some("non_positive_fee"));

        let huge =
            [reg("a", "张三", employer(), true, i64::MAX), reg("b", "李四", employer(), true, 1)];
        let err = group_invoices(PERIOD, &huge).err();
        assert_eq!(err.as_ref().map(GroupingError::code), Some("amount_overflow"));
        assert_eq!(group_invoices(PERIOD, &[]), Ok(Vec::new()));
    }

    fn arb_title() -> impl Strategy<Value = InvoiceSnapshot> {
        prop_oneof![
            Just(employer()),
            Just(company("福建某监理有限公司", "91350100M000100Y43", InvoiceType::Special)),
            Just(company("某某公司", "914403001922038216", InvoiceType::Normal)),
            Just(personal("张三")),
        ]
    }

    fn arb_regs() -> impl Strategy<Value = Vec<PaidRegistration>> {
        proptest::collection::vec(
            (arb_title(), any::<bool>(), 1_i64..1_000_000, "[张李王赵]{1,2}"),
            0..40,
        )
        .prop_map(|v| {
            v.into_iter()
                .enumerate()
                .map(|(i, (title, joint, paid, name))| {
                    reg(&format!("k{i:02}"), &name, title, joint, paid)
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn grouping_conserves_registrations_and_money(regs in arb_regs()) {
            let drafts = group(&regs);
            let mut keys: Vec<&str> = drafts.iter().flat_map(InvoiceDraft::keys).collect();
            keys.sort_unstable();
            let mut expected: Vec<&str> = regs.iter().map(|r| r.key.as_str()).collect();
            expected.sort_unstable();
            prop_assert_eq!(keys, expected);
            let total: i64 = drafts.iter().map(|d| d.amount().get()).sum();
            prop_assert_eq!(total, regs.iter().map(|r| r.paid.get()).sum::<i64>());
            for d in &drafts {
                prop_assert!(d.remark().chars().count() <= REMARK_MAX_CHARS);
                prop_assert_eq!(d.amount().get(), d.covers().iter().map(|c| c.paid.get()).sum::<i64>());
                let buyer = buyer_key(d.buyer());
                for c in d.covers() {
                    let r = regs.iter().find(|r| r.key == c.key);
                    prop_assert!(r.is_some());
                    if let Some(r) = r {
                        if d.kind() == DraftKind::Joint {
                            prop_assert!(r.joint);
                            prop_assert_eq!(buyer_key(&r.title), buyer.clone());
                        } else {
                            prop_assert_eq!(d.covers().len(), 1);
                            prop_assert!(!r.joint || buyer_key(&r.title).is_none());
                        }
                    }
                }
            }
            // No two joint drafts for the same buyer.
            let mut joint_buyers: Vec<_> = drafts
                .iter()
                .filter(|d| d.kind() == DraftKind::Joint)
                .map(|d| buyer_key(d.buyer()))
                .collect();
            let n = joint_buyers.len();
            joint_buyers.sort();
            joint_buyers.dedup();
            prop_assert_eq!(joint_buyers.len(), n);
        }

        #[test]
        fn grouping_ignores_input_order(regs in arb_regs(), seed in any::<u64>()) {
            let mut shuffled = regs.clone();
            // A deterministic shuffle from the seed (Fisher–Yates with an LCG).
            let mut state = seed;
            for i in (1..shuffled.len()).rev() {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let j = usize::try_from(state >> 33).unwrap_or(0) % (i + 1);
                shuffled.swap(i, j);
            }
            prop_assert_eq!(group(&regs), group(&shuffled));
        }
    }
}
