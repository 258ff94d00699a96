//! Personal data (PIPL): erasure of a participant's personal data (one function, shared by the
//! retention job and the participant's own account deletion), the retention job's selection
//! and its dry run, and the export of everything stored about a participant.
//!
//! Erasure ([`erase_participant`]) keeps every row accounting and the event log need — the
//! registrations (state, fee, dates, ids), the ledger, refunds, invoices with their amounts
//! and numbers, tickets' numbers and seats — and removes what names the person: the name
//! becomes [`ERASED_NAME`]; gender, the ID number (ciphertext, blind index, searchable tail),
//! phone, employer, education, job title and unionid become NULL and the profile is unlocked
//! (someone coming back fills in a new one); photos (rows and files),
//! rendered tickets (files; the QR payload), saved invoice titles and the invoice-title
//! snapshots of the registrations are deleted; the name an invoice lists for a registration,
//! a natural person's invoice buyer and the name in a joint invoice's remark become the
//! placeholder; WeChat order rows forget the payer's openid. Files are not touched
//! here (the store does no file I/O): the storage keys come back in [`Erased::files`] and the
//! caller deletes them after the commit.

use std::collections::HashSet;

use baoming_domain::ids::{ParticipantId, SessionId};
use baoming_domain::lifecycle::{Flag, State, Status};
pub use baoming_domain::privacy::ERASED_NAME;
use baoming_domain::privacy::{self, DeletionBlocker, RegistrationFacts};
use chrono::{DateTime, Duration, Months, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::audit::{self, Actor, Entry};
use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::invalidations::Invalidation;
use crate::schema::{
    exam_types, invoice_registrations, invoice_titles, invoices, participants, payment_orders,
    payments, periods, photos, refunds, regions, registration_events, registrations, sessions,
    tickets,
};
use crate::sql;

/// What an erased WeChat order keeps in place of the payer's openid.
pub const ERASED_OPENID: &str = "erased";

/// Why personal data is erased (written in the audit entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErasureReason {
    /// The retention period after the participant's last sitting ran out.
    Retention,
    /// The participant deleted their account.
    AccountDeletion,
}

impl ErasureReason {
    /// Stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErasureReason::Retention => "retention",
            ErasureReason::AccountDeletion => "account_deletion",
        }
    }
}

/// What an erasure did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Erased {
    /// Photo rows deleted.
    pub photos: usize,
    /// Tickets whose rendering (files, QR payload) was removed.
    pub tickets: usize,
    /// Saved invoice titles deleted.
    pub invoice_titles: usize,
    /// Invoices whose buyer (a natural person: the participant) or remark (a joint invoice's
    /// list of names) named the participant, rewritten with the placeholder.
    pub invoices: usize,
    /// Sessions revoked (account deletion only).
    pub sessions: Vec<SessionId>,
    /// Storage keys of the files to delete once the transaction committed (photos and
    /// rendered tickets).
    pub files: Vec<String>,
}

/// Erases the participant's personal data (see the module docs) in one write transaction,
/// with its audit entry (counts only). For an account deletion the WeChat openid is replaced
/// too (a later login is a new account) and every live session is revoked. Erasing an erased
/// participant again changes nothing more.
pub fn erase_participant(
    conn: &mut DbConnection,
    id: ParticipantId,
    reason: ErasureReason,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Erased, StoreError> {
    write_tx(conn, |conn| {
        let pid = sql::text(id);
        let exists = participants::table
            .find(&pid)
            .select(participants::id)
            .first::<String>(conn)
            .optional()?;
        if exists.is_none() {
            return Err(StoreError::NotFound { entity: "participant" });
        }
        let mut erased = Erased::default();
        let regs: Vec<String> = registrations::table
            .filter(registrations::participant_id.eq(&pid))
            .select(registrations::id)
            .load(conn)?;

        // Photos: the registrations forget them, then rows and files go.
        let stored: Vec<(String, String, String, Option<NaiveDateTime>)> = photos::table
            .filter(photos::participant_id.eq(&pid))
            .select((
                photos::id,
                photos::original_key,
                photos::normalized_key,
                photos::original_deleted_at,
            ))
            .load(conn)?;
        diesel::update(registrations::table.filter(registrations::participant_id.eq(&pid)))
            .set((
                registrations::photo_id.eq(None::<String>),
                registrations::invoice_snapshot.eq(None::<String>),
                registrations::joint_invoice_remark.eq(None::<String>),
            ))
            .execute(conn)?;
        erased.photos =
            diesel::delete(photos::table.filter(photos::participant_id.eq(&pid))).execute(conn)?;
        for (_, original, normalized, original_deleted) in stored {
            if original_deleted.is_none() {
                erased.files.push(original);
            }
            erased.files.push(normalized);
        }

        // Rendered tickets show the name, the photo and the masked number: files and payload go,
        // number and seat stay.
        let rendered: Vec<(Option<String>, Option<String>)> = tickets::table
            .filter(tickets::registration_id.eq_any(&regs))
            .filter(tickets::rendered_at.is_not_null().or(tickets::qr_text.is_not_null()))
            .select((tickets::png_key, tickets::pdf_key))
            .load(conn)?;
        erased.tickets = rendered.len();
        erased.files.extend(rendered.into_iter().flat_map(|(png, pdf)| [png, pdf]).flatten());
        diesel::update(tickets::table.filter(tickets::registration_id.eq_any(&regs)))
            .set((
                tickets::qr_text.eq(None::<String>),
                tickets::png_key.eq(None::<String>),
                tickets::pdf_key.eq(None::<String>),
                tickets::rendered_at.eq(None::<NaiveDateTime>),
            ))
            .execute(conn)?;

        erased.invoice_titles =
            diesel::delete(invoice_titles::table.filter(invoice_titles::participant_id.eq(&pid)))
                .execute(conn)?;
        erased.invoices = redact_invoices(conn, &pid, &regs, now)?;
        diesel::update(
            invoice_registrations::table
                .filter(invoice_registrations::registration_id.eq_any(&regs)),
        )
        .set(invoice_registrations::name.eq(ERASED_NAME))
        .execute(conn)?;
        diesel::update(payment_orders::table.filter(payment_orders::registration_id.eq_any(&regs)))
            .set(payment_orders::openid.eq(ERASED_OPENID))
            .execute(conn)?;

        diesel::update(participants::table.find(&pid))
            .set((
                participants::name.eq(Some(ERASED_NAME)),
                participants::gender.eq(None::<String>),
                participants::id_kind.eq(None::<String>),
                participants::id_number_enc.eq(None::<Vec<u8>>),
                participants::id_number_index.eq(None::<String>),
                participants::id_number_tail.eq(None::<String>),
                participants::phone.eq(None::<String>),
                participants::employer.eq(None::<String>),
                participants::education.eq(None::<String>),
                participants::job_title.eq(None::<String>),
                participants::unionid.eq(None::<String>),
                // Nothing is left to lock: a participant coming back fills in a new profile.
                participants::profile_locked.eq(false),
                participants::updated_at.eq(sql::ts(now)),
            ))
            .execute(conn)?;
        // The first erasure's time stays.
        diesel::update(participants::table.find(&pid))
            .filter(participants::erased_at.is_null())
            .set(participants::erased_at.eq(Some(sql::ts(now))))
            .execute(conn)?;

        if reason == ErasureReason::AccountDeletion {
            // The openid is unique: a later login with the same WeChat user is a new account.
            diesel::update(participants::table.find(&pid))
                .set(participants::openid.eq(format!("erased:{pid}")))
                .execute(conn)?;
            let live: Vec<String> = sessions::table
                .filter(sessions::participant_id.eq(&pid))
                .filter(sessions::revoked_at.is_null())
                .select(sessions::id)
                .load(conn)?;
            diesel::update(sessions::table.filter(sessions::id.eq_any(&live)))
                .set(sessions::revoked_at.eq(Some(sql::ts(now))))
                .execute(conn)?;
            erased.sessions = live.iter().map(|s| sql::id(s)).collect::<Result<_, _>>()?;
        }

        audit::record(
            conn,
            &Entry {
                actor: actor.clone(),
                action: "erase_personal_data".into(),
                target_kind: Some("participant".into()),
                target_id: Some(pid.clone()),
                summary: Some(serde_json::json!({
                    "reason": reason.as_str(),
                    "registrations": regs.len(),
                    "photos": erased.photos,
                    "tickets": erased.tickets,
                    "invoice_titles": erased.invoice_titles,
                    "invoices": erased.invoices,
                    "sessions_revoked": erased.sessions.len(),
                    "files": erased.files.len(),
                })),
            },
            now,
        )?;
        Ok(erased)
    })
}

/// The invoices covering `regs`: a natural person's buyer (name, address, phone, bank,
/// e-mail) and the participant's name in a remark (`{period}：{name}、{name}…`; a name the
/// remark's length limit cut becomes `…`) become the placeholder. Amounts, serials, numbers
/// and dates stay; a company buyer stays. How many invoices changed.
fn redact_invoices(
    conn: &mut DbConnection,
    pid: &str,
    regs: &[String],
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let name = participants::table
        .find(pid)
        .select(participants::name)
        .first::<Option<String>>(conn)?
        .filter(|n| n != ERASED_NAME);
    let covered = invoice_registrations::table
        .filter(invoice_registrations::registration_id.eq_any(regs))
        .select(invoice_registrations::invoice_id);
    let rows: Vec<(String, String, String)> = invoices::table
        .filter(invoices::id.eq_any(covered))
        .select((invoices::id, invoices::buyer, invoices::remark))
        .load(conn)?;
    let mut changed = 0;
    for (id, buyer_text, remark) in rows {
        let stored: baoming_invoicing::InvoiceSnapshot =
            serde_json::from_str(&buyer_text).map_err(StoreError::corrupt)?;
        let mut buyer = stored.clone();
        if buyer.kind == baoming_invoicing::TitleKind::Personal {
            buyer.name = ERASED_NAME.to_owned();
            buyer.address = None;
            buyer.phone = None;
            buyer.bank = None;
            buyer.bank_account = None;
            buyer.email = None;
        }
        let new_remark = match &name {
            Some(name) => redact_remark(&remark, name),
            None => remark.clone(),
        };
        if buyer != stored || new_remark != remark {
            let new_buyer = serde_json::to_string(&buyer).map_err(StoreError::corrupt)?;
            diesel::update(invoices::table.find(&id))
                .set((
                    invoices::buyer.eq(new_buyer),
                    invoices::remark.eq(new_remark),
                    invoices::updated_at.eq(sql::ts(now)),
                ))
                .execute(conn)?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// `{period}：{name}、{name}…` with `name` replaced by the placeholder (a cut `name…` at the
/// end by `…`).
fn redact_remark(remark: &str, name: &str) -> String {
    const CUT: char = '…';
    let Some((period, names)) = remark.split_once('：') else {
        return remark.to_owned();
    };
    let names: Vec<String> = names
        .split('、')
        .map(|token| {
            let cut = token.strip_suffix(CUT).filter(|p| !p.is_empty() && name.starts_with(*p));
            if token == name {
                ERASED_NAME.to_owned()
            } else if cut.is_some() {
                CUT.to_string()
            } else {
                token.to_owned()
            }
        })
        .collect();
    format!("{period}：{}", names.join("、"))
}

/// Why an account deletion was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum DeleteAccountError {
    /// Something is live (the domain's [`privacy::deletion_blocker`]).
    #[error("account cannot be deleted: {}", .0.code())]
    Live(DeletionBlocker),
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

crate::error::wraps_store_error!(DeleteAccountError);

/// The participant's registrations as the deletion rule sees them.
fn deletion_facts(
    conn: &mut DbConnection,
    id: ParticipantId,
    now: DateTime<Utc>,
) -> Result<Vec<RegistrationFacts>, StoreError> {
    let rows: Vec<(String, String, Option<String>, NaiveDateTime)> = registrations::table
        .inner_join(periods::table)
        .filter(registrations::participant_id.eq(sql::text(id)))
        .select((registrations::id, registrations::state, registrations::flag, periods::exam_ends))
        .load(conn)?;
    let ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    // Money still going back: a live refund (not superseded) that has not succeeded.
    let open_refunds: HashSet<String> = refunds::table
        .filter(refunds::registration_id.eq_any(ids))
        .filter(refunds::superseded_by.is_null())
        .filter(refunds::state.ne(crate::payments::RefundState::Succeeded.as_str()))
        .select(refunds::registration_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    rows.into_iter()
        .map(|(rid, state, flag, exam_ends)| {
            Ok(RegistrationFacts {
                status: Status {
                    state: State::parse(&state).map_err(StoreError::corrupt)?,
                    flag: flag
                        .as_deref()
                        .map(Flag::parse)
                        .transpose()
                        .map_err(StoreError::corrupt)?,
                },
                sitting_over: sql::utc(exam_ends) <= now,
                refund_open: open_refunds.contains(&rid),
            })
        })
        .collect()
}

/// The participant deletes their account: refused ([`DeleteAccountError::Live`]) while a
/// registration is live (the domain's rule: awaiting review or payment, a refund open, paid
/// for a sitting not yet over); otherwise their personal data is erased
/// ([`erase_participant`], reason [`ErasureReason::AccountDeletion`]) and every session
/// revoked, in one write transaction.
pub fn delete_account(
    conn: &mut DbConnection,
    id: ParticipantId,
    request_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Erased, DeleteAccountError> {
    write_tx(conn, |conn| {
        let facts = deletion_facts(conn, id, now)?;
        if let Some(blocker) = privacy::deletion_blocker(&facts) {
            return Err(DeleteAccountError::Live(blocker));
        }
        let actor = Actor {
            role: Some("participant".into()),
            request_id: request_id.map(str::to_owned),
            ..Actor::default()
        };
        let erased = erase_participant(conn, id, ErasureReason::AccountDeletion, &actor, now)?;
        // Other api instances stop trusting the revoked sessions (the last write: it locks
        // the feed until the commit).
        let revoked: Vec<_> = erased.sessions.iter().copied().map(Invalidation::Session).collect();
        crate::invalidations::record(conn, &revoked, now)?;
        Ok(erased)
    })
}

/// The retention job's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// An uploaded photo no registration uses is deleted this long after its upload.
    pub unused_photo_after: Duration,
    /// A participant's personal data is erased this many months after the end of their last
    /// sitting (a participant without registrations: after their profile was last saved).
    pub erase_after_months: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            unused_photo_after: Duration::hours(24),
            erase_after_months: privacy::DEFAULT_ERASE_AFTER_MONTHS,
        }
    }
}

/// What a retention run purged (or, dry, would purge).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// Expired or revoked sessions (participant and staff) deleted.
    pub sessions: usize,
    /// Uploaded photos no registration uses, deleted (rows and files).
    pub unused_photos: usize,
    /// Original uploads deleted (their registrations were decided).
    pub originals: usize,
    /// Participants whose personal data was erased.
    pub participants: usize,
    /// Files deleted (or to delete): photos, originals, rendered tickets.
    pub files: usize,
}

/// A real run's report and the files to delete.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The counts.
    pub report: Report,
    /// Storage keys to delete (after the commits).
    pub files: Vec<String>,
}

fn stale_sessions(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
    Ok(sessions::table
        .filter(sessions::expires_at.le(sql::ts(now)).or(sessions::revoked_at.is_not_null()))
        .select(sessions::id)
        .load(conn)?)
}

type PhotoKeys = (String, String, String, Option<NaiveDateTime>);

fn unused_photos(
    conn: &mut DbConnection,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Vec<PhotoKeys>, StoreError> {
    let used = registrations::table
        .filter(registrations::photo_id.is_not_null())
        .select(registrations::photo_id.assume_not_null());
    Ok(photos::table
        .filter(photos::created_at.le(sql::ts(now - policy.unused_photo_after)))
        .filter(diesel::dsl::not(photos::id.eq_any(used)))
        .select((
            photos::id,
            photos::original_key,
            photos::normalized_key,
            photos::original_deleted_at,
        ))
        .load(conn)?)
}

/// Photos whose original may go: used, and no registration using them waits for a review or
/// may come back to one (rejected: the participant may fix and resubmit).
fn decided_originals(conn: &mut DbConnection) -> Result<Vec<(String, String)>, StoreError> {
    let used = registrations::table
        .filter(registrations::photo_id.is_not_null())
        .select(registrations::photo_id.assume_not_null());
    let undecided = registrations::table
        .filter(registrations::photo_id.is_not_null())
        .filter(
            registrations::state
                .eq_any(vec![State::PendingReview.as_str(), State::Rejected.as_str()]),
        )
        .select(registrations::photo_id.assume_not_null());
    Ok(photos::table
        .filter(photos::original_deleted_at.is_null())
        .filter(photos::id.eq_any(used))
        .filter(diesel::dsl::not(photos::id.eq_any(undecided)))
        .select((photos::id, photos::original_key))
        .load(conn)?)
}

/// Participants whose personal data the policy erases now: not erased yet, and either every
/// sitting they registered for ended more than the retention period ago (checked with the
/// domain's [`privacy::erasable_from`]), or — without any registration — their profile was
/// last saved that long ago and holds personal data.
fn expired_participants(
    conn: &mut DbConnection,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Vec<ParticipantId>, StoreError> {
    let months = policy.erase_after_months;
    let Some(cutoff) = now.checked_sub_months(Months::new(months)) else {
        return Ok(Vec::new());
    };
    let cutoff = sql::ts(cutoff);
    let registered = registrations::table.select(registrations::participant_id);
    // A day of slack: the domain's calendar arithmetic decides each candidate below.
    let recent = registrations::table
        .inner_join(periods::table)
        .filter(periods::exam_ends.gt(cutoff + Duration::days(1)))
        .select(registrations::participant_id);
    let candidates: Vec<String> = participants::table
        .filter(participants::erased_at.is_null())
        .filter(participants::id.eq_any(registered))
        .filter(diesel::dsl::not(participants::id.eq_any(recent)))
        .select(participants::id)
        .load(conn)?;
    let mut due = Vec::new();
    for pid in candidates {
        let ends: Vec<NaiveDateTime> = registrations::table
            .inner_join(periods::table)
            .filter(registrations::participant_id.eq(&pid))
            .select(periods::exam_ends)
            .load(conn)?;
        let all_past = ends.into_iter().all(|end| {
            privacy::erasable_from(sql::utc(end), months).is_some_and(|from| from <= now)
        });
        if all_past {
            due.push(sql::id(&pid)?);
        }
    }
    let registered = registrations::table.select(registrations::participant_id);
    let idle: Vec<String> = participants::table
        .filter(participants::erased_at.is_null())
        .filter(diesel::dsl::not(participants::id.eq_any(registered)))
        .filter(participants::updated_at.le(cutoff))
        .filter(
            participants::name
                .is_not_null()
                .or(participants::id_kind.is_not_null())
                .or(participants::phone.is_not_null())
                .or(participants::employer.is_not_null()),
        )
        .select(participants::id)
        .load(conn)?;
    for pid in idle {
        due.push(sql::id(&pid)?);
    }
    Ok(due)
}

/// What [`run`] would purge at `now`, changing nothing (the same selections, in the same
/// order: a photo the unused rule deletes, or whose original the decided rule deletes, is not
/// counted again for its participant's erasure).
pub fn dry_run(
    conn: &mut DbConnection,
    policy: &Policy,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let sessions = stale_sessions(conn, now)?.len();
    let unused = unused_photos(conn, policy, now)?;
    let unused_ids: HashSet<String> = unused.iter().map(|p| p.0.clone()).collect();
    let originals: Vec<(String, String)> =
        decided_originals(conn)?.into_iter().filter(|(id, _)| !unused_ids.contains(id)).collect();
    let originals_gone: HashSet<String> = originals.iter().map(|p| p.0.clone()).collect();
    let due = expired_participants(conn, policy, now)?;
    let mut files =
        unused.iter().map(|p| if p.3.is_none() { 2 } else { 1 }).sum::<usize>() + originals.len();
    for participant in &due {
        files += participant_files(conn, *participant, &unused_ids, &originals_gone)?;
    }
    Ok(Report {
        sessions,
        unused_photos: unused.len(),
        originals: originals.len(),
        participants: due.len(),
        files,
    })
}

/// How many files erasing the participant would delete: their photos (but those in `gone`;
/// only the normalised file of those in `original_gone`) and rendered tickets.
fn participant_files(
    conn: &mut DbConnection,
    id: ParticipantId,
    gone: &HashSet<String>,
    original_gone: &HashSet<String>,
) -> Result<usize, StoreError> {
    let pid = sql::text(id);
    let photos: Vec<(String, Option<NaiveDateTime>)> = photos::table
        .filter(photos::participant_id.eq(&pid))
        .select((photos::id, photos::original_deleted_at))
        .load(conn)?;
    let regs = registrations::table
        .filter(registrations::participant_id.eq(&pid))
        .select(registrations::id);
    let rendered: Vec<(Option<String>, Option<String>)> = tickets::table
        .filter(tickets::registration_id.eq_any(regs))
        .select((tickets::png_key, tickets::pdf_key))
        .load(conn)?;
    let photo_files: usize = photos
        .iter()
        .filter(|(id, _)| !gone.contains(id))
        .map(|(id, deleted)| if deleted.is_none() && !original_gone.contains(id) { 2 } else { 1 })
        .sum();
    Ok(photo_files + rendered.into_iter().flat_map(|(a, b)| [a, b]).flatten().count())
}

fn system_actor(request_id: Option<&str>) -> Actor {
    Actor {
        role: Some("retention".into()),
        request_id: request_id.map(str::to_owned),
        ..Actor::default()
    }
}

fn audit_count(
    conn: &mut DbConnection,
    actor: &Actor,
    action: &str,
    count: usize,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    audit::record(
        conn,
        &Entry {
            actor: actor.clone(),
            action: action.into(),
            target_kind: None,
            target_id: None,
            summary: Some(serde_json::json!({ "count": count })),
        },
        now,
    )
}

/// Runs the retention policy at `now`: deletes expired and revoked sessions, photos no
/// registration used within [`Policy::unused_photo_after`] of their upload, the originals of
/// decided registrations' photos, and erases the participants [`Policy::erase_after_months`]
/// past their last sitting ([`erase_participant`], one transaction each). Each kind of purge
/// that found something is one audit entry with its count (erasures: one entry per
/// participant). The caller deletes [`Outcome::files`] afterwards; a second run purges
/// nothing more.
pub fn run(
    conn: &mut DbConnection,
    policy: &Policy,
    now: DateTime<Utc>,
    request_id: Option<&str>,
) -> Result<Outcome, StoreError> {
    let actor = system_actor(request_id);
    let mut out = Outcome::default();

    out.report.sessions = write_tx(conn, |conn| {
        let stale = stale_sessions(conn, now)?;
        let deleted =
            diesel::delete(sessions::table.filter(sessions::id.eq_any(&stale))).execute(conn)?;
        if deleted > 0 {
            audit_count(conn, &actor, "retention_sessions", deleted, now)?;
        }
        Ok::<_, StoreError>(deleted)
    })?;

    let files = write_tx(conn, |conn| {
        let unused = unused_photos(conn, policy, now)?;
        let ids: Vec<&String> = unused.iter().map(|p| &p.0).collect();
        let deleted = diesel::delete(photos::table.filter(photos::id.eq_any(ids))).execute(conn)?;
        let mut files = Vec::new();
        for (_, original, normalized, original_deleted) in unused {
            if original_deleted.is_none() {
                files.push(original);
            }
            files.push(normalized);
        }
        if deleted > 0 {
            audit_count(conn, &actor, "retention_unused_photos", deleted, now)?;
        }
        out.report.unused_photos = deleted;
        Ok::<_, StoreError>(files)
    })?;
    out.files.extend(files);

    let originals = write_tx(conn, |conn| {
        let decided = decided_originals(conn)?;
        let ids: Vec<&String> = decided.iter().map(|p| &p.0).collect();
        let marked = diesel::update(photos::table.filter(photos::id.eq_any(ids)))
            .filter(photos::original_deleted_at.is_null())
            .set(photos::original_deleted_at.eq(Some(sql::ts(now))))
            .execute(conn)?;
        if marked > 0 {
            audit_count(conn, &actor, "retention_originals", marked, now)?;
        }
        out.report.originals = marked;
        Ok::<_, StoreError>(decided.into_iter().map(|(_, key)| key).collect::<Vec<_>>())
    })?;
    out.files.extend(originals);

    for participant in expired_participants(conn, policy, now)? {
        let erased = erase_participant(conn, participant, ErasureReason::Retention, &actor, now)?;
        out.report.participants += 1;
        out.files.extend(erased.files);
    }
    out.report.files = out.files.len();
    Ok(out)
}

// --- The export ---

/// Everything stored about a participant, for their own download.
#[derive(Debug, Clone)]
pub struct Export {
    /// The profile (ID number decrypted: it is their own data).
    pub participant: crate::participants::Participant,
    /// When their personal data was erased, if it was.
    pub erased_at: Option<DateTime<Utc>>,
    /// Their registrations with their history, money, invoices and tickets.
    pub registrations: Vec<ExportRegistration>,
    /// Saved invoice titles.
    pub invoice_titles: Vec<crate::invoice_titles::SavedTitle>,
    /// Uploaded photos (metadata; the image is at `GET /api/v1/photos/{id}`).
    pub photos: Vec<ExportPhoto>,
    /// Sessions not expired and not revoked.
    pub live_sessions: usize,
    /// Sessions stored (expired and revoked ones until the retention job deletes them).
    pub stored_sessions: usize,
}

/// One registration in the export.
#[derive(Debug, Clone)]
pub struct ExportRegistration {
    /// Id.
    pub id: String,
    /// The period's id and name.
    pub period_id: String,
    /// The period's name.
    pub period_name: String,
    /// The region's name.
    pub region: String,
    /// The exam type's name.
    pub exam_type: String,
    /// The chosen subjects, as stored (JSON objects).
    pub subjects: Vec<serde_json::Value>,
    /// The invoice title it was submitted with (JSON), if any.
    pub invoice_snapshot: Option<serde_json::Value>,
    /// The fee, in fen.
    pub fee_fen: i64,
    /// State code.
    pub state: String,
    /// Flag code.
    pub flag: Option<String>,
    /// The rejection reason, if rejected.
    pub rejection_reason: Option<String>,
    /// `wechat_pay` / `bank_transfer`, once chosen.
    pub payment_method: Option<String>,
    /// The photo it uses.
    pub photo_id: Option<String>,
    /// Submitted.
    pub submitted_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Checked in.
    pub checked_in_at: Option<DateTime<Utc>>,
    /// The event log.
    pub events: Vec<ExportEvent>,
    /// Payments received.
    pub payments: Vec<ExportPayment>,
    /// Refunds.
    pub refunds: Vec<ExportRefund>,
    /// Invoices covering it.
    pub invoices: Vec<ExportInvoice>,
    /// The admission ticket, once published.
    pub ticket: Option<ExportTicket>,
}

/// One event of a registration.
#[derive(Debug, Clone)]
pub struct ExportEvent {
    /// When.
    pub at: DateTime<Utc>,
    /// Who (`participant`, `reviewer`, `finance`, `clock`, …).
    pub actor: String,
    /// What.
    pub event: String,
    /// From state.
    pub from_state: Option<String>,
    /// To state.
    pub to_state: String,
    /// A reason given.
    pub reason: Option<String>,
}

/// A payment of the ledger.
#[derive(Debug, Clone)]
pub struct ExportPayment {
    /// Id.
    pub id: String,
    /// `wechat_pay` / `bank_transfer`.
    pub method: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// What it did (`applied`, `mismatch`, `refund`).
    pub disposition: String,
    /// WeChat Pay's transaction id.
    pub transaction_id: Option<String>,
    /// When it arrived.
    pub received_at: DateTime<Utc>,
}

/// A refund.
#[derive(Debug, Clone)]
pub struct ExportRefund {
    /// Id.
    pub id: String,
    /// Amount in fen.
    pub amount_fen: i64,
    /// State code.
    pub state: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An invoice covering the registration.
#[derive(Debug, Clone)]
pub struct ExportInvoice {
    /// The serial.
    pub serial: String,
    /// The number the tax bureau gave, once issued.
    pub number: Option<String>,
    /// State code.
    pub state: String,
    /// The invoice's amount, in fen.
    pub amount_fen: i64,
    /// This registration's part, in fen.
    pub paid_fen: i64,
    /// Issue date, once issued.
    pub issued_on: Option<String>,
}

/// An admission ticket.
#[derive(Debug, Clone)]
pub struct ExportTicket {
    /// Ticket number.
    pub number: String,
    /// Site (venue) number.
    pub site: i32,
    /// Room.
    pub room: i32,
    /// Seat.
    pub seat: i32,
}

/// A photo's metadata.
#[derive(Debug, Clone)]
pub struct ExportPhoto {
    /// Id.
    pub id: String,
    /// Uploaded.
    pub created_at: DateTime<Utc>,
    /// Size of the original upload, in bytes.
    pub original_bytes: i64,
    /// Width of the original.
    pub width: i32,
    /// Height of the original.
    pub height: i32,
    /// When the original upload was deleted (the normalised photo is kept).
    pub original_deleted_at: Option<DateTime<Utc>>,
}

fn json(text: &str) -> Result<serde_json::Value, StoreError> {
    serde_json::from_str(text).map_err(StoreError::corrupt)
}

type RegistrationExportRow = (
    (String, String, String, String, String, String),
    (Option<String>, i64, String, Option<String>, Option<String>, Option<String>),
    (Option<String>, NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>),
);

/// Everything stored about the participant (see [`Export`]).
pub fn export(
    conn: &mut DbConnection,
    cipher: &crate::PiiCipher,
    id: ParticipantId,
    now: DateTime<Utc>,
) -> Result<Export, StoreError> {
    let participant = crate::participants::get(conn, cipher, id)?;
    let pid = sql::text(id);
    let erased_at = participants::table
        .find(&pid)
        .select(participants::erased_at)
        .first::<Option<NaiveDateTime>>(conn)?
        .map(sql::utc);
    let rows: Vec<RegistrationExportRow> = registrations::table
        .inner_join(periods::table)
        .inner_join(regions::table)
        .inner_join(exam_types::table.on(exam_types::id.eq(registrations::exam_type_id)))
        .filter(registrations::participant_id.eq(&pid))
        .order(registrations::submitted_at)
        .select((
            (
                registrations::id,
                registrations::period_id,
                periods::name,
                regions::name,
                exam_types::name,
                registrations::subjects,
            ),
            (
                registrations::invoice_snapshot,
                registrations::fee_fen,
                registrations::state,
                registrations::flag,
                registrations::rejection_reason,
                registrations::payment_method,
            ),
            (
                registrations::photo_id,
                registrations::submitted_at,
                registrations::updated_at,
                registrations::checked_in_at,
            ),
        ))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (a, b, c) in rows {
        let (rid, period_id, period_name, region, exam_type, subjects) = a;
        let (snapshot, fee_fen, state, flag, rejection_reason, payment_method) = b;
        let (photo_id, submitted_at, updated_at, checked_in_at) = c;
        let events = registration_events::table
            .filter(registration_events::registration_id.eq(&rid))
            .order(registration_events::version)
            .select((
                registration_events::at,
                registration_events::actor,
                registration_events::event,
                registration_events::from_state,
                registration_events::to_state,
                registration_events::reason,
            ))
            .load::<(NaiveDateTime, String, String, Option<String>, String, Option<String>)>(conn)?
            .into_iter()
            .map(|(at, actor, event, from_state, to_state, reason)| ExportEvent {
                at: sql::utc(at),
                actor,
                event,
                from_state,
                to_state,
                reason,
            })
            .collect();
        let payments = payments::table
            .filter(payments::registration_id.eq(&rid))
            .order(payments::received_at)
            .select((
                payments::id,
                payments::method,
                payments::amount_fen,
                payments::disposition,
                payments::transaction_id,
                payments::received_at,
            ))
            .load::<(String, String, i64, String, Option<String>, NaiveDateTime)>(conn)?
            .into_iter()
            .map(|(id, method, amount_fen, disposition, transaction_id, at)| ExportPayment {
                id,
                method,
                amount_fen,
                disposition,
                transaction_id,
                received_at: sql::utc(at),
            })
            .collect();
        let refunds = refunds::table
            .filter(refunds::registration_id.eq(&rid))
            .order(refunds::created_at)
            .select((
                refunds::id,
                refunds::amount_fen,
                refunds::state,
                refunds::created_at,
                refunds::updated_at,
            ))
            .load::<(String, i64, String, NaiveDateTime, NaiveDateTime)>(conn)?
            .into_iter()
            .map(|(id, amount_fen, state, created, updated)| ExportRefund {
                id,
                amount_fen,
                state,
                created_at: sql::utc(created),
                updated_at: sql::utc(updated),
            })
            .collect();
        let invoices = invoice_registrations::table
            .inner_join(invoices::table)
            .filter(invoice_registrations::registration_id.eq(&rid))
            .order(invoices::created_at)
            .select((
                invoices::serial,
                invoices::number,
                invoices::state,
                invoices::amount_fen,
                invoice_registrations::paid_fen,
                invoices::issued_on,
            ))
            .load::<(String, Option<String>, String, i64, i64, Option<String>)>(conn)?
            .into_iter()
            .map(|(serial, number, state, amount_fen, paid_fen, issued_on)| ExportInvoice {
                serial,
                number,
                state,
                amount_fen,
                paid_fen,
                issued_on,
            })
            .collect();
        let ticket = tickets::table
            .inner_join(periods::table)
            .filter(tickets::registration_id.eq(&rid))
            .filter(periods::tickets_published_at.le(sql::ts(now)))
            .select((tickets::number, tickets::site, tickets::room, tickets::seat))
            .first::<(String, i32, i32, i32)>(conn)
            .optional()?
            .map(|(number, site, room, seat)| ExportTicket { number, site, room, seat });
        out.push(ExportRegistration {
            id: rid,
            period_id,
            period_name,
            region,
            exam_type,
            subjects: serde_json::from_str(&subjects).map_err(StoreError::corrupt)?,
            invoice_snapshot: snapshot.as_deref().map(json).transpose()?,
            fee_fen,
            state,
            flag,
            rejection_reason,
            payment_method,
            photo_id,
            submitted_at: sql::utc(submitted_at),
            updated_at: sql::utc(updated_at),
            checked_in_at: checked_in_at.map(sql::utc),
            events,
            payments,
            refunds,
            invoices,
            ticket,
        });
    }
    let photos = photos::table
        .filter(photos::participant_id.eq(&pid))
        .order(photos::created_at)
        .select((
            photos::id,
            photos::created_at,
            photos::original_bytes,
            photos::width,
            photos::height,
            photos::original_deleted_at,
        ))
        .load::<(String, NaiveDateTime, i64, i32, i32, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(id, created, original_bytes, width, height, deleted)| ExportPhoto {
            id,
            created_at: sql::utc(created),
            original_bytes,
            width,
            height,
            original_deleted_at: deleted.map(sql::utc),
        })
        .collect();
    let stored_sessions: i64 =
        sessions::table.filter(sessions::participant_id.eq(&pid)).count().get_result(conn)?;
    let live_sessions: i64 = sessions::table
        .filter(sessions::participant_id.eq(&pid))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(sql::ts(now)))
        .count()
        .get_result(conn)?;
    Ok(Export {
        participant,
        erased_at,
        registrations: out,
        invoice_titles: crate::invoice_titles::list(conn, id)?,
        photos,
        live_sessions: usize::try_from(live_sessions).unwrap_or(0),
        stored_sessions: usize::try_from(stored_sessions).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remarks_lose_the_name_only() {
        let erased = |r: &str| redact_remark(r, "张三");
        assert_eq!(
            erased("2026年第一期：张三、李四"),
            format!("2026年第一期：{ERASED_NAME}、李四")
        );
        assert_eq!(erased("2026年第一期：李四、张三丰"), "2026年第一期：李四、张三丰");
        assert_eq!(erased("2026年第一期：李四、张…"), "2026年第一期：李四、…");
        assert_eq!(erased("无名单"), "无名单");
    }
}
