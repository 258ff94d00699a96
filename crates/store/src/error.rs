//! The data layer's errors.

use baoming_domain::lifecycle::{State, TransitionError};

/// What can go wrong in the data layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row does not exist (or belongs to someone else: callers never learn which).
    #[error("{entity} not found")]
    NotFound {
        /// What was looked for.
        entity: &'static str,
    },
    /// The domain refused the transition; nothing was written.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// Someone else changed the registration between our read and our write; nothing was
    /// written. `current` is the state it is in now.
    #[error("registration was changed concurrently; it is now {current}")]
    Conflict {
        /// The state the registration is in now.
        current: State,
    },
    /// A unique value is already taken (e.g. the ID number of another participant).
    #[error("{what} already exists")]
    Duplicate {
        /// Which value.
        what: &'static str,
    },
    /// A worker's lease on a job is gone (it expired and the job was claimed again, or the job
    /// was released or finished): this worker's outcome is not recorded.
    #[error("lease on job {job} lost")]
    LeaseLost {
        /// The job.
        job: baoming_domain::ids::JobId,
    },
    /// The participant's name, gender and ID number are locked after the first registration.
    #[error("profile identity fields are locked")]
    ProfileLocked,
    /// A caller used the wrong entry point (for example a payment applied without being
    /// recorded in the ledger): a bug, never shown to users.
    #[error("misuse of the data layer: {0}")]
    Misuse(&'static str),
    /// A stored value no longer parses (a bug or tampering): never shown to users.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Encryption or decryption of personal data failed.
    #[error("personal-data cipher: {0}")]
    Cipher(&'static str),
    /// A bad setting (database URL, keys).
    #[error("configuration: {0}")]
    Config(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The database answered with an error.
    #[error("database: {0}")]
    Database(#[from] diesel::result::Error),
    /// A connection of its own (outside the pool) could not be opened.
    #[error("connecting to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    /// No connection could be had from the pool.
    #[error("connection pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
}

impl StoreError {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(what.to_string())
    }

    /// Whether the unique constraint of a value was violated.
    pub(crate) fn is_unique_violation(error: &diesel::result::Error) -> bool {
        matches!(
            error,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _
            )
        )
    }
}

/// `From<diesel::result::Error>` for error enums of the data layer that wrap [`StoreError`] in
/// a `Store` variant (so `?` works on queries inside functions returning them).
macro_rules! wraps_store_error {
    ($($error:ty),* $(,)?) => {$(
        impl From<diesel::result::Error> for $error {
            fn from(error: diesel::result::Error) -> Self {
                Self::Store(error.into())
            }
        }
    )*};
}
pub(crate) use wraps_store_error;
