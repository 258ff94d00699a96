//! Payments: WeChat Pay orders, the payment ledger, refunds and declared bank transfers.
//!
//! Every payment that arrives — a WeChat notification, a query that found the order paid, a
//! transfer finance confirmed — is recorded once in the ledger (`payments`, keyed by where the
//! money came from) and settled by the domain ([`lifecycle::settle`]) in the same transaction:
//! it pays the registration (with its event-log row), or is flagged for finance (amount
//! mismatch), or is given back (a `refunds` row, and for WeChat money a job that carries the
//! refund out). The same payment delivered again changes nothing.

use baoming_domain::Money;
use baoming_domain::ids::{OrderId, ParticipantId, PaymentId, PeriodId, RefundId, RegistrationId};
use baoming_domain::lifecycle::{
    self, Event, EventKind, PaymentMethod, Reason, RefundCause, Settlement, State,
};
use baoming_domain::transfer::TransferReference;
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::jobs::{self, Job};
use crate::registrations::{self, Applied, Ctx, Registration, Who};
use crate::schema::{
    bank_transfers, participants, payment_notifications, payment_orders, payments, refunds,
    registrations as registrations_table,
};
use crate::{audit, sql};

macro_rules! codes {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $code:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant,)* }

        impl $name {
            /// The stored code.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code,)* }
            }

            fn parse(code: &str) -> Result<Self, StoreError> {
                match code {
                    $($code => Ok($name::$variant),)*
                    other => Err(StoreError::corrupt(format_args!(
                        "{} {other:?}", stringify!($name)
                    ))),
                }
            }
        }
    };
}

codes! {
    /// Where a WeChat order stands, as far as we know.
    OrderState {
        /// Created; may be paid.
        Open = "open",
        /// Money arrived for it.
        Paid = "paid",
        /// Closed at WeChat: it can no longer be paid.
        Closed = "closed",
    }
}

codes! {
    /// What a recorded payment did.
    Disposition {
        /// It paid its registration.
        Applied = "applied",
        /// Its amount differs from the fee: flagged for finance, the registration unchanged.
        Mismatch = "mismatch",
        /// The registration could not take it: it is being given back.
        Refund = "refund",
    }
}

codes! {
    /// How far a refund has come.
    RefundState {
        /// Recorded; not yet sent to WeChat (or, for a transfer, not yet returned by finance).
        Pending = "pending",
        /// WeChat accepted it and is processing it.
        Processing = "processing",
        /// The money went back.
        Succeeded = "succeeded",
        /// WeChat could not refund (e.g. the payer's card was closed): finance must act.
        Abnormal = "abnormal",
        /// WeChat closed the refund.
        Closed = "closed",
    }
}

/// A WeChat Pay order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// Id (its simple hex form is the `out_trade_no`).
    pub id: OrderId,
    /// For which registration.
    pub registration: RegistrationId,
    /// The merchant order number at WeChat.
    pub out_trade_no: String,
    /// The payer.
    pub openid: String,
    /// The amount (the fee fixed at approval).
    pub amount: Money,
    /// The description shown in WeChat.
    pub description: String,
    /// When WeChat stops accepting payment.
    pub time_expire: DateTime<Utc>,
    /// WeChat's prepay id, once it answered.
    pub prepay_id: Option<String>,
    /// State.
    pub state: OrderState,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change (when the prepay id was stored, while the order is open).
    pub updated_at: DateTime<Utc>,
}

/// The merchant order number of an order: its id's 32 hex digits, so asking WeChat again for
/// the same order can never create a second one.
pub fn out_trade_no(id: OrderId) -> String {
    id.as_uuid().simple().to_string()
}

/// The merchant refund number of a refund: its id's 32 hex digits (one refund per number,
/// forever, at WeChat).
pub fn out_refund_no(id: RefundId) -> String {
    id.as_uuid().simple().to_string()
}

use baoming_domain::ids::TypedId;

type OrderRow = (
    String,
    String,
    String,
    String,
    i64,
    String,
    NaiveDateTime,
    Option<String>,
    String,
    NaiveDateTime,
    NaiveDateTime,
);

fn order_from(row: OrderRow) -> Result<Order, StoreError> {
    let (
        id,
        registration,
        out_trade_no,
        openid,
        amount,
        description,
        expire,
        prepay,
        state,
        at,
        up,
    ) = row;
    Ok(Order {
        id: sql::id(&id)?,
        registration: sql::id(&registration)?,
        out_trade_no,
        openid,
        amount: Money::from_fen(amount).map_err(StoreError::corrupt)?,
        description,
        time_expire: sql::utc(expire),
        prepay_id: prepay,
        state: OrderState::parse(&state)?,
        created_at: sql::utc(at),
        updated_at: sql::utc(up),
    })
}

macro_rules! order_columns {
    () => {
        (
            payment_orders::id,
            payment_orders::registration_id,
            payment_orders::out_trade_no,
            payment_orders::openid,
            payment_orders::amount_fen,
            payment_orders::description,
            payment_orders::time_expire,
            payment_orders::prepay_id,
            payment_orders::state,
            payment_orders::created_at,
            payment_orders::updated_at,
        )
    };
}

/// The registration's latest WeChat order, if one was opened.
pub fn order_of(
    conn: &mut DbConnection,
    registration: RegistrationId,
) -> Result<Option<Order>, StoreError> {
    payment_orders::table
        .filter(payment_orders::registration_id.eq(sql::text(registration)))
        .order((payment_orders::created_at.desc(), payment_orders::id.desc()))
        .select(order_columns!())
        .first::<OrderRow>(conn)
        .optional()?
        .map(order_from)
        .transpose()
}

/// An order by id.
pub fn get_order(conn: &mut DbConnection, id: OrderId) -> Result<Order, StoreError> {
    payment_orders::table
        .find(sql::text(id))
        .select(order_columns!())
        .first::<OrderRow>(conn)
        .optional()?
        .map(order_from)
        .transpose()?
        .ok_or(StoreError::NotFound { entity: "order" })
}

/// The order with this merchant order number.
pub fn order_by_out_trade_no(
    conn: &mut DbConnection,
    out_trade_no: &str,
) -> Result<Option<Order>, StoreError> {
    payment_orders::table
        .filter(payment_orders::out_trade_no.eq(out_trade_no))
        .select(order_columns!())
        .first::<OrderRow>(conn)
        .optional()?
        .map(order_from)
        .transpose()
}

/// Whether the registration has a WeChat order that may still be paid.
pub fn has_open_order(
    conn: &mut DbConnection,
    registration: RegistrationId,
) -> Result<bool, StoreError> {
    let open = payment_orders::table
        .filter(payment_orders::registration_id.eq(sql::text(registration)))
        .filter(payment_orders::state.eq(OrderState::Open.as_str()))
        .count()
        .get_result::<i64>(conn)?;
    Ok(open > 0)
}

/// Why a WeChat order cannot be opened.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// The registration may not be paid now (state, deadline); nothing was written.
    #[error(transparent)]
    Refused(#[from] lifecycle::TransitionError),
    /// Money already arrived for the order (e.g. an amount finance must look at).
    #[error("该订单已支付，请等待确认")]
    AlreadyPaid,
    /// The data layer failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The participant's WeChat order for a registration: created on the first call (for the fee,
/// expiring at the period's payment deadline), the same order on every later call. Refused
/// unless the state machine would let the participant pay now.
pub fn open_order(
    conn: &mut DbConnection,
    registration: RegistrationId,
    participant: ParticipantId,
    description: &str,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    match open_order_once(conn, registration, participant, description, now) {
        // A concurrent call opened it first: this call answers the same order.
        Err(OrderError::Store(StoreError::Duplicate { what: "order" })) => {
            open_order_once(conn, registration, participant, description, now)
        }
        other => other,
    }
}

fn open_order_once(
    conn: &mut DbConnection,
    registration: RegistrationId,
    participant: ParticipantId,
    description: &str,
    now: DateTime<Utc>,
) -> Result<Order, OrderError> {
    write_tx(conn, |conn| {
        let current = registrations::load_for(conn, registration, Who::Participant(participant))?;
        // Serialises with a withdrawal or the clock: they either see this order, or this call
        // sees their change (and the state machine refuses).
        registrations::claim(conn, &current)?;
        let facts = registrations::current_facts(conn, &current, EventKind::ConfirmPayment, now)?;
        lifecycle::may_start_payment(current.status, &facts)?;
        match order_of(conn, registration)? {
            Some(order) if order.state == OrderState::Open => return Ok(order),
            Some(order) if order.state == OrderState::Paid => return Err(OrderError::AlreadyPaid),
            // Closed (it expired at a deadline since extended): a new order.
            _ => {}
        }
        let openid = participants::table
            .find(sql::text(participant))
            .select(participants::openid)
            .first::<String>(conn)?;
        let id: OrderId = crate::new_id();
        let time_expire = facts.schedule.payment_deadline();
        diesel::insert_into(payment_orders::table)
            .values((
                payment_orders::id.eq(sql::text(id)),
                payment_orders::registration_id.eq(sql::text(registration)),
                payment_orders::out_trade_no.eq(out_trade_no(id)),
                payment_orders::openid.eq(&openid),
                payment_orders::amount_fen.eq(current.fee.fen()),
                payment_orders::description.eq(description),
                payment_orders::time_expire.eq(sql::ts(time_expire)),
                payment_orders::state.eq(OrderState::Open.as_str()),
                payment_orders::created_at.eq(sql::ts(now)),
                payment_orders::updated_at.eq(sql::ts(now)),
            ))
            .execute(conn)
            .map_err(|e| {
                if StoreError::is_unique_violation(&e) {
                    StoreError::Duplicate { what: "order" }
                } else {
                    e.into()
                }
            })?;
        jobs::enqueue(
            conn,
            &Job::QueryOrder { order: id },
            now + chrono::Duration::minutes(QUERY_ORDER_AFTER_MINUTES),
            now,
        )?;
        Ok(Order {
            id,
            registration,
            out_trade_no: out_trade_no(id),
            openid,
            amount: current.fee,
            description: description.to_owned(),
            time_expire,
            prepay_id: None,
            state: OrderState::Open,
            created_at: now,
            updated_at: now,
        })
    })
}

/// How long after an order is opened the worker asks WeChat about it, in case the
/// notification never arrives.
pub const QUERY_ORDER_AFTER_MINUTES: i64 = 5;

/// Stores WeChat's prepay id for the order (the same id on every later call).
pub fn set_prepay_id(
    conn: &mut DbConnection,
    order: OrderId,
    prepay_id: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(payment_orders::table.find(sql::text(order)))
        .set((payment_orders::prepay_id.eq(prepay_id), payment_orders::updated_at.eq(sql::ts(now))))
        .execute(conn)?;
    Ok(())
}

/// Marks an open order closed (WeChat closed it, or it expired unpaid).
pub fn mark_order_closed(
    conn: &mut DbConnection,
    order: OrderId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(payment_orders::table.find(sql::text(order)))
        .filter(payment_orders::state.eq(OrderState::Open.as_str()))
        .set((
            payment_orders::state.eq(OrderState::Closed.as_str()),
            payment_orders::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    Ok(())
}

/// Money that arrived, as its source reports it.
#[derive(Debug, Clone)]
pub struct IncomingPayment {
    /// For which registration.
    pub registration: RegistrationId,
    /// How.
    pub method: PaymentMethod,
    /// The WeChat order, for WeChat money.
    pub out_trade_no: Option<String>,
    /// WeChat's transaction id, or finance's bank statement reference for a transfer.
    pub transaction_id: Option<String>,
    /// How much.
    pub amount: Money,
    /// When the money arrived (WeChat's success time, or the confirmation).
    pub received_at: DateTime<Utc>,
    /// The WeChat notification that reported it (id, event type), if it came that way.
    pub notification: Option<(String, String)>,
    /// Several registrations paid by one transfer share a batch id.
    pub transfer_batch: Option<String>,
    /// Finance's note.
    pub note: Option<String>,
}

impl IncomingPayment {
    /// Identifies the money at its source: a WeChat order is paid at most once; a
    /// registration's transfer is confirmed at most once.
    fn source_key(&self) -> Result<String, StoreError> {
        match (self.method, &self.out_trade_no) {
            (PaymentMethod::WechatPay, Some(no)) => Ok(format!("wechat:{no}")),
            (PaymentMethod::WechatPay, None) => {
                Err(StoreError::corrupt("a WeChat payment without its out_trade_no"))
            }
            (PaymentMethod::BankTransfer, _) => Ok(format!("transfer:{}", self.registration)),
        }
    }
}

/// What recording a payment did.
#[derive(Debug, Clone, PartialEq)]
pub enum Recorded {
    /// The registration is now paid.
    Paid {
        /// The ledger row.
        payment: PaymentId,
        /// The registration after the change.
        registration: Box<Registration>,
    },
    /// This payment was recorded before: nothing changed (a repeated notification).
    Duplicate {
        /// The ledger row recorded the first time.
        payment: PaymentId,
    },
    /// The amount differs from the fee: recorded and flagged for finance.
    Mismatch {
        /// The ledger row.
        payment: PaymentId,
        /// The fee.
        expected: Money,
        /// What arrived.
        received: Money,
    },
    /// The registration could not take the money: recorded, and a refund was scheduled.
    Refunding {
        /// The ledger row.
        payment: PaymentId,
        /// Why.
        cause: RefundCause,
        /// The refund (carried out by the worker for WeChat money, by finance for transfers).
        refund: RefundId,
    },
}

impl Recorded {
    /// A stable code of what happened: `paid`, `duplicate`, `mismatch` or `refund`.
    pub fn outcome(&self) -> &'static str {
        match self {
            Recorded::Paid { .. } => "paid",
            Recorded::Duplicate { .. } => "duplicate",
            Recorded::Mismatch { .. } => "mismatch",
            Recorded::Refunding { .. } => "refund",
        }
    }
}

/// Records a payment and settles it through the state machine, in one transaction with the
/// status change, its event-log row and any refund it schedules. A concurrent change of the
/// same registration (another payment racing this one) is retried, so exactly one payment
/// pays and the other is recorded and given back.
pub fn record_payment(
    conn: &mut DbConnection,
    incoming: &IncomingPayment,
    ctx: &Ctx,
) -> Result<Recorded, StoreError> {
    retry_races(|| write_tx(conn, |conn| record_in_tx(conn, incoming, ctx)), lost_race)
}

/// A concurrent writer changed the registration, or recorded the same payment first.
fn lost_race(error: &StoreError) -> bool {
    matches!(error, StoreError::Conflict { .. } | StoreError::Duplicate { what: "payment" })
}

/// Runs `attempt` again (a few times) when it `lost` a race: the next attempt sees the
/// winner's result.
fn retry_races<T, E>(
    mut attempt: impl FnMut() -> Result<T, E>,
    lost: impl Fn(&E) -> bool,
) -> Result<T, E> {
    let mut tries = 0;
    loop {
        match attempt() {
            Err(e) if tries < 5 && lost(&e) => tries += 1,
            other => return other,
        }
    }
}

fn record_in_tx(
    conn: &mut DbConnection,
    incoming: &IncomingPayment,
    ctx: &Ctx,
) -> Result<Recorded, StoreError> {
    let source_key = incoming.source_key()?;
    if let Some(id) = payments::table
        .filter(payments::source_key.eq(&source_key))
        .select(payments::id)
        .first::<String>(conn)
        .optional()?
    {
        let payment: PaymentId = sql::id(&id)?;
        note_notification(conn, payment, incoming, ctx.now)?;
        return Ok(Recorded::Duplicate { payment });
    }
    let current = registrations::load(conn, incoming.registration)?;
    registrations::claim(conn, &current)?;
    let facts = registrations::current_facts(conn, &current, EventKind::ConfirmPayment, ctx.now)?;
    let settlement = lifecycle::settle(
        current.status,
        incoming.amount,
        incoming.method,
        ctx.who.actor(),
        &facts,
    )?;
    let payment: PaymentId = crate::new_id();
    let (disposition, cause) = match &settlement {
        Settlement::Pay(_) => (Disposition::Applied, None),
        Settlement::Mismatch { .. } => (Disposition::Mismatch, None),
        Settlement::Refund(cause) => (Disposition::Refund, Some(*cause)),
    };
    let cause_text =
        cause.map(|c| serde_json::to_string(&c)).transpose().map_err(StoreError::corrupt)?;
    let recorded_by = match ctx.who {
        Who::Staff { id, .. } => Some(sql::text(id)),
        _ => None,
    };
    diesel::insert_into(payments::table)
        .values((
            payments::id.eq(sql::text(payment)),
            payments::registration_id.eq(sql::text(incoming.registration)),
            payments::method.eq(incoming.method.as_str()),
            payments::source_key.eq(&source_key),
            payments::out_trade_no.eq(incoming.out_trade_no.as_deref()),
            payments::transaction_id.eq(incoming.transaction_id.as_deref()),
            payments::amount_fen.eq(incoming.amount.fen()),
            payments::disposition.eq(disposition.as_str()),
            payments::refund_cause.eq(cause_text),
            payments::transfer_batch.eq(incoming.transfer_batch.as_deref()),
            payments::received_at.eq(sql::ts(incoming.received_at)),
            payments::recorded_at.eq(sql::ts(ctx.now)),
            payments::recorded_by.eq(recorded_by),
            payments::note.eq(incoming.note.as_deref()),
        ))
        .execute(conn)
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Duplicate { what: "payment" }
            } else {
                e.into()
            }
        })?;
    note_notification(conn, payment, incoming, ctx.now)?;
    if let Some(no) = &incoming.out_trade_no {
        diesel::update(payment_orders::table.filter(payment_orders::out_trade_no.eq(no)))
            .set((
                payment_orders::state.eq(OrderState::Paid.as_str()),
                payment_orders::updated_at.eq(sql::ts(ctx.now)),
            ))
            .execute(conn)?;
    }
    Ok(match settlement {
        Settlement::Pay(decision) => {
            registrations::write_decision(
                conn,
                &current,
                &decision,
                None,
                Some(incoming.amount),
                ctx,
            )?;
            Recorded::Paid {
                payment,
                registration: Box::new(registrations::load(conn, incoming.registration)?),
            }
        }
        Settlement::Mismatch { expected, received } => {
            tracing::warn!(
                registration = %incoming.registration, %payment, %expected, %received,
                "payment amount differs from the fee: flagged for finance"
            );
            Recorded::Mismatch { payment, expected, received }
        }
        Settlement::Refund(cause) => {
            let reason = cause.reason_zh();
            let refund = create_refund(
                conn,
                payment,
                &current,
                incoming.method,
                incoming.amount,
                &reason,
                ctx.now,
            )?;
            tracing::info!(
                registration = %incoming.registration, %payment, %refund, ?cause,
                "payment for a registration that cannot take it: recorded and given back"
            );
            Recorded::Refunding { payment, cause, refund }
        }
    })
}

fn note_notification(
    conn: &mut DbConnection,
    payment: PaymentId,
    incoming: &IncomingPayment,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let Some((id, event_type)) = &incoming.notification else { return Ok(()) };
    let seen = payment_notifications::table.find(id).count().get_result::<i64>(conn)?;
    if seen > 0 {
        return Ok(());
    }
    // In a savepoint: the same notification recorded by a concurrent request is not an error
    // (and on PostgreSQL the failed insert must not abort the whole transaction).
    let inserted: Result<usize, diesel::result::Error> = write_tx(conn, |conn| {
        diesel::insert_into(payment_notifications::table)
            .values((
                payment_notifications::id.eq(id),
                payment_notifications::payment_id.eq(sql::text(payment)),
                payment_notifications::event_type.eq(event_type),
                payment_notifications::received_at.eq(sql::ts(now)),
            ))
            .execute(conn)
    });
    match inserted {
        Err(e) if StoreError::is_unique_violation(&e) => Ok(()),
        other => other.map(|_| ()).map_err(Into::into),
    }
}

/// Records a refund of a payment: WeChat money gets a job that carries it out; a transfer is
/// returned by finance by hand.
fn create_refund(
    conn: &mut DbConnection,
    payment: PaymentId,
    registration: &Registration,
    method: PaymentMethod,
    amount: Money,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<RefundId, StoreError> {
    let id: RefundId = crate::new_id();
    let wechat = method == PaymentMethod::WechatPay;
    diesel::insert_into(refunds::table)
        .values((
            refunds::id.eq(sql::text(id)),
            refunds::payment_id.eq(sql::text(payment)),
            refunds::registration_id.eq(sql::text(registration.id)),
            refunds::method.eq(method.as_str()),
            refunds::out_refund_no.eq(wechat.then(|| out_refund_no(id))),
            refunds::amount_fen.eq(amount.fen()),
            refunds::reason.eq(reason),
            refunds::state.eq(RefundState::Pending.as_str()),
            refunds::created_at.eq(sql::ts(now)),
            refunds::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Duplicate { what: "refund" }
            } else {
                e.into()
            }
        })?;
    if wechat && amount.fen() > 0 {
        jobs::enqueue(conn, &Job::Refund { refund: id }, now, now)?;
    }
    Ok(id)
}

/// Schedules the refund of the payment that paid a registration (finance approved the
/// participant's refund request; called inside that transition's transaction).
pub(crate) fn refund_applied_payment(
    conn: &mut DbConnection,
    registration: &Registration,
    reason: Option<&Reason>,
    ctx: &Ctx,
) -> Result<RefundId, StoreError> {
    let (payment, method, amount) = payments::table
        .filter(payments::registration_id.eq(sql::text(registration.id)))
        .filter(payments::disposition.eq(Disposition::Applied.as_str()))
        .select((payments::id, payments::method, payments::amount_fen))
        .first::<(String, String, i64)>(conn)
        .optional()?
        .ok_or_else(|| StoreError::corrupt("a refund of a registration without its payment"))?;
    let method = PaymentMethod::parse(&method).map_err(StoreError::corrupt)?;
    let amount = Money::from_fen(amount).map_err(StoreError::corrupt)?;
    create_refund(
        conn,
        sql::id(&payment)?,
        registration,
        method,
        amount,
        reason.map_or("退款申请已通过", Reason::as_str),
        ctx.now,
    )
}

/// A row of the payment ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRecord {
    /// Id.
    pub id: PaymentId,
    /// For which registration.
    pub registration: RegistrationId,
    /// How it was paid.
    pub method: PaymentMethod,
    /// The WeChat order.
    pub out_trade_no: Option<String>,
    /// WeChat's transaction id or the bank statement reference.
    pub transaction_id: Option<String>,
    /// Amount in fen.
    pub amount_fen: i64,
    /// What it did.
    pub disposition: Disposition,
    /// When the money arrived.
    pub received_at: DateTime<Utc>,
    /// When we recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The transfer batch, for transfers confirmed together.
    pub transfer_batch: Option<String>,
    /// Finance's note.
    pub note: Option<String>,
    /// Its refund's state, if it is being given back.
    pub refund_state: Option<RefundState>,
    /// WeChat Pay's last word on a refund that could not be started or completed.
    pub refund_error: Option<String>,
    /// Its refund, if it is being given back.
    pub refund_id: Option<RefundId>,
}

/// Filters for [`list_payments`].
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    /// Only payments that did this.
    pub disposition: Option<Disposition>,
    /// Only this registration's payments.
    pub registration: Option<RegistrationId>,
}

/// The ledger, newest first (at most `limit` rows).
pub fn list_payments(
    conn: &mut DbConnection,
    filter: &PaymentFilter,
    limit: i64,
) -> Result<Vec<PaymentRecord>, StoreError> {
    let mut query = payments::table
        .left_join(refunds::table)
        .select((
            payments::id,
            payments::registration_id,
            payments::method,
            payments::out_trade_no,
            payments::transaction_id,
            payments::amount_fen,
            payments::disposition,
            payments::received_at,
            payments::recorded_at,
            payments::transfer_batch,
            payments::note,
            refunds::state.nullable(),
            refunds::last_error.nullable(),
            refunds::id.nullable(),
        ))
        .order((payments::recorded_at.desc(), payments::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some(disposition) = filter.disposition {
        query = query.filter(payments::disposition.eq(disposition.as_str()));
    }
    if let Some(registration) = filter.registration {
        query = query.filter(payments::registration_id.eq(sql::text(registration)));
    }
    type Row = (
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        i64,
        String,
        NaiveDateTime,
        NaiveDateTime,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    query
        .load::<Row>(conn)?
        .into_iter()
        .map(|r| {
            Ok(PaymentRecord {
                id: sql::id(&r.0)?,
                registration: sql::id(&r.1)?,
                method: PaymentMethod::parse(&r.2).map_err(StoreError::corrupt)?,
                out_trade_no: r.3,
                transaction_id: r.4,
                amount_fen: r.5,
                disposition: Disposition::parse(&r.6)?,
                received_at: sql::utc(r.7),
                recorded_at: sql::utc(r.8),
                transfer_batch: r.9,
                note: r.10,
                refund_state: r.11.as_deref().map(RefundState::parse).transpose()?,
                refund_error: r.12,
                refund_id: r.13.as_deref().map(sql::id).transpose()?,
            })
        })
        .collect()
}

// ----- bank transfers -----

/// The participant declares an employer bank transfer: the registration moves to
/// `awaiting_transfer` and gets its reference. Declaring again while awaiting the transfer
/// changes nothing and answers the same reference.
pub fn declare_transfer(
    conn: &mut DbConnection,
    registration: RegistrationId,
    ctx: &Ctx,
) -> Result<(Registration, TransferReference), StoreError> {
    write_tx(conn, |conn| {
        let current = registrations::load_for(conn, registration, ctx.who)?;
        let reference = TransferReference::for_registration(registration);
        let current = if current.status.state == State::AwaitingTransfer {
            current
        } else {
            match registrations::apply(conn, registration, &Event::DeclareTransfer, ctx)? {
                Applied::Moved { registration, .. } | Applied::Unchanged { registration, .. } => {
                    registration
                }
            }
        };
        let known =
            bank_transfers::table.find(sql::text(registration)).count().get_result::<i64>(conn)?;
        if known == 0 {
            diesel::insert_into(bank_transfers::table)
                .values((
                    bank_transfers::registration_id.eq(sql::text(registration)),
                    bank_transfers::reference.eq(reference.as_str()),
                    bank_transfers::declared_at.eq(sql::ts(ctx.now)),
                ))
                .execute(conn)?;
        } else {
            diesel::update(bank_transfers::table.find(sql::text(registration)))
                .set(bank_transfers::declared_at.eq(sql::ts(ctx.now)))
                .execute(conn)?;
        }
        Ok((current, reference))
    })
}

/// A declared transfer finance has not confirmed yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PendingTransfer {
    /// The registration.
    pub registration: RegistrationId,
    /// Whose.
    pub participant: ParticipantId,
    /// The participant's name.
    pub name: Option<String>,
    /// The participant's employer (工作单位).
    pub employer: Option<String>,
    /// Which period.
    pub period: PeriodId,
    /// The reference written on the transfer.
    pub reference: String,
    /// The fee, in fen.
    pub fee_fen: i64,
    /// When it was declared.
    pub declared_at: DateTime<Utc>,
    /// Past the payment deadline and still unconfirmed.
    pub overdue: bool,
}

/// Filters for [`pending_transfers`].
#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    /// Only this period.
    pub period: Option<PeriodId>,
    /// Employer contains this text.
    pub employer: Option<String>,
    /// Exactly this reference.
    pub reference: Option<TransferReference>,
}

/// Registrations awaiting a transfer, oldest declaration first (at most `limit`).
pub fn pending_transfers(
    conn: &mut DbConnection,
    filter: &TransferFilter,
    limit: i64,
) -> Result<Vec<PendingTransfer>, StoreError> {
    let mut query = registrations_table::table
        .inner_join(bank_transfers::table)
        .inner_join(participants::table)
        .filter(registrations_table::state.eq(State::AwaitingTransfer.as_str()))
        .select((
            registrations_table::id,
            registrations_table::participant_id,
            participants::name,
            participants::employer,
            registrations_table::period_id,
            bank_transfers::reference,
            registrations_table::fee_fen,
            bank_transfers::declared_at,
            registrations_table::flag,
        ))
        .order((bank_transfers::declared_at, registrations_table::id))
        .limit(limit)
        .into_boxed();
    if let Some(period) = filter.period {
        query = query.filter(registrations_table::period_id.eq(sql::text(period)));
    }
    if let Some(employer) = &filter.employer {
        let pattern = format!("%{}%", employer.replace(['%', '_'], ""));
        query = query.filter(participants::employer.like(pattern));
    }
    if let Some(reference) = &filter.reference {
        query = query.filter(bank_transfers::reference.eq(reference.as_str().to_owned()));
    }
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        i64,
        NaiveDateTime,
        Option<String>,
    );
    query
        .load::<Row>(conn)?
        .into_iter()
        .map(|r| {
            Ok(PendingTransfer {
                registration: sql::id(&r.0)?,
                participant: sql::id(&r.1)?,
                name: r.2,
                employer: r.3,
                period: sql::id(&r.4)?,
                reference: r.5,
                fee_fen: r.6,
                declared_at: sql::utc(r.7),
                overdue: r.8.as_deref() == Some(lifecycle::Flag::TransferOverdue.as_str()),
            })
        })
        .collect()
}

/// The registration's transfer reference, once a transfer was declared.
pub fn transfer_reference(
    conn: &mut DbConnection,
    registration: RegistrationId,
) -> Result<Option<String>, StoreError> {
    Ok(bank_transfers::table
        .find(sql::text(registration))
        .select(bank_transfers::reference)
        .first::<String>(conn)
        .optional()?)
}

/// Why finance's confirmation of a transfer was refused (nothing was recorded).
#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    /// No registration was named, or one twice.
    #[error("请选择要确认的报名（不能重复）")]
    BadSelection,
    /// The amount received is not the sum of the fees of the registrations it covers.
    #[error("到账金额（{received}元）与所选报名应缴合计（{expected}元）不符")]
    AmountMismatch {
        /// The sum of the fees.
        expected: Money,
        /// The amount finance entered.
        received: Money,
    },
    /// A registration was never approved (nothing to pay).
    #[error("报名 {0} 尚未审核通过，不能确认到账")]
    NotApproved(RegistrationId),
    /// A registration's transfer was already confirmed.
    #[error("报名 {0} 的转账已确认过")]
    AlreadyConfirmed(RegistrationId),
    /// The data layer failed (or a registration is unknown).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A confirmation by finance: one transfer that covers one or more registrations.
#[derive(Debug, Clone)]
pub struct TransferConfirmation {
    /// The registrations the transfer pays for.
    pub registrations: Vec<RegistrationId>,
    /// The amount on the bank statement.
    pub amount: Money,
    /// The bank statement's reference (流水号), if finance gives it.
    pub bank_reference: Option<String>,
    /// Finance's note.
    pub note: Option<String>,
}

/// Finance confirms a transfer: all or nothing. The amount must equal the sum of the fees;
/// every registration is recorded as paid by it (one ledger row each, sharing a batch id). A
/// registration that meanwhile can no longer take the money (paid by WeChat a moment before,
/// closed) gets its share recorded and marked to be returned by finance.
pub fn confirm_transfer(
    conn: &mut DbConnection,
    confirmation: &TransferConfirmation,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Result<Vec<(RegistrationId, Recorded)>, ConfirmError> {
    let ids = &confirmation.registrations;
    let distinct: std::collections::HashSet<_> = ids.iter().collect();
    if ids.is_empty() || distinct.len() != ids.len() {
        return Err(ConfirmError::BadSelection);
    }
    let batch = crate::new_id::<PaymentId>().to_string();
    let attempt = || {
        write_tx(conn, |conn| {
            let results = confirm_in_tx(conn, confirmation, &batch, ctx)?;
            let entry = audit::Entry {
                actor: actor.clone(),
                action: "confirm_transfer".into(),
                target_kind: Some("registration".into()),
                target_id: (results.len() == 1).then(|| results[0].0.to_string()),
                summary: Some(serde_json::json!({
                    "amount_fen": confirmation.amount.fen(),
                    "bank_reference": confirmation.bank_reference,
                    "registrations": results
                        .iter()
                        .map(|(id, r)| serde_json::json!({"id": id.to_string(), "outcome": r.outcome()}))
                        .collect::<Vec<_>>(),
                })),
            };
            audit::record(conn, &entry, ctx.now)?;
            Ok(results)
        })
    };
    retry_races(attempt, |e| matches!(e, ConfirmError::Store(s) if lost_race(s)))
}

fn confirm_in_tx(
    conn: &mut DbConnection,
    confirmation: &TransferConfirmation,
    batch: &str,
    ctx: &Ctx,
) -> Result<Vec<(RegistrationId, Recorded)>, ConfirmError> {
    let ids = &confirmation.registrations;
    let found = registrations::get_many(conn, ids)?;
    let mut expected = Money::ZERO;
    for id in ids {
        let registration = found
            .iter()
            .find(|r| r.id == *id)
            .ok_or(StoreError::NotFound { entity: "registration" })?;
        if matches!(registration.status.state, State::PendingReview | State::Rejected) {
            return Err(ConfirmError::NotApproved(*id));
        }
        expected = expected
            .checked_add(registration.fee)
            .ok_or_else(|| StoreError::corrupt("sum of fees overflows"))?;
    }
    if expected != confirmation.amount {
        return Err(ConfirmError::AmountMismatch { expected, received: confirmation.amount });
    }
    let mut results = Vec::with_capacity(ids.len());
    // `get_many` keeps the order given.
    for registration in &found {
        let incoming = IncomingPayment {
            registration: registration.id,
            method: PaymentMethod::BankTransfer,
            out_trade_no: None,
            transaction_id: confirmation.bank_reference.clone(),
            amount: registration.fee,
            received_at: ctx.now,
            notification: None,
            transfer_batch: (ids.len() > 1).then(|| batch.to_owned()),
            note: confirmation.note.clone(),
        };
        match record_in_tx(conn, &incoming, ctx)? {
            Recorded::Duplicate { .. } => {
                return Err(ConfirmError::AlreadyConfirmed(registration.id));
            }
            recorded => results.push((registration.id, recorded)),
        }
    }
    Ok(results)
}

/// What WeChat Pay reported about a paid order (from a notification or an order query).
#[derive(Debug, Clone)]
pub struct WechatPaid {
    /// The order.
    pub out_trade_no: String,
    /// WeChat's transaction id.
    pub transaction_id: Option<String>,
    /// The amount paid.
    pub amount: Money,
    /// When it was paid.
    pub success_time: Option<DateTime<Utc>>,
    /// The notification (id, event type), when it came as one.
    pub notification: Option<(String, String)>,
}

/// Records money WeChat reported for one of our orders (see [`record_payment`]). An order we
/// never opened is [`StoreError::NotFound`].
pub fn record_wechat_payment(
    conn: &mut DbConnection,
    paid: &WechatPaid,
    now: DateTime<Utc>,
    request_id: Option<String>,
) -> Result<Recorded, StoreError> {
    let order = order_by_out_trade_no(conn, &paid.out_trade_no)?
        .ok_or(StoreError::NotFound { entity: "order" })?;
    let incoming = IncomingPayment {
        registration: order.registration,
        method: PaymentMethod::WechatPay,
        out_trade_no: Some(paid.out_trade_no.clone()),
        transaction_id: paid.transaction_id.clone(),
        amount: paid.amount,
        received_at: paid.success_time.unwrap_or(now),
        notification: paid.notification.clone(),
        transfer_batch: None,
        note: None,
    };
    record_payment(conn, &incoming, &Ctx { who: Who::PaymentProvider, now, request_id })
}

// ----- refunds -----

/// A refund as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refund {
    /// Id (its simple hex form is the `out_refund_no`).
    pub id: RefundId,
    /// The payment given back.
    pub payment: PaymentId,
    /// Its registration.
    pub registration: RegistrationId,
    /// How the money goes back: WeChat Pay (automatic), or a bank transfer by finance.
    pub method: PaymentMethod,
    /// The merchant refund number (WeChat refunds).
    pub out_refund_no: Option<String>,
    /// The WeChat order the payment was made on.
    pub out_trade_no: Option<String>,
    /// The amount given back.
    pub amount: Money,
    /// The payment's amount (WeChat needs the order total).
    pub payment_amount: Money,
    /// Why.
    pub reason: String,
    /// Where it stands.
    pub state: RefundState,
    /// WeChat's refund id.
    pub provider_refund_id: Option<String>,
    /// WeChat's last word (status, or the error).
    pub last_error: Option<String>,
    /// Whether the payment is the one that paid the registration (a refund the participant
    /// asked for), as opposed to money the registration could not take.
    pub of_applied_payment: bool,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
}

type RefundRow = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    NaiveDateTime,
);

fn load_refund(conn: &mut DbConnection, id: &str) -> Result<Option<Refund>, StoreError> {
    let row: Option<RefundRow> = refunds::table
        .find(id)
        .inner_join(payments::table)
        .select((
            refunds::id,
            refunds::payment_id,
            refunds::registration_id,
            refunds::method,
            refunds::out_refund_no,
            payments::out_trade_no,
            refunds::amount_fen,
            payments::amount_fen,
            refunds::reason,
            refunds::state,
            refunds::provider_refund_id,
            refunds::last_error,
            payments::disposition,
            refunds::created_at,
        ))
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(Refund {
        id: sql::id(&row.0)?,
        payment: sql::id(&row.1)?,
        registration: sql::id(&row.2)?,
        method: PaymentMethod::parse(&row.3).map_err(StoreError::corrupt)?,
        out_refund_no: row.4,
        out_trade_no: row.5,
        amount: Money::from_fen(row.6).map_err(StoreError::corrupt)?,
        payment_amount: Money::from_fen(row.7).map_err(StoreError::corrupt)?,
        reason: row.8,
        state: RefundState::parse(&row.9)?,
        provider_refund_id: row.10,
        last_error: row.11,
        of_applied_payment: Disposition::parse(&row.12)? == Disposition::Applied,
        created_at: sql::utc(row.13),
    }))
}

/// A refund by id.
pub fn get_refund(conn: &mut DbConnection, id: RefundId) -> Result<Refund, StoreError> {
    load_refund(conn, &sql::text(id))?.ok_or(StoreError::NotFound { entity: "refund" })
}

/// Locks a refund's row (PostgreSQL: a no-op update) and reads it, so two reports of the same
/// refund at once (a notification and the refund job, finance) apply one after the other,
/// the second seeing the first.
fn lock_refund(conn: &mut DbConnection, id: RefundId) -> Result<Refund, StoreError> {
    diesel::update(refunds::table.find(sql::text(id)))
        .set(refunds::updated_at.eq(refunds::updated_at))
        .execute(conn)?;
    get_refund(conn, id)
}

/// A refund by its merchant refund number.
pub fn refund_by_out_refund_no(
    conn: &mut DbConnection,
    out_refund_no: &str,
) -> Result<Option<Refund>, StoreError> {
    let id = refunds::table
        .filter(refunds::out_refund_no.eq(out_refund_no))
        .select(refunds::id)
        .first::<String>(conn)
        .optional()?;
    match id {
        Some(id) => load_refund(conn, &id),
        None => Ok(None),
    }
}

/// What WeChat Pay says about a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundProgress {
    /// Accepted; the money is on its way.
    Processing {
        /// WeChat's refund id.
        provider_refund_id: String,
    },
    /// The money went back.
    Succeeded {
        /// WeChat's refund id.
        provider_refund_id: String,
    },
    /// WeChat could not refund (the payer's account is closed, …): finance must act.
    Abnormal {
        /// WeChat's refund id.
        provider_refund_id: String,
    },
    /// WeChat closed the refund.
    Closed {
        /// WeChat's refund id.
        provider_refund_id: String,
    },
}

/// Records where a refund stands. When it ends and it was the participant's refund, the
/// registration moves with it in the same transaction (`refunding → refunded`, or flagged
/// `refund_failed` for finance). Reporting the same progress again changes nothing.
pub fn refund_progress(
    conn: &mut DbConnection,
    id: RefundId,
    progress: &RefundProgress,
    now: DateTime<Utc>,
) -> Result<Refund, StoreError> {
    write_tx(conn, |conn| {
        let refund = lock_refund(conn, id)?;
        let (state, provider_id) = match progress {
            RefundProgress::Processing { provider_refund_id } => {
                (RefundState::Processing, provider_refund_id)
            }
            RefundProgress::Succeeded { provider_refund_id } => {
                (RefundState::Succeeded, provider_refund_id)
            }
            RefundProgress::Abnormal { provider_refund_id } => {
                (RefundState::Abnormal, provider_refund_id)
            }
            RefundProgress::Closed { provider_refund_id } => {
                (RefundState::Closed, provider_refund_id)
            }
        };
        let finished = matches!(refund.state, RefundState::Succeeded | RefundState::Closed);
        let backwards = state == RefundState::Processing && refund.state != RefundState::Pending;
        if refund.state == state || finished || backwards {
            return Ok(refund);
        }
        diesel::update(refunds::table.find(sql::text(id)))
            .set((
                refunds::state.eq(state.as_str()),
                refunds::provider_refund_id.eq(provider_id),
                refunds::provider_status.eq(state.as_str()),
                refunds::updated_at.eq(sql::ts(now)),
            ))
            .execute(conn)?;
        if refund.of_applied_payment {
            let event = match state {
                RefundState::Succeeded => Some(Event::RefundSucceeded),
                RefundState::Abnormal | RefundState::Closed => Some(Event::RefundFailed {
                    reason: Reason::parse(if state == RefundState::Abnormal {
                        "微信退款异常（ABNORMAL），请财务处理"
                    } else {
                        "微信退款已关闭（CLOSED），请财务处理"
                    })
                    .map_err(StoreError::corrupt)?,
                }),
                RefundState::Pending | RefundState::Processing => None,
            };
            if let Some(event) = event {
                let ctx = Ctx { who: Who::PaymentProvider, now, request_id: None };
                registrations::apply(conn, refund.registration, &event, &ctx)?;
            }
        }
        get_refund(conn, id)
    })
}

/// Records a failed attempt to start a refund (kept for finance to see).
pub fn refund_error(
    conn: &mut DbConnection,
    id: RefundId,
    error: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(refunds::table.find(sql::text(id)))
        .set((refunds::last_error.eq(error), refunds::updated_at.eq(sql::ts(now))))
        .execute(conn)?;
    Ok(())
}

/// Why finance cannot mark a refund returned.
#[derive(Debug, thiserror::Error)]
pub enum ReturnError {
    /// WeChat refunds are carried out by the worker, not by hand.
    #[error("微信支付的退款由系统自动办理")]
    NotByHand,
    /// It was already returned.
    #[error("该退款已办理完成")]
    AlreadyDone,
    /// The data layer failed (or the refund is unknown).
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Finance returned a bank transfer by hand (a transfer the registration could not take, or a
/// refund of a transfer-paid registration): the refund is done; for the participant's own
/// refund the registration becomes `refunded`. Audited in the same transaction.
pub fn returned_by_finance(
    conn: &mut DbConnection,
    id: RefundId,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Result<Refund, ReturnError> {
    write_tx(conn, |conn| {
        let refund = lock_refund(conn, id)?;
        if refund.method != PaymentMethod::BankTransfer {
            return Err(ReturnError::NotByHand);
        }
        if refund.state == RefundState::Succeeded {
            return Err(ReturnError::AlreadyDone);
        }
        diesel::update(refunds::table.find(sql::text(id)))
            .set((
                refunds::state.eq(RefundState::Succeeded.as_str()),
                refunds::updated_at.eq(sql::ts(ctx.now)),
            ))
            .execute(conn)?;
        if refund.of_applied_payment {
            registrations::apply(conn, refund.registration, &Event::RefundSucceeded, ctx)?;
        }
        let entry = audit::Entry {
            actor: actor.clone(),
            action: "refund_returned".into(),
            target_kind: Some("refund".into()),
            target_id: Some(id.to_string()),
            summary: Some(serde_json::json!({
                "registration": refund.registration.to_string(),
                "amount_fen": refund.amount.fen(),
            })),
        };
        audit::record(conn, &entry, ctx.now)?;
        Ok(get_refund(conn, id)?)
    })
}

crate::error::wraps_store_error!(OrderError, ConfirmError, ReturnError);
