//! The pure invoicing rules of baoming: invoice titles (发票抬头), the buyer's tax ID
//! (Unified Social Credit Code and older taxpayer IDs), the snapshot a registration keeps of
//! its title, joint-invoice (同单位合开) remarks, the grouping of paid registrations into the
//! invoices finance issues in bulk, the settings of the invoice line (item name, tax
//! classification code, VAT rate), and where an invoice stands (issued, reversed …).
//!
//! No I/O, no clock, no database: every rule is a function of its inputs, tested with the worked
//! examples of the domain rules and with property tests. Every `parse` normalises its input and
//! returns a typed error with a short Chinese message; none panics, whatever the input.
//!
//! # Example
//!
//! Two colleagues ask for a joint invoice made out to their employer; a third person wants a
//! personal invoice. Finance issues two invoices:
//!
//! ```
//! use baoming_invoicing::{
//!     group_invoices, DraftKind, Fen, InvoiceSnapshot, InvoiceTitle, InvoiceTitleInput,
//!     InvoiceType, PaidRegistration, TitleKind,
//! };
//!
//! let (employer, _warning) = InvoiceTitle::parse(&InvoiceTitleInput {
//!     kind: TitleKind::Company,
//!     name: "福建某监理有限公司".into(),
//!     tax_id: Some("91350100M000100Y43".into()),
//!     address: None,
//!     phone: None,
//!     bank: None,
//!     bank_account: None,
//!     email: Some("caiwu@example.com".into()),
//!     invoice_type: InvoiceType::Normal,
//! })
//! .map_err(|e| e.to_string())?;
//! let (own, _) = InvoiceTitle::parse(&InvoiceTitleInput {
//!     kind: TitleKind::Personal,
//!     name: "王五".into(),
//!     tax_id: None,
//!     address: None,
//!     phone: None,
//!     bank: None,
//!     bank_account: None,
//!     email: None,
//!     invoice_type: InvoiceType::Normal,
//! })
//! .map_err(|e| e.to_string())?;
//!
//! let paid = |key: &str, name: &str, title: &InvoiceTitle, joint: bool| PaidRegistration {
//!     key: key.into(),
//!     participant_name: name.into(),
//!     title: InvoiceSnapshot::from(title),
//!     joint,
//!     joint_remark: joint.then(|| "与同事合开".to_owned()),
//!     paid: Fen(68_000),
//! };
//! let drafts = group_invoices(
//!     "2026年第一期监理工程师培训",
//!     &[
//!         paid("r1", "张三", &employer, true),
//!         paid("r2", "李四", &employer, true),
//!         paid("r3", "王五", &own, false),
//!     ],
//! )
//! .map_err(|e| e.to_string())?;
//!
//! assert_eq!(drafts.len(), 2);
//! assert_eq!(drafts[0].kind(), DraftKind::Joint);
//! assert_eq!(drafts[0].amount().yuan(), "1360.00");
//! assert_eq!(drafts[0].remark(), "2026年第一期监理工程师培训：张三、李四");
//! assert_eq!(drafts[1].kind(), DraftKind::Single);
//! assert!(drafts[1].is_natural_person());
//! # Ok::<(), String>(())
//! ```

#![warn(missing_docs)]

pub mod issue;
pub mod item;
pub mod joint;
pub mod money;
pub mod snapshot;
pub mod status;
pub mod tax_id;
pub mod title;

mod text;

pub use issue::{
    BuyerKey, CoveredRegistration, DraftKind, GroupingError, InvoiceDraft, PaidRegistration,
    buyer_key, group_invoices,
};
pub use item::{
    InvoiceItemSettings, InvoiceItemSettingsInput, ItemName, ItemSettingsError, ItemSpecification,
    ItemUnit, TaxCode, TaxRate, TaxSplit, split_tax_inclusive,
};
pub use joint::{JointInvoiceRemark, REMARK_MAX_CHARS, RemarkError, RemarkText, invoice_remark};
pub use money::Fen;
pub use snapshot::InvoiceSnapshot;
pub use status::{InvoiceFacts, InvoiceProgress, InvoiceState, UnknownInvoiceState};
pub use tax_id::{ParsedTaxId, TaxId, TaxIdError, TaxIdWarning, uscc_check_char};
pub use title::{
    InvalidInvoiceType, InvalidTitleKind, InvoiceTitle, InvoiceTitleInput, InvoiceType,
    TitleErrors, TitleKind, TitleProblem,
};
