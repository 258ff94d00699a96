//! Test support: a fresh, migrated database per test, on SQLite or PostgreSQL.
//!
//! SQLite tests get a new file in a temporary directory. PostgreSQL tests get a new database
//! `baoming_test_<uuid>` on the server named by [`POSTGRES_URL_VAR`], dropped when the test
//! ends. A PostgreSQL test without that variable fails and says how to set it: it never
//! passes silently.

use std::fmt;

use baoming_domain::identity::mod11_2_check_char;
use baoming_domain::ids::{ParticipantId, PhotoId, RegistrationId, StaffId};
use baoming_domain::lifecycle::{Actor, CheckInProof, Event, EventKind, PaymentMethod, State};
use baoming_domain::period::SubjectChoice;
use baoming_domain::profile::{Identity, Profile};
use baoming_domain::{Gender, IdKind, IdNumber, MobilePhone, Money, PersonName};
use chrono::{DateTime, Duration, Utc};
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};

use crate::db::{Db, PoolOptions};
use crate::periods::{self, CreatedPeriod};
use crate::pii::{PiiCipher, PiiKeys};
use crate::registrations::{self, Applied, Ctx, NewRegistration, Who};
use crate::{StoreError, audit, participants, payments, photos, seed};

/// The environment variable naming the PostgreSQL server for tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres` (a database the test user may connect to and
/// create databases from).
pub const POSTGRES_URL_VAR: &str = "BAOMING_TEST_POSTGRES_URL";

/// A fresh migrated database that disappears with the value.
pub struct TestDb {
    /// The pool (dropped before the database is).
    pub db: Db,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl fmt::Debug for TestDb {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb").field("db", &self.db).finish_non_exhaustive()
    }
}

impl TestDb {
    /// A new SQLite file, migrated.
    pub fn sqlite() -> Self {
        Self::sqlite_with(PoolOptions::default())
    }

    /// A new SQLite file with these pool settings, migrated.
    pub fn sqlite_with(options: PoolOptions) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("baoming.sqlite3");
        let url = path.to_str().expect("UTF-8 temp path").to_owned();
        let db = Db::connect(&crate::DatabaseUrl::parse(&url).expect("database URL"), options)
            .expect("open SQLite");
        db.run_migrations().expect("migrate SQLite");
        Self { db, url, cleanup: Cleanup::Sqlite(dir) }
    }

    /// A new PostgreSQL database on the server of [`POSTGRES_URL_VAR`], migrated.
    pub fn postgres() -> Self {
        Self::postgres_with(PoolOptions::default())
    }

    /// A new PostgreSQL database with these pool settings, migrated.
    pub fn postgres_with(options: PoolOptions) -> Self {
        let admin_url = std::env::var(POSTGRES_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{POSTGRES_URL_VAR} is not set: PostgreSQL tests need a server, e.g. \
                 {POSTGRES_URL_VAR}=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable \
                 (or run only the SQLite tests with `just test-sqlite`)"
            )
        });
        let name = format!("baoming_test_{}", uuid::Uuid::now_v7().simple());
        let mut admin = PgConnection::establish(&admin_url)
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {POSTGRES_URL_VAR}: {e}"));
        admin.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
        let url = with_database(&admin_url, &name);
        let db = Db::connect(&crate::DatabaseUrl::parse(&url).expect("database URL"), options)
            .expect("open PostgreSQL");
        db.run_migrations().expect("migrate PostgreSQL");
        Self { db, url, cleanup: Cleanup::Postgres { admin_url, name } }
    }

    /// The database URL (for a service under test to open its own pool).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Whether this is the SQLite backend.
    pub fn is_sqlite(&self) -> bool {
        matches!(self.cleanup, Cleanup::Sqlite(_))
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Postgres { admin_url, name } = &self.cleanup {
            // WITH (FORCE) ends the pool's connections that are still open.
            if let Ok(mut admin) = PgConnection::establish(admin_url) {
                let _ =
                    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        }
    }
}

/// The URL of another database on the same server.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// A cipher with fixed test keys.
pub fn cipher() -> PiiCipher {
    PiiCipher::new(PiiKeys::new([0x11; 32], [0x22; 32]).expect("distinct test keys"))
}

/// A fixed "now" for tests: 2026-05-05 08:00 UTC.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_777_968_000, 0).expect("valid timestamp")
}

/// Hours after [`now`].
pub fn later(hours: i64) -> DateTime<Utc> {
    now() + Duration::hours(hours)
}

/// Registrations in a demo period, built through the store's own API (for tests of the
/// queue, the clock and the worker).
///
/// The period is [`seed::demo_period`] around `at`: registration open from `at − 1 day` to
/// `at + 14 days`, payment deadline `at + 16 days`, check-in on day 30 (from 07:00 of
/// `at`'s time − 2 h), the sitting ends `at + 31 days 8 h`. Everything is submitted and
/// decided at `at` (check-in inside the check-in window).
#[derive(Debug)]
pub struct Fixture {
    /// The database.
    pub db: Db,
    /// The period.
    pub period: CreatedPeriod,
    /// The time the period is built around.
    pub at: DateTime<Utc>,
    /// The request id written in the event log of the fixture's changes.
    pub request_id: String,
    /// Participant `n` logs in as WeChat user `<openid_prefix><n>`.
    pub openid_prefix: String,
}

impl Fixture {
    /// A demo period around `at`.
    pub fn new(db: &Db, at: DateTime<Utc>) -> Self {
        let mut conn = db.conn().expect("connection");
        let period = periods::create(&mut conn, &seed::demo_period(at), at).expect("period");
        Fixture {
            db: db.clone(),
            period,
            at,
            request_id: "fixture".into(),
            openid_prefix: "fixture-".into(),
        }
    }

    /// A time after the payment deadline, before the sitting ends.
    pub fn after_deadline(&self) -> DateTime<Utc> {
        self.at + Duration::days(17)
    }

    /// A time after the sitting ended.
    pub fn after_sitting(&self) -> DateTime<Utc> {
        self.at + Duration::days(32)
    }

    /// A new participant `n` (WeChat user `<openid_prefix><n>`) with `profile` and an accepted
    /// photo, at `at`.
    pub fn participant_with(&self, n: u32, profile: &Profile) -> (ParticipantId, PhotoId) {
        let mut conn = self.db.conn().expect("connection");
        let c = cipher();
        let openid = format!("{}{n}", self.openid_prefix);
        let p = participants::login(&mut conn, &c, &openid, None, self.at).expect("login");
        participants::save_profile(&mut conn, &c, p.id, profile, self.at).expect("profile");
        let photo = photos::insert(
            &mut conn,
            &photos::NewPhoto {
                id: crate::new_id(),
                participant: p.id,
                original_key: format!("photos/{n}/original.jpg"),
                normalized_key: format!("photos/{n}/normalized.jpg"),
                original_bytes: 100_000,
                width: 590,
                height: 826,
            },
            self.at,
        )
        .expect("photo");
        (p.id, photo)
    }

    /// A new participant `n` with a complete profile (a distinct valid ID number) and a photo.
    pub fn participant(&self, n: u32) -> (ParticipantId, PhotoId) {
        self.participant_with(n, &fixture_profile(n, self.at))
    }

    /// The registration form of `participant` with `photo` in region `region` (`01`–`03`):
    /// exam type `exempt_basic`, subjects `control` and `case` (土木建筑), no invoice title.
    pub fn form(
        &self,
        participant: ParticipantId,
        photo: PhotoId,
        region: &str,
    ) -> NewRegistration {
        NewRegistration {
            participant,
            period: self.period.id,
            region: self.period.region(region).expect("region"),
            exam_type: self.period.exam_type("exempt_basic").expect("exam type"),
            subjects: vec![
                SubjectChoice { code: "control".into(), specialty: Some("土木建筑".into()) },
                SubjectChoice { code: "case".into(), specialty: Some("土木建筑".into()) },
            ],
            invoice_snapshot: None,
            joint_invoice_remark: None,
            photo: Some(photo),
        }
    }

    /// Submits `form` as its participant at `at`.
    pub fn submit(&self, form: &NewRegistration) -> RegistrationId {
        let mut conn = self.db.conn().expect("connection");
        let who = Who::Participant(form.participant);
        registrations::submit(&mut conn, &cipher(), form, &self.ctx(who, self.at))
            .expect("submitted")
            .id
    }

    /// A registration of participant `n` (a new participant with a complete profile and a
    /// photo) in region `region` (`01`–`03`), submitted at `at`.
    pub fn submitted(&self, n: u32, region: &str) -> RegistrationId {
        let (participant, photo) = self.participant(n);
        self.submit(&self.form(participant, photo, region))
    }

    /// A registration of participant `n` brought to `state`: `pending_review`,
    /// `awaiting_payment`, `awaiting_transfer`, `paid` (bank transfer) or `checked_in`.
    pub fn in_state(&self, n: u32, region: &str, state: State) -> RegistrationId {
        self.in_state_with(n, region, state, &fixture_profile(n, self.at))
    }

    /// [`Fixture::in_state`] for a participant `n` with this profile.
    pub fn in_state_with(
        &self,
        n: u32,
        region: &str,
        state: State,
        profile: &Profile,
    ) -> RegistrationId {
        let (participant, photo) = self.participant_with(n, profile);
        let id = self.submit(&self.form(participant, photo, region));
        let owner = Who::Participant(self.owner(id));
        let fee = Money::from_fen(seed::TWO_SUBJECT_FEE_FEN).expect("fee");
        let checkin_at = self.checkin_time();
        let wanted = match state {
            State::PendingReview => 0,
            State::AwaitingPayment => 1,
            State::AwaitingTransfer => 2,
            State::Paid => 3,
            State::CheckedIn => 4,
            other => panic!("Fixture::in_state does not build {other:?}"),
        };
        let step = |event: Event, who: Who, when: DateTime<Utc>| match self.apply(
            id,
            event.clone(),
            who,
            when,
        ) {
            Ok(Applied::Moved { .. }) => {}
            other => panic!("fixture step {event:?} failed: {other:?}"),
        };
        if wanted >= 1 {
            step(Event::Approve, staff(Actor::Reviewer), self.at);
        }
        if wanted >= 2 {
            // As the participant does it: the transfer's reference is recorded too.
            let mut conn = self.db.conn().expect("connection");
            payments::declare_transfer(&mut conn, id, &self.ctx(owner, self.at))
                .expect("transfer declared");
        }
        if wanted >= 3 {
            let mut conn = self.db.conn().expect("connection");
            let confirmation = payments::TransferConfirmation {
                registrations: vec![id],
                amount: fee,
                bank_reference: None,
                note: None,
            };
            let ctx = self.ctx(staff(Actor::Finance), self.at);
            payments::confirm_transfer(&mut conn, &confirmation, &ctx, &audit::Actor::default())
                .expect("transfer confirmed");
        }
        if wanted >= 4 {
            step(
                Event::CheckIn { proof: CheckInProof::RotatingCode, venue: None },
                owner,
                checkin_at,
            );
        }
        id
    }

    /// The time [`Fixture::in_state`] checks registrations in at (inside the check-in window).
    pub fn checkin_time(&self) -> DateTime<Utc> {
        self.at + Duration::days(30) - Duration::hours(1)
    }

    /// Applies an event.
    pub fn apply(
        &self,
        id: RegistrationId,
        event: Event,
        who: Who,
        at: DateTime<Utc>,
    ) -> Result<Applied, StoreError> {
        let mut conn = self.db.conn().expect("connection");
        registrations::apply(&mut conn, id, &event, &self.ctx(who, at))
    }

    /// The registration's participant.
    pub fn owner(&self, id: RegistrationId) -> ParticipantId {
        let mut conn = self.db.conn().expect("connection");
        registrations::get(&mut conn, id).expect("registration").participant
    }

    /// The registration's state now.
    pub fn state(&self, id: RegistrationId) -> State {
        let mut conn = self.db.conn().expect("connection");
        registrations::get(&mut conn, id).expect("registration").status.state
    }

    /// Seats taken in region `region`.
    pub fn seats_taken(&self, region: &str) -> u32 {
        let mut conn = self.db.conn().expect("connection");
        periods::region(&mut conn, self.period.region(region).expect("region"))
            .expect("region")
            .seats_taken
    }

    /// The event log of a registration as (event, from, to), oldest first.
    pub fn history(&self, id: RegistrationId) -> Vec<(EventKind, Option<State>, State)> {
        let mut conn = self.db.conn().expect("connection");
        registrations::history(&mut conn, id)
            .expect("history")
            .into_iter()
            .map(|e| (e.event, e.from, e.to.state))
            .collect()
    }

    /// WeChat Pay reports order `out_trade_no` of registration `id` paid with `amount` at `at`
    /// (as a notification): recorded through the ledger.
    pub fn wechat_paid(
        &self,
        id: RegistrationId,
        out_trade_no: &str,
        amount: Money,
        at: DateTime<Utc>,
    ) -> payments::Recorded {
        let incoming = payments::IncomingPayment {
            registration: id,
            method: PaymentMethod::WechatPay,
            out_trade_no: Some(out_trade_no.into()),
            transaction_id: Some(format!("4200{out_trade_no}")),
            amount,
            received_at: at,
            notification: Some((format!("notify-{out_trade_no}"), "TRANSACTION.SUCCESS".into())),
            transfer_batch: None,
            note: None,
        };
        let mut conn = self.db.conn().expect("connection");
        payments::record_payment(&mut conn, &incoming, &self.ctx(Who::PaymentProvider, at))
            .expect("recorded")
    }

    /// Finance confirms one transfer of `amount` covering `ids`.
    pub fn confirm_transfer(
        &self,
        ids: &[RegistrationId],
        amount: Money,
        finance: Who,
        at: DateTime<Utc>,
    ) -> Result<Vec<(RegistrationId, payments::Recorded)>, payments::ConfirmError> {
        let confirmation = payments::TransferConfirmation {
            registrations: ids.to_vec(),
            amount,
            bank_reference: Some("BANK-0001".into()),
            note: None,
        };
        let mut conn = self.db.conn().expect("connection");
        payments::confirm_transfer(
            &mut conn,
            &confirmation,
            &self.ctx(finance, at),
            &audit::Actor::default(),
        )
    }

    /// The circumstances of a change by `who` at `now`.
    pub fn ctx(&self, who: Who, now: DateTime<Utc>) -> Ctx {
        Ctx { who, now, request_id: Some(self.request_id.clone()) }
    }
}

/// A staff member acting in `role` (a fresh id).
pub fn staff(role: Actor) -> Who {
    Who::Staff { id: crate::new_id::<StaffId>(), role }
}

/// A complete profile, with a valid resident ID number distinct for each `n` (< 280 000),
/// named 王五, employed by 福建某监理有限公司.
pub fn fixture_profile(n: u32, at: DateTime<Utc>) -> Profile {
    let female = n.is_multiple_of(2);
    let day = 1 + n % 28;
    let seq = (n / 28) % 500 * 2 + u32::from(!female);
    let year = 1960 + (n / 14_000) % 40;
    let first17 = format!("350102{year}{:02}{day:02}{seq:03}", 1 + (n / 28 / 500) % 12);
    let check = mod11_2_check_char(&first17).expect("17 digits");
    let id_number =
        IdNumber::parse(IdKind::ResidentId, &format!("{first17}{check}"), at.date_naive())
            .expect("valid generated ID");
    Profile {
        identity: Identity {
            name: Some(PersonName::parse("王五").expect("name")),
            gender: Some(if female { Gender::Female } else { Gender::Male }),
            id_number: Some(id_number),
        },
        phone: Some(MobilePhone::parse("13800138000").expect("phone")),
        employer: Some("福建某监理有限公司".into()),
        education: Some("本科".into()),
        job_title: None,
    }
}

/// Declares each named test function `fn(TestDb)` twice: in `mod sqlite` on a fresh SQLite
/// file and in `mod postgres` on a fresh PostgreSQL database (the `postgres::` path is how
/// `just test-sqlite` leaves them out).
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name($crate::testing::TestDb::sqlite()); })*
        }
        mod postgres {
            $(#[test] fn $name() { super::$name($crate::testing::TestDb::postgres()); })*
        }
    };
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_name() {
        assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
        assert_eq!(with_database("postgres://u@h:5432", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
    }
}
