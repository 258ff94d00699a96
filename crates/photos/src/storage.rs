//! Where the data directory's files are kept (photos, their originals, rendered admission
//! tickets): a small interface and a directory-backed implementation. The S3-compatible object
//! storage backend lives in `baoming-runtime` (it needs an HTTP client and an async runtime),
//! which also builds the configured backend.
//!
//! Keys are relative paths such as `photos/3f2a…/normalized.jpg`: non-empty segments of
//! `[a-z0-9_.-]` separated by `/`, no segment starting with `.` (which also rules out `.` and
//! `..`), at most [`MAX_KEY_LEN`] bytes.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Longest accepted key, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key is not a valid relative path (see the module docs).
    #[error("invalid storage key {key:?}")]
    BadKey {
        /// The refused key.
        key: String,
    },
    /// Nothing is stored under the key.
    #[error("no file stored under {key:?}")]
    NotFound {
        /// The missing key.
        key: String,
    },
    /// The file system failed.
    #[error("storage I/O error for {key:?}: {source}")]
    Io {
        /// The key being accessed.
        key: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The storage service could not be reached, timed out or refused the request (object
    /// storage: unreachable endpoint, wrong credentials, missing bucket, denied permission).
    #[error("storage unavailable for {key:?}: {message}")]
    Unavailable {
        /// The key being accessed.
        key: String,
        /// What went wrong (never a credential).
        message: String,
    },
}

impl StorageError {
    /// Stable machine-readable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadKey { .. } => "storage_bad_key",
            Self::NotFound { .. } => "storage_not_found",
            Self::Io { .. } => "storage_io",
            Self::Unavailable { .. } => "storage_unavailable",
        }
    }
}

/// Keeps the service's files under string keys: ID photos (the originals as uploaded and the
/// normalised JPEGs) and rendered admission tickets (PNG and PDF). Implementations: [`FsStorage`]
/// (a directory, the default) and `baoming_runtime::storage::S3Storage` (S3-compatible object
/// storage). The methods block: async callers run them on a blocking thread.
pub trait PhotoStorage: Send + Sync + std::fmt::Debug {
    /// Stores `bytes` under `key`, replacing any previous content atomically.
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError>;
    /// Reads what is stored under `key`; [`StorageError::NotFound`] if nothing is.
    fn get(&self, key: &str) -> Result<Vec<u8>, StorageError>;
    /// Removes what is stored under `key`; [`StorageError::NotFound`] if nothing is.
    fn delete(&self, key: &str) -> Result<(), StorageError>;
}

/// Checks a key against the rules in the module docs.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let bad = || StorageError::BadKey { key: key.chars().take(MAX_KEY_LEN).collect() };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(bad());
    }
    for segment in key.split('/') {
        if segment.is_empty() || segment.starts_with('.') {
            return Err(bad());
        }
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b);
        if !segment.bytes().all(allowed) {
            return Err(bad());
        }
    }
    Ok(())
}

/// Files in a directory tree: key `a/b.jpg` is the file `<root>/a/b.jpg`.
///
/// Writes go to a temporary file in the target directory, are flushed to disk, and are then
/// renamed over the target, so a reader sees the old or the new content, never a mix.
#[derive(Debug, Clone)]
pub struct FsStorage {
    root: PathBuf,
}

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FsStorage {
    /// Storage under `root`; the directory is created on the first write.
    #[must_use]
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The root directory.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_for(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        let mut path = self.root.clone();
        path.extend(key.split('/'));
        Ok(path)
    }
}

fn io_error(key: &str, source: io::Error) -> StorageError {
    if matches!(source.kind(), io::ErrorKind::NotFound | io::ErrorKind::IsADirectory) {
        StorageError::NotFound { key: key.to_owned() }
    } else {
        StorageError::Io { key: key.to_owned(), source }
    }
}

fn write_temp(temp: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new().write(true).create_new(true).open(temp)?;
    file.write_all(bytes)?;
    file.sync_all()
}

impl PhotoStorage for FsStorage {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        let io_err = |source| StorageError::Io { key: key.to_owned(), source };
        let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(StorageError::BadKey { key: key.to_owned() });
        };
        fs::create_dir_all(dir).map_err(io_err)?;

        // Keys never have a segment starting with '.', so this name cannot collide with a key.
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(
            ".{}-{}.tmp",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let temp = dir.join(temp_name);

        let result = write_temp(&temp, bytes).and_then(|()| fs::rename(&temp, &path));
        if let Err(source) = result {
            let _ = fs::remove_file(&temp);
            return Err(io_err(source));
        }
        // Make the rename itself durable (best effort: not every platform can open a directory).
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let path = self.path_for(key)?;
        fs::read(&path).map_err(|e| io_error(key, e))
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        fs::remove_file(&path).map_err(|e| io_error(key, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_keys() {
        for key in ["a", "photos/0a1b/normalized.jpg", "x_y-z.1/2", "a/b/c/d.png"] {
            assert!(validate_key(key).is_ok(), "{key}");
        }
    }

    #[test]
    fn bad_keys() {
        let long = "a".repeat(MAX_KEY_LEN + 1);
        for key in [
            "",
            "/abs",
            "a//b",
            "a/",
            "..",
            "a/../b",
            ".",
            "./a",
            ".hidden",
            "A.jpg",
            "a b",
            "a\\b",
            "照片.jpg",
            "a\0b",
            long.as_str(),
        ] {
            let err = validate_key(key);
            assert!(matches!(err, Err(StorageError::BadKey { .. })), "{key:?} accepted");
        }
    }

    #[test]
    fn codes() {
        let e = StorageError::NotFound { key: "k".into() };
        assert_eq!(e.code(), "storage_not_found");
        assert_eq!(StorageError::BadKey { key: "k".into() }.code(), "storage_bad_key");
        let e = StorageError::Unavailable { key: "k".into(), message: "timed out".into() };
        assert_eq!(e.code(), "storage_unavailable");
    }
}
