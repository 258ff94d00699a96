//! Where an invoice stands: the back office's states of an exported invoice, and what the
//! participant sees of their registration's invoice in "My exams" (待开票 / 已开票 + number).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A stored code that names no invoice state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知的发票状态代码“{0}”")]
pub struct UnknownInvoiceState(pub String);

/// Where an exported invoice stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceState {
    /// In a bulk-issue workbook, not yet reported issued by the tax bureau.
    Exported,
    /// Issued: it has its 数电发票 number and date.
    Issued,
    /// Reversed by a red-letter invoice (冲红): it no longer counts; the people it covered
    /// who still owe no refund may be invoiced anew.
    Reversed,
    /// Withdrawn by finance before it was issued (e.g. someone it covers was refunded): the
    /// people it covered may be invoiced anew.
    Cancelled,
}

impl InvoiceState {
    /// Every state.
    pub const ALL: [InvoiceState; 4] = [
        InvoiceState::Exported,
        InvoiceState::Issued,
        InvoiceState::Reversed,
        InvoiceState::Cancelled,
    ];

    /// The stable code: `exported`, `issued`, `reversed` or `cancelled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvoiceState::Exported => "exported",
            InvoiceState::Issued => "issued",
            InvoiceState::Reversed => "reversed",
            InvoiceState::Cancelled => "cancelled",
        }
    }

    /// Parses a stored code.
    pub fn parse(code: &str) -> Result<InvoiceState, UnknownInvoiceState> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == code)
            .ok_or_else(|| UnknownInvoiceState(code.chars().take(32).collect()))
    }

    /// Whether the invoice still covers its registrations (a registration is in at most one
    /// live invoice): exported or issued.
    pub const fn is_live(self) -> bool {
        matches!(self, InvoiceState::Exported | InvoiceState::Issued)
    }

    /// The back office's word for it.
    pub const fn label_zh(self) -> &'static str {
        match self {
            InvoiceState::Exported => "已导出待开具",
            InvoiceState::Issued => "已开具",
            InvoiceState::Reversed => "已冲红",
            InvoiceState::Cancelled => "已作废",
        }
    }
}

impl fmt::Display for InvoiceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the participant sees of their registration's invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceProgress {
    /// 待开票: the fee is paid and an invoice was asked for; not issued yet.
    Pending,
    /// 已开票: issued (show its number).
    Issued,
    /// 已开票（待冲红）: issued, and the money went back: finance reverses it.
    ReversalPending,
    /// 已冲红: reversed after the money went back.
    Reversed,
}

/// What decides a registration's [`InvoiceProgress`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvoiceFacts {
    /// The registration chose an invoice title (no title: no invoice asked for).
    pub wants_invoice: bool,
    /// Its fee is paid and kept (see `State::is_invoiceable` of the domain).
    pub invoiceable: bool,
    /// Its live invoice, if any: the state and whether it is flagged for reversal.
    pub live: Option<(InvoiceState, bool)>,
    /// The state of the last invoice that covered it and no longer does, if any.
    pub last_released: Option<InvoiceState>,
}

impl InvoiceProgress {
    /// The participant's view of the invoice, or `None` when there is nothing to show (no
    /// invoice asked for, or the fee is not paid).
    ///
    /// ```
    /// use baoming_invoicing::status::{InvoiceFacts, InvoiceProgress, InvoiceState};
    ///
    /// let paid = InvoiceFacts { wants_invoice: true, invoiceable: true, live: None, last_released: None };
    /// assert_eq!(InvoiceProgress::of(&paid), Some(InvoiceProgress::Pending));
    /// let issued = InvoiceFacts { live: Some((InvoiceState::Issued, false)), ..paid };
    /// assert_eq!(InvoiceProgress::of(&issued).map(InvoiceProgress::label_zh), Some("已开票"));
    /// ```
    pub fn of(facts: &InvoiceFacts) -> Option<InvoiceProgress> {
        match facts.live {
            Some((InvoiceState::Issued, false)) => Some(InvoiceProgress::Issued),
            Some((InvoiceState::Issued, true)) => Some(InvoiceProgress::ReversalPending),
            Some((InvoiceState::Exported, _)) => Some(InvoiceProgress::Pending),
            // Not live (cannot happen for a live row): as if there were none.
            Some((InvoiceState::Reversed | InvoiceState::Cancelled, _)) | None => {
                if facts.wants_invoice && facts.invoiceable {
                    Some(InvoiceProgress::Pending)
                } else if facts.last_released == Some(InvoiceState::Reversed) {
                    Some(InvoiceProgress::Reversed)
                } else {
                    None
                }
            }
        }
    }

    /// The stable code: `pending`, `issued`, `reversal_pending` or `reversed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InvoiceProgress::Pending => "pending",
            InvoiceProgress::Issued => "issued",
            InvoiceProgress::ReversalPending => "reversal_pending",
            InvoiceProgress::Reversed => "reversed",
        }
    }

    /// The participant's words: 待开票, 已开票, 已开票（待冲红）, 已冲红.
    pub const fn label_zh(self) -> &'static str {
        match self {
            InvoiceProgress::Pending => "待开票",
            InvoiceProgress::Issued => "已开票",
            InvoiceProgress::ReversalPending => "已开票（待冲红）",
            InvoiceProgress::Reversed => "已冲红",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAID: InvoiceFacts =
        InvoiceFacts { wants_invoice: true, invoiceable: true, live: None, last_released: None };

    fn of(facts: InvoiceFacts) -> Option<&'static str> {
        InvoiceProgress::of(&facts).map(InvoiceProgress::label_zh)
    }

    #[test]
    fn what_the_participant_sees() {
        assert_eq!(of(PAID), Some("待开票"));
        assert_eq!(
            of(InvoiceFacts { live: Some((InvoiceState::Exported, false)), ..PAID }),
            Some("待开票")
        );
        assert_eq!(
            of(InvoiceFacts { live: Some((InvoiceState::Issued, false)), ..PAID }),
            Some("已开票")
        );
        // Refunded after issue: no longer invoiceable, the invoice is flagged, then reversed.
        let refunded = InvoiceFacts { invoiceable: false, ..PAID };
        assert_eq!(
            of(InvoiceFacts { live: Some((InvoiceState::Issued, true)), ..refunded }),
            Some("已开票（待冲红）")
        );
        assert_eq!(
            of(InvoiceFacts { last_released: Some(InvoiceState::Reversed), ..refunded }),
            Some("已冲红")
        );
        // A colleague left a joint invoice that was reversed: this one is invoiced anew.
        assert_eq!(
            of(InvoiceFacts { last_released: Some(InvoiceState::Reversed), ..PAID }),
            Some("待开票")
        );
        // Nothing to show: no title, or not paid (or refunded before any invoice).
        assert_eq!(of(InvoiceFacts { wants_invoice: false, ..PAID }), None);
        assert_eq!(of(refunded), None);
        assert_eq!(
            of(InvoiceFacts { last_released: Some(InvoiceState::Cancelled), ..refunded }),
            None
        );
    }

    #[test]
    fn codes_round_trip() {
        for state in InvoiceState::ALL {
            assert_eq!(InvoiceState::parse(state.as_str()), Ok(state));
            assert_eq!(
                serde_json::to_value(state).ok(),
                Some(serde_json::Value::String(state.as_str().into()))
            );
        }
        assert!(InvoiceState::parse("issued ").is_err());
        assert!(InvoiceState::Issued.is_live() && InvoiceState::Exported.is_live());
        assert!(!InvoiceState::Reversed.is_live() && !InvoiceState::Cancelled.is_live());
        assert_eq!(InvoiceProgress::ReversalPending.as_str(), "reversal_pending");
    }
}
