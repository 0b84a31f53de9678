//! The short-lived-store conformance suite, generated once per backend by `short_lived_tests!`
//! (e.g. `short_lived::on_redis::take_is_exactly_once`). Keys are random, so tests sharing one
//! Redis never meet.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::store::ShortLivedStore;
use gatehouse_testkit::{ShortLivedBackend, ShortLivedKind};

fn key(what: &str) -> String {
    gatehouse_testkit::fixtures::unique_id(&format!("gh-test:{what}"))
}

const SHORT: Duration = Duration::from_millis(300);
/// Comfortably past `SHORT`, for timers on a loaded machine.
const PAST_SHORT: Duration = Duration::from_millis(600);
const LONG: Duration = Duration::from_secs(60);

async fn run<F, Fut>(kind: ShortLivedKind, test: F)
where
    F: FnOnce(Arc<dyn ShortLivedStore>) -> Fut,
    Fut: Future<Output = ()>,
{
    match gatehouse_testkit::short_lived_backend(kind).await {
        Some(ShortLivedBackend { store, .. }) => test(store).await,
        None => eprintln!("skipped: {} is not configured", kind.name()),
    }
}

macro_rules! short_lived_tests {
    ($($tests:tt)*) => {
        short_lived_tests_for!(on_memory, ShortLivedKind::Memory, $($tests)*);
        short_lived_tests_for!(on_redis, ShortLivedKind::Redis, $($tests)*);
    };
}

macro_rules! short_lived_tests_for {
    ($kind_mod:ident, $kind:expr, $($test:ident),* $(,)?) => {
        mod $kind_mod {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    run($kind, super::$test).await;
                }
            )*
        }
    };
}

short_lived_tests!(
    ping_names_the_backend,
    values_expire_after_their_ttl,
    put_replaces_and_delete_reports,
    get_many_answers_in_the_order_asked,
    put_new_stores_only_when_free,
    take_is_exactly_once,
    counters_count_within_a_fixed_window,
    sets_collect_members_until_taken,
    set_ttl_is_extended_never_shortened,
);

async fn ping_names_the_backend(store: Arc<dyn ShortLivedStore>) {
    store.ping().await.unwrap();
    assert!(["memory", "redis"].contains(&store.backend()));
}

async fn values_expire_after_their_ttl(store: Arc<dyn ShortLivedStore>) {
    let (short, long) = (key("short"), key("long"));
    store.put(&short, b"code", SHORT).await.unwrap();
    store.put(&long, b"session", LONG).await.unwrap();
    assert_eq!(
        store.get(&short).await.unwrap().as_deref(),
        Some(&b"code"[..])
    );
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(store.get(&short).await.unwrap(), None);
    assert_eq!(store.take(&short).await.unwrap(), None);
    assert!(!store.delete(&short).await.unwrap());
    assert_eq!(
        store.get(&long).await.unwrap().as_deref(),
        Some(&b"session"[..])
    );
}

async fn put_replaces_and_delete_reports(store: Arc<dyn ShortLivedStore>) {
    let k = key("put");
    assert_eq!(store.get(&k).await.unwrap(), None);
    store.put(&k, b"one", LONG).await.unwrap();
    store.put(&k, &[0, 159, 146, 150, 255], LONG).await.unwrap();
    assert_eq!(
        store.get(&k).await.unwrap(),
        Some(vec![0, 159, 146, 150, 255]),
        "binary values round-trip"
    );
    // Replacing also replaces the TTL.
    store.put(&k, b"brief", SHORT).await.unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(store.get(&k).await.unwrap(), None);

    store.put(&k, b"x", LONG).await.unwrap();
    assert!(store.delete(&k).await.unwrap());
    assert!(!store.delete(&k).await.unwrap());
    assert_eq!(store.get(&k).await.unwrap(), None);
}

async fn get_many_answers_in_the_order_asked(store: Arc<dyn ShortLivedStore>) {
    let (a, b, missing, expired) = (key("many-a"), key("many-b"), key("many-x"), key("many-e"));
    store.put(&a, b"first", LONG).await.unwrap();
    store.put(&b, &[0, 255], LONG).await.unwrap();
    store.put(&expired, b"gone", SHORT).await.unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    let keys = [b.clone(), missing, a.clone(), expired, b];
    assert_eq!(
        store.get_many(&keys).await.unwrap(),
        vec![
            Some(vec![0, 255]),
            None,
            Some(b"first".to_vec()),
            None,
            Some(vec![0, 255]),
        ]
    );
    assert_eq!(
        store.get_many(&[]).await.unwrap(),
        Vec::<Option<Vec<u8>>>::new()
    );
}

async fn put_new_stores_only_when_free(store: Arc<dyn ShortLivedStore>) {
    let k = key("put-new");
    assert!(store.put_new(&k, b"first", SHORT).await.unwrap());
    assert!(!store.put_new(&k, b"second", LONG).await.unwrap());
    assert_eq!(store.get(&k).await.unwrap().as_deref(), Some(&b"first"[..]));
    tokio::time::sleep(PAST_SHORT).await;
    assert!(
        store.put_new(&k, b"third", LONG).await.unwrap(),
        "an expired key is free"
    );
    assert_eq!(store.get(&k).await.unwrap().as_deref(), Some(&b"third"[..]));

    // Of many concurrent writers exactly one wins.
    let race = key("put-new-race");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..20u8 {
        let (store, race) = (store.clone(), race.clone());
        tasks.spawn(async move { store.put_new(&race, &[i], LONG).await.unwrap() });
    }
    let winners = tasks
        .join_all()
        .await
        .into_iter()
        .filter(|won| *won)
        .count();
    assert_eq!(winners, 1);
}

async fn take_is_exactly_once(store: Arc<dyn ShortLivedStore>) {
    let k = key("code");
    store
        .put(&k, b"authorization-code-record", LONG)
        .await
        .unwrap();
    let start = Arc::new(tokio::sync::Barrier::new(50));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let (store, k, start) = (store.clone(), k.clone(), start.clone());
        tasks.spawn(async move {
            start.wait().await;
            store.take(&k).await.unwrap()
        });
    }
    let taken: Vec<Vec<u8>> = tasks.join_all().await.into_iter().flatten().collect();
    assert_eq!(
        taken,
        vec![b"authorization-code-record".to_vec()],
        "exactly one of 50 takers gets the value"
    );
    assert_eq!(store.get(&k).await.unwrap(), None);
    assert_eq!(store.take(&k).await.unwrap(), None);
}

async fn counters_count_within_a_fixed_window(store: Arc<dyn ShortLivedStore>) {
    let k = key("failed-logins");
    for expected in 1..=3 {
        assert_eq!(store.increment(&k, SHORT).await.unwrap(), expected);
    }
    // Later increments do not push the window out.
    tokio::time::sleep(SHORT / 2).await;
    assert_eq!(store.increment(&k, SHORT).await.unwrap(), 4);
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        store.increment(&k, SHORT).await.unwrap(),
        1,
        "a new window starts from one"
    );

    let busy = key("busy");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let (store, busy) = (store.clone(), busy.clone());
        tasks.spawn(async move { store.increment(&busy, LONG).await.unwrap() });
    }
    let counts: BTreeSet<u64> = tasks.join_all().await.into_iter().collect();
    assert_eq!(
        counts,
        (1..=25).collect(),
        "concurrent increments are not lost"
    );
}

async fn sets_collect_members_until_taken(store: Arc<dyn ShortLivedStore>) {
    let k = key("grant-index");
    assert!(store.set_take(&k).await.unwrap().is_empty());
    for member in ["at1", "at2", "at1", "at3"] {
        store.set_add(&k, member, LONG).await.unwrap();
    }
    let members: BTreeSet<String> = store.set_take(&k).await.unwrap().into_iter().collect();
    assert_eq!(
        members,
        ["at1", "at2", "at3"]
            .map(String::from)
            .into_iter()
            .collect()
    );
    assert!(
        store.set_take(&k).await.unwrap().is_empty(),
        "taking removes the set"
    );

    let brief = key("brief-index");
    store.set_add(&brief, "at1", SHORT).await.unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    assert!(
        store.set_take(&brief).await.unwrap().is_empty(),
        "the set expired"
    );
}

async fn set_ttl_is_extended_never_shortened(store: Arc<dyn ShortLivedStore>) {
    let extended = key("extended");
    store.set_add(&extended, "a", SHORT).await.unwrap();
    store.set_add(&extended, "b", LONG).await.unwrap();
    let shortened = key("not-shortened");
    store.set_add(&shortened, "a", LONG).await.unwrap();
    store.set_add(&shortened, "b", SHORT).await.unwrap();
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(store.set_take(&extended).await.unwrap().len(), 2);
    assert_eq!(store.set_take(&shortened).await.unwrap().len(), 2);
}
