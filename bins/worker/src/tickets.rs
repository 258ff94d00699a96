//! Rendering admission tickets (准考证): a job per batch renders the batch's tickets that are
//! neither rendered nor failed, stores the PNG and the PDF, and records every outcome with the
//! job's completion in one transaction (`store::tickets::record_renders`), so each ticket is
//! recorded once however often the job runs.
//!
//! What fails for a reason of one ticket (a character no configured font has, a missing photo,
//! an incomplete profile) is recorded on the ticket for staff and does not fail the job; what
//! fails for every ticket (the fonts cannot be read, the storage cannot be written) fails the
//! job, to be retried.

use std::sync::Arc;

use baoming_domain::ids::{PeriodId, RegistrationId};
use baoming_photos::storage::{PhotoStorage, StorageError};
use baoming_runtime::tickets::{TicketFonts, TicketKeys, file_keys, ticket_document};
use baoming_store::jobs::Claimed;
use baoming_store::tickets::{self, RenderInput, RenderOutcome};
use baoming_store::{DbConnection, PiiCipher};
use baoming_tickets::{Fonts, RenderError, render_ticket};
use chrono::Utc;

use crate::handlers::{JobError, Services};

/// What rendering tickets needs.
#[derive(Debug, Clone)]
pub struct TicketServices {
    /// The fonts (read on first use, shared).
    pub fonts: Arc<TicketFonts>,
    /// The signing keys (the first signs).
    pub keys: Arc<TicketKeys>,
    /// Where photos are read and tickets written (`tickets/<period>/<registration>.png|.pdf`).
    pub storage: Arc<dyn PhotoStorage>,
    /// Opens the ID numbers (the ticket shows them masked).
    pub cipher: PiiCipher,
    /// Tickets rendered at once (threads).
    pub threads: usize,
}

/// Renders a batch and records it with the job's completion.
pub fn render(
    conn: &mut DbConnection,
    claimed: &Claimed,
    period: PeriodId,
    registrations: &[RegistrationId],
    services: &Services,
) -> Result<(), JobError> {
    let t = &services.tickets;
    let inputs = tickets::to_render(conn, &t.cipher, period, registrations)?;
    let outcomes = if inputs.is_empty() {
        Vec::new()
    } else {
        let fonts = t.fonts.get().map_err(|e| JobError::Failed(e.0))?;
        render_all(&inputs, &fonts, t)?
    };
    let recorded = tickets::record_renders(conn, claimed, &outcomes, Utc::now())?;
    tracing::info!(
        %period,
        batch = registrations.len(),
        rendered = recorded.rendered,
        failed = recorded.failed,
        skipped = recorded.skipped,
        "tickets rendered"
    );
    Ok(())
}

/// Renders on up to `threads` threads, keeping the order.
fn render_all(
    inputs: &[RenderInput],
    fonts: &Fonts,
    t: &TicketServices,
) -> Result<Vec<RenderOutcome>, JobError> {
    let threads = t.threads.clamp(1, 16);
    let per_thread = inputs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = inputs
            .chunks(per_thread.max(1))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk.iter().map(|input| render_one(input, fonts, t)).collect::<Vec<_>>()
                })
            })
            .collect();
        let mut out = Vec::with_capacity(inputs.len());
        for handle in handles {
            let rendered = handle
                .join()
                .map_err(|_| JobError::Failed("a rendering thread panicked".into()))?;
            for outcome in rendered {
                out.push(outcome?);
            }
        }
        Ok(out)
    })
}

fn failed(input: &RenderInput, code: &str, message: String, missing: Vec<char>) -> RenderOutcome {
    RenderOutcome::Failed {
        registration: input.ticket.registration,
        code: code.to_owned(),
        message,
        missing,
    }
}

/// One ticket: its outcome, or a failure of the job (storage).
fn render_one(
    input: &RenderInput,
    fonts: &Fonts,
    t: &TicketServices,
) -> Result<RenderOutcome, JobError> {
    let storage_failed = |what: &str, e: StorageError| {
        JobError::Failed(format!("{what} ({}): {}", e.code(), input.ticket.registration))
    };
    let Some(photo_key) = &input.photo_key else {
        return Ok(failed(input, "ticket_photo_missing", "报名没有证件照".into(), vec![]));
    };
    let photo = match t.storage.get(photo_key) {
        Ok(bytes) => bytes,
        Err(StorageError::NotFound { .. }) => {
            return Ok(failed(input, "ticket_photo_missing", "证件照文件不存在".into(), vec![]));
        }
        Err(e) => return Err(storage_failed("reading the photo", e)),
    };
    let (layout, ticket) = match ticket_document(input, photo, t.keys.signer()) {
        Ok(document) => document,
        Err(e) => return Ok(failed(input, e.code(), e.to_string(), vec![])),
    };
    let rendered = match render_ticket(fonts, &layout, &ticket) {
        Ok(rendered) => rendered,
        Err(RenderError::MissingGlyphs { chars }) => {
            let message = RenderError::MissingGlyphs { chars: chars.clone() }.to_string();
            return Ok(failed(input, "ticket_missing_glyphs", message, chars));
        }
        Err(e) => return Ok(failed(input, e.code(), e.to_string(), vec![])),
    };
    let (png_key, pdf_key) = file_keys(input.ticket.period, input.ticket.registration);
    t.storage.put(&png_key, &rendered.png).map_err(|e| storage_failed("storing the PNG", e))?;
    t.storage.put(&pdf_key, &rendered.pdf).map_err(|e| storage_failed("storing the PDF", e))?;
    Ok(RenderOutcome::Rendered {
        registration: input.ticket.registration,
        png_key,
        pdf_key,
        qr_text: ticket.qr_text,
    })
}
