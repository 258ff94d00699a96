//! Refunds: the rows that say which money goes back and where it stands. WeChat money gets a
//! job that carries the refund out (its id's hex digits are the `out_refund_no`, so a retry
//! of the job never refunds twice); a bank transfer is returned by finance by hand. A WeChat
//! refund that WeChat Pay closed or reported abnormal may be retried by finance: a new refund
//! row (a new `out_refund_no`) linked to the old one (`retry_of`), which it supersedes — each
//! refund is retried at most once, and a payment has at most one live (not superseded)
//! refund, both unique indexes. What a refund's end does to its registration is in
//! [`super::returns`]; the list of refund requests finance decides is [`refund_requests`].

use baoming_domain::Money;
use baoming_domain::ids::{ParticipantId, PaymentId, PeriodId, RefundId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{EventKind, Flag, PaymentMethod, State};
use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use super::{Disposition, RefundState};
use crate::db::DbConnection;
use crate::error::StoreError;
use crate::jobs::{self, Job};
use crate::schema::{participants, payments, refunds, registration_events, registrations};
use crate::sql;

/// The merchant refund number of a refund: its id's 32 hex digits (one refund per number,
/// forever, at WeChat).
pub fn out_refund_no(id: RefundId) -> String {
    id.as_uuid().simple().to_string()
}

/// Records a refund of a payment: WeChat money gets a job that carries it out; a transfer is
/// returned by finance by hand.
pub(crate) fn create_refund(
    conn: &mut DbConnection,
    payment: PaymentId,
    registration: RegistrationId,
    method: PaymentMethod,
    amount: Money,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<RefundId, StoreError> {
    insert_refund(conn, crate::new_id(), payment, registration, method, amount, reason, None, now)
}

#[allow(clippy::too_many_arguments)]
fn insert_refund(
    conn: &mut DbConnection,
    id: RefundId,
    payment: PaymentId,
    registration: RegistrationId,
    method: PaymentMethod,
    amount: Money,
    reason: &str,
    retry_of: Option<RefundId>,
    now: DateTime<Utc>,
) -> Result<RefundId, StoreError> {
    let wechat = method == PaymentMethod::WechatPay;
    diesel::insert_into(refunds::table)
        .values((
            refunds::id.eq(sql::text(id)),
            refunds::payment_id.eq(sql::text(payment)),
            refunds::registration_id.eq(sql::text(registration)),
            refunds::method.eq(method.as_str()),
            refunds::out_refund_no.eq(wechat.then(|| out_refund_no(id))),
            refunds::amount_fen.eq(amount.fen()),
            refunds::reason.eq(reason),
            refunds::state.eq(RefundState::Pending.as_str()),
            refunds::created_at.eq(sql::ts(now)),
            refunds::updated_at.eq(sql::ts(now)),
            refunds::retry_of.eq(retry_of.map(sql::text)),
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

/// Records the refund of the payment that paid a registration (finance approved the
/// participant's refund request, or retried a refund WeChat Pay could not make: the
/// decision's `StartProviderRefund` or `ReturnTransferByHand` effect, written by
/// [`crate::transition`] in that transaction). When the payment's live refund ended closed or
/// abnormal, the new refund is its retry; any other live refund is [`StoreError::Duplicate`].
pub(crate) fn refund_applied_payment(
    conn: &mut DbConnection,
    registration: RegistrationId,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<RefundId, StoreError> {
    let (payment, method, amount) = payments::table
        .filter(payments::registration_id.eq(sql::text(registration)))
        .filter(payments::disposition.eq(Disposition::Applied.as_str()))
        .select((payments::id, payments::method, payments::amount_fen))
        .first::<(String, String, i64)>(conn)
        .optional()?
        .ok_or_else(|| StoreError::corrupt("a refund of a registration without its payment"))?;
    let method = PaymentMethod::parse(&method).map_err(StoreError::corrupt)?;
    let amount = Money::from_fen(amount).map_err(StoreError::corrupt)?;
    let payment: PaymentId = sql::id(&payment)?;
    match live_refund_of(conn, payment)? {
        None => create_refund(conn, payment, registration, method, amount, reason, now),
        Some(live) if live.state.failed_at_provider() => retry_refund(conn, &live, now),
        Some(_) => Err(StoreError::Duplicate { what: "refund" }),
    }
}

/// The live (not superseded) refund of a payment, if any.
pub(crate) fn live_refund_of(
    conn: &mut DbConnection,
    payment: PaymentId,
) -> Result<Option<Refund>, StoreError> {
    let id = refunds::table
        .filter(refunds::payment_id.eq(sql::text(payment)))
        .filter(refunds::superseded_by.is_null())
        .select(refunds::id)
        .first::<String>(conn)
        .optional()?;
    match id {
        Some(id) => load_refund(conn, &id),
        None => Ok(None),
    }
}

/// Retries a WeChat refund that WeChat Pay closed or reported abnormal (locked by the caller
/// in this transaction): a new refund of the same money under a new `out_refund_no`, linked
/// to `old` and superseding it, with the job that carries it out. A refund already retried
/// is [`StoreError::Duplicate`] (`refund retry`): each refund is retried at most once.
pub(crate) fn retry_refund(
    conn: &mut DbConnection,
    old: &Refund,
    now: DateTime<Utc>,
) -> Result<RefundId, StoreError> {
    if old.method != PaymentMethod::WechatPay || !old.state.failed_at_provider() {
        return Err(StoreError::Misuse("only a closed or abnormal WeChat refund is retried"));
    }
    let id: RefundId = crate::new_id();
    let superseded = diesel::update(refunds::table.find(sql::text(old.id)))
        .filter(refunds::superseded_by.is_null())
        .set((refunds::superseded_by.eq(sql::text(id)), refunds::updated_at.eq(sql::ts(now))))
        .execute(conn)?;
    if superseded != 1 {
        return Err(StoreError::Duplicate { what: "refund retry" });
    }
    insert_refund(
        conn,
        id,
        old.payment,
        old.registration,
        old.method,
        old.amount,
        &old.reason,
        Some(old.id),
        now,
    )
    .map_err(|e| match e {
        StoreError::Duplicate { .. } => StoreError::Duplicate { what: "refund retry" },
        other => other,
    })
}

/// Marks a refund done by hand (a transfer returned, or a WeChat refund finance made offline
/// after WeChat Pay could not), with finance's note and who did it.
pub(crate) fn settle_by_hand(
    conn: &mut DbConnection,
    id: RefundId,
    note: Option<&str>,
    staff: Option<String>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(refunds::table.find(sql::text(id)))
        .set((
            refunds::state.eq(RefundState::Succeeded.as_str()),
            refunds::offline_note.eq(note),
            refunds::settled_by.eq(staff),
            refunds::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    Ok(())
}

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
    /// The refund this one retries (it closed or ended abnormal at WeChat Pay).
    pub retry_of: Option<RefundId>,
    /// The refund that retries this one: this one is no longer live.
    pub superseded_by: Option<RefundId>,
    /// Finance's note when the money was returned by hand (offline, or a bank transfer).
    pub offline_note: Option<String>,
    /// The staff member who marked it returned by hand.
    pub settled_by: Option<String>,
    /// When it was recorded.
    pub created_at: DateTime<Utc>,
    /// Its last change.
    pub updated_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct RefundRow {
    #[diesel(select_expression = refunds::id)]
    id: String,
    #[diesel(select_expression = refunds::payment_id)]
    payment_id: String,
    #[diesel(select_expression = refunds::registration_id)]
    registration_id: String,
    #[diesel(select_expression = refunds::method)]
    method: String,
    #[diesel(select_expression = refunds::out_refund_no)]
    out_refund_no: Option<String>,
    #[diesel(select_expression = payments::out_trade_no)]
    out_trade_no: Option<String>,
    #[diesel(select_expression = refunds::amount_fen)]
    amount_fen: i64,
    #[diesel(select_expression = payments::amount_fen)]
    payment_amount_fen: i64,
    #[diesel(select_expression = refunds::reason)]
    reason: String,
    #[diesel(select_expression = refunds::state)]
    state: String,
    #[diesel(select_expression = refunds::provider_refund_id)]
    provider_refund_id: Option<String>,
    #[diesel(select_expression = refunds::last_error)]
    last_error: Option<String>,
    #[diesel(select_expression = payments::disposition)]
    payment_disposition: String,
    #[diesel(select_expression = refunds::retry_of)]
    retry_of: Option<String>,
    #[diesel(select_expression = refunds::superseded_by)]
    superseded_by: Option<String>,
    #[diesel(select_expression = refunds::offline_note)]
    offline_note: Option<String>,
    #[diesel(select_expression = refunds::settled_by)]
    settled_by: Option<String>,
    #[diesel(select_expression = refunds::created_at)]
    created_at: NaiveDateTime,
    #[diesel(select_expression = refunds::updated_at)]
    updated_at: NaiveDateTime,
}

impl TryFrom<RefundRow> for Refund {
    type Error = StoreError;

    fn try_from(row: RefundRow) -> Result<Self, StoreError> {
        Ok(Refund {
            id: sql::id(&row.id)?,
            payment: sql::id(&row.payment_id)?,
            registration: sql::id(&row.registration_id)?,
            method: PaymentMethod::parse(&row.method).map_err(StoreError::corrupt)?,
            out_refund_no: row.out_refund_no,
            out_trade_no: row.out_trade_no,
            amount: Money::from_fen(row.amount_fen).map_err(StoreError::corrupt)?,
            payment_amount: Money::from_fen(row.payment_amount_fen).map_err(StoreError::corrupt)?,
            reason: row.reason,
            state: RefundState::parse(&row.state)?,
            provider_refund_id: row.provider_refund_id,
            last_error: row.last_error,
            of_applied_payment: Disposition::parse(&row.payment_disposition)?
                == Disposition::Applied,
            retry_of: row.retry_of.as_deref().map(sql::id).transpose()?,
            superseded_by: row.superseded_by.as_deref().map(sql::id).transpose()?,
            offline_note: row.offline_note,
            settled_by: row.settled_by,
            created_at: sql::utc(row.created_at),
            updated_at: sql::utc(row.updated_at),
        })
    }
}

fn load_refund(conn: &mut DbConnection, id: &str) -> Result<Option<Refund>, StoreError> {
    refunds::table
        .find(id)
        .inner_join(payments::table)
        .select(RefundRow::as_select())
        .first::<RefundRow>(conn)
        .optional()?
        .map(Refund::try_from)
        .transpose()
}

/// A refund by id.
pub fn get_refund(conn: &mut DbConnection, id: RefundId) -> Result<Refund, StoreError> {
    load_refund(conn, &sql::text(id))?.ok_or(StoreError::NotFound { entity: "refund" })
}

/// Locks a refund's row (PostgreSQL: a no-op update) and reads it, so two reports of the same
/// refund at once (a notification and the refund job, finance) apply one after the other,
/// the second seeing the first.
pub(crate) fn lock_refund(conn: &mut DbConnection, id: RefundId) -> Result<Refund, StoreError> {
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

/// Filters of [`refund_requests`] (all optional; combined with AND).
#[derive(Debug, Clone, Default)]
pub struct RefundRequestFilter {
    /// Only this period.
    pub period: Option<PeriodId>,
    /// Only this state (one of [`REFUND_STATES`]); every one of them by default.
    pub state: Option<State>,
    /// Only registrations paid this way.
    pub method: Option<PaymentMethod>,
    /// Employer contains this text.
    pub employer: Option<String>,
}

/// The states of a registration whose participant asked for a refund: under review, approved
/// and under way, refunded, refused.
pub const REFUND_STATES: [State; 4] =
    [State::RefundRequested, State::Refunding, State::Refunded, State::RefundDenied];

/// A participant's refund request as finance decides and follows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundRequest {
    /// The registration.
    pub registration: RegistrationId,
    /// Whose.
    pub participant: ParticipantId,
    /// The participant's name.
    pub name: Option<String>,
    /// The participant's employer.
    pub employer: Option<String>,
    /// Which period.
    pub period: PeriodId,
    /// Where it stands.
    pub state: State,
    /// `refund_failed` while WeChat Pay could not make the refund (retry or refund offline).
    pub flag: Option<Flag>,
    /// The fee.
    pub fee: Money,
    /// How it was paid.
    pub method: Option<PaymentMethod>,
    /// The participant's reason (of the last request).
    pub reason: Option<String>,
    /// When the participant last asked.
    pub requested_at: Option<DateTime<Utc>>,
    /// Finance's reason for refusing, while refused.
    pub denial_reason: Option<String>,
    /// The live refund of the payment (once approved).
    pub refund: Option<Refund>,
}

/// Registrations whose participant asked for a refund (under review first, then the rest),
/// newest change first within each, at most `limit` (1–1000).
pub fn refund_requests(
    conn: &mut DbConnection,
    filter: &RefundRequestFilter,
    limit: i64,
) -> Result<Vec<RefundRequest>, StoreError> {
    let states: Vec<&str> = match filter.state {
        Some(state) => vec![state.as_str()],
        None => REFUND_STATES.iter().map(|s| s.as_str()).collect(),
    };
    let mut query = registrations::table
        .inner_join(participants::table)
        .filter(registrations::state.eq_any(states))
        .select((
            registrations::id,
            registrations::participant_id,
            participants::name,
            participants::employer,
            registrations::period_id,
            registrations::state,
            registrations::flag,
            registrations::fee_fen,
            registrations::payment_method,
        ))
        .order((registrations::updated_at.desc(), registrations::id))
        .limit(limit.clamp(1, 1000))
        .into_boxed();
    if let Some(period) = filter.period {
        query = query.filter(registrations::period_id.eq(sql::text(period)));
    }
    if let Some(method) = filter.method {
        query = query.filter(registrations::payment_method.eq(method.as_str()));
    }
    if let Some(employer) = filter.employer.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        let escaped = employer.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        query = query.filter(participants::employer.like(format!("%{escaped}%")).escape('\\'));
    }
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        String,
        String,
        Option<String>,
        i64,
        Option<String>,
    );
    let rows: Vec<Row> = query.load(conn)?;
    let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
    // The participant's last request and finance's last refusal, per registration.
    type Said = (Option<(String, NaiveDateTime)>, Option<String>);
    let mut said: std::collections::HashMap<String, Said> = std::collections::HashMap::new();
    let events: Vec<(String, String, Option<String>, NaiveDateTime)> = registration_events::table
        .filter(registration_events::registration_id.eq_any(&ids))
        .filter(
            registration_events::event
                .eq_any([EventKind::RequestRefund.as_str(), EventKind::DenyRefund.as_str()]),
        )
        .order(registration_events::version)
        .select((
            registration_events::registration_id,
            registration_events::event,
            registration_events::reason,
            registration_events::at,
        ))
        .load(conn)?;
    for (id, event, reason, at) in events {
        let entry = said.entry(id).or_default();
        if event == EventKind::RequestRefund.as_str() {
            entry.0 = Some((reason.unwrap_or_default(), at));
        } else {
            entry.1 = reason;
        }
    }
    // The live refund of each registration's applied payment.
    let live: Vec<RefundRow> = refunds::table
        .inner_join(payments::table)
        .filter(payments::registration_id.eq_any(&ids))
        .filter(payments::disposition.eq(Disposition::Applied.as_str()))
        .filter(refunds::superseded_by.is_null())
        .select(RefundRow::as_select())
        .load(conn)?;
    let mut live: std::collections::HashMap<String, Refund> = live
        .into_iter()
        .map(|row| Ok((row.registration_id.clone(), Refund::try_from(row)?)))
        .collect::<Result<_, StoreError>>()?;
    rows.into_iter()
        .map(|(id, participant, name, employer, period, state, flag, fee, method)| {
            let (request, denial) = said.remove(&id).unwrap_or_default();
            let state = State::parse(&state).map_err(StoreError::corrupt)?;
            Ok(RefundRequest {
                registration: sql::id(&id)?,
                participant: sql::id(&participant)?,
                name,
                employer,
                period: sql::id(&period)?,
                state,
                flag: flag.as_deref().map(Flag::parse).transpose().map_err(StoreError::corrupt)?,
                fee: Money::from_fen(fee).map_err(StoreError::corrupt)?,
                method: method
                    .as_deref()
                    .map(PaymentMethod::parse)
                    .transpose()
                    .map_err(StoreError::corrupt)?,
                reason: request.as_ref().map(|(reason, _)| reason.clone()),
                requested_at: request.map(|(_, at)| sql::utc(at)),
                denial_reason: (state == State::RefundDenied).then_some(denial).flatten(),
                refund: live.remove(&id),
            })
        })
        .collect()
}

/// The live refunds of these payments, by payment id.
pub(crate) fn live_refunds_of(
    conn: &mut DbConnection,
    payment_ids: &[String],
) -> Result<std::collections::HashMap<String, Refund>, StoreError> {
    refunds::table
        .inner_join(payments::table)
        .filter(refunds::payment_id.eq_any(payment_ids))
        .filter(refunds::superseded_by.is_null())
        .select(RefundRow::as_select())
        .load::<RefundRow>(conn)?
        .into_iter()
        .map(|row| Ok((row.payment_id.clone(), Refund::try_from(row)?)))
        .collect()
}
