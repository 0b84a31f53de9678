//! Outages: a store whose server goes away must fail fast with `Unavailable` (so requests and
//! readiness probes answer instead of hanging), and recover by itself when the server returns.

use std::time::{Duration, Instant};

use gatehouse_core::store::StoreError;
use gatehouse_testkit::DurableKind;

use crate::proxy::{TcpProxy, upstream_of, via};

/// Retries `ping` until it succeeds; panics after `within`.
macro_rules! await_recovery {
    ($store:expr, $within:expr) => {{
        let deadline = Instant::now() + $within;
        loop {
            match $store.ping().await {
                Ok(()) => break,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => panic!("did not recover: {e}"),
            }
        }
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_outage_fails_fast_and_recovers() {
    let Some(redis_url) = gatehouse_testkit::redis_url() else {
        gatehouse_testkit::skipped("redis_outage_fails_fast_and_recovers", "redis");
        return;
    };
    let mut proxy = TcpProxy::start(upstream_of(&redis_url, 6379).await).await;
    let store = gatehouse_store::RedisStore::connect(&via(&redis_url, &proxy))
        .await
        .unwrap();
    use gatehouse_core::store::ShortLivedStore as _;
    store.ping().await.unwrap();

    proxy.cut().await;
    for _ in 0..3 {
        let started = Instant::now();
        let result = store.ping().await;
        assert!(
            matches!(
                result,
                Err(StoreError::Unavailable {
                    backend: "redis",
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "took {:?}",
            started.elapsed()
        );
    }
    let started = Instant::now();
    let result = store
        .put("gh-test:outage", b"x", Duration::from_secs(1))
        .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable { .. })),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "took {:?}",
        started.elapsed()
    );

    proxy.restore().await;
    await_recovery!(store, Duration::from_secs(10));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_fails_fast_and_recovers() {
    let Some(backend) = gatehouse_testkit::durable_backend(DurableKind::Postgres).await else {
        gatehouse_testkit::skipped("postgres_outage_fails_fast_and_recovers", "postgres");
        return;
    };
    let mut proxy = TcpProxy::start(upstream_of(&backend.url, 5432).await).await;
    let store = gatehouse_store::connect_durable(&via(&backend.url, &proxy))
        .await
        .unwrap();
    store.ping().await.unwrap();
    store
        .create_client(&gatehouse_testkit::fixtures::client("before-outage"))
        .await
        .unwrap();

    proxy.cut().await;
    let started = Instant::now();
    let result = store.ping().await;
    assert!(
        matches!(
            result,
            Err(StoreError::Unavailable {
                backend: "postgres",
                ..
            })
        ),
        "{result:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );

    proxy.restore().await;
    await_recovery!(store, Duration::from_secs(15));
    assert!(store.get_client("before-outage").await.unwrap().is_some());
}
