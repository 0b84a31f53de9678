//! Failovers under load: the master holding a running flow's keys is killed (`SIGKILL`) while
//! writes go on. Requests may fail only during the failover window, which is bounded; the store
//! recovers by itself, without a panic; and what was acknowledged before the kill is still there
//! on the promoted replica, except what Redis's asynchronous replication had not yet shipped
//! (reported: keys lost, and how long before the kill they were acknowledged).

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_core::store::ShortLivedStore;
use gatehouse_testkit::redis_servers::{RedisCluster, RedisSentinel};

/// How long writes may fail after the kill: failure detection (1 s node timeout or
/// `down-after-milliseconds`), the election and promotion, and the client's rediscovery.
const FAILOVER_BOUND: Duration = Duration::from_secs(15);
/// Writes acknowledged this long before the kill must have reached the replica (loopback
/// replication takes milliseconds); later ones may be lost to asynchronous replication.
const REPLICATION_WINDOW: Duration = Duration::from_secs(1);
const TTL: Duration = Duration::from_secs(300);

/// What one failover did to the load.
#[derive(Debug)]
struct Report {
    acknowledged: usize,
    failed: usize,
    /// From the kill to the last failed write.
    window: Duration,
    /// Acknowledged keys missing afterwards, with how long before the kill each was acknowledged.
    lost: Vec<(String, Duration)>,
}

/// Writes the flow's keys one after another (each is `put`, then read back later), kills the
/// master with `kill` after a second, and goes on until writes have succeeded for a second after
/// the last failure.
async fn write_through_failover(
    store: Arc<dyn ShortLivedStore>,
    flow: &str,
    kill: impl FnOnce(),
) -> Report {
    let started = Instant::now();
    let mut kill = Some(kill);
    let mut killed_at: Option<Instant> = None;
    let mut acked: Vec<(String, Instant)> = Vec::new();
    let mut failed = 0;
    let mut last_failure: Option<Instant> = None;
    for i in 0u64.. {
        let now = Instant::now();
        if killed_at.is_none() && now.duration_since(started) > Duration::from_secs(1) {
            if let Some(kill) = kill.take() {
                kill();
            }
            killed_at = Some(Instant::now());
        }
        if let Some(at) = killed_at {
            let quiet = last_failure.map_or(now.duration_since(at), |f| now.duration_since(f));
            if quiet > Duration::from_secs(1) && last_failure.is_some()
                || now.duration_since(at) > FAILOVER_BOUND + Duration::from_secs(5)
            {
                break;
            }
        }
        // The hash tag keeps the whole flow in one slot: on one master, the one killed.
        let key = format!("gh-test:{{{flow}}}:{i}");
        match store.put(&key, i.to_string().as_bytes(), TTL).await {
            Ok(()) => acked.push((key, Instant::now())),
            Err(e) => {
                assert!(killed_at.is_some(), "a write failed before the kill: {e}");
                failed += 1;
                last_failure = Some(Instant::now());
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed_at = killed_at.expect("the master was killed");
    let mut lost = Vec::new();
    for (key, at) in &acked {
        if *at < killed_at && store.get(key).await.expect("reading back").is_none() {
            lost.push((key.clone(), killed_at.duration_since(*at)));
        }
    }
    Report {
        acknowledged: acked.len(),
        failed,
        window: last_failure.map_or(Duration::ZERO, |f| f.duration_since(killed_at)),
        lost,
    }
}

fn check(topology: &str, report: &Report) {
    let _ = writeln!(
        std::io::stderr().lock(),
        "{topology} failover: {} writes acknowledged, {} failed within {} ms of the kill, {} acknowledged before the kill lost{}",
        report.acknowledged,
        report.failed,
        report.window.as_millis(),
        report.lost.len(),
        report
            .lost
            .iter()
            .map(|(k, d)| format!(" {k} ({} ms before)", d.as_millis()))
            .collect::<String>()
    );
    assert!(
        report.window <= FAILOVER_BOUND,
        "writes failed for {:?} after the kill",
        report.window
    );
    assert!(
        report
            .lost
            .iter()
            .all(|(_, before)| *before < REPLICATION_WINDOW),
        "acknowledged writes older than the replication window were lost: {report:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_master_killed_mid_load_fails_over_within_bounds() {
    let Some(mut cluster) = RedisCluster::start("the Redis Cluster failover test").await else {
        return;
    };
    let store: Arc<dyn ShortLivedStore> = Arc::new(
        gatehouse_store::RedisStore::connect(&cluster.url())
            .await
            .unwrap(),
    );
    let flow = "flow-a";
    let victim = cluster.master_of(&format!("{{{flow}}}"));
    let cluster_ref = &mut cluster;
    let report = write_through_failover(store.clone(), flow, || cluster_ref.kill(victim)).await;
    store.ping().await.expect("ready again");
    check("cluster", &report);
    assert_ne!(cluster.master_of(&format!("{{{flow}}}")), victim);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sentinel_master_killed_mid_load_fails_over_within_bounds() {
    let Some(mut setup) = RedisSentinel::start("the Redis Sentinel failover test").await else {
        return;
    };
    let store: Arc<dyn ShortLivedStore> = Arc::new(
        gatehouse_store::RedisStore::connect(&setup.url())
            .await
            .unwrap(),
    );
    let victim = setup.master_port();
    let setup_ref = &mut setup;
    let report = write_through_failover(store.clone(), "flow-b", || setup_ref.kill_master()).await;
    store.ping().await.expect("ready again");
    check("sentinel", &report);
    assert_ne!(setup.master_port(), victim);
}
