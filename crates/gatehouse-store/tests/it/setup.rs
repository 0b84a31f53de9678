//! Constructors: URL dispatch, migrations, and refusing what cannot work.

use std::time::{Duration, Instant};

use gatehouse_store::{SetupError, connect_durable, connect_short_lived, migrate};

#[tokio::test]
async fn migrating_a_new_sqlite_file_creates_it_and_its_directory_once() {
    let dir = tempfile_dir();
    let url = format!("sqlite://{}/data/gatehouse.db", dir.display());
    assert_eq!(migrate(&url).await.unwrap(), 1);
    assert_eq!(
        migrate(&url).await.unwrap(),
        0,
        "running it twice is a no-op"
    );
    let store = connect_durable(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.ping().await.unwrap();
    assert!(store.list_scopes().await.unwrap().is_empty());
    drop(store);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn in_memory_sqlite_is_migrated_on_connect() {
    let store = connect_durable("sqlite::memory:").await.unwrap();
    store
        .create_client(&gatehouse_testkit::fixtures::client("app"))
        .await
        .unwrap();
    assert!(store.get_client("app").await.unwrap().is_some());
}

#[tokio::test]
async fn the_memory_store_is_the_default_short_lived_store() {
    let store = connect_short_lived(None).await.unwrap();
    assert_eq!(store.backend(), "memory");
}

#[tokio::test]
async fn unsupported_urls_are_refused_without_leaking_passwords() {
    let err = connect_durable("mysql://root:hunter2@db/gatehouse")
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SetupError::UnsupportedUrl(_)), "{err}");
    assert!(!err.to_string().contains("hunter2"), "{err}");
    assert!(matches!(
        migrate("http://example.com").await,
        Err(SetupError::UnsupportedUrl(_))
    ));
    let err = connect_short_lived(Some("memcached://x"))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, SetupError::UnsupportedUrl(_)), "{err}");
}

#[tokio::test]
async fn unreachable_servers_fail_at_connect_promptly() {
    // Port 1 on loopback: nothing listens, so connections are refused.
    let started = Instant::now();
    let err = connect_durable("postgres://gatehouse:hunter2@127.0.0.1:1/gatehouse")
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            SetupError::Connect {
                backend: "postgres",
                ..
            }
        ),
        "{err}"
    );
    assert!(!err.to_string().contains("hunter2"), "{err}");
    let err = connect_short_lived(Some("redis://127.0.0.1:1"))
        .await
        .err()
        .unwrap();
    assert!(
        matches!(
            err,
            SetupError::Connect {
                backend: "redis",
                ..
            }
        ),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(12),
        "took {:?}",
        started.elapsed()
    );
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(gatehouse_testkit::fixtures::unique_id("gatehouse-setup"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
