//! The embedded-database floor: the submit transaction of rush-submit run by the store itself,
//! in a loop on the api's own database, without HTTP, JSON, sessions or thread hand-offs. What
//! rush-submit reaches is read as a share of this floor and of the hello baseline (the HTTP
//! floor) of the same run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use baoming_domain::ids::{ExamTypeId, PeriodId, RegionId, TypedId};
use baoming_domain::period::SubjectChoice;
use baoming_store::registrations::{self, NewRegistration, SubmitError};
use baoming_store::transition::{Ctx, Registration, Who};
use baoming_store::{Db, PiiCipher, PiiKeys};
use serde_json::Value;

use crate::client::{Failure, fail};
use crate::stats::Outcome;

/// The PII keys the benchmark gives the api (`[pii]` of its configuration), so that this
/// process can read the profiles the api stored, as the submit transaction does. Benchmark
/// keys, nothing else is ever encrypted with them.
pub const ENCRYPTION_KEY_HEX: &str =
    "6c6f61647465737420656e6372797074696f6e206b65792c206e6f7420736563";
/// The blind-index key given with [`ENCRYPTION_KEY_HEX`].
pub const BLIND_INDEX_KEY_HEX: &str =
    "6c6f61647465737420626c696e6420696e646578206b65792c206e6f74207365";

fn key(hex_text: &str) -> Result<[u8; 32], Failure> {
    baoming_store::pii::key_from_hex("benchmark key", hex_text)
        .map_err(|e| fail(format!("benchmark key: {e}")))
}

/// The cipher of the keys above.
pub fn cipher() -> Result<PiiCipher, Failure> {
    let keys = PiiKeys::new(key(ENCRYPTION_KEY_HEX)?, key(BLIND_INDEX_KEY_HEX)?)
        .map_err(|e| fail(format!("benchmark keys: {e}")))?;
    Ok(PiiCipher::new(keys))
}

fn id<T: TypedId>(value: &Value, what: &str) -> Result<T, Failure> {
    value.as_str().and_then(|s| T::parse(s).ok()).ok_or_else(|| fail(format!("{what} id")))
}

/// Submits, for each registration of `earlier` (the participants' rush-submit registrations),
/// the same form to `period` through `registrations::submit` — the store call the api's submit
/// handler makes, with its reads, its write transaction, its event row and its identity lock —
/// on `threads` connections of `db` at once. Returns one outcome per submission (201, or 409
/// for a refusal, 500 for any other failure) and the wall time.
pub fn submit_loop(
    db: &Db,
    cipher: &PiiCipher,
    period: &Value,
    earlier: &[Registration],
    threads: usize,
) -> Result<(Vec<Outcome>, Duration), Failure> {
    let period_id: PeriodId = id(&period["id"], "period")?;
    let region: RegionId = id(&period["regions"][0]["id"], "region")?;
    let exam_type: ExamTypeId = id(&period["exam_types"][0]["id"], "exam type")?;
    let forms: Arc<Vec<NewRegistration>> = Arc::new(
        earlier
            .iter()
            .map(|r| NewRegistration {
                participant: r.participant,
                period: period_id,
                region,
                exam_type,
                subjects: r
                    .subjects
                    .iter()
                    .map(|s| SubjectChoice { code: s.code.clone(), specialty: s.specialty.clone() })
                    .collect(),
                invoice_snapshot: None,
                joint_invoice_remark: None,
                photo: r.photo,
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..threads.max(1))
        .map(|_| {
            let (db, cipher, forms, next) =
                (db.clone(), cipher.clone(), Arc::clone(&forms), Arc::clone(&next));
            std::thread::spawn(move || -> Result<Vec<Outcome>, Failure> {
                let mut conn = db.conn().map_err(|e| fail(format!("database: {e}")))?;
                let mut outcomes = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(form) = forms.get(i) else { return Ok(outcomes) };
                    let ctx = Ctx {
                        who: Who::Participant(form.participant),
                        now: chrono::Utc::now(),
                        request_id: None,
                    };
                    let begun = Instant::now();
                    let status = match registrations::submit(&mut conn, &cipher, form, &ctx) {
                        Ok(_) => 201,
                        Err(SubmitError::Refused(_) | SubmitError::InvalidChoice(_)) => 409,
                        Err(SubmitError::Store(_)) => 500,
                    };
                    outcomes.push(Outcome { status: Some(status), latency: begun.elapsed() });
                }
            })
        })
        .collect();
    let mut outcomes = Vec::with_capacity(forms.len());
    for worker in workers {
        let done = worker.join().map_err(|_| fail("a floor thread panicked"))??;
        outcomes.extend(done);
    }
    Ok((outcomes, started.elapsed()))
}
