//! Payments: WeChat Pay orders, the payment ledger, refunds and declared bank transfers, one
//! file per aggregate:
//!
//! * [`orders`]: WeChat orders (opened once per registration), prepay ids, closing, and
//!   applying what an order query answered ([`orders::apply_order_answer`]);
//! * [`ledger`]: every payment that arrives, recorded once and settled through the state
//!   machine ([`ledger::record_payment`]);
//! * [`refunds`]: the refund rows (what goes back, where it stands, retries of the ones
//!   WeChat Pay could not make) and the refund requests finance decides;
//! * [`returns`]: what a refund's progress, finance's hand-made return, a retry or an offline
//!   refund does to its registration;
//! * [`transfers`]: declared bank transfers and finance's confirmation.
//!
//! Registration state is written only by [`crate::transition`]; these modules hand it their
//! decisions. The items are re-exported here, so callers name them `payments::…`.

mod codes;
pub mod ledger;
pub mod orders;
pub mod refunds;
pub mod returns;
pub mod transfers;
pub mod unmatched;

pub use codes::{Disposition, OrderState, RefundState};
pub use ledger::{
    IncomingPayment, PaymentFilter, PaymentRecord, Recorded, Resolution, UnappliedFilter,
    UnappliedPayment, list_payments, record_payment, taken_between, unapplied_payments,
};
pub use orders::{
    Order, OrderAnswer, OrderError, OrderOutcome, QUERY_ORDER_AFTER_MINUTES, WechatPaid,
    apply_order_answer, get_order, has_open_order, mark_order_closed, open_order,
    order_by_out_trade_no, order_of, out_trade_no, record_wechat_payment, set_prepay_id,
};
pub use refunds::{
    REFUND_STATES, Refund, RefundRequest, RefundRequestFilter, get_refund, out_refund_no,
    refund_by_out_refund_no, refund_error, refund_requests,
};
pub use returns::{
    RefundProgress, ReturnError, refund_progress, refunded_offline, retry_refund,
    returned_by_finance,
};
pub use transfers::{
    ConfirmError, PendingTransfer, TransferConfirmation, TransferFilter, confirm_transfer,
    declare_transfer, pending_transfers, transfer_reference,
};
