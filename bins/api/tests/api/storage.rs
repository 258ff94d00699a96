//! The api on S3-compatible object storage (moto in CI, at `BAOMING_TEST_S3_URL`): the files go
//! to the bucket, not to the data directory. In a module named `s3`, like the storage crate's
//! tests, so the suite without a server can leave it out (`just test-sqlite`).

mod s3 {
    use baoming_api::runtime::config::{RawStorage, StorageBackend};
    use baoming_api::runtime::storage::{S3Storage, testing};
    use baoming_domain::ids::PhotoId;
    use baoming_photos::storage::PhotoStorage;
    use reqwest::StatusCode;

    use crate::{TestApp, TestDb};

    #[actix_web::test]
    async fn photos_are_stored_in_the_bucket_and_read_back() {
        let bucket = testing::new_bucket(Some("e2e"));
        let raw_storage = RawStorage {
            backend: StorageBackend::S3,
            endpoint: bucket.endpoint.clone(),
            region: Some(bucket.region.clone()),
            bucket: Some(bucket.bucket.clone()),
            prefix: bucket.prefix.clone(),
            path_style: true,
            access_key_id: Some(bucket.access_key_id.clone()),
            secret_access_key: Some(bucket.secret_access_key.clone()),
            ..RawStorage::default()
        };
        let app = TestApp::spawn_with(TestDb::sqlite(), |raw| raw.storage = raw_storage).await;

        // The owner uploads and reads the normalised photo back.
        let (token, photo) = app.ready_participant(1).await;
        let url = format!("/api/v1/photos/{photo}");
        let res = app.http.get(app.url(&url)).bearer_auth(&token).send().await.expect("get");
        assert_eq!(res.status(), StatusCode::OK);
        let owner_jpeg = res.bytes().await.expect("bytes").to_vec();
        let decoded = image::load_from_memory(&owner_jpeg).expect("a JPEG");
        assert_eq!((decoded.width(), decoded.height()), (295, 413));
        let period = app.period(&token).await;
        let (status, body) = app
            .post("/api/v1/registrations", &token, crate::form(&period, &photo, 0, "full"))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let registration = body["id"].as_str().expect("id").to_owned();

        // Staff read the same file.
        let staff = app.staff("reviewer1", "reviewer").await;
        let res = app
            .http
            .get(app.url(&format!("/api/v1/admin/registrations/{registration}/photo")))
            .header("cookie", &staff.cookie)
            .send()
            .await
            .expect("get");
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.bytes().await.expect("bytes").to_vec(), owner_jpeg);

        // Both files are objects in the bucket, under the prefix; none is in the data directory.
        let photo_id: PhotoId = photo.parse().expect("photo id");
        let row = baoming_store::photos::get(&mut app.conn(), photo_id).expect("photo row");
        let whole =
            S3Storage::new(&baoming_api::runtime::storage::S3Settings { prefix: None, ..bucket })
                .expect("client");
        let (normalized, original) = actix_web::web::block(move || {
            (
                whole.get(&format!("e2e/{}", row.normalized_key)),
                whole.get(&format!("e2e/{}", row.original_key)),
            )
        })
        .await
        .expect("joined");
        assert_eq!(normalized.expect("normalised JPEG in the bucket"), owner_jpeg);
        assert!(!original.expect("original in the bucket").is_empty());
        assert!(!app.data_dir().join("files").exists(), "nothing written to <data_dir>/files");
    }

    #[actix_web::test]
    async fn a_wrong_bucket_stops_the_start_naming_it() {
        let bucket = testing::new_bucket(None);
        let mut raw = baoming_api::runtime::config::RawConfig {
            listen: "127.0.0.1:0".into(),
            ..Default::default()
        };
        let data = tempfile::tempdir().expect("data dir");
        raw.data_dir = data.path().to_path_buf();
        raw.wechat.simulator_listen = "127.0.0.1:0".into();
        raw.wechatpay.simulator_listen = "127.0.0.1:0".into();
        raw.storage = RawStorage {
            backend: StorageBackend::S3,
            endpoint: bucket.endpoint.clone(),
            region: Some(bucket.region.clone()),
            bucket: Some(format!("{}-missing", bucket.bucket)),
            path_style: true,
            access_key_id: Some(bucket.access_key_id.clone()),
            secret_access_key: Some(bucket.secret_access_key.clone()),
            ..RawStorage::default()
        };
        let settings = raw.validate().expect("settings");
        let Err(err) = baoming_api::start(settings).await else {
            panic!("started on a missing bucket");
        };
        let message = err.to_string();
        assert!(message.contains(&format!("{}-missing", bucket.bucket)), "{message}");
        assert!(!message.contains(&bucket.secret_access_key), "{message}");
    }
}
