//! The review queue of the back office: filtered, paged lists, counts per state, and staff
//! decisions written with their audit entry in the same transaction.

use baoming_domain::IdNumber;
use baoming_domain::ids::{ParticipantId, PeriodId, RegionId, RegistrationId, TypedId};
use baoming_domain::lifecycle::{Event, State};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::audit::{self, Entry};
use crate::db::{DbConnection, MultiBackend, write_tx};
use crate::error::StoreError;
use crate::participants::{self, Participant};
use crate::pii::PiiCipher;
use crate::registrations::{self, Applied, Ctx, Registration};
use crate::schema::{participants as p, registrations as r};
use crate::sql;

/// Filters of the review queue (all optional; combined with AND).
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Period.
    pub period: Option<PeriodId>,
    /// Region.
    pub region: Option<RegionId>,
    /// State.
    pub state: Option<State>,
    /// Submitted at or after.
    pub submitted_from: Option<DateTime<Utc>>,
    /// Submitted before.
    pub submitted_to: Option<DateTime<Utc>>,
    /// Employer contains.
    pub employer: Option<String>,
    /// Name contains.
    pub name: Option<String>,
    /// Phone equals (normalised 11 digits).
    pub phone: Option<String>,
    /// Exact ID number, matched through the blind index.
    pub id_number: Option<IdNumber>,
    /// Page, from 1.
    pub page: i64,
    /// Rows per page (1–200).
    pub per_page: i64,
}

/// A row of the queue: the registration and who submitted it (ID masked).
#[derive(Debug, Clone)]
pub struct Row {
    /// The registration.
    pub registration: Registration,
    /// Who.
    pub participant: Participant,
}

/// A page of the queue.
#[derive(Debug, Clone)]
pub struct Page {
    /// Rows in submit order.
    pub rows: Vec<Row>,
    /// Rows matching the filter in all.
    pub total: i64,
}

fn like(text: &str) -> String {
    let escaped = text.trim().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

/// The registrations (joined with their participants) matching a filter, as a boxed query;
/// a macro because the boxed join's type cannot be named.
macro_rules! matching {
    ($filter:expr, $cipher:expr) => {{
        let filter: &Filter = $filter;
        let mut q = r::table
            .inner_join(p::table.on(r::participant_id.eq(p::id)))
            .into_boxed::<MultiBackend>();
        if let Some(period) = filter.period {
            q = q.filter(r::period_id.eq(sql::text(period)));
        }
        if let Some(region) = filter.region {
            q = q.filter(r::region_id.eq(sql::text(region)));
        }
        if let Some(state) = filter.state {
            q = q.filter(r::state.eq(state.as_str()));
        }
        if let Some(from) = filter.submitted_from {
            q = q.filter(r::submitted_at.ge(sql::ts(from)));
        }
        if let Some(to) = filter.submitted_to {
            q = q.filter(r::submitted_at.lt(sql::ts(to)));
        }
        if let Some(employer) = filter.employer.as_deref().filter(|s| !s.trim().is_empty()) {
            q = q.filter(p::employer.like(like(employer)).escape('\\'));
        }
        if let Some(name) = filter.name.as_deref().filter(|s| !s.trim().is_empty()) {
            q = q.filter(p::name.like(like(name)).escape('\\'));
        }
        if let Some(phone) = &filter.phone {
            q = q.filter(p::phone.eq(phone.clone()));
        }
        if let Some(number) = &filter.id_number {
            q = q.filter(p::id_number_index.eq($cipher.blind_index(number)));
        }
        q
    }};
}

/// The filtered, paged queue, oldest submission first.
pub fn list(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    filter: &Filter,
) -> Result<Page, StoreError> {
    let total: i64 = matching!(filter, cipher).count().get_result(conn)?;
    let per_page = filter.per_page.clamp(1, 200);
    // Pages beyond any real queue are empty, not an overflow.
    let offset = (filter.page.clamp(1, 1_000_000) - 1) * per_page;
    let ids: Vec<(String, String)> = matching!(filter, cipher)
        .order((r::submitted_at, r::id))
        .limit(per_page)
        .offset(offset)
        .select((r::id, r::participant_id))
        .load(conn)?;
    let owners: Vec<ParticipantId> =
        ids.iter().map(|(_, pid)| sql::id(pid)).collect::<Result<_, _>>()?;
    let people = participants::get_many(conn, cipher, &owners)?;
    let typed: Vec<RegistrationId> =
        ids.iter().map(|(rid, _)| sql::id(rid)).collect::<Result<_, _>>()?;
    let rows = registrations::get_many(conn, &typed)?
        .into_iter()
        .map(|registration| {
            let participant = people
                .get(&registration.participant)
                .cloned()
                .ok_or(StoreError::NotFound { entity: "participant" })?;
            Ok(Row { registration, participant })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(Page { rows, total })
}

/// How many registrations are in each state (of a period, or of all).
pub fn counts(
    conn: &mut DbConnection,
    period: Option<PeriodId>,
) -> Result<Vec<(State, i64)>, StoreError> {
    let mut q =
        r::table.group_by(r::state).select((r::state, diesel::dsl::count_star())).into_boxed();
    if let Some(period) = period {
        q = q.filter(r::period_id.eq(sql::text(period)));
    }
    q.load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(state, n)| Ok((State::parse(&state).map_err(StoreError::corrupt)?, n)))
        .collect()
}

/// Applies a staff decision and writes its audit entry in one transaction.
pub fn decide(
    conn: &mut DbConnection,
    id: RegistrationId,
    event: &Event,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Result<Applied, StoreError> {
    write_tx(conn, |conn| {
        let applied = registrations::apply(conn, id, event, ctx)?;
        if let Applied::Moved { decision, .. } = &applied {
            let entry = Entry {
                actor: actor.clone(),
                action: decision.event.as_str().to_owned(),
                target_kind: Some("registration".into()),
                target_id: Some(id.to_string()),
                summary: Some(serde_json::json!({
                    "from": decision.from.state.as_str(),
                    "to": decision.to.state.as_str(),
                    "reason": event.reason().map(|r| r.as_str()),
                })),
            };
            audit::record(conn, &entry, ctx.now)?;
        }
        Ok(applied)
    })
}

/// The result of one id of a bulk decision.
#[derive(Debug)]
pub struct BulkItem {
    /// The id as given.
    pub id: String,
    /// What happened.
    pub result: Result<Applied, StoreError>,
}

/// Applies the same decision to many registrations, each in its own transaction, so one
/// refusal (full region, wrong state) does not undo the others.
pub fn bulk(
    conn: &mut DbConnection,
    ids: &[String],
    event: &Event,
    ctx: &Ctx,
    actor: &audit::Actor,
) -> Vec<BulkItem> {
    ids.iter()
        .map(|raw| {
            let result = RegistrationId::parse(raw)
                .map_err(|_| StoreError::NotFound { entity: "registration" })
                .and_then(|id| decide(conn, id, event, ctx, actor));
            BulkItem { id: raw.clone(), result }
        })
        .collect()
}

/// A registration of an export with who submitted it and when it was approved and paid.
#[derive(Debug, Clone)]
pub struct ExportItem {
    /// The registration.
    pub registration: Registration,
    /// Who.
    pub participant: Participant,
    /// When it was last approved.
    pub approved_at: Option<DateTime<Utc>>,
    /// When the payment was confirmed.
    pub paid_at: Option<DateTime<Utc>>,
}

type ApprovedPaid = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Where the next export batch starts (exclusive): the last row's submit time and id.
pub type ExportCursor = Option<(DateTime<Utc>, RegistrationId)>;

/// The next batch (at most `limit`, 1–5000) of a period's registrations in submit order, after
/// `cursor`: callers loop until an empty batch, so memory stays bounded by the batch size.
pub fn export_batch(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    period: PeriodId,
    cursor: ExportCursor,
    limit: i64,
) -> Result<Vec<ExportItem>, StoreError> {
    use crate::schema::registration_events as e;
    let mut q = r::table.filter(r::period_id.eq(sql::text(period))).into_boxed();
    if let Some((at, id)) = cursor {
        let at = sql::ts(at);
        q = q
            .filter(r::submitted_at.gt(at).or(r::submitted_at.eq(at).and(r::id.gt(sql::text(id)))));
    }
    let ids: Vec<String> =
        q.order((r::submitted_at, r::id)).limit(limit.clamp(1, 5000)).select(r::id).load(conn)?;
    let typed: Vec<RegistrationId> = ids.iter().map(|id| sql::id(id)).collect::<Result<_, _>>()?;
    let list = registrations::get_many(conn, &typed)?;
    let owners: Vec<ParticipantId> = list.iter().map(|r| r.participant).collect();
    let people = participants::get_many(conn, cipher, &owners)?;
    let times: Vec<(String, String, chrono::NaiveDateTime)> = e::table
        .filter(e::registration_id.eq_any(&ids))
        .filter(e::event.eq_any(["approve", "confirm_payment"]))
        .select((e::registration_id, e::event, e::at))
        .load(conn)?;
    // Per registration: when it was last approved and when it was paid.
    let mut when: std::collections::HashMap<String, ApprovedPaid> =
        std::collections::HashMap::new();
    for (rid, event, at) in times {
        let slot = when.entry(rid).or_default();
        let field = if event == "approve" { &mut slot.0 } else { &mut slot.1 };
        *field = (*field).max(Some(sql::utc(at)));
    }
    list.into_iter()
        .map(|registration| {
            // One person may have several registrations in a period (withdrawn, then again).
            let participant = people
                .get(&registration.participant)
                .cloned()
                .ok_or(StoreError::NotFound { entity: "participant" })?;
            let (approved_at, paid_at) =
                when.get(&registration.id.to_string()).copied().unwrap_or_default();
            Ok(ExportItem { approved_at, paid_at, participant, registration })
        })
        .collect()
}
