//! The pure invoicing rules of baoming: invoice titles (发票抬头), the buyer's tax ID
//! (Unified Social Credit Code and older taxpayer IDs), the snapshot a registration keeps of
//! its title, and joint-invoice (同单位合开) remarks.
//!
//! No I/O, no clock, no database: every rule is a function of its inputs, tested with the worked
//! examples of the domain rules and with property tests. Every `parse` normalises its input and
//! returns a typed error with a short Chinese message; none panics, whatever the input.

pub mod joint;
pub mod snapshot;
pub mod tax_id;
pub mod title;

mod text;

pub use joint::{JointInvoiceRemark, REMARK_MAX_CHARS, RemarkError, RemarkText, invoice_remark};
pub use snapshot::InvoiceSnapshot;
pub use tax_id::{ParsedTaxId, TaxId, TaxIdError, TaxIdWarning, uscc_check_char};
pub use title::{
    InvalidInvoiceType, InvalidTitleKind, InvoiceTitle, InvoiceTitleInput, InvoiceType,
    TitleErrors, TitleKind, TitleProblem,
};
