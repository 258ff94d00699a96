//! Participants: WeChat users and their profile. ID numbers are sealed by [`PiiCipher`].

use baoming_domain::ids::ParticipantId;
use baoming_domain::profile::{Identity, Profile, ProfileError};
use baoming_domain::{Gender, IdKind, IdNumber, MobilePhone, PersonName};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::{DbConnection, write_tx};
use crate::error::StoreError;
use crate::pii::PiiCipher;
use crate::prepared::fixed_statement;
use crate::schema::participants;
use crate::sql;

/// A participant as the rest of the product sees it (ID number decrypted, never logged:
/// `IdNumber`'s `Debug` is masked).
#[derive(Debug, Clone)]
pub struct Participant {
    /// Our id.
    pub id: ParticipantId,
    /// The WeChat openid of the mini-program.
    pub openid: String,
    /// The profile form.
    pub profile: Profile,
    /// Name, gender and ID number are locked (a registration was submitted).
    pub locked: bool,
    /// First login.
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = participants)]
#[diesel(check_for_backend(diesel::pg::Pg, diesel::sqlite::Sqlite))]
pub(crate) struct ParticipantRow {
    id: String,
    openid: String,
    name: Option<String>,
    gender: Option<String>,
    id_kind: Option<String>,
    id_number_enc: Option<Vec<u8>>,
    phone: Option<String>,
    employer: Option<String>,
    education: Option<String>,
    job_title: Option<String>,
    profile_locked: bool,
    created_at: chrono::NaiveDateTime,
}

impl ParticipantRow {
    fn into_participant(self, cipher: &PiiCipher) -> Result<Participant, StoreError> {
        let id: ParticipantId = sql::id(&self.id)?;
        let id_number = match (self.id_kind, self.id_number_enc) {
            (Some(kind), Some(sealed)) => {
                let kind = IdKind::parse(&kind).map_err(StoreError::corrupt)?;
                Some(cipher.open(id, kind, &sealed)?)
            }
            (None, None) => None,
            _ => return Err(StoreError::corrupt("participant id_kind without id_number")),
        };
        let identity = Identity {
            name: self
                .name
                .as_deref()
                .map(PersonName::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            gender: self
                .gender
                .as_deref()
                .map(Gender::parse)
                .transpose()
                .map_err(StoreError::corrupt)?,
            id_number,
        };
        Ok(Participant {
            id,
            openid: self.openid,
            profile: Profile {
                identity,
                phone: self
                    .phone
                    .as_deref()
                    .map(MobilePhone::parse)
                    .transpose()
                    .map_err(StoreError::corrupt)?,
                employer: self.employer,
                education: self.education,
                job_title: self.job_title,
            },
            locked: self.profile_locked,
            created_at: sql::utc(self.created_at),
        })
    }
}

/// The participant's openid (to send them WeChat messages).
pub fn openid(conn: &mut DbConnection, id: ParticipantId) -> Result<String, StoreError> {
    participants::table
        .find(sql::text(id))
        .select(participants::openid)
        .first::<String>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "participant" })
}

/// Finds the participant of an openid, creating it on first login.
pub fn login(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    openid: &str,
    unionid: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Participant, StoreError> {
    if let Some(found) = find_by_openid(conn, cipher, openid)? {
        return Ok(found);
    }
    let id: ParticipantId = crate::new_id();
    // In a transaction (a savepoint inside the group-commit writer's): on PostgreSQL a unique
    // violation spoils the transaction it happens in, and the row is read again below.
    let inserted = write_tx(conn, |conn| {
        diesel::insert_into(participants::table)
            .values((
                participants::id.eq(sql::text(id)),
                participants::openid.eq(openid),
                participants::unionid.eq(unionid),
                participants::profile_locked.eq(false),
                participants::created_at.eq(sql::ts(now)),
                participants::updated_at.eq(sql::ts(now)),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => {}
        // Two first logins at once: the other one created the row.
        Err(e) if StoreError::is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    find_by_openid(conn, cipher, openid)?.ok_or(StoreError::NotFound { entity: "participant" })
}

fn find_by_openid(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    openid: &str,
) -> Result<Option<Participant>, StoreError> {
    participants::table
        .filter(participants::openid.eq(openid))
        .select(ParticipantRow::as_select())
        .first(conn)
        .optional()?
        .map(|row| row.into_participant(cipher))
        .transpose()
}

/// Loads a participant.
pub fn get(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    id: ParticipantId,
) -> Result<Participant, StoreError> {
    // Every submission reads it: on the backend's own connection (`db::on_backend!`).
    crate::db::on_backend!(conn, c => participants::table
        .find(sql::text(id))
        .select(ParticipantRow::as_select())
        .first(c)
        .optional())?
    .ok_or(StoreError::NotFound { entity: "participant" })?
    .into_participant(cipher)
}

/// Why a profile could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveProfileError {
    /// The domain refused the change (locked identity, gender against ID number).
    #[error(transparent)]
    Refused(#[from] ProfileError),
    /// The ID number belongs to another participant.
    #[error("ID number already registered by another participant")]
    IdNumberTaken,
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Replaces the profile, after the domain's check (locked identity, gender against ID number).
pub fn save_profile(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    id: ParticipantId,
    new: &Profile,
    now: DateTime<Utc>,
) -> Result<Participant, SaveProfileError> {
    write_tx(conn, |conn| {
        let current = get(conn, cipher, id)?;
        current.profile.check_update(current.locked, new)?;
        write_profile(conn, cipher, id, new, now)
    })
}

/// Writes a profile that was checked (sealing the ID number).
fn write_profile(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    id: ParticipantId,
    new: &Profile,
    now: DateTime<Utc>,
) -> Result<Participant, SaveProfileError> {
    let sealed = new.identity.id_number.as_ref().map(|n| cipher.seal(id, n)).transpose()?;
    let identity = &new.identity;
    let updated = diesel::update(participants::table.find(sql::text(id)))
        .set((
            participants::name.eq(identity.name.as_ref().map(|n| n.as_str())),
            participants::gender.eq(identity.gender.map(Gender::as_str)),
            participants::id_kind.eq(identity.id_number.as_ref().map(|n| n.kind().as_str())),
            participants::id_number_enc.eq(sealed.as_ref().map(|s| s.ciphertext.as_slice())),
            participants::id_number_index.eq(sealed.as_ref().map(|s| s.blind_index.as_str())),
            participants::id_number_tail.eq(identity.id_number.as_ref().map(IdNumber::tail)),
            participants::phone.eq(new.phone.as_ref().map(MobilePhone::as_str)),
            participants::employer.eq(new.employer.as_deref()),
            participants::education.eq(new.education.as_deref()),
            participants::job_title.eq(new.job_title.as_deref()),
            participants::updated_at.eq(sql::ts(now)),
        ))
        .execute(conn);
    match updated {
        Ok(_) => Ok(get(conn, cipher, id)?),
        Err(e) if StoreError::is_unique_violation(&e) => Err(SaveProfileError::IdNumberTaken),
        Err(e) => Err(e.into()),
    }
}

/// The participant who holds an ID number, found through the blind index.
pub fn find_by_id_number(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    number: &IdNumber,
) -> Result<Option<ParticipantId>, StoreError> {
    participants::table
        .filter(participants::id_number_index.eq(cipher.blind_index(number)))
        .select(participants::id)
        .first::<String>(conn)
        .optional()?
        .map(|id| sql::id(&id))
        .transpose()
}

/// Locks name, gender and ID number (called with the first submission, in its transaction).
pub(crate) fn lock_identity(
    conn: &mut DbConnection,
    id: ParticipantId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let id = sql::text(id);
    let lock = LockIdentity { id: &id, updated_at: sql::ts(now) };
    crate::db::on_backend!(conn, c => lock.execute(c))?;
    Ok(())
}

fixed_statement! {
    /// [`lock_identity`]'s update: every first submission runs it (kept prepared).
    struct LockIdentity<'a> { id: &'a str, updated_at: chrono::NaiveDateTime }
    sql = [
        "UPDATE participants SET profile_locked = TRUE, updated_at = "
        {updated_at: diesel::sql_types::Timestamp}
        " WHERE id = " {id: diesel::sql_types::Text} " AND profile_locked = FALSE"
    ];
}

/// An admin's correction of the locked identity fields, with its audit entry (before and
/// after in masked form, and the note) in the same transaction.
pub fn correct_identity(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    id: ParticipantId,
    identity: &Identity,
    note: &str,
    actor: &crate::audit::Actor,
    now: DateTime<Utc>,
) -> Result<Participant, SaveProfileError> {
    write_tx(conn, |conn| {
        let current = get(conn, cipher, id)?;
        let summary = |i: &Identity| {
            serde_json::json!({
                "name": i.name.as_ref().map(|n| n.as_str().to_owned()),
                "gender": i.gender.map(Gender::as_str),
                "id_number": i.id_number.as_ref().map(IdNumber::masked),
            })
        };
        let before = summary(&current.profile.identity);
        let new = Profile { identity: identity.clone(), ..current.profile.clone() };
        // The admin may change locked fields; the gender must still agree with the number.
        current.profile.check_update(false, &new)?;
        let saved = write_profile(conn, cipher, id, &new, now)?;
        crate::audit::record(
            conn,
            &crate::audit::Entry {
                actor: actor.clone(),
                action: "correct_identity".into(),
                target_kind: Some("participant".into()),
                target_id: Some(id.to_string()),
                summary: Some(
                    serde_json::json!({ "before": before, "after": summary(identity), "note": note }),
                ),
            },
            now,
        )?;
        Ok(saved)
    })
}

/// Several participants at once (for lists and exports), by id.
pub fn get_many(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    ids: &[ParticipantId],
) -> Result<std::collections::HashMap<ParticipantId, Participant>, StoreError> {
    let texts: Vec<String> = ids.iter().map(|id| sql::text(*id)).collect();
    participants::table
        .filter(participants::id.eq_any(texts))
        .select(ParticipantRow::as_select())
        .load(conn)?
        .into_iter()
        .map(|row| row.into_participant(cipher).map(|p| (p.id, p)))
        .collect()
}

crate::error::wraps_store_error!(SaveProfileError);

/// Fills in the searchable tail of the ID number (`participants.id_number_tail`) of profiles
/// saved before it existed, at most `limit` at a time: how many were filled. Idempotent; the
/// api runs it at start-up.
pub fn backfill_id_tails(
    conn: &mut DbConnection,
    cipher: &PiiCipher,
    limit: i64,
) -> Result<usize, StoreError> {
    let ids: Vec<String> = participants::table
        .filter(participants::id_number_enc.is_not_null())
        .filter(participants::id_number_tail.is_null())
        .select(participants::id)
        .limit(limit)
        .load(conn)?;
    let mut filled = 0;
    for id in ids {
        let participant = get(conn, cipher, sql::id(&id)?)?;
        if let Some(number) = &participant.profile.identity.id_number {
            diesel::update(participants::table.find(&id))
                .set(participants::id_number_tail.eq(number.tail()))
                .execute(conn)?;
            filled += 1;
        }
    }
    Ok(filled)
}
