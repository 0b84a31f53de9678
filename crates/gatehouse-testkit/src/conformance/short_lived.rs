//! The short-lived-store conformance suite: what every adapter of
//! [`ShortLivedStore`] must do. Each test function takes a store and the [`Clock`] its entries
//! expire by; [`short_lived_store_conformance!`](crate::short_lived_store_conformance) generates
//! one `#[tokio::test]` per function for one adapter. Keys are random, so tests sharing one Redis
//! never meet.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use gatehouse_core::store::ShortLivedStore;

use crate::ShortLivedBackend;

fn key(what: &str) -> String {
    crate::fixtures::unique_id(&format!("gh-test:{what}"))
}

const SHORT: Duration = Duration::from_millis(300);
/// Comfortably past `SHORT`, for timers on a loaded machine.
const PAST_SHORT: Duration = Duration::from_millis(600);
const LONG: Duration = Duration::from_secs(60);

/// How a test lets time pass until entries expire: the clock the adapter's expiry reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The store expires entries by tokio's clock ([`tokio::time::Instant`]), which the test
    /// runs paused (`#[tokio::test(start_paused = true)]`) and moves forward with
    /// [`tokio::time::advance`]: no test waits for real time (the in-memory store).
    Paused,
    /// The store's server keeps its own time (Redis), so the test really sleeps.
    Real,
}

impl Clock {
    /// Lets `duration` pass for the store.
    pub async fn pass(self, duration: Duration) {
        match self {
            Self::Paused => tokio::time::advance(duration).await,
            Self::Real => tokio::time::sleep(duration).await,
        }
    }
}

/// Runs one conformance test on the store `backend` opens; `None` (a backend this run does not
/// configure, never in CI) skips it with a line on stderr.
pub async fn run<B, F, Fut>(adapter: &str, backend: B, clock: Clock, test: F)
where
    B: Future<Output = Option<ShortLivedBackend>>,
    F: FnOnce(Arc<dyn ShortLivedStore>, Clock) -> Fut,
    Fut: Future<Output = ()>,
{
    match backend.await {
        Some(backend) => test(backend.store, clock).await,
        None => crate::skipped(adapter, "its backend"),
    }
}

/// Generates the whole short-lived-store conformance suite for one adapter, as a module
/// `$adapter` with one `#[tokio::test]` per conformance test (e.g. `on_redis::take_is_exactly_once`).
///
/// The clock is `paused_clock` for a store that expires entries by tokio's clock (the in-memory
/// store): the tests that wait for expiry run on tokio's paused clock and advance it, so they
/// take no real time; or `real_clock` for a store whose server keeps its own time (Redis): they
/// sleep. The tests that do not wait for expiry run on a multi-threaded runtime either way, so
/// concurrent callers really race.
///
/// `$backend` is an expression of type `impl Future<Output = Option<ShortLivedBackend>>`,
/// evaluated anew in every test: e.g. `gatehouse_testkit::short_lived_backend(ShortLivedKind::Redis)`
/// or a function of the calling module that wraps one (the generated module sees the caller's
/// items through `use super::*`). `None` skips the test (never in CI).
///
/// ```ignore
/// gatehouse_testkit::short_lived_store_conformance!(on_memory, paused_clock, short_lived_backend(ShortLivedKind::Memory));
/// ```
///
/// The caller needs `tokio` with the `test-util` feature (for the paused clock) as a dependency
/// of its tests.
#[macro_export]
macro_rules! short_lived_store_conformance {
    (@suite $adapter:ident, $backend:expr, $clock:ident, [$($timed:tt)*]) => {
        $crate::__short_lived_store_conformance!(
            $adapter,
            $backend,
            $clock,
            timed [$($timed)*]: [
                values_expire_after_their_ttl,
                put_replaces_and_delete_reports,
                get_many_answers_in_the_order_asked,
                put_new_stores_only_when_free,
                counters_count_within_a_fixed_window,
                sets_collect_members_until_taken,
                set_ttl_is_extended_never_shortened,
                set_members_are_read_and_removed_one_by_one,
            ],
            untimed [tokio::test(flavor = "multi_thread", worker_threads = 2)]: [
                ping_names_the_backend,
                take_is_exactly_once,
            ],
        );
    };
    ($adapter:ident, paused_clock, $backend:expr $(,)?) => {
        $crate::short_lived_store_conformance!(@suite $adapter, $backend, Paused,
            [tokio::test(start_paused = true)]);
    };
    ($adapter:ident, real_clock, $backend:expr $(,)?) => {
        $crate::short_lived_store_conformance!(@suite $adapter, $backend, Real,
            [tokio::test(flavor = "multi_thread", worker_threads = 2)]);
    };
}

/// The expansion of [`short_lived_store_conformance!`]; not to be called directly.
#[doc(hidden)]
#[macro_export]
macro_rules! __short_lived_store_conformance {
    (
        $adapter:ident,
        $backend:expr,
        $clock:ident,
        $(
            $_kind:ident [$attr:meta]: [$($test:ident),* $(,)?]
        ),* $(,)?
    ) => {
        mod $adapter {
            #[allow(unused_imports)]
            use super::*;
            $($(
                #[$attr]
                async fn $test() {
                    $crate::conformance::short_lived::run(
                        concat!(module_path!(), "::", stringify!($test)),
                        $backend,
                        $crate::conformance::short_lived::Clock::$clock,
                        $crate::conformance::short_lived::$test,
                    )
                    .await;
                }
            )*)*
        }
    };
}

pub async fn ping_names_the_backend(store: Arc<dyn ShortLivedStore>, _clock: Clock) {
    store.ping().await.unwrap();
    assert!(["memory", "redis"].contains(&store.backend()));
}

pub async fn values_expire_after_their_ttl(store: Arc<dyn ShortLivedStore>, clock: Clock) {
    let (short, long) = (key("short"), key("long"));
    store.put(&short, b"code", SHORT).await.unwrap();
    store.put(&long, b"session", LONG).await.unwrap();
    assert_eq!(
        store.get(&short).await.unwrap().as_deref(),
        Some(&b"code"[..])
    );
    clock.pass(PAST_SHORT).await;
    assert_eq!(store.get(&short).await.unwrap(), None);
    assert_eq!(store.take(&short).await.unwrap(), None);
    assert!(!store.delete(&short).await.unwrap());
    assert_eq!(
        store.get(&long).await.unwrap().as_deref(),
        Some(&b"session"[..])
    );
}

pub async fn put_replaces_and_delete_reports(store: Arc<dyn ShortLivedStore>, clock: Clock) {
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
    clock.pass(PAST_SHORT).await;
    assert_eq!(store.get(&k).await.unwrap(), None);

    store.put(&k, b"x", LONG).await.unwrap();
    assert!(store.delete(&k).await.unwrap());
    assert!(!store.delete(&k).await.unwrap());
    assert_eq!(store.get(&k).await.unwrap(), None);
}

pub async fn get_many_answers_in_the_order_asked(store: Arc<dyn ShortLivedStore>, clock: Clock) {
    let (a, b, missing, expired) = (key("many-a"), key("many-b"), key("many-x"), key("many-e"));
    store.put(&a, b"first", LONG).await.unwrap();
    store.put(&b, &[0, 255], LONG).await.unwrap();
    store.put(&expired, b"gone", SHORT).await.unwrap();
    clock.pass(PAST_SHORT).await;
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

pub async fn put_new_stores_only_when_free(store: Arc<dyn ShortLivedStore>, clock: Clock) {
    let k = key("put-new");
    assert!(store.put_new(&k, b"first", SHORT).await.unwrap());
    assert!(!store.put_new(&k, b"second", LONG).await.unwrap());
    assert_eq!(store.get(&k).await.unwrap().as_deref(), Some(&b"first"[..]));
    clock.pass(PAST_SHORT).await;
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

pub async fn take_is_exactly_once(store: Arc<dyn ShortLivedStore>, _clock: Clock) {
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

pub async fn counters_count_within_a_fixed_window(store: Arc<dyn ShortLivedStore>, clock: Clock) {
    let k = key("failed-logins");
    for expected in 1..=3 {
        assert_eq!(store.increment(&k, SHORT).await.unwrap(), expected);
    }
    // Later increments do not push the window out.
    clock.pass(SHORT / 2).await;
    assert_eq!(store.increment(&k, SHORT).await.unwrap(), 4);
    clock.pass(PAST_SHORT).await;
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

pub async fn sets_collect_members_until_taken(store: Arc<dyn ShortLivedStore>, clock: Clock) {
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
    clock.pass(PAST_SHORT).await;
    assert!(
        store.set_take(&brief).await.unwrap().is_empty(),
        "the set expired"
    );
}

pub async fn set_members_are_read_and_removed_one_by_one(
    store: Arc<dyn ShortLivedStore>,
    clock: Clock,
) {
    let k = key("session-index");
    assert!(store.set_members(&k).await.unwrap().is_empty());
    assert!(
        !store.set_remove(&k, "s1").await.unwrap(),
        "no set, nothing removed"
    );
    for member in ["s1", "s2", "s3"] {
        store.set_add(&k, member, LONG).await.unwrap();
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(store.set_members(&k).await.unwrap()),
        ["s1", "s2", "s3"],
        "reading leaves the set"
    );
    assert_eq!(sorted(store.set_members(&k).await.unwrap()).len(), 3);
    assert!(store.set_remove(&k, "s2").await.unwrap());
    assert!(!store.set_remove(&k, "s2").await.unwrap(), "removed once");
    assert!(!store.set_remove(&k, "s9").await.unwrap(), "never a member");
    assert_eq!(sorted(store.set_members(&k).await.unwrap()), ["s1", "s3"]);
    assert_eq!(
        sorted(store.set_take(&k).await.unwrap()),
        ["s1", "s3"],
        "taking sees what is left"
    );

    let brief = key("brief-session-index");
    store.set_add(&brief, "s1", SHORT).await.unwrap();
    clock.pass(PAST_SHORT).await;
    assert!(
        store.set_members(&brief).await.unwrap().is_empty(),
        "the set expired"
    );
    assert!(!store.set_remove(&brief, "s1").await.unwrap());
}

pub async fn set_ttl_is_extended_never_shortened(store: Arc<dyn ShortLivedStore>, clock: Clock) {
    let extended = key("extended");
    store.set_add(&extended, "a", SHORT).await.unwrap();
    store.set_add(&extended, "b", LONG).await.unwrap();
    let shortened = key("not-shortened");
    store.set_add(&shortened, "a", LONG).await.unwrap();
    store.set_add(&shortened, "b", SHORT).await.unwrap();
    clock.pass(PAST_SHORT).await;
    assert_eq!(store.set_take(&extended).await.unwrap().len(), 2);
    assert_eq!(store.set_take(&shortened).await.unwrap().len(), 2);
}
