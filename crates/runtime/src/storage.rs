//! Where the service's files live (ID photos, their originals, rendered admission tickets):
//! the data directory (`<data_dir>/files`, the default) or an S3-compatible object storage
//! bucket (Aliyun OSS, Tencent COS, MinIO, AWS S3), chosen by `[storage]`
//! (docs/configuration.md). Both binaries build it with [`open`] and check it at start-up with
//! [`check`].
//!
//! [`S3Storage`] implements the blocking [`PhotoStorage`] over the `object_store` crate's async
//! client. It owns a small tokio runtime of its own: each call is spawned there and the
//! calling thread waits on a plain channel, so a call works from any thread (actix's blocking
//! pool, the worker's threads, even inside an async task, where it would only block) and can
//! never panic with "cannot block inside a runtime".

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use baoming_photos::storage::{FsStorage, PhotoStorage, StorageError, validate_key};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStoreExt, PutPayload, RetryConfig};

/// The validated `[storage]` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// Files under a directory (`<data_dir>/files`).
    Local {
        /// The directory.
        root: PathBuf,
    },
    /// Objects in an S3-compatible bucket.
    S3(S3Settings),
}

/// Where the bucket is and how to sign for it. `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Settings {
    /// The service endpoint (`https://oss-cn-hangzhou.aliyuncs.com`), without the bucket;
    /// `None`: AWS S3 in `region`.
    pub endpoint: Option<String>,
    /// The region requests are signed for (`oss-cn-hangzhou`, `ap-guangzhou`, `us-east-1`).
    pub region: String,
    /// The bucket.
    pub bucket: String,
    /// Keys are stored under `<prefix>/` (validated like a key), if set.
    pub prefix: Option<String>,
    /// Path-style requests (`<endpoint>/<bucket>/<key>`: MinIO, moto) instead of
    /// virtual-hosted style (`<bucket>.<endpoint host>/<key>`: AWS, OSS, COS).
    pub path_style: bool,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key (never printed).
    pub secret_access_key: String,
    /// Bound on one request (connecting is bounded at 5 s).
    pub timeout: Duration,
}

impl fmt::Debug for S3Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("path_style", &self.path_style)
            .field("access_key_id", &self.access_key_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// The storage could not be set up or failed its start-up check.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StorageSetupError(String);

/// Builds the configured storage (no I/O; see [`check`]).
pub fn open(settings: &StorageSettings) -> Result<Arc<dyn PhotoStorage>, StorageSetupError> {
    Ok(match settings {
        StorageSettings::Local { root } => Arc::new(FsStorage::new(root)),
        StorageSettings::S3(s3) => Arc::new(S3Storage::new(s3)?),
    })
}

/// The start-up check: with object storage, a small probe object is written, read back and
/// deleted, so a wrong endpoint, bucket, credential or permission stops the start with a
/// message naming the bucket. Nothing for the local directory (created on the first write).
/// Blocks: async callers run it on a blocking thread.
pub fn check(
    settings: &StorageSettings,
    storage: &dyn PhotoStorage,
) -> Result<(), StorageSetupError> {
    let StorageSettings::S3(s3) = settings else {
        return Ok(());
    };
    let mut nonce = [0_u8; 8];
    getrandom::fill(&mut nonce).map_err(|e| StorageSetupError(format!("random: {e}")))?;
    let key = format!("startup-check/{}", hex::encode(nonce));
    let fail = |what: &str, e: StorageError| {
        StorageSetupError(format!(
            "object storage check failed ({what} {key} in bucket {:?} at {}): {e}",
            s3.bucket,
            s3.endpoint.as_deref().unwrap_or("AWS S3"),
        ))
    };
    let probe = b"baoming storage check";
    storage.put(&key, probe).map_err(|e| fail("writing", e))?;
    match storage.get(&key) {
        Ok(bytes) if bytes == probe => {}
        Ok(_) => {
            return Err(fail(
                "reading back",
                StorageError::Unavailable { key: key.clone(), message: "other content".into() },
            ));
        }
        Err(e) => return Err(fail("reading back", e)),
    }
    storage.delete(&key).map_err(|e| fail("deleting", e))
}

/// S3-compatible object storage: key `a/b.jpg` is the object `<prefix>/a/b.jpg` of the
/// bucket. A put replaces the object whole, so a reader sees the old or the new content.
pub struct S3Storage {
    store: Arc<AmazonS3>,
    prefix: Option<String>,
    bucket: String,
    /// Bound on a whole call, retries included.
    deadline: Duration,
    /// Runs the client's futures; `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Drop for S3Storage {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside an async context (the api's state is
        // dropped on an actix thread): let its threads wind down in the background instead.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Retries of a failed request (on top of the first attempt).
const MAX_RETRIES: u32 = 2;
/// Bound on connecting to the endpoint.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl S3Storage {
    /// A client for the bucket (no request is made; see [`check`]).
    pub fn new(settings: &S3Settings) -> Result<Self, StorageSetupError> {
        let bad = |problem: String| StorageSetupError(format!("object storage: {problem}"));
        if let Some(prefix) = &settings.prefix {
            validate_key(prefix).map_err(|_| bad(format!("bad prefix {prefix:?}")))?;
        }
        let mut client = ClientOptions::new()
            .with_timeout(settings.timeout)
            .with_connect_timeout(CONNECT_TIMEOUT);
        let mut builder = AmazonS3Builder::new()
            .with_region(&settings.region)
            .with_bucket_name(&settings.bucket)
            .with_access_key_id(&settings.access_key_id)
            .with_secret_access_key(&settings.secret_access_key)
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: MAX_RETRIES as usize,
                retry_timeout: settings.timeout,
            });
        if let Some(endpoint) = &settings.endpoint {
            let url = reqwest::Url::parse(endpoint)
                .map_err(|e| bad(format!("endpoint {endpoint:?}: {e}")))?;
            client = client.with_allow_http(url.scheme() == "http");
            let endpoint = if settings.path_style {
                endpoint.trim_end_matches('/').to_owned()
            } else {
                virtual_hosted(&url, &settings.bucket).map_err(bad)?
            };
            builder = builder
                .with_endpoint(endpoint)
                .with_virtual_hosted_style_request(!settings.path_style);
        } else {
            builder = builder.with_virtual_hosted_style_request(!settings.path_style);
        }
        let store = builder.with_client_options(client).build().map_err(|e| bad(e.to_string()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("baoming-storage")
            .enable_all()
            .build()
            .map_err(|e| bad(format!("starting its runtime: {e}")))?;
        let deadline = settings.timeout * (MAX_RETRIES + 1) + CONNECT_TIMEOUT;
        Ok(Self {
            store: Arc::new(store),
            prefix: settings.prefix.clone(),
            bucket: settings.bucket.clone(),
            deadline,
            runtime: Some(runtime),
        })
    }

    fn path(&self, key: &str) -> Result<ObjectPath, StorageError> {
        validate_key(key)?;
        let full = match &self.prefix {
            Some(prefix) => format!("{prefix}/{key}"),
            None => key.to_owned(),
        };
        ObjectPath::parse(full).map_err(|_| StorageError::BadKey { key: key.to_owned() })
    }

    /// Runs `op` on the storage's runtime and waits for it on this thread, bounded by the
    /// deadline.
    fn run<T: Send + 'static>(
        &self,
        key: &str,
        op: impl Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> Result<T, StorageError> {
        let unavailable =
            |message: String| StorageError::Unavailable { key: key.to_owned(), message };
        let Some(runtime) = &self.runtime else {
            return Err(unavailable("the storage client has stopped".into()));
        };
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let deadline = self.deadline;
        runtime.spawn(async move {
            let _ = tx.send(tokio::time::timeout(deadline, op).await);
        });
        match rx.recv() {
            Ok(Ok(Ok(value))) => Ok(value),
            Ok(Ok(Err(object_store::Error::NotFound { .. }))) => {
                Err(StorageError::NotFound { key: key.to_owned() })
            }
            Ok(Ok(Err(e))) => Err(unavailable(format!("bucket {:?}: {e}", self.bucket))),
            Ok(Err(_)) => Err(unavailable(format!(
                "bucket {:?}: no answer within {} s",
                self.bucket,
                deadline.as_secs()
            ))),
            Err(_) => Err(unavailable("the storage client has stopped".into())),
        }
    }
}

/// `https://oss-cn-hangzhou.aliyuncs.com` and `b` → `https://b.oss-cn-hangzhou.aliyuncs.com`.
fn virtual_hosted(url: &reqwest::Url, bucket: &str) -> Result<String, String> {
    let host = url.host_str().ok_or_else(|| format!("endpoint {url} has no host"))?;
    let mut url = url.clone();
    url.set_host(Some(&format!("{bucket}.{host}")))
        .map_err(|e| format!("endpoint {url} with bucket {bucket:?}: {e}"))?;
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl PhotoStorage for S3Storage {
    fn put(&self, key: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let (store, payload) = (self.store.clone(), PutPayload::from(bytes.to_vec()));
        match self.run(key, async move { store.put(&path, payload).await.map(drop) }) {
            // Nothing is "not found" about a write but the bucket itself.
            Err(StorageError::NotFound { .. }) => Err(StorageError::Unavailable {
                key: key.to_owned(),
                message: format!("bucket {:?} not found at the endpoint", self.bucket),
            }),
            other => other,
        }
    }

    fn get(&self, key: &str) -> Result<Vec<u8>, StorageError> {
        let path = self.path(key)?;
        let store = self.store.clone();
        self.run(key, async move {
            Ok::<_, object_store::Error>(store.get(&path).await?.bytes().await?.to_vec())
        })
    }

    fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path(key)?;
        let store = self.store.clone();
        // S3 answers a delete of a missing object with success: ask first, so a missing key is
        // NotFound as the interface says.
        self.run(key, async move {
            store.head(&path).await?;
            store.delete(&path).await
        })
    }
}

/// Test support: a fresh bucket on the S3-compatible server of
/// [`testing::S3_URL_VAR`] (CI starts moto there; see .ci/run).
pub mod testing {
    use super::S3Settings;

    /// The variable naming the test server (`http://127.0.0.1:9010`).
    pub const S3_URL_VAR: &str = "BAOMING_TEST_S3_URL";

    /// The test server's URL. Panics when [`S3_URL_VAR`] is not set: these tests need a server
    /// (like the PostgreSQL tests), they do not skip.
    #[must_use]
    pub fn server_url() -> String {
        std::env::var(S3_URL_VAR).unwrap_or_else(|_| {
            panic!(
                "{S3_URL_VAR} is not set: object storage tests need an S3-compatible server, e.g. \
                 `moto_server -p 9010` and {S3_URL_VAR}=http://127.0.0.1:9010 (see README)"
            )
        })
    }

    /// Creates a new bucket with a random name on the test server and returns settings for
    /// it (path-style, test credentials, `prefix`).
    #[must_use]
    pub fn new_bucket(prefix: Option<&str>) -> S3Settings {
        let url = server_url();
        let mut nonce = [0_u8; 8];
        getrandom::fill(&mut nonce).expect("random");
        let bucket = format!("baoming-test-{}", hex::encode(nonce));
        let create = format!("{}/{bucket}", url.trim_end_matches('/'));
        // On a thread of its own: the caller may be inside an async runtime.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let response =
                    reqwest::Client::new().put(&create).send().await.unwrap_or_else(|e| {
                        panic!("cannot reach the S3 test server {create}: {e}")
                    });
                assert!(response.status().is_success(), "creating {create}: {}", response.status());
            });
        })
        .join()
        .expect("bucket created");
        S3Settings {
            endpoint: Some(url),
            region: "us-east-1".into(),
            bucket,
            prefix: prefix.map(str::to_owned),
            path_style: true,
            access_key_id: "test".into(),
            secret_access_key: "test-secret".into(),
            timeout: std::time::Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosted_endpoints_put_the_bucket_in_the_host() {
        let url = reqwest::Url::parse("https://oss-cn-hangzhou.aliyuncs.com").expect("url");
        assert_eq!(
            virtual_hosted(&url, "photos-1").expect("host"),
            "https://photos-1.oss-cn-hangzhou.aliyuncs.com"
        );
        let url = reqwest::Url::parse("https://cos.ap-guangzhou.myqcloud.com:8443/").expect("url");
        assert_eq!(
            virtual_hosted(&url, "b-1250000000").expect("host"),
            "https://b-1250000000.cos.ap-guangzhou.myqcloud.com:8443"
        );
    }

    #[test]
    fn debug_leaves_the_secret_out() {
        let settings = S3Settings {
            endpoint: Some("http://127.0.0.1:1".into()),
            region: "us-east-1".into(),
            bucket: "b".into(),
            prefix: None,
            path_style: true,
            access_key_id: "AKID".into(),
            secret_access_key: "very-secret-value".into(),
            timeout: Duration::from_secs(1),
        };
        let shown = format!("{settings:?}");
        assert!(shown.contains("AKID") && !shown.contains("very-secret-value"), "{shown}");
        let storage = S3Storage::new(&settings).expect("client");
        let shown = format!("{storage:?}");
        assert!(shown.contains("\"b\"") && !shown.contains("very-secret-value"), "{shown}");
    }

    #[test]
    fn an_unreachable_endpoint_is_a_bounded_unavailable_error() {
        // Nothing listens on port 1 of loopback: refused at once, retried, then reported.
        let settings = S3Settings {
            endpoint: Some("http://127.0.0.1:1".into()),
            region: "us-east-1".into(),
            bucket: "b".into(),
            prefix: None,
            path_style: true,
            access_key_id: "AKID".into(),
            secret_access_key: "s".into(),
            timeout: Duration::from_secs(2),
        };
        let storage = S3Storage::new(&settings).expect("client");
        let started = std::time::Instant::now();
        let err = storage.get("photos/x.jpg").expect_err("nothing listens");
        assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
        assert_eq!(err.code(), "storage_unavailable");
        assert!(started.elapsed() < Duration::from_secs(15), "{:?}", started.elapsed());
        let err = check(&StorageSettings::S3(settings), &storage).expect_err("check fails");
        assert!(err.to_string().contains("bucket \"b\""), "{err}");
    }

    #[test]
    fn bad_prefixes_and_endpoints_are_refused() {
        let mut settings = S3Settings {
            endpoint: Some("not a url".into()),
            region: "us-east-1".into(),
            bucket: "b".into(),
            prefix: None,
            path_style: false,
            access_key_id: "AKID".into(),
            secret_access_key: "s".into(),
            timeout: Duration::from_secs(1),
        };
        assert!(S3Storage::new(&settings).is_err());
        settings.endpoint = None;
        settings.prefix = Some("../up".into());
        assert!(S3Storage::new(&settings).is_err());
    }
}
