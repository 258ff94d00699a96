//! Invoices (发票): the invoice line's settings, the bulk-issue exports finance uploads to the
//! tax bureau, the issued numbers it reports back, and the red-letter reversals (冲红) of
//! invoices whose money went back.
//!
//! * **Settings** ([`settings`], [`save_settings`]): the item name, tax classification code,
//!   VAT rate, whether prices include tax … (`baoming_invoicing::InvoiceItemSettings`), for
//!   all periods or one period (the period's own win; without either, the documented
//!   defaults).
//! * **Exports** ([`export`]): a period's invoiceable registrations (paid and kept, with an
//!   invoice title; `State::is_invoiceable`) not yet in a live invoice are grouped by
//!   `baoming_invoicing::group_invoices` (joint invoices per buyer), each invoice gets a stable
//!   serial (发票流水号, `FP` + year and month + a six-digit number) and remembers the
//!   registrations it covers; the caller writes the workbook and the export keeps it, so it
//!   can be downloaded again ([`export_workbook`]). A registration is in at most one live
//!   invoice (a unique index).
//! * **Issued numbers** ([`record_issued`]): the rows of the bureau's workbook, matched by
//!   serial; rows that match nothing are reported.
//! * **Reversals** (`registration_refunded`, [`mark_reversed`]): when money an invoice
//!   covers goes back (the state machine's `ReverseInvoice` effect, written by
//!   [`crate::transition`]), an issued invoice is flagged for 冲红 — a joint invoice as a
//!   whole, the person who left named; an invoice still waiting for issue is flagged the
//!   moment it is reported issued. Finance reverses it and says so; the people it covered who
//!   keep their fee are invoiced anew by the next export. An exported invoice not yet issued
//!   may be cancelled ([`cancel`]).
//!
//! This module reads registrations directly and never calls [`crate::transition`] (which
//! calls it).

use std::collections::{BTreeMap, HashMap};

use baoming_domain::ids::{InvoiceExportId, InvoiceId, PeriodId, RegistrationId};
use baoming_domain::lifecycle::State;
use baoming_invoicing::{
    DraftKind, Fen, GroupingError, InvoiceDraft, InvoiceFacts, InvoiceItemSettings,
    InvoiceProgress, InvoiceSnapshot, InvoiceState, InvoiceType, PaidRegistration, group_invoices,
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::payments::Disposition;
use crate::schema::{
    invoice_export_items, invoice_exports, invoice_registrations, invoice_settings, invoices,
    participants, payments, periods, registrations,
};
use crate::{audit, sql};

// ---------------------------------------------------------------------------------------------
// Settings

/// Whose invoice settings: every period's, or one period's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every period without settings of its own.
    Global,
    /// One period.
    Period(PeriodId),
}

impl Scope {
    fn key(self) -> String {
        match self {
            Scope::Global => "global".into(),
            Scope::Period(id) => sql::text(id),
        }
    }
}

/// Where the settings in force come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsSource {
    /// The period's own settings.
    Period,
    /// The global settings.
    Global,
    /// Nothing was saved: the documented defaults.
    Default,
}

impl SettingsSource {
    /// The code the API answers (snake_case, as serialised).
    pub fn as_str(self) -> &'static str {
        match self {
            SettingsSource::Period => "period",
            SettingsSource::Global => "global",
            SettingsSource::Default => "default",
        }
    }
}

/// The settings in force for a scope, and where they come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EffectiveSettings {
    /// The settings.
    pub settings: InvoiceItemSettings,
    /// Where they come from.
    pub source: SettingsSource,
    /// When they were last saved (not for the defaults).
    pub updated_at: Option<DateTime<Utc>>,
}

fn stored_settings(
    conn: &mut DbConnection,
    scope: Scope,
) -> Result<Option<(InvoiceItemSettings, DateTime<Utc>)>, StoreError> {
    invoice_settings::table
        .find(scope.key())
        .select((invoice_settings::settings, invoice_settings::updated_at))
        .first::<(String, NaiveDateTime)>(conn)
        .optional()?
        .map(|(json, at)| {
            Ok((serde_json::from_str(&json).map_err(StoreError::corrupt)?, sql::utc(at)))
        })
        .transpose()
}

/// The settings in force for a period (its own, else the global ones, else the defaults), or,
/// for [`Scope::Global`], the global ones (else the defaults).
pub fn settings(conn: &mut DbConnection, scope: Scope) -> Result<EffectiveSettings, StoreError> {
    if let Scope::Period(period) = scope {
        period_exists(conn, period)?;
        if let Some((settings, at)) = stored_settings(conn, scope)? {
            return Ok(EffectiveSettings {
                settings,
                source: SettingsSource::Period,
                updated_at: Some(at),
            });
        }
    }
    Ok(match stored_settings(conn, Scope::Global)? {
        Some((settings, at)) => {
            EffectiveSettings { settings, source: SettingsSource::Global, updated_at: Some(at) }
        }
        None => EffectiveSettings {
            settings: InvoiceItemSettings::default(),
            source: SettingsSource::Default,
            updated_at: None,
        },
    })
}

fn period_exists(conn: &mut DbConnection, period: PeriodId) -> Result<(), StoreError> {
    let found = periods::table.find(sql::text(period)).count().get_result::<i64>(conn)?;
    if found == 0 {
        return Err(StoreError::NotFound { entity: "period" });
    }
    Ok(())
}

/// Saves a scope's settings (replacing what it had); audited in the same transaction.
pub fn save_settings(
    conn: &mut DbConnection,
    scope: Scope,
    settings: &InvoiceItemSettings,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<EffectiveSettings, StoreError> {
    write_tx(conn, |conn| {
        if let Scope::Period(period) = scope {
            period_exists(conn, period)?;
        }
        let json = serde_json::to_string(settings).map_err(StoreError::corrupt)?;
        diesel::delete(invoice_settings::table.find(scope.key())).execute(conn)?;
        diesel::insert_into(invoice_settings::table)
            .values((
                invoice_settings::scope.eq(scope.key()),
                invoice_settings::settings.eq(&json),
                invoice_settings::updated_at.eq(sql::ts(now)),
                invoice_settings::updated_by.eq(actor.staff.map(sql::text)),
            ))
            .execute(conn)?;
        record(
            conn,
            actor,
            "invoice_settings_update",
            "invoice_settings",
            Some(&scope.key()),
            now,
            serde_json::json!({ "settings": settings }),
        )?;
        self::settings(conn, scope)
    })
}

/// Removes a period's own settings (the global ones apply again); audited. Whether it had any.
pub fn clear_period_settings(
    conn: &mut DbConnection,
    period: PeriodId,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    write_tx(conn, |conn| {
        period_exists(conn, period)?;
        let key = Scope::Period(period).key();
        let removed = diesel::delete(invoice_settings::table.find(&key)).execute(conn)?;
        if removed > 0 {
            record(
                conn,
                actor,
                "invoice_settings_clear",
                "invoice_settings",
                Some(&key),
                now,
                serde_json::json!({}),
            )?;
        }
        Ok(removed > 0)
    })
}

fn record(
    conn: &mut DbConnection,
    actor: &audit::Actor,
    action: &str,
    kind: &str,
    id: Option<&str>,
    now: DateTime<Utc>,
    summary: serde_json::Value,
) -> Result<(), StoreError> {
    let entry = audit::Entry {
        actor: actor.clone(),
        action: action.into(),
        target_kind: Some(kind.into()),
        target_id: id.map(str::to_owned),
        summary: Some(summary),
    };
    audit::record(conn, &entry, now)
}

// ---------------------------------------------------------------------------------------------
// Exports

/// Which registrations of the period an export takes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportFilter {
    /// Only registrations paid at or after this instant.
    pub paid_since: Option<DateTime<Utc>>,
    /// Only registrations in no invoice yet (the default). Without it, the period's invoices
    /// exported before and not issued yet are included again, under their own serials and
    /// with their own content.
    pub not_yet_exported: bool,
    /// Only participants whose employer contains this text.
    pub employer: Option<String>,
}

/// One invoice of an export, as the workbook writer takes it.
#[derive(Debug, Clone)]
pub struct ExportedInvoice {
    /// Its serial (发票流水号): 1–20 ASCII letters and digits.
    pub serial: String,
    /// The invoice.
    pub draft: InvoiceDraft,
}

/// What an export made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    /// The export (its workbook is kept).
    pub id: InvoiceExportId,
    /// The period.
    pub period: PeriodId,
    /// Invoices in the workbook.
    pub invoices: usize,
    /// Of which new.
    pub new_invoices: usize,
    /// Registrations the invoices cover.
    pub registrations: usize,
    /// Invoices exported before that were left out, with why (serial, reason).
    pub skipped: Vec<(String, String)>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Why an export failed (nothing was recorded).
#[derive(Debug, thiserror::Error)]
pub enum ExportError<E> {
    /// No registration matches: nothing to invoice.
    #[error("没有可开票的报名（已缴费、选择了发票抬头且尚未开票）")]
    NothingToInvoice,
    /// The registrations cannot be grouped (a name missing …).
    #[error(transparent)]
    Grouping(GroupingError),
    /// The workbook could not be written.
    #[error("{0}")]
    Workbook(E),
    /// The data layer failed (or the period is unknown).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E> From<diesel::result::Error> for ExportError<E> {
    fn from(error: diesel::result::Error) -> Self {
        ExportError::Store(error.into())
    }
}

/// A registration that may be invoiced, as read for an export.
struct Candidate {
    id: String,
    title: InvoiceSnapshot,
    joint: bool,
    joint_remark: Option<String>,
    name: String,
    paid: Fen,
}

type CandidateRow = (String, String, Option<String>, Option<String>, i64);

fn invoiceable_states() -> Vec<&'static str> {
    State::ALL.iter().filter(|s| s.is_invoiceable()).map(|s| s.as_str()).collect()
}

fn candidates(
    conn: &mut DbConnection,
    period: PeriodId,
    filter: &ExportFilter,
) -> Result<Vec<Candidate>, StoreError> {
    let mut query = registrations::table
        .inner_join(participants::table)
        .inner_join(payments::table)
        .filter(registrations::period_id.eq(sql::text(period)))
        .filter(registrations::state.eq_any(invoiceable_states()))
        .filter(registrations::invoice_snapshot.is_not_null())
        .filter(payments::disposition.eq(Disposition::Applied.as_str()))
        .select((
            registrations::id,
            registrations::invoice_snapshot.assume_not_null(),
            registrations::joint_invoice_remark,
            participants::name,
            payments::amount_fen,
        ))
        .order(registrations::id)
        .into_boxed();
    if let Some(since) = filter.paid_since {
        query = query.filter(payments::received_at.ge(sql::ts(since)));
    }
    if let Some(employer) = filter.employer.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        let escaped = employer.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        query = query.filter(participants::employer.like(format!("%{escaped}%")).escape('\\'));
    }
    query
        .load::<CandidateRow>(conn)?
        .into_iter()
        .map(|(id, title, remark, name, paid)| {
            Ok(Candidate {
                title: serde_json::from_str(&title).map_err(StoreError::corrupt)?,
                joint: remark.is_some(),
                joint_remark: remark,
                name: name.unwrap_or_default(),
                paid: Fen(paid),
                id,
            })
        })
        .collect()
}

impl Candidate {
    fn paid_registration(&self) -> PaidRegistration {
        PaidRegistration {
            key: self.id.clone(),
            participant_name: self.name.clone(),
            title: self.title.clone(),
            joint: self.joint,
            joint_remark: self.joint_remark.clone(),
            paid: self.paid,
        }
    }
}

/// The live invoice of each registration: (invoice id, its state).
fn live_invoices(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<HashMap<String, (String, String)>, StoreError> {
    Ok(invoice_registrations::table
        .inner_join(invoices::table)
        .filter(invoice_registrations::registration_id.eq_any(ids))
        .filter(invoice_registrations::released_at.is_null())
        .select((invoice_registrations::registration_id, invoices::id, invoices::state))
        .load::<(String, String, String)>(conn)?
        .into_iter()
        .map(|(registration, invoice, state)| (registration, (invoice, state)))
        .collect())
}

/// The next free serial of the month of `now` (Beijing time): `FP202611000001`, …
fn next_serial(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<String, StoreError> {
    let month = (now + chrono::Duration::hours(8)).format("%Y%m").to_string();
    let prefix = format!("FP{month}");
    let last: Option<String> = invoices::table
        .filter(invoices::serial.like(format!("{prefix}%")))
        .select(invoices::serial)
        .order(invoices::serial.desc())
        .first(conn)
        .optional()?;
    let next = match last {
        Some(serial) => {
            serial[prefix.len()..].parse::<u32>().map_err(StoreError::corrupt)?.saturating_add(1)
        }
        None => 1,
    };
    if next > 999_999 {
        return Err(StoreError::corrupt("a million invoices in one month"));
    }
    Ok(format!("{prefix}{next:06}"))
}

fn draft_kind_code(kind: DraftKind) -> &'static str {
    match kind {
        DraftKind::Single => "single",
        DraftKind::Joint => "joint",
    }
}

fn invoice_type_code(t: InvoiceType) -> &'static str {
    match t {
        InvoiceType::Normal => "normal",
        InvoiceType::Special => "special",
    }
}

/// Inserts a new invoice for `draft` under `serial`, with the registrations it covers.
fn insert_invoice(
    conn: &mut DbConnection,
    period: PeriodId,
    serial: &str,
    draft: &InvoiceDraft,
    now: DateTime<Utc>,
) -> Result<InvoiceId, StoreError> {
    let id: InvoiceId = crate::new_id();
    let buyer = serde_json::to_string(draft.buyer()).map_err(StoreError::corrupt)?;
    diesel::insert_into(invoices::table)
        .values((
            invoices::id.eq(sql::text(id)),
            invoices::serial.eq(serial),
            invoices::period_id.eq(sql::text(period)),
            invoices::kind.eq(draft_kind_code(draft.kind())),
            invoices::invoice_type.eq(invoice_type_code(draft.invoice_type())),
            invoices::buyer.eq(buyer),
            invoices::amount_fen.eq(draft.amount().get()),
            invoices::remark.eq(draft.remark()),
            invoices::state.eq(InvoiceState::Exported.as_str()),
            invoices::created_at.eq(sql::ts(now)),
            invoices::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)
        .map_err(duplicate_invoice)?;
    for covered in draft.covers() {
        diesel::insert_into(invoice_registrations::table)
            .values((
                invoice_registrations::invoice_id.eq(sql::text(id)),
                invoice_registrations::registration_id.eq(&covered.key),
                invoice_registrations::name.eq(&covered.name),
                invoice_registrations::paid_fen.eq(covered.paid.get()),
            ))
            .execute(conn)
            .map_err(duplicate_invoice)?;
    }
    Ok(id)
}

fn duplicate_invoice(e: diesel::result::Error) -> StoreError {
    if StoreError::is_unique_violation(&e) {
        StoreError::Duplicate { what: "invoice" }
    } else {
        e.into()
    }
}

/// A stored cover with what rebuilding its draft needs: (registration, name, paid, left at,
/// title, joint remark).
type StoredCover = (String, String, i64, Option<NaiveDateTime>, String, Option<String>);

/// Rebuilds the draft of an invoice exported before (for an export that includes it again):
/// the same registrations, names and fees give the same invoice. `None` (with why) when it
/// cannot be exported again as it was.
fn stored_draft(
    conn: &mut DbConnection,
    period_name: &str,
    invoice: &str,
) -> Result<Result<(String, InvoiceDraft), String>, StoreError> {
    let (serial, kind, amount, remark) = invoices::table
        .find(invoice)
        .select((invoices::serial, invoices::kind, invoices::amount_fen, invoices::remark))
        .first::<(String, String, i64, String)>(conn)?;
    let covers: Vec<StoredCover> = invoice_registrations::table
        .inner_join(registrations::table)
        .filter(invoice_registrations::invoice_id.eq(invoice))
        .select((
            invoice_registrations::registration_id,
            invoice_registrations::name,
            invoice_registrations::paid_fen,
            invoice_registrations::left_at,
            registrations::invoice_snapshot.assume_not_null(),
            registrations::joint_invoice_remark,
        ))
        .load(conn)?;
    if covers.iter().any(|c| c.3.is_some()) {
        return Ok(Err("发票涵盖的人员已退款，请作废后重新导出".into()));
    }
    let joint = kind == draft_kind_code(DraftKind::Joint);
    let list = covers
        .into_iter()
        .map(|(key, name, paid, _, title, remark)| {
            Ok(PaidRegistration {
                key,
                participant_name: name,
                title: serde_json::from_str(&title).map_err(StoreError::corrupt)?,
                joint,
                joint_remark: remark,
                paid: Fen(paid),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut drafts = group_invoices(period_name, &list).map_err(StoreError::corrupt)?;
    match (drafts.pop(), drafts.is_empty()) {
        (Some(draft), true) if draft.amount().get() == amount && draft.remark() == remark => {
            Ok(Ok((serial, draft)))
        }
        _ => Ok(Err("发票内容与导出时不一致（期次名称或抬头已修改），请作废后重新导出".into())),
    }
}

/// Exports a period's invoices: groups the invoiceable registrations that match `filter`
/// into invoices (new ones get serials and remember the registrations they cover), lets
/// `write` make the workbook of them, keeps it with the export, and audits it — all in one
/// transaction. A concurrent export that took a registration first makes this one start
/// again.
pub fn export<E>(
    conn: &mut DbConnection,
    period: PeriodId,
    filter: &ExportFilter,
    actor: &audit::Actor,
    now: DateTime<Utc>,
    mut write: impl FnMut(&InvoiceItemSettings, &[ExportedInvoice]) -> Result<Vec<u8>, E>,
) -> Result<ExportSummary, ExportError<E>> {
    let mut tries = 0;
    loop {
        let attempt =
            write_tx(conn, |conn| export_in_tx(conn, period, filter, actor, now, &mut write));
        match attempt {
            Err(ExportError::Store(StoreError::Duplicate { what: "invoice" })) if tries < 3 => {
                tries += 1;
            }
            other => return other,
        }
    }
}

fn export_in_tx<E>(
    conn: &mut DbConnection,
    period: PeriodId,
    filter: &ExportFilter,
    actor: &audit::Actor,
    now: DateTime<Utc>,
    write: &mut impl FnMut(&InvoiceItemSettings, &[ExportedInvoice]) -> Result<Vec<u8>, E>,
) -> Result<ExportSummary, ExportError<E>> {
    let period_name: String = periods::table
        .find(sql::text(period))
        .select(periods::name)
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "period" })?;
    let settings = settings(conn, Scope::Period(period))?.settings;
    let found = candidates(conn, period, filter)?;
    let ids: Vec<String> = found.iter().map(|c| c.id.clone()).collect();
    let live = live_invoices(conn, &ids)?;
    let fresh: Vec<PaidRegistration> = found
        .iter()
        .filter(|c| !live.contains_key(&c.id))
        .map(Candidate::paid_registration)
        .collect();
    let mut list = Vec::new();
    let mut skipped = Vec::new();
    if !filter.not_yet_exported {
        // Invoices exported before, not issued yet, covering a matching registration.
        let again: std::collections::BTreeSet<&String> = live
            .values()
            .filter(|(_, state)| state == InvoiceState::Exported.as_str())
            .map(|(invoice, _)| invoice)
            .collect();
        for invoice in again {
            match stored_draft(conn, &period_name, invoice)? {
                Ok((serial, draft)) => list.push(ExportedInvoice { serial, draft }),
                Err(why) => {
                    let serial = invoices::table
                        .find(invoice)
                        .select(invoices::serial)
                        .first::<String>(conn)?;
                    skipped.push((serial, why));
                }
            }
        }
        list.sort_by(|a, b| a.serial.cmp(&b.serial));
    }
    let again = list.len();
    let drafts = group_invoices(&period_name, &fresh).map_err(ExportError::Grouping)?;
    let mut new_ids = Vec::with_capacity(drafts.len());
    for draft in drafts {
        let serial = next_serial(conn, now)?;
        new_ids.push(insert_invoice(conn, period, &serial, &draft, now)?);
        list.push(ExportedInvoice { serial, draft });
    }
    if list.is_empty() {
        return Err(ExportError::NothingToInvoice);
    }
    let bytes = write(&settings, &list).map_err(ExportError::Workbook)?;
    let id: InvoiceExportId = crate::new_id();
    let filters = serde_json::to_string(filter).map_err(StoreError::corrupt)?;
    let settings_json = serde_json::to_string(&settings).map_err(StoreError::corrupt)?;
    let count = i32::try_from(list.len()).map_err(StoreError::corrupt)?;
    diesel::insert_into(invoice_exports::table)
        .values((
            invoice_exports::id.eq(sql::text(id)),
            invoice_exports::period_id.eq(sql::text(period)),
            invoice_exports::filters.eq(filters),
            invoice_exports::settings.eq(settings_json),
            invoice_exports::invoice_count.eq(count),
            invoice_exports::workbook.eq(&bytes),
            invoice_exports::created_at.eq(sql::ts(now)),
            invoice_exports::created_by.eq(actor.staff.map(sql::text)),
        ))
        .execute(conn)?;
    let serials: Vec<&str> = list.iter().map(|i| i.serial.as_str()).collect();
    let invoice_ids: HashMap<String, String> = invoices::table
        .filter(invoices::serial.eq_any(&serials))
        .select((invoices::serial, invoices::id))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    for (position, item) in (0_i32..).zip(&list) {
        let invoice = invoice_ids
            .get(&item.serial)
            .ok_or_else(|| StoreError::corrupt("an exported invoice without its row"))?;
        diesel::insert_into(invoice_export_items::table)
            .values((
                invoice_export_items::export_id.eq(sql::text(id)),
                invoice_export_items::invoice_id.eq(invoice),
                invoice_export_items::position.eq(position),
            ))
            .execute(conn)?;
    }
    let registrations: usize = list.iter().map(|i| i.draft.covers().len()).sum();
    record(
        conn,
        actor,
        "invoice_export",
        "invoice_export",
        Some(&id.to_string()),
        now,
        serde_json::json!({
            "period": period.to_string(),
            "invoices": list.len(),
            "new_invoices": new_ids.len(),
            "again": again,
            "registrations": registrations,
            "filter": filter,
            "serials": serials,
        }),
    )?;
    Ok(ExportSummary {
        id,
        period,
        invoices: list.len(),
        new_invoices: new_ids.len(),
        registrations,
        skipped,
        created_at: now,
    })
}

/// An export as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRecord {
    /// Id.
    pub id: InvoiceExportId,
    /// The period.
    pub period: PeriodId,
    /// The filters it was made with.
    pub filters: serde_json::Value,
    /// The invoice settings it was made with.
    pub settings: serde_json::Value,
    /// Invoices in it.
    pub invoice_count: i32,
    /// When.
    pub created_at: DateTime<Utc>,
    /// Who (staff id).
    pub created_by: Option<String>,
}

type ExportRow = (String, String, String, String, i32, NaiveDateTime, Option<String>);

/// The exports (of one period, or all), newest first, at most `limit` (1–500).
pub fn exports(
    conn: &mut DbConnection,
    period: Option<PeriodId>,
    limit: i64,
) -> Result<Vec<ExportRecord>, StoreError> {
    let mut query = invoice_exports::table
        .select((
            invoice_exports::id,
            invoice_exports::period_id,
            invoice_exports::filters,
            invoice_exports::settings,
            invoice_exports::invoice_count,
            invoice_exports::created_at,
            invoice_exports::created_by,
        ))
        .order((invoice_exports::created_at.desc(), invoice_exports::id.desc()))
        .limit(limit.clamp(1, 500))
        .into_boxed();
    if let Some(period) = period {
        query = query.filter(invoice_exports::period_id.eq(sql::text(period)));
    }
    query
        .load::<ExportRow>(conn)?
        .into_iter()
        .map(|(id, period, filters, settings, invoice_count, created_at, created_by)| {
            Ok(ExportRecord {
                id: sql::id(&id)?,
                period: sql::id(&period)?,
                filters: serde_json::from_str(&filters).map_err(StoreError::corrupt)?,
                settings: serde_json::from_str(&settings).map_err(StoreError::corrupt)?,
                invoice_count,
                created_at: sql::utc(created_at),
                created_by,
            })
        })
        .collect()
}

/// An export's workbook as it was first downloaded, with its period and time.
pub fn export_workbook(
    conn: &mut DbConnection,
    id: InvoiceExportId,
) -> Result<(PeriodId, DateTime<Utc>, Vec<u8>), StoreError> {
    let (period, at, bytes) = invoice_exports::table
        .find(sql::text(id))
        .select((
            invoice_exports::period_id,
            invoice_exports::created_at,
            invoice_exports::workbook,
        ))
        .first::<(String, NaiveDateTime, Vec<u8>)>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "invoice export" })?;
    Ok((sql::id(&period)?, sql::utc(at), bytes))
}

// ---------------------------------------------------------------------------------------------
// Invoices as stored

/// A registration an invoice covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Covered {
    /// The registration.
    pub registration: RegistrationId,
    /// The name on the invoice.
    pub name: String,
    /// The fee paid, in fen.
    pub paid_fen: i64,
    /// When its money went back (it left the invoice), if it did.
    pub left_at: Option<DateTime<Utc>>,
    /// When the invoice stopped covering it (reversed or cancelled).
    pub released_at: Option<DateTime<Utc>>,
}

/// An exported invoice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Invoice {
    /// Id.
    pub id: InvoiceId,
    /// Its serial (发票流水号).
    pub serial: String,
    /// The period.
    pub period: PeriodId,
    /// `single` or `joint`.
    pub kind: String,
    /// `normal` (普票) or `special` (专票).
    pub invoice_type: String,
    /// The buyer (购买方).
    pub buyer: InvoiceSnapshot,
    /// The amount (价税合计), in fen.
    pub amount_fen: i64,
    /// The remark (备注).
    pub remark: String,
    /// Where it stands.
    pub state: InvoiceState,
    /// The 数电发票 number, once issued.
    pub number: Option<String>,
    /// The issue date, once issued.
    pub issued_on: Option<NaiveDate>,
    /// When money it covers went back after issue: it must be reversed (冲红).
    pub reversal_flagged_at: Option<DateTime<Utc>>,
    /// When finance reversed it.
    pub reversed_at: Option<DateTime<Utc>>,
    /// Finance's note on the reversal (e.g. the red invoice's number).
    pub reversal_note: Option<String>,
    /// When it was first exported.
    pub created_at: DateTime<Utc>,
    /// The registrations it covers (or covered).
    pub covers: Vec<Covered>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = invoices)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
struct InvoiceRow {
    id: String,
    serial: String,
    period_id: String,
    kind: String,
    invoice_type: String,
    buyer: String,
    amount_fen: i64,
    remark: String,
    state: String,
    number: Option<String>,
    issued_on: Option<String>,
    reversal_flagged_at: Option<NaiveDateTime>,
    reversed_at: Option<NaiveDateTime>,
    reversal_note: Option<String>,
    created_at: NaiveDateTime,
}

/// (invoice, registration, name, paid, left at, released at).
type CoverRow = (String, String, String, i64, Option<NaiveDateTime>, Option<NaiveDateTime>);

fn with_covers(conn: &mut DbConnection, rows: Vec<InvoiceRow>) -> Result<Vec<Invoice>, StoreError> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut covers: HashMap<String, Vec<Covered>> = HashMap::new();
    let found: Vec<CoverRow> = invoice_registrations::table
        .filter(invoice_registrations::invoice_id.eq_any(&ids))
        .order((invoice_registrations::invoice_id, invoice_registrations::name))
        .select((
            invoice_registrations::invoice_id,
            invoice_registrations::registration_id,
            invoice_registrations::name,
            invoice_registrations::paid_fen,
            invoice_registrations::left_at,
            invoice_registrations::released_at,
        ))
        .load(conn)?;
    for (invoice, registration, name, paid_fen, left_at, released_at) in found {
        covers.entry(invoice).or_default().push(Covered {
            registration: sql::id(&registration)?,
            name,
            paid_fen,
            left_at: left_at.map(sql::utc),
            released_at: released_at.map(sql::utc),
        });
    }
    rows.into_iter()
        .map(|r| {
            Ok(Invoice {
                covers: covers.remove(&r.id).unwrap_or_default(),
                id: sql::id(&r.id)?,
                serial: r.serial,
                period: sql::id(&r.period_id)?,
                kind: r.kind,
                invoice_type: r.invoice_type,
                buyer: serde_json::from_str(&r.buyer).map_err(StoreError::corrupt)?,
                amount_fen: r.amount_fen,
                remark: r.remark,
                state: InvoiceState::parse(&r.state).map_err(StoreError::corrupt)?,
                number: r.number,
                issued_on: r
                    .issued_on
                    .as_deref()
                    .map(|d| d.parse::<NaiveDate>())
                    .transpose()
                    .map_err(StoreError::corrupt)?,
                reversal_flagged_at: r.reversal_flagged_at.map(sql::utc),
                reversed_at: r.reversed_at.map(sql::utc),
                reversal_note: r.reversal_note,
                created_at: sql::utc(r.created_at),
            })
        })
        .collect()
}

/// Filters of [`list`].
#[derive(Debug, Clone, Default)]
pub struct InvoiceFilter {
    /// Only this period.
    pub period: Option<PeriodId>,
    /// Only this state.
    pub state: Option<InvoiceState>,
    /// Only invoices flagged for reversal (冲红) and not reversed yet.
    pub to_reverse: bool,
    /// Only the invoices of this export, in its order.
    pub export: Option<InvoiceExportId>,
}

/// Invoices, by serial (an export's in its order), at most `limit` (1–5000).
pub fn list(
    conn: &mut DbConnection,
    filter: &InvoiceFilter,
    limit: i64,
) -> Result<Vec<Invoice>, StoreError> {
    let mut query = invoices::table
        .select(InvoiceRow::as_select())
        .order(invoices::serial)
        .limit(limit.clamp(1, 5000))
        .into_boxed();
    if let Some(period) = filter.period {
        query = query.filter(invoices::period_id.eq(sql::text(period)));
    }
    if let Some(state) = filter.state {
        query = query.filter(invoices::state.eq(state.as_str()));
    }
    if filter.to_reverse {
        query = query
            .filter(invoices::reversal_flagged_at.is_not_null())
            .filter(invoices::reversed_at.is_null());
    }
    if let Some(export) = filter.export {
        let ids: Vec<String> = invoice_export_items::table
            .filter(invoice_export_items::export_id.eq(sql::text(export)))
            .select(invoice_export_items::invoice_id)
            .load(conn)?;
        query = query.filter(invoices::id.eq_any(ids));
    }
    let rows = query.load::<InvoiceRow>(conn)?;
    with_covers(conn, rows)
}

/// An invoice by id.
pub fn get(conn: &mut DbConnection, id: InvoiceId) -> Result<Invoice, StoreError> {
    let row = invoices::table
        .find(sql::text(id))
        .select(InvoiceRow::as_select())
        .first::<InvoiceRow>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "invoice" })?;
    with_covers(conn, vec![row])?.pop().ok_or(StoreError::NotFound { entity: "invoice" })
}

// ---------------------------------------------------------------------------------------------
// Issued numbers

/// One row of the bureau's workbook of issued invoices, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedRow {
    /// The worksheet row (1-based), to report.
    pub row: u32,
    /// The serial it was uploaded with.
    pub serial: String,
    /// The 数电发票 number.
    pub number: String,
    /// The issue date.
    pub issued_on: NaiveDate,
}

/// What a row of the issued workbook did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum IssuedOutcome {
    /// The invoice is issued now.
    Issued {
        /// It covers money that went back: flagged for reversal (冲红) at once.
        flagged_for_reversal: bool,
    },
    /// It was recorded issued before with this number: nothing changed.
    AlreadyIssued,
    /// No invoice has this serial.
    UnknownSerial,
    /// The invoice was issued before under another number.
    OtherNumber {
        /// The number recorded.
        recorded: String,
    },
    /// Another invoice was issued with this number.
    NumberTaken {
        /// That invoice's serial.
        serial: String,
    },
    /// The invoice was reversed or cancelled: it cannot become issued.
    NotLive {
        /// Its state.
        state: InvoiceState,
    },
}

impl IssuedOutcome {
    /// Whether the row was matched and recorded (now or before).
    pub fn matched(&self) -> bool {
        matches!(self, IssuedOutcome::Issued { .. } | IssuedOutcome::AlreadyIssued)
    }
}

/// The outcome of one row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IssuedResult {
    /// The worksheet row.
    pub row: u32,
    /// The serial.
    pub serial: String,
    /// The number.
    pub number: String,
    /// What it did.
    #[serde(flatten)]
    pub outcome: IssuedOutcome,
}

/// Records the issued numbers and dates of the bureau's workbook, matched by serial, in one
/// transaction, audited: each row's outcome, rows that match nothing included.
pub fn record_issued(
    conn: &mut DbConnection,
    rows: &[IssuedRow],
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<Vec<IssuedResult>, StoreError> {
    write_tx(conn, |conn| {
        let mut results = Vec::with_capacity(rows.len());
        for row in rows {
            let outcome = record_one(conn, row, now)?;
            results.push(IssuedResult {
                row: row.row,
                serial: row.serial.clone(),
                number: row.number.clone(),
                outcome,
            });
        }
        let issued = results.iter().filter(|r| matches!(r.outcome, IssuedOutcome::Issued { .. }));
        let issued: Vec<&str> = issued.map(|r| r.serial.as_str()).collect();
        let unmatched = results.iter().filter(|r| !r.outcome.matched()).count();
        record(
            conn,
            actor,
            "invoice_import",
            "invoice",
            None,
            now,
            serde_json::json!({
                "rows": rows.len(),
                "issued": issued,
                "unmatched": unmatched,
            }),
        )?;
        Ok(results)
    })
}

fn record_one(
    conn: &mut DbConnection,
    row: &IssuedRow,
    now: DateTime<Utc>,
) -> Result<IssuedOutcome, StoreError> {
    let found: Option<(String, String, Option<String>)> = invoices::table
        .filter(invoices::serial.eq(&row.serial))
        .select((invoices::id, invoices::state, invoices::number))
        .first(conn)
        .optional()?;
    let Some((id, state, number)) = found else { return Ok(IssuedOutcome::UnknownSerial) };
    let state = InvoiceState::parse(&state).map_err(StoreError::corrupt)?;
    match (state, number) {
        (InvoiceState::Issued, Some(recorded)) if recorded == row.number => {
            return Ok(IssuedOutcome::AlreadyIssued);
        }
        (_, Some(recorded)) => return Ok(IssuedOutcome::OtherNumber { recorded }),
        (InvoiceState::Exported, None) => {}
        (state, None) => return Ok(IssuedOutcome::NotLive { state }),
    }
    let taken: Option<String> = invoices::table
        .filter(invoices::number.eq(&row.number))
        .select(invoices::serial)
        .first(conn)
        .optional()?;
    if let Some(serial) = taken {
        return Ok(IssuedOutcome::NumberTaken { serial });
    }
    let left = invoice_registrations::table
        .filter(invoice_registrations::invoice_id.eq(&id))
        .filter(invoice_registrations::left_at.is_not_null())
        .count()
        .get_result::<i64>(conn)?
        > 0;
    diesel::update(invoices::table.find(&id))
        .set((
            invoices::state.eq(InvoiceState::Issued.as_str()),
            invoices::number.eq(&row.number),
            invoices::issued_on.eq(row.issued_on.format("%Y-%m-%d").to_string()),
            invoices::issued_recorded_at.eq(sql::ts(now)),
            invoices::reversal_flagged_at.eq(left.then(|| sql::ts(now))),
            invoices::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    Ok(IssuedOutcome::Issued { flagged_for_reversal: left })
}

// ---------------------------------------------------------------------------------------------
// Refunds and reversals

/// The money of a registration went back (called by [`crate::transition`] for the
/// `ReverseInvoice` effect): the registration leaves its live invoice, and an issued invoice
/// is flagged for reversal (冲红). An invoice not issued yet is flagged when it is reported
/// issued. Nothing to do without a live invoice.
pub(crate) fn registration_refunded(
    conn: &mut DbConnection,
    registration: RegistrationId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let live: Option<String> = invoice_registrations::table
        .filter(invoice_registrations::registration_id.eq(sql::text(registration)))
        .filter(invoice_registrations::released_at.is_null())
        .select(invoice_registrations::invoice_id)
        .first(conn)
        .optional()?;
    let Some(invoice) = live else { return Ok(()) };
    diesel::update(
        invoice_registrations::table
            .filter(invoice_registrations::invoice_id.eq(&invoice))
            .filter(invoice_registrations::registration_id.eq(sql::text(registration))),
    )
    .set(invoice_registrations::left_at.eq(sql::ts(now)))
    .execute(conn)?;
    diesel::update(invoices::table.find(&invoice))
        .filter(invoices::state.eq(InvoiceState::Issued.as_str()))
        .filter(invoices::reversal_flagged_at.is_null())
        .set((
            invoices::reversal_flagged_at.eq(sql::ts(now)),
            invoices::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    tracing::info!(%registration, %invoice, "refunded: the registration left its invoice");
    Ok(())
}

/// Why finance cannot reverse or cancel an invoice (nothing was changed).
#[derive(Debug, thiserror::Error)]
pub enum InvoiceActionError {
    /// Only an issued invoice is reversed.
    #[error("发票状态为“{}”，只有已开具的发票才能冲红", .0.label_zh())]
    NotIssued(InvoiceState),
    /// Only an invoice not yet issued is cancelled.
    #[error("发票状态为“{}”，只有尚未开具的发票才能作废", .0.label_zh())]
    NotExported(InvoiceState),
    /// The data layer failed (or the invoice is unknown).
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::error::wraps_store_error!(InvoiceActionError);

/// Ends an invoice: the new state, and its registrations released (they may be invoiced anew).
fn end_invoice(
    conn: &mut DbConnection,
    id: InvoiceId,
    state: InvoiceState,
    note: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let reversed = state == InvoiceState::Reversed;
    diesel::update(invoices::table.find(sql::text(id)))
        .set((
            invoices::state.eq(state.as_str()),
            invoices::reversed_at.eq(reversed.then(|| sql::ts(now))),
            invoices::reversal_note.eq(note),
            invoices::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    diesel::update(
        invoice_registrations::table
            .filter(invoice_registrations::invoice_id.eq(sql::text(id)))
            .filter(invoice_registrations::released_at.is_null()),
    )
    .set(invoice_registrations::released_at.eq(sql::ts(now)))
    .execute(conn)?;
    Ok(())
}

/// Finance reversed an issued invoice with a red-letter invoice (冲红), with a note (the red
/// invoice's number …): the invoice no longer counts, and the registrations it covered that
/// keep their fee are invoiced anew by the next export. Audited.
pub fn mark_reversed(
    conn: &mut DbConnection,
    id: InvoiceId,
    note: Option<&str>,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<Invoice, InvoiceActionError> {
    write_tx(conn, |conn| {
        let invoice = get(conn, id)?;
        if invoice.state != InvoiceState::Issued {
            return Err(InvoiceActionError::NotIssued(invoice.state));
        }
        end_invoice(conn, id, InvoiceState::Reversed, note, now)?;
        record(
            conn,
            actor,
            "invoice_reversed",
            "invoice",
            Some(&id.to_string()),
            now,
            serde_json::json!({
                "serial": invoice.serial,
                "number": invoice.number,
                "amount_fen": invoice.amount_fen,
                "left": invoice.covers.iter().filter(|c| c.left_at.is_some()).map(|c| c.name.as_str()).collect::<Vec<_>>(),
                "note": note,
            }),
        )?;
        Ok(get(conn, id)?)
    })
}

/// Finance cancels an exported invoice that was not issued (and will not be uploaded): its
/// registrations may be invoiced anew. Audited.
pub fn cancel(
    conn: &mut DbConnection,
    id: InvoiceId,
    actor: &audit::Actor,
    now: DateTime<Utc>,
) -> Result<Invoice, InvoiceActionError> {
    write_tx(conn, |conn| {
        let invoice = get(conn, id)?;
        if invoice.state != InvoiceState::Exported {
            return Err(InvoiceActionError::NotExported(invoice.state));
        }
        end_invoice(conn, id, InvoiceState::Cancelled, None, now)?;
        record(
            conn,
            actor,
            "invoice_cancelled",
            "invoice",
            Some(&id.to_string()),
            now,
            serde_json::json!({ "serial": invoice.serial, "amount_fen": invoice.amount_fen }),
        )?;
        Ok(get(conn, id)?)
    })
}

// ---------------------------------------------------------------------------------------------
// The participant's view

/// A registration's invoice as the participant sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InvoiceView {
    /// Where it stands.
    pub progress: InvoiceProgress,
    /// The 数电发票 number, once issued.
    pub number: Option<String>,
    /// The issue date, once issued.
    pub issued_on: Option<NaiveDate>,
}

/// What the participant sees of each registration's invoice (registrations with nothing to
/// show are absent). `registrations`: (id, state, whether it chose an invoice title).
pub fn progress_of(
    conn: &mut DbConnection,
    registrations: &[(RegistrationId, State, bool)],
) -> Result<HashMap<RegistrationId, InvoiceView>, StoreError> {
    // Only a paid registration can have invoice rows: the others (every fresh submission) cost
    // no query.
    let ids: Vec<String> = registrations
        .iter()
        .filter(|(_, state, _)| state.was_paid())
        .map(|(id, _, _)| sql::text(*id))
        .collect();
    type Row = (
        String,
        Option<NaiveDateTime>,
        String,
        Option<String>,
        Option<String>,
        Option<NaiveDateTime>,
    );
    let linked = invoice_registrations::table.inner_join(invoices::table).select((
        invoice_registrations::registration_id,
        invoice_registrations::released_at,
        invoices::state,
        invoices::number,
        invoices::issued_on,
        invoices::reversal_flagged_at,
    ));
    let rows: Vec<Row> = sql::rows_by_ids(
        conn,
        &ids,
        |conn, one| {
            Ok(crate::db::on_backend!(conn, c => linked
                .filter(invoice_registrations::registration_id.eq(one))
                .load(c))?)
        },
        |conn, many| {
            Ok(linked.filter(invoice_registrations::registration_id.eq_any(many)).load(conn)?)
        },
    )?;
    // Per registration: its live invoice, and the last released one.
    type Live = (InvoiceState, bool, Option<String>, Option<String>);
    type Released = (NaiveDateTime, InvoiceState);
    let mut seen: BTreeMap<String, (Option<Live>, Option<Released>)> = BTreeMap::new();
    for (registration, released_at, state, number, issued_on, flagged) in rows {
        let state = InvoiceState::parse(&state).map_err(StoreError::corrupt)?;
        let entry = seen.entry(registration).or_default();
        match released_at {
            None => entry.0 = Some((state, flagged.is_some(), number, issued_on)),
            Some(at) => {
                if entry.1.is_none_or(|(last, _)| at > last) {
                    entry.1 = Some((at, state));
                }
            }
        }
    }
    let mut out = HashMap::new();
    for (id, state, wants) in registrations {
        let (live, released) = seen.remove(&sql::text(*id)).unwrap_or_default();
        let facts = InvoiceFacts {
            wants_invoice: *wants,
            invoiceable: state.is_invoiceable(),
            live: live.as_ref().map(|(s, flagged, _, _)| (*s, *flagged)),
            last_released: released.map(|(_, s)| s),
        };
        if let Some(progress) = InvoiceProgress::of(&facts) {
            let shown =
                matches!(progress, InvoiceProgress::Issued | InvoiceProgress::ReversalPending);
            let (number, issued_on) = match live {
                Some((_, _, number, issued_on)) if shown => (number, issued_on),
                _ => (None, None),
            };
            out.insert(
                *id,
                InvoiceView {
                    progress,
                    number,
                    issued_on: issued_on
                        .as_deref()
                        .map(|d| d.parse::<NaiveDate>())
                        .transpose()
                        .map_err(StoreError::corrupt)?,
                },
            );
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::SettingsSource;

    #[test]
    fn settings_source_codes_are_the_serialised_names() {
        for s in [SettingsSource::Period, SettingsSource::Global, SettingsSource::Default] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }
}
