//! Participants: the identity lock, ID numbers at rest, invoice titles and their snapshots.

use baoming_domain::profile::ProfileError;
use baoming_domain::{IdNumber, PersonName};
use baoming_invoicing::InvoiceSnapshot;
use baoming_store::StoreError;
use baoming_store::participants::{self, SaveProfileError};
use baoming_store::registrations::{self, Who};
use baoming_store::testing::{TestDb, cipher, later, now};
use diesel::prelude::*;

use super::*;

baoming_store::on_both_backends!(
    identity_locks_with_the_first_submission,
    id_numbers_are_encrypted_at_rest,
    invoice_titles_belong_to_their_owner_and_snapshots_stay,
);

fn identity_locks_with_the_first_submission(test: TestDb) {
    let w = World::new(&test);
    let c = cipher();
    let id = w.submitted(1, "01");
    let participant = registrations::get(&mut w.conn(), id).expect("registration").participant;
    let mut conn = w.conn();
    let p = participants::get(&mut conn, &c, participant).expect("participant");
    assert!(p.locked);

    let mut renamed = profile(1);
    renamed.identity.name = Some(PersonName::parse("张三").expect("name"));
    assert!(matches!(
        participants::save_profile(&mut conn, &c, participant, &renamed, later(1)),
        Err(SaveProfileError::Refused(ProfileError::IdentityLocked))
    ));
    let mut moved_job = profile(1);
    moved_job.employer = Some("另一家监理公司".into());
    let saved = participants::save_profile(&mut conn, &c, participant, &moved_job, later(1))
        .expect("saved");
    assert_eq!(saved.profile.employer.as_deref(), Some("另一家监理公司"));
    assert_eq!(saved.profile.identity, profile(1).identity);
}

fn id_numbers_are_encrypted_at_rest(test: TestDb) {
    let w = World::new(&test);
    let c = cipher();
    let (participant, _) = w.participant(7);
    let number = resident_id(7, false);
    let mut conn = w.conn();

    use baoming_store::schema::participants as p;
    let (sealed, index): (Option<Vec<u8>>, Option<String>) = p::table
        .find(participant.to_string())
        .select((p::id_number_enc, p::id_number_index))
        .first(&mut *conn)
        .expect("raw row");
    let sealed = sealed.expect("stored");
    let plain = number.expose().as_bytes();
    assert!(!sealed.windows(plain.len()).any(|w| w == plain), "the plain number is in the column");
    let index = index.expect("blind index");
    assert!(!index.contains(number.expose()));
    assert_eq!(index.len(), 64);

    let loaded = participants::get(&mut conn, &c, participant).expect("participant");
    assert_eq!(
        loaded.profile.identity.id_number.as_ref().map(IdNumber::expose),
        Some(number.expose())
    );
    assert_eq!(
        participants::find_by_id_number(&mut conn, &c, &number).expect("look-up"),
        Some(participant)
    );

    // Another participant cannot take the same number.
    let other = participants::login(&mut conn, &c, "openid-other", None, now()).expect("login");
    assert!(matches!(
        participants::save_profile(&mut conn, &c, other.id, &profile(7), now()),
        Err(SaveProfileError::IdNumberTaken)
    ));
}

fn invoice_titles_belong_to_their_owner_and_snapshots_stay(test: TestDb) {
    use baoming_store::invoice_titles;
    let w = World::new(&test);
    let (me, photo) = w.participant(1);
    let (other, _) = w.participant(2);
    let mut conn = w.conn();
    let saved = invoice_titles::create(&mut conn, me, &company_title(), now()).expect("saved");
    assert_eq!(saved.title.name(), "福建某监理有限公司");
    assert!(matches!(
        invoice_titles::get(&mut conn, other, saved.id),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        invoice_titles::delete(&mut conn, other, saved.id),
        Err(StoreError::NotFound { .. })
    ));
    let mut form = w.form(me, photo, "01");
    form.invoice_snapshot = Some(InvoiceSnapshot::from(&saved.title));
    let registration =
        registrations::submit(&mut conn, &cipher(), &form, &ctx(Who::Participant(me), now()))
            .expect("submitted");
    invoice_titles::delete(&mut conn, me, saved.id).expect("deleted");
    assert!(invoice_titles::list(&mut conn, me).expect("list").is_empty());
    let stored = registrations::get(&mut conn, registration.id).expect("registration");
    let snapshot = stored.invoice_snapshot.expect("snapshot kept");
    assert_eq!(snapshot.tax_id.as_deref(), Some("91350100M000100Y43"));
}
