//! The S3 backend against a real S3-compatible server (moto in CI, at `BAOMING_TEST_S3_URL`):
//! every test makes a bucket of its own. The tests are in a module named `s3` so the suite
//! without a server can leave them out (`just test-sqlite`).

mod s3 {
    use std::sync::Arc;

    use baoming_photos::storage::{PhotoStorage, StorageError};
    use baoming_runtime::storage::{self, S3Settings, S3Storage, StorageSettings, testing};

    fn storage(prefix: Option<&str>) -> (S3Storage, S3Settings) {
        let settings = testing::new_bucket(prefix);
        (S3Storage::new(&settings).expect("client"), settings)
    }

    #[test]
    fn put_get_overwrite_delete() {
        let (s, _) = storage(None);
        let key = "photos/0f3a9c/normalized.jpg";
        assert!(matches!(s.get(key), Err(StorageError::NotFound { .. })));
        s.put(key, b"first").expect("put");
        assert_eq!(s.get(key).expect("get"), b"first");
        s.put(key, b"second, longer").expect("overwrite");
        assert_eq!(s.get(key).expect("get"), b"second, longer");
        let big: Vec<u8> = (0..3_000_000_u32).map(|i| (i % 251) as u8).collect();
        s.put("tickets/1/2.pdf", &big).expect("put 3 MB");
        assert_eq!(s.get("tickets/1/2.pdf").expect("get 3 MB"), big);
        s.delete(key).expect("delete");
        assert!(matches!(s.get(key), Err(StorageError::NotFound { .. })));
        assert!(matches!(s.delete(key), Err(StorageError::NotFound { .. })));
        // An empty file is a file.
        s.put("photos/empty", b"").expect("put empty");
        assert_eq!(s.get("photos/empty").expect("get empty"), b"");
    }

    #[test]
    fn bad_keys_are_refused_before_any_request() {
        let (s, _) = storage(None);
        for key in ["", "/abs", "a//b", "../up", "a/./b", "A.jpg", "a b", ".hidden"] {
            assert!(matches!(s.put(key, b"x"), Err(StorageError::BadKey { .. })), "{key:?}");
            assert!(matches!(s.get(key), Err(StorageError::BadKey { .. })), "{key:?}");
            assert!(matches!(s.delete(key), Err(StorageError::BadKey { .. })), "{key:?}");
        }
    }

    #[test]
    fn prefixes_keep_instances_apart() {
        let (a, settings) = storage(Some("site-a"));
        let b = S3Storage::new(&S3Settings { prefix: Some("site-b".into()), ..settings.clone() })
            .expect("client");
        let whole = S3Storage::new(&S3Settings { prefix: None, ..settings }).expect("client");
        a.put("photos/1/normalized.jpg", b"a").expect("put");
        assert!(matches!(b.get("photos/1/normalized.jpg"), Err(StorageError::NotFound { .. })));
        // The object is at <prefix>/<key> in the bucket.
        assert_eq!(whole.get("site-a/photos/1/normalized.jpg").expect("under the prefix"), b"a");
        assert!(matches!(whole.get("photos/1/normalized.jpg"), Err(StorageError::NotFound { .. })));
        assert!(matches!(b.delete("photos/1/normalized.jpg"), Err(StorageError::NotFound { .. })));
        assert_eq!(a.get("photos/1/normalized.jpg").expect("still there"), b"a");
    }

    #[test]
    fn the_startup_check_passes_and_leaves_nothing() {
        let settings = testing::new_bucket(Some("p"));
        let config = StorageSettings::S3(settings.clone());
        let s = storage::open(&config).expect("open");
        storage::check(&config, s.as_ref()).expect("check passes");
        let whole = S3Storage::new(&S3Settings { prefix: None, ..settings }).expect("client");
        // The probe is deleted (its name is random: what is left would be under the prefix).
        assert!(matches!(whole.get("p/startup-check"), Err(StorageError::NotFound { .. })));
    }

    #[test]
    fn a_missing_bucket_fails_the_startup_check_naming_it() {
        let mut settings = testing::new_bucket(None);
        settings.bucket = format!("{}-missing", settings.bucket);
        let config = StorageSettings::S3(settings.clone());
        let s = storage::open(&config).expect("open (no request yet)");
        let err = storage::check(&config, s.as_ref()).expect_err("no such bucket");
        assert!(err.to_string().contains(&settings.bucket), "{err}");
        assert!(matches!(s.put("a", b"x"), Err(StorageError::Unavailable { .. })));
    }

    /// The callers' contexts: actix's and tokio's blocking pools, plain threads (the worker's
    /// rendering threads), and, though callers should not, an async task itself; and the
    /// storage dropped inside a runtime (the api's state is).
    #[test]
    fn works_from_every_callers_context() {
        let (s, _) = storage(None);
        let s: Arc<dyn PhotoStorage> = Arc::new(s);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let from_blocking = s.clone();
        runtime.block_on(async move {
            tokio::task::spawn_blocking(move || from_blocking.put("a/blocking", b"1"))
                .await
                .expect("joined")
                .expect("put from spawn_blocking");
        });
        let in_task = s.clone();
        runtime.block_on(async move {
            // Blocks this task's thread for the request, but must not panic.
            assert_eq!(in_task.get("a/blocking").expect("get inside an async task"), b"1");
        });
        let current = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("current-thread runtime");
        let on_current = s.clone();
        current.block_on(async move {
            on_current.put("a/current", b"2").expect("put inside a current-thread runtime");
        });
        std::thread::scope(|scope| {
            for n in 0..4 {
                let s = &s;
                scope.spawn(move || {
                    let key = format!("a/thread-{n}");
                    s.put(&key, n.to_string().as_bytes()).expect("put from a thread");
                    assert_eq!(s.get(&key).expect("get"), n.to_string().as_bytes());
                });
            }
        });
        // The last reference dropped inside an async task.
        current.block_on(async move { drop(s) });
    }
}
