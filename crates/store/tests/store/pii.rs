//! ID-number key rotation: rows sealed under an old key (and in the format from before keys
//! had ids) open once a new key is current, `pii::rekey` moves them all to it in batches, and
//! after the old key is removed everything still opens.

use baoming_store::participants;
use baoming_store::pii::{self, PiiCipher, PiiKeys, RekeyReport};
use baoming_store::schema::participants as p;
use baoming_store::testing::{TestDb, cipher, fixture_profile, later};
use diesel::prelude::*;

use super::*;

baoming_store::on_both_backends!(rotation_round_trip);

/// The test fixture's keys are key 1 = `[0x11; 32]` and blind index `[0x22; 32]`
/// (`testing::cipher`); key 2 is new.
fn rotated(keys: &[u8]) -> PiiCipher {
    let list = keys.iter().map(|id| (*id, [if *id == 1 { 0x11 } else { 0x33 }; 32])).collect();
    PiiCipher::new(PiiKeys::rotating(list, *keys.last().expect("a key"), [0x22; 32]).expect("keys"))
}

fn stored(conn: &mut baoming_store::DbConnection) -> Vec<(String, Vec<u8>)> {
    p::table
        .filter(p::id_number_enc.is_not_null())
        .order(p::id)
        .select((p::id, p::id_number_enc.assume_not_null()))
        .load(conn)
        .expect("rows")
}

fn rotation_round_trip(test: TestDb) {
    let w = World::new(&test);
    let mut conn = w.conn();
    let old = cipher();
    // Five participants sealed under key 1, one of them in the version-1 format (no key id:
    // `1 ‖ nonce ‖ ct ‖ tag`, the same AEAD output), and one without an ID number.
    let ids: Vec<ParticipantId> = (1..=5).map(|n| w.participant(n).0).collect();
    let v2 = stored(&mut conn);
    assert!(v2.iter().all(|(_, ct)| pii::key_id_of(ct) == Some(1) && ct[0] == 2));
    let (first, ct) = &v2[0];
    let v1: Vec<u8> = [&[1u8][..], &ct[2..]].concat();
    diesel::update(p::table.find(first))
        .set(p::id_number_enc.eq(&v1))
        .execute(&mut *conn)
        .expect("made version 1");
    participants::login(&mut conn, &old, "openid-no-profile", None, later(1)).expect("login");
    let numbers: Vec<String> = ids
        .iter()
        .map(|id| {
            let found = participants::get(&mut conn, &old, *id).expect("opens under key 1");
            found.profile.identity.id_number.expect("number").expose().to_owned()
        })
        .collect();

    // Key 2 added as the current key: the old rows open, a new profile is sealed with key 2.
    let during = rotated(&[1, 2]);
    for (id, number) in ids.iter().zip(&numbers) {
        let found = participants::get(&mut conn, &during, *id).expect("old row opens");
        assert_eq!(found.profile.identity.id_number.expect("number").expose(), number);
    }
    let (sixth, _) = w.participant(6);
    let fresh = fixture_profile(106, later(2));
    participants::save_profile(&mut conn, &during, sixth, &fresh, later(2)).expect("saved");
    let sixth_row = stored(&mut conn).into_iter().find(|(id, _)| *id == sixth.to_string());
    assert_eq!(sixth_row.map(|(_, ct)| pii::key_id_of(&ct)), Some(Some(2)));

    // Re-encrypted in batches of 2 (4 batches for 6 rows): 5 rows rewritten, the sixth was
    // already current. A second run rewrites nothing.
    let report = pii::rekey(&mut conn, &during, 2).expect("rekey");
    assert_eq!(
        report,
        RekeyReport { current_key_id: 2, scanned: 6, rewritten: 5, changed_meanwhile: 0 }
    );
    assert!(stored(&mut conn).iter().all(|(_, ct)| pii::key_id_of(ct) == Some(2) && ct[0] == 2));
    let again = pii::rekey(&mut conn, &during, 1000).expect("rekey again");
    assert_eq!((again.scanned, again.rewritten), (6, 0));

    // Key 1 removed: everything opens, look-up by number (the blind index did not change)
    // still finds its owner; key 1 alone opens nothing any more.
    let after = rotated(&[2]);
    for (id, number) in ids.iter().zip(&numbers) {
        let found = participants::get(&mut conn, &after, *id).expect("opens under key 2");
        let got = found.profile.identity.id_number.expect("number");
        assert_eq!(got.expose(), number);
        assert_eq!(
            participants::find_by_id_number(&mut conn, &after, &got).expect("look-up"),
            Some(*id)
        );
        assert!(participants::get(&mut conn, &old, *id).is_err(), "key 1 still opens a row");
    }
    let sixth_now = participants::get(&mut conn, &after, sixth).expect("sixth opens");
    assert_eq!(sixth_now.profile.identity.id_number, fresh.identity.id_number);
}
