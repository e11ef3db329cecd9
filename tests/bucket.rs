//! The lake on S3-compatible storage, against a real server on loopback
//! (`tests/common/s3.rs`). First, what the commit will rely on: the server
//! lets exactly one conditional write win.

mod common;

use std::sync::Arc;

use common::s3::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutPayload, UpdateVersion};

fn client(server: &S3Server, secret: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(&server.endpoint)
            .with_allow_http(true)
            .with_bucket_name(BUCKET)
            .with_region("us-east-1")
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(secret)
            .build()
            .expect("an S3 client"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_server_lets_exactly_one_conditional_write_win() {
    let server = S3Server::start();
    let store = client(&server, SECRET_KEY);
    for round in 0..5 {
        // Eight writers create the same manifest version at once.
        let key = Path::from(format!("_manifest/{round:020}.json"));
        let writers = (0..8).map(|w| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                let body = PutPayload::from(format!("writer {w}"));
                store.put_opts(&key, body, PutMode::Create.into()).await
            })
        });
        let results: Vec<_> = futures::future::join_all(writers)
            .await
            .into_iter()
            .map(|joined| joined.expect("a writer task"))
            .collect();
        let won: Vec<usize> = (0..results.len()).filter(|&w| results[w].is_ok()).collect();
        assert_eq!(won.len(), 1, "round {round}: {results:?}");
        for result in &results {
            if let Err(e) = result {
                assert!(
                    matches!(e, object_store::Error::AlreadyExists { .. }),
                    "round {round}: {e}"
                );
            }
        }
        let stored = store.get(&key).await.unwrap().bytes().await.unwrap();
        assert_eq!(stored, format!("writer {}", won[0]).as_bytes());
    }

    // An update from a version that is no longer the latest loses.
    let key = Path::from("_manifest/latest.json");
    let first = store.put(&key, PutPayload::from("one")).await.unwrap();
    let from = |e_tag: &Option<String>| {
        PutMode::Update(UpdateVersion {
            e_tag: e_tag.clone(),
            version: None,
        })
    };
    store
        .put_opts(&key, PutPayload::from("two"), from(&first.e_tag).into())
        .await
        .expect("an update from the latest version");
    let stale = store
        .put_opts(&key, PutPayload::from("three"), from(&first.e_tag).into())
        .await;
    assert!(
        matches!(stale, Err(object_store::Error::Precondition { .. })),
        "{stale:?}"
    );
    let stored = store.get(&key).await.unwrap().bytes().await.unwrap();
    assert_eq!(stored, "two".as_bytes());

    // The server checks signatures: a wrong secret reads nothing.
    let intruder = client(&server, "not-the-secret");
    assert!(intruder.get(&key).await.is_err());
}
