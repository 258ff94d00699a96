//! The data layer against real databases: every database test runs on SQLite and on
//! PostgreSQL. One test binary, a module per aggregate; the shared fixture is
//! `baoming_store::testing::Fixture`.

mod audit;
mod backends;
mod invalidations;
mod invoices;
mod participants;
mod payments;
mod pii;
mod privacy;
mod queue;
mod refunds;
mod registrations;
mod tickets;
mod writer;

use baoming_domain::identity::mod11_2_check_char;
use baoming_domain::ids::{ParticipantId, RegistrationId, StaffId};
use baoming_domain::lifecycle::{Actor, Event, EventKind, Reason, Refusal, State};
use baoming_domain::profile::{Identity, Profile};
use baoming_domain::{Gender, IdKind, IdNumber, MobilePhone, Money, PersonName};
use baoming_invoicing::{InvoiceSnapshot, InvoiceTitle, InvoiceTitleInput};
use baoming_store::registrations::{Applied, Ctx, NewRegistration, Who};
use baoming_store::testing::{Fixture, TestDb, now};
use baoming_store::{StoreError, jobs, seed};
use chrono::{DateTime, NaiveDate, Utc};

fn today() -> NaiveDate {
    now().date_naive()
}

/// A valid resident ID number, distinct for each `n` (sequence and birth day vary).
fn resident_id(n: u32, female: bool) -> IdNumber {
    let day = 1 + n % 28;
    let seq = (n / 28) % 500 * 2 + u32::from(!female);
    let first17 = format!("110105198{}01{day:02}{seq:03}", n % 10);
    let check = mod11_2_check_char(&first17).expect("17 digits");
    IdNumber::parse(IdKind::ResidentId, &format!("{first17}{check}"), today())
        .expect("valid generated ID")
}

fn profile(n: u32) -> Profile {
    let female = n.is_multiple_of(2);
    Profile {
        identity: Identity {
            name: Some(PersonName::parse("张三丰").expect("name")),
            gender: Some(if female { Gender::Female } else { Gender::Male }),
            id_number: Some(resident_id(n, female)),
        },
        phone: Some(MobilePhone::parse("13800138000").expect("phone")),
        employer: Some("福建某监理有限公司".into()),
        education: Some("本科".into()),
        job_title: None,
    }
}

fn company_title() -> InvoiceTitle {
    let input: InvoiceTitleInput = serde_json::from_value(serde_json::json!({
        "kind": "company",
        "name": "福建某监理有限公司",
        "tax_id": "91350100M000100Y43",
        "email": "finance@example.com"
    }))
    .expect("input");
    InvoiceTitle::parse(&input).expect("valid title").0
}

/// The store tests' fixture: [`Fixture`] with their own participants (张三丰, WeChat users
/// `openid-<n>`), a company invoice title on every form, and request id `req-test`.
struct World {
    f: Fixture,
}

impl std::ops::Deref for World {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.f
    }
}

impl World {
    fn new(test: &TestDb) -> Self {
        let mut f = Fixture::new(&test.db, now());
        f.request_id = "req-test".into();
        f.openid_prefix = "openid-".into();
        World { f }
    }

    fn conn(&self) -> baoming_store::Conn {
        self.db.conn().expect("connection")
    }

    /// A participant with a complete profile and a photo.
    fn participant(&self, n: u32) -> (ParticipantId, baoming_domain::ids::PhotoId) {
        self.f.participant_with(n, &profile(n))
    }

    fn form(
        &self,
        participant: ParticipantId,
        photo: baoming_domain::ids::PhotoId,
        region: &str,
    ) -> NewRegistration {
        NewRegistration {
            invoice_snapshot: Some(InvoiceSnapshot::from(&company_title())),
            ..self.f.form(participant, photo, region)
        }
    }

    /// A submitted registration of participant `n`.
    fn submitted(&self, n: u32, region: &str) -> RegistrationId {
        let (participant, photo) = self.participant(n);
        self.f.submit(&self.form(participant, photo, region))
    }

    /// The registration's participant, as the one who acts.
    fn owner(&self, id: RegistrationId) -> Who {
        Who::Participant(self.f.owner(id))
    }
}

fn ctx(who: Who, now: DateTime<Utc>) -> Ctx {
    Ctx { who, now, request_id: Some("req-test".into()) }
}

fn staff(role: Actor) -> Who {
    Who::Staff { id: baoming_store::new_id::<StaffId>(), role }
}

fn reason(text: &str) -> Reason {
    Reason::parse(text).expect("reason")
}

fn moved_to(applied: Result<Applied, StoreError>) -> State {
    match applied {
        Ok(Applied::Moved { registration, .. }) => registration.status.state,
        other => panic!("expected a move, got {other:?}"),
    }
}

fn refusal(result: Result<Applied, StoreError>) -> Refusal {
    match result {
        Err(StoreError::Transition(e)) => e.refusal,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

const CHECKIN_HOURS: i64 = 30 * 24 - 1;

const AFTER_SITTING_HOURS: i64 = 32 * 24;

fn two_subject_fee() -> Money {
    Money::from_fen(seed::TWO_SUBJECT_FEE_FEN).expect("fee")
}

/// A submitted and approved registration of participant `n`.
fn approved(w: &World, n: u32) -> RegistrationId {
    let id = w.submitted(n, "01");
    w.apply(id, Event::Approve, staff(Actor::Reviewer), now()).expect("approved");
    id
}

fn event_count(w: &World, id: RegistrationId, kind: EventKind) -> usize {
    w.history(id).iter().filter(|(k, _, _)| *k == kind).count()
}

fn refund_jobs(w: &World) -> usize {
    jobs::pending(&mut w.conn())
        .expect("jobs")
        .iter()
        .filter(|j| matches!(j.job, jobs::Job::Refund { .. }))
        .count()
}
