//! ID photos: the row that points at the stored files (the files live behind the storage
//! interface of the photo pipeline).

use baoming_domain::ids::{ParticipantId, PhotoId};
use chrono::{DateTime, Utc};
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::error::StoreError;
use crate::schema::photos;
use crate::sql;

/// An accepted photo to record.
#[derive(Debug, Clone)]
pub struct NewPhoto {
    /// Its id (chosen first, so the files can be stored under it).
    pub id: PhotoId,
    /// Whose.
    pub participant: ParticipantId,
    /// Storage key of the original upload.
    pub original_key: String,
    /// Storage key of the normalised 295 × 413 JPEG.
    pub normalized_key: String,
    /// Size of the original upload.
    pub original_bytes: u64,
    /// Width of the original.
    pub width: u32,
    /// Height of the original.
    pub height: u32,
}

/// Records an accepted photo.
pub fn insert(
    conn: &mut DbConnection,
    new: &NewPhoto,
    now: DateTime<Utc>,
) -> Result<PhotoId, StoreError> {
    let id = new.id;
    let int = |n: u32| i32::try_from(n).map_err(StoreError::corrupt);
    diesel::insert_into(photos::table)
        .values((
            photos::id.eq(sql::text(id)),
            photos::participant_id.eq(sql::text(new.participant)),
            photos::original_key.eq(&new.original_key),
            photos::normalized_key.eq(&new.normalized_key),
            photos::original_bytes
                .eq(i64::try_from(new.original_bytes).map_err(StoreError::corrupt)?),
            photos::width.eq(int(new.width)?),
            photos::height.eq(int(new.height)?),
            photos::created_at.eq(sql::ts(now)),
        ))
        .execute(conn)?;
    Ok(id)
}

/// Whether the photo exists and belongs to the participant.
pub fn is_owned_by(
    conn: &mut DbConnection,
    id: PhotoId,
    owner: ParticipantId,
) -> Result<bool, StoreError> {
    let found = crate::db::on_backend!(conn, c => photos::table
        .find(sql::text(id))
        .filter(photos::participant_id.eq(sql::text(owner)))
        .select(photos::id)
        .first::<String>(c)
        .optional())?;
    Ok(found.is_some())
}

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPhoto {
    /// Id.
    pub id: PhotoId,
    /// Whose.
    pub participant: ParticipantId,
    /// Storage key of the original.
    pub original_key: String,
    /// Storage key of the normalised JPEG.
    pub normalized_key: String,
}

/// Loads a photo's row.
pub fn get(conn: &mut DbConnection, id: PhotoId) -> Result<StoredPhoto, StoreError> {
    let (pid, participant, original_key, normalized_key) = photos::table
        .find(sql::text(id))
        .select((photos::id, photos::participant_id, photos::original_key, photos::normalized_key))
        .first::<(String, String, String, String)>(conn)
        .optional()?
        .ok_or(StoreError::NotFound { entity: "photo" })?;
    Ok(StoredPhoto {
        id: sql::id(&pid)?,
        participant: sql::id(&participant)?,
        original_key,
        normalized_key,
    })
}
