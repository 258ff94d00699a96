//! WeChat Pay orders: opened once per registration (its id is the `out_trade_no`, so asking
//! again never creates a second order at WeChat), their prepay ids, closing, and what WeChat
//! Pay reports about them — a paid order's money goes to the ledger, and an order query's
//! answer is applied by [`apply_order_answer`], the one place that reads it (the
//! participant's "check my payment", withdrawing, and the worker's query job all call it).

use baoming_domain::Money;
use baoming_domain::ids::{OrderId, ParticipantId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{self, EventKind, PaymentMethod};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;

use super::OrderState;
use super::ledger::{self, IncomingPayment, Recorded};
use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::jobs::{self, Job};
use crate::schema::{participants, payment_orders};
use crate::sql;
use crate::transition::{self, Ctx, Who};

pub use crate::transition::has_open_order;

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

#[derive(Queryable, Selectable)]
#[diesel(table_name = payment_orders)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct OrderRow {
    id: String,
    registration_id: String,
    out_trade_no: String,
    openid: String,
    amount_fen: i64,
    description: String,
    time_expire: NaiveDateTime,
    prepay_id: Option<String>,
    state: String,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl TryFrom<OrderRow> for Order {
    type Error = StoreError;

    fn try_from(row: OrderRow) -> Result<Self, StoreError> {
        Ok(Order {
            id: sql::id(&row.id)?,
            registration: sql::id(&row.registration_id)?,
            out_trade_no: row.out_trade_no,
            openid: row.openid,
            amount: Money::from_fen(row.amount_fen).map_err(StoreError::corrupt)?,
            description: row.description,
            time_expire: sql::utc(row.time_expire),
            prepay_id: row.prepay_id,
            state: OrderState::parse(&row.state)?,
            created_at: sql::utc(row.created_at),
            updated_at: sql::utc(row.updated_at),
        })
    }
}

/// The registration's latest WeChat order, if one was opened.
pub fn order_of(
    conn: &mut DbConnection,
    registration: RegistrationId,
) -> Result<Option<Order>, StoreError> {
    payment_orders::table
        .filter(payment_orders::registration_id.eq(sql::text(registration)))
        .order((payment_orders::created_at.desc(), payment_orders::id.desc()))
        .select(OrderRow::as_select())
        .first::<OrderRow>(conn)
        .optional()?
        .map(Order::try_from)
        .transpose()
}

/// An order by id.
pub fn get_order(conn: &mut DbConnection, id: OrderId) -> Result<Order, StoreError> {
    payment_orders::table
        .find(sql::text(id))
        .select(OrderRow::as_select())
        .first::<OrderRow>(conn)
        .optional()?
        .map(Order::try_from)
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
        .select(OrderRow::as_select())
        .first::<OrderRow>(conn)
        .optional()?
        .map(Order::try_from)
        .transpose()
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
        let current = transition::load_for(conn, registration, Who::Participant(participant))?;
        // Serialises with a withdrawal or the clock: they either see this order, or this call
        // sees their change (and the state machine refuses).
        transition::claim(conn, &current)?;
        let facts = transition::current_facts(conn, &current, EventKind::ConfirmPayment, now)?;
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
    /// The order currency WeChat reports (`CNY`), if it says.
    pub currency: Option<String>,
    /// The payer's openid, if WeChat says.
    pub payer_openid: Option<String>,
}

/// Records money WeChat reported for one of our orders (see [`record_payment`](super::ledger::record_payment)). An order we
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
    ledger::record_payment(conn, &incoming, &Ctx { who: Who::PaymentProvider, now, request_id })
}

/// What an order query says, in the ledger's terms (the WeChat Pay wiring reads WeChat's
/// answer into this).
#[derive(Debug, Clone)]
pub enum OrderAnswer {
    /// Paid (or paid and since refunded): the money to record.
    Paid(WechatPaid),
    /// Closed or revoked at WeChat Pay: it can no longer be paid.
    Closed,
    /// The person is paying right now.
    Paying,
    /// Not paid (yet).
    Unpaid,
}

/// What applying an order query's answer did.
#[derive(Debug, Clone, PartialEq)]
pub enum OrderOutcome {
    /// The money was recorded (or had been): what the ledger did with it.
    Recorded(Recorded),
    /// The order is closed here now (it was closed at WeChat Pay).
    Closed,
    /// The person is paying right now: nothing changed, and nothing may change the
    /// registration until the payment ends.
    Paying,
    /// Not paid yet: nothing changed.
    Unpaid,
}

impl OrderOutcome {
    /// Whether the order is settled here (paid and recorded, or closed): nothing more to ask.
    pub fn settled(&self) -> bool {
        matches!(self, OrderOutcome::Recorded(_) | OrderOutcome::Closed)
    }
}

/// Applies what WeChat Pay answered to a query of `order`: paid → the money is recorded in the
/// ledger (and settled through the state machine); closed → the order is marked closed;
/// paying or unpaid → nothing changes.
pub fn apply_order_answer(
    conn: &mut DbConnection,
    order: OrderId,
    answer: &OrderAnswer,
    now: DateTime<Utc>,
    request_id: Option<String>,
) -> Result<OrderOutcome, StoreError> {
    Ok(match answer {
        OrderAnswer::Paid(paid) => {
            let recorded = record_wechat_payment(conn, paid, now, request_id)?;
            tracing::info!(%order, outcome = recorded.outcome(), "order found paid at WeChat Pay");
            OrderOutcome::Recorded(recorded)
        }
        OrderAnswer::Closed => {
            mark_order_closed(conn, order, now)?;
            OrderOutcome::Closed
        }
        OrderAnswer::Paying => OrderOutcome::Paying,
        OrderAnswer::Unpaid => OrderOutcome::Unpaid,
    })
}

crate::error::wraps_store_error!(OrderError);
