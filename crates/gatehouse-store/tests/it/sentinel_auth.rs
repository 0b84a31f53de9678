//! Sentinels that require credentials of their own (Sentinel's `requirepass`, or an ACL user on
//! the Sentinels), named in the URL's query: `?sentinel_username=…&sentinel_password=…`. The test
//! kit's Sentinels admit only such a user, whose password needs percent-encoding; the
//! conformance suite and the failover test run through them as well. Here: what happens without
//! them or with a wrong password (refused at start-up, no password in the message), and that
//! Sentinels without a password still take today's URLs.

use std::time::Duration;

use gatehouse_core::store::ShortLivedStore as _;
use gatehouse_store::RedisStore;
use gatehouse_testkit::redis_servers::{RedisSentinel, SentinelAuth};

async fn put_and_take(store: &RedisStore, key: &str) {
    store
        .put(key, b"behind sentinel", Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(
        store.take(key).await.unwrap().as_deref(),
        Some(&b"behind sentinel"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinels_that_require_a_password_are_reached_only_with_the_urls_credentials() {
    let Some(setup) = RedisSentinel::start("the Sentinel password test").await else {
        return;
    };
    let url = setup.url();
    assert!(url.contains("?sentinel_username="), "{url}");

    let store = RedisStore::connect(&url).await.unwrap();
    put_and_take(&store, "gh-test:sentinel-auth").await;

    // Without the Sentinels' credentials: the Sentinels refuse to say where the master is.
    let (without, _) = url.split_once('?').unwrap();
    let err = RedisStore::connect(without)
        .await
        .expect_err("Sentinels that require a password refuse a client without one")
        .to_string();
    assert!(err.contains("sentinel_password"), "a hint: {err}");
    assert!(
        !err.contains("s3cr@t") && !err.contains("s3cr%40t"),
        "{err}"
    );

    // A wrong Sentinel password: refused, and neither password appears in the message.
    let wrong = url.replace(
        "sentinel_password=snt%26l%3Dp%2Bw",
        "sentinel_password=wr0ng-pw",
    );
    assert_ne!(wrong, url);
    let err = RedisStore::connect(&wrong)
        .await
        .expect_err("a wrong Sentinel password is refused")
        .to_string();
    for secret in ["wr0ng-pw", "s3cr@t", "s3cr%40t", "snt&l", "snt%26l"] {
        assert!(!err.contains(secret), "{secret} in {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_sentinels_still_take_urls_without_sentinel_credentials() {
    let Some(setup) =
        RedisSentinel::start_with("the open Sentinel test", None, SentinelAuth::Open).await
    else {
        return;
    };
    let url = setup.url();
    assert!(!url.contains('?'), "{url}");
    let store = RedisStore::connect(&url).await.unwrap();
    put_and_take(&store, "gh-test:sentinel-open").await;
}
