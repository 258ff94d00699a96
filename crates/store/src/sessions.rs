//! Login sessions: opaque random tokens, stored only as SHA-256 hashes, expiring, revocable.

use baoming_domain::ids::{ParticipantId, SessionId, StaffId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use sha2::{Digest, Sha256};

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::schema::sessions;
use crate::sql;

/// Whose session it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A participant (bearer token of the mini-program).
    Participant(ParticipantId),
    /// A staff user (cookie of the back office).
    Staff(StaffId),
}

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Id.
    pub id: SessionId,
    /// Whose.
    pub owner: Owner,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
    /// Hash of the CSRF token of a back-office (cookie) session.
    pub csrf_hash: Option<String>,
}

/// A freshly issued session with its secret token (shown once, never stored).
#[derive(Clone)]
pub struct Issued {
    /// The session.
    pub session: Session,
    /// The bearer token.
    pub token: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("session", &self.session).finish_non_exhaustive()
    }
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn random_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|_| StoreError::Cipher("no randomness"))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// Issues a session valid for `ttl`.
pub fn issue(
    conn: &mut DbConnection,
    owner: Owner,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Issued, StoreError> {
    issue_with(conn, owner, ttl, now, None)
}

/// Issues a cookie session with a CSRF token that state-changing requests must echo:
/// the session and the CSRF token (both secrets, shown once).
pub fn issue_with_csrf(
    conn: &mut DbConnection,
    owner: Owner,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<(Issued, String), StoreError> {
    let csrf = random_token()?;
    let issued = issue_with(conn, owner, ttl, now, Some(hash_token(&csrf)))?;
    Ok((issued, csrf))
}

fn issue_with(
    conn: &mut DbConnection,
    owner: Owner,
    ttl: Duration,
    now: DateTime<Utc>,
    csrf_hash: Option<String>,
) -> Result<Issued, StoreError> {
    let id: SessionId = crate::new_id();
    let token = random_token()?;
    let expires_at = now + ttl;
    let (participant, staff) = match owner {
        Owner::Participant(p) => (Some(sql::text(p)), None),
        Owner::Staff(s) => (None, Some(sql::text(s))),
    };
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(sql::text(id)),
            sessions::token_hash.eq(hash_token(&token)),
            sessions::participant_id.eq(participant),
            sessions::staff_id.eq(staff),
            sessions::csrf_hash.eq(&csrf_hash),
            sessions::created_at.eq(sql::ts(now)),
            sessions::expires_at.eq(sql::ts(expires_at)),
        ))
        .execute(conn)?;
    Ok(Issued { session: Session { id, owner, expires_at, csrf_hash }, token })
}

/// The live session of a token: not expired, not revoked. `None` for anything else.
pub fn find_active(
    conn: &mut DbConnection,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Option<Session>, StoreError> {
    let row = sessions::table
        .filter(sessions::token_hash.eq(hash_token(token)))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::expires_at.gt(sql::ts(now)))
        .select((
            sessions::id,
            sessions::participant_id,
            sessions::staff_id,
            sessions::expires_at,
            sessions::csrf_hash,
        ))
        .first::<(String, Option<String>, Option<String>, chrono::NaiveDateTime, Option<String>)>(
            conn,
        )
        .optional()?;
    let Some((id, participant, staff, expires_at, csrf_hash)) = row else {
        return Ok(None);
    };
    let owner = match (participant, staff) {
        (Some(p), None) => Owner::Participant(sql::id(&p)?),
        (None, Some(s)) => Owner::Staff(sql::id(&s)?),
        _ => return Err(StoreError::corrupt("session without exactly one owner")),
    };
    Ok(Some(Session { id: sql::id(&id)?, owner, expires_at: sql::utc(expires_at), csrf_hash }))
}

/// Revokes a session (logout).
pub fn revoke(
    conn: &mut DbConnection,
    id: SessionId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    diesel::update(sessions::table.find(sql::text(id)))
        .filter(sessions::revoked_at.is_null())
        .set(sessions::revoked_at.eq(sql::ts(now)))
        .execute(conn)?;
    Ok(())
}

/// Ends a participant's session (logout) and tells the other api instances, whose session
/// caches may hold it ([`crate::invalidations`]), in one write transaction.
pub fn log_out_participant(
    conn: &mut DbConnection,
    id: SessionId,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    crate::db::write_tx(conn, |conn| {
        revoke(conn, id, now)?;
        crate::invalidations::record(conn, &[crate::invalidations::Invalidation::Session(id)], now)
    })
}

/// Ends a staff user's session on their own request (logout) and records it in the audit log,
/// in one write transaction.
pub fn log_out_staff(
    conn: &mut DbConnection,
    session: SessionId,
    staff: StaffId,
    actor: crate::audit::Actor,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    crate::db::write_tx(conn, |conn| {
        revoke(conn, session, now)?;
        crate::audit::record(
            conn,
            &crate::audit::Entry {
                actor,
                action: "logout".into(),
                target_kind: Some("staff".into()),
                target_id: Some(staff.to_string()),
                summary: None,
            },
            now,
        )
    })
}

/// Revokes every live session of a staff user but `except` (a password reset, a disabled
/// account, or a password change keeping the current session): how many were revoked.
pub fn revoke_staff_sessions(
    conn: &mut DbConnection,
    staff: StaffId,
    except: Option<SessionId>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut query = diesel::update(sessions::table)
        .filter(sessions::staff_id.eq(sql::text(staff)))
        .filter(sessions::revoked_at.is_null())
        .into_boxed();
    if let Some(keep) = except {
        query = query.filter(sessions::id.ne(sql::text(keep)));
    }
    Ok(query.set(sessions::revoked_at.eq(sql::ts(now))).execute(conn)?)
}
