//! The invoice title as a registration stored it at submission.

use serde::{Deserialize, Serialize};

use crate::title::{InvoiceTitle, InvoiceType, TitleKind};

/// What a registration stores of the invoice title chosen at submission, so that editing or
/// deleting the title later does not rewrite what was (or will be) invoiced.
///
/// The fields are plain values copied from a checked [`InvoiceTitle`]; a snapshot is not
/// re-validated when read back, so a stored snapshot stays readable even if the rules for new
/// titles tighten later. Missing optional fields deserialise as `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceSnapshot {
    /// Personal or company.
    pub kind: TitleKind,
    /// Normal or special VAT invoice.
    pub invoice_type: InvoiceType,
    /// The title (购买方名称).
    pub name: String,
    /// The buyer's normalised tax ID; `None` for a personal title.
    #[serde(default)]
    pub tax_id: Option<String>,
    /// The buyer's address.
    #[serde(default)]
    pub address: Option<String>,
    /// The buyer's phone number.
    #[serde(default)]
    pub phone: Option<String>,
    /// The buyer's bank.
    #[serde(default)]
    pub bank: Option<String>,
    /// The buyer's bank account number, digits only.
    #[serde(default)]
    pub bank_account: Option<String>,
    /// Where the e-invoice is sent.
    #[serde(default)]
    pub email: Option<String>,
}

impl From<&InvoiceTitle> for InvoiceSnapshot {
    fn from(title: &InvoiceTitle) -> Self {
        InvoiceSnapshot {
            kind: title.kind(),
            invoice_type: title.invoice_type(),
            name: title.name().to_owned(),
            tax_id: title.tax_id().map(|id| id.as_str().to_owned()),
            address: title.address().map(str::to_owned),
            phone: title.phone().map(str::to_owned),
            bank: title.bank().map(str::to_owned),
            bank_account: title.bank_account().map(str::to_owned),
            email: title.email().map(str::to_owned),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::title::InvoiceTitleInput;

    fn special_title() -> InvoiceTitle {
        let input = InvoiceTitleInput {
            kind: TitleKind::Company,
            name: " 深圳市某某科技有限公司 ".to_owned(),
            tax_id: Some("914403001922038216".to_owned()),
            address: Some("深圳市南山区科技园".to_owned()),
            phone: Some("0755-86013388".to_owned()),
            bank: Some("招商银行深圳分行".to_owned()),
            bank_account: Some("7559-0123-4567-890".to_owned()),
            email: Some("finance@example.com".to_owned()),
            invoice_type: InvoiceType::Special,
        };
        match InvoiceTitle::parse(&input) {
            Ok((title, _)) => title,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn snapshot_copies_the_checked_title() {
        let snapshot = InvoiceSnapshot::from(&special_title());
        assert_eq!(
            snapshot,
            InvoiceSnapshot {
                kind: TitleKind::Company,
                invoice_type: InvoiceType::Special,
                name: "深圳市某某科技有限公司".to_owned(),
                tax_id: Some("914403001922038216".to_owned()),
                address: Some("深圳市南山区科技园".to_owned()),
                phone: Some("0755-86013388".to_owned()),
                bank: Some("招商银行深圳分行".to_owned()),
                bank_account: Some("755901234567890".to_owned()),
                email: Some("finance@example.com".to_owned()),
            }
        );
    }

    #[test]
    fn snapshot_round_trips_through_json() {
        let snapshot = InvoiceSnapshot::from(&special_title());
        let json = serde_json::to_string(&snapshot).unwrap_or_else(|e| panic!("{e}"));
        assert!(json.contains(r#""kind":"company""#));
        assert!(json.contains(r#""invoice_type":"special""#));
        let back: InvoiceSnapshot = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, snapshot);
        // Optional fields may be missing.
        let personal: InvoiceSnapshot =
            serde_json::from_str(r#"{"kind":"personal","invoice_type":"normal","name":"张三"}"#)
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(personal.tax_id, None);
        assert_eq!(personal.email, None);
    }
}
