//! Conversions between domain values and column values, in one place.

use baoming_domain::ids::TypedId;
use chrono::{DateTime, NaiveDateTime, Utc};

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

/// The longest list of ids asked one `=` at a time rather than with one `IN` list: a
/// participant's own registrations ("My exams", the answer to a write). SQLite cannot keep an
/// `IN` list's statement prepared (its SQL changes with the list's length), while the `=`
/// statement is prepared once per connection and a few executions of it cost less than one
/// preparation.
pub(crate) const ONE_AT_A_TIME: usize = 4;

/// Typed ids as text columns.
pub(crate) fn texts<T: TypedId>(ids: &[T]) -> Vec<String> {
    ids.iter().map(|id| text(*id)).collect()
}
