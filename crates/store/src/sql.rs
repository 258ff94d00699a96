//! Conversions between domain values and column values, and how a list of ids is asked, in one
//! place.

use baoming_domain::ids::TypedId;
use chrono::{DateTime, NaiveDateTime, Utc};

use crate::db::DbConnection;
use crate::error::StoreError;

/// A UTC instant as stored (`Timestamp`, no zone: always UTC).
pub(crate) fn ts(at: DateTime<Utc>) -> NaiveDateTime {
    at.naive_utc()
}

/// A stored timestamp as a UTC instant.
pub(crate) fn utc(at: NaiveDateTime) -> DateTime<Utc> {
    at.and_utc()
}

/// A typed id from a text column.
pub(crate) fn id<T: TypedId>(text: &str) -> Result<T, StoreError> {
    T::parse(text).map_err(|e| StoreError::corrupt(format_args!("{} id {text:?}: {e}", T::ENTITY)))
}

/// A typed id as a text column.
pub(crate) fn text<T: TypedId>(id: T) -> String {
    id.to_string()
}

/// The longest list of ids asked one `=` at a time by [`rows_by_ids`].
const ONE_AT_A_TIME: usize = 4;

/// The rows of a list of ids: a short list — a participant's own registrations ("My exams",
/// the answer to a write) — with one `=` query per id (`one`), a longer one with one `IN` query
/// (`many`), an empty one with none. SQLite cannot keep an `IN` list's statement prepared (its
/// SQL changes with the list's length), while the `=` statement is prepared once per connection
/// and a few executions of it cost less than one preparation.
pub(crate) fn rows_by_ids<I, R>(
    conn: &mut DbConnection,
    ids: &[I],
    mut one: impl FnMut(&mut DbConnection, &I) -> Result<Vec<R>, StoreError>,
    many: impl FnOnce(&mut DbConnection, &[I]) -> Result<Vec<R>, StoreError>,
) -> Result<Vec<R>, StoreError> {
    if ids.len() > ONE_AT_A_TIME {
        return many(conn, ids);
    }
    let mut rows = Vec::new();
    for id in ids {
        rows.extend(one(conn, id)?);
    }
    Ok(rows)
}

/// Typed ids as text columns.
pub(crate) fn texts<T: TypedId>(ids: &[T]) -> Vec<String> {
    ids.iter().map(|id| text(*id)).collect()
}
